// Loads, validates and instantiates the Wasm core, and gives it a typed face: settings and codes
// by name, the reading record decoded, blobs in and out. The same .wasm the ESP32 runs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abi, code, codeName } from "../abi.js";
import type { HostImports, CorePanic } from "./imports.js";

export const defaultWasmPath = fileURLToPath(new URL("../../build/release.wasm", import.meta.url));

export interface Reading {
  seq: number;
  tMs: number;
  kg: number;
  grossKg: number;
  raw: number;
  counts: number;
  flags: number;
  /** Fault code (codes.fault), 0 when none. */
  fault: number;
  /** Chip index the fault was seen on. */
  faultChip: number;
}

interface CoreExports {
  memory: WebAssembly.Memory;
  scale_init(): number;
  io_ptr(): number;
  io_cap(): number;
  reading_ptr(): number;
  hx_add_chip(clk: number, dout: number): number;
  hx_power(on: number): number;
  scale_sample(nowMs: number): number;
  config_set(key: number, value: number): number;
  config_get(key: number): number;
  cmd_tare(): number;
  cmd_clear_tare(): number;
  cmd_zero(): number;
  cal_span(kg: number): number;
  cal_add_point(kg: number): number;
  cal_clear_points(): number;
  cal_fit(order: number): number;
  cal_residual(i: number): number;
  blob_save(which: number): number;
  blob_load(which: number, len: number): number;
}

export class CoreError extends Error {
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = "CoreError";
  }
}

/** Checks a compiled module against the ABI before it is instantiated: clear errors, no surprises. */
export function validateModule(module: WebAssembly.Module): void {
  const problems: string[] = [];
  const exported = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  for (const e of abi.exports) {
    const kind = e.kind === "memory" ? "memory" : "function";
    if (exported.get(e.name) !== kind) problems.push(`missing ${kind} export "${e.name}"`);
  }
  const known = new Set(abi.imports.map((i) => `${i.module}.${i.name}`));
  for (const i of WebAssembly.Module.imports(module)) {
    if (!known.has(`${i.module}.${i.name}`)) problems.push(`imports "${i.module}.${i.name}", which no host provides`);
  }
  if (problems.length) throw new CoreError(`not a wasm-scale core (ABI ${abi.version}): ${problems.join("; ")}`);
}

const field = (name: string): number => abi.records.reading.fields.find((f) => f.name === name)!.offset;
const AT_SEQ = field("seq"), AT_T = field("t_ms"), AT_KG = field("kg"), AT_GROSS = field("gross_kg");
const AT_RAW = field("raw"), AT_COUNTS = field("counts"), AT_FLAGS = field("flags"), AT_FAULT = field("fault");

export class ScaleCore {
  readonly exports: CoreExports;
  private readonly view: DataView;
  private readonly readingAt: number;
  private readonly ioAt: number;
  private readonly ioCap: number;

  private constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports as unknown as CoreExports;
    this.view = new DataView(this.exports.memory.buffer);
    const version = this.exports.scale_init();
    if (version !== abi.version) throw new CoreError(`core speaks ABI ${version}, this host ${abi.version}`);
    this.readingAt = this.exports.reading_ptr();
    this.ioAt = this.exports.io_ptr();
    this.ioCap = this.exports.io_cap();
  }

  /** Compile, validate and instantiate a core with the host's imports. */
  static async load(host: HostImports, wasm: Uint8Array | string = defaultWasmPath): Promise<ScaleCore> {
    let bytes: Uint8Array;
    try {
      bytes = typeof wasm === "string" ? readFileSync(wasm) : wasm;
    } catch (e) {
      throw new CoreError(`cannot read the core ${String(wasm)}: ${(e as Error).message}. Run \`npm run asbuild\` first.`);
    }
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new CoreError(`not a valid WebAssembly module: ${(e as Error).message}`);
    }
    validateModule(module);
    const instance = await WebAssembly.instantiate(module, host.imports);
    const memory = instance.exports.memory as WebAssembly.Memory;
    if (memory.buffer.byteLength > abi.memory.maxPages * 65536) {
      throw new CoreError(`core memory is ${memory.buffer.byteLength} bytes; the ABI allows ${abi.memory.maxPages} page(s)`);
    }
    host.bind(memory);
    return new ScaleCore(instance);
  }

  /** Memory size in bytes (tests watch it does not grow). */
  memoryBytes(): number {
    return this.exports.memory.buffer.byteLength;
  }

  addChip(clk: number, dout: number): void {
    const r = this.exports.hx_add_chip(clk, dout);
    if (r < 0) throw new CoreError(`cannot add HX711 clk ${clk} dout ${dout}: ${codeName("error", r) ?? r}`, r);
  }

  power(on: boolean): number {
    return this.exports.hx_power(on ? 1 : 0);
  }

  /** One sample at host time nowMs: 1 reading, 0 none, < 0 minus a fault code. */
  sample(nowMs: number): number {
    return this.exports.scale_sample(nowMs | 0);
  }

  /** The reading record, decoded into a new object. */
  reading(): Reading {
    return this.readInto({ seq: 0, tMs: 0, kg: 0, grossKg: 0, raw: 0, counts: 0, flags: 0, fault: 0, faultChip: 0 });
  }

  /** The reading record, decoded into `r` (no allocation: for hot loops). */
  readInto(r: Reading): Reading {
    const v = this.view;
    const at = this.readingAt;
    const fault = v.getInt32(at + AT_FAULT, true);
    r.seq = v.getUint32(at + AT_SEQ, true);
    r.tMs = v.getUint32(at + AT_T, true);
    r.kg = v.getFloat32(at + AT_KG, true);
    r.grossKg = v.getFloat32(at + AT_GROSS, true);
    r.raw = v.getInt32(at + AT_RAW, true);
    r.counts = v.getFloat32(at + AT_COUNTS, true);
    r.flags = v.getUint32(at + AT_FLAGS, true);
    r.fault = fault & 0xff;
    r.faultChip = (fault >> 8) & 0xff;
    return r;
  }

  /** Set a setting by its ABI name; returns 0 or a negative error code. */
  set(name: string, value: number): number {
    return this.exports.config_set(code("config", name), value);
  }

  get(name: string): number {
    return this.exports.config_get(code("config", name));
  }

  /** Serialise a blob ("CALIBRATION" or "CONFIG") to bytes the host persists. */
  saveBlob(which: "CALIBRATION" | "CONFIG"): Uint8Array {
    const len = this.exports.blob_save(code("blob", which));
    if (len < 0) throw new CoreError(`blob_save ${which}: ${codeName("error", len) ?? len}`, len);
    return new Uint8Array(this.exports.memory.buffer, this.ioAt, len).slice();
  }

  /** Restore a blob; returns 0 or a negative error code (the core is unchanged on error). */
  loadBlob(which: "CALIBRATION" | "CONFIG", bytes: Uint8Array): number {
    if (bytes.length > this.ioCap) return code("error", "BAD_BLOB");
    new Uint8Array(this.exports.memory.buffer, this.ioAt, bytes.length).set(bytes);
    return this.exports.blob_load(code("blob", which), bytes.length);
  }
}

/** Names of the flag bits set in `flags`. */
export function flagNames(flags: number): string[] {
  return Object.entries(abi.codes.flag).filter(([, c]) => (flags & c.value) !== 0).map(([n]) => n);
}

export type { CorePanic };
