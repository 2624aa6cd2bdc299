// The HX711 model against the datasheet, and its fast path against the edge-by-edge reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hx711, POWER_DOWN_US, T2_US } from "../host/desktop/sim/hx711.js";
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
/** When the first settled conversion is ready (the 4th after power-up), the ones before it skipped. */
function settledAt(c: Hx711): number {
  let t = c.readyAt(0);
  for (let i = 0; i < 3; i++) {
    c.shiftIn(t, 25, 1, 1);
    t = c.readyAt(t + 60);
  }
  return t;
}

/** Reads one conversion edge by edge; returns the signed code. */
function read(c: Hx711, t: number, pulses = 25): number {
  c.shiftInByEdges(t, pulses, 1, 1);
  return signed(c.word >>> (pulses - 24));
}

test("conversions complete every 100 ms at 10 SPS and 12.5 ms at 80 SPS, each signalled; settled from the 4th", () => {
  for (const [rate, period] of [[10, 100_000], [80, 12_500]] as const) {
    const c = chip(rate);
    assert.equal(c.readyAt(0), period, "the first conversion is signalled too");
    assert.equal(c.dout(period - 1), 1);
    assert.equal(c.dout(period), 0);
    const codes: number[] = [];
    let t = period - 1;
    for (let i = 0; i < 6; i++) {
      t = c.readyAt(t + 1);
      codes.push(read(c, t));
      assert.equal(c.dout(t + 60), 1, "DOUT high after the 25th pulse");
      assert.equal(c.readyAt(t + 60), t + period);
    }
    // The filter fills over 4 periods after power-up: rising, then steady.
    const settled = Math.round((0.001 * 128) / 2.5 * FULL);
    assert.ok(codes[0] < codes[1] && codes[1] < codes[2] && codes[2] < settled, `unsettled: ${codes}`);
    assert.deepEqual(codes.slice(3), [settled, settled, settled]);
  }
});

test("codes follow the datasheet transfer function and saturate at 0x7FFFFF / 0x800000", () => {
  // full scale +-0.5 * AVDD / gain: 1 mV at gain 128, AVDD 5 V -> 1e-3 * 128 / 2.5 * 2^23
  const c = chip(10, 0.001);
  assert.equal(read(c, settledAt(c)), Math.round((0.001 * 128) / 2.5 * FULL));
  const hi = chip(10, 0.05);
  assert.equal(read(hi, settledAt(hi)), FULL - 1);
  const lo = chip(10, -0.05);
  assert.equal(read(lo, settledAt(lo)), -FULL);
});

