// What the module ABI asks of a module's .wasm, read where it lies in its slot: no imports, no
// start function, one memory of at most one page, __data_end <= __heap_base exported as constants
// (WAMR then gives the module only its static data), no mutable i32 global WAMR would take for a
// stack pointer, every instruction within the ABI's features (MVP, sign extension, non-trapping
// float-to-int, bulk memory), no memory.grow, and the exports the ABI names.
//
// For hosts whose engine cannot stop a call (V8, wasm3), the module is then written out again
// with a fuel counter: a mutable i32 global `__fuel` added and exported, and every function entry
// and loop iteration taking one unit from it, trapping below zero. The host sets the fuel before
// each call, so each call runs on its own budget; straight-line code between two checks is finite,
// so bounding entries and iterations bounds the instructions.
import { rSlot, rByte, rPeek, rU32, rS32, rSkip, rSkipSigned, rAt, rEof } from "./reader";
import { refuse, d, dn, dc } from "./out";
import { slot_read, code_out } from "./host";
import { same } from "./json";

const MAX_GLOBALS: i32 = 64;
const MAX_FUNCS: i32 = 256;
const gMutI32 = memory.data(MAX_GLOBALS);
const gConst = memory.data(MAX_GLOBALS);
const gValue = memory.data(MAX_GLOBALS * 4);
const nameBuf = memory.data(32);

let nGlobals: i32 = 0;
let nFuncs: i32 = 0;
let memories: i32 = -1;
let maxPages: i64 = -1;
let heapBaseAt: i32 = -1;
let dataEndAt: i32 = -1;
let exportsSeen: i32 = 0;
let usesGrow = false;

// The exports the module ABI names (abi.json calibration_module.exports), func but for memory.
const EXPORTS = "memory,cal_abi,cal_name,cal_version,cal_curve,cal_knots,cal_gain,cal_points,cal_fit,cal_params,cal_params_save,cal_params_load";
const N_EXPORTS = 12;

function exportIndex(p: usize, n: i32): i32 {
  let start = 0;
  for (let k = 0; k < N_EXPORTS; k++) {
    let end = EXPORTS.indexOf(",", start);
    if (end < 0) end = EXPORTS.length;
    if (end - start == n) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = <i32>load<u8>(p + <usize>i) == EXPORTS.charCodeAt(start + i);
      if (same) return k;
    }
    start = end + 1;
  }
  return -1;
}

function malformed(): bool {
  refuse("BAD_MODULE");
  d("the module is malformed (it ends inside a section, or a section overruns it)");
  return false;
}

function isValtype(b: i32): bool {
  return b == 0x7f || b == 0x7e || b == 0x7d || b == 0x7c;
}

/** Skips one instruction's immediates: 1 when it opened a loop, 0 otherwise, -1 refused. */
function immediates(op: i32): i32 {
  if (op == 0x02 || op == 0x03 || op == 0x04) {
    if (rPeek() == 0x40 || isValtype(rPeek())) rByte();
    else rSkipSigned(5); // a type index: multi-value, which the engine refuses
    return op == 0x03 ? 1 : 0;
  }
  if (op == 0x0c || op == 0x0d || op == 0x10 || (op >= 0x20 && op <= 0x24)) { rU32(); return 0; }
  if (op == 0x0e) {
    const n = rU32();
    for (let i: u32 = 0; i <= n && !rEof; i++) rU32();
    return 0;
  }
  if (op == 0x11 || (op >= 0x28 && op <= 0x3e)) { rU32(); rU32(); return 0; }
  if (op == 0x3f || op == 0x40) {
    if (op == 0x40) usesGrow = true;
    rByte();
    return 0;
  }
  if (op == 0x41) { rSkipSigned(5); return 0; }
  if (op == 0x42) { rSkipSigned(10); return 0; }
  if (op == 0x43) { rSkip(4); return 0; }
  if (op == 0x44) { rSkip(8); return 0; }
  if (op == 0xfc) {
    const sub = rU32();
    if (sub <= 7) return 0;
    if (sub == 8) { rU32(); rByte(); return 0; }
    if (sub == 9) { rU32(); return 0; }
    if (sub == 10) { rByte(); rByte(); return 0; }
    if (sub == 11) { rByte(); return 0; }
    refuse("BAD_MODULE");
    d("uses instruction 0xfc ");
    dn(sub);
    d(" (table operations), outside the module ABI's features");
    return -1;
  }
  if (op <= 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x1a || op == 0x1b || (op >= 0x45 && op <= 0xc4)) return 0;
  refuse("BAD_MODULE");
  if (op == 0xfd) d("uses SIMD, outside the module ABI's features");
  else {
    d("uses opcode ");
    dn(op);
    d(", outside the module ABI's features");
  }
  return -1;
}

