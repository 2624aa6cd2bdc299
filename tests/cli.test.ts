// The wasm-scale command as a user runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./brokers.js";
import { available } from "../host/desktop/engines/engine.js";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../bin/wasm-scale.js", import.meta.url));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test("simulate --json prints one JSON summary of the default scenario", async () => {
  const r = await cli("simulate", "--json", "--seed", "3");
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.hostCallsPerSample, 2);
  assert.equal(s.memoryGrowthBytes, 0);
  assert.ok(s.readings > 250 && s.virtualSeconds >= 30);
  assert.deepEqual(s.commands.map((c: { name: string; result: number }) => [c.name, c.result >= 0]), [
    ["cal_point", true], ["calibrate", true], ["tare", true], ["clear_tare", true],
  ]);
  assert.equal(s.final.kg, 0);
});

test("simulate --battery runs the beehive as a battery scale through its WiFi outage and reports the battery", async () => {
  const beehive = fileURLToPath(new URL("../host/desktop/scenarios/beehive.json", import.meta.url));
  const r = await cli("simulate", beehive, "--battery", "--json", "-d", String(2 * 86400));
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.ok(s.wakes >= 191 && s.wakes <= 192, `${s.wakes} wakes in 2 days at 15 minutes`);
  assert.equal(s.readingsTaken, s.wakes);
  assert.equal(s.readingsDelivered + s.readingsQueued, s.readingsTaken, "none lost");
  // The 6-hour outage, publishing hourly: an attempt that fails, one 2 hours later (the back-off),
  // then one 4 hours later, after it.
  assert.equal(s.failedConnections, 2, "the 6-hour outage, publishing hourly, backing off");
  assert.ok(s.batteryDays > 365, `${s.batteryDays} days`);
  assert.ok(s.wakeMsWithPublish > s.wakeMsWithoutPublish && s.wakeMsWithoutPublish > 500);
  const text = await cli("simulate", beehive, "--battery", "-d", "7200");
  assert.match(text.stdout, /mAh a day/);
  // A scenario that never turns battery mode on says so.
  const plain = await cli("simulate", "--battery", "-d", "60");
  assert.equal(plain.code, 2);
  assert.match(plain.stderr, /never turns battery mode on: set WAKE_INTERVAL_S/);
});

test("simulate honours --duration and --rate and is deterministic per seed", async () => {
  const a = JSON.parse((await cli("simulate", "--json", "-d", "5", "-r", "80", "-s", "4")).stdout);
  const b = JSON.parse((await cli("simulate", "--json", "-d", "5", "-r", "80", "-s", "4")).stdout);
  assert.equal(a.rate, 80);
  assert.ok(a.samples > 350 && a.samples < 410, `${a.samples} samples in 5 s at 80 SPS`);
  delete a.wallSeconds;
  delete b.wallSeconds;
  assert.deepEqual(a, b);
});

