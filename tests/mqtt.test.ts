// MQTT over TLS end to end, against real brokers (Mosquitto and aedes), with an ordinary MQTT.js
// client as the subscriber: readings, commands, discovery, refusals, outages, hostile input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import mqtt, { type MqttClient } from "mqtt";
import { MqttLink } from "../host/desktop/mqtt/link.js";
import { resolveConnection, ConfigError, type Connection } from "../host/desktop/mqtt/config.js";
import { startBroker, type RunningBroker } from "../host/desktop/mqtt/broker.js";
import { Device } from "../host/desktop/device.js";
import { Random } from "../host/desktop/sim/random.js";
import { code } from "../host/abi.js";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { makePki, startMosquitto, freePort, MOSQUITTO, type Pki, type Mosquitto } from "./brokers.js";

const EPOCH_MS = Date.UTC(2026, 10, 23, 12, 0, 0);
let pki: Pki;
let aedes: RunningBroker;
let mosquitto: Mosquitto | undefined;

before(async () => {
  pki = await makePki();
  aedes = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: readFileSync(pki.file("server-key.pem"), "utf8") });
  if (MOSQUITTO) mosquitto = await startMosquitto(pki);
});
after(async () => {
  await aedes?.close();
  await mosquitto?.stop();
  rmSync(pki.dir, { recursive: true, force: true });
});

interface Received {
  topic: string;
  json: Record<string, unknown> | null;
  text: string;
  retain: boolean;
  at: number;
}

/** An ordinary MQTT client, as a user's dashboard would be. */
async function watcher(url: string, options: { mqtt5?: boolean; clean?: boolean; id?: string } = {}): Promise<{ client: MqttClient; got: Received[] }> {
  const got: Received[] = [];
  const client = await mqtt.connectAsync(url, {
    ca: pki.ca.cert,
    cert: readFileSync(pki.file("watcher.pem")),
    key: readFileSync(pki.file("watcher-key.pem")),
    protocolVersion: options.mqtt5 ? 5 : 4,
    clientId: options.id ?? `watcher-${Math.random().toString(16).slice(2)}`,
    clean: options.clean ?? true,
    reconnectPeriod: 100,
  });
  client.on("message", (topic, payload, packet) => {
    const text = payload.toString();
    let json: Record<string, unknown> | null = null;
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { json = null; }
    got.push({ topic, json, text, retain: packet.retain, at: performance.now() });
  });
  await client.subscribeAsync(["wasm-scale/dev1/#", "homeassistant/+/dev1/+/config"], { qos: 1 });
  return { client, got };
}

function connection(url: string, extra: Partial<Connection> = {}): Connection {
  return resolveConnection(undefined, {}, {
    url, deviceId: "dev1", ca: pki.file("ca.pem"), cert: pki.file("dev1.pem"), key: pki.file("dev1-key.pem"), reconnectMs: 100, ...extra,
  });
}

