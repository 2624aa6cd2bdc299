import {
  calReset, calSpan, calAddPoint, calFit, calEval, calResidual, calClearPoints, setZero,
  calC1, calC2, zeroCounts, calKind, KIND_LINEAR, KIND_QUADRATIC, monotonicOverRange,
} from "../calibration";
import { ERR_TOO_FEW_POINTS, ERR_DEGENERATE, ERR_BAD_VALUE, ERR_FULL } from "../abi";
import { roundTo } from "../scale";

describe("span from one known weight", () => {
  it("sets kg per count from the counts above zero", () => {
    calReset();
    setZero(100000);
    expect<i32>(calSpan(10, 958993, 128, 0.01)).toBe(0);
    expect<f64>(calEval(958993 - zeroCounts)).toBeCloseTo(10, 4);
    expect<i32>(calKind).toBe(KIND_LINEAR);
  });
  it("rejects a weight that does not move the reading, and bad weights", () => {
    calReset();
    setZero(100000);
    expect<i32>(calSpan(10, 100010, 128, 0.01)).toBe(ERR_DEGENERATE);
    expect<i32>(calSpan(NaN, 900000, 128, 0.01)).toBe(ERR_BAD_VALUE);
    expect<i32>(calSpan(Infinity, 900000, 128, 0.01)).toBe(ERR_BAD_VALUE);
    expect<i32>(calSpan(-1, 900000, 128, 0.01)).toBe(ERR_BAD_VALUE);
    // A weight under one division, or one whose slope would not survive: refused, nothing changes.
    expect<i32>(calSpan(0.005, 900000, 128, 0.01)).toBe(ERR_BAD_VALUE);
    expect<i32>(calSpan(<f32>1e-30, 900000, 128, 0.000001)).toBe(ERR_BAD_VALUE);
    expect<i32>(calKind).toBe(0);
  });
  it("agrees with the fit on the smallest span: 64 counts", () => {
    calReset();
    setZero(100000);
    expect<i32>(calSpan(10, 100063, 128, 0.01)).toBe(ERR_DEGENERATE);
    expect<i32>(calSpan(10, 100064, 128, 0.01)).toBe(0);
    calReset();
    calAddPoint(0, 100000);
    calAddPoint(10, 100063);
    expect<i32>(calFit(1, 128, 50, 0.01)).toBe(ERR_DEGENERATE);
    calClearPoints();
    calAddPoint(0, 100000);
    calAddPoint(10, 100064);
    expect<i32>(calFit(1, 128, 50, 0.01)).toBe(0);
  });
});

