// Temperature-compensated zero and span, for scales outdoors (beehives, silos) where the cell's
// zero and sensitivity drift with the weather. A load cell's datasheet gives both effects per
// degree; this module removes them relative to the temperature at calibration:
//
//   kg = span * (x - tc_zero * dT) / (1 + tc_span * dT),   dT = temp - ref_c
//
// x is counts above zero, tc_zero counts per degree, tc_span a fraction per degree. Without a
// temperature (NaN: the host has no sensor) dT is 0. At every temperature the curve is a straight
// line, declared as two knots (cal_curve); the core takes it again when the temperature changes.
//
// Parameters (version 1): [span kg/count, tc_zero counts/C, tc_span 1/C, ref_c C].
// The fit sets span from the points and ref_c to the temperature of the last curve declared (the
// temperature at which the points were taken); tc_zero and tc_span come with the package.
import {
  MODULE_ABI, ERR_BAD_VALUE, ERR_TOO_FEW_POINTS, ERR_DEGENERATE, nameAddress, beginParams, putParam,
  checkParams, param, version, slopeThroughZero, line,
} from "../lib/module";
export { cal_points, cal_params, cal_knots } from "../lib/module";
// The layout WAMR needs to give the module only its static data, not a 64 KiB page.
export { __heap_base, __data_end };

const PARAMS_VERSION: i32 = 1;
const PARAMS: i32 = 4;
/** A cell's zero moves at most this many counts per degree (2 % of a 2^23 full scale per 10 C). */
const MAX_TC_ZERO: f64 = 20000;
/** Sensitivity moves at most 1 % per degree. */
const MAX_TC_SPAN: f64 = 0.01;

// No temperature effect until the parameters give one.
/** A nominal 2 mV/V, 50 kg cell at gain 128 (50 / (0.002 * 2 * 128 * 2^23)), as a literal: a
 * computed initial value would need a start function, which a module may not have. */
let span: f64 = 1.1641532182693481e-5;
let tcZero: f64 = 0;
let tcSpan: f64 = 0;
let refC: f64 = 20;
/** The temperature of the last curve declared: the one the points of a fit were taken at. */
let lastTempC: f64 = NaN;

export function cal_abi(): i32 { return MODULE_ABI; }
export function cal_name(): i32 { return nameAddress("temperature"); }
export function cal_version(): i32 { return version(1, 0, 0); }

/** The temperature difference the correction applies; 0 without a temperature. */
function delta(tempC: f64): f64 {
  return isFinite(tempC) ? tempC - refC : 0;
}

/** The straight line at this temperature: zero moved by tc_zero dT counts, the span by 1 + tc_span dT. */
export function cal_curve(tempC: f64): i32 {
  lastTempC = tempC;
  const dT = delta(tempC);
  return line(tcZero * dT, span / (1 + tcSpan * dT));
}

/** Nothing to correct per sample. */
export function cal_gain(c0: f64, c1: f64, c2: f64, c3: f64): f64 {
  return 1;
}

/** Span through zero from the points, at the temperature they were taken at (order is ignored). */
export function cal_fit(n: i32, order: i32): i32 {
  if (n < 1) return ERR_TOO_FEW_POINTS;
  // The span holds at the temperature the points were taken at, which becomes the reference.
  const s = slopeThroughZero(n);
  if (!isFinite(s) || s == 0) return ERR_DEGENERATE;
  span = s;
  if (isFinite(lastTempC)) refC = lastTempC;
  return 0;
}

export function cal_params_save(): i32 {
  const len = beginParams(PARAMS_VERSION, PARAMS);
  putParam(0, span);
  putParam(1, tcZero);
  putParam(2, tcSpan);
  putParam(3, refC);
  return len;
}

export function cal_params_load(len: i32): i32 {
  const count = checkParams(len, PARAMS_VERSION, PARAMS, PARAMS);
  if (count < 0) return count;
  const s = param(0);
  const z = param(1);
  const k = param(2);
  const r = param(3);
  if (s == 0 || Math.abs(z) > MAX_TC_ZERO || Math.abs(k) > MAX_TC_SPAN || r < -60 || r > 100) return ERR_BAD_VALUE;
  span = s;
  tcZero = z;
  tcSpan = k;
  refC = r;
  return 0;
}
