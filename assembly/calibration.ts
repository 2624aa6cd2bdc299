// Calibration: counts -> kg. The narrow interface a swappable calibration module will implement:
// calEval (per sample), calSpan and calFit (rare), with the state in one blob. All in f64: the
// counts of four summed chips need 26 bits, and zero tracking moves zero by fractions of a count.
//
//   gross kg = c1 * x + c2 * x^2,   x = counts - zeroCounts
//
// Zero lives in counts, apart from the shape of the curve, so zeroing and zero tracking never
// change the span; tare lives in kg, apart from both.
import { ERR_BAD_VALUE, ERR_TOO_FEW_POINTS, ERR_DEGENERATE, ERR_FULL } from "./abi";
import { calib_gain, calib_curve, calib_knot, calib_fault, calib_fit } from "./host";
import { MAX_KNOTS, KNOT_BYTES, curveFault, curveAt, knotX, knotKg, gainFits } from "./curve";

export const MAX_POINTS: i32 = 10;
/** Bytes per recorded point: counts f64, kg f32, padding. */
export const POINT_BYTES: i32 = 16;
export const KIND_NONE: i32 = 0;
export const KIND_LINEAR: i32 = 1;
export const KIND_QUADRATIC: i32 = 2;
/** A span smaller than this many counts cannot be told from noise (16-20 noise-free bits); the
 * same minimum for a one-weight span and for the spread of fitted points. */
const MIN_SPAN_COUNTS: f64 = 64;
/** The curve must be monotonic from this many divisions below zero (OIML R76 underload)... */
const UNDERLOAD_D: f64 = 20;
/** ...to this many above capacity (R76 overload). */
const OVERLOAD_D: f64 = 9;
/** Points closer than this many counts count as one (the fit needs distinct abscissae). */
const DISTINCT_COUNTS: f64 = 8;

export let calKind: i32 = 0; // KIND_NONE, as a literal: no start function
/** Gain the calibration was made at; a different gain makes the scale uncalibrated. */
export let calGain: i32 = 128;
export let calC1: f64 = 1;
export let calC2: f64 = 0;
/** Counts at gross zero now (moved by zero setting and zero tracking). */
export let zeroCounts: f64 = 0;
/** Counts at gross zero when calibrated: the zero-setting ranges are measured from here. */
export let calZeroCounts: f64 = 0;
export let tareKg: f32 = 0;
export let points: i32 = 0;
/** Recorded points: counts (f64), kg (f32), 4 bytes of padding. */
export const pointData = memory.data(MAX_POINTS * POINT_BYTES);
const residuals = memory.data(MAX_POINTS * 4);
let rmsResidual: f32 = NaN;

// A calibration module (a separate .wasm the host links to the calib imports) replaces the curve.
// It declares its curve as knots (calib.curve, when it is switched on, fitted, or the temperature
// changes), which the core checks and keeps: every count then has one weight, strictly rising or
// falling, whatever the module's code does. Per sample the module gives only a gain (one host call)
// the curve's weight is multiplied by, within 1 +- MAX_GAIN_DEVIATION. What is judged close to a
// reading (the lightly filtered signal for stability, the zero ranges, a zero tracking step) uses
// the curve's slope at zero: within a few divisions of the reading the curve is a straight line to
// far better than a division. The built-in curve is kept, so removing the module (or a rollback)
// returns to it.
export let modOn = false;
/** The module's kg per count near zero, measured when it is switched on or fitted. */
export let modSlope: f64 = 0;
/** Gain in force when the module was switched on: data at another gain is uncalibrated. */
export let modGain: i32 = 128;
/** Temperature the host last reported (degrees C), NaN when it has none. */
export let envTempC: f64 = NaN;
/** The module's curve in force, its knot count and the temperature it was taken at. */
const knots = memory.data(MAX_KNOTS * KNOT_BYTES);
const knotsRead = memory.data(MAX_KNOTS * KNOT_BYTES);
let knotCount: i32 = 0;
let curveTempC: f64 = NaN;
/** Where the last curve refused failed: the knot's counts and kg, or NaN and the knot count. */
let refusedX: f64 = NaN;
let refusedValue: f64 = NaN;
/** Counts either side of zero the slope is measured over. */
const SLOPE_COUNTS: f64 = 4096;
/** Two points (counts f64, kg f32, padding) for a span from one weight. */
const spanPoints = memory.data(2 * POINT_BYTES);

