// One calibration module, instantiated on its own linear memory with every call on a budget
// (meter.ts). Its exports are checked against the module ABI in abi.json before it runs; a call
// that traps or runs out of budget is caught here and reported, never passed to the core.
import { abi } from "../../abi.js";
import { meter, FUEL_EXPORT, ModuleFormatError } from "./meter.js";
import { ModuleRefused } from "./package.js";

const contract = abi.calibration_module;
const budget = contract.budget;

interface ModuleExports {
  memory: WebAssembly.Memory;
  cal_abi(): number;
  cal_name(): number;
  cal_version(): number;
  cal_eval(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number;
  cal_points(): number;
  cal_fit(n: number, order: number): number;
  cal_params(): number;
  cal_params_save(): number;
  cal_params_load(len: number): number;
}

/** Why the last call failed: a reason of abi.json calibration_module.reasons, and a sentence. */
export interface Failure {
  reason: string;
  detail: string;
}

const MAX_PARAMS_BYTES = 8 + 32 * 8;
const POINT_BYTES = 16;

/**
 * What the ESP32 needs of a module to run it in a few hundred bytes rather than a 64 KiB page, and
 * safely: WAMR (wasm_loader.c, load_from_sections, 2.4.0) gives a module only __heap_base bytes of
 * linear memory when it exports __data_end <= __heap_base as immutable i32 constants and never
 * uses memory.grow; it then takes the first mutable i32 global whose initial value is at most
 * __heap_base for a C stack pointer and checks every write to it, so that global must start at 0.
 * No start function: nothing may run before a budget applies.
 */
function checkLayout(m: ReturnType<typeof meter>): void {
  if (m.hasStart) throw new ModuleRefused("BAD_MODULE", "has a start function (it would run before any budget applies): initialise with constants");
  const at = (name: string) => {
    const index = m.exportedGlobals.get(name);
    const g = index === undefined ? undefined : m.globals[index];
    if (!g || g.mutable || g.i32 === null) throw new ModuleRefused("MEMORY", `exports no constant ${name}: the ESP32 would give it a whole 64 KiB page (export { __heap_base, __data_end })`);
    return g.i32 >>> 0;
  };
  const dataEnd = at("__data_end");
  const heapBase = at("__heap_base");
  if (dataEnd > heapBase || heapBase > contract.memory.maxPages * 65536 || ((dataEnd + 15) & ~15) > heapBase) {
    throw new ModuleRefused("MEMORY", `__data_end ${dataEnd} and __heap_base ${heapBase} do not let WAMR shrink its memory (__heap_base a multiple of 16 past __data_end)`);
  }
  if (m.usesMemoryGrow) throw new ModuleRefused("MEMORY", "uses memory.grow: its memory must stay its static data");
  const stack = m.globals.find((g) => g.mutable && g.i32 !== null && g.i32 >>> 0 <= heapBase);
  if (stack && stack.i32 !== 0) {
    throw new ModuleRefused("BAD_MODULE", `a mutable i32 global starts at ${stack.i32}: WAMR would take it for a stack pointer and trap its writes (keep such state in memory)`);
  }
}

export class CalibrationModule {
  private readonly x: ModuleExports;
  private readonly fuel: WebAssembly.Global;
  readonly name: string;
  readonly version: string;
  /** The first failure of a call, until cleared. */
  failure: Failure | null = null;

  private constructor(instance: WebAssembly.Instance) {
    this.x = instance.exports as unknown as ModuleExports;
    this.fuel = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
    const moduleAbi = this.call("other", () => this.x.cal_abi());
    if (moduleAbi !== contract.version) throw new ModuleRefused("WRONG_ABI", `built for module ABI ${moduleAbi}; this host runs ${contract.version}`);
    this.name = this.readName();
    const v = this.call("other", () => this.x.cal_version());
    this.version = `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`;
    if (this.failure) throw new ModuleRefused(this.failure.reason, `describing itself: ${this.failure.detail}`);
  }