/** Walks a function body to its end; the loops it opens, or -1 (refused). */
function walkBody(end: u32): i32 {
  const groups = rU32();
  for (let i: u32 = 0; i < groups && !rEof; i++) {
    rU32();
    rByte();
  }
  let loops = 0;
  while (rAt() < end && !rEof) {
    const r = immediates(rByte());
    if (r < 0) return -1;
    loops += r;
  }
  if (rEof || rAt() != end) {
    malformed();
    return -1;
  }
  return loops;
}

function readGlobals(): bool {
  const n = <i32>rU32();
  if (n > MAX_GLOBALS) {
    refuse("BAD_MODULE");
    d("more than 64 globals");
    return false;
  }
  nGlobals = n;
  for (let i = 0; i < n && !rEof; i++) {
    const type = rByte();
    const mut = rByte();
    const op = rByte();
    store<u8>(gMutI32 + <usize>i, type == 0x7f && mut == 1 ? 1 : 0);
    store<u8>(gConst + <usize>i, type == 0x7f && op == 0x41 ? 1 : 0);
    store<i32>(gValue + <usize>(i * 4), 0);
    if (op == 0x41) store<i32>(gValue + <usize>(i * 4), rS32());
    else if (op == 0x42) rSkipSigned(10);
    else if (op == 0x43) rSkip(4);
    else if (op == 0x44) rSkip(8);
    else {
      refuse("BAD_MODULE");
      d("a global's initial value is not a constant");
      return false;
    }
    if (rByte() != 0x0b) return malformed();
  }
  return true;
}

function readExports(): void {
  const n = rU32();
  for (let i: u32 = 0; i < n && !rEof; i++) {
    const len = rU32();
    let k = -1;
    if (len <= 32) {
      for (let j: u32 = 0; j < len; j++) store<u8>(nameBuf + <usize>j, <u8>rByte());
      k = exportIndex(nameBuf, <i32>len);
    } else {
      rSkip(len);
    }
    const kind = rByte();
    const index = rU32();
    if (k >= 0 && kind == (k == 0 ? 2 : 0)) exportsSeen |= 1 << k;
    if (kind == 3 && same(nameBuf, <i32>len, "__heap_base")) heapBaseAt = <i32>index;
    if (kind == 3 && same(nameBuf, <i32>len, "__data_end")) dataEndAt = <i32>index;
  }
}

/** Checks len bytes of slot from `at` as a module of the ABI. */
/** Starts reading the len bytes of slot from at as WebAssembly: false (and the refusal) when they do not begin as a module. */
export function startWasm(slot: i32, at: u32, len: u32): bool {
  rSlot(slot, at, at + len);
  if (len >= 8 && rByte() == 0 && rByte() == 0x61 && rByte() == 0x73 && rByte() == 0x6d && rByte() == 1 && rByte() == 0 && rByte() == 0 && rByte() == 0) return true;
  refuse("BAD_MODULE");
  d("not a WebAssembly module");
  return false;
}

