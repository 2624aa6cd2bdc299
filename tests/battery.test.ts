// Battery mode: the core's duty cycle (one reading a wake, when to publish, when to wake next) and
// the desktop battery device running days of virtual time through deep sleeps (a fresh core every
// wake), network outages and a broker that stops listening, against aedes over TLS: every reading
// is delivered exactly once, in order, with its own timestamp, and a command sent while the scale
// slept is answered at the next publishing wake.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { makePki } from "./brokers.js";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { startBroker } from "../host/desktop/mqtt/broker.js";
import { resolveConnection } from "../host/desktop/mqtt/config.js";
import { BatteryDevice, RTC_STATE_BYTES, type WakeRecord } from "../host/desktop/battery/device.js";
import { report } from "../host/desktop/battery/energy.js";
import { FileStore } from "../host/desktop/store.js";
import { code } from "../host/abi.js";
import type { VirtualScale } from "../host/desktop/virtual-scale.js";

const FLAG_STABLE = code("flag", "STABLE");

/** A calibrated 50 kg scale, then battery mode from 8 s: a wake every `interval` s. */
function batteryScenario(settings: Record<string, number>, events: unknown[] = []) {
  return {
    rate: 10,
    settings: { DIVISION_KG: 0.01, CAPACITY_KG: 50 },
    events: [
      ...CAL_10KG,
      { type: "load", at: 6, kg: 31.5, rampS: 0.5 },
      ...Object.entries(settings).map(([key, value]) => ({ type: "set", at: 8, key, value })),
      ...events,
    ],
  };
}

/** Samples a wake by hand: wake_begin, scale_sample and wake_step until done; a publishing wake
 * reaches the broker (the core is told it connected, then that it left) unless `reach` is false. */
function wake(scale: VirtualScale, { reach = true, cause = "timer" as "timer" | "brownout" } = {}): { step: string; ms: number } {
  const t0 = scale.board.nowUs;
  scale.core.wakeBegin(Math.floor(t0 / 1000), cause);
  let step = scale.core.wakeStep(Math.floor(t0 / 1000));
  while (step === "sample") {
    if (scale.step() === 0) scale.board.nowUs += 1000;
    step = scale.core.wakeStep(Math.floor(scale.board.nowUs / 1000));
  }
  if (step === "publish" && reach) {
    scale.core.connected(true);
    scale.core.connected(false);
  }
  return { step, ms: (scale.board.nowUs - t0) / 1000 };
}

