// Bounds what a calibration module can run. V8 cannot interrupt a Wasm call that loops for ever,
// so before a module is instantiated its code is rewritten: a mutable i32 global, `__fuel`, is
// added and exported, and every function entry and every loop iteration takes one unit from it;
// at zero the call traps (`unreachable`). The host sets the fuel before each call, so each call
// has its own budget. Straight-line code between two checks is finite, so bounding entries and
// iterations bounds the instructions. (On the ESP32, WAMR's own instruction limit does this.)
//
// The rewriter decodes every instruction of the allowed feature set (MVP, sign extension,
// non-trapping float-to-int, bulk memory) to find the loops; anything else is refused with its
// opcode, which is also how SIMD, reference types and other features outside the ABI are refused.

export class ModuleFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModuleFormatError";
  }
}

export const FUEL_EXPORT = "__fuel";

const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;
const SECTION_ORDER = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];

class Reader {
  constructor(readonly b: Uint8Array, public at = 0) {}

  byte(): number {
    if (this.at >= this.b.length) throw new ModuleFormatError("the module ends in the middle of a section");
    return this.b[this.at++];
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new ModuleFormatError("an integer is longer than its encoding allows");
    }
  }

  /** A signed LEB128 of at most 5 bytes, as an i32. */
  s32(): number {
    let result = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = this.byte();
      result |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    if (byte & 0x80) throw new ModuleFormatError("an integer is longer than its encoding allows");
    return shift < 32 && byte & 0x40 ? result | (~0 << shift) : result | 0;
  }

  name(): string {
    const n = this.u32();
    const at = this.at;
    this.skip(n);
    return Buffer.from(this.b.subarray(at, at + n)).toString("utf8");
  }

  /** Skips a signed LEB128 of at most maxBytes bytes. */
  skipSigned(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if ((this.byte() & 0x80) === 0) return;
    throw new ModuleFormatError("an integer is longer than its encoding allows");
  }

  skip(n: number): void {
    if (this.at + n > this.b.length) throw new ModuleFormatError("the module ends in the middle of a section");
    this.at += n;
  }
}

function u32Bytes(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function section(id: number, payload: number[] | Uint8Array): number[] {
  return [id, ...u32Bytes(payload.length), ...payload];
}

const VALTYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c]);

/** Skips one instruction's immediates; returns true when it was a loop (its body starts here). */
function skipImmediates(r: Reader, op: number): boolean {
  switch (true) {
    case op === 0x02 || op === 0x03 || op === 0x04: {
      const bt = r.b[r.at];
      if (bt === 0x40 || VALTYPES.has(bt)) r.skip(1);
      else r.skipSigned(5); // a type index: multi-value blocks, refused later by the engine's features
      return op === 0x03;
    }
    case op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x24):
      r.u32();
      return false;
    case op === 0x0e: {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.u32();
      return false;
    }
    case op === 0x11:
      r.u32();
      r.u32();
      return false;
    case op >= 0x28 && op <= 0x3e:
      r.u32();
      r.u32();
      return false;
    case op === 0x3f || op === 0x40:
      r.skip(1);
      return false;
    case op === 0x41:
      r.skipSigned(5);
      return false;
    case op === 0x42:
      r.skipSigned(10);
      return false;
    case op === 0x43:
      r.skip(4);
      return false;
    case op === 0x44:
      r.skip(8);
      return false;
    case op === 0xfc: {
      const sub = r.u32();
      if (sub <= 7) return false; // saturating float-to-int
      if (sub === 8) { r.u32(); r.skip(1); return false; } // memory.init
      if (sub === 9) { r.u32(); return false; } // data.drop
      if (sub === 10) { r.skip(2); return false; } // memory.copy
      if (sub === 11) { r.skip(1); return false; } // memory.fill
      throw new ModuleFormatError(`uses instruction 0xfc ${sub} (table operations), outside the module ABI's features`);
    }
    case op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || (op >= 0x45 && op <= 0xc4):
      return false;
    case op === 0xfd:
      throw new ModuleFormatError("uses SIMD, outside the module ABI's features");
    default:
      throw new ModuleFormatError(`uses opcode 0x${op.toString(16)}, outside the module ABI's features`);
  }
}

/** The check inserted at function entries and loop heads: fuel -= 1; trap when it went below 0. */
function check(global: number): number[] {
  const g = u32Bytes(global);
  return [0x23, ...g, 0x41, 0x01, 0x6b, 0x24, ...g, 0x23, ...g, 0x41, 0x00, 0x48, 0x04, 0x40, 0x00, 0x0b];
}

function meterBody(body: Uint8Array, global: number, seen: { grow: boolean }): number[] {
  const r = new Reader(body);
  const groups = r.u32();
  for (let i = 0; i < groups; i++) {
    r.u32();
    r.skip(1);
  }
  const out: number[] = [...body.subarray(0, r.at), ...check(global)];
  let copied = r.at;
  while (r.at < body.length) {
    const op = r.byte();
    if (op === 0x40) seen.grow = true;
    if (skipImmediates(r, op)) {
      out.push(...body.subarray(copied, r.at), ...check(global));
      copied = r.at;
    }
  }
  out.push(...body.subarray(copied));
  return out;
}

export interface GlobalInfo {
  type: number;
  mutable: boolean;
  /** The constant initial value of an i32 global, else null. */
  i32: number | null;
}

