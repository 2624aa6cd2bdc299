// Settings: one f32 per key of codes.config, validated on every change, serialised as a blob.
import {
  CFG_COUNT, CFG_DEFAULT, CFG_MIN, CFG_MAX, ERR_BAD_KEY, ERR_BAD_VALUE,
  CFG_GAIN, CFG_SPIKE_MODE, CFG_SMOOTH_MODE, CFG_SPIKE_WINDOW, CFG_SPIKE_TRIM, CFG_SMOOTH_WINDOW,
  CFG_SETTLE_DISCARD, CFG_STABLE_MS, CFG_ADAPT_CONFIRM, CFG_FROZEN_COUNT, CFG_READY_TIMEOUT_MS,
  CFG_RATE_SPS, CFG_DIVISION_KG, CFG_STABLE_BAND_D, CFG_PIECE_KG, CFG_COUNT_REFINE, ERR_PIECE_TOO_LIGHT,
} from "./abi";

const values = memory.data(CFG_COUNT * 4);
/** The same settings as integers (truncated), kept beside them: the per-sample path reads these,
 * with no conversion per lookup. */
const ints = memory.data(CFG_COUNT * 4);

/** Current value of a setting (key already checked by the caller). */
// @ts-ignore: decorator
@inline export function cfg(key: i32): f32 {
  return load<f32>(values + (<usize>key << 2));
}

/** Integer value of a setting whose range makes it integral. */
// @ts-ignore: decorator
@inline export function cfgInt(key: i32): i32 {
  return load<i32>(ints + (<usize>key << 2));
}

/** Stores a setting and its integer shadow: the one place settings change. */
function put(key: i32, v: f32): void {
  store<f32>(values + (<usize>key << 2), v);
  store<i32>(ints + (<usize>key << 2), <i32>v);
}

export function configDefaults(): void {
  for (let k = 0; k < CFG_COUNT; k++) put(k, unchecked(CFG_DEFAULT[k]));
}

function isInteger(key: i32): bool {
  return key == CFG_GAIN || key == CFG_SETTLE_DISCARD || key == CFG_SPIKE_MODE || key == CFG_SMOOTH_MODE ||
    key == CFG_SPIKE_WINDOW || key == CFG_SPIKE_TRIM || key == CFG_SMOOTH_WINDOW || key == CFG_STABLE_MS ||
    key == CFG_ADAPT_CONFIRM || key == CFG_FROZEN_COUNT || key == CFG_READY_TIMEOUT_MS || key == CFG_RATE_SPS ||
    key == CFG_COUNT_REFINE;
}

/** A scale division is 1, 2 or 5 times a power of ten (OIML R76), e.g. 0.005 or 0.02 kg. */
function isDivision(v: f32): bool {
  const x = <f64>v;
  // Powers of ten by multiplication over the setting's whole range (Math.pow and Math.log10
  // cost 1.6 kB of code).
  for (let p: f64 = 1e-6; p < 1e4; p *= 10) {
    if (Math.abs(x - p) <= 1e-5 * x || Math.abs(x - 2 * p) <= 1e-5 * x || Math.abs(x - 5 * p) <= 1e-5 * x) return true;
  }
  return false;
}

/** A piece weighs at least this many divisions, and this many stability bands (count.ts). */
const MIN_PIECE_D: f32 = 5;
const MIN_PIECE_BANDS: f32 = 4;

/** The least piece weight the scale counts reliably with this division and stability band. */
export function leastPieceKg(division: f32, band: f32): f32 {
  return Mathf.max(MIN_PIECE_D * division, MIN_PIECE_BANDS * band * division);
}

/** Checks one value against its range and the rules that tie settings together. */
export function configCheck(key: i32, v: f32): i32 {
  if (key < 0 || key >= CFG_COUNT) return ERR_BAD_KEY;
  // NaN fails both comparisons, so it is rejected here too.
  if (!(v >= unchecked(CFG_MIN[key]) && v <= unchecked(CFG_MAX[key]))) return ERR_BAD_VALUE;
  if (isInteger(key) && v != Mathf.floor(v)) return ERR_BAD_VALUE;
  if (key == CFG_GAIN && v != 32 && v != 64 && v != 128) return ERR_BAD_VALUE;
  if (key == CFG_RATE_SPS && v != 10 && v != 80) return ERR_BAD_VALUE;
  if (key == CFG_DIVISION_KG && !isDivision(v)) return ERR_BAD_VALUE;
  // A piece weight too light for the division and band, set or left so by a change of either.
  const piece = key == CFG_PIECE_KG ? v : cfg(CFG_PIECE_KG);
  if ((key == CFG_PIECE_KG || key == CFG_DIVISION_KG || key == CFG_STABLE_BAND_D) && piece > 0 &&
      piece < leastPieceKg(key == CFG_DIVISION_KG ? v : cfg(CFG_DIVISION_KG), key == CFG_STABLE_BAND_D ? v : cfg(CFG_STABLE_BAND_D))) {
    return ERR_PIECE_TOO_LIGHT;
  }
  const w = key == CFG_SPIKE_WINDOW ? v : cfg(CFG_SPIKE_WINDOW);
  const t = key == CFG_SPIKE_TRIM ? v : cfg(CFG_SPIKE_TRIM);
  if (key == CFG_SPIKE_WINDOW || key == CFG_SPIKE_TRIM) {
    if (t + t >= w) return ERR_BAD_VALUE; // the trimmed mean keeps at least one sample
  }
  return 0;
}

export function configSet(key: i32, v: f32): i32 {
  const err = configCheck(key, v);
  if (err != 0) return err;
  put(key, v);
  return 0;
}

/**
 * Restores settings 0 .. count-1 from `src` (f32 each), all or, if any is invalid, none; key
 * `skip` (-1 for none) keeps its default. Keys from `count` on keep their values.
 */
export function configRestore(src: usize, count: i32, skip: i32): bool {
  const saved = memory.data(CFG_COUNT * 4);
  memory.copy(saved, values, CFG_COUNT * 4);
  put(CFG_SPIKE_TRIM, 0); // so a smaller window can come first
  for (let k = 0; k < count; k++) {
    const v = k == skip ? unchecked(CFG_DEFAULT[k]) : load<f32>(src + (<usize>k << 2));
    if (configSet(k, v) != 0) {
      for (let j = 0; j < CFG_COUNT; j++) put(j, load<f32>(saved + (<usize>j << 2)));
      return false;
    }
  }
  return true;
}

export function configGet(key: i32): f32 {
  if (key < 0 || key >= CFG_COUNT) return NaN;
  return cfg(key);
}

/** Address and size of the raw settings, for the blob code. */
export const configBase: usize = values;
export const configBytes: i32 = CFG_COUNT * 4;