test("the core's duty cycle: one stable reading a wake, publishing every N wakes, on a change or a fault, and a regular grid", async () => {
  const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 600, PUBLISH_EVERY: 3, PUBLISH_CHANGE_KG: 2 }), 3);
  scale.run(9);
  const core = scale.core;
  core.setDeviceId("hive1");
  assert.equal(core.get("WAKE_INTERVAL_S"), 600);
  const sleep = (s: number) => scale.sleepUntil(scale.board.nowUs + s * 1000);
  const steps: string[] = [];
  const start = scale.board.nowUs;
  for (let i = 0; i < 7; i++) {
    const w = wake(scale);
    steps.push(w.step);
    const r = core.reading();
    assert.ok(r.flags & FLAG_STABLE, `wake ${i}: a stable reading (${w.ms} ms)`);
    assert.ok(Math.abs(r.kg - 31.5) < 0.02, `wake ${i}: ${r.kg} kg`);
    assert.ok(w.ms < core.get("WAKE_SAMPLE_MS"), `wake ${i} took ${w.ms} ms`);
    // The chips sleep after the wake: nothing more to read.
    assert.equal(core.sample(Math.floor(scale.board.nowUs / 1000)), 0);
    const s = core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000));
    // On the grid: the next wake 600 s after this one's slot, whatever this one took.
    assert.equal(Math.floor(scale.board.nowUs / 1000) + s, Math.floor(start / 1000) + (i + 1) * 600_000);
    sleep(s);
  }
  // The first wake after a cold boot publishes (and the host learns the time); then every third.
  assert.deepEqual(steps, ["publish", "sleep", "sleep", "publish", "sleep", "sleep", "publish"]);
  assert.equal(core.pending, 7, "every wake queued its one reading");
  assert.equal(core.exports.wake_step(0), code("error", "BAD_VALUE"), "wake_step outside a wake");

  // A change of more than PUBLISH_CHANGE_KG since the last publishing wake: at once.
  scale.apply({ type: "load", at: 0, kg: 34, rampS: 0, x: 0, y: 0 });
  assert.equal(wake(scale).step, "publish");
  sleep(core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000)));
  // A fault appearing: at once; the reading says so; its clearing: at once too.
  scale.inject("disconnect");
  const faulted = wake(scale);
  assert.equal(faulted.step, "publish");
  assert.ok(core.reading().fault !== 0, "the wake's reading reports the fault");
  assert.ok(faulted.ms >= core.get("WAKE_SAMPLE_MS"), "a faulty wake samples to its limit");
  sleep(core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000)));
  scale.inject("clear");
  assert.equal(wake(scale).step, "publish");

  // Motion all through the wake: the limit ends it, and the reading is queued as motion.
  sleep(core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000)));
  scale.apply({ type: "load", at: 0, kg: 40, rampS: 30, x: 0, y: 0 });
  const moving = wake(scale);
  assert.ok(moving.ms >= core.get("WAKE_SAMPLE_MS") && moving.ms < core.get("WAKE_SAMPLE_MS") + 200, `${moving.ms} ms`);
  assert.equal(core.reading().flags & FLAG_STABLE, 0, "queued as motion");

  // Battery mode off: no sleep.
  assert.equal(core.set("WAKE_INTERVAL_S", 0), 0);
  assert.equal(core.wakeSleepMs(0), 0);
});

test("publishing wakes that do not get through (no network or clock, a brown-out) back off to 8 periods; the first that connects restores them; readings after a brown-out say LOW_SUPPLY", async () => {
  const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 600, PUBLISH_EVERY: 2, PUBLISH_CHANGE_KG: 1 }), 5);
  scale.run(9);
  const core = scale.core;
  core.setDeviceId("hive7");
  const LOW = code("flag", "LOW_SUPPLY");
  const run = (n: number, opts: Parameters<typeof wake>[1] = {}) => {
    const steps: string[] = [];
    for (let i = 0; i < n; i++) {
      steps.push(wake(scale, i === 0 ? opts : { reach: opts.reach }).step);
      scale.sleepUntil(scale.board.nowUs + core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000)) * 1000);
    }
    return steps.map((s) => (s === "publish" ? "P" : ".")).join("");
  };
  // The cold boot's wake publishes and gets through; then every 2nd wake.
  assert.equal(run(4), "P.P.");
  // No network: each failed publishing wake doubles the wait (4, 8, 16 wakes), up to 8 periods.
  assert.equal(run(1 + 4 + 8 + 16 + 16, { reach: false }), "P...P.......P...............P...............P");
  // A weight change does not force a connection that would fail anyway.
  scale.apply({ type: "load", at: 0, kg: 36, rampS: 0, x: 0, y: 0 });
  assert.equal(run(3, { reach: false }), "...");
  // The network is back: the next publishing wake (16 wakes after the last) gets through with the
  // changed weight, and every 2nd wake publishes again; a change publishes at once again.
  let waited = 0;
  while (run(1) !== "P") waited++;
  assert.equal(waited, 12);
  assert.equal(run(4), ".P.P");
  scale.apply({ type: "load", at: 0, kg: 31.5, rampS: 0, x: 0, y: 0 });
  assert.equal(run(1), "P");
  // A publishing wake browns out when the radio starts: the chip restarts, the host says so, and
  // the core carries on from the state saved before the radio. That wake does not connect, its
  // reading says LOW_SUPPLY, and each brown-out doubles the wait as a failed connection does.
  const lowSupply = () => core.reading().flags & LOW;
  let steps = "";
  let cause: "timer" | "brownout" = "timer";
  for (let i = 0; i < 30; i++) {
    const w = wake(scale, { reach: false, cause });
    steps += w.step === "publish" ? "P" : ".";
    assert.equal(lowSupply(), i >= 2 ? LOW : 0, `wake ${i}: LOW_SUPPLY after the first brown-out`);
    cause = w.step === "publish" ? "brownout" : "timer";
    scale.sleepUntil(scale.board.nowUs + core.wakeSleepMs(Math.floor(scale.board.nowUs / 1000)) * 1000);
  }
  assert.equal(steps, ".P...P.......P...............P");
  // The cells recover: the wake after the next brown-out's back-off gets through, and the readings
  // after it are plain again.
  waited = 0;
  while (run(1) !== "P") waited++;
  assert.equal(waited, 15);
  wake(scale);
  assert.equal(lowSupply(), 0, "after a connection the readings no longer say LOW_SUPPLY");
});

