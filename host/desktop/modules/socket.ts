// Where the core's calib imports meet a calibration module. The core calls calib.eval once a
// sample while a module is switched on; the socket hands the call to whatever module the host has
// plugged in, and answers NaN when there is none or it failed (the core then weighs that reading
// with its built-in curve). calib.fit hands the core's recorded points to the module.
import { code } from "../../abi.js";

/** What a plugged-in calibration module does for the core. */
export interface CalibrationTarget {
  /** Gross kg, or NaN when the module failed (the target rolls itself back). */
  evaluate(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number;
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
    calls["calib.eval"] = 0;
    calls["calib.fit"] = 0;
  }

  bind(memory: { buffer: ArrayBuffer }): void {
    this.memory = memory;
  }

  /** The calib import object for the core's instance. */
  readonly imports = {
    eval: (x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number => {
      this.calls["calib.eval"]++;
      return this.target ? this.target.evaluate(x, c0, c1, c2, c3, tempC) : NaN;
    },
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