export function calReset(): void {
  calKind = KIND_NONE;
  calGain = 128;
  calC1 = 1;
  calC2 = 0;
  zeroCounts = 0;
  calZeroCounts = 0;
  tareKg = 0;
  points = 0;
  rmsResidual = NaN;
}

/** Gross kg for x counts above zero: the built-in curve, or the module's slope near zero. */
// @ts-ignore: decorator
@inline export function calEval(x: f64): f64 {
  return modOn ? x * modSlope : x * (calC1 + calC2 * x);
}

/** Gross kg for x counts above zero on the built-in curve alone (the per-sample path without a module). */
// @ts-ignore: decorator
@inline export function calCurve(x: f64): f64 {
  return x * (calC1 + calC2 * x);
}

/** kg per count at x counts above zero (for converting kg limits into counts). */
export function calSlope(x: f64): f64 {
  return modOn ? modSlope : calC1 + 2 * calC2 * x;
}

/** True once a curve exists: the built-in one calibrated, or a module switched on. */
// @ts-ignore: decorator
@inline export function calHasCurve(): bool {
  return modOn || calKind != KIND_NONE;
}

/**
 * The module's gross kg for x counts above zero: its curve times its gain for the chips' latest
 * codes (NaN for absent chips). A failed gain (the host answers NaN once the module trapped, ran
 * out of its budget or gave no finite gain) or one out of bounds (reported here) weighs that
 * reading with the built-in curve; the host rolls the module back before the next. Per sample,
 * one host call.
 */
export function modEval(x: f64, codes: usize, chips: i32): f64 {
  const g = calib_gain(chipCode(codes, chips, 0), chipCode(codes, chips, 1), chipCode(codes, chips, 2), chipCode(codes, chips, 3));
  if (!gainFits(g)) {
    if (isFinite(g)) calib_fault(2, NaN, g);
    return calCurve(x);
  }
  return g * curveAt(knots, knotCount, x);
}

// @ts-ignore: decorator
@inline function chipCode(codes: usize, chips: i32, i: i32): f64 {
  return i < chips ? <f64>load<i32>(codes + (<usize>i << 2)) : NaN;
}

/** Takes the module's curve at tempC if it passes (curve.ts); false, with where it failed, if not. */
function takeCurve(tempC: f64): bool {
  const n = calib_curve(tempC);
  const inRange = n >= 2 && n <= MAX_KNOTS;
  if (inRange) for (let i = 0; i < n << 1; i++) store<f64>(knotsRead + (<usize>i << 3), calib_knot(i));
  const bad = curveFault(knotsRead, n);
  if (bad >= 0) {
    refusedX = inRange ? knotX(knotsRead, bad) : NaN;
    refusedValue = inRange ? knotKg(knotsRead, bad) : <f64>n;
    return false;
  }
  memory.copy(knots, knotsRead, <usize>(n * KNOT_BYTES));
  knotCount = n;
  curveTempC = tempC;
  return true;
}

/** The curve's slope near zero (kg per count). */
function moduleSlope(): f64 {
  return (curveAt(knots, knotCount, SLOPE_COUNTS) - curveAt(knots, knotCount, -SLOPE_COUNTS)) / (2 * SLOPE_COUNTS);
}

/** Switches the module on (measuring its slope) or off. Returns 0, or DEGENERATE for a flat or broken curve. */
export function calModule(on: bool, gain: i32): i32 {
  if (!on) {
    modOn = false;
    return 0;
  }
  if (!takeCurve(envTempC)) return ERR_DEGENERATE;
  modSlope = moduleSlope();
  modGain = gain;
  modOn = true;
  return 0;
}