test("a wake that comes early or late (the RC sleep timer drifts) keeps the grid; one that ran over a slot skips it", async () => {
  const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 600 }), 7);
  scale.run(9);
  const core = scale.core;
  core.setDeviceId("hive4");
  const at = (ms: number) => { scale.board.nowUs = ms * 1000; };
  const t0 = Math.floor(scale.board.nowUs / 1000);
  wake(scale);
  // Early by 2 s, then late by 3 s: each wake belongs to its slot, the next one is on the grid.
  at(t0 + 600_000 - 2000);
  wake(scale);
  let now = Math.floor(scale.board.nowUs / 1000);
  assert.equal(now + core.wakeSleepMs(now), t0 + 1_200_000);
  at(t0 + 1_200_000 + 3000);
  wake(scale);
  now = Math.floor(scale.board.nowUs / 1000);
  assert.equal(now + core.wakeSleepMs(now), t0 + 1_800_000);
  // Its connection took 11 minutes: the 1,800,000 slot has passed, the next is 2,400,000.
  at(t0 + 1_200_000 + 660_000);
  now = Math.floor(scale.board.nowUs / 1000);
  assert.equal(now + core.wakeSleepMs(now), t0 + 2_400_000);
  // A new interval starts a new grid at the next wake.
  assert.equal(core.set("WAKE_INTERVAL_S", 300), 0);
  assert.equal(core.wakeSleepMs(now), 0, "no grid until the next wake");
  const began = now;
  wake(scale);
  now = Math.floor(scale.board.nowUs / 1000);
  assert.equal(now + core.wakeSleepMs(now), began + 300_000, "the new grid starts at that wake");
});

test("settings saved by the previous core (blob version 2, before battery mode) are read, and saved again in today's form", async () => {
  // The reference run's settings blob as the ABI 3 core saved it (tests/fixtures, before this change).
  const v2 = Buffer.from("5753433101025c0000000043000080400000803f0000a0400000803f0000803f00000041cdcccc3d00008040000000400ad7a33b000048420000803f00007a440000003f0000003f000080400000fa43000080410000c842000020420000a04200000000162f99e1", "hex");
  const scale = await scaleFor({ rate: 80 }, 1);
  const core = scale.core;
  core.dirty();
  assert.equal(core.loadBlob("CONFIG", v2), 0);
  assert.equal(core.get("RATE_SPS"), 80);
  assert.equal(core.get("PUBLISH_MS"), 100);
  assert.equal(core.get("OUTBOX_CAPACITY"), 40);
  assert.equal(core.get("WAKE_INTERVAL_S"), 0, "battery mode's settings keep their defaults");
  assert.equal(core.get("CONNECT_BUDGET_MS"), 20000);
  assert.equal(core.get("PIECE_KG"), 0, "counting's settings keep their defaults too");
  assert.deepEqual(core.dirty(), ["CONFIG"], "saved again as version 4");
  assert.equal(core.saveBlob("CONFIG")[5], 4);
  const damaged = Buffer.from(v2);
  damaged[30] ^= 1;
  assert.equal(core.loadBlob("CONFIG", damaged), code("error", "BAD_BLOB"));
});

