// What every calibration module shares: the module ABI's constants (assembly/abi.json,
// calibration_module), the point table the host fills before a fit, the knots a module declares
// its curve with, and the parameter blob (u32 version, u32 count, count f64 values). A module
// re-exports `cal_points`, `cal_params` and `cal_knots` from here and implements the rest. Static
// memory only: a module never allocates.

/** The module ABI this library implements (abi.json calibration_module.version). */
export const MODULE_ABI: i32 = 2;
export const MAX_POINTS: i32 = 10;
/** abi.json calibration_module.maxKnots. */
export const MAX_KNOTS: i32 = 16;
/** A straight line is declared by two knots this many counts apart (2^23, a chip's full scale). */
export const LINE_COUNTS: f64 = 8388608;
export const MAX_PARAMS: i32 = 32;
const POINT_BYTES: i32 = 16;
const HEADER_BYTES: i32 = 8;

// The core's error codes (abi.json codes.error) a module may answer with.
export const ERR_BAD_VALUE: i32 = -2;
export const ERR_TOO_FEW_POINTS: i32 = -5;
export const ERR_DEGENERATE: i32 = -6;
export const ERR_BAD_BLOB: i32 = -8;

const pointTable = memory.data(MAX_POINTS * POINT_BYTES);
const knotTable = memory.data(MAX_KNOTS * POINT_BYTES);
const paramBlob = memory.data(HEADER_BYTES + MAX_PARAMS * 8);
const nameBytes = memory.data(33);

/** Address of the point table: x (counts above zero) f64, kg f64 per point. */
export function cal_points(): i32 {
  return <i32>pointTable;
}

/** Address of the knots cal_curve declares: counts above zero f64, kg f64 per knot. */
export function cal_knots(): i32 {
  return <i32>knotTable;
}

/** Knot i of the curve being declared. */
export function putKnot(i: i32, x: f64, kg: f64): void {
  store<f64>(knotTable + <usize>(i * POINT_BYTES), x);
  store<f64>(knotTable + <usize>(i * POINT_BYTES) + 8, kg);
}

/** Declares the straight line through (x0, 0) with slope kg per count; returns its 2 knots. */
export function line(x0: f64, slope: f64): i32 {
  putKnot(0, x0, 0);
  putKnot(1, x0 + LINE_COUNTS, slope * LINE_COUNTS);
  return 2;
}

/** Address of the parameter blob. */
export function cal_params(): i32 {
  return <i32>paramBlob;
}

export function pointX(i: i32): f64 {
  return load<f64>(pointTable + <usize>(i * POINT_BYTES));
}

export function pointKg(i: i32): f64 {
  return load<f64>(pointTable + <usize>(i * POINT_BYTES) + 8);
}

/** The name as NUL-terminated bytes (an ASCII literal: copied, not allocated). */
export function nameAddress(name: string): i32 {
  const n = min(name.length, 32);
  for (let i = 0; i < n; i++) store<u8>(nameBytes + <usize>i, <u8>name.charCodeAt(i));
  store<u8>(nameBytes + <usize>n, 0);
  return <i32>nameBytes;
}

/** Writes the header of a blob of `count` values; then `putParam` each. Returns the blob's length. */
export function beginParams(version: i32, count: i32): i32 {
  store<u32>(paramBlob, <u32>version);
  store<u32>(paramBlob, <u32>count, 4);
  return HEADER_BYTES + count * 8;
}

export function putParam(i: i32, v: f64): void {
  store<f64>(paramBlob + <usize>(HEADER_BYTES + i * 8), v);
}

/**
 * Checks a blob of len bytes written by the host: this version, a count in [least, most] that
 * matches the length, every value finite. Returns the count, or BAD_BLOB.
 */
export function checkParams(len: i32, version: i32, least: i32, most: i32): i32 {
  if (len < HEADER_BYTES || len > HEADER_BYTES + MAX_PARAMS * 8) return ERR_BAD_BLOB;
  if (load<u32>(paramBlob) != <u32>version) return ERR_BAD_BLOB;
  const count = <i32>load<u32>(paramBlob, 4);
  if (count < least || count > most || len != HEADER_BYTES + count * 8) return ERR_BAD_BLOB;
  for (let i = 0; i < count; i++) if (!isFinite(param(i))) return ERR_BAD_BLOB;
  return count;
}

export function param(i: i32): f64 {
  return load<f64>(paramBlob + <usize>(HEADER_BYTES + i * 8));
}

/** Packs a version as major << 16 | minor << 8 | patch. */
export function version(major: i32, minor: i32, patch: i32): i32 {
  return (major << 16) | (minor << 8) | patch;
}

/** Points closer to zero than this many counts cannot set a span (noise; as the core's own fit). */
const MIN_SPAN_COUNTS: f64 = 64;

/**
 * Least-squares slope through the origin over the points, or NaN when they give none: no point
 * at least MIN_SPAN_COUNTS from zero.
 */
export function slopeThroughZero(n: i32): f64 {
  let sxy: f64 = 0;
  let sxx: f64 = 0;
  let spread: f64 = 0;
  for (let i = 0; i < n; i++) {
    const x = pointX(i);
    sxy += x * pointKg(i);
    sxx += x * x;
    spread = Math.max(spread, Math.abs(x));
  }
  return spread >= MIN_SPAN_COUNTS ? sxy / sxx : NaN;
}
