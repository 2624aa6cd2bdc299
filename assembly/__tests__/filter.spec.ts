import { configDefaults, configSet } from "../config";
import {
  spikeStep, spikeReset, smoothStep, smoothReset, smoothSetThreshold, smoothPending, stableStep, stableReset,
  SPIKE_MEDIAN, SPIKE_TRIMMED, SMOOTH_MOVING, SMOOTH_EMA, SMOOTH_ADAPTIVE, SMOOTH_OFF,
} from "../filter";
import {
  CFG_SPIKE_MODE, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_SMOOTH_MODE, CFG_SMOOTH_WINDOW, CFG_SMOOTH_ALPHA,
  CFG_ADAPT_CONFIRM, CFG_STABLE_MS, CFG_RATE_SPS,
} from "../abi";

function setup(): void {
  configDefaults();
  spikeReset();
  smoothReset();
  stableReset();
}

describe("median spike rejection", () => {
  it("removes a single spike from a 5-sample window", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_MEDIAN);
    configSet(CFG_SPIKE_WINDOW, 5);
    spikeStep(100); spikeStep(101); spikeStep(99); spikeStep(100);
    expect<f64>(spikeStep(8000000)).toBe(100);
    expect<f64>(spikeStep(100)).toBe(100);
  });
  it("averages the middle two of an even window", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_MEDIAN);
    configSet(CFG_SPIKE_WINDOW, 4);
    spikeStep(1); spikeStep(2); spikeStep(3);
    expect<f64>(spikeStep(10)).toBe(2.5);
  });
  it("slides: the oldest sample leaves the window", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_MEDIAN);
    configSet(CFG_SPIKE_WINDOW, 3);
    spikeStep(5); spikeStep(5); spikeStep(5);
    spikeStep(9);
    expect<f64>(spikeStep(9)).toBe(9);
  });
});

describe("trimmed mean", () => {
  it("drops the extremes and averages the rest", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_TRIMMED);
    configSet(CFG_SPIKE_WINDOW, 5);
    configSet(CFG_SPIKE_TRIM, 1);
    spikeStep(10); spikeStep(-5000); spikeStep(12); spikeStep(14);
    expect<f64>(spikeStep(9000)).toBe(12);
  });
});

describe("moving average", () => {
  it("is the exact mean of the window", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_MOVING);
    configSet(CFG_SMOOTH_WINDOW, 4);
    smoothStep(1); smoothStep(2); smoothStep(3);
    expect<f64>(smoothStep(4)).toBe(2.5);
    expect<f64>(smoothStep(5)).toBe(3.5);
  });
  it("does not drift over many cycles of full-scale values", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_MOVING);
    configSet(CFG_SMOOTH_WINDOW, 8);
    let out: f64 = 0;
    for (let i = 0; i < 100000; i++) {
      const v: i32 = 32000000 + (i & 7); // four chips near full scale: 26 bits
      out = smoothStep(<f64>v);
    }
    expect<f64>(Math.abs(out - 32000003.5)).toBeLessThanOrEqual(1e-6);
  });
});

describe("EMA", () => {
  it("reaches a constant input at a real bridge's counts, even at a small alpha (f64 state)", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_EMA);
    configSet(CFG_SMOOTH_ALPHA, 0.001);
    smoothStep(0);
    let y: f64 = 0;
    for (let i = 0; i < 30000; i++) y = smoothStep(30000000);
    // In f32 the step alpha * (x - y) drops below half an ulp of y and the EMA stalls hundreds of
    // counts short; in f64 it converges.
    expect<f64>(Math.abs(y - 30000000)).toBeLessThan(1);
  });
  it("moves by alpha of the difference", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_EMA);
    configSet(CFG_SMOOTH_ALPHA, 0.25);
    smoothStep(0);
    expect<f64>(smoothStep(100)).toBe(25);
    expect<f64>(smoothStep(100)).toBe(43.75);
  });
});

describe("adaptive filter", () => {
  it("ignores a one-sample spike and follows a confirmed step at once", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_ADAPTIVE);
    configSet(CFG_ADAPT_CONFIRM, 2);
    smoothSetThreshold(50);
    for (let i = 0; i < 10; i++) smoothStep(1000);
    expect<f64>(smoothStep(5000)).toBe(1000, "spike held back");
    expect<bool>(smoothPending()).toBe(true);
    expect<f64>(smoothStep(1000)).toBe(1000);
    expect<bool>(smoothPending()).toBe(false);
    expect<f64>(smoothStep(3000)).toBe(1000, "first sample of a step is unconfirmed");
    expect<f64>(smoothStep(3000)).toBe(3000, "second confirms and is followed");
  });
  it("is quiet at rest: noise of +-10 is attenuated by alpha", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_ADAPTIVE);
    configSet(CFG_SMOOTH_ALPHA, 0.1);
    smoothSetThreshold(50);
    smoothStep(0);
    let lo: f64 = 1e9, hi: f64 = -1e9;
    for (let i = 0; i < 200; i++) {
      const y = smoothStep(i & 1 ? 10.0 : -10.0);
      if (i > 50) { lo = min(lo, y); hi = max(hi, y); }
    }
    expect<bool>(hi - lo < 2.5).toBe(true);
  });
  it("passes through when off", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_OFF);
    expect<f64>(smoothStep(123)).toBe(123);
  });
});

describe("stability", () => {
  it("needs STABLE_MS of values inside the band, at any rate", () => {
    for (let r = 0; r < 2; r++) {
      const rate = r == 0 ? 10 : 80;
      setup();
      configSet(CFG_RATE_SPS, <f32>rate);
      configSet(CFG_STABLE_MS, 1000);
      stableReset();
      const step = 1000 / rate;
      let firstStableMs = -1;
      for (let t = 0; t <= 2000; t += step) {
        if (stableStep(1.0 + (t % 2 == 0 ? 0.004 : 0), 1.0, t, 0.01) && firstStableMs < 0) firstStableMs = t;
      }
      // Stable once the window is covered: after 1 s, not after a count of samples.
      expect<i32>(firstStableMs).toBeGreaterThanOrEqual(1000);
      expect<i32>(firstStableMs).toBeLessThanOrEqual(1000 + 1000 / 8 + step);
    }
  });
  it("sees a slow oscillation that a count of samples would miss", () => {
    setup();
    configSet(CFG_RATE_SPS, 80);
    configSet(CFG_STABLE_MS, 1000);
    stableReset();
    let stable = false;
    // 3 divisions peak to peak over 2 s: each 5 samples move less than a division.
    for (let i = 0; i < 400; i++) {
      const t = i * 12.5;
      const kg = 1.0 + 0.015 * Math.sin(<f64>t * 2 * Math.PI / 2000);
      stable = stableStep(kg, kg, <i32>t, 0.01) || stable;
    }
    expect<bool>(stable).toBe(false);
  });
  it("is not stable while the shown value lags outside the band", () => {
    setup();
    configSet(CFG_RATE_SPS, 80);
    stableReset();
    let stable = false;
    for (let i = 0; i < 200; i++) stable = stableStep(5.0, 4.9, <i32>(i * 12.5), 0.01);
    expect<bool>(stable).toBe(false);
  });
  it("starts over after a gap in the readings", () => {
    setup();
    configSet(CFG_RATE_SPS, 80);
    stableReset();
    let t: i32 = 0;
    for (let i = 0; i < 100; i++) stableStep(1.0, 1.0, t += 12, 0.01);
    expect<bool>(stableStep(1.0, 1.0, t += 12, 0.01)).toBe(true);
    expect<bool>(stableStep(1.0, 1.0, t += 500, 0.01)).toBe(false);
  });
});
