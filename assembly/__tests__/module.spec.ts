// The core's side of a calibration module: switching it on measures its slope through calib.eval;
// a failed evaluation (NaN) falls back to the built-in curve; fits go to calib.fit.
import {
  calReset, calSpan, calModule, calEval, calSlope, modEval, modFit, modOn, modSlope, calAddPoint, setZero, zeroCounts,
} from "../calibration";
import { ERR_DEGENERATE, ERR_TOO_FEW_POINTS } from "../abi";

@external("spec", "set_module_slope")
declare function setModuleSlope(k: f64): void;
@external("spec", "module_fits")
declare function moduleFits(): i32;

const codes = memory.data(16);

describe("a calibration module linked to the core", () => {
  it("is switched on with the slope it shows near zero, and off again to the built-in curve", () => {
    calReset();
    setZero(1000);
    expect<i32>(calSpan(10, 11000, 128, 0.01)).toBe(0); // built-in: 0.001 kg per count
    setModuleSlope(0.002);
    expect<i32>(calModule(true, 128)).toBe(0);
    expect<bool>(modOn).toBe(true);
    expect<f64>(modSlope).toBeCloseTo(0.002, 12);
    expect<f64>(calEval(500)).toBeCloseTo(1, 12);
    expect<f64>(calSlope(123456)).toBeCloseTo(0.002, 12);
    expect<f64>(modEval(1000, codes, 1)).toBeCloseTo(2, 12);
    expect<i32>(calModule(false, 128)).toBe(0);
    expect<f64>(calEval(500)).toBeCloseTo(0.5, 12);
  });
  it("refuses a module whose curve is flat or broken near zero, and stays as it was", () => {
    calReset();
    setModuleSlope(0);
    expect<i32>(calModule(true, 128)).toBe(ERR_DEGENERATE);
    expect<bool>(modOn).toBe(false);
  });
  it("weighs a reading the module failed (NaN) with the built-in curve", () => {
    calReset();
    setZero(0);
    expect<i32>(calSpan(10, 10000, 128, 0.01)).toBe(0);
    setModuleSlope(0.002);
    expect<i32>(calModule(true, 128)).toBe(0);
    setModuleSlope(0); // the host answers NaN from now on
    expect<f64>(modEval(1000, codes, 1)).toBeCloseTo(1, 12);
    calModule(false, 128);
  });
  it("hands calibration points to the module's fit, the empty scale's point becoming zero", () => {
    calReset();
    setModuleSlope(0.001);
    expect<i32>(calModule(true, 128)).toBe(0);
    expect<i32>(modFit(1, 128)).toBe(ERR_TOO_FEW_POINTS);
    calAddPoint(10, 12000);
    calAddPoint(0, 2000);
    const before = moduleFits();
    expect<i32>(modFit(1, 128)).toBe(0);
    expect<i32>(moduleFits()).toBe(before + 1);
    expect<f64>(zeroCounts).toBe(2000);
    calModule(false, 128);
  });
});
