// Calibration modules on the desktop: the module manager (build/manager.wasm, from
// assembly/manager) makes every decision, as it does on the ESP32 and the Pico W; this is its host.
// It gives the manager what must be native here: the slots (slots.ts), the signature check and
// SHA-256 (node:crypto), module instances with their fuel (instance.ts), the link to the core, and
// the way out for its answers. Per sample it runs the active module itself (no call into the
// manager), counts good readings and wakes the manager when a module failed or enough readings
// came for it to decide.
import { createHash, verify as verifySignature, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abi } from "../../abi.js";
import type { ScaleCore } from "../core.js";
import { CalibrationModule } from "./instance.js";
import { keyId, ModuleRefused } from "./package.js";
import { MemorySlots, SLOT_BYTES, type SlotStore } from "./slots.js";
import type { CalibrationSocket, CalibrationTarget } from "./socket.js";

export const managerWasmPath = fileURLToPath(new URL("../../../build/manager.wasm", import.meta.url));
export const coreManagerWasmPath = fileURLToPath(new URL("../../../build/core-manager.wasm", import.meta.url));
const contract = abi.calibration_module;
const ACTIVE = 0;

export interface ModuleEvent {
  /** What the answer is about: a calibration module (absent), the core itself, or the firmware image. */
  kind?: "core" | "firmware";
  step: string;
  status: "accepted" | "rejected";
  reason?: string;
  detail: string;
  module?: { name: string; version: string };
  offset?: number;
  chunk?: number;
}

export interface ModuleListing {
  slot: "a" | "b" | "c" | "d";
  kind: "module" | "core";
  role: "active" | "previous" | "spare";
  name: string;
  version: string;
  sha256: string;
  key?: string;
  trial: boolean;
  params?: number[];
}

/** Where a core swapped in over the air goes (the virtual scale: VirtualScale.swapCore). */
export interface CoreSwapper {
  /** wasm (the firmware's own core when null) in place of the running one; core_swap's code and words. */
  swapCore(wasm: Uint8Array | null, stateVersion: number): { code: number; words: string };
}

interface ManagerExports {
  memory: WebAssembly.Memory;
  mgr_io(): number;
  mgr_io_bytes(): number;
  mgr_configure(chunkBytes: number, metered: number): void;
  mgr_start(stateLen: number): void;
  mgr_message(subLen: number, payloadLen: number): void;
  mgr_after_sample(good: number, failed: number, x: number, kg: number): void;
  mgr_wake(): number;
  mgr_fit(order: number, n: number): number;
  mgr_rollback(): void;
  mgr_busy(): number;
  mgr_active(): number;
  mgr_active_version(): number;
  mgr_trial(): number;
  mgr_verify(slot: number, len: number): void;
  mgr_weigh(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number;
  mgr_explain(failed: number, x: number, kg: number): void;
  mgr_try(slot: number, len: number, mode: number): void;
  mgr_list(): number;
  mgr_resume(stateLen: number, mask: number): void;
}

/** The core manager's exports (assembly/manager/cores.ts). */
interface CoreManagerExports {
  memory: WebAssembly.Memory;
  mgr_io(): number;
  mgr_io_bytes(): number;
  mgr_configure(chunkBytes: number, metered: number): void;
  mgr_resume(stateLen: number): void;
  mgr_message(subLen: number, payloadLen: number): void;
  mgr_busy(): number;
  mgr_list(): number;
  mgr_core_boot(stateLen: number): number;
  mgr_core_boot_refused(code: number): void;
  mgr_core_failed(kind: number, n: number): void;
  mgr_core_wake(): number;
  mgr_core_readings(good: number): void;
  mgr_core_rollback(): void;
  mgr_core_verify(slot: number, len: number): void;
  mgr_core_slot(): number;
  mgr_core_version(): number;
  mgr_core_trial(): number;
}

let compiled: WebAssembly.Module | null = null;
function managerModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(managerWasmPath));
  return compiled;
}
let compiledCores: WebAssembly.Module | null = null;
function coreManagerModule(): WebAssembly.Module {
  compiledCores ??= new WebAssembly.Module(readFileSync(coreManagerWasmPath));
  return compiledCores;
}

