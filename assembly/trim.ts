// Corner adjustment for platforms on several load cells, each with its own HX711: cells differ in
// sensitivity by a percent or so, so a load off centre reads differently from the same load in the
// middle. With the platform empty and then a test weight over each cell in turn, the per-chip
// factors that make every corner read alike are solved for; the weighed sum is then
// sum(factor_i * code_i). The factors are part of the calibration (its blob); calibrate the span
// again after trimming.
// A record takes each chip's mean code over the stability window (STABLE_MS, in time slots as the
// stability check keeps them), and is refused while any chip's codes spread wider than the band:
// a weight slid from one corner to the next keeps the total steady while the chips' shares still
// move, and a smoothed code (an EMA of 1.6 s at 10 SPS) still held part of the previous corner.
import { MAX_CHIPS } from "./hx711";
import { cfgInt } from "./config";
import { ERR_BAD_VALUE, ERR_TOO_FEW_POINTS, ERR_DEGENERATE, ERR_NOT_STABLE, CFG_STABLE_MS, CFG_RATE_SPS } from "./abi";

/** Per-chip factors (f64), 1 until trimmed. */
export const trimFactors = memory.data(MAX_CHIPS * 8);
/** Per chip, per time slot of the window (SLOTS completed and the current one): the codes' sum
 * (f64), and their lowest, highest and count (f32: a 24-bit code and a count of a few hundred are
 * exact in it). */
const SLOTS: i32 = 8;
const STRIDE: i32 = (SLOTS + 1) * MAX_CHIPS;
const sums = memory.data(STRIDE * 8);
const stats = memory.data(3 * STRIDE * 4);
const LOW: i32 = 0;
const HIGH: i32 = STRIDE;
const COUNT: i32 = 2 * STRIDE;
export const empty = memory.data(MAX_CHIPS * 8);
export const TRIM_BYTES: i32 = MAX_CHIPS * 8;
/** Row k: every chip's code with the weight over corner k, less the empty platform. */
export const rows = memory.data(MAX_CHIPS * MAX_CHIPS * 8);
export const ROWS_BYTES: i32 = MAX_CHIPS * MAX_CHIPS * 8;
let haveEmpty: bool = false;
let cornersDone: i32 = 0;
/** The window's slots: the current one, how many are complete, when the current began, the last sample. */
let slot: i32 = 0;
let slotsDone: i32 = 0;
let slotStartMs: i32 = 0;
let lastMs: i32 = 0;
/** Each chip's mean code over the window, and whether every chip settled in the band (record()). */
const means = memory.data(MAX_CHIPS * 8);
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