async function until(what: string, ok: () => boolean, ms = 15_000, detail?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? ` (${detail()})` : ""}`);
    await sleep(10);
  }
}

const states = (got: Received[]) => got.filter((m) => m.topic === "wasm-scale/dev1/state").map((m) => m.json!);

test("aedes (MQTT 3.1.1): readings, discovery and availability reach an ordinary subscriber over TLS", async () => {
  const w = await watcher(aedes.url);
  const scale = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 6, kg: 2.5 }] });
  const link = new MqttLink(scale.core, connection(aedes.url)).start();
  const device = new Device(scale, link, { speed: 50, now: () => EPOCH_MS });
  await device.run(10);
  await until("readings", () => states(w.got).length >= 9);
  const s = states(w.got);
  assert.deepEqual(s.map((r) => r.seq), s.map((_, i) => i + 1), "consecutive sequence numbers");
  const last = s.at(-1)!;
  assert.equal(last.kg, 2.5);
  assert.equal(last.stable, true);
  assert.equal(last.calibrated, true);
  assert.equal(last.time_known, true);
  assert.ok(Math.abs((last.ts as number) - (EPOCH_MS + (last.t_ms as number))) <= 1, "ts is wall-clock ms of the conversion");
  assert.ok(w.got.some((m) => m.topic === "wasm-scale/dev1/status" && m.text === "online"));
  const weight = w.got.find((m) => m.topic === "homeassistant/sensor/dev1/weight/config")!.json!;
  assert.equal(weight.device_class, "weight");
  assert.equal(weight.unit_of_measurement, "kg");
  assert.equal(weight.state_class, "measurement");
  assert.equal(weight.availability_topic, "wasm-scale/dev1/status");
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal((weight.device as { sw_version: string }).sw_version, pkg.version, "Home Assistant shows the package's version");
  const tare = w.got.find((m) => m.topic === "homeassistant/button/dev1/tare/config")!.json!;
  assert.equal(tare.command_topic, "wasm-scale/dev1/cmd");

  // Home Assistant restarts: discovery is announced again.
  const before = w.got.filter((m) => m.topic.startsWith("homeassistant/")).length;
  await w.client.publishAsync("homeassistant/status", "online");
  await until("discovery again", () => w.got.filter((m) => m.topic.startsWith("homeassistant/")).length >= before + 4);

  // A command from the subscriber: tare, answered on the result topic, then net readings.
  await w.client.publishAsync("wasm-scale/dev1/cmd", JSON.stringify({ cmd: "tare", id: "t1" }), { qos: 1 });
  await until("tare result", () => w.got.some((m) => m.topic === "wasm-scale/dev1/result"));
  await device.run(12);
  await until("net reading", () => states(w.got).some((r) => r.net === true));
  assert.deepEqual(w.got.find((m) => m.topic === "wasm-scale/dev1/result")!.json, { cmd: "tare", id: "t1", status: "accepted" });
  assert.equal(states(w.got).at(-1)!.kg, 0);

  // The will: a vanished device is marked offline, retained.
  link.client.stream.destroy();
  await until("offline", () => w.got.some((m) => m.topic === "wasm-scale/dev1/status" && m.text === "offline"));
  await link.stop();
  await w.client.endAsync();
});

test("Mosquitto (mutual TLS, MQTT 5, per-device ACL): readings arrive, another device's cert cannot command this one", { skip: !MOSQUITTO && "mosquitto not installed" }, async () => {
  const w = await watcher(mosquitto!.url, { mqtt5: true });
  const scale = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 6, kg: 4 }] });
  const link = new MqttLink(scale.core, connection(mosquitto!.url, { protocolVersion: 5 })).start();
  const device = new Device(scale, link, { speed: 50, now: () => EPOCH_MS });
  await device.run(9);
  await until("readings", () => states(w.got).length >= 8);
  assert.equal(states(w.got).at(-1)!.kg, 4);
  // Discovery and availability are retained: a subscriber that comes later (Home Assistant) gets them.
  const late = await watcher(mosquitto!.url, { mqtt5: true });
  await until("retained discovery", () => late.got.some((m) => m.topic === "homeassistant/sensor/dev1/weight/config" && m.retain));
  await until("retained availability", () => late.got.some((m) => m.topic === "wasm-scale/dev1/status" && m.retain && m.text === "online"));
  await late.client.endAsync();

  // dev2 holds a valid certificate from the same CA, but the ACL keeps it out of dev1's topics.
  const intruder = await mqtt.connectAsync(mosquitto!.url, {
    ca: pki.ca.cert, cert: readFileSync(pki.file("dev2.pem")), key: readFileSync(pki.file("dev2-key.pem")), protocolVersion: 5, reconnectPeriod: 0,
  });
  await intruder.publishAsync("wasm-scale/dev1/cmd", '{"cmd":"zero"}', { qos: 1 }).catch(() => undefined);
  await w.client.publishAsync("wasm-scale/dev1/cmd", '{"cmd":"clear_tare","id":"w1"}', { qos: 1 });
  await until("watcher's result", () => w.got.some((m) => m.topic === "wasm-scale/dev1/result"));
  await device.run(11);
  const results = w.got.filter((m) => m.topic === "wasm-scale/dev1/result").map((m) => m.json!);
  assert.deepEqual(results, [{ cmd: "clear_tare", id: "w1", status: "accepted" }], "only the watcher's command arrived");
  await intruder.endAsync();
  await link.stop();
  await w.client.endAsync();
});

interface Refusal {
  name: string;
  broker: () => Promise<{ url: string; close(): Promise<void> }>;
  connection: (url: string) => Connection;
  reason: RegExp;
}

const tlsBroker = (cert: string, key: string, requireClientCert = false) => async () =>
  startBroker({ ca: pki.ca.cert, cert: readFileSync(pki.file(cert), "utf8"), key: readFileSync(pki.file(key), "utf8"), requireClientCert });

const REFUSALS: Refusal[] = [
  { name: "unknown CA", broker: tlsBroker("server.pem", "server-key.pem"), connection: (u) => connection(u, { ca: pki.file("other-ca.pem") }), reason: /CA this host does not trust|chain/ },
  { name: "wrong host name", broker: tlsBroker("wrong-host.pem", "wrong-host-key.pem"), connection: (u) => connection(u), reason: /not valid for this host name/ },
  { name: "expired certificate", broker: tlsBroker("expired.pem", "expired-key.pem"), connection: (u) => connection(u), reason: /expired/ },
  { name: "missing client certificate", broker: tlsBroker("server.pem", "server-key.pem", true), connection: (u) => connection(u, { cert: undefined, key: undefined }), reason: /client certificate|handshake|closed the connection/ },
];

for (const r of REFUSALS) {
  test(`TLS refuses ${r.name}: no connection, a clear error, readings kept`, async () => {
    const broker = await r.broker();
    const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 1 }] });
    const link = new MqttLink(scale.core, r.connection(broker.url)).start();
    const device = new Device(scale, link, { speed: 50 });
    await device.run(3);
    await until("an error", () => link.lastError !== null);
    assert.match(link.lastError!, r.reason);
    assert.equal(link.delivered, 0);
    assert.ok(scale.core.pending >= 2, "readings stay in the outbox");
    await link.stop();
    await broker.close();
  });
}

test("plaintext is refused: mqtt:// is a configuration error, and mqtts:// to a plaintext port sends no MQTT", async () => {
  assert.throws(() => resolveConnection(undefined, {}, { url: "mqtt://localhost:1883", deviceId: "dev1" }), (e: ConfigError) => /only TLS is allowed/.test(e.message));
  assert.throws(() => resolveConnection(undefined, { WASM_SCALE_BROKER: "ws://x:80" }, { deviceId: "dev1" }), ConfigError);
  const received: Buffer[] = [];
  const port = await freePort();
  const sockets: Socket[] = [];
  const plain = createServer((s) => {
    sockets.push(s);
    s.on("data", (d) => received.push(d));
    s.write("HTTP/1.1 400 Bad Request\r\n\r\n"); // a plaintext service answering
  });
  await new Promise<void>((resolve) => plain.listen(port, "127.0.0.1", resolve));
  const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 1 }] });
  const link = new MqttLink(scale.core, connection(`mqtts://localhost:${port}`)).start();
  await new Device(scale, link, { speed: 50 }).run(2);
  await until("an error", () => link.lastError !== null);
  assert.match(link.lastError!, /TLS|plaintext|handshake|closed/);
  const bytes = Buffer.concat(received);
  assert.ok(bytes.length > 0 && bytes[0] === 0x16, "only a TLS ClientHello was sent");
  assert.ok(!bytes.includes(Buffer.from("wasm-scale/dev1")), "no topic, no reading in clear");
  await link.stop();
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => plain.close(resolve));
});

