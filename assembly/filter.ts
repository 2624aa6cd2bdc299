// The filter pipeline, in counts: spike rejection, then smoothing; stability is judged on the
// input as converted (one spike allowed each way) over a time window, together with the smoothed
// value. State is f64: four summed 24-bit chips need 26 bits, more than an f32 carries, and an
// EMA or running sum in f32 stalls short of a constant input at a real bridge's counts.
import { cfg, cfgInt } from "./config";
import {
  CFG_SPIKE_MODE, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_SMOOTH_MODE, CFG_SMOOTH_WINDOW,
  CFG_SMOOTH_ALPHA, CFG_ADAPT_CONFIRM, CFG_STABLE_MS, CFG_RATE_SPS,
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

// --- spike rejection: median or trimmed mean over a sliding window --------------------------
export const spikeRing = memory.data(SPIKE_MAX * 8);
export const spikeSorted = memory.data(SPIKE_MAX * 8);
export const SPIKE_BYTES: i32 = SPIKE_MAX * 8;
let spikeLen: i32 = 0;
let spikeHead: i32 = 0;

export function spikeReset(): void {
  spikeLen = 0;
  spikeHead = 0;
}

// @ts-ignore: decorator
@inline function at(base: usize, i: i32): f64 {
  return load<f64>(base + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function put(base: usize, i: i32, v: f64): void {
  store<f64>(base + (<usize>i << 3), v);
}

/** Keeps spikeSorted ordered: drop `old` (when the window is full), insert `x`. */
function sortedReplace(old: f64, drop: bool, x: f64): void {
  let n = spikeLen;
  if (drop) {
    let i = 0;
    while (i < n - 1 && at(spikeSorted, i) != old) i++;
    for (; i < n - 1; i++) put(spikeSorted, i, at(spikeSorted, i + 1));
    n--;
  }
  let j = n;
  while (j > 0 && at(spikeSorted, j - 1) > x) {
    put(spikeSorted, j, at(spikeSorted, j - 1));
    j--;
  }
  put(spikeSorted, j, x);
}

/**
 * The median of five values in six comparisons on locals: the smaller of two sorted pairs is below
 * the median, so it is dropped for the fifth value, twice. (The default window: keeping a sorted
 * copy of it cost about a tenth of the per-sample instructions.)
 */
function median5(a: f64, b: f64, c: f64, d: f64, e: f64): f64 {
  let t: f64;
  if (a > b) { t = a; a = b; b = t; }
  if (c > d) { t = c; c = d; d = t; }
  if (a < c) {
    a = e;
    if (a > b) { t = a; a = b; b = t; }
  } else {
    c = e;
    if (c > d) { t = c; c = d; d = t; }
  }
  return a < c ? (b < c ? b : c) : (d < a ? d : a);
}

export function spikeStep(x: f64): f64 {
  const mode = cfgInt(CFG_SPIKE_MODE);
  if (mode == SPIKE_OFF) return x;
  const window = cfgInt(CFG_SPIKE_WINDOW);
  const full = spikeLen == window;
  if (full && window == 5 && mode == SPIKE_MEDIAN) {
    // The ring alone: the sorted copy is not kept (a setting change resets the filter).
    put(spikeRing, spikeHead, x);
    spikeHead = spikeHead == 4 ? 0 : spikeHead + 1;
    return median5(at(spikeRing, 0), at(spikeRing, 1), at(spikeRing, 2), at(spikeRing, 3), at(spikeRing, 4));
  }
  sortedReplace(at(spikeRing, spikeHead), full, x);
  if (!full) spikeLen++;
  put(spikeRing, spikeHead, x);
  spikeHead = spikeHead + 1 == window ? 0 : spikeHead + 1;
  const n = spikeLen;
  assert(n <= window && spikeHead < window); // debug builds check the ring; release drops it
  if (mode == SPIKE_MEDIAN) {
    const mid = n >> 1;
    return n & 1 ? at(spikeSorted, mid) : (at(spikeSorted, mid - 1) + at(spikeSorted, mid)) * 0.5;
  }
  const trim = min(cfgInt(CFG_SPIKE_TRIM), (n - 1) >> 1);
  let sum: f64 = 0;
  for (let i = trim; i < n - trim; i++) sum += at(spikeSorted, i);
  return sum / <f64>(n - 2 * trim);
}

// --- smoothing: moving average, EMA, or adaptive ---------------------------------------------
export const movingRing = memory.data(MOVING_MAX * 8);
export const MOVING_BYTES: i32 = MOVING_MAX * 8;
let movingLen: i32 = 0;
let movingHead: i32 = 0;
let movingSum: f64 = 0;
let smoothY: f64 = 0;
let smoothStarted: bool = false;
let departures: i32 = 0;
let departSign: i32 = 0;
/** Adaptive filter: a departure beyond this many counts may be a load change. */
let adaptThreshold: f64 = 1;

export function smoothReset(): void {
  movingLen = 0;
  movingHead = 0;
  movingSum = 0;
  smoothStarted = false;
  departures = 0;
  departSign = 0;
}

/** Sets the adaptive threshold in counts (the host-facing setting is in divisions). */
export function smoothSetThreshold(counts: f64): void {
  adaptThreshold = counts;
}

function movingStep(x: f64): f64 {
  const window = cfgInt(CFG_SMOOTH_WINDOW);
  if (movingLen == window) movingSum -= at(movingRing, movingHead);
  else movingLen++;
  put(movingRing, movingHead, x);
  movingSum += x;
  movingHead++;
  assert(movingLen <= window && movingHead <= window);
  if (movingHead == window) {
    // Re-add the window once per cycle so rounding in the running sum cannot accumulate.
    movingHead = 0;
    let exact: f64 = 0;
    for (let i = 0; i < movingLen; i++) exact += at(movingRing, i);
    movingSum = exact;
  }
  return movingSum / <f64>movingLen;
}

/**
 * Quiet at rest (an EMA), yet a confirmed load change is followed at once: `confirm` consecutive
 * samples beyond the threshold on the same side move the output straight to the newest sample.
 * Unconfirmed departures (spikes, knocks) leave the output where it was.
 */
function adaptiveStep(x: f64): f64 {
  const d = x - smoothY;
  if (Math.abs(d) <= adaptThreshold) {
    departures = 0;
    smoothY += <f64>cfg(CFG_SMOOTH_ALPHA) * d;
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

export function smoothStep(x: f64): f64 {
  const mode = cfgInt(CFG_SMOOTH_MODE);
  if (mode == SMOOTH_OFF) return x;
  if (mode == SMOOTH_MOVING) return movingStep(x);
  if (!smoothStarted) {
    smoothStarted = true;
    smoothY = x;
    return x;
  }
  if (mode == SMOOTH_EMA) {
    smoothY += <f64>cfg(CFG_SMOOTH_ALPHA) * (x - smoothY);
    return smoothY;
  }
  return adaptiveStep(x);
}

// --- stability: motion judged over a time window --------------------------------------------
// Motion is judged on the input as converted, before spike rejection and smoothing: a median of
// five at 10 SPS spans half a second, so a 2 Hz sway fits whole periods into it and the median
// cancels it, and smoothing hides the rest. One spike is allowed each way: the span is from the
// second lowest to the second highest value in the window, which a sway (many values) does not
// escape and a lone spike does not widen.
// The window (STABLE_MS) is cut into STABLE_SLOTS slots; each keeps its two lowest and two highest
// values, so the span over the window is known at any rate with constant work per sample: the
// completed slots' extremes are combined once per slot (not per sample), the current slot's are
// kept apart. (Combining all slots per sample was a quarter of the per-sample instructions.)
// Stable: the slots cover the whole window, and every value in it but one each way, and the
// value shown, lie inside the band.
const STABLE_SLOTS: i32 = 8;
/** Per slot: [lowest, second lowest] and [highest, second highest], slot i at i and i + SLOTS + 1. */
export const slotLow = memory.data((STABLE_SLOTS + 1) * 16);
export const slotHigh = memory.data((STABLE_SLOTS + 1) * 16);
export const SLOT_BYTES: i32 = (STABLE_SLOTS + 1) * 16;
const SECOND: i32 = STABLE_SLOTS + 1;
let slotHead: i32 = 0;
let slotsDone: i32 = 0;
let slotStartMs: i32 = 0;
let lastMs: i32 = 0;
let slotsStarted: bool = false;
/** The current slot's two lowest and two highest, and those of the completed slots in the window. */
let curLow: f64 = 0;
let curLow2: f64 = 0;
let curHigh: f64 = 0;
let curHigh2: f64 = 0;
let doneLow: f64 = 0;
let doneLow2: f64 = 0;
let doneHigh: f64 = 0;
let doneHigh2: f64 = 0;

export function stableReset(): void {
  slotsStarted = false;
  slotsDone = 0;
  slotHead = 0;
}

/** Moves every value in the window by `kg` (zero was set: the readings move with it). */
export function stableShift(kg: f64): void {
  for (let i = 0; i < 2 * SECOND; i++) {
    put(slotLow, i, at(slotLow, i) + kg);
    put(slotHigh, i, at(slotHigh, i) + kg);
  }
  curLow += kg;
  curLow2 += kg;
  curHigh += kg;
  curHigh2 += kg;
  doneLow += kg;
  doneLow2 += kg;
  doneHigh += kg;
  doneHigh2 += kg;
}

/** Closes the current slot and combines the completed ones (once per slot). */
// @ts-ignore: decorator
@inline function nextSlot(kg: f64): void {
  put(slotLow, slotHead, curLow);
  put(slotLow, slotHead + SECOND, curLow2);
  put(slotHigh, slotHead, curHigh);
  put(slotHigh, slotHead + SECOND, curHigh2);
  slotHead = slotHead == STABLE_SLOTS ? 0 : slotHead + 1;
  if (slotsDone < STABLE_SLOTS) slotsDone++;
  curLow = kg;
  curLow2 = Infinity;
  curHigh = kg;
  curHigh2 = -Infinity;
  // The slot just reopened held the oldest values: they have left the window.
  let lo = Infinity;
  let lo2 = Infinity;
  let hi = -Infinity;
  let hi2 = -Infinity;
  for (let i = 0; i <= STABLE_SLOTS; i++) {
    if (i == slotHead) continue;
    for (let k = i; k < 2 * SECOND; k += SECOND) {
      const l = at(slotLow, k);
      if (l < lo) { lo2 = lo; lo = l; } else if (l < lo2) lo2 = l;
      const h = at(slotHigh, k);
      if (h > hi) { hi2 = hi; hi = h; } else if (h > hi2) hi2 = h;
    }
  }
  doneLow = lo;
  doneLow2 = lo2;
  doneHigh = hi;
  doneHigh2 = hi2;
}

/** Records `kg` (the input as converted) at `tMs`; true when it (but one value each way) and `shown` stayed within `band` over STABLE_MS. */
export function stableStep(kg: f64, shown: f64, tMs: i32, band: f64): bool {
  const slotMs = max(cfgInt(CFG_STABLE_MS) / STABLE_SLOTS, 1);
  const gap = tMs - lastMs;
  lastMs = tMs;
  // A gap of a few conversions is a host that came late or a refused read; a longer one is a chip
  // that went missing (a fault gap): stability is earned again after it.
  if (!slotsStarted || gap < 0 || gap > max(slotMs, 4000 / cfgInt(CFG_RATE_SPS))) {
    // The first value, or after a gap in the readings: stability is earned again.
    slotsStarted = true;
    slotsDone = 0;
    slotHead = 0;
    slotStartMs = tMs;
    curLow = kg;
    curLow2 = Infinity;
    curHigh = kg;
    curHigh2 = -Infinity;
    // Slots not yet completed hold the first value: they cannot widen the span.
    for (let i = 0; i < SECOND; i++) {
      put(slotLow, i, kg);
      put(slotLow, i + SECOND, Infinity);
      put(slotHigh, i, kg);
      put(slotHigh, i + SECOND, -Infinity);
    }
    doneLow = kg;
    doneLow2 = Infinity;
    doneHigh = kg;
    doneHigh2 = -Infinity;
  } else {
    while (tMs - slotStartMs >= slotMs) {
      slotStartMs += slotMs;
      nextSlot(kg);
    }
    if (kg < curLow) { curLow2 = curLow; curLow = kg; } else if (kg < curLow2) curLow2 = kg;
    if (kg > curHigh) { curHigh2 = curHigh; curHigh = kg; } else if (kg > curHigh2) curHigh2 = kg;
  }
  if (slotsDone < STABLE_SLOTS) return false;
  // The second lowest of the window: of the completed slots' two and the current slot's two.
  let lo = doneLow < curLow ? max(doneLow, min(doneLow2, curLow)) : max(curLow, min(curLow2, doneLow));
  let hi = doneHigh > curHigh ? min(doneHigh, max(doneHigh2, curHigh)) : min(curHigh, max(curHigh2, doneHigh));
  // Fewer than two values on a side (a window of one or two): every value counts.
  if (lo == Infinity) lo = min(doneLow, curLow);
  if (hi == -Infinity) hi = max(doneHigh, curHigh);
  if (shown < lo) lo = shown;
  if (shown > hi) hi = shown;
  return hi - lo <= band;
}

// --- volatile state (state.ts): the scalars, in this order; the arrays are regions of their own --

export function filterStateSave(p: usize): usize {
  store<i32>(p, spikeLen); store<i32>(p, spikeHead, 4); store<i32>(p, movingLen, 8); store<i32>(p, movingHead, 12);
  store<f64>(p, movingSum, 16); store<f64>(p, smoothY, 24); store<i32>(p, smoothStarted ? 1 : 0, 32);
  store<i32>(p, departures, 36); store<i32>(p, departSign, 40); store<f64>(p, adaptThreshold, 48);
  store<i32>(p, slotHead, 56); store<i32>(p, slotsDone, 60); store<i32>(p, slotStartMs, 64); store<i32>(p, lastMs, 68);
  store<i32>(p, slotsStarted ? 1 : 0, 72); store<f64>(p, curLow, 80); store<f64>(p, curHigh, 88);
  store<f64>(p, doneLow, 96); store<f64>(p, doneHigh, 104);
  store<f64>(p, curLow2, 112); store<f64>(p, curHigh2, 120); store<f64>(p, doneLow2, 128); store<f64>(p, doneHigh2, 136);
  return p + 144;
}

export function filterStateLoad(p: usize): usize {
  spikeLen = load<i32>(p); spikeHead = load<i32>(p, 4); movingLen = load<i32>(p, 8); movingHead = load<i32>(p, 12);
  movingSum = load<f64>(p, 16); smoothY = load<f64>(p, 24); smoothStarted = load<i32>(p, 32) != 0;
  departures = load<i32>(p, 36); departSign = load<i32>(p, 40); adaptThreshold = load<f64>(p, 48);
  slotHead = load<i32>(p, 56); slotsDone = load<i32>(p, 60); slotStartMs = load<i32>(p, 64); lastMs = load<i32>(p, 68);
  slotsStarted = load<i32>(p, 72) != 0; curLow = load<f64>(p, 80); curHigh = load<f64>(p, 88);
  doneLow = load<f64>(p, 96); doneHigh = load<f64>(p, 104);
  curLow2 = load<f64>(p, 112); curHigh2 = load<f64>(p, 120); doneLow2 = load<f64>(p, 128); doneHigh2 = load<f64>(p, 136);
  return p + 144;
}