  /** Validates, meters and instantiates a module's bytes; refuses with the ABI's reason. */
  static load(wasm: Uint8Array): CalibrationModule {
    let metered: ReturnType<typeof meter>;
    try {
      metered = meter(wasm, budget.other.steps);
    } catch (e) {
      if (e instanceof ModuleFormatError && /imports/.test(e.message)) throw new ModuleRefused("FORBIDDEN_IMPORT", e.message);
      throw new ModuleRefused("BAD_MODULE", (e as Error).message);
    }
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(metered.bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new ModuleRefused("BAD_MODULE", `not valid WebAssembly: ${(e as Error).message}`);
    }
    checkLayout(metered);
    const mem = metered.memory;
    if (!mem) throw new ModuleRefused("MEMORY", "has no memory (it must export one)");
    if (mem.max === null) throw new ModuleRefused("MEMORY", `memory may grow without limit: declare a maximum of ${contract.memory.maxPages} page(s)`);
    if (mem.max > contract.memory.maxPages) throw new ModuleRefused("MEMORY", `memory may grow to ${mem.max} pages; the module ABI allows ${contract.memory.maxPages}`);
    const exported = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
    const missing = contract.exports.filter((e) => exported.get(e.name) !== (e.kind === "memory" ? "memory" : "function")).map((e) => e.name);
    if (missing.length) throw new ModuleRefused("BAD_MODULE", `missing export(s) ${missing.join(", ")}`);
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, {});
    } catch (e) {
      throw new ModuleRefused(/unreachable/.test(String(e)) ? "BUDGET" : "TRAPPED", `instantiating: ${(e as Error).message}`);
    }
    return new CalibrationModule(instance);
  }

  /** Runs fn on a fresh budget; a trap or an exhausted budget becomes `failure` and NaN. */
  private call(kind: keyof typeof budget, fn: () => number): number {
    this.fuel.value = budget[kind].steps;
    try {
      return fn();
    } catch (e) {
      return this.trapped(kind, e);
    }
  }

  /** A call that threw: out of budget or trapped, noted as the failure. NaN. */
  private trapped(kind: keyof typeof budget, e: unknown): number {
    const exhausted = (this.fuel.value as number) < 0;
    this.failure ??= exhausted
      ? { reason: "BUDGET", detail: `ran past its budget of ${budget[kind].steps} steps in one call` }
      : { reason: "TRAPPED", detail: `trapped: ${(e as Error).message}` };
    return NaN;
  }

  private readName(): string {
    const p = this.call("other", () => this.x.cal_name());
    const bytes = new Uint8Array(this.x.memory.buffer);
    if (!Number.isInteger(p) || p < 0 || p >= bytes.length) throw new ModuleRefused("BAD_MODULE", "cal_name points outside its memory");
    let end = p;
    while (end < bytes.length && end - p <= 32 && bytes[end] !== 0) end++;
    const name = Buffer.from(bytes.subarray(p, end)).toString("latin1");
    if (!/^[a-z0-9_-]{1,32}$/.test(name)) throw new ModuleRefused("BAD_MODULE", `its name "${name}" is not 1..32 of a-z 0-9 _ -`);
    return name;
  }

  /** Gross kg; NaN when the call failed or gave no finite weight (see failure). Per sample. */
  evaluate(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number {
    // As call("eval", ...), without a closure a sample.
    this.fuel.value = budget.eval.steps;
    let kg: number;
    try {
      kg = this.x.cal_eval(x, c0, c1, c2, c3, tempC);
    } catch (e) {
      kg = this.trapped("eval", e);
    }
    if (!Number.isFinite(kg)) this.failure ??= { reason: "NOT_FINITE", detail: `weighed ${kg} kg for ${x} counts` };
    return kg;
  }

  /** Hands n points to the module's fit; its result code (DEGENERATE when the call failed). */
  fit(order: number, xs: Float64Array, kgs: Float64Array, n: number): number {
    const at = this.call("other", () => this.x.cal_points());
    const mem = this.x.memory.buffer;
    if (!Number.isInteger(at) || at < 0 || at + n * POINT_BYTES > mem.byteLength) {
      this.failure ??= { reason: "BAD_MODULE", detail: "cal_points points outside its memory" };
      return -6;
    }
    const v = new DataView(mem, at, n * POINT_BYTES);
    for (let i = 0; i < n; i++) {
      v.setFloat64(i * POINT_BYTES, xs[i], true);
      v.setFloat64(i * POINT_BYTES + 8, kgs[i], true);
    }
    const r = this.call("fit", () => this.x.cal_fit(n, order));
    return Number.isInteger(r) && r <= 0 ? r : -6;
  }

  private paramsAt(): number {
    const at = this.call("other", () => this.x.cal_params());
    if (!Number.isInteger(at) || at < 0 || at + MAX_PARAMS_BYTES > this.x.memory.buffer.byteLength) {
      throw new ModuleRefused("BAD_MODULE", "cal_params points outside its memory");
    }
    return at;
  }

  /** The parameters in force, as the module's versioned blob. */
  saveParams(): Buffer {
    const at = this.paramsAt();
    const len = this.call("other", () => this.x.cal_params_save());
    if (!Number.isInteger(len) || len < 8 || len > MAX_PARAMS_BYTES) throw new ModuleRefused("BAD_MODULE", `cal_params_save gave ${len} bytes`);
    return Buffer.from(new Uint8Array(this.x.memory.buffer, at, len));
  }

  /** Gives the module a blob it saved before; 0 or its error code. */
  loadParams(blob: Uint8Array): number {
    if (blob.length > MAX_PARAMS_BYTES) return -8;
    const at = this.paramsAt();
    new Uint8Array(this.x.memory.buffer, at, blob.length).set(blob);
    const r = this.call("other", () => this.x.cal_params_load(blob.length));
    return Number.isInteger(r) ? r : -8;
  }

  /** The manifest's parameter values in the blob version the module writes itself. */
  paramsBlob(values: number[]): Buffer {
    const own = this.saveParams();
    const blob = Buffer.alloc(8 + values.length * 8);
    blob.writeUInt32LE(own.readUInt32LE(0), 0);
    blob.writeUInt32LE(values.length, 4);
    values.forEach((v, i) => blob.writeDoubleLE(v, 8 + i * 8));
    return blob;
  }

  /** The parameter values of a blob (for listing). */
  static paramValues(blob: Uint8Array): number[] {
    const b = Buffer.from(blob);
    const n = b.length >= 8 ? b.readUInt32LE(4) : 0;
    return Array.from({ length: Math.min(n, (b.length - 8) / 8) }, (_, i) => b.readDoubleLE(8 + i * 8));
  }
}
