// The manager's words: a refusal's reason and sentence, and answers for the result topic as
// {"cmd":"module","step":...,"status":...,"reason":...,"detail":...} (abi.json
// calibration_module.transfer), written into static buffers; the host publishes them as they are.
import { wBegin, wByte, wStr, wBytes, wLen, wInt } from "../json";
import { answer as hostAnswer } from "./host";

const DETAIL_CAP: i32 = 320;
const detail = memory.data(DETAIL_CAP);
let detailLen: i32 = 0;
let detailOpen = false;
const ANSWER_CAP: i32 = 768;
const answerBuf = memory.data(ANSWER_CAP);

// The reason of the last refusal, a literal's address: a string global would start at that address,
// and WAMR takes the first mutable i32 global that starts at most at __heap_base for a C stack
// pointer and traps writes outside its stack (tests/abi.test.ts checks that none but 0-started).
let reasonAt: usize = 0;

/** The reason of the last refusal (a name of abi.json calibration_module.reasons); "" for none. */
export function reason(): string {
  return reasonAt ? changetype<string>(reasonAt) : "";
}

function closeDetail(): void {
  if (!detailOpen) return;
  detailLen = max(0, min(wLen(), DETAIL_CAP));
  if (wLen() < 0) detailLen = DETAIL_CAP;
  detailOpen = false;
}

/** Starts a refusal for `why`; its sentence follows through d()/dn()/... Returns false. */
export function refuse(why: string): bool {
  closeDetail();
  reasonAt = changetype<usize>(why);
  wBegin(detail, DETAIL_CAP);
  detailOpen = true;
  return false;
}

/** Starts the sentence of an answer that is not a refusal. */
export function say(): void {
  closeDetail();
  reasonAt = 0;
  wBegin(detail, DETAIL_CAP);
  detailOpen = true;
}

let keptLen: i32 = 0;

/**
 * Starts the refusal's sentence again, same reason, keeping the sentence written so far for dKept:
 * a refusal carried out of a deeper check gets its context in front ("vector 3: ...").
 */
export function rephrase(): void {
  closeDetail();
  keptLen = detailLen;
  memory.copy(answerBuf, detail, <usize>keptLen); // free until an answer is written
  wBegin(detail, DETAIL_CAP);
  detailOpen = true;
}

/** The sentence rephrase kept. */
export function dKept(): void {
  wBytes(answerBuf, keptLen);
}

export function d(s: string): void {
  wStr(s);
}

export function dc(c: i32): void {
  wByte(c);
}

export function dBytes(p: usize, n: i32): void {
  wBytes(p, n);
}

/**
 * A number as a person reads it: integers whole, others to 9 significant digits without trailing
 * zeros (1.5, 0.0116415322, 2.5e-7). For sentences: a weight that must read back exactly is never
 * written here.
 */
export function dn(v: f64): void {
  if (isNaN(v)) return wStr("NaN");
  if (!isFinite(v)) return wStr(v > 0 ? "Infinity" : "-Infinity");
  if (v == Math.floor(v) && Math.abs(v) < 1e15) return wInt(<i64>v);
  if (v < 0) {
    wByte(0x2d);
    v = -v;
  }
  let e = <i32>Math.floor(Math.log10(v));
  let digits = <i64>Math.round(v * Math.pow(10, <f64>(8 - e)));
  if (digits >= 1000000000) {
    digits /= 10;
    e++;
  }
  let point = 8; // digits after the point in the 9 written
  while (point > 0 && digits % 10 == 0) {
    digits /= 10;
    point--;
  }
  if (e >= -6 && e < 15) {
    // Plain: shift the point by e.
    const decimals = point - e;
    if (decimals <= 0) {
      wInt(digits);
      for (let i = 0; i < -decimals; i++) wByte(0x30);
      return;
    }
    let scale: i64 = 1;
    for (let i = 0; i < decimals; i++) scale *= 10;
    wInt(digits / scale);
    wByte(0x2e);
    const frac = digits % scale;
    for (let s = scale / 10; s > frac && s > 1; s /= 10) wByte(0x30);
    wInt(frac);
    return;
  }
  let scale: i64 = 1;
  for (let i = 0; i < point; i++) scale *= 10;
  wInt(digits / scale);
  if (point > 0) {
    wByte(0x2e);
    const frac = digits % scale;
    for (let s = scale / 10; s > frac && s > 1; s /= 10) wByte(0x30);
    wInt(frac);
  }
  wByte(0x65);
  wInt(e);
}

export function dVersion(v: u32): void {
  wInt((v >> 16) & 0xff);
  wByte(0x2e);
  wInt((v >> 8) & 0xff);
  wByte(0x2e);
  wInt(v & 0xff);
}

/** The detail written so far (for a refusal carried into another). */
export function detailBytes(): usize {
  closeDetail();
  return detail;
}

export function detailLength(): i32 {
  closeDetail();
  return detailLen;
}

function quoted(p: usize, n: i32): void {
  wByte(0x22);
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c == 0x22 || c == 0x5c) {
      wByte(0x5c);
      wByte(c);
    } else if (c < 0x20) {
      wByte(0x20);
    } else {
      wByte(c);
    }
  }
  wByte(0x22);
}

/** What answers speak of: 0 a calibration module ({"cmd":"module",...,"module":{name, version}}),
 * 1 a core ("cmd":"core", "core":{...}), 2 a firmware image ("cmd":"firmware", "firmware":{...}). */
let answersOf = 0;
export function answerOf(kind: i32): void {
  answersOf = kind;
}

/**
 * Publishes {"cmd":"module","step":step,"status":...} with the sentence written since refuse()
 * or say(); the reason when there is one (a refusal, or an accepted rollback's cause); offset and
 * chunk when >= 0; the module's name and version when name is not 0.
 */
export function publish(step: string, accepted: bool, why: string, offset: i64, chunk: i32, name: usize, version: u32): void {
  closeDetail();
  wBegin(answerBuf, ANSWER_CAP);
  if (answersOf == 1) wStr("{\"cmd\":\"core\",\"step\":\"");
  else if (answersOf == 2) wStr("{\"cmd\":\"firmware\",\"step\":\"");
  else wStr("{\"cmd\":\"module\",\"step\":\"");
  wStr(step);
  wStr(accepted ? "\",\"status\":\"accepted\"" : "\",\"status\":\"rejected\"");
  if (why.length) {
    wStr(",\"reason\":\"");
    wStr(why);
    wByte(0x22);
  }
  wStr(",\"detail\":");
  quoted(detail, detailLen);
  if (offset >= 0) {
    wStr(",\"offset\":");
    wInt(offset);
  }
  if (chunk >= 0) {
    wStr(",\"chunk\":");
    wInt(chunk);
  }
  if (name) {
    if (answersOf == 1) wStr(",\"core\":{\"name\":");
    else if (answersOf == 2) wStr(",\"firmware\":{\"name\":");
    else wStr(",\"module\":{\"name\":");
    let n = 0;
    while (n < 32 && load<u8>(name + <usize>n) != 0) n++;
    quoted(name, n);
    wStr(",\"version\":\"");
    dVersion(version);
    wStr("\"}");
  }
  wByte(0x7d);
  const len = wLen();
  if (len > 0) hostAnswer(answerBuf, <u32>len);
}

/** The length of a NUL-terminated name of at most 32 bytes. */
export function nameLength(p: usize): i32 {
  let n = 0;
  while (n < 32 && load<u8>(p + <usize>n) != 0) n++;
  return n;
}
