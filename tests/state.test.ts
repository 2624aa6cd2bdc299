// The core's volatile state (state_save / state_load), as a host that turns the core off between
// readings uses it: a run interrupted at any point, its state and blobs moved into a fresh core,
// goes on exactly as the uninterrupted run: the same readings and the same published readings,
// byte for byte. A damaged or foreign state is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { ScaleCore, type OutMessage } from "../host/desktop/core.js";
import { CLOCK_PINS, DATA_PINS, type VirtualScale } from "../host/desktop/virtual-scale.js";
import { code } from "../host/abi.js";

const SCENARIO = {
  rate: 80, cells: 2, settings: { PUBLISH_MS: 250, ZERO_TRACK_D_PER_S: 0.5 },
  events: [
    ...CAL_10KG,
    { type: "load", at: 6, kg: 3.2, rampS: 0.3, x: 0.3 },
    { type: "command", at: 8, name: "tare" },
    { type: "load", at: 9, kg: 5.7, rampS: 0.2 },
    { type: "fault", at: 10, fault: "disconnect", chip: 1 },
    { type: "fault", at: 10.3, fault: "clear" },
    { type: "load", at: 11, kg: 0.4, rampS: 0.5 },
    { type: "command", at: 12.5, name: "clear_tare" },
    { type: "load", at: 13, kg: 0, rampS: 0.3 },
  ],
};

/** Online from 0 to 4 s and after 9 s: readings pile up in the outbox in between. */
const online = (s: number) => s < 4 || s >= 9;

interface Run { readings: string[]; published: string[] }

/** Runs to `until`, drained as a connected host does (all of it, after each sample) while online. */
function runTo(scale: VirtualScale, until: number, out: Run, up: { value: boolean }): void {
  while (scale.nowS < until) {
    const status = scale.step();
    if (status !== 0) out.readings.push(Buffer.from(new Uint8Array(scale.core.exports.memory.buffer, scale.core.exports.reading_ptr(), 32)).toString("hex"));
    const want = online(scale.nowS);
    if (want !== up.value) {
      scale.core.connected(want);
      up.value = want;
    }
    if (!up.value) continue;
    for (let m: OutMessage | null; (m = scale.core.next()); scale.core.done()) {
      if (m.topic.endsWith("/state") || m.topic.endsWith("/result") || m.topic.endsWith("/gap")) out.published.push(`${m.topic} ${m.payload}`);
    }
  }
}

async function device(): Promise<VirtualScale> {
  const scale = await scaleFor(SCENARIO, 11);
  scale.core.setDeviceId("hive7");
  scale.core.timeSync(1_790_000_000_000, 0);
  return scale;
}

/** What the host does at a deep sleep and the wake after it: a fresh core, chips, blobs, id, state. */
async function sleepAndWake(scale: VirtualScale, up: boolean): Promise<number> {
  const old = scale.core;
  const blobs = { CONFIG: old.saveBlob("CONFIG"), CALIBRATION: old.saveBlob("CALIBRATION") };
  const state = old.saveState();
  const core = await ScaleCore.load(scale.host);
  for (let i = 0; i < 2; i++) core.addChip(scale.scenario.sharedClock ? CLOCK_PINS[0] : CLOCK_PINS[i], DATA_PINS[i]);
  assert.equal(core.loadBlob("CONFIG", blobs.CONFIG), 0);
  assert.equal(core.loadBlob("CALIBRATION", blobs.CALIBRATION), 0);
  core.setDeviceId("hive7");
  const r = core.loadState(state);
  if (up) core.connected(true);
  scale.core = core;
  return r;
}

