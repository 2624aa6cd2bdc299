// Where the desktop keeps calibration modules: two package slots, each slot's parameters and the
// module manager's state, as files in a folder beside the store (the ESP32 keeps them in its
// `modules` partition and NVS, the Pico W in flash). The state and the parameters are replaced
// atomically (old or new after a crash); a package is written chunk by chunk into the spare slot,
// which the manager's state does not count as holding anything until the package is installed.
// What the files mean is the manager's (assembly/manager/slots.ts); this only stores bytes.
import { makeDirs } from "../files.js";
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import { abi } from "../../abi.js";

export type SlotName = "a" | "b" | "c" | "d";
/** Slots a and b hold calibration modules, c and d cores. */
const NAMES: SlotName[] = ["a", "b", "c", "d"];
const packageFile = (slot: number) => (slot >= 2 ? `${NAMES[slot]}.core` : `${NAMES[slot]}.module`);
/** The most a slot holds: the largest package. */
export const SLOT_BYTES = abi.calibration_module.package.maxWasmBytes + abi.calibration_module.package.maxManifestBytes + 1024;

/** The slots beside a store file (npm start keeps them there). */
export function slotsDir(store: string): string {
  return join(dirname(store), "modules");
}

/** Bytes in four slots, parameters and a state blob: in a folder, or in memory. */
export interface SlotStore {
  read(slot: number, offset: number, into: Uint8Array): number;
  erase(slot: number): boolean;
  write(slot: number, offset: number, bytes: Uint8Array): boolean;
  params(slot: number): Uint8Array | null;
  putParams(slot: number, bytes: Uint8Array): boolean;
  state(): Uint8Array | null;
  putState(bytes: Uint8Array): boolean;
  /** A sentence when the slots hold a state an earlier version wrote, which this one does not read. */
  earlierState?(): string | null;
}

export class MemorySlots implements SlotStore {
  private readonly slots = [Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)];
  private readonly blobs: Array<Uint8Array | null> = [null, null];
  private blob: Uint8Array | null = null;

  read(slot: number, offset: number, into: Uint8Array): number {
    const s = this.slots[slot];
    const n = Math.max(0, Math.min(into.length, s.length - offset));
    into.set(s.subarray(offset, offset + n));
    return n;
  }

  erase(slot: number): boolean {
    this.slots[slot] = Buffer.alloc(0);
    return true;
  }

  write(slot: number, offset: number, bytes: Uint8Array): boolean {
    const s = this.slots[slot];
    if (offset > s.length || offset + bytes.length > SLOT_BYTES) return false;
    const next = Buffer.alloc(Math.max(s.length, offset + bytes.length));
    s.copy(next);
    next.set(bytes, offset);
    this.slots[slot] = next;
    return true;
  }

  params(slot: number): Uint8Array | null {
    return this.blobs[slot];
  }

  putParams(slot: number, bytes: Uint8Array): boolean {
    this.blobs[slot] = Uint8Array.from(bytes);
    return true;
  }

  state(): Uint8Array | null {
    return this.blob;
  }

  putState(bytes: Uint8Array): boolean {
    this.blob = Uint8Array.from(bytes);
    return true;
  }
}

export class ModuleSlots implements SlotStore {
  constructor(readonly dir: string) {}

  private file(name: string): string {
    return join(this.dir, name);
  }

  read(slot: number, offset: number, into: Uint8Array): number {
    const path = this.file(packageFile(slot));
    if (!existsSync(path)) return 0;
    const fd = openSync(path, "r");
    try {
      return readSync(fd, into, 0, into.length, offset);
    } finally {
      closeSync(fd);
    }
  }

  erase(slot: number): boolean {
    makeDirs(this.dir);
    writeFileSync(this.file(packageFile(slot)), Buffer.alloc(0), { mode: 0o600 });
    return true;
  }

  write(slot: number, offset: number, bytes: Uint8Array): boolean {
    const path = this.file(packageFile(slot));
    if (!existsSync(path) || statSync(path).size < offset || offset + bytes.length > SLOT_BYTES) return false;
    const fd = openSync(path, "r+");
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  params(slot: number): Uint8Array | null {
    const path = this.file(`${NAMES[slot]}.params`);
    return existsSync(path) ? readFileSync(path) : null;
  }

  putParams(slot: number, bytes: Uint8Array): boolean {
    makeDirs(this.dir);
    writeFileAtomic.sync(this.file(`${NAMES[slot]}.params`), Buffer.from(bytes));
    return true;
  }

  state(): Uint8Array | null {
    const path = this.file("state.bin");
    return existsSync(path) ? readFileSync(path) : null;
  }

  putState(bytes: Uint8Array): boolean {
    makeDirs(this.dir);
    writeFileAtomic.sync(this.file("state.bin"), Buffer.from(bytes));
    return true;
  }

  earlierState(): string | null {
    if (existsSync(this.file("state.bin")) || !existsSync(this.file("state.json"))) return null;
    return `${this.file("state.json")} is the slots' state of an earlier wasm-scale, which this one does not read: the built-in calibration weighs; install the module again (its package is still in ${this.dir})`;
  }
}
