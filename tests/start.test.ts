// `npm start` as a user meets it, as real processes: its embedded broker admits only clients with
// a certificate from its CA, commands sent over MQTT survive kill -9, a clean stop says "offline",
// a second instance is refused, and what arrives from the network is printed safely.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, writeFileSync, rmSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { FileStore } from "../host/desktop/store.js";
import { makeCa, makeDevice } from "../host/desktop/certs.js";
import { freePort } from "./brokers.js";
import { scaleFor } from "./helpers.js";
import { Cli, inbox, bin } from "./processes.js";


const execute = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execute(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

interface Workspace {
  dir: string;
  certs: string;
  store: string;
  scenario: string;
  port: number;
  args(...extra: string[]): string[];
}

/** A folder with a scenario (the empty platform recorded, then 10 kg on it), a store and certificates. */
async function workspace(): Promise<Workspace> {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-start-"));
  const scenario = join(dir, "scenario.json");
  writeFileSync(scenario, JSON.stringify({
    name: "10 kg on the platform", rate: 10,
    events: [{ type: "command", at: 1.9, name: "cal_point", kg: 0, unlessRestored: true }, { type: "load", at: 2.5, kg: 10 }],
  }));
  const w: Workspace = {
    dir, certs: join(dir, "certs"), store: join(dir, "store.json"), scenario, port: await freePort(),
    args: (...extra) => ["run", scenario, "--store", w.store, "--certs", w.certs, "--port", String(w.port), ...extra],
  };
  // A tester's certificate from the same CA npm start then reuses (how a user makes one for mosquitto_sub).
  const made = await cli("certs", "--out", w.certs, "--device-id", "tester@scale1");
  assert.equal(made.code, 0, made.stderr);
  return w;
}

async function tester(w: Workspace, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtts://localhost:${w.port}`, {
    ca: readFileSync(join(w.certs, "ca.pem")), cert: readFileSync(join(w.certs, "tester@scale1.pem")), key: readFileSync(join(w.certs, "tester@scale1-key.pem")),
    reconnectPeriod: 0, ...extra,
  });
}

/** One connection attempt: did the broker accept an MQTT session? */
function attempt(url: string, options: mqtt.IClientOptions): Promise<"connected" | "refused"> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { ...options, reconnectPeriod: 0, connectTimeout: 30_000 });
    c.on("error", () => undefined); // the refusal arrives as a TLS alert or a closed socket
    c.once("connect", () => {
      resolve("connected");
      c.end(true);
    });
    c.once("close", () => resolve("refused"));
  });
}