test("a run moved into a fresh core at any point goes on exactly as the uninterrupted run", async () => {
  const whole: Run = { readings: [], published: [] };
  const a = await device();
  runTo(a, 15, whole, { value: false });
  assert.ok(whole.readings.length > 900 && whole.published.length > 40);
  for (const at of [0.7, 2.3, 5.05, 7.9, 8.6, 10.1, 10.2, 12.6, 14.1]) {
    const cut: Run = { readings: [], published: [] };
    const b = await device();
    const up = { value: false };
    runTo(b, at, cut, up);
    assert.equal(await sleepAndWake(b, up.value), 0, `state restored at ${at} s`);
    runTo(b, 15, cut, up);
    assert.deepEqual(cut.readings, whole.readings, `readings after a sleep at ${at} s`);
    assert.deepEqual(cut.published, whole.published, `published after a sleep at ${at} s`);
  }
});

test("a queue that wraps round the end of the outbox's ring is saved oldest first and sent on in order", async () => {
  // 80 readings a second queued: 3 s online moves the ring's head near its end (257 slots), then
  // 1.5 s offline fills it round the end.
  const scenario = { ...SCENARIO, settings: { ...SCENARIO.settings, PUBLISH_MS: 0 } };
  const make = async () => {
    const scale = await scaleFor(scenario, 11);
    scale.core.setDeviceId("hive7");
    scale.core.timeSync(1_790_000_000_000, 0);
    return scale;
  };
  const upTo = (s: number) => s < 3.1;
  const drive = (scale: VirtualScale, until: number, out: string[], up: { value: boolean }) => {
    while (scale.nowS < until) {
      scale.step();
      const want = upTo(scale.nowS) || scale.nowS >= 4.6;
      if (want !== up.value) scale.core.connected((up.value = want));
      if (!up.value) continue;
      for (let m: OutMessage | null; (m = scale.core.next()); scale.core.done()) if (m.topic.endsWith("/state")) out.push(m.payload.toString());
    }
  };
  const whole: string[] = [];
  drive(await make(), 5, whole, { value: false });
  const cut: string[] = [];
  const b = await make();
  const up = { value: false };
  drive(b, 4.5, cut, up);
  const pending = b.core.pending;
  assert.ok(pending > 100, `${pending} readings queued`);
  const state = b.core.saveState();
  assert.equal(await sleepAndWake(b, up.value), 0);
  assert.equal(b.core.pending, pending);
  drive(b, 5, cut, up);
  assert.deepEqual(cut, whole);
  assert.ok(state.length < 2048 + 28 * pending, `${state.length} bytes for ${pending} readings`);
});

test("the state is about 1.8 KB and 28 bytes a queued reading, in io-buffer chunks; a damaged, truncated or foreign state is refused", async () => {
  const a = await device();
  runTo(a, 6, { readings: [], published: [] }, { value: false });
  const state = a.core.saveState();
  const queued = a.core.pending;
  assert.ok(queued > 5, `${queued} readings queued`);
  // The two queues take only their used slots: what battery mode's RTC memory (8 KB) can hold.
  assert.ok(state.length > 1024 + 28 * queued && state.length < 2048 + 28 * queued, `${state.length} bytes with ${queued} readings queued`);
  const fresh = async () => {
    const core = await ScaleCore.load(a.host);
    core.setDeviceId("hive7");
    return core;
  };
  const BAD_BLOB = code("error", "BAD_BLOB");
  for (const at of [0, 5, 20, 300, 1200, state.length - 1]) {
    const damaged = Buffer.from(state);
    damaged[at] ^= 0x40;
    assert.equal((await fresh()).loadState(damaged), BAD_BLOB, `a flipped bit at byte ${at}`);
  }
  assert.equal((await fresh()).loadState(state.subarray(0, state.length - 1)), BAD_BLOB, "truncated");
  assert.equal((await fresh()).loadState(Buffer.alloc(state.length)), BAD_BLOB, "not a state");
  // Chunks out of order are refused.
  const core = await fresh();
  assert.equal(core.exports.state_load(1, 1024), code("error", "BAD_VALUE"));
  // And a good one still loads after all that.
  assert.equal((await fresh()).loadState(state), 0);
});
