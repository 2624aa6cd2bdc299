// The embedded broker of `npm start` keeps each certificate to its own topics (host/desktop/mqtt/acl.ts),
// tried with Mosquitto's own clients as an attacker and a tester would use them: a certificate of
// the same CA cannot command another scale, spoof its readings or status, rewrite its Home
// Assistant discovery, or take over its client id; `me@scale1` operates scale1 and only scale1;
// the built-in subscriber reads everything. Skipped without mosquitto-clients (CI installs it).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { startBroker, type RunningBroker } from "../host/desktop/mqtt/broker.js";
import { makeCa, makeServer, makeDevice } from "../host/desktop/certs.js";
import { identityOf, mayPublish, maySubscribe, within } from "../host/desktop/mqtt/acl.js";

const PUB = ["/usr/bin/mosquitto_pub", "/usr/local/bin/mosquitto_pub"].find((p) => existsSync(p));
const SUB = PUB?.replace(/_pub$/, "_sub");
const skip = !PUB && !process.env.WASM_SCALE_REQUIRE_BROWSER ? "mosquitto_pub not installed (apt-get install mosquitto-clients)" : false;

let dir: string;
let broker: RunningBroker;
const file = (name: string) => join(dir, name);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "wasm-scale-acl-"));
  const ca = await makeCa();
  const server = await makeServer(ca, ["localhost", "127.0.0.1"]);
  writeFileSync(file("ca.pem"), ca.cert);
  for (const id of ["scale1", "scale2", "subscriber", "me@scale1"]) {
    const d = await makeDevice(ca, id);
    writeFileSync(file(`${id}.pem`), d.cert);
    writeFileSync(file(`${id}-key.pem`), d.key, { mode: 0o600 });
  }
  broker = await startBroker({ ca: ca.cert, cert: server.cert, key: server.key, requireClientCert: true });
});
after(async () => {
  await broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A Mosquitto client run to its end (asynchronously: the broker is in this process). */
function mosquitto(program: string, args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(program, ["-h", "localhost", "-p", String(broker.port), "--cafile", file("ca.pem"), ...args]);
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  return new Promise((resolve) => child.once("exit", (status) => resolve({ status, out })));
}

const as = (who: string) => ["--cert", file(`${who}.pem`), "--key", file(`${who}-key.pem`)];

/** mosquitto_pub as `who`, QoS 1: a non-zero status when refused (the broker closes the connection). */
const pub = (who: string, topic: string, message: string, extra: string[] = []) =>
  mosquitto(PUB!, [...as(who), "-q", "1", "-t", topic, "-m", message, ...extra]);

/** An MQTT.js client with `who`'s certificate. */
async function client(who: string, clientId: string): Promise<MqttClient> {
  const { readFileSync } = await import("node:fs");
  return mqtt.connectAsync(`mqtts://localhost:${broker.port}`, {
    ca: readFileSync(file("ca.pem")), cert: readFileSync(file(`${who}.pem`)), key: readFileSync(file(`${who}-key.pem`)),
    clientId, reconnectPeriod: 0,
  });
}

/** Messages a client receives, and a wait for the first that matches. */
function inbox(c: MqttClient) {
  const got: Array<{ topic: string; text: string; retain: boolean }> = [];
  const waiters: Array<() => void> = [];
  c.on("message", (topic, payload, packet) => {
    got.push({ topic, text: payload.toString(), retain: packet.retain });
    waiters.splice(0).forEach((w) => w());
  });
  const until = (match: (m: { topic: string; text: string }) => boolean) => new Promise<void>((resolve) => {
    const check = () => { if (got.some(match)) resolve(); else waiters.push(check); };
    check();
  });
  return { got, until };
}

test("the rules: scales, one scale's operators, the subscriber", () => {
  const scale1 = identityOf("scale1");
  const me = identityOf("me@scale1");
  const all = identityOf("subscriber");
  assert.deepEqual(me, { kind: "operator", device: "scale1" });
  assert.ok(mayPublish(scale1, "wasm-scale/scale1/state"));
  assert.ok(mayPublish(scale1, "homeassistant/sensor/scale1/weight/config"));
  assert.ok(!mayPublish(scale1, "wasm-scale/scale1/cmd"), "a scale does not command itself");
  assert.ok(!mayPublish(scale1, "wasm-scale/scale2/state"));
  assert.ok(!mayPublish(scale1, "homeassistant/button/scale2/tare/config"));
  assert.ok(!mayPublish(scale1, "homeassistant/status"));
  assert.ok(maySubscribe(scale1, "wasm-scale/scale1/cmd") && !maySubscribe(scale1, "wasm-scale/+/cmd") && !maySubscribe(scale1, "#"));
  assert.ok(mayPublish(me, "wasm-scale/scale1/cmd") && mayPublish(me, "wasm-scale/scale1/module/chunk/0"));
  assert.ok(!mayPublish(me, "wasm-scale/scale2/cmd") && !mayPublish(me, "wasm-scale/scale1/state"));
  assert.ok(maySubscribe(me, "wasm-scale/scale1/#") && !maySubscribe(me, "wasm-scale/#") && !maySubscribe(me, "wasm-scale/+/state"));
  assert.ok(maySubscribe(all, "wasm-scale/#") && maySubscribe(all, "homeassistant/#") && mayPublish(all, "wasm-scale/scale2/cmd"));
  assert.ok(!mayPublish(all, "wasm-scale/scale2/state"), "the subscriber cannot spoof a reading");
  assert.ok(within("a/b/c", "a/+/c") && within("a/+/c", "a/#") && !within("a/#", "a/+") && !within("a/+", "a/b"));
});

test("with Mosquitto's clients: another certificate cannot command, spoof or take over scale1; me@scale1 operates it", { skip }, async () => {
  // scale1, as a scale connects: its own client id, its commands, its retained status.
  const scale1 = await client("scale1", "wasm-scale-scale1");
  const commands = inbox(scale1);
  await scale1.subscribeAsync("wasm-scale/scale1/cmd", { qos: 1 });
  await scale1.publishAsync("wasm-scale/scale1/status", "online", { qos: 1, retain: true });
  await scale1.publishAsync("homeassistant/button/scale1/tare/config", '{"command_template":"{\\"cmd\\":\\"tare\\"}"}', { qos: 1, retain: true });
  const watcher = await client("subscriber", "watch");
  const seen = inbox(watcher);
  await watcher.subscribeAsync(["wasm-scale/#", "homeassistant/#"], { qos: 1 });
  await seen.until((m) => m.topic === "wasm-scale/scale1/status");

  // scale2's certificate: every attempt on scale1's topics closes its connection, nothing arrives.
  for (const [topic, message, flags] of [
    ["wasm-scale/scale1/cmd", '{"cmd":"cal_clear"}', []],
    ["wasm-scale/scale1/status", "offline", ["-r"]],
    ["wasm-scale/scale1/state", '{"kg":999.99}', []],
    ["homeassistant/button/scale1/tare/config", '{"command_template":"{\\"cmd\\":\\"cal_clear\\"}"}', ["-r"]],
  ] as const) {
    const r = await pub("scale2", topic, message, [...flags]);
    assert.notEqual(r.status, 0, `scale2 published on ${topic}: ${r.out}`);
  }
  // What scale1's operator sends afterwards arrives; nothing of scale2's came before it.
  const ok = await pub("me@scale1", "wasm-scale/scale1/cmd", '{"cmd":"zero","id":"z1"}');
  assert.equal(ok.status, 0, ok.out);
  await commands.until((m) => m.text.includes('"z1"'));
  assert.deepEqual(commands.got.map((m) => m.text), ['{"cmd":"zero","id":"z1"}']);
  assert.ok(!seen.got.some((m) => m.text.includes("999.99") || m.text.includes("cal_clear") || m.text === "offline"), JSON.stringify(seen.got));
  // me@scale1 cannot command scale2.
  assert.notEqual((await pub("me@scale1", "wasm-scale/scale2/cmd", '{"cmd":"zero"}')).status, 0);

  // A subscription beyond one's scale is refused (SUBACK 0x80), mosquitto_sub says so.
  const denied = await mosquitto(SUB!, [...as("me@scale1"), "-t", "wasm-scale/#", "-C", "1"]);
  assert.match(denied.out, /denied/i);
  // ... and one within it gets scale1's retained status.
  const allowed = await mosquitto(SUB!, [...as("me@scale1"), "-t", "wasm-scale/scale1/status", "-C", "1"]);
  assert.equal(allowed.out.trim(), "online");

  // scale2's certificate with scale1's client id: refused at CONNECT, scale1 stays connected.
  const takeover = await mosquitto(PUB!, [...as("scale2"), "-i", "wasm-scale-scale1", "-q", "1", "-t", "wasm-scale/scale2/state", "-m", "x"]);
  assert.notEqual(takeover.status, 0);
  assert.match(takeover.out, /identifier rejected|not authori[sz]ed|refused/i);
  assert.equal(scale1.connected, true, "scale1 was not disconnected");
  const again = await pub("me@scale1", "wasm-scale/scale1/cmd", '{"cmd":"zero","id":"z2"}');
  assert.equal(again.status, 0);
  await commands.until((m) => m.text.includes('"z2"'));

  await scale1.endAsync();
  await watcher.endAsync();
});
