// Loads, validates and instantiates the Wasm core, and gives it a typed face: settings and codes
// by name, the reading record decoded, blobs in and out. The same .wasm the ESP32 runs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abi, code, codeName } from "../abi.js";
import type { HostImports, CorePanic } from "./imports.js";
import { instantiate, instantiateSync, type EngineName, type EngineInstance } from "./engines/engine.js";

export const defaultWasmPath = fileURLToPath(new URL("../../build/release.wasm", import.meta.url));

function coreBytes(wasm: Uint8Array | string): Uint8Array {
  try {
    return typeof wasm === "string" ? readFileSync(wasm) : wasm;
  } catch (e) {
    throw new CoreError(`cannot read the core ${String(wasm)}: ${(e as Error).message}. Run \`npm run asbuild\` first.`);
  }
}

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
  /** The net weight in pieces (flag COUNTING), 0 when counting is off. */
  count: number;
}

interface CoreExports {
  memory: { buffer: ArrayBuffer };
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
  cmd_trim_empty(): number;
  cmd_trim_corner(k: number): number;
  cmd_trim_clear(): number;
  cal_span(kg: number): number;
  cal_add_point(kg: number): number;
  cal_clear_points(): number;
  cal_fit(order: number): number;
  cal_residual(i: number): number;
  blob_save(which: number): number;
  blob_load(which: number, len: number): number;
  mqtt_setup(len: number): number;
  mqtt_topic(which: number): number;
  mqtt_will(): number;
  mqtt_connected(up: number): void;
  mqtt_message(topicLen: number, payloadLen: number): number;
  out_next(): number;
  out_done(): number;
  out_pending(): number;
  out_dropped(): number;
  time_sync(epochS: number, nowMs: number): void;
  state_dirty(): number;
  cal_module(on: number): number;
  env_temperature(celsius: number): void;
  button(edge: number, down: number, tMs: number): number;
  state_save(chunk: number): number;
  state_load(chunk: number, len: number): number;
  wake_begin(nowMs: number, cause: number): number;
  wake_step(nowMs: number): number;
  wake_sleep_ms(nowMs: number): number;
}

/** wake_step's answers (codes.wake): sample on; the wake's reading is queued, sleep; or publish, then sleep. */
export type WakeStep = "sample" | "sleep" | "publish";

/** A message the core wants published. */
export interface OutMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
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
const AT_COUNT = field("count");

export class ScaleCore {
  readonly exports: CoreExports;
  private readonly view: DataView;
  private readonly readingAt: number;
  private readonly ioAt: number;
  private readonly ioCap: number;

  private constructor(private readonly instance: EngineInstance, readonly engine: EngineName) {
    this.exports = instance.exports as unknown as CoreExports;
    this.view = new DataView(this.exports.memory.buffer);
    const version = this.exports.scale_init();
    if (version !== abi.version) throw new CoreError(`core speaks ABI ${version}, this host ${abi.version}`);
    this.readingAt = this.exports.reading_ptr();
    this.ioAt = this.exports.io_ptr();
    this.ioCap = this.exports.io_cap();
  }

