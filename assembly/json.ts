// Bytes in, bytes out: a small JSON writer for payloads and a strict parser for command objects.
// No strings are allocated: literals are copied out of static data, numbers are formatted by hand.
import { ERR_BAD_JSON, ERR_BAD_FIELD } from "./abi";

// --- writer -----------------------------------------------------------------------------------
let wAt: usize = 0;
let wEnd: usize = 0;
let wPos: usize = 0;

/** Starts writing at p, at most cap bytes. */
export function wBegin(p: usize, cap: i32): void {
  wAt = p;
  wPos = p;
  wEnd = p + <usize>cap;
}

/** Bytes written; -1 if the buffer overflowed. */
export function wLen(): i32 {
  return wPos > wEnd ? -1 : <i32>(wPos - wAt);
}

// In an interpreter a call costs more than the few bytes most writes copy: the writer makes as
// few as it can (framing a reading took 45,000 x86 instructions in WAMR's fast interpreter when
// each part took two calls and each digit one; see tests/profile.ts).
export function wByte(b: i32): void {
  if (wPos < wEnd) store<u8>(wPos, <u8>b);
  wPos++;
}

/**
 * Copies an ASCII literal. AssemblyScript keeps literals as UTF-16: the loop narrows them straight
 * from static data, with one bounds check per literal. (Through charCodeAt and wByte it cost three
 * calls per character: about 1,400 x86 instructions a character in WAMR's fast interpreter.)
 */
export function wStr(s: string): void {
  const src = changetype<usize>(s);
  const n = <usize>(load<u32>(src - 4) >> 1); // the object header's byte size: s.length, inline
  if (wPos + n <= wEnd) {
    // Four characters a step: one 64-bit load, the four low bytes packed into one 32-bit store.
    let i: usize = 0;
    for (; i + 4 <= n; i += 4) {
      const x = load<u64>(src + (i << 1));
      store<u32>(wPos + i, <u32>((x & 0xFF) | ((x >> 8) & 0xFF00) | ((x >> 16) & 0xFF0000) | ((x >> 24) & 0xFF000000)));
    }
    for (; i < n; i++) store<u8>(wPos + i, load<u16>(src + (i << 1)));
  }
  wPos += n;
}

/**
 * A message's literal parts, narrowed once into bytes so that writing one is a memory.copy:
 * `src` holds the parts separated by "\u0001"; `bytes` receives them, `offsets` (u16) where each
 * starts, plus where the last ends. (For the reading, sent most often: see outbox.ts.)
 */
export function partsInit(src: string, bytes: usize, offsets: usize, cap: i32): void {
  let k = 0;
  let at: usize = 0;
  store<u16>(offsets, 0);
  const p = changetype<usize>(src);
  const n = <usize>(load<u32>(p - 4) >> 1);
  for (let i: usize = 0; i < n; i++) {
    const c = <i32>load<u16>(p + (i << 1));
    if (c == 1) {
      store<u16>(offsets + (<usize>++k << 1), <u16>at);
    } else {
      assert(<i32>at < cap); // the parts' buffer is sized for its literal
      store<u8>(bytes + at, <u8>c);
      at++;
    }
  }
  store<u16>(offsets + (<usize>++k << 1), <u16>at);
}

/** Writes part k of a set made by partsInit (one call: it is the writer's most frequent). */
export function wPart(bytes: usize, offsets: usize, k: i32): void {
  const at = offsets + (<usize>k << 1);
  const from = <usize>load<u16>(at);
  const n = <usize>load<u16>(at, 2) - from;
  if (wPos + n <= wEnd) memory.copy(wPos, bytes + from, n);
  wPos += n;
}

export function wBytes(p: usize, n: i32): void {
  if (wPos + <usize>n <= wEnd) memory.copy(wPos, p, <usize>n);
  wPos += <usize>n;
}

// @ts-ignore: decorator
@inline export function wInt(v: i64): void {
  if (v < 0) {
    wByte(0x2D);
    v = -v;
  }
  wDigits(<u64>v, 0);
}