test("Mosquitto stopped and restarted 10 times: no reading lost within the outbox; beyond it the dropped count is exact", { skip: !MOSQUITTO && "mosquitto not installed", timeout: 400_000 }, async (t) => {
  for (const capacity of [256, 5]) {
    const w = await watcher(mosquitto!.url, { clean: false, id: `watcher-outage-${capacity}` });
    const scale = await scaleFor({ rate: 80, settings: { PUBLISH_MS: 100, OUTBOX_CAPACITY: capacity }, events: [...CAL_10KG, { type: "load", at: 6, kg: 1.5 }] });
    const link = new MqttLink(scale.core, connection(mosquitto!.url)).start();
    const device = new Device(scale, link, { speed: 10 });
    await until("connected", () => link.connected);
    let virtual = 2;
    for (let outage = 0; outage < 10; outage++) {
      await device.run((virtual += 2));
      await mosquitto!.stop();
      await device.run((virtual += 3)); // 3 virtual s offline: 30 readings at PUBLISH_MS 100
      await mosquitto!.start();
    }
    await device.run((virtual += 2));
    const state = () => `connected ${link.connected}, pending ${scale.core.pending}, delivered ${link.delivered}, ack timeouts ${link.ackTimeouts}, last error ${link.lastError}`;
    await until("outbox drained", () => link.connected && scale.core.pending === 0, 60_000, state);
    const seqs = new Set(states(w.got).map((r) => r.seq as number));
    const gaps = w.got.filter((m) => m.topic === "wasm-scale/dev1/gap").map((m) => m.json!);
    await until("every kept reading", () => {
      const all = new Set(states(w.got).map((r) => r.seq as number));
      const max = Math.max(...all);
      return all.size + scale.core.dropped === max;
    }, 60_000, state);
    const max = Math.max(...seqs, ...states(w.got).map((r) => r.seq as number));
    const received = new Set(states(w.got).map((r) => r.seq as number));
    const missing = max - received.size;
    t.diagnostic(`outbox ${capacity}: ${max} readings published, ${received.size} received, ${scale.core.dropped} dropped, ${gaps.length} gap messages`);
    if (capacity === 256) {
      assert.equal(scale.core.dropped, 0);
      assert.equal(missing, 0, "zero readings lost");
      assert.ok(max >= 400, `${max} readings published through 10 outages`);
    } else {
      assert.ok(scale.core.dropped > 100, `${scale.core.dropped} dropped with an outbox of 5`);
      assert.equal(missing, scale.core.dropped, "the gaps in seq are exactly the dropped count");
      // QoS 1 may deliver a gap message twice: dropped_total identifies each one.
      const unique = new Map(gaps.map((g) => [g.dropped_total as number, g.dropped as number]));
      const reported = [...unique.values()].reduce((a, b) => a + b, 0);
      assert.equal(reported, scale.core.dropped, "the gap messages report every drop, once");
      assert.equal(Math.max(...unique.keys()), scale.core.dropped, "the last gap message has the exact total");
    }
    await link.stop();
    await w.client.endAsync();
  }
});