export function scanModule(slot: i32, at: u32, len: u32): bool {
  nGlobals = 0;
  nFuncs = 0;
  memories = -1;
  maxPages = -1;
  heapBaseAt = -1;
  dataEndAt = -1;
  exportsSeen = 0;
  usesGrow = false;
  const end = at + len;
  if (!startWasm(slot, at, len)) return false;
  while (rAt() < end) {
    const id = rByte();
    const size = rU32();
    const start = rAt();
    if (rEof || <u64>start + <u64>size > <u64>end) return malformed();
    const stop = start + size;
    if (id == 2 && rU32() > 0) {
      refuse("FORBIDDEN_IMPORT");
      d("imports something: a calibration module may import nothing");
      return false;
    } else if (id == 8) {
      refuse("BAD_MODULE");
      d("has a start function (it would run before any budget applies): initialise with constants");
      return false;
    } else if (id == 5) {
      memories = <i32>rU32();
      if (memories == 1) {
        const flags = rByte();
        rU32();
        if (flags & 1) maxPages = rU32();
      }
    } else if (id == 6) {
      if (!readGlobals()) return false;
    } else if (id == 7) {
      readExports();
    } else if (id == 10) {
      const n = <i32>rU32();
      if (n > MAX_FUNCS) {
        refuse("BAD_MODULE");
        d("more than 256 functions");
        return false;
      }
      nFuncs = n;
      for (let i = 0; i < n && !rEof; i++) {
        const size = rU32();
        const bodyEnd = rAt() + size;
        if (bodyEnd > stop) return malformed();
        if (walkBody(bodyEnd) < 0) return false;
      }
    } else if (id > 12) {
      refuse("BAD_MODULE");
      d("has a section of unknown id ");
      dn(id);
      return false;
    }
    if (id == 0 || id == 1 || id == 2 || id == 3 || id == 4 || id == 9 || id == 11 || id == 12) rSkip(stop - rAt());
    if (rEof || rAt() != stop) return malformed();
  }
  return checkLayout();
}

function checkLayout(): bool {
  if (heapBaseAt < 0 || dataEndAt < 0 || heapBaseAt >= nGlobals || dataEndAt >= nGlobals ||
      !load<u8>(gConst + <usize>heapBaseAt) || !load<u8>(gConst + <usize>dataEndAt) ||
      load<u8>(gMutI32 + <usize>heapBaseAt) || load<u8>(gMutI32 + <usize>dataEndAt)) {
    refuse("MEMORY");
    d("exports no constant __heap_base and __data_end: the ESP32 would give it a whole 64 KiB page (export { __heap_base, __data_end })");
    return false;
  }
  const heapBase = load<u32>(gValue + <usize>(heapBaseAt * 4));
  const dataEnd = load<u32>(gValue + <usize>(dataEndAt * 4));
  if (dataEnd > heapBase || heapBase > 65536 || ((dataEnd + 15) & ~15) > heapBase) {
    refuse("MEMORY");
    d("__data_end ");
    dn(dataEnd);
    d(" and __heap_base ");
    dn(heapBase);
    d(" do not let WAMR shrink its memory (__heap_base a multiple of 16 past __data_end)");
    return false;
  }
  if (usesGrow) {
    refuse("MEMORY");
    d("uses memory.grow: its memory must stay its static data");
    return false;
  }
  for (let i = 0; i < nGlobals; i++) {
    if (load<u8>(gMutI32 + <usize>i) && load<u8>(gConst + <usize>i) && load<u32>(gValue + <usize>(i * 4)) <= heapBase) {
      const v = load<i32>(gValue + <usize>(i * 4));
      if (v != 0) {
        refuse("BAD_MODULE");
        d("a mutable i32 global starts at ");
        dn(v);
        d(": WAMR would take it for a stack pointer and trap its writes (keep such state in memory)");
        return false;
      }
      break;
    }
  }
  if (memories != 1) {
    refuse("MEMORY");
    if (memories < 1) d("has no memory (it must export one)");
    else {
      d("declares ");
      dn(memories);
      d(" memories; a calibration module has one");
    }
    return false;
  }
  if (maxPages < 0) {
    refuse("MEMORY");
    d("memory may grow without limit: declare a maximum of 1 page(s)");
    return false;
  }
  if (maxPages > 1) {
    refuse("MEMORY");
    d("memory may grow to ");
    dn(<f64>maxPages);
    d(" pages; the module ABI allows 1");
    return false;
  }
  if (exportsSeen != (1 << N_EXPORTS) - 1) {
    refuse("BAD_MODULE");
    d("missing export(s)");
    let start = 0;
    for (let k = 0; k < N_EXPORTS; k++) {
      let e = EXPORTS.indexOf(",", start);
      if (e < 0) e = EXPORTS.length;
      if (!(exportsSeen & (1 << k))) {
        d(" ");
        for (let i = start; i < e; i++) dc(EXPORTS.charCodeAt(i));
      }
      start = e + 1;
    }
    return false;
  }
  return true;
}