/**
 * The decimal digits of v, with a point `point` digits from the right (0: none) and at least one
 * digit before it: written from the right, straight into the buffer, in one call with one bounds
 * check (it was a call per digit). In 32 bits when v allows: i64 division is several times
 * dearer on a 32-bit core like the ESP32's.
 */
function wDigits(v: u64, point: i32): void {
  let n = 1;
  for (let x = v / 10; x > 0; x /= 10) n++;
  if (n <= point) n = point + 1;
  const len = point > 0 ? n + 1 : n;
  if (wPos + <usize>len <= wEnd) {
    let p = wPos + <usize>len;
    if (v <= <u64>u32.MAX_VALUE) {
      let w = <u32>v;
      for (let k = 0; k < n; k++) {
        if (k == point && point > 0) store<u8>(--p, 0x2E);
        store<u8>(--p, <u8>(0x30 + w % 10));
        w /= 10;
      }
    } else {
      for (let k = 0; k < n; k++) {
        if (k == point && point > 0) store<u8>(--p, 0x2E);
        store<u8>(--p, <u8>(0x30 + <u32>(v % 10)));
        v /= 10;
      }
    }
  }
  wPos += <usize>len;
}

/** A number with `decimals` places (0..6), or null when it is not finite. */
export function wFixed(v: f32, decimals: i32): void {
  if (!isFinite(v)) {
    wStr("null");
    return;
  }
  let scale: f64 = 1;
  for (let i = 0; i < decimals; i++) scale *= 10;
  let n = <i64>Math.round(<f64>v * scale);
  if (n < 0) {
    wByte(0x2D);
    n = -n;
  }
  wDigits(<u64>n, decimals);
}

export function wBool(b: bool): void {
  wStr(b ? "true" : "false");
}

/** Writes the name-th comma-separated name of a list, quoted (for code names). */
export function wListName(list: string, index: i32): void {
  let start = 0;
  for (let i = 0; i < index; i++) {
    start = list.indexOf(",", start) + 1;
    if (start == 0) return;
  }
  let end = list.indexOf(",", start);
  if (end < 0) end = list.length;
  wByte(0x22);
  for (let i = start; i < end; i++) wByte(list.charCodeAt(i));
  wByte(0x22);
}

// --- command parser ---------------------------------------------------------------------------
// Accepts one flat object of known fields: {"cmd": string, "kg": number, "order": number,
// "key": string, "value": number, "corner": number, "seconds": number, "piece_kg": number,
// "pieces": number, "id": string or number}.
// Anything else is refused.

export const F_CMD: i32 = 1;
export const F_KG: i32 = 2;
export const F_ORDER: i32 = 4;
export const F_KEY: i32 = 8;
export const F_VALUE: i32 = 16;
export const F_ID: i32 = 32;
export const F_CORNER: i32 = 64;
export const F_SECONDS: i32 = 128;
export const F_PIECE_KG: i32 = 256;
export const F_PIECES: i32 = 512;
/** Longest string value or id accepted. */
export const MAX_TOKEN: i32 = 32;

/** Fields present after parseCommand. */
export let pFields: i32 = 0;
export let pCmdAt: usize = 0;
export let pCmdLen: i32 = 0;
export let pKeyAt: usize = 0;
export let pKeyLen: i32 = 0;
/** Raw JSON token of the id (a safe string with its quotes, or a number), echoed in the result. */
export let pIdAt: usize = 0;
export let pIdLen: i32 = 0;
export let pKg: f64 = 0;
export let pOrder: f64 = 0;
export let pValue: f64 = 0;
export let pCorner: f64 = 0;
export let pSeconds: f64 = 0;
export let pPieceKg: f64 = 0;
export let pPieces: f64 = 0;

let at: usize = 0;
let end: usize = 0;

// @ts-ignore: decorator
@inline function peek(): i32 {
  return at < end ? <i32>load<u8>(at) : -1;
}

function skipSpace(): void {
  while (at < end) {
    const c = load<u8>(at);
    if (c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) break;
    at++;
  }
}

