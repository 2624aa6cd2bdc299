// Piece counting: the net weight in pieces of PIECE_KG (0: counting off), as Tasmota's Sensor34 6
// does for a parts bin, a shelf or a kitchen scale. A count is stable only when the weight is and
// the net weight lies within COUNT_TOLERANCE of a piece of a whole number of pieces: between whole
// pieces (a piece half on the platform, a wrong piece weight) the count is shown but not stable.
//
// A piece too light to count is refused (PIECE_TOO_LIGHT, config.ts): it must weigh at least 5
// divisions and 4 stability bands, so that neither the rounding to the division (half a division)
// nor what a stable weight may still wander (the band) moves the count by more than a tenth and a
// quarter of a piece.
//
// With COUNT_REFINE on, the piece weight is refined as pieces are added (Tasmota's "average piece
// weight enhancement"): a stable count larger than any the piece weight was taken from, within
// half the tolerance of a whole number, gives the piece weight again as net / count. Off by default.
import {
  CFG_PIECE_KG, CFG_COUNT_TOLERANCE, CFG_COUNT_REFINE, CFG_CAPACITY_KG,
  ERR_BAD_VALUE, ERR_OUT_OF_RANGE, BLOB_CONFIG,
} from "./abi";
import { cfg, configSet } from "./config";
import { markDirty } from "./blob";

/** The most pieces a sample may be declared to hold. */
const MAX_SAMPLE_PIECES: f64 = 10000;

/** The count of the last reading, and whether it is stable. */
export let count: i32 = 0;
export let countStable = false;
/** Pieces the piece weight was last taken from (a sample, a refinement); 0 when it was set directly. */
let basis: i32 = 0;

/** Sets the piece weight (0 stops counting). 0, BAD_VALUE or PIECE_TOO_LIGHT (config.ts holds the rule). */
export function countSet(pieceKg: f64, pieces: i32): i32 {
  if (!isFinite(pieceKg) || pieceKg < 0 || pieceKg > <f64>cfg(CFG_CAPACITY_KG)) return ERR_BAD_VALUE;
  const r = configSet(CFG_PIECE_KG, <f32>pieceKg);
  if (r != 0) return r;
  basis = pieces;
  markDirty(BLOB_CONFIG);
  return 0;
}

/**
 * The piece weight from `pieces` pieces now on the platform (net; the caller has checked that the
 * weight is stable). 0, BAD_VALUE (not a whole number of pieces in 1..10000), OUT_OF_RANGE
 * (nothing on it) or PIECE_TOO_LIGHT.
 */
export function countSample(netKg: f64, pieces: f64): i32 {
  if (!(pieces >= 1 && pieces <= MAX_SAMPLE_PIECES) || pieces != Math.floor(pieces)) return ERR_BAD_VALUE;
  if (!(netKg > 0)) return ERR_OUT_OF_RANGE;
  return countSet(netKg / pieces, <i32>pieces);
}

/** Counts a reading's net weight (not rounded to the division) while PIECE_KG is set; refines the
 * piece weight if asked. */
export function countStep(netKg: f64, stable: bool): void {
  const piece = <f64>cfg(CFG_PIECE_KG);
  if (!isFinite(netKg)) {
    count = 0;
    countStable = false;
    return;
  }
  const pieces = netKg / piece;
  const whole = Math.round(pieces);
  const off = Math.abs(pieces - whole);
  count = <i32>whole;
  countStable = stable && off <= <f64>cfg(CFG_COUNT_TOLERANCE);
  if (countStable && cfg(CFG_COUNT_REFINE) != 0 && count > basis && basis > 0 && off <= 0.5 * <f64>cfg(CFG_COUNT_TOLERANCE)) {
    if (countSet(netKg / whole, count) != 0) basis = count; // a refinement too light to count keeps the old weight
  }
}

// --- volatile state (state.ts) ----------------------------------------------------------------

export function countStateSave(p: usize): usize {
  store<i32>(p, basis);
  return p + 4;
}

export function countStateLoad(p: usize): usize {
  basis = load<i32>(p);
  return p + 4;
}