/**
 * Fits the module to the recorded points (its own fit; the host hands them over as counts above
 * zero). The empty scale's point, when one was taken, becomes zero first.
 */
export function modFit(order: i32, gain: i32): i32 {
  if (points < 1) return ERR_TOO_FEW_POINTS;
  for (let i = 0; i < points; i++) if (pointKg(i) == 0) zeroCounts = pointCounts(i);
  return modFitted(calib_fit(order, pointData, points, zeroCounts), gain);
}

/** Span from one weight with a module: its fit through zero and this point. */
export function modSpan(kg: f32, counts: f64, gain: i32, d: f32): i32 {
  if (!isFinite(kg) || kg < d) return ERR_BAD_VALUE;
  store<f64>(spanPoints, zeroCounts);
  store<f32>(spanPoints + 8, 0);
  store<f64>(spanPoints + <usize>POINT_BYTES, counts);
  store<f32>(spanPoints + <usize>POINT_BYTES + 8, kg);
  return modFitted(calib_fit(1, spanPoints, 2, zeroCounts), gain);
}

function modFitted(r: i32, gain: i32): i32 {
  if (r != 0) {
    // The fit was refused and the module's parameters given back: its curve is taken again at this
    // temperature, so that what the checks left in it (the temperature they last asked at) is not kept.
    if (modOn) takeCurve(envTempC);
    return r < 0 && r >= ERR_DEGENERATE ? r : ERR_DEGENERATE;
  }
  if (!takeCurve(envTempC)) return ERR_DEGENERATE;
  modSlope = moduleSlope();
  modGain = gain;
  calZeroCounts = zeroCounts;
  tareKg = 0;
  rmsResidual = NaN;
  return 0;
}

/**
 * The temperature at the cell. With a module on, a change takes its curve at the new temperature;
 * a curve refused there is reported (calib.fault) and the one in force stays until the host rolls
 * the module back.
 */
export function setTemperature(c: f64): void {
  envTempC = c;
  if (!modOn || c == curveTempC || (isNaN(c) && isNaN(curveTempC))) return;
  if (!takeCurve(c)) calib_fault(1, refusedX, refusedValue);
}

/** Restores state read from a validated blob (the points are copied by the caller). */
export function restoreCalibration(kind: i32, gain: i32, c1: f64, c2: f64, zero: f64, calZero: f64, tare: f32, n: i32): void {
  calKind = kind;
  calGain = gain;
  calC1 = c1;
  calC2 = c2;
  zeroCounts = zero;
  calZeroCounts = calZero;
  tareKg = tare;
  points = n;
  rmsResidual = NaN;
}

/**
 * True when kg = c1 x + c2 x^2 rises (or falls) without turning over from -UNDERLOAD_D d to
 * capacity + OVERLOAD_D d: every weight the scale can show has exactly one reading.
 */
export function monotonicOverRange(c1: f64, c2: f64, capacity: f64, d: f64): bool {
  if (!isFinite(c1) || !isFinite(c2) || c1 == 0) return false;
  if (c2 == 0) return true;
  // The vertex: where the slope c1 + 2 c2 x is zero, at weight -c1^2 / (4 c2).
  const vertexKg = -c1 * c1 / (4 * c2);
  // c2 against c1 bends the curve back above zero: the top must lie past the overload point;
  // c2 with c1 bends it below zero: the bottom must lie past the underload point.
  return vertexKg > 0 ? vertexKg > capacity + OVERLOAD_D * d : vertexKg < -UNDERLOAD_D * d;
}

/** Nominal output assumed until a calibration exists: 2 mV/V at capacity. */
const NOMINAL_MV_PER_V: f64 = 2;

/**
 * Without a calibration the core assumes a 2 mV/V cell rated `capacity` kg, so an uncalibrated
 * scale still shows roughly right weights and its stability and zero logic work in sensible units.
 * Counts at full scale: output / (0.5 * AVDD / gain) * 2^23 (datasheet), ratiometric.
 */