/** A string of printable ASCII without escapes; returns its length (start in strAt) or an error. */
let strAt: usize = 0;
function parseString(): i32 {
  if (peek() != 0x22) return ERR_BAD_JSON;
  at++;
  strAt = at;
  while (at < end) {
    const c = <i32>load<u8>(at);
    if (c == 0x22) {
      const n = <i32>(at - strAt);
      at++;
      return n;
    }
    if (c == 0x5C || c < 0x20 || c > 0x7E) return ERR_BAD_FIELD; // escapes and non-ASCII are never needed
    at++;
  }
  return ERR_BAD_JSON;
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** A JSON number (RFC 8259 grammar) into pNumber; false if malformed. */
let pNumber: f64 = 0;
function parseNumber(): bool {
  let neg = false;
  if (peek() == 0x2D) {
    neg = true;
    at++;
  }
  if (!isDigit(peek())) return false;
  let mant: f64 = 0;
  let exp10: i32 = 0;
  if (peek() == 0x30) at++;
  else while (isDigit(peek())) mant = mant * 10 + <f64>(load<u8>(at++) - 0x30);
  if (peek() == 0x2E) {
    at++;
    if (!isDigit(peek())) return false;
    while (isDigit(peek())) {
      mant = mant * 10 + <f64>(load<u8>(at++) - 0x30);
      exp10--;
    }
  }
  if (peek() == 0x65 || peek() == 0x45) {
    at++;
    let eneg = false;
    if (peek() == 0x2B || peek() == 0x2D) eneg = load<u8>(at++) == 0x2D;
    if (!isDigit(peek())) return false;
    let e: i32 = 0;
    while (isDigit(peek())) {
      if (e < 100000) e = e * 10 + (load<u8>(at) - 0x30);
      at++;
    }
    exp10 += eneg ? -e : e;
  }
  // Powers of ten by repeated multiplication: exact enough for settings, and overflow gives
  // Infinity / underflow 0, which the setting checks then refuse or accept as they should.
  let p: f64 = 1;
  const n = exp10 < 0 ? -exp10 : exp10;
  for (let i = 0; i < n && i < 400; i++) p *= 10;
  pNumber = exp10 < 0 ? mant / p : mant * p;
  if (neg) pNumber = -pNumber;
  return true;
}

function keyIs(p: usize, n: i32, name: string): bool {
  if (n != name.length) return false;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + i) != name.charCodeAt(i)) return false;
  return true;
}

/** Skips a JSON string (escapes allowed); false if it is malformed or unterminated. */
function skipString(): bool {
  if (peek() != 0x22) return false;
  at++;
  while (at < end) {
    const c = <i32>load<u8>(at++);
    if (c == 0x22) return true;
    if (c < 0x20) return false;
    if (c == 0x5C) at++;
  }
  return false;
}

/**
 * Skips one value of a field that is refused anyway: strings are checked, brackets must balance
 * (at most 32 deep); the grammar inside nested values is not, the command is refused either way.
 */
function skipValue(): bool {
  let depth = 0;
  do {
    skipSpace();
    const c = peek();
    if (c == 0x22) {
      if (!skipString()) return false;
    } else if (c == 0x7B || c == 0x5B) {
      if (++depth > 32) return false;
      at++;
    } else if (c == 0x7D || c == 0x5D) {
      if (depth == 0) return false;
      depth--;
      at++;
    } else if (depth > 0 && (c == 0x2C || c == 0x3A)) {
      at++;
    } else if (c == 0x2D || isDigit(c)) {
      if (!parseNumber()) return false;
    } else if (c >= 0x61 && c <= 0x7A) {
      while (peek() >= 0x61 && peek() <= 0x7A) at++; // true, false, null
    } else {
      return false;
    }
  } while (depth > 0);
  return true;
}

/** The field a key names (F_*), 0 for none. */
function fieldOf(p: usize, n: i32): i32 {
  if (keyIs(p, n, "cmd")) return F_CMD;
  if (keyIs(p, n, "kg")) return F_KG;
  if (keyIs(p, n, "order")) return F_ORDER;
  if (keyIs(p, n, "key")) return F_KEY;
  if (keyIs(p, n, "value")) return F_VALUE;
  if (keyIs(p, n, "id")) return F_ID;
  if (keyIs(p, n, "corner")) return F_CORNER;
  if (keyIs(p, n, "seconds")) return F_SECONDS;
  if (keyIs(p, n, "piece_kg")) return F_PIECE_KG;
  if (keyIs(p, n, "pieces")) return F_PIECES;
  return 0;
}

