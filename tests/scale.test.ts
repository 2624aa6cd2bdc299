// Host + simulator + Wasm core together: readings, faults, filters, zero, calibration, persistence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { code } from "../host/abi.js";
import { FileStore } from "../host/desktop/store.js";
import { restore } from "../host/desktop/run.js";
import type { Reading } from "../host/desktop/core.js";
import { scaleFor, collect, CAL_10KG, debugWasmPath } from "./helpers.js";

const STABLE = code("flag", "STABLE");
const NET = code("flag", "NET");
const CENTER_ZERO = code("flag", "CENTER_ZERO");
const UNCALIBRATED = code("flag", "UNCALIBRATED");
const D = 0.01;

function readingsBetween(all: Reading[], fromS: number, toS: number): Reading[] {
  return all.filter((r) => r.tMs >= fromS * 1000 && r.tMs < toS * 1000);
}
function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} not within ${tolerance} of ${expected}`);
}

test("a calibrated scale reads placed loads within one division, net after tare", async () => {
  const scale = await scaleFor({
    events: [...CAL_10KG,
      { type: "load", at: 6, kg: 2.5 }, { type: "command", at: 8, name: "tare" },
      { type: "load", at: 9, kg: 7.25 }, { type: "load", at: 12, kg: 0 }],
  });
  const all = collect(scale, 14);
  assert.ok(scale.commands.every((c) => c.result >= 0), JSON.stringify(scale.commands));
  for (const r of readingsBetween(all, 7, 8)) assertNear(r.kg, 2.5, D, "2.5 kg gross");
  for (const r of readingsBetween(all, 8.2, 9)) {
    assertNear(r.kg, 0, D, "net after tare");
    assert.ok(r.flags & NET);
  }
  for (const r of readingsBetween(all, 10.5, 12)) assertNear(r.kg, 4.75, D, "net 7.25 - 2.5");
  for (const r of readingsBetween(all, 13, 14)) assertNear(r.grossKg, 0, D, "empty again");
  assert.equal(all.filter((r) => r.fault).length, 0);
});

test("the adaptive filter follows a step within a few samples and is quiet at rest", async () => {
  const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg: 5 }] });
  const all = collect(scale, 8);
  const rest = readingsBetween(all, 5, 6).map((r) => r.kg);
  assert.ok(Math.max(...rest) - Math.min(...rest) <= D, `at rest the reading moves ${Math.max(...rest) - Math.min(...rest)} kg`);
  const after = readingsBetween(all, 6, 8);
  const within = after.findIndex((r) => Math.abs(r.kg - 5) <= D);
  // HX711 digital filter: 4 conversions; median of 5: +2; confirmation: 2.
  assert.ok(within >= 0 && within <= 9, `reached 5 kg after ${within} samples`);
  const moving = after.findIndex((r) => !(r.flags & STABLE));
  assert.ok(moving >= 0 && moving <= 3, `motion seen at sample ${moving}`);
  const stableAgain = after.findIndex((r, i) => i > moving && r.flags & STABLE);
  // Stability is earned over STABLE_MS (1 s: 80 samples) plus one slot of its window (1/8 s).
  assert.ok(stableAgain >= within + 75 && stableAgain <= within + 95, `stable again at sample ${stableAgain}, on target at ${within}`);
  for (const r of after.slice(stableAgain)) assertNear(r.kg, 5, D, "stable means on target");
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

for (const settle of [4, 0]) {
  test(`a gain change: 64 halves the counts; the old-gain conversion never reaches the filters (SETTLE_DISCARD ${settle})`, async () => {
    // Channel B (gain 32) is another input: a temperature bridge here, not channel A at a quarter.
    const scale = await scaleFor({ rate: 80, channelB: "temperature", temperatureC: 30, settings: { SETTLE_DISCARD: settle }, events: [{ type: "load", at: 0, kg: 20 }] });
    const at128 = mean(collect(scale, 1).slice(-20).map((r) => r.raw));
    scale.core.set("GAIN", 64);
    const at64 = collect(scale, 2);
    assertNear(mean(at64.slice(-20).map((r) => r.raw)), at128 / 2, 30, "gain 64");
    // The conversion read with the new gain's pulses was made at 128: it never gets through.
    assert.ok(at64.every((r) => Math.abs(r.raw - at128) > 1000), "old-gain data reached the filters");
    if (settle > 0) {
      // Noise is about 40 counts rms at 80 SPS: 300 counts is over 7 sigma. Without the settling
      // discards the HX711's own filter still mixes the gains for 3 conversions (the user's choice).
      assert.ok(at64.every((r) => Math.abs(r.raw - at128 / 2) < 300), `a settling value reached the filters: ${at64.map((r) => r.raw).find((x) => Math.abs(x - at128 / 2) >= 300)}`);
    }
    assert.ok(at64.at(-1)!.flags & UNCALIBRATED);
    scale.core.set("GAIN", 32);
    // 10 degC x 0.05 mV/degC = 0.5 mV at gain 32 on a 5 V supply: 0.5e-3 * 32 * 2^23 / 2.5 = 53,687 counts.
    assertNear(mean(collect(scale, 3).slice(-20).map((r) => r.raw)), 53687, 100, "channel B: the temperature bridge");
  });
}

test("a calibrated reading is flagged uncalibrated by the gain its data was read at, not the setting", async () => {
  const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg: 3 }] });
  collect(scale, 7);
  scale.core.set("GAIN", 64);
  const after = collect(scale, 8);
  assert.ok(after.length > 0 && after.every((r) => r.flags & UNCALIBRATED), "readings at gain 64 with a calibration made at 128");
  scale.core.set("GAIN", 128);
  const back = collect(scale, 9.5);
  assert.ok(back.length > 0 && back.every((r) => !(r.flags & UNCALIBRATED)), "back at 128: calibrated; nothing from 64 slipped through");
  for (const r of back) assertNear(r.kg, 3, 2 * D, "at 128 again");
});

interface FaultCase {
  fault: string;
  value?: number;
  expect: string;
  /** One-shot faults are followed by true weights; persistent ones by nothing but faults. */
  once?: boolean;
  /** A frozen converter looks like a steady load until its code has repeated FROZEN_COUNT times. */
  undetectableFor?: number;
}
const FAULTS: FaultCase[] = [
  { fault: "disconnect", expect: "TIMEOUT" },
  { fault: "stuck_low", expect: "NO_DOUT_HIGH" },
  { fault: "stretch_clock", value: 80, expect: "POWER_DOWN", once: true },

  { fault: "frozen", value: 0x123456, expect: "FROZEN", undetectableFor: 16 },
  { fault: "frozen", value: 0x7fffff, expect: "SATURATED_HIGH" },
  { fault: "frozen", value: 0x800000, expect: "SATURATED_LOW" },
  // 0xFFFFFF and 0x000000 are real codes near 0 V, but not straight after 3 kg: a lost step.
  { fault: "frozen", value: 0xffffff, expect: "GAIN_PULSES" },
  { fault: "frozen", value: 0, expect: "GAIN_PULSES" },
  { fault: "stall", value: 20000, expect: "LATE", once: true },
];

for (const f of FAULTS) {
  test(`injected ${f.fault}${f.value !== undefined ? ` (${f.value})` : ""} is reported as ${f.expect}, never as a weight`, async () => {
    const scale = await scaleFor({
      rate: 80,
      events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }, { type: "fault", at: 6, fault: f.fault, ...(f.value !== undefined ? { value: f.value } : {}) }],
    });
    const all = collect(scale, 7.5);
    const after = readingsBetween(all, 6, 7.5);
    const faults = after.filter((r) => r.fault);
    assert.ok(faults.length > 0, "a fault is reported");
    assert.equal(faults[0].fault, code("fault", f.expect));
    for (const r of faults) assert.ok(Number.isNaN(r.kg) && Number.isNaN(r.grossKg), "a fault carries no weight");
    const first = after.indexOf(faults[0]);
    assert.ok(first <= (f.undetectableFor ?? 0) + 1, `detected after ${first} samples`);
    for (const r of after.slice(0, first - (f.undetectableFor ?? 0))) assertNear(r.kg, 3, 2 * D, "weights before the fault");
    const rest = after.slice(first + 1);
    if (f.once) for (const r of rest) assert.ok(r.fault || Math.abs(r.kg - 3) <= 2 * D, `weight after the fault: ${r.kg}`);
    else assert.ok(rest.every((r) => r.fault), "a lasting fault yields no weight at all");
  });
}

test("a timing violation once: one POWER_DOWN fault, the chip settles again, readings resume", async () => {
  const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }, { type: "fault", at: 6, fault: "stretch_clock", value: 70 }] });
  const all = collect(scale, 8);
  const faults = all.filter((r) => r.fault);
  assert.equal(faults.length, 1);
  assert.equal(faults[0].fault, code("fault", "POWER_DOWN"));
  const resumed = all.filter((r) => r.seq > faults[0].seq);
  assert.ok(resumed.length > 50);
  for (const r of resumed) assertNear(r.kg, 3, 2 * D, "after the reset");
});

test("bit flips are rejected by the default median of 5: no reading strays", async () => {
  const scale = await scaleFor({
    rate: 80,
    events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }, { type: "fault", at: 6, fault: "bit_flips", value: 0.02 }],
  });
  const after = readingsBetween(collect(scale, 60), 6, 60);
  assert.ok(after.length > 4000);
  const outliers = after.filter((r) => Math.abs(r.raw - after[0].raw) > 2000).length;
  assert.ok(outliers > 40, `only ${outliers} corrupted conversions: the test would prove nothing`);
  const stray = after.filter((r) => !r.fault && Math.abs(r.kg - 3) > 2 * D);
  assert.equal(stray.length, 0, `stray readings: ${stray.slice(0, 3).map((r) => r.kg).join(", ")}`);
});

test("an electrical spike spreads over 4 conversions in the HX711's filter: a median of 9 removes it, of 5 not", async () => {
  const run = async (window: number) => {
    const scale = await scaleFor({
      rate: 80,
      cell: { spikeProbability: 0.003, spikeFraction: 0.3 },
      settings: { SPIKE_WINDOW: window },
      events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }],
      // A seed whose spikes leave the empty platform still for the calibration: a spike shows as
      // motion for STABLE_MS (stability is judged before the filters).
    }, 5);
    const after = readingsBetween(collect(scale, 60), 6, 60);
    return after.filter((r) => !r.fault && Math.abs(r.kg - 3) > 2 * D).length;
  };
  assert.ok((await run(5)) > 0, "spikes get through a median of 5");
  assert.equal(await run(9), 0);
});

test("four cells: summed, two host calls per sample on a shared clock, five with separate clocks", async () => {
  for (const [shared, calls] of [[true, 2], [false, 5]] as const) {
    const scale = await scaleFor({ cells: 4, inStep: true, sharedClock: shared, events: [...CAL_10KG, { type: "load", at: 5, kg: 8 }] });
    collect(scale, 5);
    const before = scale.board.waitCalls + scale.board.clockInCalls;
    let samples = 0;
    while (scale.nowS < 7) {
      scale.step();
      samples++;
    }
    assert.equal((scale.board.waitCalls + scale.board.clockInCalls - before) / samples, calls);
    assertNear(scale.reading().kg, 8, D, "four cells summed");
  }
});

test("zero tracking follows slow drift at zero, but at most 0.5 d per second, and not a real load", async () => {
  // 0.1 degC a second for 100 s moves zero 0.05 d a second, 5 d in all.
  const warming = Array.from({ length: 100 }, (_, i) => ({ type: "temperature", at: 10 + i, c: 20 + 0.1 * (i + 1) }));
  const drift = { cell: { tempZeroPerC: 0.0001, creepFraction: 0 }, events: [...CAL_10KG, ...warming] };
  const tracked = readingsBetween(collect(await scaleFor(drift), 115), 10, 115);
  for (const r of tracked) assertNear(r.grossKg, 0, D, "tracked zero");
  const untracked = collect(await scaleFor({ ...drift, settings: { ZERO_TRACK_D_PER_S: 0 } }), 115).at(-1)!;
  assert.ok(Math.abs(untracked.grossKg) >= 4 * D, `without tracking the drift shows: ${untracked.grossKg}`);

  // 1.5 d placed at zero with a 2 d tracking range: from 1 d to the centre of zero (0.25 d) takes
  // (1 - 0.25) d / 0.5 d/s = 1.5 s; unlimited tracking would take one sample.
  const small = await scaleFor({ rate: 80, settings: { ZERO_TRACK_RANGE_D: 2 }, events: [...CAL_10KG, { type: "load", at: 8, kg: 0.015 }] });
  const after = readingsBetween(collect(small, 14), 8, 14);
  const up = after.find((r) => r.grossKg >= 0.0095);
  assert.ok(up, "the load shows first");
  const centred = after.find((r) => r.tMs > up.tMs && r.flags & CENTER_ZERO);
  assert.ok(centred, "and is tracked away");
  const seconds = (centred.tMs - up.tMs) / 1000;
  // Tracking needs a stable reading: STABLE_MS (1 s) after the load shows, then 1.5 s of tracking.
  assert.ok(seconds >= 2.2 && seconds <= 3.8, `centre of zero after ${seconds} s`);

  // 5 d is a load, not drift: it stays.
  const load = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 8, kg: 0.05 }] });
  assertNear(collect(load, 20).at(-1)!.grossKg, 0.05, D, "a small load is kept");
});

test("commands are refused with a reason when the scale cannot honour them, and change nothing", async () => {
  const scale = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 6, kg: 10, rampS: 2 }] });
  collect(scale, 6.5);
  assert.equal(scale.command("tare"), code("error", "NOT_STABLE"));
  collect(scale, 10);
  assert.equal(scale.command("zero"), code("error", "OUT_OF_RANGE"), "10 kg is outside the 4 % zero-setting range");
  assert.equal(scale.command("calibrate", Number.NaN), code("error", "BAD_VALUE"));
  assert.equal(scale.command("calibrate", -5), code("error", "BAD_VALUE"));
  assert.equal(scale.command("cal_fit", 0, 3), code("error", "BAD_VALUE"));
  assert.equal(scale.command("cal_fit", 0, 1), code("error", "TOO_FEW_POINTS"));
  assertNear(collect(scale, 11).at(-1)!.kg, 10, D, "calibration unchanged");
});

test("multi-point calibration: the quadratic fit absorbs cell non-linearity a line cannot", async () => {
  const points = [0, 10, 20, 30, 40];
  const events: unknown[] = [{ type: "command", at: 0.9, name: "cal_clear" }];
  points.forEach((kg, i) => {
    events.push({ type: "load", at: 1 + 2 * i, kg }, { type: "command", at: 2.9 + 2 * i, name: "cal_point", kg });
  });
  const fitAt = 11;
  const run = async (order: 1 | 2) => {
    const scale = await scaleFor({
      cell: { nonlinearity: 0.002, creepFraction: 0 },
      events: [...events, { type: "command", at: fitAt, name: "cal_fit", order }, { type: "load", at: 12, kg: 25 }],
    });
    const last = collect(scale, 15).at(-1)!;
    assert.ok(scale.commands.every((c) => c.result >= 0), JSON.stringify(scale.commands));
    return { kg: last.kg, rms: scale.core.exports.cal_residual(-1) };
  };
  const linear = await run(1);
  const quadratic = await run(2);
  // 0.2 % of 50 kg at half capacity bends the line by 0.1 kg; the quadratic follows it.
  assert.ok(linear.rms > 0.02, `linear rms residual ${linear.rms}`);
  assert.ok(quadratic.rms < 0.005, `quadratic rms residual ${quadratic.rms}`);
  assertNear(quadratic.kg, 25, D, "quadratic at 25 kg");
  assert.ok(Math.abs(linear.kg - 25) > 2 * D, `the line misses at 25 kg: ${linear.kg}`);
});

test("calibration, zero and tare survive a reboot through the file store; a damaged blob is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-"));
  try {
    const path = join(dir, "store.json");
    const first = await scaleFor({ events: [...CAL_10KG, { type: "load", at: 6, kg: 2 }, { type: "command", at: 8, name: "tare" }, { type: "load", at: 9, kg: 5 }] });
    collect(first, 11);
    const store = new FileStore(path);
    store.set("CALIBRATION", first.core.saveBlob("CALIBRATION"));
    store.set("CONFIG", first.core.saveBlob("CONFIG"));
    const before = first.reading();
    assertNear(before.kg, 3, D, "net before reboot");

    // Reboot: a new board and core (same physical platform, same seed), state from the file.
    const second = await scaleFor({ events: [{ type: "load", at: 0, kg: 5 }] });
    const reopened = new FileStore(path);
    assert.equal(second.core.loadBlob("CONFIG", reopened.get("CONFIG")!), 0);
    assert.equal(second.core.loadBlob("CALIBRATION", reopened.get("CALIBRATION")!), 0);
    const after = collect(second, 3).at(-1)!;
    assertNear(after.kg, 3, D, "net after reboot");
    assert.ok(after.flags & NET && !(after.flags & UNCALIBRATED));

    const damaged = reopened.get("CALIBRATION")!;
    damaged[20] ^= 0x40;
    const third = await scaleFor({ events: [{ type: "load", at: 0, kg: 5 }] });
    assert.equal(third.core.loadBlob("CALIBRATION", damaged), code("error", "BAD_BLOB"));
    assert.equal(third.core.loadBlob("CALIBRATION", damaged.subarray(0, 10)), code("error", "BAD_BLOB"));
    assert.equal(third.core.loadBlob("CONFIG", reopened.get("CALIBRATION")!), code("error", "BAD_BLOB"), "wrong kind");
    assert.ok(collect(third, 2).at(-1)!.flags & UNCALIBRATED, "still uncalibrated, nothing half-loaded");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a settings blob with an out-of-range value is refused whole", async () => {
  const scale = await scaleFor({});
  scale.core.set("DIVISION_KG", 0.005);
  const blob = scale.core.saveBlob("CONFIG");
  const fresh = await scaleFor({});
  const view = new DataView(blob.buffer, blob.byteOffset);
  view.setFloat32(8 + 4 * code("config", "GAIN"), 100, true); // not a gain; the checksum is then fixed up below
  const { crc32 } = await import("node:zlib");
  view.setUint32(blob.length - 4, crc32(blob.subarray(0, blob.length - 4)), true);
  assert.equal(fresh.core.loadBlob("CONFIG", blob), code("error", "BAD_BLOB"));
  assert.equal(fresh.core.get("DIVISION_KG"), Math.fround(0.01), "nothing changed");
});

test("same seed, same readings; the debug core agrees with the release core and never panics", async () => {
  const scenario = { rate: 80 as const, events: [...CAL_10KG, { type: "load", at: 5, kg: 4.2, rampS: 0.3 }] };
  const a = collect(await scaleFor(scenario, 9), 8);
  const b = collect(await scaleFor(scenario, 9), 8);
  assert.deepEqual(a, b);
  const debug = await scaleFor(scenario, 9, debugWasmPath);
  const c = collect(debug, 8);
  assert.deepEqual(c, a);
  assert.equal(debug.panics.length, 0);
});

test("soak: 1,000,000 samples, memory does not grow, no panic, sequence without gaps", async () => {
  // Spikes spread over 4 conversions by the HX711's filter: a median of 9 removes them (above).
  // A seed whose spikes leave the platform still for the calibration (a spike shows as motion).
  const scale = await scaleFor({ rate: 80, cell: { spikeProbability: 0.001 }, settings: { SPIKE_WINDOW: 9 }, events: [...CAL_10KG, { type: "load", at: 100, kg: 12 }] }, 5);
  const startBytes = scale.core.memoryBytes();
  let lastSeq = 0;
  let gaps = 0;
  const last: number[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    if (scale.step() !== 0) {
      const r = scale.reading();
      if (r.seq !== lastSeq + 1) gaps++;
      lastSeq = r.seq;
      if (i >= 1_000_000 - 101) last.push(r.kg);
    }
  }
  assert.equal(scale.core.memoryBytes() - startBytes, 0);
  assert.equal(scale.panics.length, 0);
  assert.equal(gaps, 0);
  assert.ok(scale.commands.every((c) => c.result >= 0), JSON.stringify(scale.commands));
  // The median of the last 100 readings: an electrical spike the median of 5 lets through (see
  // above) may be the very last one.
  last.sort((a, b) => a - b);
  assertNear(last[50], 12, 2 * D, "still weighing after 1e6 samples");
});

test("the hosts show the division's decimals as the core's messages do, and settings as they were written (f32)", async () => {
  const { displayDecimals } = await import("../host/desktop/terminal.js");
  const { settingShown } = await import("../host/desktop/core.js");
  const scale = await scaleFor({ rate: 10 });
  for (const [d, decimals] of [[0.01, 2], [0.005, 3], [0.1, 1], [1, 0], [0.02, 2]] as const) {
    assert.equal(scale.core.set("DIVISION_KG", d), 0);
    assert.equal(displayDecimals(scale.core), decimals, `d = ${d}`);
    assert.equal(settingShown(scale.core.get("DIVISION_KG")), d, `DIVISION_KG = ${d} as written`);
  }
});

test("a stored blob the core refuses is kept in a file of its own before the next save replaces it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-"));
  try {
    const path = join(dir, "store.json");
    const first = await scaleFor({ events: [...CAL_10KG] });
    collect(first, 6);
    const store = new FileStore(path);
    const good = first.core.saveBlob("CALIBRATION");
    const damaged = Uint8Array.from(good);
    damaged[20] ^= 0x40;
    store.set("CALIBRATION", damaged);
    const second = await scaleFor({});
    const { notes, calibrated } = restore(new FileStore(path), second.core);
    assert.equal(calibrated, false);
    const note = notes.find((n) => n.startsWith("ignored stored calibration: BAD_BLOB"));
    assert.ok(note, notes.join("\n"));
    const copy = note.match(/kept in (\S+)$/)![1];
    assert.deepEqual(new Uint8Array(readFileSync(copy)), damaged, "the refused bytes, as they were");
    assert.equal(statSync(copy).mode & 0o777, 0o600);
    // The next save replaces the store's entry; the copy stays.
    new FileStore(path).set("CALIBRATION", good);
    assert.deepEqual(new Uint8Array(readFileSync(copy)), damaged);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("secrets: a symbolic link planted where a key goes is replaced, never written through; wider modes are narrowed; key folders are 700", async () => {
  const { webKey } = await import("../host/desktop/web/server.js");
  const { writeCerts } = await import("../host/desktop/certs.js");
  const { symlinkSync, writeFileSync: write, chmodSync, lstatSync } = await import("node:fs");
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-secrets-"));
  try {
    const certs = join(dir, "certs");
    await writeCerts(certs, { clients: ["scale1"], hosts: ["localhost"] });
    assert.equal(statSync(certs).mode & 0o777, 0o700, "the certificates' folder");
    // An attacker's link where the web key will be written: the key goes into a plain file instead.
    const elsewhere = join(dir, "attacker-reads-this");
    write(elsewhere, "");
    symlinkSync(elsewhere, join(certs, "web-key"));
    assert.throws(() => webKey(certs), /is a symbolic link/);
    rmSync(join(certs, "web-key"));
    const key = webKey(certs);
    assert.equal(readFileSync(elsewhere, "utf8"), "", "nothing written through the link");
    assert.equal(lstatSync(join(certs, "web-key")).isSymbolicLink(), false);
    assert.equal(statSync(join(certs, "web-key")).mode & 0o777, 0o600);
    // A key file left readable by others is made private when it is next used.
    chmodSync(join(certs, "web-key"), 0o644);
    assert.equal(webKey(certs), key);
    assert.equal(statSync(join(certs, "web-key")).mode & 0o777, 0o600);
    chmodSync(join(certs, "scale1-key.pem"), 0o644);
    await writeCerts(certs, { clients: ["scale1"], hosts: ["localhost"] });
    assert.equal(statSync(join(certs, "scale1-key.pem")).mode & 0o777, 0o600, "a device key kept, made private");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
