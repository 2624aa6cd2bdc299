// A piecewise-linear table: kg at up to 15 points of counts above zero, straight lines between
// them and the end segments extended beyond: the rows are the knots of the curve it declares. For cells (or mechanics: levers, springs, bins that
// bulge) whose curve a quadratic cannot follow. The fit takes the calibration points as the table.
//
// Parameters (version 1): [n, x0, kg0, x1, kg1, ...], x strictly increasing and kg strictly
// monotonic with it (every weight has one reading).
import {
  MODULE_ABI, MAX_POINTS, ERR_TOO_FEW_POINTS, ERR_DEGENERATE, ERR_BAD_VALUE, nameAddress, beginParams,
  putParam, checkParams, param, version, pointX, pointKg, putKnot,
} from "../lib/module";
export { cal_points, cal_params, cal_knots } from "../lib/module";
// The layout WAMR needs to give the module only its static data, not a 64 KiB page.
export { __heap_base, __data_end };

const PARAMS_VERSION: i32 = 1;
const MAX_ROWS: i32 = 15;
/** Points closer than this many counts cannot make a segment. */
const DISTINCT_COUNTS: f64 = 8;

// The table in force; by default a nominal 2 mV/V, 50 kg cell at gain 128. Its row count lives in
// memory, not in a mutable i32 global: WAMR takes the first such global that starts at a small
// value for a C stack pointer and checks every write to it (see docs/modules.md, module ABI).
const xs = memory.data<f64>([0, 4294967.296, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const kgs = memory.data<f64>([0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const rowCount = memory.data<i32>([2]);

const scratchX = memory.data(MAX_ROWS * 8);
const scratchKg = memory.data(MAX_ROWS * 8);

// @ts-ignore: decorator
@inline function rowX(t: usize, i: i32): f64 { return load<f64>(t + <usize>(i << 3)); }
// @ts-ignore: decorator
@inline function setRow(t: usize, i: i32, v: f64): void { store<f64>(t + <usize>(i << 3), v); }

// @ts-ignore: decorator
@inline function rows(): i32 { return load<i32>(rowCount); }

export function cal_abi(): i32 { return MODULE_ABI; }
export function cal_name(): i32 { return nameAddress("table"); }
export function cal_version(): i32 { return version(1, 0, 0); }

/** The table, the same at every temperature. */
export function cal_curve(tempC: f64): i32 {
  const n = rows();
  for (let i = 0; i < n; i++) putKnot(i, rowX(xs, i), rowX(kgs, i));
  return n;
}

/** Nothing to correct per sample. */
export function cal_gain(c0: f64, c1: f64, c2: f64, c3: f64): f64 {
  return 1;
}

/**
 * Checks rows in (tx, tk): x strictly increasing by at least DISTINCT_COUNTS, kg strictly
 * monotonic in the same direction throughout. 0 or DEGENERATE.
 */
function checkTable(tx: usize, tk: usize, n: i32): i32 {
  if (n < 2) return ERR_TOO_FEW_POINTS;
  const rising = rowX(tk, 1) > rowX(tk, 0);
  for (let i = 1; i < n; i++) {
    if (!(rowX(tx, i) - rowX(tx, i - 1) >= DISTINCT_COUNTS)) return ERR_DEGENERATE;
    const step = rowX(tk, i) - rowX(tk, i - 1);
    if (rising ? !(step > 0) : !(step < 0)) return ERR_DEGENERATE;
  }
  return 0;
}

function adopt(n: i32): void {
  memory.copy(xs, scratchX, <usize>(n << 3));
  memory.copy(kgs, scratchKg, <usize>(n << 3));
  store<i32>(rowCount, n);
}

/** The points, sorted by x, become the table (order is ignored). */
export function cal_fit(n: i32, order: i32): i32 {
  if (n < 2) return ERR_TOO_FEW_POINTS;
  if (n > MAX_POINTS) return ERR_BAD_VALUE;
  // Insertion sort into the scratch table (at most 10 points).
  for (let i = 0; i < n; i++) {
    const x = pointX(i);
    const kg = pointKg(i);
    let j = i;
    while (j > 0 && rowX(scratchX, j - 1) > x) {
      setRow(scratchX, j, rowX(scratchX, j - 1));
      setRow(scratchKg, j, rowX(scratchKg, j - 1));
      j--;
    }
    setRow(scratchX, j, x);
    setRow(scratchKg, j, kg);
  }
  const r = checkTable(scratchX, scratchKg, n);
  if (r != 0) return r;
  adopt(n);
  return 0;
}

export function cal_params_save(): i32 {
  const n = rows();
  const len = beginParams(PARAMS_VERSION, 1 + 2 * n);
  putParam(0, <f64>n);
  for (let i = 0; i < n; i++) {
    putParam(1 + 2 * i, rowX(xs, i));
    putParam(2 + 2 * i, rowX(kgs, i));
  }
  return len;
}

export function cal_params_load(len: i32): i32 {
  const count = checkParams(len, PARAMS_VERSION, 5, 1 + 2 * MAX_ROWS);
  if (count < 0) return count;
  const n = <i32>param(0);
  if (<f64>n != param(0) || count != 1 + 2 * n) return ERR_BAD_VALUE;
  for (let i = 0; i < n; i++) {
    setRow(scratchX, i, param(1 + 2 * i));
    setRow(scratchKg, i, param(2 + 2 * i));
  }
  const r = checkTable(scratchX, scratchKg, n);
  if (r != 0) return r;
  adopt(n);
  return 0;
}
