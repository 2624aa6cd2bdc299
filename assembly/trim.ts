// Corner adjustment for platforms on several load cells, each with its own HX711: cells differ in
// sensitivity by a percent or so, so a load off centre reads differently from the same load in the
// middle. With the platform empty and then a test weight over each cell in turn, the per-chip
// factors that make every corner read alike are solved for; the weighed sum is then
// sum(factor_i * code_i). The factors are part of the calibration (its blob); calibrate the span
// again after trimming.
import { MAX_CHIPS } from "./hx711";
import { ERR_BAD_VALUE, ERR_TOO_FEW_POINTS, ERR_DEGENERATE } from "./abi";

/** Per-chip factors (f64), 1 until trimmed. */
export const trimFactors = memory.data(MAX_CHIPS * 8);
/** Each chip's code, smoothed (an EMA over about 16 readings): what a record takes. */
export const smoothed = memory.data(MAX_CHIPS * 8);
export const empty = memory.data(MAX_CHIPS * 8);
export const TRIM_BYTES: i32 = MAX_CHIPS * 8;
/** Row k: every chip's code with the weight over corner k, less the empty platform. */
export const rows = memory.data(MAX_CHIPS * MAX_CHIPS * 8);
export const ROWS_BYTES: i32 = MAX_CHIPS * MAX_CHIPS * 8;
let haveEmpty: bool = false;
let cornersDone: i32 = 0;
let smoothedValid: bool = false;
const SMOOTH: f64 = 1.0 / 16;
/** Factors outside this range are a mistake in the procedure, not a cell. */
const FACTOR_MIN: f64 = 0.5;
const FACTOR_MAX: f64 = 2;

// @ts-ignore: decorator
@inline function at(base: usize, i: i32): f64 {
  return load<f64>(base + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function put(base: usize, i: i32, v: f64): void {
  store<f64>(base + (<usize>i << 3), v);
}

export function trimReset(): void {
  for (let i = 0; i < MAX_CHIPS; i++) put(trimFactors, i, 1);
  trimForget();
}

/** Forgets a procedure in progress (the factors stay). */
export function trimForget(): void {
  haveEmpty = false;
  cornersDone = 0;
  smoothedValid = false;
}

/** The weighed sum of one read's codes; keeps each chip's smoothed code for a record. */
export function trimSum(codes: usize, n: i32): f64 {
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const c = <f64>load<i32>(codes + (<usize>i << 2));
    sum += at(trimFactors, i) * c;
    put(smoothed, i, smoothedValid ? at(smoothed, i) + SMOOTH * (c - at(smoothed, i)) : c);
  }
  smoothedValid = true;
  return sum;
}

/** After a fault the smoothed codes start again. */
export function trimBreak(): void {
  smoothedValid = false;
}

/** Records the empty platform (stable, checked by the caller). */
export function trimEmpty(n: i32): i32 {
  if (n < 2) return ERR_BAD_VALUE;
  for (let i = 0; i < n; i++) put(empty, i, at(smoothed, i));
  haveEmpty = true;
  cornersDone = 0;
  return 0;
}

/**
 * Records the test weight over corner k (the cell of chip k). When every corner is recorded, solves
 * and applies the factors: 1 while more corners are due, 0 when applied, or an error.
 */
export function trimCorner(k: i32, n: i32): i32 {
  if (n < 2 || k < 0 || k >= n) return ERR_BAD_VALUE;
  if (!haveEmpty) return ERR_TOO_FEW_POINTS;
  for (let i = 0; i < n; i++) put(rows, k * MAX_CHIPS + i, at(smoothed, i) - at(empty, i));
  cornersDone |= 1 << k;
  if (cornersDone != (1 << n) - 1) return 1;
  return solve(n);
}

/** Solves rows * f = c (c: the mean untrimmed response), by Gaussian elimination with pivoting. */
function solve(n: i32): i32 {
  const m = memory.data(MAX_CHIPS * (MAX_CHIPS + 1) * 8);
  const w = MAX_CHIPS + 1;
  let c: f64 = 0;
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) c += at(rows, k * MAX_CHIPS + i);
  c /= <f64>n;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) put(m, k * w + i, at(rows, k * MAX_CHIPS + i));
    put(m, k * w + n, c);
  }
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(at(m, r * w + col)) > Math.abs(at(m, pivot * w + col))) pivot = r;
    if (!(Math.abs(at(m, pivot * w + col)) > 1e-9 * Math.abs(c))) return ERR_DEGENERATE;
    for (let j = 0; j <= n; j++) {
      const t = at(m, col * w + j);
      put(m, col * w + j, at(m, pivot * w + j));
      put(m, pivot * w + j, t);
    }
    for (let r = 0; r < n; r++) {
      if (r == col) continue;
      const f = at(m, r * w + col) / at(m, col * w + col);
      for (let j = col; j <= n; j++) put(m, r * w + j, at(m, r * w + j) - f * at(m, col * w + j));
    }
  }
  for (let i = 0; i < n; i++) {
    const f = at(m, i * w + n) / at(m, i * w + i);
    if (!(f >= FACTOR_MIN && f <= FACTOR_MAX)) return ERR_DEGENERATE;
  }
  for (let i = 0; i < n; i++) put(trimFactors, i, at(m, i * w + n) / at(m, i * w + i));
  trimForget();
  return 0;
}

// --- volatile state (state.ts): a corner adjustment in progress ---------------------------------

export function trimStateSave(p: usize): usize {
  store<i32>(p, haveEmpty ? 1 : 0); store<i32>(p, cornersDone, 4); store<i32>(p, smoothedValid ? 1 : 0, 8);
  return p + 12;
}

export function trimStateLoad(p: usize): usize {
  haveEmpty = load<i32>(p) != 0; cornersDone = load<i32>(p, 4); smoothedValid = load<i32>(p, 8) != 0;
  return p + 12;
}