test("26 and 27 pulses select B/32 and A/64 for the next conversion, after settling", () => {
  const c = chip(80, 0.001);
  let t = settledAt(c);
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
  let t = settledAt(c);
  read(c, t, 27);
  assert.equal(c.gain, 64);
  t += 1000;
  c.clock(t, true);
  assert.equal(c.dout(t + POWER_DOWN_US - 1), 1);
  assert.equal(c.readyAt(t + POWER_DOWN_US + 1), Infinity, "no conversions while powered down");
  c.clock(t + 500, false);
  assert.equal(c.gain, 128);
  assert.equal(c.readyAt(t + 500), t + 500 + 100_000, "signalled after a period, unsettled");
  assert.ok(Math.abs(read(c, t + 500 + 100_000) - Math.round((0.001 * 128) / 2.5 * FULL)) > 1000, "the filter starts empty");
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

test("the fast path equals the edge-by-edge reference from random start times, conversions completing mid-read included", () => {
  const random = new Random(42);
  let midRead = 0;
  let notReady = 0;
  for (let trial = 0; trial < 400; trial++) {
    const volts = (random.uniform() - 0.5) * 0.05;
    const rate = random.uniform() < 0.5 ? 10 : 80;
    const options = { oscillatorPpm: (random.uniform() - 0.5) * 20000, phaseUs: 1 + random.uniform() * 1e5 };
    const input = (t: number) => volts + 1e-6 * Math.sin(t / 1e5); // changing: bits differ between conversions
    const a = new Hx711(rate, input, 5, new Random(trial), 0, options);
    const b = new Hx711(rate, input, 5, new Random(trial), 0, options);
    let t = 0;
    for (let i = 0; i < 8; i++) {
      const pulses = 25 + random.int(3);
      // Any start time, not only the moment data is ready; and low phases up to 3 ms (a host
      // preempted between pulses), so conversions complete during some reads.
      t = a.readyAt(t + 10) + (random.uniform() < 0.3 ? random.uniform() * 20000 : 0);
      const high = 0.3 + random.uniform() * 2;
      const low = random.uniform() < 0.3 ? random.uniform() * 3000 : 0.3 + random.uniform() * 2;
      if (a.dout(t) === 1) notReady++;
      b.dout(t);
      a.shiftIn(t, pulses, high, low);
      b.shiftInByEdges(t, pulses, high, low);
      assert.equal(a.word, b.word, `trial ${trial} read ${i}`);
      assert.equal(a.after, b.after, `trial ${trial} read ${i}: DOUT after`);
      assert.equal(a.gain, b.gain);
      t += pulses * (high + low);
    }
    midRead += b.midReadConversions;
  }
  assert.ok(midRead > 50, `only ${midRead} conversions completed mid-read: the case is not covered`);
  assert.ok(notReady > 20, `only ${notReady} reads started before data was ready`);
});

test("a conversion that completes during a read replaces the later bits (the HX711 keeps shifting)", () => {
  let volts = 0.001;
  const c = new Hx711(80, () => volts, 5, new Random(1));
  c.setNoise(0);
  const t = c.readyAt(0);
  const first = read(c, t);
  const t2 = c.readyAt(t + 100);
  volts = -0.001; // the next conversion sees another input (the filter settles over 4: partly)
  // 12 pulses, then a stall past the next conversion, then 13 more.
  c.shiftInByEdges(t2, 12, 1, 1);
  const high12 = c.word;
  c.shiftInByEdges(t2 + 24 + 13_000, 13, 1, 1);
  assert.equal(c.midReadConversions, 1);
  const mixed = signed(((high12 << 12) | (c.word >>> 1)) & 0xffffff);
  assert.notEqual(mixed, first, "the later bits came from the new conversion");
});

test("DOUT is valid only T2 after a rising edge; a low phase under 0.2 us hides the next edge", () => {
  const c = chip(80, 0.001);
  const t = c.readyAt(0);
  const expected = read(chip(80, 0.001), t);
  const msb = (expected >>> 23) & 1;
  c.clock(t, true);
  assert.equal(c.dout(t + T2_US / 2), 0, "before T2: still the ready level (low)");
  assert.equal(c.dout(t + T2_US), msb, "after T2: the first data bit");
  c.clock(t + 1, false);
  c.clock(t + 1.1, true); // 0.1 us low: not seen
  c.clock(t + 2, false);
  assert.equal(c.dout(t + 3), msb, "still the first bit: the short-low edge was not seen");
});

test("channel B is its own input: gain 32 reads B, not A at a quarter", () => {
  const c = new Hx711(80, { a: () => 0.004, b: () => -0.002 }, 5, new Random(3));
  c.setNoise(0);
  let t = c.readyAt(0);
  c.shiftInByEdges(t, 26, 1, 1); // select B/32
  for (let i = 0; i < 5; i++) {
    t = c.readyAt(t + 100);
    c.shiftInByEdges(t, 26, 1, 1);
  }
  const code = signed(c.word >>> 2);
  // -0.002 V at gain 32 on 5 V: -0.002 * 32 / 2.5 * 2^23 = -214,748
  assert.ok(Math.abs(code - -214748) <= 2, `B/32 read ${code}`);
});

test("noise: white by default, correlated when asked, never below the gain-128 floor at lower gains", () => {
  const series = (gainPulses: number, correlation: number) => {
    const c = new Hx711(80, () => 0.001, 5, new Random(9), 0, { noiseCorrelation: correlation });
    const out: number[] = [];
    let t = 0;
    for (let i = 0; i < 2000; i++) {
      t = c.readyAt(t + 10);
      c.shiftInByEdges(t, gainPulses, 1, 1);
      out.push(signed(c.word >>> (gainPulses - 24)));
    }
    return out.slice(10);
  };
  const stats = (x: number[]) => {
    const m = x.reduce((a, b) => a + b, 0) / x.length;
    const v = x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
    let c1 = 0;
    for (let i = 1; i < x.length; i++) c1 += (x[i] - m) * (x[i - 1] - m);
    return { rms: Math.sqrt(v), lag1: c1 / (x.length - 1) / v };
  };
  const white = stats(series(25, 0));
  const red = stats(series(25, 0.9));
  const at64 = stats(series(27, 0));
  assert.ok(Math.abs(white.lag1) < 0.1, `white noise lag-1 correlation ${white.lag1}`);
  assert.ok(red.lag1 > 0.8, `correlated noise lag-1 correlation ${red.lag1}`);
  // 90 nV rms at 80 SPS, gain 128: 90e-9 * 128 / 2.5 * 2^23 = 38.7 counts; the same floor at 64.
  assert.ok(white.rms > 33 && white.rms < 45, `gain 128 noise ${white.rms}`);
  assert.ok(at64.rms > 33, `gain 64 noise ${at64.rms} counts: not quieter than the datasheet supports`);
});

test("chips with their own oscillators drift in and out of step", () => {
  const a = new Hx711(80, () => 0.001, 5, new Random(1), 0, { oscillatorPpm: 5000, phaseUs: 1000 });
  const b = new Hx711(80, () => 0.001, 5, new Random(2), 0, { oscillatorPpm: -5000, phaseUs: 1000 });
  const skews: number[] = [];
  let t = 0;
  for (let i = 0; i < 400; i++) {
    const ta = a.readyAt(t);
    const tb = b.readyAt(t);
    skews.push(((tb - ta) % 12500 + 12500) % 12500);
    a.shiftIn(ta, 25, 1, 1);
    b.shiftIn(tb, 25, 1, 1);
    t = Math.max(ta, tb) + 100;
  }
  // 1 % apart: the skew sweeps a whole period in 100 conversions.
  assert.ok(Math.max(...skews) - Math.min(...skews) > 10000, "the conversions drift through a whole period");
});

test("the same seed gives the same noise; another seed does not", () => {
  const run = (seed: number) => {
    const c = new Hx711(10, () => 0.001, 5, new Random(seed));
    const out: number[] = [];
    let t = settledAt(c) - 1;
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