export function calNominal(capacity: f32, gain: i32): void {
  if (calKind != KIND_NONE) return;
  calC1 = <f64>capacity / (NOMINAL_MV_PER_V * 0.001 * 2 * <f64>gain * 8388608);
  calC2 = 0;
}

export function setZero(counts: f64): void {
  zeroCounts = counts;
}

export function setTare(kg: f32): void {
  tareKg = kg;
}

/** Span from one known weight: `counts` are the filtered counts with `kg` on the scale. */
export function calSpan(kg: f32, counts: f64, gain: i32, d: f32): i32 {
  // A calibration weight smaller than a division cannot set the span to a division.
  if (!isFinite(kg) || kg < d) return ERR_BAD_VALUE;
  const x = counts - zeroCounts;
  if (Math.abs(x) < MIN_SPAN_COUNTS) return ERR_DEGENERATE;
  const c1 = <f64>kg / x;
  if (!isFinite(c1) || c1 == 0) return ERR_DEGENERATE;
  calC1 = c1;
  calC2 = 0;
  calKind = KIND_LINEAR;
  calGain = gain;
  calZeroCounts = zeroCounts;
  tareKg = 0;
  return 0;
}

export function calAddPoint(kg: f32, counts: f64): i32 {
  if (!isFinite(kg) || !isFinite(counts)) return ERR_BAD_VALUE;
  if (points >= MAX_POINTS) return ERR_FULL;
  store<f64>(pointData + <usize>(points * POINT_BYTES), counts);
  store<f32>(pointData + <usize>(points * POINT_BYTES) + 8, kg);
  return ++points;
}

export function calClearPoints(): void {
  points = 0;
}

// @ts-ignore: decorator
@inline function pointCounts(i: i32): f64 {
  return load<f64>(pointData + <usize>(i * POINT_BYTES));
}

// @ts-ignore: decorator
@inline function pointKg(i: i32): f64 {
  return <f64>load<f32>(pointData + <usize>(i * POINT_BYTES) + 8);
}

function distinctPoints(): i32 {
  let distinct = 0;
  for (let i = 0; i < points; i++) {
    let seen = false;
    for (let j = 0; j < i; j++) if (Math.abs(pointCounts(i) - pointCounts(j)) < DISTINCT_COUNTS) seen = true;
    if (!seen) distinct++;
  }
  return distinct;
}

/** Determinant of the 3x3 matrix [a b c; d e f; g h i]. */
function det3(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64, g: f64, h: f64, i: f64): f64 {
  return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
}

/**
 * Least squares kg = a + b*u + c*u^2 over u = (counts - mean) / scale, by Cramer's rule on the
 * normal equations in f64 (u is centred and scaled to keep them well conditioned; a linear fit
 * pins c to 0). The curve is then re-expressed around its zero crossing.
 */
