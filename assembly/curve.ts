// A calibration module's curve as it declares it (module ABI 2, abi.json calibration_module,
// cal_curve): up to MAX_KNOTS knots of (counts above zero f64, kg f64), straight lines between
// them and the end segments extended beyond. Shared by the core, which weighs with it, and the
// module manager, which checks it before a module is installed: a curve passes only when every knot
// is finite, the counts strictly rise and the kg strictly rises or strictly falls. Each piece is
// then a straight line with a slope of that sign, so the whole curve is monotonic over every count,
// which no sampling of a module's own code could show.

/** abi.json calibration_module.maxKnots. */
export const MAX_KNOTS: i32 = 16;
/** abi.json calibration_module.maxGainDeviation: a gain outside 1 +- this is refused. */
export const MAX_GAIN_DEVIATION: f64 = 0.2;
export const KNOT_BYTES: i32 = 16;

// @ts-ignore: decorator
@inline export function knotX(t: usize, i: i32): f64 {
  return load<f64>(t + (<usize>i << 4));
}

// @ts-ignore: decorator
@inline export function knotKg(t: usize, i: i32): f64 {
  return load<f64>(t + (<usize>i << 4), 8);
}

/**
 * Checks n knots at t. -1 when the curve passes; otherwise the index of the first knot that is
 * not finite or breaks the order (0 when n is outside 2..MAX_KNOTS).
 */
export function curveFault(t: usize, n: i32): i32 {
  if (n < 2 || n > MAX_KNOTS) return 0;
  if (!isFinite(knotX(t, 0)) || !isFinite(knotKg(t, 0))) return 0;
  const rising = knotKg(t, 1) > knotKg(t, 0);
  for (let i = 1; i < n; i++) {
    const x = knotX(t, i);
    const kg = knotKg(t, i);
    if (!isFinite(x) || !isFinite(kg) || !(x > knotX(t, i - 1))) return i;
    if (rising ? !(kg > knotKg(t, i - 1)) : !(kg < knotKg(t, i - 1))) return i;
  }
  return -1;
}

/** kg at x on n checked knots at t: the segment x falls in, the first or last beyond the ends. */
export function curveAt(t: usize, n: i32, x: f64): f64 {
  let i = 1;
  while (i < n - 1 && x > knotX(t, i)) i++;
  const x0 = knotX(t, i - 1);
  const k0 = knotKg(t, i - 1);
  return k0 + ((x - x0) * (knotKg(t, i) - k0)) / (knotX(t, i) - x0);
}

/** True when a gain is finite and within 1 +- MAX_GAIN_DEVIATION. */
// @ts-ignore: decorator
@inline export function gainFits(g: f64): bool {
  return Math.abs(g - 1) <= MAX_GAIN_DEVIATION;
}
