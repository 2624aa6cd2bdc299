import { cal_curve, cal_gain, cal_fit, cal_params_load, cal_abi } from "../index";
import { cal_points, cal_params } from "../../lib/module";
import { onCurve } from "../../lib/weigh";

/** kg at x counts for these chip codes, as the core weighs with the module. */
function weigh(x: f64, c0: f64, c1: f64, c2: f64, c3: f64, tempC: f64): f64 {
  return onCurve(cal_curve(tempC), x) * cal_gain(c0, c1, c2, c3);
}

const SPAN: f64 = 0.001;

function params(k0: f64, k1: f64, k2: f64, k3: f64): i32 {
  const p = <usize>cal_params();
  store<u32>(p, 1);
  store<u32>(p, 9, 4);
  store<f64>(p, SPAN, 8);
  for (let i = 0; i < 4; i++) store<f64>(p + 16 + <usize>(i * 8), 0);
  store<f64>(p, k0, 48);
  store<f64>(p, k1, 56);
  store<f64>(p, k2, 64);
  store<f64>(p, k3, 72);
  return cal_params_load(80);
}

describe("corners module", () => {
  it("describes itself for module ABI 2", () => {
    expect<i32>(cal_abi()).toBe(2);
  });
  it("keeps its gain between its smallest and largest factor, a cell below its zero or not", () => {
    expect<i32>(params(1.1, 0.9, 1, 1)).toBe(0);
    expect<f64>(cal_gain(110000, -10000, 0, 0)).toBeCloseTo(1.1, 12);
    expect<f64>(cal_gain(-10000, 110000, 0, 0)).toBeCloseTo(0.9, 12);
  });
  it("weighs a load over one corner by that cell's factor", () => {
    expect<i32>(params(1.01, 0.99, 1, 1)).toBe(0);
    expect<f64>(weigh(100000, 100000, 0, 0, 0, NaN)).toBeCloseTo(101, 9);
    expect<f64>(weigh(100000, 0, 100000, 0, 0, NaN)).toBeCloseTo(99, 9);
    expect<f64>(weigh(100000, 50000, 50000, 0, 0, NaN)).toBeCloseTo(100, 9);
  });
  it("uses factor 1 for one chip, an empty platform or no chip codes", () => {
    expect<i32>(params(1.01, 0.99, 1, 1)).toBe(0);
    expect<f64>(weigh(100000, 100000, NaN, NaN, NaN, NaN)).toBeCloseTo(100, 9);
    expect<f64>(weigh(1000, 1000, 0, 0, 0, NaN)).toBeCloseTo(1, 9);
    expect<f64>(weigh(100000, NaN, NaN, NaN, NaN, NaN)).toBeCloseTo(100, 9);
  });
  it("fits the span, and takes each cell's zero from the empty platform", () => {
    expect<i32>(params(1.01, 0.99, 1, 1)).toBe(0);
    cal_gain(1000, 0, 1000, 1000); // loaded
    cal_gain(500, -300, 200, 100); // empty: the least loaded, the cells' zeros
    cal_gain(800, 0, 300, 100);
    store<f64>(<usize>cal_points(), 0);
    store<f64>(<usize>cal_points() + 8, 0);
    store<f64>(<usize>cal_points() + 16, 200000);
    store<f64>(<usize>cal_points() + 24, 50);
    expect<i32>(cal_fit(2, 1)).toBe(0);
    // The load over corner 0 only: its code above its own zero.
    expect<f64>(weigh(200000, 200500, -300, 200, 100, NaN)).toBeCloseTo(50 * 1.01, 9);
  });
  it("refuses factors that are a wiring error, not a tolerance", () => {
    expect<i32>(params(1.5, 1, 1, 1)).toBe(-2);
    expect<i32>(params(1, 1, 1, NaN)).toBe(-8);
  });
});