export function calFit(order: i32, gain: i32, capacity: f32, d: f32): i32 {
  if (order != 1 && order != 2) return ERR_BAD_VALUE;
  if (distinctPoints() < order + 1) return ERR_TOO_FEW_POINTS;
  let mean: f64 = 0;
  let lowest: f64 = Infinity;
  let highest: f64 = -Infinity;
  for (let i = 0; i < points; i++) {
    mean += pointCounts(i);
    lowest = Math.min(lowest, pointCounts(i));
    highest = Math.max(highest, pointCounts(i));
  }
  mean /= <f64>points;
  if (highest - lowest < MIN_SPAN_COUNTS) return ERR_DEGENERATE;
  let scale: f64 = 0;
  for (let i = 0; i < points; i++) scale = Math.max(scale, Math.abs(pointCounts(i) - mean));

  // Sums of u^k (s) and kg*u^k (t).
  let s1: f64 = 0, s2: f64 = 0, s3: f64 = 0, s4: f64 = 0, t0: f64 = 0, t1: f64 = 0, t2: f64 = 0;
  for (let i = 0; i < points; i++) {
    const u = (pointCounts(i) - mean) / scale;
    const y = pointKg(i);
    const u2 = u * u;
    s1 += u;
    s2 += u2;
    s3 += u2 * u;
    s4 += u2 * u2;
    t0 += y;
    t1 += y * u;
    t2 += y * u2;
  }
  const s0 = <f64>points;
  if (order == 1) {
    // [s0 s1 0; s1 s2 0; 0 0 1] [a b c] = [t0 t1 0]
    s3 = 0;
    s4 = 1;
    t2 = 0;
  }
  const q = order == 1 ? 0.0 : s2; // the (0,2) and (2,0) entries
  const det = det3(s0, s1, q, s1, s2, s3, q, s3, s4);
  if (!(Math.abs(det) > 1e-9)) return ERR_DEGENERATE;
  const a = det3(t0, s1, q, t1, s2, s3, t2, s3, s4) / det;
  const b = det3(s0, t0, q, s1, t1, s3, q, t2, s4) / det;
  const c = det3(s0, s1, t0, s1, s2, t1, q, s3, t2) / det;

  // Zero crossing nearest the points' centre: a + b*u + c*u^2 = 0.
  let u0: f64;
  if (c == 0) {
    if (b == 0) return ERR_DEGENERATE;
    u0 = -a / b;
  } else {
    const disc = b * b - 4 * a * c;
    if (disc < 0) return ERR_DEGENERATE;
    const q = -0.5 * (b + (b < 0 ? -Math.sqrt(disc) : Math.sqrt(disc)));
    if (q == 0) return ERR_DEGENERATE;
    const r1 = q / c;
    const r2 = a / q;
    u0 = Math.abs(r1) < Math.abs(r2) ? r1 : r2;
  }
  // The curve must be monotonic across zero and every point, or a weight would have two readings.
  let lo = u0;
  let hi = u0;
  for (let i = 0; i < points; i++) {
    const u = (pointCounts(i) - mean) / scale;
    lo = Math.min(lo, u);
    hi = Math.max(hi, u);
  }
  const slopeLo = b + 2 * c * lo;
  const slopeHi = b + 2 * c * hi;
  if (!(slopeLo * slopeHi > 0)) return ERR_DEGENERATE;
  const c1 = (b + 2 * c * u0) / scale;
  const c2 = c / (scale * scale);
  const z = mean + u0 * scale;
  if (!isFinite(c1) || !isFinite(c2) || !isFinite(z) || c1 == 0) return ERR_DEGENERATE;
  // Not only between the points: over every weight the scale can show.
  if (!monotonicOverRange(c1, c2, <f64>capacity, <f64>d)) return ERR_DEGENERATE;

  calC1 = c1;
  calC2 = c2;
  zeroCounts = z;
  calZeroCounts = zeroCounts;
  calKind = order == 1 ? KIND_LINEAR : KIND_QUADRATIC;
  calGain = gain;
  tareKg = 0;
  let squares: f64 = 0;
  for (let i = 0; i < points; i++) {
    const x = pointCounts(i) - z;
    const r = pointKg(i) - x * (c1 + c2 * x);
    store<f32>(residuals + (<usize>i << 2), <f32>r);
    squares += r * r;
  }
  rmsResidual = <f32>Math.sqrt(squares / <f64>points);
  return 0;
}

/** Residual of point i of the last fit (kg); i = -1 gives the rms; NaN when there is none. */
export function calResidual(i: i32): f32 {
  if (i == -1) return rmsResidual;
  if (i < 0 || i >= points || isNaN(rmsResidual)) return NaN;
  return load<f32>(residuals + (<usize>i << 2));
}

/** Clears the residuals when the points change after a fit. */
export function calForgetFit(): void {
  rmsResidual = NaN;
}

// --- volatile state (state.ts): zero as tracked since the blob was saved, and the tare ----------

export function calStateSave(p: usize): usize {
  store<f64>(p, zeroCounts); store<f32>(p, tareKg, 8);
  return p + 16;
}

export function calStateLoad(p: usize): usize {
  zeroCounts = load<f64>(p); tareKg = load<f32>(p, 8);
  return p + 16;
}