export interface ManagerOptions {
  /** The milliseconds clock transfers time out on (tests give their own). */
  now?: () => number;
  /** The largest chunk this scale takes. */
  chunkBytes?: number;
  /** Where cores sent over the air are swapped in; without it they are refused. */
  cores?: CoreSwapper;
}

export class ModuleManager implements CalibrationTarget {
  private readonly x: ManagerExports;
  /** The core manager: made when a core's step, a firmware package or the core's trial needs it. */
  private coreManager: CoreManagerExports | null = null;
  /** The manager being called (the imports read and write its memory). */
  private current: { memory: WebAssembly.Memory };
  private readonly slots: SlotStore;
  private readonly handles: Array<CalibrationModule | null> = [null, null, null];
  private metered: Uint8Array[] = [];
  private payload: Uint8Array = new Uint8Array(0);
  private started = false;
  private good = 0;
  /** The failure since the last sample: 0 none, else mgr_after_sample's kind (1 curve, 2 gain refused, 3 gain not finite). */
  private failed = 0;
  private failX = 0;
  private failKg = 0;
  /** Where the active module's knots lie in its memory, and how many it declared last. */
  private knotsAt = 0;
  private knotCount = 0;
  private wakeAt = 0;
  /** Readings the core in force made since it went in, and when the manager is to hear of them. */
  private coreGood = 0;
  private coreWakeAt = 0;
  private readonly cores: CoreSwapper | null;
  private readonly now: () => number;
  private readonly chunkBytes: number;
  /** What the manager said (install, rollback, confirm, restore, fit...), for whoever reports it. */
  onEvent: (e: ModuleEvent) => void = () => {};
  /** The transfer's own steps (begin, chunk, end); set by ModuleTransfer. */
  onTransfer: ((e: ModuleEvent) => void) | null = null;
  private capture: ((e: ModuleEvent) => void) | null = null;

  constructor(
    private core: ScaleCore | null,
    socket: CalibrationSocket | null,
    slots: SlotStore | null,
    private readonly trusted: KeyObject[] | (() => KeyObject[]),
    options: ManagerOptions = {},
  ) {
    this.slots = slots ?? new MemorySlots();
    this.now = options.now ?? (() => performance.now());
    this.chunkBytes = options.chunkBytes ?? contract.transfer.chunkBytes;
    this.cores = options.cores ?? null;
    if (socket) socket.target = this;
    const instance = new WebAssembly.Instance(managerModule(), { mgr: this.imports() });
    this.x = instance.exports as unknown as ManagerExports;
    this.current = this.x;
    this.x.mgr_configure(this.chunkBytes, 1);
  }

  private get mem(): Uint8Array {
    return new Uint8Array(this.current.memory.buffer);
  }

  /**
   * fn with the core manager (made on first use), given the slots' state first; the module manager
   * learns the state again after it (the two keep the one blob, and only one changes it at a time).
   */
  private withCores<T>(fn: (c: CoreManagerExports) => T): T {
    if (!this.coreManager) {
      this.coreManager = new WebAssembly.Instance(coreManagerModule(), { mgr: this.imports() }).exports as unknown as CoreManagerExports;
      this.coreManager.mgr_configure(this.chunkBytes, 1);
    }
    const c = this.coreManager;
    const state = this.slots.state() ?? new Uint8Array(0);
    this.current = c;
    try {
      this.put(c.mgr_io(), state.subarray(0, c.mgr_io_bytes()));
      c.mgr_resume(state.length);
      return fn(c);
    } finally {
      this.coreWakeAt = c.mgr_core_wake();
      this.current = this.x;
      if (this.started) {
        const after = this.slots.state() ?? new Uint8Array(0);
        this.put(this.x.mgr_io(), after.subarray(0, this.x.mgr_io_bytes()));
        this.x.mgr_resume(after.length, (this.handles[ACTIVE] ? 1 : 0) | (this.handles[1] ? 2 : 0));
      }
    }
  }

