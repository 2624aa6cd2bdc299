// Where the core's calib imports meet a calibration module. Per sample while a module is switched
// on, the core asks for its gain (calib.gain); when it is switched on, fitted or the temperature
// changes, for its curve (calib.curve, then calib.knot for each value). The socket hands the calls to
// whatever module the host has plugged in, and answers NaN (or -1) when there is none or it failed.
// calib.fault is the core refusing what the module gave; calib.fit hands the core's recorded points
// to the module. Nothing is decided here.
import { code } from "../../abi.js";

/** What a plugged-in calibration module does for the core. */
export interface CalibrationTarget {
  /** The gain for the chips' codes, or NaN when the module failed (the target rolls itself back). */
  gain(c0: number, c1: number, c2: number, c3: number): number;
  /** The module's knot count at this temperature, or negative when it failed. */
  curve(tempC: number): number;
  /** Value i of the knots the last curve declared; NaN outside them. */
  knot(i: number): number;
  /** The core refused a curve (kind 1) or a gain (kind 2). */
  fault(kind: number, x: number, value: number): void;
  /** Fits n points (x counts above zero, kg); 0 or a negative error code. */
  fit(order: number, x: Float64Array, kg: Float64Array, n: number): number;
}

/** Bytes per point in the core's point table: counts f64, kg f32, padding (abi.json, calib.fit). */
const POINT_BYTES = 16;
const MAX_POINTS = 10;

export class CalibrationSocket {
  target: CalibrationTarget | null = null;
  private memory: { buffer: ArrayBuffer } | null = null;
  private readonly xs = new Float64Array(MAX_POINTS);
  private readonly kgs = new Float64Array(MAX_POINTS);

  constructor(private readonly calls: Record<string, number>) {
    calls["calib.gain"] = 0;
    calls["calib.curve"] = 0;
    calls["calib.fit"] = 0;
  }

  bind(memory: { buffer: ArrayBuffer }): void {
    this.memory = memory;
  }

  /** The calib import object for the core's instance. */
  readonly imports = {
    gain: (c0: number, c1: number, c2: number, c3: number): number => {
      this.calls["calib.gain"]++;
      return this.target ? this.target.gain(c0, c1, c2, c3) : NaN;
    },
    curve: (tempC: number): number => {
      this.calls["calib.curve"]++;
      return this.target ? this.target.curve(tempC) : -1;
    },
    knot: (i: number): number => (this.target ? this.target.knot(i) : NaN),
    fault: (kind: number, x: number, value: number): void => this.target?.fault(kind, x, value),
    fit: (order: number, ptr: number, n: number, zeroCounts: number): number => {
      this.calls["calib.fit"]++;
      const memory = this.memory;
      if (!this.target || !memory) return code("error", "DEGENERATE");
      if (n < 1 || n > MAX_POINTS || ptr < 0 || ptr + n * POINT_BYTES > memory.buffer.byteLength) return code("error", "BAD_VALUE");
      const v = new DataView(memory.buffer, ptr, n * POINT_BYTES);
      for (let i = 0; i < n; i++) {
        this.xs[i] = v.getFloat64(i * POINT_BYTES, true) - zeroCounts;
        this.kgs[i] = v.getFloat32(i * POINT_BYTES + 8, true);
      }
      return this.target.fit(order, this.xs, this.kgs, n);
    },
  };
}