/** Reads the value of a known field at `at`: 0, ERR_BAD_FIELD (wrong type or content) or ERR_BAD_JSON. */
function parseField(field: i32): i32 {
  const c = peek();
  if (c == 0x22) {
    if (field != F_CMD && field != F_KEY && field != F_ID) return ERR_BAD_FIELD;
    const start = at;
    const sn = parseString();
    if (sn < 0) return sn;
    if (sn == 0 || sn > MAX_TOKEN) return ERR_BAD_FIELD;
    if (field == F_CMD) { pCmdAt = strAt; pCmdLen = sn; }
    else if (field == F_KEY) { pKeyAt = strAt; pKeyLen = sn; }
    else { pIdAt = start; pIdLen = sn + 2; }
    return 0;
  }
  if (c == 0x2D || isDigit(c)) {
    if (field == F_CMD || field == F_KEY) return ERR_BAD_FIELD;
    const start = at;
    if (!parseNumber()) return ERR_BAD_JSON;
    if (field == F_KG) pKg = pNumber;
    else if (field == F_ORDER) pOrder = pNumber;
    else if (field == F_VALUE) pValue = pNumber;
    else if (field == F_CORNER) pCorner = pNumber;
    else if (field == F_SECONDS) pSeconds = pNumber;
    else if (field == F_PIECE_KG) pPieceKg = pNumber;
    else if (field == F_PIECES) pPieces = pNumber;
    else {
      if (<i32>(at - start) > MAX_TOKEN) return ERR_BAD_FIELD;
      pIdAt = start;
      pIdLen = <i32>(at - start);
    }
    return 0;
  }
  return ERR_BAD_FIELD; // objects, arrays, true, false, null where a string or number belongs
}

/**
 * Parses a command object at [p, p+n). Returns 0, ERR_BAD_JSON or ERR_BAD_FIELD. A refused field
 * (unknown, repeated, of the wrong type) does not stop the parse: the rest is read, so that the
 * command's name and id are known to the result that refuses it.
 */
export function parseCommand(p: usize, n: i32): i32 {
  at = p;
  end = p + <usize>n;
  pFields = 0;
  pIdLen = 0;
  let refused = 0;
  skipSpace();
  if (peek() != 0x7B) return ERR_BAD_JSON;
  at++;
  skipSpace();
  if (peek() == 0x7D) {
    at++;
  } else {
    while (true) {
      skipSpace();
      const keyAt = at;
      let field = 0;
      const kn = parseString();
      if (kn >= 0) field = fieldOf(strAt, kn);
      else if (kn != ERR_BAD_FIELD) return ERR_BAD_JSON;
      else {
        at = keyAt; // a key with escapes or non-ASCII: no field of ours
        if (!skipString()) return ERR_BAD_JSON;
      }
      skipSpace();
      if (peek() != 0x3A) return ERR_BAD_JSON;
      at++;
      skipSpace();
      const valueAt = at;
      let r = ERR_BAD_FIELD;
      if (field != 0 && (pFields & field) == 0) { // unknown and repeated keys are refused
        r = parseField(field);
        if (r == 0) pFields |= field;
        else if (r == ERR_BAD_JSON) return r;
      }
      if (r != 0) {
        refused = ERR_BAD_FIELD;
        at = valueAt;
        if (!skipValue()) return ERR_BAD_JSON;
      }
      skipSpace();
      if (peek() == 0x2C) {
        at++;
        continue;
      }
      if (peek() == 0x7D) {
        at++;
        break;
      }
      return ERR_BAD_JSON;
    }
  }
  skipSpace();
  return at == end ? refused : ERR_BAD_JSON;
}

/** True when [p, p+n) equals the ASCII literal s. */
export function bytesAre(p: usize, n: i32, s: string): bool {
  return keyIs(p, n, s);
}