test("outbox accounting is exact by construction: a reading is dropped once, only if never handed to the network", async () => {
  // Seeded chaos at the core's interface: readings arrive, connections come and go, a publish is
  // acknowledged or lost with its connection. Whatever happens, every seq is either framed at least
  // once (it may be at the broker) or counted as dropped, never both; gap messages, deduplicated by
  // dropped_total as a subscriber does, report each drop once.
  const scale = await scaleFor({ rate: 80, settings: { PUBLISH_MS: 0, OUTBOX_CAPACITY: 5 }, events: [{ type: "load", at: 0, kg: 1 }] });
  const core = scale.core;
  core.setDeviceId("dev1");
  const random = new Random(99);
  const framed = new Set<number>();
  const gaps = new Map<number, number>();
  let up = false;
  for (let step = 0; step < 20_000; step++) {
    const roll = random.uniform();
    if (roll < 0.4) scale.run(scale.nowS + 0.0125);
    else if (roll < 0.45) core.connected((up = !up));
    else if (up) {
      const m = core.next();
      if (!m) continue;
      const json = m.topic.endsWith("/state") || m.topic.endsWith("/gap") ? JSON.parse(m.payload.toString()) as Record<string, number> : {};
      if (m.topic.endsWith("/state")) framed.add(json.seq);
      if (m.topic.endsWith("/gap")) {
        const before = gaps.get(json.dropped_total);
        assert.ok(before === undefined || before === json.dropped, "a gap message sent again is the same message");
        gaps.set(json.dropped_total, json.dropped);
      }
      if (random.uniform() < 0.8) core.done(); // else its acknowledgement is lost with the connection
      else core.connected((up = false));
    }
  }
  core.connected(true);
  for (let m = core.next(); m; m = core.next()) {
    const json = m.topic.endsWith("/state") || m.topic.endsWith("/gap") ? JSON.parse(m.payload.toString()) as Record<string, number> : {};
    if (m.topic.endsWith("/state")) framed.add(json.seq);
    if (m.topic.endsWith("/gap")) gaps.set(json.dropped_total, json.dropped);
    core.done();
  }
  const published = Math.max(...framed);
  assert.ok(core.dropped > 1000, `${core.dropped} dropped`);
  assert.equal(framed.size + core.dropped, published, "framed and dropped partition the sequence");
  assert.equal([...gaps.values()].reduce((a, b) => a + b, 0), core.dropped, "gap messages report each drop once");
});

