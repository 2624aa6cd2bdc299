import { cal_curve, cal_gain, cal_fit, cal_params_save, cal_params_load, cal_abi } from "../index";
import { cal_points, cal_params } from "../../lib/module";
import { onCurve } from "../../lib/weigh";

function table(rows: StaticArray<f64>): i32 {
  const p = <usize>cal_params();
  const n = rows.length / 2;
  store<u32>(p, 1);
  store<u32>(p, 1 + 2 * n, 4);
  store<f64>(p, <f64>n, 8);
  for (let i = 0; i < rows.length; i++) store<f64>(p + 16 + <usize>(i * 8), rows[i]);
  return cal_params_load(8 + 8 * (1 + 2 * n));
}

function point(i: i32, x: f64, kg: f64): void {
  store<f64>(<usize>cal_points() + <usize>(i * 16), x);
  store<f64>(<usize>cal_points() + <usize>(i * 16) + 8, kg);
}

const at = (x: f64): f64 => onCurve(cal_curve(NaN), x) * cal_gain(NaN, NaN, NaN, NaN);

describe("table module", () => {
  it("describes itself for module ABI 2, its rows the knots of its curve", () => {
    expect<i32>(cal_abi()).toBe(2);
    expect<i32>(table([0, 0, 1000, 10, 3000, 25])).toBe(0);
    expect<i32>(cal_curve(NaN)).toBe(3);
    expect<i32>(cal_curve(-20)).toBe(3);
    expect<f64>(cal_gain(1, 2, 3, 4)).toBe(1);
  });
  it("interpolates between rows and extends the end segments", () => {
    expect<i32>(table([0, 0, 1000, 10, 3000, 25])).toBe(0);
    expect<f64>(at(500)).toBe(5);
    expect<f64>(at(2000)).toBe(17.5);
    expect<f64>(at(4000)).toBe(32.5);
    expect<f64>(at(-100)).toBe(-1);
  });
  it("takes the points, in any order, as its table", () => {
    point(0, 3000, 30);
    point(1, 0, 0);
    point(2, 1000, 11);
    expect<i32>(cal_fit(3, 1)).toBe(0);
    expect<f64>(at(2000)).toBe(20.5);
    expect<i32>(cal_params_save()).toBe(8 + 8 * 7);
    expect<f64>(load<f64>(<usize>cal_params(), 8)).toBe(3);
  });
  it("refuses a table where a weight would have two readings, and keeps its own", () => {
    expect<i32>(table([0, 0, 1000, 10, 3000, 25])).toBe(0);
    point(0, 0, 0);
    point(1, 1000, 10);
    point(2, 2000, 9);
    expect<i32>(cal_fit(3, 1)).toBe(-6);
    point(2, 1003, 12);
    expect<i32>(cal_fit(3, 1)).toBe(-6); // closer than 8 counts
    expect<i32>(cal_fit(1, 1)).toBe(-5);
    expect<i32>(table([0, 0, 1000, 10, 2000, 10])).toBe(-6);
    expect<f64>(at(2000)).toBe(17.5);
  });
  it("falls as well as rises (a cell wired the other way round)", () => {
    expect<i32>(table([-3000, 30, 0, 0])).toBe(0);
    expect<f64>(at(-1500)).toBe(15);
  });
});