test("in battery mode Home Assistant gets discovery once per cold boot, with expire_after", async () => {
  const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 900, PUBLISH_EVERY: 4 }), 5);
  scale.run(9);
  const core = scale.core;
  core.setDeviceId("hive2");
  const drain = () => {
    core.connected(true);
    const topics: string[] = [];
    for (let m = core.next(); m; m = core.next(), core.done()) topics.push(m.topic);
    core.connected(false);
    return topics;
  };
  wake(scale);
  const first = drain();
  const configs = first.filter((t) => t.endsWith("/config"));
  assert.equal(configs.length, 5, first.join(", "));
  core.connected(true);
  core.connected(false);
  wake(scale);
  const second = drain();
  assert.equal(second.filter((t) => t.endsWith("/config")).length, 0, second.join(", "));
  assert.ok(second.includes("wasm-scale/hive2/status"), "online on every connection");
  // expire_after: three publishing periods (900 s x 4 x 3).
  core.set("PUBLISH_EVERY", 4); // a change of the wake settings announces again
  core.connected(true);
  let weight = "";
  for (let m = core.next(); m; m = core.next(), core.done()) if (m.topic.endsWith("/weight/config")) weight = m.payload.toString();
  assert.match(weight, /"expire_after":10800/);
});

interface Delivered { seq: number; tMs: number; ts: number; kg: number; net: boolean }