// ---- the metered copy ------------------------------------------------------------------------------
const OUT_CAP: i32 = 512;
const out = memory.data(OUT_CAP);
let outN: i32 = 0;

function flush(): void {
  if (outN > 0) code_out(out, <u32>outN);
  outN = 0;
}

function put(b: i32): void {
  if (outN == OUT_CAP) flush();
  store<u8>(out + <usize>outN, <u8>b);
  outN++;
}

function lebLen(v: u32): u32 {
  let n: u32 = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

function putLeb(v: u32): void {
  do {
    let b = v & 0x7f;
    v >>= 7;
    if (v) b |= 0x80;
    put(<i32>b);
  } while (v);
}

/** Copies slot bytes [from, to) out. */
function copy(slot: i32, from: u32, to: u32): void {
  while (from < to) {
    if (outN == OUT_CAP) flush();
    const n = min<u32>(to - from, <u32>(OUT_CAP - outN));
    slot_read(slot, from, out + <usize>outN, n);
    outN += <i32>n;
    from += n;
  }
}

function checkBytes(): u32 {
  return 3 * lebLen(<u32>nGlobals) + 13;
}

/** fuel -= 1; if (fuel < 0) unreachable */
function putCheck(): void {
  const g = <u32>nGlobals;
  put(0x23); putLeb(g); put(0x41); put(0x01); put(0x6b); put(0x24); putLeb(g);
  put(0x23); putLeb(g); put(0x41); put(0x00); put(0x48); put(0x04); put(0x40); put(0x00); put(0x0b);
}

/**
 * Writes the module scanned last (scanModule passed) out through code_out with its fuel counter.
 * Its sections in order, the global, export and code sections rewritten.
 */
export function meterModule(slot: i32, at: u32, len: u32): void {
  const end = at + len;
  outN = 0;
  copy(slot, at, at + 8);
  rSlot(slot, at + 8, end);
  const check = checkBytes();
  const fuelExport: u32 = 1 + 6 + 1 + lebLen(<u32>nGlobals);
  while (rAt() < end) {
    const id = rByte();
    const size = rU32();
    const start = rAt();
    const stop = start + size;
    if (id == 6 || id == 7) {
      const n = rU32();
      const countLen = rAt() - start;
      put(id);
      putLeb(size - countLen + lebLen(n + 1) + (id == 6 ? 5 : fuelExport));
      putLeb(n + 1);
      copy(slot, rAt(), stop);
      rSkip(stop - rAt());
      if (id == 6) {
        put(0x7f); put(0x01); put(0x41); put(0x00); put(0x0b);
      } else {
        put(6);
        put(0x5f); put(0x5f); put(0x66); put(0x75); put(0x65); put(0x6c); // __fuel
        put(0x03);
        putLeb(<u32>nGlobals);
      }
    } else if (id == 10) {
      // Each body grows by a check per entry and loop: the section's size first (a walk over the
      // bodies), then each body's size (a walk over it) and its bytes (again); the manager keeps no
      // table of them.
      const n = rU32();
      const bodies = rAt();
      let total = lebLen(n);
      for (let i: u32 = 0; i < n; i++) {
        const old = rU32();
        const body = old + <u32>(1 + walkBody(rAt() + old)) * check;
        total += lebLen(body) + body;
      }
      put(10);
      putLeb(total);
      putLeb(n);
      rSlot(slot, bodies, end);
      for (let i: u32 = 0; i < n; i++) {
        const old = rU32();
        const start = rAt();
        const bodyEnd = start + old;
        const body = old + <u32>(1 + walkBody(bodyEnd)) * check;
        rSlot(slot, start, end);
        putLeb(body);
        let copied = rAt();
        const groups = rU32();
        for (let k: u32 = 0; k < groups; k++) {
          rU32();
          rByte();
        }
        copy(slot, copied, rAt());
        copied = rAt();
        putCheck();
        while (rAt() < bodyEnd) {
          if (immediates(rByte()) == 1) {
            copy(slot, copied, rAt());
            copied = rAt();
            putCheck();
          }
        }
        copy(slot, copied, bodyEnd);
      }
    } else {
      put(id);
      putLeb(size);
      copy(slot, start, stop);
      rSkip(size);
    }
  }
  flush();
}
