// Strict JSON read through the reader (reader.ts): the manifest of a package and a transfer's
// begin. Only what those carry: objects, arrays, strings, numbers, null.
import { rByte, rPeek } from "./reader";

const NUM_CAP: i32 = 40;
// Room for a number's characters as an AssemblyScript string (a 20-byte header, then UTF-16), so
// the standard library's correctly rounding parser reads it without allocating.
const numText = memory.data(20 + NUM_CAP * 2);

export function jWs(): void {
  for (;;) {
    const c = rPeek();
    if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) rByte();
    else return;
  }
}

/** Takes c after whitespace; false when something else comes. */
export function jTake(c: i32): bool {
  jWs();
  if (rPeek() != c) return false;
  rByte();
  return true;
}

/** The next character after whitespace, not taken. */
export function jNext(): i32 {
  jWs();
  return rPeek();
}

/** A string into p (at most cap bytes); its length, -1 when it is not a string or too long. */
export function jString(p: usize, cap: i32): i32 {
  if (!jTake(0x22)) return -1;
  let n = 0;
  for (;;) {
    let c = rByte();
    if (c < 0 || (c < 0x20)) return -1;
    if (c == 0x22) return n;
    if (c == 0x5c) {
      c = rByte();
      if (c == 0x6e) c = 0x0a;
      else if (c == 0x74) c = 0x09;
      else if (c == 0x72) c = 0x0d;
      else if (c == 0x62) c = 0x08;
      else if (c == 0x66) c = 0x0c;
      else if (c == 0x75) {
        let u = 0;
        for (let i = 0; i < 4; i++) {
          const h = rByte();
          const v = h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : h >= 0x41 && h <= 0x46 ? h - 0x37 : -1;
          if (v < 0) return -1;
          u = (u << 4) | v;
        }
        c = u < 0x80 ? u : 0x3f; // only ASCII matters in what the manager reads
      } else if (c != 0x22 && c != 0x5c && c != 0x2f) return -1;
    }
    if (n >= cap) return -1;
    store<u8>(p + <usize>n, <u8>c);
    n++;
  }
  return -1;
}

/** Takes the next character into the number's text at index n; n + 1. */
function put(p: usize, n: i32): i32 {
  store<u16>(p + (<usize>n << 1), <u16>rByte());
  return n + 1;
}

function digit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** A number as JSON writes it; NaN when what comes is not one. */
export function jNumber(): f64 {
  jWs();
  const p = numText + 20;
  let n = 0;
  let c = rPeek();
  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  if (c == 0x2d) { n = put(p, n); c = rPeek(); }
  if (!digit(c)) return NaN;
  if (c == 0x30) {
    n = put(p, n);
    c = rPeek();
  } else {
    while (digit(c) && n < NUM_CAP) { n = put(p, n); c = rPeek(); }
  }
  if (c == 0x2e) {
    n = put(p, n);
    c = rPeek();
    if (!digit(c)) return NaN;
    while (digit(c) && n < NUM_CAP) { n = put(p, n); c = rPeek(); }
  }
  if (c == 0x65 || c == 0x45) {
    n = put(p, n);
    c = rPeek();
    if (c == 0x2b || c == 0x2d) { n = put(p, n); c = rPeek(); }
    if (!digit(c)) return NaN;
    while (digit(c) && n < NUM_CAP) { n = put(p, n); c = rPeek(); }
  }
  if (n >= NUM_CAP) return NaN;
  store<u32>(p - 4, <u32>(n << 1)); // the string's byte length, where AssemblyScript keeps it
  return parseFloat(changetype<string>(p));
}

/** Takes the literal null. */
export function jNull(): bool {
  if (jNext() != 0x6e) return false;
  rByte();
  return rByte() == 0x75 && rByte() == 0x6c && rByte() == 0x6c;
}

/** Bytes at p equal an ASCII literal. */
export function same(p: usize, n: i32, s: string): bool {
  if (n != s.length) return false;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + <usize>i) != s.charCodeAt(i)) return false;
  return true;
}

/** 64 lower-case hex digits at p as 32 bytes at out. */
export function hex32(p: usize, n: i32, out: usize): bool {
  if (n != 64) return false;
  for (let i = 0; i < 32; i++) {
    const hi = hexDigit(load<u8>(p + <usize>(2 * i)));
    const lo = hexDigit(load<u8>(p + <usize>(2 * i + 1)));
    if (hi < 0 || lo < 0) return false;
    store<u8>(out + <usize>i, <u8>((hi << 4) | lo));
  }
  return true;
}

export function hexDigit(c: i32): i32 {
  return c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
}
