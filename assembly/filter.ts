// The filter pipeline, in counts: spike rejection, then smoothing; then stability in kg.
// Each stage is a step function over preallocated state: one value in, one value out.
import { cfg, cfgInt } from "./config";
import {
  CFG_SPIKE_MODE, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_SMOOTH_MODE, CFG_SMOOTH_WINDOW,
  CFG_SMOOTH_ALPHA, CFG_ADAPT_CONFIRM, CFG_STABLE_COUNT,
} from "./abi";

export const SPIKE_OFF: i32 = 0;
export const SPIKE_MEDIAN: i32 = 1;
export const SPIKE_TRIMMED: i32 = 2;
export const SMOOTH_OFF: i32 = 0;
export const SMOOTH_MOVING: i32 = 1;
export const SMOOTH_EMA: i32 = 2;
export const SMOOTH_ADAPTIVE: i32 = 3;

const SPIKE_MAX: i32 = 15;
const MOVING_MAX: i32 = 64;
const STABLE_MAX: i32 = 32;

// --- spike rejection: median or trimmed mean over a sliding window --------------------------
const spikeRing = memory.data(SPIKE_MAX * 4);
const spikeSorted = memory.data(SPIKE_MAX * 4);
let spikeLen: i32 = 0;
let spikeHead: i32 = 0;

export function spikeReset(): void {
  spikeLen = 0;
  spikeHead = 0;
}

// @ts-ignore: decorator
@inline function f32At(base: usize, i: i32): f32 {
  return load<f32>(base + (<usize>i << 2));
}

// @ts-ignore: decorator
@inline function f32Put(base: usize, i: i32, v: f32): void {
  store<f32>(base + (<usize>i << 2), v);
}

/** Keeps spikeSorted ordered: drop `old` (when the window is full), insert `x`. */
function sortedReplace(old: f32, drop: bool, x: f32): void {
  let n = spikeLen;
  if (drop) {
    let i = 0;
    while (i < n - 1 && f32At(spikeSorted, i) != old) i++;
    for (; i < n - 1; i++) f32Put(spikeSorted, i, f32At(spikeSorted, i + 1));
    n--;
  }
  let j = n;
  while (j > 0 && f32At(spikeSorted, j - 1) > x) {
    f32Put(spikeSorted, j, f32At(spikeSorted, j - 1));
    j--;
  }
  f32Put(spikeSorted, j, x);
}

export function spikeStep(x: f32): f32 {
  const mode = cfgInt(CFG_SPIKE_MODE);
  if (mode == SPIKE_OFF) return x;
  const window = cfgInt(CFG_SPIKE_WINDOW);
  const full = spikeLen == window;
  sortedReplace(f32At(spikeRing, spikeHead), full, x);
  if (!full) spikeLen++;
  f32Put(spikeRing, spikeHead, x);
  spikeHead = spikeHead + 1 == window ? 0 : spikeHead + 1;
  const n = spikeLen;
  assert(n <= window && spikeHead < window); // debug builds check the ring; release drops it
  if (mode == SPIKE_MEDIAN) {
    const mid = n >> 1;
    return n & 1 ? f32At(spikeSorted, mid) : (f32At(spikeSorted, mid - 1) + f32At(spikeSorted, mid)) * 0.5;
  }
  const trim = min(cfgInt(CFG_SPIKE_TRIM), (n - 1) >> 1);
  let sum: f32 = 0;
  for (let i = trim; i < n - trim; i++) sum += f32At(spikeSorted, i);
  return sum / <f32>(n - 2 * trim);
}

// --- smoothing: moving average, EMA, or adaptive ---------------------------------------------
const movingRing = memory.data(MOVING_MAX * 4);
let movingLen: i32 = 0;
let movingHead: i32 = 0;
let movingSum: f32 = 0;
let smoothY: f32 = 0;
let smoothStarted: bool = false;
let departures: i32 = 0;
let departSign: i32 = 0;
/** Adaptive filter: a departure beyond this many counts may be a load change. */
let adaptThreshold: f32 = 1;