  private text(ptr: number, len: number): string {
    return Buffer.from(this.mem.subarray(ptr, ptr + len)).toString("utf8");
  }

  private put(ptr: number, bytes: Uint8Array): void {
    this.mem.set(bytes, ptr);
  }

  private keys(): KeyObject[] {
    try {
      return typeof this.trusted === "function" ? this.trusted() : this.trusted;
    } catch {
      return []; // a key folder that cannot be read trusts nothing
    }
  }

  /** Bytes of a slot; slot 4 is the message being handled (a firmware package). */
  private slotBytes(slot: number, offset: number, len: number): Buffer {
    if (slot === 4) return Buffer.from(this.payload.subarray(offset, offset + len));
    const b = Buffer.alloc(len);
    const n = this.slots.read(slot, offset, b);
    return b.subarray(0, n);
  }

  private imports(): Record<string, (...args: number[]) => number | void> {
    return {
      slot_read: (slot, offset, ptr, len) => {
        if (slot !== 4) return this.slots.read(slot, offset, this.mem.subarray(ptr, ptr + len));
        const b = this.slotBytes(slot, offset, len);
        this.put(ptr, b);
        return b.length === len ? len : -1;
      },
      slot_erase: (slot) => (this.slots.erase(slot) ? 1 : 0),
      slot_write_message: (slot, offset) => (this.slots.write(slot, offset, this.payload) ? 1 : 0),
      slot_sha256: (slot, offset, len, out) => {
        const bytes = this.slotBytes(slot, offset, len);
        if (bytes.length !== len) return 0;
        this.put(out, createHash("sha256").update(bytes).digest());
        return 1;
      },
      slot_capacity: () => SLOT_BYTES,
      params_put: (slot, ptr, len) => (this.slots.putParams(slot, this.mem.slice(ptr, ptr + len)) ? 1 : 0),
      params_get: (slot, ptr, cap) => {
        const b = this.slots.params(slot);
        if (!b || b.length > cap) return 0;
        this.put(ptr, b);
        return b.length;
      },
      state_put: (ptr, len) => (this.slots.putState(this.mem.slice(ptr, ptr + len)) ? 1 : 0),
      message_read: (ptr, cap) => {
        this.put(ptr, this.payload.subarray(0, cap));
        return this.payload.length;
      },
      verify: (slot, manAt, manLen, sigAt, sigLen, key, keyLen) => {
        const named = keyLen ? this.text(key, keyLen) : null;
        const candidates = this.keys().filter((k) => named === null || keyId(k) === named);
        if (candidates.length === 0) return 1;
        const manifest = this.slotBytes(slot, manAt, manLen);
        const signature = this.slotBytes(slot, sigAt, sigLen);
        return candidates.some((k) => verifySignature("sha256", manifest, { key: k, dsaEncoding: "der" }, signature)) ? 0 : 2;
      },
      code_out: (ptr, len) => {
        this.metered.push(this.mem.slice(ptr, ptr + len));
      },
      mod_load: (h, _slot, _offset, _len, err, cap) => {
        const bytes = Buffer.concat(this.metered);
        this.metered = [];
        this.handles[h] = null;
        try {
          this.handles[h] = new CalibrationModule(bytes);
          return 0;
        } catch (e) {
          const words = Buffer.from((e as Error).message).subarray(0, cap);
          this.put(err, words);
          return 1 | (words.length << 16);
        }
      },
      mod_free: (h) => {
        this.handles[h] = null;
      },
      mod_swap: (a, b) => {
        [this.handles[a], this.handles[b]] = [this.handles[b], this.handles[a]];
      },
      mod_call: (h, fn, a, b) => this.handles[h]?.call(fn, a, b) ?? -0x80000000,
      mod_gain: (h, c0, c1, c2, c3) => this.handles[h]?.gain(c0, c1, c2, c3) ?? NaN,
      mod_curve: (h, t) => this.handles[h]?.curve(t) ?? -0x80000000,
      mod_failure: (h, ptr, cap) => {
        const f = this.handles[h]?.failure;
        if (!f) return 0;
        const words = Buffer.from(f.detail).subarray(0, cap);
        this.put(ptr, words);
        return f.kind | (words.length << 16);
      },
      mod_clear: (h) => {
        const m = this.handles[h];
        if (m) m.failure = null;
      },
      mod_memory: (h, addr, ptr, len, to) => {
        const m = this.handles[h];
        if (!m) return 0;
        const mem = m.memory;
        if (addr + len > mem.length) return 0;
        if (to) mem.set(this.mem.subarray(ptr, ptr + len), addr);
        else this.put(ptr, mem.subarray(addr, addr + len));
        return 1;
      },
      core_link: (on) => {
        const r = this.core ? this.core.calModule(on !== 0) : 0;
        this.good = 0;
        this.failed = 0;
        const active = this.handles[ACTIVE];
        if (active) active.failure = null;
        return r;
      },
      // The desktop runs no firmware image: a firmware package is refused with the manager's reason.
      firmware_version: () => 0,
      firmware_fetch: () => 3,
      core_swap: (slot, offset, len, state, err, cap) => {
        if (!this.cores) {
          const words = Buffer.from("this host does not swap cores").subarray(0, cap);
          this.put(err, words);
          return 1 | (words.length << 16);
        }
        const wasm = slot < 0 ? null : this.slotBytes(slot, offset, len);
        if (wasm && wasm.length !== len) return 1;
        const r = this.cores.swapCore(wasm, state);
        const words = Buffer.from(r.words).subarray(0, cap);
        this.put(err, words);
        this.coreGood = 0;
        return r.code | (words.length << 16);
      },
      answer: (ptr, len) => {
        const { cmd, core, ...rest } = JSON.parse(this.text(ptr, len)) as ModuleEvent & { cmd: string; core?: ModuleEvent["module"] };
        const { firmware, ...others } = rest as typeof rest & { firmware?: ModuleEvent["module"] };
        const named = core ?? firmware;
        const e: ModuleEvent = cmd === "core" || cmd === "firmware" ? { kind: cmd, ...others, ...(named ? { module: named } : {}) } : rest;
        if (this.capture) return this.capture(e);
        if (["begin", "chunk", "end", "module", "core"].includes(e.step) && this.onTransfer) this.onTransfer(e);
        else this.onEvent(e);
      },
      now_ms: () => this.now(),
    };
  }