test("a burst of 10,000 commands: every one is answered or counted in results_lost; refused ones keep their id", async (t) => {
  const w = await watcher(aedes.url);
  const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 1 }] });
  const link = new MqttLink(scale.core, connection(aedes.url)).start();
  await until("connected", () => link.connected);
  const N = 10_000;
  const sent: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const cmd = i % 2 === 0 ? { cmd: "clear_tare", id: i } : { cmd: "tare", unknown: [1, { x: "\"" }], id: i };
    sent.push(w.client.publishAsync("wasm-scale/dev1/cmd", JSON.stringify(cmd), { qos: 1 }));
  }
  await Promise.all(sent);
  const results = () => w.got.filter((m) => m.topic === "wasm-scale/dev1/result").map((m) => m.json!);
  const answered = () => new Set(results().map((r) => r.id as number));
  const lost = () => Math.max(0, ...results().map((r) => (r.results_lost as number | undefined) ?? 0));
  await until("every command accounted for", () => answered().size + lost() === N, 120_000);
  const byId = new Map(results().map((r) => [r.id as number, r]));
  for (const [id, r] of byId) {
    if (id % 2 === 0) assert.equal(r.status, "accepted");
    else assert.deepEqual({ cmd: r.cmd, status: r.status, reason: r.reason }, { cmd: "tare", status: "rejected", reason: "BAD_FIELD" });
  }
  t.diagnostic(`10,000 commands: ${answered().size} results, ${lost()} counted as lost`);
  await link.stop();
  await w.client.endAsync();
});

/** Hostile payloads from a seeded generator: none is a valid, applicable command. */
function hostile(random: Random, i: number): Buffer {
  const pick = <T>(xs: T[]): T => xs[random.int(xs.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => random.int(256)));
  switch (i % 12) {
    case 0: return bytes(random.int(64));
    case 1: return Buffer.alloc(1024 + random.int(4096), 0x7b); // oversize
    case 2: return Buffer.from(`{"cmd":"calibrate","kg":${pick(["NaN", "Infinity", "-Infinity", "nan", "1e999", "-1e999", "0", "-0", "-5", "1e-300"])}}`);
    case 3: return Buffer.from(`{"cmd":"config","key":"${pick(["DIVISION_KG", "GAIN", "CAPACITY_KG", "SPIKE_WINDOW"])}","value":${pick(["1e300", "-1e300", "-1", "NaN", "3.5e38", "0", "99999999999999999999"])}}`);
    case 4: return Buffer.from(`{"cmd":${pick(["1", "true", "null", "[]", "{}", '""', '"TARE"', '"tare "', '"cal_fit"'])}}`);
    case 5: return Buffer.from(`{"cmd":"tare","kg":${pick(['"1"', "true", "[1]", "{}", "null"])}}`);
    case 6: { const s = `{"cmd":"calibrate","kg":${random.uniform() * 50},"id":"abc"}`; return Buffer.from(s.slice(0, 1 + random.int(s.length - 1))); }
    case 7: return Buffer.from(`{"cmd":"${pick(["reboot", "rm -rf /", "tare\\u0000", "zero\u00e9", "x".repeat(40)])}"}`);
    case 8: return Buffer.from(`{"cmd":"cal_fit","order":${pick(["0", "3", "1.5", "-1", "1e9", '"1"'])}}`);
    case 9: return Buffer.from(`{"cmd":"config","key":"${pick(["NOPE", "gain", "", "DIVISION_KG\\n"])}","value":1}`);
    case 10: return Buffer.from(`{"cmd":"tare","cmd":"zero"}${pick(["", " ", "}", ",{}", "x"])}`);
    default: return Buffer.from(pick(["", " ", "[]", "null", "\"tare\"", "tare", "{", "{}", '{"":1}', '{"cmd":"calibrate"}', '{"cmd":"config","value":1}']));
  }
}