test("bad input gets a clear error and exit code 2: scenario fields, unknown settings, arguments", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-cli-"));
  try {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ rate: 20, events: [{ type: "load", at: -1, kg: 1 }] }));
    let r = await cli("simulate", bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /rate/);
    assert.match(r.stderr, /events\.0\.at/);
    writeFileSync(bad, JSON.stringify({ settings: { GAIN: 100 } }));
    r = await cli("simulate", bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /GAIN = 100 refused: BAD_VALUE/);
    writeFileSync(bad, "{ not json");
    r = await cli("simulate", bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not JSON/);
    r = await cli("simulate", "--rate", "20");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /10 or 80/);
    // Files that cannot be read or written: one line each, exit 2, no stack trace; no endless loop.
    const rec = join(dir, "x.rec");
    assert.equal((await cli("simulate", "--duration", "2", "--record", rec)).code, 0);
    const cases: [string[], RegExp][] = [
      [["replay", join(dir, "nosuch.rec")], /cannot read .*nosuch\.rec: no such file or directory/],
      [["replay", rec, "--set", "FOO=1"], /--set FOO: no such setting/],
      [["replay", rec, "--plot", "/nonexistent/x.svg"], /cannot write \/nonexistent\/x\.svg: no such directory/],
      [["replay", rec, "--plot", join(dir, "out.jpg")], /--plot writes \.svg or \.png/],
      [["simulate", "--duration", "1", "--record", "/proc/x.rec"], /cannot write \/proc\/x\.rec: no such file or directory/],
      [["certs", "--out", "/proc/x"], /cannot create \/proc\/x: no such file or directory/],
    ];
    for (const [args, message] of cases) {
      const e = await cli(...args);
      assert.equal(e.code, 2, `${args.join(" ")}: exit ${e.code}\n${e.stderr}`);
      assert.match(e.stderr, message, args.join(" "));
      assert.equal(e.stderr.trim().split("\n").length, 1, `${args.join(" ")}: one line, not ${e.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("run --no-mqtt shows live readings and persists calibration across restarts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-run-"));
  try {
    const store = join(dir, "store.json");
    const r = await cli("run", "--no-mqtt", "--duration", "8", "--speed", "200", "--store", store);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /#\d+ +\d+\.\d{2} kg/);
    assert.match(r.stdout, /calibrate: accepted/);
    assert.ok(JSON.parse(readFileSync(store, "utf8")).entries.CALIBRATION);
    const again = await cli("run", "--no-mqtt", "--duration", "1.5", "--speed", "200", "--store", store);
    assert.match(again.stdout, /restored calibration/);
    assert.doesNotMatch(again.stdout.split("\n").filter((l) => / kg /.test(l)).join("\n"), /UNCALIBRATED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("run (npm start) makes certificates, starts a TLS broker and shows what a subscriber receives", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-start-"));
  try {
    const port = await freePort();
    const r = await cli("run", "--duration", "9", "--speed", "3", "--store", join(dir, "store.json"), "--certs", join(dir, "certs"), "--port", String(port));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`embedded broker \\(aedes, TLS, client certificates required\\) on mqtts://localhost:${port}`));
    assert.match(r.stdout, /subscriber {2}wasm-scale\/scale1\/status {2}online/);
    assert.match(r.stdout, /subscriber {2}homeassistant\/sensor\/scale1\/weight\/config/);
    assert.match(r.stdout, /subscriber {2}wasm-scale\/scale1\/state {2}\{"seq":1,/);
    assert.match(readFileSync(join(dir, "certs", "ca.pem"), "utf8"), /BEGIN CERTIFICATE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a taken --web-port is refused first, before the broker or the device start (no misleading broker messages)", async () => {
  const { createServer } = await import("node:net");
  const taken = createServer();
  const port = await new Promise<number>((resolve) => taken.listen(0, "127.0.0.1", () => resolve((taken.address() as { port: number }).port)));
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-webport-"));
  try {
    const r = await cli("run", "--web-port", String(port), "--port", String(await freePort()), "--no-store", "--certs", join(dir, "certs"), "--duration", "1");
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim(), `wasm-scale: port ${port} of the web view is in use: pass another --web-port (0: any free port), or --no-web`);
    assert.doesNotMatch(r.stdout, /broker|device /);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("run refuses a plaintext broker URL with a clear error", async () => {
  const r = await cli("run", "--broker", "mqtt://localhost:1883", "--duration", "1", "--no-store");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /only TLS is allowed/);
});

test("configuration mistakes name the flag to fix: no device id for an external broker, --mqtt5 on the embedded broker", async () => {
  let r = await cli("run", "--broker", "mqtts://localhost:8883", "--no-store", "--duration", "1");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /deviceId is missing: set --device-id, WASM_SCALE_DEVICE_ID, "deviceId" in --config/);
  r = await cli("run", "--mqtt5", "--no-store", "--duration", "1");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /embedded broker speaks MQTT 3\.1\.1: --mqtt5 needs --broker/);
  r = await cli("simulate", "--engine", "nope");
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Allowed choices are v8, wamr-fast, wamr-classic, wasm3/);
});

test("an unreachable broker is reported once, not every retry, and the readings waiting are shown", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-offline-"));
  try {
    const certs = join(dir, "certs");
    assert.equal((await cli("certs", "--out", certs)).code, 0);
    const port = await freePort(); // nothing listens there
    const r = await cli("run", "--broker", `mqtts://localhost:${port}`, "--device-id", "scale1", "--ca", join(certs, "ca.pem"),
      "--no-store", "--duration", "11", "--speed", "1");
    assert.equal(r.code, 0, r.stderr);
    const refused = r.stdout.split("\n").filter((l) => /ECONNREFUSED/.test(l));
    assert.equal(refused.length, 1, `reported once:\n${r.stdout}`);
    assert.match(r.stdout, /offline: \d+ reading\(s\) waiting, 0 dropped/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm run -s simulate -- --json prints nothing but JSON, for jq", async () => {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const { stdout } = await run(npm, ["run", "-s", "simulate", "--", "--json", "-d", "3"], { cwd: fileURLToPath(new URL("..", import.meta.url)) });
  assert.equal(JSON.parse(stdout).virtualSeconds >= 3, true);
});

test("npm start -- --engine wamr-fast: the ESP32's interpreter publishes to the subscriber as V8 does", { skip: !available("wamr-fast") && !process.env.WASM_SCALE_REQUIRE_ENGINES && "wamr-fast not built" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-engine-"));
  try {
    const r = await cli("run", "--engine", "wamr-fast", "--duration", "4", "--speed", "2", "--store", join(dir, "store.json"),
      "--certs", join(dir, "certs"), "--port", String(await freePort()));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /engine wamr-fast/);
    assert.match(r.stdout, /subscriber {2}wasm-scale\/scale1\/state {2}\{"seq":1,/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("replay --readings prints each reading as the run it replays printed it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-widths-"));
  try {
    const rec = join(dir, "k.rec");
    const ran = await cli("simulate", "--duration", "6", "--readings", "--record", rec);
    assert.equal(ran.code, 0, ran.stderr);
    const replayed = await cli("replay", rec, "--readings");
    assert.equal(replayed.code, 0, replayed.stderr);
    const lines = (out: string) => out.split("\n").filter((l) => /^\s+\d+\.\d s  #\d+/.test(l));
    assert.ok(lines(ran.stdout).length > 40);
    assert.deepEqual(lines(replayed.stdout), lines(ran.stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