  /** Runs fn with the manager's answers handed to `to` instead of the listeners. */
  private collect(to: (e: ModuleEvent) => void, fn: () => void): void {
    const before = this.capture;
    this.capture = to;
    try {
      fn();
    } finally {
      this.capture = before;
      this.refresh();
    }
  }

  /** When the module manager is to hear of the next sample, after any call into it. */
  private refresh(): void {
    this.wakeAt = this.x.mgr_wake();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    const state = this.slots.state() ?? new Uint8Array(0);
    this.put(this.x.mgr_io(), state.subarray(0, this.x.mgr_io_bytes()));
    this.x.mgr_start(state.length);
    this.refresh();
    if (this.cores) this.withCores(() => undefined); // a core on trial (after a swap, or none)
  }

  /** At start-up: the slots' module back in force, or rolled back; what happened, in sentences. */
  restore(): string[] {
    if (this.started) return [];
    const notes: string[] = [];
    const earlier = this.slots.earlierState?.();
    if (earlier) notes.push(earlier);
    this.collect((e) => {
      notes.push(e.detail);
      this.onEvent(e);
    }, () => this.start());
    return notes;
  }

  get activeModule(): { name: string; version: string; trial: boolean } | null {
    this.start();
    const p = this.x.mgr_active();
    if (!p) return null;
    const mem = this.mem;
    let end = p;
    while (mem[end] !== 0) end++;
    const v = this.x.mgr_active_version();
    return { name: this.text(p, end - p), version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, trial: this.x.mgr_trial() === 1 };
  }

