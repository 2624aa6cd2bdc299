import { cal_curve, cal_gain, cal_fit, cal_params_save, cal_params_load, cal_abi, cal_name } from "../index";
import { cal_points, cal_params } from "../../lib/module";
import { onCurve } from "../../lib/weigh";

/** kg at x counts at tempC, as the core weighs with the module. */
function weigh(x: f64, c0: f64, c1: f64, c2: f64, c3: f64, tempC: f64): f64 {
  return onCurve(cal_curve(tempC), x) * cal_gain(c0, c1, c2, c3);
}

const SPAN: f64 = 1.1641532182693481e-5;

function params(span: f64, tcZero: f64, tcSpan: f64, refC: f64): i32 {
  const p = <usize>cal_params();
  store<u32>(p, 1);
  store<u32>(p, 4, 4);
  store<f64>(p, span, 8);
  store<f64>(p, tcZero, 16);
  store<f64>(p, tcSpan, 24);
  store<f64>(p, refC, 32);
  return cal_params_load(40);
}

function point(i: i32, x: f64, kg: f64): void {
  store<f64>(<usize>cal_points() + <usize>(i * 16), x);
  store<f64>(<usize>cal_points() + <usize>(i * 16) + 8, kg);
}

describe("temperature module", () => {
  it("describes itself for module ABI 2", () => {
    expect<i32>(cal_abi()).toBe(2);
    expect<u8>(load<u8>(<usize>cal_name())).toBe(0x74); // "t"
  });
  it("is a straight line at the reference temperature, and without a temperature", () => {
    expect<i32>(params(SPAN, 85.9, 1e-5, 20)).toBe(0);
    expect<f64>(weigh(1717986.9184, NaN, NaN, NaN, NaN, 20)).toBeCloseTo(20, 9);
    expect<f64>(weigh(1717986.9184, NaN, NaN, NaN, NaN, NaN)).toBeCloseTo(20, 9);
  });
  it("removes the zero and span drift of a cell 15 degrees warmer", () => {
    expect<i32>(params(SPAN, 85.9, 1e-5, 20)).toBe(0);
    // What the cell gives for 20 kg at 35 C: the span 0.015 % up, the zero 15 * 85.9 counts up.
    const x = (20 / SPAN) * (1 + 1e-5 * 15) + 85.9 * 15;
    expect<f64>(weigh(x, NaN, NaN, NaN, NaN, 35)).toBeCloseTo(20, 9);
  });
  it("fits the span at the temperature the points were taken at, which becomes the reference", () => {
    expect<i32>(params(SPAN, 85.9, 1e-5, 20)).toBe(0);
    cal_curve(25); // the scale weighs at 25 C
    point(0, 0, 0);
    point(1, 2000000, 23.5);
    expect<i32>(cal_fit(2, 1)).toBe(0);
    expect<f64>(weigh(2000000, NaN, NaN, NaN, NaN, 25)).toBeCloseTo(23.5, 9);
    const p = <usize>cal_params();
    expect<i32>(cal_params_save()).toBe(40);
    expect<f64>(load<f64>(p, 32)).toBe(25);
  });
  it("refuses points that give no span, and keeps its parameters", () => {
    expect<i32>(params(SPAN, 0, 0, 20)).toBe(0);
    point(0, 10, 1);
    expect<i32>(cal_fit(1, 1)).toBe(-6);
    expect<i32>(cal_fit(0, 1)).toBe(-5);
    expect<f64>(weigh(1000, NaN, NaN, NaN, NaN, NaN)).toBeCloseTo(SPAN * 1000, 15);
  });
  it("refuses parameters of another version, count, or out of range", () => {
    expect<i32>(params(0, 0, 0, 20)).toBe(-2);
    expect<i32>(params(SPAN, 1e6, 0, 20)).toBe(-2);
    expect<i32>(params(SPAN, 0, 0.5, 20)).toBe(-2);
    expect<i32>(params(SPAN, NaN, 0, 20)).toBe(-8);
    store<u32>(<usize>cal_params(), 2);
    expect<i32>(cal_params_load(40)).toBe(-8);
    expect<i32>(params(SPAN, 0, 0, 20)).toBe(0);
    expect<i32>(cal_params_load(32)).toBe(-8);
  });
});
