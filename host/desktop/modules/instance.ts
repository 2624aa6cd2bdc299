// One calibration module instance on the desktop: instantiated from the bytes the module manager
// wrote out with their fuel counter (assembly/manager/wasm.ts), each call on its own budget of
// abi.json's steps. V8 cannot stop a Wasm call, so the fuel is what bounds a call: it traps when
// the fuel runs out, and the trap is noted here as the module's failure. Nothing here decides
// about a module; the manager does (manager.ts).
import { abi } from "../../abi.js";

const budget = abi.calibration_module.budget;
export const FUEL_EXPORT = "__fuel";

interface ModuleExports {
  memory: WebAssembly.Memory;
  cal_gain(c0: number, c1: number, c2: number, c3: number): number;
  cal_curve(tempC: number): number;
  [fn: string]: unknown;
}

/** Why a call failed: 1 trapped, 2 ran past its budget; and the engine's words. */
export interface Failure {
  kind: 1 | 2;
  reason: "TRAPPED" | "BUDGET";
  detail: string;
}

/** mod_call's functions (assembly/manager/install.ts FN_*), with the budget each runs on. */
const FUNCTIONS: Array<[string, keyof typeof budget]> = [
  ["cal_abi", "other"], ["cal_name", "other"], ["cal_version", "other"], ["cal_points", "other"], ["cal_params", "other"],
  ["cal_params_save", "other"], ["cal_params_load", "other"], ["cal_fit", "fit"], ["cal_knots", "other"],
];

export class CalibrationModule {
  private readonly x: ModuleExports;
  private readonly fuel: WebAssembly.Global;
  /** The first failure of a call, until cleared. */
  failure: Failure | null = null;

  constructor(metered: Uint8Array) {
    const module = new WebAssembly.Module(metered as Uint8Array<ArrayBuffer>);
    const instance = new WebAssembly.Instance(module, {});
    this.x = instance.exports as unknown as ModuleExports;
    this.fuel = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
  }

  get memory(): Uint8Array {
    return new Uint8Array(this.x.memory.buffer);
  }

  /** A call that threw: out of fuel or trapped, noted as the failure. */
  private trapped(kind: keyof typeof budget, e: unknown): void {
    const exhausted = (this.fuel.value as number) < 0;
    this.failure ??= exhausted
      ? { kind: 2, reason: "BUDGET", detail: `ran past its budget of ${budget[kind].steps} steps in one call` }
      : { kind: 1, reason: "TRAPPED", detail: `trapped: ${(e as Error).message}` };
  }

  /** An i32 export by mod_call's number; i32 minimum when it failed or gave no i32. */
  call(fn: number, a: number, b: number): number {
    const [name, kind] = FUNCTIONS[fn] ?? ["", "other"];
    const f = this.x[name] as ((...args: number[]) => number) | undefined;
    if (!f) return -0x80000000;
    this.fuel.value = budget[kind].steps;
    try {
      const r = f(a, b);
      return Number.isInteger(r) ? r | 0 : -0x80000000;
    } catch (e) {
      this.trapped(kind, e);
      return -0x80000000;
    }
  }

  /** The gain for the chips' codes; NaN when the call failed (see failure). Per sample: no closure, no allocation. */
  gain(c0: number, c1: number, c2: number, c3: number): number {
    this.fuel.value = budget.eval.steps;
    try {
      return this.x.cal_gain(c0, c1, c2, c3);
    } catch (e) {
      this.trapped("eval", e);
      return NaN;
    }
  }

  /** The knot count the module declares at this temperature; i32 minimum when the call failed. */
  curve(tempC: number): number {
    this.fuel.value = budget.other.steps;
    try {
      const n = this.x.cal_curve(tempC);
      return Number.isInteger(n) ? n | 0 : -0x80000000;
    } catch (e) {
      this.trapped("other", e);
      return -0x80000000;
    }
  }
}