  /** A message on the module topic: `sub` is what follows it ("begin", "chunk/4096", "end", "rollback";
   * a core's steps after "core/", and "firmware": the core manager's). */
  message(sub: string, payload: Uint8Array): void {
    this.start();
    const name = Buffer.from(sub, "utf8").subarray(0, 200);
    this.payload = payload;
    try {
      if (sub.startsWith("core/") || sub === "firmware") {
        this.withCores((c) => {
          this.put(c.mgr_io(), name);
          c.mgr_message(name.length, payload.length);
        });
      } else {
        this.put(this.x.mgr_io(), name);
        this.x.mgr_message(name.length, payload.length);
      }
    } finally {
      this.payload = new Uint8Array(0);
      this.refresh();
    }
  }

  /** Installs a package here (not over MQTT): the same transfer, checks and switch. The verdict. */
  install(bytes: Uint8Array, kind: "module" | "core" = "module"): ModuleEvent {
    this.start();
    const to = kind === "core" ? "core/" : "";
    let verdict: ModuleEvent | null = null;
    const quiet = (e: ModuleEvent) => {
      if (["begin", "chunk", "end"].includes(e.step) && e.status === "accepted") return;
      verdict ??= e;
      this.onEvent(e);
    };
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    this.collect(quiet, () => {
      this.message(`${to}begin`, Buffer.from(JSON.stringify({ size: bytes.length, sha256, sender: "local" })));
      for (let at = 0; at < bytes.length && !verdict; at += this.chunkBytes) {
        this.message(`${to}chunk/${at}`, bytes.subarray(at, at + this.chunkBytes));
      }
      if (!verdict) this.message(`${to}end`, new Uint8Array(0));
    });
    return verdict ?? { step: "install", status: "rejected", reason: "TRUNCATED", detail: "the scale gave no verdict" };
  }

  /** Back to the previous module (or the built-in calibration), or core; the verdict. */
  rollback(kind: "module" | "core" = "module"): ModuleEvent {
    this.start();
    let verdict: ModuleEvent | null = null;
    this.collect((e) => {
      verdict ??= e;
      this.onEvent(e);
    }, () => (kind === "core" ? this.withCores((c) => c.mgr_core_rollback()) : this.x.mgr_rollback()));
    return verdict!;
  }

  // ---- the core itself -----------------------------------------------------------------------

  /**
   * At start-up, before the core is instantiated: a trial cut short rolled back, and the core to
   * boot (null: the firmware's own). `refused` tells the manager the core it named did not load.
   */
  static bootCore(slots: SlotStore | null, trusted: KeyObject[] | (() => KeyObject[])): { wasm: Uint8Array | null; events: ModuleEvent[]; refused: (words: string) => void } {
    const events: ModuleEvent[] = [];
    const m = new ModuleManager(null, null, slots, trusted);
    const state = m.slots.state() ?? new Uint8Array(0);
    if (state.length === 0) return { wasm: null, events, refused: () => {} };
    let wasm: Uint8Array | null = null;
    m.collect((e) => events.push(e), () => m.withCores((c) => {
      m.put(c.mgr_io(), state.subarray(0, c.mgr_io_bytes()));
      const slot = c.mgr_core_boot(state.length);
      if (slot < 0) return;
      const io = new DataView(c.memory.buffer, c.mgr_io(), 8);
      wasm = m.slotBytes(slot, io.getUint32(0, true), io.getUint32(4, true));
    }));
    const refused = (why: string) => {
      const words = Buffer.from(why).subarray(0, 160);
      m.collect((e) => events.push(e), () => m.withCores((c) => {
        m.put(c.mgr_io(), words);
        c.mgr_core_boot_refused(1 | (words.length << 16));
      }));
    };
    return { wasm, events, refused };
  }