// @ts-ignore: decorator
@inline function stat(i: i32): f32 {
  return load<f32>(stats + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function setStat(i: i32, v: f32): void {
  store<f32>(stats + (<usize>i << 2), v);
}

export function trimReset(): void {
  for (let i = 0; i < MAX_CHIPS; i++) put(trimFactors, i, 1);
  trimForget();
}

/** Forgets a procedure in progress (the factors stay). */
export function trimForget(): void {
  haveEmpty = false;
  cornersDone = 0;
  trimBreak();
}

/** Opens slot `s` with nothing in it. */
function clearSlot(s: i32): void {
  for (let i = 0; i < MAX_CHIPS; i++) {
    const k = s * MAX_CHIPS + i;
    put(sums, k, 0);
    setStat(LOW + k, Infinity);
    setStat(HIGH + k, -Infinity);
    setStat(COUNT + k, 0);
  }
}

/** The weighed sum of one read's codes at tMs; keeps each chip's codes in the window for a record. */
export function trimSum(codes: usize, n: i32, tMs: i32): f64 {
  const slotMs = max(cfgInt(CFG_STABLE_MS) / SLOTS, 1);
  const gap = tMs - lastMs;
  lastMs = tMs;
  if (slotsDone < 0 || gap < 0 || gap > max(slotMs, 2000 / cfgInt(CFG_RATE_SPS))) {
    // The first read, or a gap: the window starts again.
    for (let s = 0; s <= SLOTS; s++) clearSlot(s);
    slot = 0;
    slotsDone = 0;
    slotStartMs = tMs;
  }
  while (tMs - slotStartMs >= slotMs) {
    slotStartMs += slotMs;
    slot = slot == SLOTS ? 0 : slot + 1;
    if (slotsDone < SLOTS) slotsDone++;
    clearSlot(slot);
  }
  let sum: f64 = 0;
  for (let i = 0; i < n; i++) {
    const c = <f64>load<i32>(codes + (<usize>i << 2));
    sum += at(trimFactors, i) * c;
    const k = slot * MAX_CHIPS + i;
    put(sums, k, at(sums, k) + c);
    setStat(COUNT + k, stat(COUNT + k) + 1);
    if (<f32>c < stat(LOW + k)) setStat(LOW + k, <f32>c);
    if (<f32>c > stat(HIGH + k)) setStat(HIGH + k, <f32>c);
  }
  return sum;
}

/** After a fault the window starts again. */
export function trimBreak(): void {
  slotsDone = -1;
}

/**
 * Each chip's mean code over the whole window into `means`: 0, or ERR_NOT_STABLE while the window
 * is not full or a chip's codes spread wider than `bandCounts`.
 */
function record(n: i32, bandCounts: f64): i32 {
  if (slotsDone < SLOTS) return ERR_NOT_STABLE;
  for (let i = 0; i < n; i++) {
    let sum: f64 = 0;
    let count: f64 = 0;
    let low: f64 = Infinity;
    let high: f64 = -Infinity;
    for (let s = 0; s <= SLOTS; s++) {
      const k = s * MAX_CHIPS + i;
      sum += at(sums, k);
      count += <f64>stat(COUNT + k);
      low = min(low, <f64>stat(LOW + k));
      high = max(high, <f64>stat(HIGH + k));
    }
    if (count == 0 || high - low > bandCounts) return ERR_NOT_STABLE;
    put(means, i, sum / count);
  }
  return 0;
}

/** Records the empty platform (stable, checked by the caller; every chip settled within bandCounts). */
export function trimEmpty(n: i32, bandCounts: f64): i32 {
  if (n < 2) return ERR_BAD_VALUE;
  const err = record(n, bandCounts);
  if (err != 0) return err;
  for (let i = 0; i < n; i++) put(empty, i, at(means, i));
  haveEmpty = true;
  cornersDone = 0;
  return 0;
}

/**
 * Records the test weight over corner k (the cell of chip k), every chip settled within bandCounts.
 * When every corner is recorded, solves and applies the factors: 1 while more corners are due, 0
 * when applied, or an error.
 */
export function trimCorner(k: i32, n: i32, bandCounts: f64): i32 {
  if (n < 2 || k < 0 || k >= n) return ERR_BAD_VALUE;
  if (!haveEmpty) return ERR_TOO_FEW_POINTS;
  const err = record(n, bandCounts);
  if (err != 0) return err;
  for (let i = 0; i < n; i++) put(rows, k * MAX_CHIPS + i, at(means, i) - at(empty, i));
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
  store<i32>(p, haveEmpty ? 1 : 0); store<i32>(p, cornersDone, 4); store<i32>(p, slot, 8); store<i32>(p, slotsDone, 12);
  store<i32>(p, slotStartMs, 16); store<i32>(p, lastMs, 20);
  return p + 24;
}

export function trimStateLoad(p: usize): usize {
  haveEmpty = load<i32>(p) != 0; cornersDone = load<i32>(p, 4); slot = load<i32>(p, 8); slotsDone = load<i32>(p, 12);
  slotStartMs = load<i32>(p, 16); lastMs = load<i32>(p, 20);
  // The chips' window is not in the stream (1 KB for a record that waits for STABLE_MS anyway).
  trimBreak();
  return p + 24;
}
