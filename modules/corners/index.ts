// Per-cell corner correction for platforms on several load cells, each on its own HX711. Cells of
// one batch differ by a few tenths of a percent in sensitivity, so the same weight reads
// differently depending on where it stands. Each cell i gets a factor k_i; the reading is scaled
// by the factors weighted by the share of the load each cell carries now:
//
//   kg = span * x * sum(k_i * d_i) / sum(d_i),   d_i = c_i - z_i   (chip i's code above its zero)
//
// The curve (span * x) is a straight line; the weighted factor is the per-sample gain (cal_gain),
// kept between the smallest and largest factor. With one chip, an empty platform (shares
// undefined) or no chip codes (NaN), the gain is 1.
// Parameters (version 1): [span, z0, z1, z2, z3, k0, k1, k2, k3]. The factors are measured with a
// test weight over each corner and come with the package; the fit sets the span from the points
// and each cell's zero from the chip codes of the least loaded platform seen since the last fit
// (calibration begins with the platform empty).
import {
  MODULE_ABI, ERR_TOO_FEW_POINTS, ERR_DEGENERATE, ERR_BAD_VALUE, nameAddress, beginParams, putParam,
  checkParams, param, version, slopeThroughZero, line,
} from "../lib/module";
export { cal_points, cal_params, cal_knots } from "../lib/module";
// The layout WAMR needs to give the module only its static data, not a 64 KiB page.
export { __heap_base, __data_end };

const PARAMS_VERSION: i32 = 1;
const CELLS: i32 = 4;
const PARAMS: i32 = 1 + 2 * CELLS;
/** Below this many counts of load in all cells together the shares are noise: factor 1. */
const MIN_LOAD_COUNTS: f64 = 2000;
/** Factors further than this from 1 are not a cell's tolerance but a wiring or setup error. */
const MAX_FACTOR_DEVIATION: f64 = 0.2;

/** A nominal 2 mV/V, 50 kg cell at gain 128 (50 / (0.002 * 2 * 128 * 2^23)), as a literal: a
 * computed initial value would need a start function, which a module may not have. */
let span: f64 = 1.1641532182693481e-5;
const zeros = memory.data(CELLS * 8);
const factors = memory.data<f64>([1, 1, 1, 1]);
/** Chip codes of the least loaded platform seen since the last fit (the least load along the span's
 * sign); NaN until seen. */
const empty = memory.data<f64>([NaN, NaN, NaN, NaN]);
const emptyLoad = memory.data<f64>([Infinity]);

// @ts-ignore: decorator
@inline function at(t: usize, i: i32): f64 { return load<f64>(t + <usize>(i << 3)); }
// @ts-ignore: decorator
@inline function put(t: usize, i: i32, v: f64): void { store<f64>(t + <usize>(i << 3), v); }

export function cal_abi(): i32 { return MODULE_ABI; }
export function cal_name(): i32 { return nameAddress("corners"); }
export function cal_version(): i32 { return version(1, 0, 0); }

/** The load-weighted factor for the chips' codes, within the factors' own range; 1 when the shares
 * cannot be told. */
function factor(c0: f64, c1: f64, c2: f64, c3: f64): f64 {
  if (!isFinite(c1)) return 1; // one chip: nothing to correct between cells
  const d0 = c0 - at(zeros, 0);
  const d1 = c1 - at(zeros, 1);
  const d2 = isFinite(c2) ? c2 - at(zeros, 2) : 0;
  const d3 = isFinite(c3) ? c3 - at(zeros, 3) : 0;
  const sum = d0 + d1 + d2 + d3;
  if (!isFinite(sum) || Math.abs(sum) < MIN_LOAD_COUNTS) return 1;
  const f = (at(factors, 0) * d0 + at(factors, 1) * d1 + at(factors, 2) * d2 + at(factors, 3) * d3) / sum;
  // A cell pushed below its zero (a load at the far edge) can take the ratio outside the factors.
  let lo = at(factors, 0);
  let hi = lo;
  for (let i = 1; i < CELLS; i++) {
    lo = Math.min(lo, at(factors, i));
    hi = Math.max(hi, at(factors, i));
  }
  return Math.min(hi, Math.max(lo, f));
}

/** The straight line of the span through zero. */
export function cal_curve(tempC: f64): i32 {
  return line(0, span);
}

export function cal_gain(c0: f64, c1: f64, c2: f64, c3: f64): f64 {
  // The least loaded platform so far: its codes become the cells' zeros at the next fit.
  const load = (c0 + (isFinite(c1) ? c1 : 0) + (isFinite(c2) ? c2 : 0) + (isFinite(c3) ? c3 : 0)) * (span < 0 ? -1 : 1);
  if (isFinite(load) && load < load_least()) {
    store<f64>(emptyLoad, load);
    put(empty, 0, c0);
    put(empty, 1, c1);
    put(empty, 2, c2);
    put(empty, 3, c3);
  }
  return factor(c0, c1, c2, c3);
}

// @ts-ignore: decorator
@inline function load_least(): f64 { return load<f64>(emptyLoad); }

/** Span through zero from the points; the cells' zeros from the empty platform (order is ignored). */
export function cal_fit(n: i32, order: i32): i32 {
  if (n < 1) return ERR_TOO_FEW_POINTS;
  const s = slopeThroughZero(n);
  if (!isFinite(s) || s == 0) return ERR_DEGENERATE;
  span = s;
  for (let i = 0; i < CELLS; i++) {
    const z = at(empty, i);
    put(zeros, i, isFinite(z) ? z : 0);
  }
  store<f64>(emptyLoad, Infinity);
  return 0;
}

export function cal_params_save(): i32 {
  const len = beginParams(PARAMS_VERSION, PARAMS);
  putParam(0, span);
  for (let i = 0; i < CELLS; i++) {
    putParam(1 + i, at(zeros, i));
    putParam(1 + CELLS + i, at(factors, i));
  }
  return len;
}

export function cal_params_load(len: i32): i32 {
  const count = checkParams(len, PARAMS_VERSION, PARAMS, PARAMS);
  if (count < 0) return count;
  if (param(0) == 0) return ERR_BAD_VALUE;
  for (let i = 0; i < CELLS; i++) {
    if (Math.abs(param(1 + CELLS + i) - 1) > MAX_FACTOR_DEVIATION) return ERR_BAD_VALUE;
  }
  span = param(0);
  for (let i = 0; i < CELLS; i++) {
    put(zeros, i, param(1 + i));
    put(factors, i, param(1 + CELLS + i));
  }
  return 0;
}