  /** The core swapped in: the module in force is linked to it. */
  setCore(core: ScaleCore): void {
    this.core = core;
    this.coreGood = 0;
    if (this.handles[ACTIVE]) core.calModule(true);
  }

  /** The core in force made a reading: a core on trial is confirmed after enough of them. */
  coreReading(): void {
    this.coreGood++;
    if (this.coreWakeAt > 0 && this.coreGood >= this.coreWakeAt) this.collect((e) => this.onEvent(e), () => this.withCores((c) => c.mgr_core_readings(this.coreGood)));
  }

  /** A core is on trial (a trap rolls it back). */
  get coreOnTrial(): boolean {
    return this.started && this.coreWakeAt > 0;
  }

  /** The core in force trapped (kind 1) or ran past its budget (2): rolled back when on trial. */
  coreFailed(kind: number, words: string): void {
    this.start();
    const bytes = Buffer.from(words).subarray(0, 200);
    this.collect((e) => this.onEvent(e), () => this.withCores((c) => {
      this.put(c.mgr_io(), bytes);
      c.mgr_core_failed(kind, bytes.length);
    }));
  }

  /** The core in force: its slot (null: the firmware's own), version, trial. */
  get activeCore(): { slot: "c" | "d" | null; version: string; trial: boolean } {
    this.start();
    return this.withCores((c) => {
      const slot = c.mgr_core_slot();
      const v = c.mgr_core_version();
      return { slot: slot === 2 ? "c" as const : slot === 3 ? "d" as const : null, version: `${(v >> 16) & 0xff}.${(v >> 8) & 0xff}.${v & 0xff}`, trial: c.mgr_core_trial() === 1 };
    });
  }

  /** The failure since the last sample, when there is none yet. */
  private fail(kind: number, x: number, value: number): void {
    if (this.failed) return;
    this.failed = kind;
    this.failX = x;
    this.failKg = value;
  }

  /** Per sample (CalibrationTarget): the active module's gain, or NaN for the core's fallback. */
  gain(c0: number, c1: number, c2: number, c3: number): number {
    const a = this.handles[ACTIVE];
    if (!a) return NaN;
    const g = a.gain(c0, c1, c2, c3);
    if (Number.isFinite(g)) {
      this.good++;
      return g;
    }
    this.fail(3, NaN, g);
    return NaN;
  }

  /** The active module's curve at a temperature (CalibrationTarget): its knot count, or negative. */
  curve(tempC: number): number {
    const a = this.handles[ACTIVE];
    this.knotCount = 0;
    if (!a) return -1;
    const n = a.curve(tempC);
    if (a.failure) {
      this.fail(1, NaN, NaN);
      return -1;
    }
    const at = a.call(8, 0, 0); // cal_knots (assembly/manager/install.ts FN_KNOTS)
    if (a.failure) {
      this.fail(1, NaN, NaN);
      return -1;
    }
    this.knotsAt = at;
    this.knotCount = n;
    return n;
  }

  /** Value i of the knots the active module declared last (CalibrationTarget); NaN outside them. */
  knot(i: number): number {
    const a = this.handles[ACTIVE];
    const at = this.knotsAt + i * 8;
    if (!a || i < 0 || i >= 2 * this.knotCount || at < 0 || at + 8 > a.memory.length) return NaN;
    return new DataView(a.memory.buffer, a.memory.byteOffset).getFloat64(at, true);
  }

  /** The core refused the active module's curve or gain (CalibrationTarget): rolled back after this sample. */
  fault(kind: number, x: number, value: number): void {
    this.fail(kind, x, value);
  }