test("days on batteries through sleeps and outages: every reading delivered once, in order, with its timestamp; commands sent during a sleep answered", async (t) => {
  const pki = await makePki();
  const broker = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key });
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-battery-"));
  t.after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });
  const HOUR = 3600;
  // A wake every 5 minutes, publishing every half hour; the WiFi gone for 18 hours on day 1 (the
  // state outgrows RTC memory, about 180 readings, and goes to flash), the broker not listening for
  // 3 hours on day 2.
  const scenario = batteryScenario({ WAKE_INTERVAL_S: 300, PUBLISH_EVERY: 6 }, [
    { type: "network", at: 6 * HOUR, up: false },
    { type: "network", at: 24 * HOUR, up: true },
    { type: "load", at: 26 * HOUR, kg: 33.2, rampS: 2 * HOUR },
    { type: "load", at: 40 * HOUR, kg: 30.1, rampS: 60 },
  ]);
  const scale = await scaleFor(scenario, 21);
  const connection = resolveConnection(undefined, {}, { url: broker.url, deviceId: "dev1", ca: pki.file("ca.pem"), cert: pki.file("dev1.pem"), key: pki.file("dev1-key.pem") });
  const store = new FileStore(join(dir, "flash.json"));

  const delivered: Delivered[] = [];
  const results: string[] = [];
  const watcher = await mqtt.connectAsync(broker.url, { ca: pki.ca.cert, cert: undefined, clientId: "watcher", rejectUnauthorized: true });
  t.after(() => watcher.endAsync());
  await watcher.subscribeAsync(["wasm-scale/dev1/state", "wasm-scale/dev1/result", "wasm-scale/dev1/gap"], { qos: 1 });
  watcher.on("message", (topic, payload) => {
    const m = JSON.parse(payload.toString());
    if (topic.endsWith("/state")) delivered.push({ seq: m.seq, tMs: m.t_ms, ts: m.ts, kg: m.kg, net: m.net });
    else if (topic.endsWith("/result")) results.push(payload.toString());
    else assert.fail(`a gap: ${payload}`);
  });

  const epochMs = Date.UTC(2026, 5, 1, 4, 0, 0);
  let tareSent = false;
  let brokerDown = false;
  const device = new BatteryDevice(scale, {
    connection, epochMs, store,
    onWake: async (w: WakeRecord) => {
      const h = w.atMs / 3_600_000;
      // A command while the scale sleeps: kept by the broker (its persistent session, QoS 1).
      if (!tareSent && h > 30) {
        tareSent = true;
        await watcher.publishAsync("wasm-scale/dev1/cmd", JSON.stringify({ cmd: "tare", id: "while-asleep" }), { qos: 1 });
        await watcher.publishAsync("wasm-scale/dev1/cmd", JSON.stringify({ cmd: "config", key: "PUBLISH_EVERY", value: 3, id: "every3" }), { qos: 1 });
      }
      const down = h >= 34 && h < 37;
      if (down !== brokerDown) {
        brokerDown = down;
        await broker.listening(!down);
      }
    },
  });
  await device.run(2 * 24 * HOUR);

  const wakes = device.wakes;
  assert.ok(wakes.length >= 2 * 24 * 12 - 2, `${wakes.length} wakes`);
  assert.ok(wakes.every((w) => !w.coldStart), "no wake lost its state");
  assert.ok(wakes.every((w) => w.reading !== null), "every wake took a reading");
  // The 18-hour outage: readings piled up past RTC memory and the state went to flash, rarely.
  assert.ok(wakes.some((w) => w.stateInFlash && w.stateBytes > RTC_STATE_BYTES), "state in flash during the long outage");
  assert.ok(device.flashWrites > 0 && device.flashWrites < wakes.length / 4, `${device.flashWrites} flash writes`);
  const failed = wakes.filter((w) => w.publish && !w.session!.ok);
  // Failed connections back off (the next attempt after 2, 4, then every 8 publishing periods)
  // instead of the 28 + 6 attempts that every 4th wake in the outages would make.
  assert.ok(failed.length >= 6 && failed.length <= 10, `${failed.length} publishing wakes failed in the outages`);
  const gaps = failed.slice(1).map((w, i) => Math.round((w.atMs - failed[i].atMs) / 3_600_000 * 12));
  assert.deepEqual(gaps.slice(0, 3), [12, 24, 48], `wakes between the failed attempts of the long outage: ${gaps}`);
  assert.ok(wakes.some((w) => w.session?.ok && w.session.resumed), "TLS sessions resumed");
  assert.ok(wakes.slice(1).filter((w) => w.session?.ok).every((w) => w.session!.sessionPresent), "the broker kept the MQTT session");

  // What the last publishing wake sent is everything but the readings taken after it.
  const lastOk = wakes.map((w) => w.session?.ok ?? false).lastIndexOf(true);
  const taken = wakes.slice(0, lastOk + 1).map((w) => w.reading!);
  assert.equal(delivered.length, taken.length, "each reading once");
  assert.equal(scale.core.pending, wakes.length - 1 - lastOk, "the rest still queued");
  delivered.forEach((d, i) => {
    assert.equal(d.seq, i + 1, "in order, none missing, none twice");
    assert.equal(d.tMs, taken[i].tMs >>> 0, `reading ${i + 1}: the wake's own time`);
    assert.equal(d.ts, epochMs + taken[i].tMs, `reading ${i + 1}: its wall-clock time`);
    assert.ok(Math.abs(d.kg - taken[i].kg) < 0.001, `reading ${i + 1}: ${d.kg} kg published, ${taken[i].kg} taken`);
  });
  // Readings taken during the outages are there with the time they were taken.
  const inOutage = delivered.filter((d) => d.tMs > 6 * HOUR * 1000 && d.tMs < 24 * HOUR * 1000);
  assert.ok(inOutage.length >= 18 * 12 - 1, `${inOutage.length} readings from the 18-hour outage`);

  // The commands sent while the scale slept were answered, and the tare and setting took effect
  // (the setting from flash on every later wake).
  assert.ok(results.some((r) => r.includes("\"while-asleep\"") && r.includes("accepted")), results.join("\n"));
  assert.ok(results.some((r) => r.includes("\"every3\"") && r.includes("accepted")), results.join("\n"));
  const answeredAt = delivered.findIndex((d) => d.net);
  assert.ok(answeredAt > 0 && delivered.slice(answeredAt).every((d) => d.net), "net weight after the tare");
  assert.equal(new FileStore(join(dir, "flash.json")).get("CONFIG") !== undefined, true);
  assert.equal(scale.core.get("PUBLISH_EVERY"), 3);

  const r = report(device.ledger, 2 * 24 * HOUR * 1000 - device.batteryFromMs!);
  assert.ok(r.mahPerDay > 1 && r.mahPerDay < 50, `${r.mahPerDay} mAh a day`);
  assert.ok(r.shares.sleep > 0 && r.shares.wifi > 0 && r.shares.sample > 0);
});