  /** Compile, validate and instantiate a core with the host's imports, in the engine asked for. */
  static async load(host: HostImports, wasm: Uint8Array | string = defaultWasmPath, engine: EngineName = "v8"): Promise<ScaleCore> {
    const bytes = coreBytes(wasm);
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new CoreError(`not a valid WebAssembly module: ${(e as Error).message}`);
    }
    validateModule(module);
    return ScaleCore.bound(host, await instantiate(engine, module, bytes, host.imports), engine, bytes);
  }

  /** The same, at once: a core swapped in over the air while the module manager waits. */
  static loadSync(host: HostImports, bytes: Uint8Array, engine: EngineName = "v8"): ScaleCore {
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new CoreError(`not a valid WebAssembly module: ${(e as Error).message}`);
    }
    validateModule(module);
    let instance: EngineInstance;
    try {
      instance = instantiateSync(engine, module, bytes, host.imports);
    } catch (e) {
      throw new CoreError(`not instantiated: ${(e as Error).message}`);
    }
    return ScaleCore.bound(host, instance, engine, bytes);
  }

  private static bound(host: HostImports, instance: EngineInstance, engine: EngineName, bytes: Uint8Array): ScaleCore {
    const memory = instance.exports.memory;
    if (memory.buffer.byteLength > abi.memory.maxPages * 65536) {
      throw new CoreError(`core memory is ${memory.buffer.byteLength} bytes; the ABI allows ${abi.memory.maxPages} page(s)`);
    }
    host.bind(memory);
    const core = new ScaleCore(instance, engine);
    core.bytes = bytes;
    return core;
  }

  /** The .wasm this core was instantiated from. */
  bytes: Uint8Array = new Uint8Array(0);
  /** What the host told this core that a core swapped in for it is told again (device id, link, clock). */
  told: { deviceId: string | null; connected: boolean; time: [number, number] | null } = { deviceId: null, connected: false, time: null };

  /** The native engines' memory figures (WAMR's pool), null in V8. */
  engineInfo(): ReturnType<EngineInstance["info"]> {
    return this.instance.info();
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
    return this.readInto({ seq: 0, tMs: 0, kg: 0, grossKg: 0, raw: 0, counts: 0, flags: 0, fault: 0, faultChip: 0, count: 0 });
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
    r.count = v.getInt32(at + AT_COUNT, true);
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

  private io(len: number): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer, this.ioAt, len);
  }

  /** Device id for the topics; throws with the reason if the core refuses it. */
  setDeviceId(id: string): void {
    this.tap?.(["device", id]);
    this.told.deviceId = id;
    const bytes = Buffer.from(id, "utf8");
    if (bytes.length > this.ioCap) throw new CoreError(`device id "${id}" is too long`);
    this.io(bytes.length).set(bytes);
    if (this.exports.mqtt_setup(bytes.length) !== 0) {
      throw new CoreError(`device id "${id}" is not 1..32 of A-Z a-z 0-9 _ -`);
    }
  }

  topic(which: TopicName): string {
    const n = this.exports.mqtt_topic(code("topic", which));
    if (n < 0) throw new CoreError(`no topic ${which}: ${codeName("error", n)}`, n);
    return Buffer.from(this.io(n)).toString("latin1");
  }

  will(): OutMessage {
    const n = this.exports.mqtt_will();
    if (n < 0) throw new CoreError(`no will: ${codeName("error", n)}`, n);
    return unframe(this.io(n).slice());
  }

  connected(up: boolean): void {
    this.told.connected = up;
    this.exports.mqtt_connected(up ? 1 : 0);
  }

  /**
   * Hands a received message to the core. Returns its answer: a command's result code, 1 handled,
   * 2 not for this core. A payload larger than the io buffer is passed truncated, with its length,
   * so the core refuses it as TOO_LONG.
   */
  /** Told of every MQTT message and blob the core is given (a recording keeps them). */
  tap: ((op: ["message", string, string] | ["blob", "CALIBRATION" | "CONFIG", string] | ["device", string]) => void) | null = null;

  message(topic: string, payload: Uint8Array): number {
    this.tap?.(["message", topic, Buffer.from(payload).toString("base64")]);
    const t = Buffer.from(topic, "utf8");
    if (t.length > this.ioCap) return 2;
    const io = this.io(this.ioCap);
    io.set(t);
    io.set(payload.subarray(0, this.ioCap - t.length), t.length);
    return this.exports.mqtt_message(t.length, payload.length);
  }

  /** The next message to publish, or null; call done() once it is delivered. */
  next(): OutMessage | null {
    const n = this.exports.out_next();
    return n > 0 ? unframe(this.io(n).slice()) : null;
  }

  done(): void {
    this.exports.out_done();
  }

  get pending(): number {
    return this.exports.out_pending();
  }

  get dropped(): number {
    return this.exports.out_dropped() >>> 0;
  }

  /** Tells the core the wall clock: epochMs now, at host time nowMs. */
  timeSync(epochMs: number, nowMs: number): void {
    this.told.time = [epochMs, nowMs];
    this.exports.time_sync(Math.floor(epochMs / 1000) | 0, (nowMs - (epochMs % 1000)) | 0);
  }

  /** Blobs changed since last asked, as names. */
  dirty(): Array<"CALIBRATION" | "CONFIG"> {
    const mask = this.exports.state_dirty();
    return (["CALIBRATION", "CONFIG"] as const).filter((n) => mask & (1 << code("blob", n)));
  }

  /** A calibration module was plugged into the calib imports (true) or removed; 0 or an error code. */
  calModule(on: boolean): number {
    return this.exports.cal_module(on ? 1 : 0);
  }

  /** The temperature at the cell (degrees C), NaN when unknown. */
  temperature(celsius: number): void {
    this.exports.env_temperature(celsius);
  }

  /**
   * The button: an edge (pressed or released) at tMs, or a poll (no edge) at tMs. Bits for a
   * status LED: 1 an action accepted now, 2 one refused now, 4 a calibration waits for a press.
   */
  button(edge: "down" | "up" | null, tMs: number): number {
    return this.exports.button(edge === null ? 0 : 1, edge === "down" ? 1 : 0, tMs | 0);
  }

  /** The volatile state (for deep sleep), read out chunk by chunk. */
  saveState(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let k = 0; ; k++) {
      const n = this.exports.state_save(k);
      if (n < 0) throw new CoreError(`state chunk ${k}: ${codeName("error", n)}`, n);
      if (n === 0) break;
      parts.push(this.io(n).slice());
    }
    return Buffer.concat(parts);
  }

  /** Restores a state saved by saveState (after chips, blobs and device id); 0 or a negative error code. */
  loadState(bytes: Uint8Array): number {
    for (let k = 0, at = 0; at < bytes.length; k++, at += this.ioCap) {
      const chunk = bytes.subarray(at, Math.min(at + this.ioCap, bytes.length));
      new Uint8Array(this.exports.memory.buffer, this.ioAt, chunk.length).set(chunk);
      const r = this.exports.state_load(k, chunk.length);
      if (r <= 0) return at + chunk.length === bytes.length || r < 0 ? r : code("error", "BAD_BLOB");
    }
    return code("error", "BAD_BLOB");
  }

  /** Battery mode: a wake starts at host time nowMs (chips up, filters afresh), after a boot for
   * `cause` (a brown-out makes the core back off publishing and flag the readings LOW_SUPPLY). */
  wakeBegin(nowMs: number, cause: "timer" | "brownout" = "timer"): void {
    const r = this.exports.wake_begin(nowMs | 0, code("cause", cause.toUpperCase()));
    if (r < 0) throw new CoreError(`wake_begin: ${codeName("error", r) ?? r}`, r);
  }

  /** Battery mode: after each sample of a wake, what the wake does next. */
  wakeStep(nowMs: number): WakeStep {
    const r = this.exports.wake_step(nowMs | 0);
    const step = codeName("wake", r);
    if (step === undefined) throw new CoreError(`wake_step outside a wake: ${codeName("error", r) ?? r}`, r);
    return step.toLowerCase() as WakeStep;
  }

  /** Battery mode: milliseconds from nowMs to the next wake; 0 when battery mode is off. */
  wakeSleepMs(nowMs: number): number {
    return this.exports.wake_sleep_ms(nowMs | 0);
  }

  /** Restore a blob; returns 0 or a negative error code (the core is unchanged on error). */
  loadBlob(which: "CALIBRATION" | "CONFIG", bytes: Uint8Array): number {
    this.tap?.(["blob", which, Buffer.from(bytes).toString("base64")]);
    if (bytes.length > this.ioCap) return code("error", "BAD_BLOB");
    new Uint8Array(this.exports.memory.buffer, this.ioAt, bytes.length).set(bytes);
    return this.exports.blob_load(code("blob", which), bytes.length);
  }
}

export type TopicName = "STATE" | "STATUS" | "CMD" | "RESULT" | "HA_STATUS" | "GAP" | "RAW" | "MODULE";

/** Parses the core's framing: flags byte, topic length (u16 LE), topic, payload. */
export function unframe(bytes: Uint8Array): OutMessage {
  const b = Buffer.from(bytes);
  const topicLen = b.readUInt16LE(1);
  return {
    qos: (b[0] & 3) as 0 | 1 | 2,
    retain: (b[0] & 4) !== 0,
    topic: b.subarray(3, 3 + topicLen).toString("latin1"),
    payload: b.subarray(3 + topicLen),
  };
}

/** Names of the flag bits set in `flags`. */
export function flagNames(flags: number): string[] {
  return Object.entries(abi.codes.flag).filter(([, c]) => (flags & c.value) !== 0).map(([n]) => n);
}

export type { CorePanic };

/** A setting as a person wrote it: the core keeps settings as f32 (0.01 is 0.009999999776...),
 * and 7 significant digits are all an f32 holds. */
export function settingShown(value: number): number {
  return Number(value.toPrecision(7));
}