  /** A calibration command with a module in force (CalibrationTarget): the manager fits and checks. */
  fit(order: number, xs: Float64Array, kgs: Float64Array, n: number): number {
    this.start();
    const io = this.x.mgr_io();
    const v = new DataView(this.x.memory.buffer, io, n * 16);
    for (let i = 0; i < n; i++) {
      v.setFloat64(i * 16, xs[i], true);
      v.setFloat64(i * 16 + 8, kgs[i], true);
    }
    const r = this.x.mgr_fit(order, n);
    this.refresh();
    return r;
  }

  /** After every sample: the manager decides on a failure, or once enough good readings came. */
  afterSample(): void {
    if (!(this.failed || this.wakeAt < 0 || (this.wakeAt > 0 && this.good >= this.wakeAt))) return;
    const failed = this.failed;
    this.failed = 0;
    this.x.mgr_after_sample(this.good, failed, this.failX, this.failKg);
    this.refresh();
  }

  /** What the slots hold, without loading anything (wasm-scale module list). */
  list(): ModuleListing[] {
    this.start();
    const n = this.x.mgr_list();
    const modules = JSON.parse(this.text(this.x.mgr_io(), n)) as ModuleListing[];
    const cores = this.withCores((c) => JSON.parse(this.text(c.mgr_io(), c.mgr_list())) as ModuleListing[]);
    return [...modules, ...cores];
  }

  /** Checks a package as an installation would, without switching to it (wasm-scale module|core verify). */
  verify(bytes: Uint8Array, kind: "module" | "core" = "module"): ModuleEvent {
    const slots = new MemorySlots();
    const slot = kind === "core" ? 2 : 0;
    slots.write(slot, 0, bytes);
    const checker = new ModuleManager(null, null, slots, this.trusted);
    let verdict: ModuleEvent | null = null;
    checker.collect((e) => (verdict ??= e), () => (kind === "core" ? checker.withCores((c) => c.mgr_core_verify(slot, bytes.length)) : checker.x.mgr_verify(slot, bytes.length)));
    return verdict!;
  }

  /** The active module's failure since the last sample, when it failed. */
  get failure(): { reason: string; detail: string } | null {
    if (!this.failed) return null;
    let said: ModuleEvent | null = null;
    this.collect((e) => (said ??= e), () => this.x.mgr_explain(this.failed, this.failX, this.failKg));
    const e = said as ModuleEvent | null;
    return { reason: e?.reason ?? "TRAPPED", detail: e?.detail ?? "the module failed" };
  }

  /**
   * A module to try on a recording (replay --module): a package's module with its manifest's
   * parameters, its vectors passed (its signature is not asked for), or a bare .wasm; it weighs
   * and fits through the returned manager, which keeps nothing.
   */
  static tryModule(bytes: Uint8Array, core: ScaleCore | null = null, o: { vectors?: boolean } = {}): ModuleManager {
    const slots = new MemorySlots();
    slots.write(0, 0, bytes);
    const m = new ModuleManager(core, null, slots, []);
    m.started = true;
    let verdict: ModuleEvent | null = null;
    const bare = bytes.length >= 4 && Buffer.from(bytes.subarray(0, 4)).toString("latin1") === "\0asm";
    m.collect((e) => (verdict ??= e), () => m.x.mgr_try(0, bytes.length, bare ? 1 : o.vectors === false ? 2 : 0));
    const v = verdict as ModuleEvent | null;
    if (!v || v.status !== "accepted") throw new ModuleRefused(v?.reason ?? "BAD_MODULE", v?.detail ?? "not loaded");
    return m;
  }

  /** The active module's weight as the core weighs with it, by the manager (module build's vectors; tests compare a scale's readings with it). */
  weigh(x: number, c0: number, c1: number, c2: number, c3: number, tempC: number): number {
    let kg = NaN;
    this.collect(() => {}, () => (kg = this.x.mgr_weigh(x, c0, c1, c2, c3, tempC)));
    return kg;
  }
}