test("commands over MQTT are persisted before they are answered: kill -9 after the results, the restart restores them", async () => {
  const w = await workspace();
  try {
    const run = new Cli(w.args("--speed", "2"));
    await run.waitFor(/embedded broker/);
    const client = await tester(w);
    const box = inbox(client);
    await client.subscribeAsync(["wasm-scale/scale1/result", "wasm-scale/scale1/state"], { qos: 1 });
    await box.until(() => box.got.find((m) => m.topic.endsWith("/state") && JSON.parse(m.text).stable === true && JSON.parse(m.text).gross_kg > 5));
    const send = async (cmd: object, id: string) => {
      await client.publishAsync("wasm-scale/scale1/cmd", JSON.stringify({ ...cmd, id }), { qos: 1 });
      return box.until(() => box.got.map((m) => (m.topic.endsWith("/result") ? JSON.parse(m.text) : null)).find((r) => r?.id === id));
    };
    assert.deepEqual(await send({ cmd: "config", key: "PUBLISH_MS", value: 500 }, "c1"), { cmd: "config", id: "c1", status: "accepted" });
    assert.deepEqual(await send({ cmd: "calibrate", kg: 10 }, "c2"), { cmd: "calibrate", id: "c2", status: "accepted" });
    await box.until(() => box.got.find((m) => m.topic.endsWith("/state") && JSON.parse(m.text).calibrated && JSON.parse(m.text).stable));
    assert.deepEqual(await send({ cmd: "tare" }, "c3"), { cmd: "tare", id: "c3", status: "accepted" });
    run.child.kill("SIGKILL");
    await run.exited;
    await client.endAsync(true);

    // The store on disk holds all three changes.
    const store = new FileStore(w.store);
    const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 10 }] });
    assert.equal(scale.core.loadBlob("CONFIG", store.get("CONFIG")!), 0);
    assert.equal(scale.core.loadBlob("CALIBRATION", store.get("CALIBRATION")!), 0);
    assert.equal(scale.core.get("PUBLISH_MS"), 500);

    // The restart restores them. The killed process's lock frees itself: retry until it has.
    let again;
    do again = await cli("run", w.scenario, "--no-mqtt", "--duration", "5", "--speed", "50", "--store", w.store);
    while (again.code === 2 && /in use by another wasm-scale/.test(again.stderr));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /restored config/);
    assert.match(again.stdout, /restored calibration/);
    const last = again.stdout.trim().split("\n").at(-1)!;
    assert.match(last, / 0\.0+ kg .*NET/, "tared at 10 kg: net zero, restored");
    assert.doesNotMatch(last, /UNCALIBRATED/);
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test("the embedded broker refuses clients without a certificate from its CA; a clean stop publishes offline", async () => {
  const w = await workspace();
  try {
    const run = new Cli(w.args("--speed", "2"));
    await run.waitFor(/embedded broker/);
    const url = `mqtts://localhost:${w.port}`;
    const ca = readFileSync(join(w.certs, "ca.pem"));
    // No certificate, one from another CA, a username and password: each refused, no MQTT session.
    const stranger = await makeDevice(await makeCa("a stranger's CA"), "stranger");
    assert.equal(await attempt(url, { ca }), "refused");
    assert.equal(await attempt(url, { ca, cert: stranger.cert, key: stranger.key }), "refused");
    assert.equal(await attempt(url, { ca, username: "scale1", password: "x" }), "refused");
    assert.equal(await attempt(url, { ca, cert: readFileSync(join(w.certs, "tester@scale1.pem")), key: readFileSync(join(w.certs, "tester@scale1-key.pem")) }), "connected");

    const client = await tester(w);
    const box = inbox(client);
    await client.subscribeAsync("wasm-scale/scale1/status", { qos: 1 });
    await box.until(() => box.got.find((m) => m.text === "online"));
    // A payload with terminal control sequences is shown escaped by the built-in subscriber.
    await client.publishAsync("wasm-scale/scale1/cmd", "\u001b[2J\u001b]0;owned\u0007{\"cmd\":\"tare\"}", { qos: 1 });
    await run.waitFor(/subscriber {2}wasm-scale\/scale1\/cmd/);
    assert.match(run.out, /\\x1b\[2J\\x1b\]0;owned\\x07/);
    assert.ok(!run.out.includes("\u001b") && !run.out.includes("\u0007"), "no raw control character reaches the terminal");

    run.child.kill("SIGTERM");
    await box.until(() => box.got.find((m) => m.text === "offline"));
    assert.equal(await run.exited, 0, run.err);
    assert.match(run.out, /offline \(acknowledged by the broker\)/);
    // The subscriber prints whole payloads: every JSON line it printed parses.
    for (const line of run.out.split("\n").filter((l) => /^subscriber .*config {2}\{/.test(l))) JSON.parse(line.split("  ").at(-1)!);
    await client.endAsync(true);
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test("a second npm start is refused with a clear message, whether its port or its store is taken", async () => {
  const w = await workspace();
  try {
    const first = new Cli(w.args("--speed", "2"));
    await first.waitFor(/device {6}connected/);
    const samePort = await cli("run", w.scenario, "--store", join(w.dir, "other.json"), "--certs", w.certs, "--port", String(w.port), "--duration", "5");
    assert.equal(samePort.code, 2);
    assert.match(samePort.stderr, new RegExp(`port ${w.port} is in use`));
    const sameStore = await cli(...w.args("--duration", "5").map((a) => (a === String(w.port) ? String(w.port + 1) : a)));
    assert.equal(sameStore.code, 2);
    assert.match(sameStore.stderr, /store\.json is in use by another wasm-scale/);
    assert.equal(first.child.exitCode, null, "the first instance runs on");
    first.child.kill("SIGINT");
    assert.equal(await first.exited, 0, first.err);
  } finally {
    rmSync(w.dir, { recursive: true, force: true });
  }
});

test("certs reuses what exists, adds broker names, rotates on request, and refuses an unwritable folder clearly", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-certs-"));
  try {
    const file = (n: string) => readFileSync(join(dir, n), "utf8");
    let r = await cli("certs", "--out", dir, "--host", "scale.local");
    assert.equal(r.code, 0, r.stderr);
    const ca = file("ca.pem"), device = file("scale1.pem"), key = file("scale1-key.pem");
    r = await cli("certs", "--out", dir, "--host", "broker.example", "--device-id", "scale1", "laptop");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(file("ca.pem"), ca, "the CA is kept");
    assert.equal(file("scale1.pem"), device, "an existing device certificate is kept");
    assert.equal(file("scale1-key.pem"), key);
    assert.ok(existsSync(join(dir, "laptop.pem")));
    const { X509Certificate } = await import("node:crypto");
    const names = new X509Certificate(file("broker.pem")).subjectAltName!;
    assert.match(names, /DNS:scale\.local/, "names given earlier stay");
    assert.match(names, /DNS:broker\.example/);
    r = await cli("certs", "--out", dir, "--rotate");
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(file("ca.pem"), ca, "--rotate makes a new CA");
    assert.notEqual(file("scale1.pem"), device);
    assert.match(new X509Certificate(file("broker.pem")).subjectAltName!, /DNS:scale\.local.*DNS:broker\.example/, "a rotation keeps the names");
    writeFileSync(join(dir, "a-file"), "");
    r = await cli("certs", "--out", join(dir, "a-file", "certs"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^wasm-scale: cannot create .*a-file\/certs/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
