// For the modules' specs: weighs as the core does, on the curve a module just declared (n knots
// at cal_knots, from its cal_curve), checked as the core and the manager check it.
import { curveAt, curveFault } from "../../assembly/curve";
import { cal_knots } from "./module";

/** kg at x on the n knots just declared; NaN when the core would refuse them. */
export function onCurve(n: i32, x: f64): f64 {
  const t = <usize>cal_knots();
  return curveFault(t, n) < 0 ? curveAt(t, n, x) : NaN;
}
