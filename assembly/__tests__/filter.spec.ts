import { configDefaults, configSet } from "../config";
import {
  spikeStep, spikeReset, smoothStep, smoothReset, smoothSetThreshold, smoothPending, stableStep, stableReset,
  SPIKE_MEDIAN, SPIKE_TRIMMED, SMOOTH_MOVING, SMOOTH_EMA, SMOOTH_ADAPTIVE, SMOOTH_OFF,
} from "../filter";
import {
  CFG_SPIKE_MODE, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_SMOOTH_MODE, CFG_SMOOTH_WINDOW, CFG_SMOOTH_ALPHA,
  CFG_ADAPT_CONFIRM, CFG_STABLE_COUNT,
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
    expect<f32>(spikeStep(8000000)).toBe(100);
    expect<f32>(spikeStep(100)).toBe(100);
  });
  it("averages the middle two of an even window", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_MEDIAN);
    configSet(CFG_SPIKE_WINDOW, 4);
    spikeStep(1); spikeStep(2); spikeStep(3);
    expect<f32>(spikeStep(10)).toBe(2.5);
  });
  it("slides: the oldest sample leaves the window", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_MEDIAN);
    configSet(CFG_SPIKE_WINDOW, 3);
    spikeStep(5); spikeStep(5); spikeStep(5);
    spikeStep(9);
    expect<f32>(spikeStep(9)).toBe(9);
  });
});

describe("trimmed mean", () => {
  it("drops the extremes and averages the rest", () => {
    setup();
    configSet(CFG_SPIKE_MODE, <f32>SPIKE_TRIMMED);
    configSet(CFG_SPIKE_WINDOW, 5);
    configSet(CFG_SPIKE_TRIM, 1);
    spikeStep(10); spikeStep(-5000); spikeStep(12); spikeStep(14);
    expect<f32>(spikeStep(9000)).toBe(12);
  });
});

describe("moving average", () => {
  it("is the exact mean of the window", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_MOVING);
    configSet(CFG_SMOOTH_WINDOW, 4);
    smoothStep(1); smoothStep(2); smoothStep(3);
    expect<f32>(smoothStep(4)).toBe(2.5);
    expect<f32>(smoothStep(5)).toBe(3.5);
  });
  it("does not drift over many cycles of full-scale values", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_MOVING);
    configSet(CFG_SMOOTH_WINDOW, 8);
    let out: f32 = 0;
    for (let i = 0; i < 100000; i++) {
      const v: i32 = 8000000 + (i & 7);
      out = smoothStep(<f32>v);
    }
    // Within one f32 step of the window sum (4 counts at 6.4e7) divided by the window.
    expect<f32>(Mathf.abs(out - 8000003.5)).toBeLessThanOrEqual(0.5);
  });
});

describe("EMA", () => {
  it("moves by alpha of the difference", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_EMA);
    configSet(CFG_SMOOTH_ALPHA, 0.25);
    smoothStep(0);
    expect<f32>(smoothStep(100)).toBe(25);
    expect<f32>(smoothStep(100)).toBe(43.75);
  });
});

describe("adaptive filter", () => {
  it("ignores a one-sample spike and follows a confirmed step at once", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_ADAPTIVE);
    configSet(CFG_ADAPT_CONFIRM, 2);
    smoothSetThreshold(50);
    for (let i = 0; i < 10; i++) smoothStep(1000);
    expect<f32>(smoothStep(5000)).toBe(1000, "spike held back");
    expect<bool>(smoothPending()).toBe(true);
    expect<f32>(smoothStep(1000)).toBe(1000);
    expect<bool>(smoothPending()).toBe(false);
    expect<f32>(smoothStep(3000)).toBe(1000, "first sample of a step is unconfirmed");
    expect<f32>(smoothStep(3000)).toBe(3000, "second confirms and is followed");
  });
  it("is quiet at rest: noise of +-10 is attenuated by alpha", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_ADAPTIVE);
    configSet(CFG_SMOOTH_ALPHA, 0.1);
    smoothSetThreshold(50);
    smoothStep(0);
    let lo: f32 = 1e9, hi: f32 = -1e9;
    for (let i = 0; i < 200; i++) {
      const y = smoothStep(i & 1 ? <f32>10 : <f32>-10);
      if (i > 50) { lo = min(lo, y); hi = max(hi, y); }
    }
    expect<bool>(hi - lo < 2.5).toBe(true);
  });
  it("passes through when off", () => {
    setup();
    configSet(CFG_SMOOTH_MODE, <f32>SMOOTH_OFF);
    expect<f32>(smoothStep(123)).toBe(123);
  });
});

describe("stability", () => {
  it("needs STABLE_COUNT readings inside the band", () => {
    setup();
    configSet(CFG_STABLE_COUNT, 3);
    expect<bool>(stableStep(1.0, 0.01)).toBe(false);
    expect<bool>(stableStep(1.005, 0.01)).toBe(false);
    expect<bool>(stableStep(1.0, 0.01)).toBe(true);
    expect<bool>(stableStep(1.02, 0.01)).toBe(false);
    expect<bool>(stableStep(1.02, 0.01)).toBe(false);
    expect<bool>(stableStep(1.02, 0.01)).toBe(true);
  });
});
