// A weight you can trust, against a simulator that does not share the core's assumptions: chips
// that drift out of step, reads that stall, missed pulses, a load that sways, overload, the zero
// and tare rules of OIML R76, and calibration blobs written by the previous core.
import { test } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { code } from "../host/abi.js";
import type { Reading } from "../host/desktop/core.js";
import { scaleFor, collect, collectMarked, CAL_10KG } from "./helpers.js";

const STABLE = code("flag", "STABLE");
const NET = code("flag", "NET");
const OVERLOAD = code("flag", "OVERLOAD");
const UNCALIBRATED = code("flag", "UNCALIBRATED");
const D = 0.01;

const between = (all: Reading[], fromS: number, toS: number) => all.filter((r) => r.tMs >= fromS * 1000 && r.tMs < toS * 1000);
const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} not within ${tolerance} of ${expected}`);

test("four chips on one clock, each with its own oscillator: a read is refused only when a conversion completed during it, calibration accepted, no corrupted read a weight", async () => {
  let late = 0;
  let reads = 0;
  let corruptedSeen = 0;
  for (const seed of [1, 2, 3]) {
    // Oscillators up to 1 % apart at 80 SPS: their conversions sweep through each other every 100 periods or so.
    const scale = await scaleFor({ rate: 80, cells: 4, oscillatorPpm: 10000, events: [...CAL_10KG, { type: "load", at: 6, kg: 7 }] }, seed);
    const { all, corrupted } = collectMarked(scale, 60);
    const calibrated = all.filter((r) => r.tMs > 6000 && !r.fault && !(r.flags & UNCALIBRATED));
    assert.ok(calibrated.length > 0.9 * all.filter((r) => r.tMs > 6000).length, `seed ${seed}: the calibration was refused`);
    for (const r of corrupted) assert.ok(r.fault !== null, `seed ${seed}: a read corrupted by a conversion became ${r.kg} kg`);
    for (const r of calibrated.filter((x) => x.tMs > 7500)) near(r.kg, 7, 3 * D, `seed ${seed}: a weight from chips out of step`);
    late += all.filter((r) => r.fault === code("fault", "LATE")).length;
    reads += all.length;
    corruptedSeen += corrupted.length;
  }
  assert.ok(corruptedSeen > 20, `only ${corruptedSeen} corrupted reads: the drift was not exercised`);
  assert.ok(late <= 0.05 * reads, `${late} of ${reads} conversions refused as LATE (at most 5 %)`);
});

test("a host that reads up to 1.5 periods late, one chip and four, filters off: no read a conversion overran becomes a weight", async () => {
  for (const cells of [1, 4]) {
    for (const seed of [1, 2]) {
      const scale = await scaleFor({
        rate: 80, cells, lateHostPeriods: 1.5, settings: { SPIKE_MODE: 0, SMOOTH_MODE: 0 },
        events: [...CAL_10KG, { type: "load", at: 6, kg: 7 }, ...Array.from({ length: 30 }, (_, i) => ({ type: "load", at: 8 + 2 * i, kg: i % 2 ? 7 : 3, rampS: 1.5 }))],
      }, seed);
      const { all, corrupted } = collectMarked(scale, 70);
      assert.ok(corrupted.length > 0, `${cells} chip(s), seed ${seed}: no read was overrun (the late host was not exercised)`);
      for (const r of corrupted) assert.ok(r.fault !== null, `${cells} chip(s), seed ${seed}: an overrun read became ${r.kg} kg at ${r.tMs} ms`);
      const late = all.filter((r) => r.fault === code("fault", "LATE")).length;
      assert.ok(late <= 0.05 * all.length, `${cells} chip(s), seed ${seed}: ${late} of ${all.length} refused as LATE`);
    }
  }
});

test("a host stalled between pulses past the next conversion: the read is refused as LATE", async () => {
  const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }, { type: "fault", at: 7, fault: "stall", value: 13000 }] });
  const all = between(collect(scale, 8), 6, 8);
  const late = all.filter((r) => r.fault === code("fault", "LATE"));
  assert.equal(late.length, 1);
  for (const r of all.filter((x) => !x.fault)) near(r.kg, 3, 2 * D, "every other reading");
});

test("a missed pulse: reported, or (its last bit happened to be 1) a spike the median removes; never a stray weight", async () => {
  let detected = 0;
  let trials = 0;
  for (let seed = 1; seed <= 16; seed++) {
    const pulse = 2 + ((seed * 5) % 22); // anywhere in the 24 data bits
    const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 5, kg: 3 }, { type: "fault", at: 7, fault: "short_pulse", value: pulse }] }, seed);
    const all = between(collect(scale, 8), 6.5, 8);
    trials++;
    if (all.some((r) => r.fault)) detected++;
    for (const r of all.filter((x) => !x.fault)) near(r.kg, 3, 2 * D, `seed ${seed}, pulse ${pulse} missed`);
  }
  // The residual risk stated in assembly/hx711.ts: about half pass the checks at gain 128.
  assert.ok(detected >= trials / 4, `${detected} of ${trials} missed pulses detected`);
});

test("stability sees motion: a slow sway of 3 d is never STABLE and tare is refused during it, at 10 and 80 SPS", async () => {
  for (const rate of [10, 80] as const) {
    // 0.03 kg peak to peak, a 2 s period: ramps up and down.
    const sway = Array.from({ length: 20 }, (_, i) => ({ type: "load", at: 8 + i, kg: 5 + (i % 2 === 0 ? 0.03 : 0), rampS: 1 }));
    const scale = await scaleFor({ rate, events: [...CAL_10KG, { type: "load", at: 6, kg: 5 }, ...sway, { type: "command", at: 15.5, name: "tare" }, { type: "command", at: 16.2, name: "zero" }] });
    const all = collect(scale, 28);
    assert.ok(between(all, 7.5, 8).some((r) => r.flags & STABLE), `${rate} SPS: stable before the sway`);
    const during = between(all, 9, 28);
    assert.equal(during.filter((r) => r.flags & STABLE).length, 0, `${rate} SPS: STABLE during a 3 d sway`);
    assert.equal(scale.commands.find((c) => c.name === "tare")?.error, "NOT_STABLE");
    assert.equal(scale.commands.find((c) => c.name === "zero")?.error, "NOT_STABLE");
  }
});

test("stability sees a fast sway the median and smoothing hide: 20 d peak to peak at 2 and 4 Hz is never STABLE, tare and zero refused, at 10 and 80 SPS", async () => {
  for (const rate of [10, 80] as const) {
    for (const hz of [2, 4]) {
      // A triangle between 4.9 and 5.1 kg: half a period up, half down.
      const half = 1 / (2 * hz);
      const sway = Array.from({ length: Math.round(10 / half) }, (_, i) => ({ type: "load", at: 8 + i * half, kg: i % 2 === 0 ? 5.1 : 4.9, rampS: half }));
      const scale = await scaleFor({ rate, events: [...CAL_10KG, { type: "load", at: 6, kg: 5 }, ...sway,
        { type: "command", at: 12.5, name: "tare" }, { type: "command", at: 13.3, name: "zero" }] });
      const all = collect(scale, 18);
      assert.ok(between(all, 7.5, 8).some((r) => r.flags & STABLE), `${rate} SPS: stable before the sway`);
      const during = between(all, 9, 18);
      const stable = during.filter((r) => r.flags & STABLE).length;
      assert.equal(stable, 0, `${rate} SPS, ${hz} Hz: ${stable} of ${during.length} readings STABLE during a 20 d sway`);
      assert.equal(scale.commands.find((c) => c.name === "tare")?.error, "NOT_STABLE", `${rate} SPS, ${hz} Hz: tare`);
      assert.equal(scale.commands.find((c) => c.name === "zero")?.error, "NOT_STABLE", `${rate} SPS, ${hz} Hz: zero`);
    }
  }
});

test("after a fault gap the first readings are fresh: a chip missing for 3 s while 8 kg goes on comes back showing 8 kg, at 10 and 80 SPS", async () => {
  for (const rate of [10, 80] as const) {
    const scale = await scaleFor({ rate, events: [...CAL_10KG,
      { type: "fault", at: 8, fault: "disconnect" }, { type: "load", at: 9, kg: 8 }, { type: "fault", at: 11, fault: "clear" }] });
    const all = collect(scale, 14);
    assert.ok(between(all, 8.5, 10.9).every((r) => r.fault !== 0), `${rate} SPS: the chip was missing`);
    const after = all.filter((r) => r.tMs > 11000 && r.fault === 0);
    assert.ok(after.length > 5, `${rate} SPS: readings after the chip came back`);
    const stale = after.filter((r) => Math.abs(r.kg - 8) > 5 * D);
    assert.equal(stale.length, 0, `${rate} SPS: ${stale.length} stale readings after the gap, the first at ${stale[0]?.tMs} ms: ${stale[0]?.kg} kg`);
  }
});

test("unloading a balanced bridge is no fault: a load taken off at once to codes of all zeros or all ones is a real reading", async () => {
  for (const rate of [10, 80] as const) {
    // A bridge balanced at zero load and a quiet chip: the empty platform reads codes 0 and -1 (all
    // ones) often. 10 kg on and off, at once, every second.
    const steps = Array.from({ length: 60 }, (_, i) => ({ type: "load", at: 6 + i, kg: i % 2 === 0 ? 10 : 0 }));
    const scale = await scaleFor({ rate, cell: { zeroBalanceMvV: 0 }, noiseNvRms: 3, events: [...CAL_10KG, ...steps] }, 3);
    const all = collect(scale, 66);
    const faults = all.filter((r) => r.fault !== 0);
    const zeros = all.filter((r) => r.fault === 0 && (r.raw === 0 || r.raw === -1)).length;
    assert.ok(zeros > 10, `${rate} SPS: only ${zeros} readings of code 0 or -1: the test does not reach the case`);
    assert.equal(faults.length, 0, `${rate} SPS: ${faults.length} faults, the first ${faults[0]?.fault} at ${faults[0]?.tMs} ms`);
  }
});

test("a stable reading is on target: the shown weight never carries STABLE while it is more than a band off", async () => {
  // An EMA at 10 SPS takes seconds to converge; stability waits for it.
  const scale = await scaleFor({
    rate: 10, settings: { SMOOTH_MODE: 2, SMOOTH_ALPHA: 0.1 },
    events: [
      { type: "command", at: 1.9, name: "cal_point", kg: 0 }, { type: "load", at: 2, kg: 10 },
      { type: "command", at: 4, name: "calibrate", kg: 10 }, // the EMA lags: refused, not stable
      { type: "command", at: 12, name: "calibrate", kg: 10 }, { type: "load", at: 12.5, kg: 0 }, { type: "load", at: 22, kg: 4 },
    ],
  });
  // From when the load reaches the readings (the HX711's own filter: 4 conversions, 0.4 s).
  const all = between(collect(scale, 40), 22.6, 40);
  assert.deepEqual(scale.commands.map((c) => c.error ?? "ok"), ["ok", "NOT_STABLE", "ok"]);
  for (const r of all.filter((x) => x.flags & STABLE)) near(r.kg, 4, 1.5 * D, "a STABLE reading");
  assert.ok(all.some((r) => r.flags & STABLE), "and it does become stable");
});

test("zero cancels an active tare, and an uncalibrated scale refuses zero at any load", async () => {
  const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg: 0.2 }, { type: "command", at: 8, name: "tare" }, { type: "command", at: 10, name: "zero" }] });
  const all = collect(scale, 12);
  assert.ok(scale.commands.every((c) => c.result >= 0), JSON.stringify(scale.commands));
  const last = all.at(-1)!;
  assert.ok(!(last.flags & NET), "no tare after zero");
  near(last.kg, 0, D, "zero");
  near(last.grossKg, 0, D, "gross zero");

  for (const kg of [0, 0.5, 20]) {
    const fresh = await scaleFor({ rate: 80, events: [{ type: "load", at: 0, kg }] });
    collect(fresh, 3);
    assert.equal(fresh.command("zero"), code("error", "OUT_OF_RANGE"), `uncalibrated, ${kg} kg`);
  }
});

test("the zero-setting range is 4 % of Max in total (R76): +-2 % around the initial zero, zero tracking included", async () => {
  // Capacity 50 kg: 1 kg either way.
  for (const [kg, ok] of [[0.9, true], [1.1, false], [-0.9, true], [-1.1, false]] as const) {
    const scale = await scaleFor({ rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg }] });
    collect(scale, 8);
    assert.equal(scale.command("zero") === 0, ok, `zero with ${kg} kg`);
  }
});

test("initial zero-setting at power-up (INITIAL_ZERO_PCT): within its range only, and off by default", async () => {
  const first = await scaleFor({ rate: 80, events: CAL_10KG });
  collect(first, 6);
  const cal = first.core.saveBlob("CALIBRATION");
  for (const [pct, kg, zeroed] of [[20, 3, true], [20, 6, false], [0, 3, false]] as const) {
    const scale = await scaleFor({ rate: 80, settings: { INITIAL_ZERO_PCT: pct }, events: [{ type: "load", at: 0, kg }] });
    assert.equal(scale.core.loadBlob("CALIBRATION", cal), 0);
    const last = collect(scale, 3).at(-1)!;
    near(last.grossKg, zeroed ? 0 : kg, 2 * D, `power-up with ${kg} kg, initial zero range ${pct} %`);
  }
});

test("overload: above Max + 9 d the reading has no weight; a saturated ADC under load is reported as overload", async () => {
  const scale = await scaleFor({ rate: 80, settings: { CAPACITY_KG: 20 }, events: [...CAL_10KG, { type: "load", at: 6, kg: 20.08 }, { type: "load", at: 8, kg: 20.1 }, { type: "load", at: 10, kg: 300 }] });
  const all = collect(scale, 12);
  for (const r of between(all, 7, 8)) {
    near(r.kg, 20.08, D, "Max + 8 d is still a weight");
    assert.ok(!(r.flags & OVERLOAD));
  }
  const over = between(all, 9, 10);
  assert.ok(over.length > 0 && over.every((r) => r.flags & OVERLOAD && Number.isNaN(r.kg) && Number.isNaN(r.grossKg)), "Max + 10 d: no weight, OVERLOAD");
  const saturated = between(all, 11, 12);
  assert.ok(saturated.length > 0 && saturated.every((r) => r.fault === code("fault", "SATURATED_HIGH") && r.flags & OVERLOAD), "the converter saturates: OVERLOAD too");
  // And the message says so: no number where there is no weight.
  scale.core.setDeviceId("t1");
  scale.core.connected(true);
  let state: Record<string, unknown> | undefined;
  for (let m = scale.core.next(); m; m = scale.core.next()) {
    if (m.topic.endsWith("/state")) state = JSON.parse(Buffer.from(m.payload).toString());
    scale.core.done();
  }
  scale.core.set("PUBLISH_MS", 0);
  collect(scale, 12.2);
  for (let m = scale.core.next(); m; m = scale.core.next()) {
    if (m.topic.endsWith("/state")) state = JSON.parse(Buffer.from(m.payload).toString());
    scale.core.done();
  }
  assert.equal(state?.kg, null);
  assert.equal(state?.overload, true);
});

test("four cells of unequal sensitivity: a corner load reads off by about the spread until the corners are trimmed", async () => {
  const corner = await scaleFor({ rate: 80, cells: 4, inStep: true, cellSensitivitySpread: 0.01, events: [...CAL_10KG, { type: "load", at: 6, kg: 10, x: 0.9, y: 0.9 }] });
  const atCorner = collect(corner, 9).at(-1)!.kg;
  const centred = await scaleFor({ rate: 80, cells: 4, inStep: true, cellSensitivitySpread: 0.01, events: [...CAL_10KG, { type: "load", at: 6, kg: 10 }] });
  near(collect(centred, 9).at(-1)!.kg, 10, 2 * D, "centred, where it was calibrated");
  assert.ok(Math.abs(atCorner - 10) > 2 * D && Math.abs(atCorner - 10) < 0.1, `in a corner: ${atCorner} kg`);

  // The corner adjustment: empty, then 5 kg over each cell in turn, then the span again.
  const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
  const trim: unknown[] = [{ type: "command", at: 6, name: "trim_empty" }];
  corners.forEach(([x, y], k) => trim.push({ type: "load", at: 7 + 2 * k, kg: 5, x, y }, { type: "command", at: 8.8 + 2 * k, name: "trim_corner", corner: k }));
  const trimmed = await scaleFor({
    rate: 80, cells: 4, inStep: true, cellSensitivitySpread: 0.01,
    events: [...CAL_10KG, ...trim, { type: "load", at: 15, kg: 10 }, { type: "command", at: 17, name: "calibrate", kg: 10 },
      { type: "load", at: 17.5, kg: 10, x: 0.9, y: 0.9 }, { type: "load", at: 19.5, kg: 10, x: -0.9, y: 0.5 }, { type: "load", at: 21.5, kg: 10, x: 0.3, y: -0.8 }],
  });
  const all = collect(trimmed, 23.5);
  assert.deepEqual(trimmed.commands.map((c) => c.result), [1, 0, 0, 1, 1, 1, 0, 0], JSON.stringify(trimmed.commands));
  for (const [from, to] of [[19, 19.5], [21, 21.5], [23, 23.5]]) {
    for (const r of between(all, from, to)) near(r.kg, 10, 2 * D, `10 kg off centre, trimmed (${from} s)`);
  }
  // Persisted with the calibration, and refused when out of range.
  const blob = trimmed.core.saveBlob("CALIBRATION");
  const again = await scaleFor({ rate: 80, cells: 4, inStep: true, cellSensitivitySpread: 0.01, events: [{ type: "load", at: 0, kg: 10, x: 0.9, y: 0.9 }] });
  assert.equal(again.core.loadBlob("CALIBRATION", blob), 0);
  near(collect(again, 3).at(-1)!.kg, 10, 2 * D, "trimmed after a reboot");
});

test("corner adjustment at 10 SPS with the weight moved from corner to corner: each corner recorded from what its chip measured once settled; after it every corner within 1 d", async () => {
  const cell = { capacityKg: 100 };
  const settings = { CAPACITY_KG: 100, DIVISION_KG: 0.01 };
  const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
  // Empty, then 30 kg slid from corner to corner every 8 s (1 s to slide), each corner recorded 6 s after it got there.
  const trim: unknown[] = [{ type: "command", at: 6, name: "trim_empty" }];
  corners.forEach(([x, y], k) => trim.push({ type: "load", at: 7 + 8 * k, kg: 30, x, y, rampS: k === 0 ? 0.5 : 1 },
    { type: "command", at: 7 + 8 * k + 6, name: "trim_corner", corner: k }));
  const after = 7 + 8 * 4;
  const check = [[0.9, 0.9], [-0.9, 0.9], [-0.9, -0.9], [0.9, -0.9]];
  const events = [...CAL_10KG, ...trim, { type: "load", at: after, kg: 0 }, { type: "load", at: after + 2, kg: 30 },
    { type: "command", at: after + 6, name: "calibrate", kg: 30 },
    ...check.map(([x, y], i) => ({ type: "load", at: after + 8 + 4 * i, kg: 30, x, y, rampS: 0.5 }))];
  const scale = await scaleFor({ rate: 10, cells: 4, inStep: true, cellSensitivitySpread: 0.01, cell, settings, events }, 4);
  const all = collect(scale, after + 8 + 4 * check.length);
  assert.deepEqual(scale.commands.filter((c) => c.name.startsWith("trim")).map((c) => c.result), [0, 1, 1, 1, 0], JSON.stringify(scale.commands));
  check.forEach(([x, y], i) => {
    const at = after + 8 + 4 * i;
    const r = between(all, at + 3, at + 4).filter((q) => q.flags & STABLE).at(-1);
    assert.ok(r, `no stable reading with 30 kg at (${x}, ${y})`);
    near(r.kg, 30, 0.01, `30 kg at (${x}, ${y}), trimmed`);
  });
});

test("a corner whose chips have not settled is refused: the weight still sliding between corners", async () => {
  const trim = [{ type: "command", at: 6, name: "trim_empty" }, { type: "load", at: 7, kg: 30, x: -1, y: -1, rampS: 0.5 },
    { type: "load", at: 12, kg: 30, x: 1, y: -1, rampS: 4 }, { type: "command", at: 14, name: "trim_corner", corner: 1 }];
  // Cells alike: the total stays steady (STABLE) while the weight slides; only the chips' shares move.
  const scale = await scaleFor({ rate: 10, cells: 4, inStep: true, cellSensitivitySpread: 0, cell: { capacityKg: 100 }, settings: { CAPACITY_KG: 100 }, events: [...CAL_10KG, ...trim] }, 4);
  const all = collect(scale, 15);
  assert.ok(between(all, 13.5, 14).some((r) => r.flags & STABLE), "the total is stable while the weight slides");
  assert.equal(scale.commands.find((c) => c.name === "trim_corner")?.error, "NOT_STABLE", JSON.stringify(scale.commands));
});

/** A version 1 calibration blob, as the previous core (ABI 1) saved it. */
function blobV1(c1: number, zero: number): Uint8Array {
  const payload = Buffer.alloc(96);
  payload.writeInt32LE(1, 0); // linear
  payload.writeInt32LE(128, 4);
  payload.writeFloatLE(c1, 8);
  payload.writeFloatLE(0, 12);
  payload.writeFloatLE(zero, 16);
  payload.writeFloatLE(zero, 20);
  payload.writeFloatLE(0, 24); // tare
  payload.writeInt32LE(0, 28);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x31435357, 0);
  head.writeUInt8(0, 4); // CALIBRATION
  head.writeUInt8(1, 5); // version 1
  head.writeUInt16LE(96, 6);
  const body = Buffer.concat([head, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body), 0);
  return new Uint8Array(Buffer.concat([body, crc]));
}

test("a calibration saved by the previous core (blob version 1) is read, and saved again in today's form", async () => {
  const reference = await scaleFor({ rate: 80, events: CAL_10KG });
  collect(reference, 6);
  const blob = reference.core.saveBlob("CALIBRATION");
  const view = new DataView(blob.buffer, blob.byteOffset);
  const c1 = view.getFloat64(8 + 8, true);
  const zero = view.getFloat64(8 + 24, true);
  const scale = await scaleFor({ rate: 80, events: [{ type: "load", at: 0, kg: 6 }] });
  assert.equal(scale.core.loadBlob("CALIBRATION", blobV1(c1, zero)), 0);
  const last = collect(scale, 3).at(-1)!;
  near(last.kg, 6, 2 * D, "weighing with the old calibration");
  assert.ok(!(last.flags & UNCALIBRATED));
  assert.ok(scale.core.dirty().includes("CALIBRATION"), "saved again as version 2");
  assert.equal(scale.core.saveBlob("CALIBRATION")[5], 2);
  const bad = blobV1(c1, zero);
  bad[20] ^= 1;
  assert.equal(scale.core.loadBlob("CALIBRATION", bad), code("error", "BAD_BLOB"));
});