export function smoothReset(): void {
  movingLen = 0;
  movingHead = 0;
  movingSum = 0;
  smoothStarted = false;
  departures = 0;
  departSign = 0;
}

/** Sets the adaptive threshold in counts (the host-facing setting is in divisions). */
export function smoothSetThreshold(counts: f32): void {
  adaptThreshold = counts;
}

function movingStep(x: f32): f32 {
  const window = cfgInt(CFG_SMOOTH_WINDOW);
  if (movingLen == window) movingSum -= f32At(movingRing, movingHead);
  else movingLen++;
  f32Put(movingRing, movingHead, x);
  movingSum += x;
  movingHead++;
  assert(movingLen <= window && movingHead <= window);
  if (movingHead == window) {
    // Re-add the window once per cycle so f32 rounding in the running sum cannot accumulate.
    movingHead = 0;
    let exact: f32 = 0;
    for (let i = 0; i < movingLen; i++) exact += f32At(movingRing, i);
    movingSum = exact;
  }
  return movingSum / <f32>movingLen;
}

/**
 * Quiet at rest (an EMA), yet a confirmed load change is followed at once: `confirm` consecutive
 * samples beyond the threshold on the same side move the output straight to the newest sample.
 * Unconfirmed departures (spikes, knocks) leave the output where it was.
 */
function adaptiveStep(x: f32): f32 {
  const d = x - smoothY;
  if (Mathf.abs(d) <= adaptThreshold) {
    departures = 0;
    smoothY += cfg(CFG_SMOOTH_ALPHA) * d;
    return smoothY;
  }
  const sign = d > 0 ? 1 : -1;
  if (sign != departSign) departures = 0;
  departSign = sign;
  departures++;
  if (departures >= cfgInt(CFG_ADAPT_CONFIRM)) {
    departures = 0;
    smoothY = x;
  }
  return smoothY;
}

/** True while the adaptive filter holds back an unconfirmed departure: the load is in motion. */
export function smoothPending(): bool {
  return departures > 0;
}

export function smoothStep(x: f32): f32 {
  const mode = cfgInt(CFG_SMOOTH_MODE);
  if (mode == SMOOTH_OFF) return x;
  if (mode == SMOOTH_MOVING) return movingStep(x);
  if (!smoothStarted) {
    smoothStarted = true;
    smoothY = x;
    return x;
  }
  if (mode == SMOOTH_EMA) {
    smoothY += cfg(CFG_SMOOTH_ALPHA) * (x - smoothY);
    return smoothY;
  }
  return adaptiveStep(x);
}

// --- stability: the last N readings inside a band ---------------------------------------------
const stableRing = memory.data(STABLE_MAX * 4);
let stableLen: i32 = 0;
let stableHead: i32 = 0;

export function stableReset(): void {
  stableLen = 0;
  stableHead = 0;
}

/** Moves every value in the stability window by `kg` (zero was set: the readings move with it). */
export function stableShift(kg: f32): void {
  for (let i = 0; i < stableLen; i++) f32Put(stableRing, i, f32At(stableRing, i) + kg);
}

/** True when the last STABLE_COUNT values (kg) span no more than `band` kg. */
export function stableStep(kg: f32, band: f32): bool {
  const count = cfgInt(CFG_STABLE_COUNT);
  f32Put(stableRing, stableHead, kg);
  stableHead = stableHead + 1 == count ? 0 : stableHead + 1;
  if (stableLen < count) stableLen++;
  assert(stableHead < count);
  if (stableLen < count) return false;
  let lo = kg;
  let hi = kg;
  for (let i = 0; i < count; i++) {
    const v = f32At(stableRing, i);
    lo = min(lo, v);
    hi = max(hi, v);
  }
  return hi - lo <= band;
}
