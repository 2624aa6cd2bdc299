// The HX711 model against the datasheet, and its fast path against the edge-by-edge reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hx711, POWER_DOWN_US } from "../host/desktop/sim/hx711.js";
import { Random } from "../host/desktop/sim/random.js";
import { Board } from "../host/desktop/sim/board.js";

const FULL = 0x800000;
/** A chip whose input is a constant voltage, noise off. */
function chip(rate: 10 | 80, volts: number | ((t: number) => number) = 0.001): Hx711 {
  const c = new Hx711(rate, typeof volts === "number" ? () => volts : volts, 5, new Random(1));
  c.setNoise(0);
  return c;
}
function signed(code24: number): number {
  return (code24 << 8) >> 8;
}
/** Reads one conversion edge by edge; returns the signed code. */
function read(c: Hx711, t: number, pulses = 25): number {
  c.shiftInByEdges(t, pulses, 1, 1);
  return signed(c.word >>> (pulses - 24));
}

test("conversions complete every 100 ms at 10 SPS and 12.5 ms at 80 SPS; the first after 4 (settling)", () => {
  for (const [rate, period] of [[10, 100_000], [80, 12_500]] as const) {
    const c = chip(rate);
    assert.equal(c.readyAt(0), 4 * period, "settled output after 400 ms / 50 ms");
    assert.equal(c.dout(4 * period - 1), 1);
    assert.equal(c.dout(4 * period), 0);
    read(c, 4 * period + 1);
    assert.equal(c.dout(4 * period + 60), 1, "DOUT high after the 25th pulse");
    assert.equal(c.readyAt(4 * period + 60), 5 * period);
  }
});

test("codes follow the datasheet transfer function and saturate at 0x7FFFFF / 0x800000", () => {
  // full scale +-0.5 * AVDD / gain: 1 mV at gain 128, AVDD 5 V -> 1e-3 * 128 / 2.5 * 2^23
  const c = chip(10, 0.001);
  const t = c.readyAt(0);
  assert.equal(read(c, t), Math.round((0.001 * 128) / 2.5 * FULL));
  const hi = chip(10, 0.05);
  assert.equal(read(hi, hi.readyAt(0)), FULL - 1);
  const lo = chip(10, -0.05);
  assert.equal(read(lo, lo.readyAt(0)), -FULL);
});

test("26 and 27 pulses select B/32 and A/64 for the next conversion, after settling", () => {
  const c = chip(80, 0.001);
  let t = c.readyAt(0);
  const at128 = read(c, t, 27); // converted at 128; selects 64
  assert.equal(c.gain, 64);
  let v = 0;
  for (let i = 0; i < 4; i++) {
    t = c.readyAt(t + 100);
    v = read(c, t, 27);
  }
  assert.ok(Math.abs(v - at128 / 2) <= 1, `gain 64 gives half: ${v} vs ${at128}`);
  read(c, (t = c.readyAt(t + 100)), 26);
  assert.equal(c.gain, 32);
  const transitional = read(c, (t = c.readyAt(t + 100)));
  assert.ok(Math.abs(transitional - at128 / 4) > 10, "the first conversion after a change is not settled");
});

test("a clock high phase over 60 us powers the chip down; low again resets it to A/128 and settles", () => {
  const c = chip(10, 0.001);
  let t = c.readyAt(0);
  read(c, t, 27);
  assert.equal(c.gain, 64);
  t += 1000;
  c.clock(t, true);
  assert.equal(c.dout(t + POWER_DOWN_US - 1), 1);
  assert.equal(c.readyAt(t + POWER_DOWN_US + 1), Infinity, "no conversions while powered down");
  c.clock(t + 500, false);
  assert.equal(c.gain, 128);
  assert.equal(c.readyAt(t + 500), t + 500 + 4 * 100_000);
});

test("a stretched pulse mid-read corrupts the rest of the bits (the field failure)", () => {
  const c = chip(10, 0.001);
  const board = new Board();
  board.attach(c, 18, 4);
  board.nowUs = c.readyAt(0);
  const words = new Uint32Array(2);
  board.timing.stretchHighUs = 80;
  board.timing.stretchPulse = 12;
  board.clockIn(18, [4], 1, 25, words);
  assert.equal(board.maxHighUs, 80);
  assert.equal(words[0] & 0x1fff, 0x1fff, "bits after the power-down read as ones");
});

test("the fast path equals the edge-by-edge reference over many reads, gains and inputs", () => {
  const random = new Random(42);
  for (let trial = 0; trial < 300; trial++) {
    const volts = (random.uniform() - 0.5) * 0.05;
    const a = new Hx711(80, () => volts, 5, new Random(trial));
    const b = new Hx711(80, () => volts, 5, new Random(trial));
    let t = 0;
    for (let i = 0; i < 6; i++) {
      const pulses = 25 + random.int(3);
      t = a.readyAt(t + 10);
      assert.equal(b.readyAt(t), t);
      a.shiftIn(t, pulses, 1, 1);
      b.shiftInByEdges(t, pulses, 1, 1);
      assert.equal(a.word, b.word, `trial ${trial} read ${i}`);
      assert.equal(a.after, b.after);
      assert.equal(a.gain, b.gain);
    }
  }
});

test("the same seed gives the same noise; another seed does not", () => {
  const run = (seed: number) => {
    const c = new Hx711(10, () => 0.001, 5, new Random(seed));
    const out: number[] = [];
    let t = 0;
    for (let i = 0; i < 20; i++) {
      t = c.readyAt(t + 1);
      out.push(read(c, t));
    }
    return out;
  };
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
  const noise = run(7);
  const mean = noise.reduce((a, b) => a + b, 0) / noise.length;
  const rms = Math.sqrt(noise.reduce((a, b) => a + (b - mean) ** 2, 0) / noise.length);
  // 50 nV rms at gain 128: 50e-9 * 128 / 2.5 * 2^23 = 21.5 counts
  assert.ok(rms > 10 && rms < 40, `noise ${rms.toFixed(1)} counts rms`);
});
