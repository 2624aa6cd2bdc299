// The core's side of a calibration module: switching it on takes and checks its curve (calib.curve,
// calib.knot); per sample its gain (calib.gain) multiplies it; a failed gain (NaN) falls back to the
// built-in curve; a curve that turns back or a gain out of bounds is refused (calib.fault); fits go
// to calib.fit.
import {
  calReset, calSpan, calModule, calEval, calSlope, modEval, modFit, modOn, modSlope, calAddPoint, setZero, zeroCounts,
  setTemperature,
} from "../calibration";
import { ERR_DEGENERATE, ERR_TOO_FEW_POINTS } from "../abi";

@external("spec", "set_module_slope")
declare function setModuleSlope(k: f64): void;
@external("spec", "module_fits")
declare function moduleFits(): i32;
@external("spec", "set_module_gain")
declare function setModuleGain(g: f64): void;
@external("spec", "set_module_knots")
declare function setModuleKnots(x0: f64, kg0: f64, x1: f64, kg1: f64, x2: f64, kg2: f64): void;
@external("spec", "module_faults")
declare function moduleFaults(): i32;
@external("spec", "last_fault_kind")
declare function lastFaultKind(): i32;
@external("spec", "last_fault_x")
declare function lastFaultX(): f64;
@external("spec", "curves_taken")
declare function curvesTaken(): i32;

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
  it("refuses a module that declares no curve, or one that turns back, and stays as it was", () => {
    calReset();
    setModuleSlope(0);
    expect<i32>(calModule(true, 128)).toBe(ERR_DEGENERATE);
    expect<bool>(modOn).toBe(false);
    setModuleKnots(0, 0, 1000, 1, 2000, 0.5); // kg falls back on the second segment
    expect<i32>(calModule(true, 128)).toBe(ERR_DEGENERATE);
    expect<bool>(modOn).toBe(false);
    setModuleKnots(0, 0, 1000, 1, 1000, 2); // two knots at the same counts: a vertical step
    expect<i32>(calModule(true, 128)).toBe(ERR_DEGENERATE);
    setModuleKnots(0, 0, 1000, 1, NaN, 2);
    expect<i32>(calModule(true, 128)).toBe(ERR_DEGENERATE);
    setModuleKnots(0, 0, 0, 0, 0, 0);
  });
  it("weighs on the declared knots, straight between them and beyond the ends, times the gain", () => {
    calReset();
    setModuleKnots(-10000, -10, 10000, 10, 30000, 20); // 1 g a count, then 0.5 g a count
    expect<i32>(calModule(true, 128)).toBe(0);
    expect<f64>(modSlope).toBeCloseTo(0.001, 12);
    expect<f64>(modEval(20000, codes, 1)).toBeCloseTo(15, 12);
    expect<f64>(modEval(50000, codes, 1)).toBeCloseTo(30, 12);
    expect<f64>(modEval(-30000, codes, 1)).toBeCloseTo(-30, 12);
    setModuleGain(1.1);
    expect<f64>(modEval(20000, codes, 1)).toBeCloseTo(16.5, 12);
    setModuleGain(1);
    calModule(false, 128);
    setModuleKnots(0, 0, 0, 0, 0, 0);
  });
  it("refuses a gain out of bounds, weighing that reading with the built-in curve", () => {
    calReset();
    setZero(0);
    expect<i32>(calSpan(10, 10000, 128, 0.01)).toBe(0);
    setModuleSlope(0.002);
    expect<i32>(calModule(true, 128)).toBe(0);
    const before = moduleFaults();
    setModuleGain(1.5);
    expect<f64>(modEval(1000, codes, 1)).toBeCloseTo(1, 12);
    expect<i32>(moduleFaults()).toBe(before + 1);
    expect<i32>(lastFaultKind()).toBe(2);
    setModuleGain(1);
    calModule(false, 128);
  });
  it("takes the curve again when the temperature changes, and keeps the one in force if the new one turns back", () => {
    calReset();
    setTemperature(NaN);
    setModuleSlope(0.002);
    expect<i32>(calModule(true, 128)).toBe(0);
    const taken = curvesTaken();
    setTemperature(NaN);
    expect<i32>(curvesTaken()).toBe(taken); // unchanged: not asked again
    setTemperature(21.5);
    expect<i32>(curvesTaken()).toBe(taken + 1);
    const before = moduleFaults();
    setModuleKnots(0, 0, 1000, 1, 2000, 0.5);
    setTemperature(30);
    expect<i32>(moduleFaults()).toBe(before + 1);
    expect<i32>(lastFaultKind()).toBe(1);
    expect<f64>(lastFaultX()).toBe(2000);
    expect<f64>(modEval(1000, codes, 1)).toBeCloseTo(2, 12); // the curve in force
    setModuleKnots(0, 0, 0, 0, 0, 0);
    setTemperature(NaN);
    calModule(false, 128);
  });
  it("weighs a reading the module failed (NaN) with the built-in curve", () => {
    calReset();
    setZero(0);
    expect<i32>(calSpan(10, 10000, 128, 0.01)).toBe(0);
    setModuleSlope(0.002);
    expect<i32>(calModule(true, 128)).toBe(0);
    setModuleGain(NaN); // the host answers NaN from now on
    const before = moduleFaults();
    expect<f64>(modEval(1000, codes, 1)).toBeCloseTo(1, 12);
    expect<i32>(moduleFaults()).toBe(before); // the host knows already
    setModuleGain(1);
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