describe("least-squares fits", () => {
  it("recovers an exact line and its zero, with zero residuals", () => {
    calReset();
    // kg = (counts - 50000) / 80000
    calAddPoint(0, 50000);
    calAddPoint(5, 450000);
    calAddPoint(10, 850000);
    expect<i32>(calFit(1, 128, 1000, 0.01)).toBe(0);
    expect<f64>(zeroCounts).toBeCloseTo(50000, 1);
    expect<f64>(<f64>calC1).toBeCloseTo(1.0 / 80000, 9);
    expect<f32>(calResidual(-1)).toBeLessThan(1e-5);
  });
  it("reports residuals of noisy points (measured minus fitted)", () => {
    calReset();
    calAddPoint(0, 0 + 100);
    calAddPoint(10, 100000 - 100);
    calAddPoint(20, 200000 + 100);
    expect<i32>(calFit(1, 128, 1000, 0.01)).toBe(0);
    expect<f32>(calResidual(-1)).toBeGreaterThan(0.001);
    expect<f32>(calResidual(0) + calResidual(1) + calResidual(2)).toBeCloseTo(0, 4);
  });
  it("recovers a quadratic", () => {
    calReset();
    // kg = 1e-4 x + 1e-11 x^2 around zero at 20000 counts
    for (let i = 0; i < 5; i++) {
      const x = <f64>(i * 200000);
      calAddPoint(<f32>(1e-4 * x + 1e-11 * x * x), x + 20000);
    }
    expect<i32>(calFit(2, 128, 1000, 0.01)).toBe(0);
    expect<i32>(calKind).toBe(KIND_QUADRATIC);
    expect<f64>(zeroCounts).toBeCloseTo(20000, 0);
    expect<f64>(<f64>calC2).toBeCloseTo(1e-11, 14);
    expect<f64>(calEval(800000)).toBeCloseTo(86.4, 2);
  });
  it("rejects too few distinct points, bad orders and non-finite weights", () => {
    calReset();
    expect<i32>(calFit(1, 128, 1000, 0.01)).toBe(ERR_TOO_FEW_POINTS);
    calAddPoint(1, 1000);
    calAddPoint(1, 1002);
    expect<i32>(calFit(1, 128, 1000, 0.01)).toBe(ERR_TOO_FEW_POINTS);
    calAddPoint(2, 90000);
    expect<i32>(calFit(2, 128, 1000, 0.01)).toBe(ERR_TOO_FEW_POINTS);
    expect<i32>(calFit(3, 128, 1000, 0.01)).toBe(ERR_BAD_VALUE);
    expect<i32>(calAddPoint(NaN, 1000)).toBe(ERR_BAD_VALUE);
    expect<i32>(calAddPoint(-Infinity, 1000)).toBe(ERR_BAD_VALUE);
  });
  it("rejects a curve that turns back within the points", () => {
    calReset();
    calAddPoint(0, 0);
    calAddPoint(10, 100000);
    calAddPoint(0, 200000);
    expect<i32>(calFit(2, 128, 1000, 0.01)).toBe(ERR_DEGENERATE);
  });
  it("holds at most 10 points", () => {
    calReset();
    for (let i = 0; i < 10; i++) calAddPoint(<f32>i, <f64>(i * 1000));
    expect<i32>(calAddPoint(11, 11000)).toBe(ERR_FULL);
    calClearPoints();
    expect<i32>(calAddPoint(9, 9000)).toBe(1);
  });
  it("refuses a quadratic that turns over anywhere from -20 d to capacity + 9 d, not only between the points", () => {
    // Three close points on a curve bending down: monotonic across them, yet its top is at
    // about 150 kg, below a 200 kg capacity: 200 kg would read as a lighter weight.
    calReset();
    calAddPoint(0, 0);
    calAddPoint(10, 10000);
    calAddPoint(20, 20400); // kg = x/1000 - ... : the curve flattens
    expect<i32>(calFit(2, 128, 200, 0.1)).toBe(ERR_DEGENERATE);
    expect<i32>(calKind).toBe(0);
    // The same points, with a capacity the curve does reach before it turns: accepted.
    expect<i32>(calFit(2, 128, 20, 0.01)).toBe(0);
    expect<bool>(monotonicOverRange(calC1, calC2, 20, 0.01)).toBe(true);
  });
});

describe("numbers", () => {
  it("rounds to the division symmetrically about zero (halves away from zero)", () => {
    const d: f64 = 0.01;
    const cases: f64[] = [0.005, 0.015, 0.025, 1.235, 0.0049, 0.0149];
    for (let i = 0; i < cases.length; i++) {
      expect<f64>(roundTo(-cases[i], d)).toBe(-roundTo(cases[i], d));
    }
    expect<f64>(roundTo(0.015, d)).toBeCloseTo(0.02, 9);
    expect<f64>(roundTo(-0.015, d)).toBeCloseTo(-0.02, 9);
    expect<f64>(roundTo(0.0149, d)).toBeCloseTo(0.01, 9);
  });
  it("keeps zero tracking's fractions of a count at four chips' counts (f32 would lose them)", () => {
    calReset();
    setZero(32000000);
    // 100 steps of 0.01 counts: in f32 (ulp 2 at 3.2e7) every step rounds away.
    for (let i = 0; i < 100; i++) setZero(zeroCounts + 0.01);
    expect<f64>(zeroCounts - 32000000).toBeCloseTo(1, 6);
  });
});