test("a damaged state in RTC memory: the wake starts clean and says so; nothing else breaks", async () => {
  const pki = await makePki();
  const broker = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key });
  try {
    const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 600, PUBLISH_EVERY: 2 }), 4);
    const connection = resolveConnection(undefined, {}, { url: broker.url, deviceId: "dev2", ca: pki.file("ca.pem") });
    let n = 0;
    const device = new BatteryDevice(scale, {
      connection, epochMs: Date.UTC(2026, 5, 1),
      onWake: () => {
        if (++n === 3) device.rtc.state![40] ^= 0x10; // a flipped bit in RTC memory during the sleep
      },
    });
    await device.run(3 * 3600);
    assert.deepEqual(device.wakes.map((w) => w.coldStart), device.wakes.map((_, i) => i === 3));
    assert.ok(device.wakes.every((w) => w.reading && w.reading.flags & FLAG_STABLE), "the scale weighs on");
    assert.equal(scale.core.get("WAKE_INTERVAL_S"), 600, "settings from flash");
  } finally {
    await broker.close();
    rmSync(pki.dir, { recursive: true, force: true });
  }
});

test("battery mode turned off over MQTT while the scale sleeps: answered at the next publishing wake, and the wakes stop", async () => {
  const pki = await makePki();
  const broker = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key });
  const watcher = await mqtt.connectAsync(broker.url, { ca: pki.ca.cert, clientId: "watcher-off" });
  try {
    const results: string[] = [];
    await watcher.subscribeAsync("wasm-scale/dev3/result", { qos: 1 });
    watcher.on("message", (_topic, payload) => results.push(payload.toString()));
    const scale = await scaleFor(batteryScenario({ WAKE_INTERVAL_S: 600, PUBLISH_EVERY: 2 }), 6);
    const connection = resolveConnection(undefined, {}, { url: broker.url, deviceId: "dev3", ca: pki.file("ca.pem") });
    const device = new BatteryDevice(scale, {
      connection, epochMs: Date.UTC(2026, 5, 1),
      onWake: async () => {
        if (device.wakes.length === 2) {
          await watcher.publishAsync("wasm-scale/dev3/cmd", JSON.stringify({ cmd: "config", key: "WAKE_INTERVAL_S", value: 0, id: "awake" }), { qos: 1 });
        }
      },
    });
    await device.run(24 * 3600);
    // Wake 3 publishes (every 2nd), takes the command, and the scale leaves battery mode.
    assert.equal(device.wakes.length, 3);
    assert.ok(device.batteryToMs !== null && device.batteryToMs < 24 * 3600 * 1000);
    assert.equal(scale.core.get("WAKE_INTERVAL_S"), 0);
    assert.ok(results.some((r) => r.includes("\"awake\"") && r.includes("accepted")), results.join("\n"));
  } finally {
    await watcher.endAsync();
    await broker.close();
    rmSync(pki.dir, { recursive: true, force: true });
  }
});