export interface MeteredModule {
  bytes: Uint8Array;
  /** Declared memory limits in pages: max is null when the module declares none. */
  memory: { min: number; max: number | null } | null;
  /** What WAMR's memory shrinking and a start-up run depend on (see module.ts). */
  globals: GlobalInfo[];
  exportedGlobals: Map<string, number>;
  hasStart: boolean;
  usesMemoryGrow: boolean;
}

function readGlobals(payload: Uint8Array): GlobalInfo[] {
  const r = new Reader(payload);
  const n = r.u32();
  const out: GlobalInfo[] = [];
  for (let i = 0; i < n; i++) {
    const type = r.byte();
    const mutable = r.byte() === 1;
    const op = r.byte();
    let value: number | null = null;
    if (op === 0x41) value = r.s32();
    else skipImmediates(r, op);
    if (r.byte() !== 0x0b) throw new ModuleFormatError("a global's initial value is not a constant");
    out.push({ type, mutable, i32: type === 0x7f ? value : null });
  }
  return out;
}

function readExportedGlobals(payload: Uint8Array): Map<string, number> {
  const r = new Reader(payload);
  const n = r.u32();
  const out = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const name = r.name();
    const kind = r.byte();
    const index = r.u32();
    if (kind === 0x03) out.set(name, index);
  }
  return out;
}

/** Rewrites a module so each call runs on the fuel in its exported `__fuel` global (initially `initialFuel`). */
export function meter(wasm: Uint8Array, initialFuel: number): MeteredModule {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new ModuleFormatError("not a WebAssembly module");
  }
  const r = new Reader(wasm, 8);
  const sections: Array<{ id: number; payload: Uint8Array }> = [];
  while (r.at < wasm.length) {
    const id = r.byte();
    const size = r.u32();
    const start = r.at;
    r.skip(size);
    sections.push({ id, payload: wasm.subarray(start, start + size) });
  }
  let memory: MeteredModule["memory"] = null;
  let globalList: GlobalInfo[] = [];
  let exportedGlobals = new Map<string, number>();
  let hasStart = false;
  for (const s of sections) {
    if (s.id === 2 && new Reader(s.payload).u32() > 0) throw new ModuleFormatError("imports something: a calibration module may import nothing");
    if (s.id === SECTION_GLOBAL) globalList = readGlobals(s.payload);
    if (s.id === SECTION_EXPORT) exportedGlobals = readExportedGlobals(s.payload);
    if (s.id === 8) hasStart = true;
    if (s.id === 5) {
      const m = new Reader(s.payload);
      const n = m.u32();
      if (n !== 1) throw new ModuleFormatError(`declares ${n} memories; a calibration module has one`);
      const flags = m.byte();
      const min = m.u32();
      memory = { min, max: flags & 1 ? m.u32() : null };
    }
  }
  const fuel = globalList.length; // no imported globals: the new global's index is the count so far
  const seen = { grow: false };
  const out: number[] = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
  const emit = (id: number, payload: number[] | Uint8Array) => out.push(...section(id, payload));
  const newGlobal = [0x7f, 0x01, 0x41, ...signed32(initialFuel), 0x0b];
  const newExport = [...u32Bytes(FUEL_EXPORT.length), ...Buffer.from(FUEL_EXPORT), 0x03, ...u32Bytes(fuel)];
  let sawGlobal = false;
  let sawExport = false;
  const pending = (before: number) => {
    // Sections the module lacks are added where their order puts them.
    const rank = before < 0 ? SECTION_ORDER.length : SECTION_ORDER.indexOf(before);
    if (!sawGlobal && rank > SECTION_ORDER.indexOf(SECTION_GLOBAL)) {
      sawGlobal = true;
      emit(SECTION_GLOBAL, [1, ...newGlobal]);
    }
    if (!sawExport && rank > SECTION_ORDER.indexOf(SECTION_EXPORT)) {
      sawExport = true;
      emit(SECTION_EXPORT, [1, ...newExport]);
    }
  };
  for (const s of sections) {
    if (s.id !== 0) pending(s.id);
    if (s.id === SECTION_GLOBAL) {
      sawGlobal = true;
      const g = new Reader(s.payload);
      emit(s.id, [...u32Bytes(g.u32() + 1), ...s.payload.subarray(g.at), ...newGlobal]);
    } else if (s.id === SECTION_EXPORT) {
      sawExport = true;
      const e = new Reader(s.payload);
      emit(s.id, [...u32Bytes(e.u32() + 1), ...s.payload.subarray(e.at), ...newExport]);
    } else if (s.id === SECTION_CODE) {
      const c = new Reader(s.payload);
      const n = c.u32();
      const bodies: number[] = [...u32Bytes(n)];
      for (let i = 0; i < n; i++) {
        const size = c.u32();
        const body = meterBody(s.payload.subarray(c.at, c.at + size), fuel, seen);
        c.skip(size);
        bodies.push(...u32Bytes(body.length), ...body);
      }
      emit(s.id, bodies);
    } else {
      emit(s.id, s.payload);
    }
  }
  pending(-1);
  return { bytes: Uint8Array.from(out), memory, globals: globalList, exportedGlobals, hasStart, usesMemoryGrow: seen.grow };
}

function signed32(v: number): number[] {
  const out: number[] = [];
  let more = true;
  while (more) {
    let byte = v & 0x7f;
    v >>= 7;
    more = !((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0));
    if (more) byte |= 0x80;
    out.push(byte);
  }
  return out;
}