test("100,000 hostile command payloads: no crash, no trap, state unchanged, each rejected with a reason", async () => {
  const scale = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 6, kg: 3, rampS: 10 }] });
  scale.run(8); // the load is moving: tare and zero would be refused, calibration must stay
  const core = scale.core;
  core.setDeviceId("dev1");
  core.connected(true);
  while (core.next()) core.done();
  core.dirty(); // the scenario's calibration, persisted before the attack
  const calibration = Buffer.from(core.saveBlob("CALIBRATION"));
  const config = Buffer.from(core.saveBlob("CONFIG"));
  const topic = core.topic("CMD");
  const random = new Random(2026);
  const reasons = new Map<string, number>();
  let results = 0;
  for (let i = 0; i < 100_000; i++) {
    const r = core.message(topic, hostile(random, i));
    assert.ok(r < 0, `payload ${i} was accepted`);
    let m;
    while ((m = core.next())) {
      core.done();
      if (!m.topic.endsWith("/result")) continue;
      const json = JSON.parse(m.payload.toString()) as { status: string; reason: string };
      assert.equal(json.status, "rejected");
      assert.equal(code("error", json.reason), r, "the reason names the result code");
      reasons.set(json.reason, (reasons.get(json.reason) ?? 0) + 1);
      results++;
    }
  }
  assert.equal(results, 100_000, "every payload answered");
  assert.equal(scale.panics.length, 0);
  assert.deepEqual(Buffer.from(core.saveBlob("CALIBRATION")), calibration, "calibration unchanged");
  assert.deepEqual(Buffer.from(core.saveBlob("CONFIG")), config, "settings unchanged");
  assert.deepEqual(core.dirty(), [], "nothing to persist");
  for (const reason of ["BAD_JSON", "BAD_FIELD", "UNKNOWN_COMMAND", "MISSING_FIELD", "TOO_LONG", "BAD_VALUE", "BAD_KEY", "NOT_STABLE"]) {
    assert.ok((reasons.get(reason) ?? 0) > 0, `no payload was refused as ${reason}: ${JSON.stringify([...reasons])}`);
  }
  scale.run(20);
  assert.equal(Math.round(scale.reading().kg * 100) / 100, 3, "still weighing");
});

test("hostile commands through the broker are each answered on the result topic", async () => {
  const w = await watcher(aedes.url);
  const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 1 }] });
  const link = new MqttLink(scale.core, connection(aedes.url)).start();
  const device = new Device(scale, link, { speed: 20 });
  await until("connected", () => link.connected);
  const random = new Random(7);
  for (let i = 0; i < 300; i++) await w.client.publishAsync("wasm-scale/dev1/cmd", hostile(random, i), { qos: 1 });
  const run = device.run(1000);
  await until("300 results", () => w.got.filter((m) => m.topic === "wasm-scale/dev1/result").length >= 300, 30_000);
  device.stop();
  await run;
  const results = w.got.filter((m) => m.topic === "wasm-scale/dev1/result").map((m) => m.json!);
  assert.ok(results.every((r) => r.status === "rejected" && typeof r.reason === "string"));
  await link.stop();
  await w.client.endAsync();
});

test("before the clock is known readings say so: ts null, time_known false", async () => {
  const scale = await scaleFor({ events: [{ type: "load", at: 0, kg: 1 }] });
  const core = scale.core;
  core.setDeviceId("dev1");
  core.connected(true);
  scale.run(2);
  let m;
  let reading: Record<string, unknown> | undefined;
  while ((m = core.next())) {
    core.done();
    if (m.topic.endsWith("/state")) reading = JSON.parse(m.payload.toString());
  }
  assert.equal(reading!.ts, null);
  assert.equal(reading!.time_known, false);
  assert.equal(typeof reading!.t_ms, "number");
});
