// A byte reader over a slot (through a small window the host refills) or over memory. Packages
// are read where they lie: the manager never holds a whole package or module (the ESP32 could not
// spare the RAM), only the window and what it decides on.
import { slot_read } from "./host";

const WINDOW: i32 = 512;
const win = memory.data(WINDOW);

let pos: usize = 0;
let end: usize = 0;
let slot: i32 = -1;
let next: u32 = 0; // the slot offset the window's end stands for
let limit: u32 = 0;
/** Set when a read ran past the end (or the host could not read): the caller refuses. */
export let rEof = false;

/** Reads slot bytes [from, to). */
export function rSlot(s: i32, from: u32, to: u32): void {
  slot = s;
  next = from;
  limit = to;
  pos = win;
  end = win;
  rEof = false;
}

/** Reads n bytes of memory at p. */
export function rMemory(p: usize, n: u32): void {
  slot = -1;
  pos = p;
  end = p + <usize>n;
  next = n;
  limit = n;
  rEof = false;
}

/** The offset of the next byte (in the slot, or from the start of the memory read). */
export function rAt(): u32 {
  return next - <u32>(end - pos);
}

function refill(): bool {
  if (slot < 0 || next >= limit) return false;
  const n = min<u32>(<u32>WINDOW, limit - next);
  if (slot_read(slot, next, win, n) != <i32>n) return false;
  pos = win;
  end = win + <usize>n;
  next += n;
  return true;
}

/** The next byte, or -1 (and rEof) at the end. */
export function rByte(): i32 {
  if (pos >= end && !refill()) {
    rEof = true;
    return -1;
  }
  return <i32>load<u8>(pos++);
}

/** The next byte without taking it, or -1. */
export function rPeek(): i32 {
  if (pos >= end && !refill()) return -1;
  return <i32>load<u8>(pos);
}

export function rSkip(n: u32): void {
  const here = <u32>(end - pos);
  if (n <= here) {
    pos += <usize>n;
    return;
  }
  const at = rAt() + n;
  if (slot < 0 || at > limit) {
    pos = end;
    rEof = true;
    return;
  }
  next = at;
  pos = win;
  end = win;
}

export function rU32(): u32 {
  let v: u32 = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const b = rByte();
    if (b < 0) return 0;
    v |= <u32>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  rEof = true;
  return 0;
}

export function rS32(): i32 {
  let v: i32 = 0;
  let shift = 0;
  let b = 0x80;
  while ((b & 0x80) && shift < 35) {
    b = rByte();
    if (b < 0) return 0;
    v |= (b & 0x7f) << shift;
    shift += 7;
  }
  if (b & 0x80) rEof = true;
  if (shift < 32 && (b & 0x40)) v |= -1 << shift;
  return v;
}

/** Skips a signed LEB128 of at most maxBytes bytes. */
export function rSkipSigned(maxBytes: i32): void {
  for (let i = 0; i < maxBytes; i++) {
    const b = rByte();
    if (b < 0 || !(b & 0x80)) return;
  }
  rEof = true;
}
