// A module package (abi.json calibration_module.package) read where it lies in a slot: the
// container, the manifest's every field checked, the module's size and SHA-256. The signature is
// the host's to check (verify), over the manifest bytes this finds.
import { rSlot, rMemory, rAt } from "./reader";
import { jTake, jNext, jString, jNumber, jNull, same, hex32, hexDigit } from "./json";
import { refuse, d, dn, dBytes } from "./out";
import { slot_read, slot_sha256, verify } from "./host";

export const MODULE_ABI: i32 = 2;
export const PACKAGE_FORMAT: i32 = 1;
export const MAX_WASM: u32 = 65536;
export const MAX_MANIFEST: u32 = 16384;
export const MAX_VECTORS: i32 = 64;
export const MAX_PARAMS: i32 = 32;
/** The largest package: its module, its manifest and a signature's room. */
export const MAX_PACKAGE: u32 = MAX_WASM + MAX_MANIFEST + 1024;
const HEAD: u32 = 13;

// The package read last.
/** What the package read last holds: a calibration module (0), a core (KIND_CORE), or the
 * description of a firmware image the scale fetches itself (KIND_FIRMWARE). */
export const KIND_CORE: i32 = 1;
export const KIND_FIRMWARE: i32 = 2;
/** The largest firmware image a manifest may name (an OTA slot of a 16 MB flash). */
const MAX_FIRMWARE: f64 = 16777216;
/** A firmware image's https:// address (NUL-terminated), and its length. */
export const mUrl = memory.data(256);
export let mUrlLen: i32 = 0;
export let mKind: i32 = 0;
/** A core's state stream version (its manifest's "state"). */
export let mState: i32 = 0;
export const mName = memory.data(33);
export let mVersion: u32 = 0;
export let mAbi: i32 = 0;
export let mSize: u32 = 0;
export const mSha = memory.data(32);
export const mKey = memory.data(16);
export let mKeyLen: i32 = 0;
export const mParams = memory.data(MAX_PARAMS * 8);
export let mParamCount: i32 = 0;
/** The vector read last (nextVector): x, c0..c3, temp, kg (NaN where absent). */
export const mVector = memory.data(7 * 8);
export let mVectorCount: i32 = 0;
/** Where the vectors' array lies in the slot: read again, one at a time, when they run. */
let vectorsAt: u32 = 0;
let vectorsSlot: i32 = -1;
export let mTolerance: f64 = 0;
export let manAt: u32 = 0;
export let manLen: u32 = 0;
export let sigAt: u32 = 0;
export let sigLen: u32 = 0;
export let wasmAt: u32 = 0;
export let wasmLen: u32 = 0;

const key = memory.data(24);
const text = memory.data(80);
const hash = memory.data(32);
const head = memory.data(16);

function nameOk(p: usize, n: i32): bool {
  if (n < 1 || n > 32) return false;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d || c == 0x5f)) return false;
  }
  return true;
}

/** "major.minor.patch", each 0..255, as major << 16 | minor << 8 | patch; -1 otherwise. */
function version(p: usize, n: i32): i64 {
  let v: i64 = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? <i32>load<u8>(p + <usize>i) : 0x2e;
    if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + c - 0x30;
      digits++;
    } else if (c == 0x2e && digits > 0 && part <= 255 && parts < 3) {
      v = (v << 8) | part;
      parts++;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  return parts == 3 ? v : -1;
}

function finite(v: f64): bool {
  return isFinite(v);
}

function bad(field: string, rule: string): bool {
  refuse("BAD_PACKAGE");
  d("manifest: ");
  d(field);
  d(": ");
  d(rule);
  return false;
}

/** A number or null (NaN). false when neither. */
function numberOrNull(at: usize): bool {
  if (jNext() == 0x6e) {
    if (!jNull()) return false;
    store<f64>(at, NaN);
    return true;
  }
  const v = jNumber();
  store<f64>(at, v);
  return finite(v);
}

function readVector(): bool {
  const v = mVector;
  for (let k = 0; k < 7; k++) store<f64>(v + <usize>(k * 8), NaN);
  if (!jTake(0x7b)) return false;
  let seen = 0;
  if (jTake(0x7d)) return false;
  do {
    const n = jString(key, 8);
    if (n < 0 || !jTake(0x3a)) return false;
    if (same(key, n, "x") && !(seen & 1)) {
      seen |= 1;
      store<f64>(v, jNumber());
      if (!finite(load<f64>(v))) return false;
    } else if (same(key, n, "kg") && !(seen & 2)) {
      seen |= 2;
      store<f64>(v, jNumber(), 48);
      if (!finite(load<f64>(v, 48))) return false;
    } else if (same(key, n, "temp") && !(seen & 4)) {
      seen |= 4;
      if (!numberOrNull(v + 40)) return false;
    } else if (same(key, n, "chips") && !(seen & 8)) {
      seen |= 8;
      if (!jTake(0x5b)) return false;
      if (!jTake(0x5d)) {
        let k = 0;
        do {
          if (k >= 4 || !numberOrNull(v + <usize>(8 + 8 * k))) return false;
          k++;
        } while (jTake(0x2c));
        if (!jTake(0x5d)) return false;
      }
    } else {
      return false;
    }
  } while (jTake(0x2c));
  return jTake(0x7d) && (seen & 3) == 3;
}

const F_FORMAT = 1, F_NAME = 2, F_VERSION = 4, F_ABI = 8, F_SIZE = 16, F_SHA = 32, F_PARAMS = 64, F_VECTORS = 128, F_TOL = 256, F_KEY = 512, F_STATE = 1024, F_URL = 2048;

function readManifest(): bool {
  mParamCount = 0;
  mVectorCount = 0;
  mTolerance = 0;
  mKeyLen = 0;
  mKind = 0;
  mState = 0;
  mUrlLen = 0;
  let size: f64 = 0;
  if (!jTake(0x7b)) return bad("manifest", "not a JSON object");
  let seen = 0;
  if (jTake(0x7d)) return bad("format", "missing");
  do {
    const n = jString(key, 16);
    if (n < 0 || !jTake(0x3a)) return bad("manifest", "not JSON");
    let f = 0;
    if (same(key, n, "format")) f = F_FORMAT;
    else if (same(key, n, "name")) f = F_NAME;
    else if (same(key, n, "version")) f = F_VERSION;
    else if (same(key, n, "abi")) f = F_ABI;
    else if (same(key, n, "size")) f = F_SIZE;
    else if (same(key, n, "sha256")) f = F_SHA;
    else if (same(key, n, "params")) f = F_PARAMS;
    else if (same(key, n, "vectors")) f = F_VECTORS;
    else if (same(key, n, "tolerance")) f = F_TOL;
    else if (same(key, n, "key")) f = F_KEY;
    else if (same(key, n, "state")) f = F_STATE;
    else if (same(key, n, "url")) f = F_URL;
    if (f == 0) {
      refuse("BAD_PACKAGE");
      d("manifest: unknown field \"");
      dBytes(key, n);
      d("\"");
      return false;
    }
    if (seen & f) return bad("manifest", "a field given twice");
    seen |= f;
    if (f == F_FORMAT) {
      const k = jString(text, 80);
      if (same(text, k, "wasm-scale-core")) mKind = KIND_CORE;
      else if (same(text, k, "wasm-scale-firmware")) mKind = KIND_FIRMWARE;
      else if (!same(text, k, "wasm-scale-module")) return bad("format", "not \"wasm-scale-module\", \"wasm-scale-core\" or \"wasm-scale-firmware\"");
    } else if (f == F_NAME) {
      const k = jString(text, 33);
      if (!nameOk(text, k)) return bad("name", "1..32 of a-z 0-9 _ -");
      memory.copy(mName, text, <usize>k);
      store<u8>(mName + <usize>k, 0);
    } else if (f == F_VERSION) {
      const k = jString(text, 16);
      const v = k < 0 ? -1 : version(text, k);
      if (v < 0) return bad("version", "major.minor.patch, each 0..255");
      mVersion = <u32>v;
    } else if (f == F_ABI) {
      const v = jNumber();
      if (!(v == Math.floor(v)) || Math.abs(v) > 1e6) return bad("abi", "an integer");
      mAbi = <i32>v;
    } else if (f == F_SIZE) {
      size = jNumber(); // its bounds depend on the format, checked below
    } else if (f == F_URL) {
      const k = jString(mUrl, 255);
      let ok = k > 8 && same(mUrl, 8, "https://");
      for (let i = 0; ok && i < k; i++) ok = load<u8>(mUrl + <usize>i) > 0x20 && load<u8>(mUrl + <usize>i) < 0x7f;
      if (!ok) return bad("url", "an https:// address of at most 255 printable characters");
      store<u8>(mUrl + <usize>k, 0);
      mUrlLen = k;
    } else if (f == F_SHA) {
      const k = jString(text, 80);
      if (k < 0 || !hex32(text, k, mSha)) return bad("sha256", "64 lower-case hex digits");
    } else if (f == F_KEY) {
      const k = jString(text, 80);
      let ok = k == 16;
      for (let i = 0; ok && i < 16; i++) ok = hexDigit(load<u8>(text + <usize>i)) >= 0;
      if (!ok) return bad("key", "16 lower-case hex digits");
      memory.copy(mKey, text, 16);
      mKeyLen = 16;
    } else if (f == F_STATE) {
      const v = jNumber();
      if (!(v == Math.floor(v)) || v < 1 || v > 65535) return bad("state", "an integer, 1..65535");
      mState = <i32>v;
    } else if (f == F_TOL) {
      const v = jNumber();
      if (!(v >= 0 && v <= 0.001)) return bad("tolerance", "0 .. 0.001 kg");
      mTolerance = v;
    } else if (f == F_PARAMS) {
      if (!jTake(0x5b)) return bad("params", "an array of at most 32 finite numbers");
      if (!jTake(0x5d)) {
        do {
          const v = jNumber();
          if (mParamCount >= MAX_PARAMS || !finite(v)) return bad("params", "an array of at most 32 finite numbers");
          store<f64>(mParams + <usize>(mParamCount * 8), v);
          mParamCount++;
        } while (jTake(0x2c));
        if (!jTake(0x5d)) return bad("params", "an array of at most 32 finite numbers");
      }
    } else if (f == F_VECTORS) {
      if (!jTake(0x5b)) return bad("vectors", "1..64 of {x, chips, temp, kg}");
      vectorsAt = rAt(); // just past the '[' (the manager does not keep 64 vectors: it reads them again)
      if (jTake(0x5d)) return bad("vectors", "1..64 of {x, chips, temp, kg}");
      do {
        if (mVectorCount >= MAX_VECTORS || !readVector()) {
          refuse("BAD_PACKAGE");
          d("manifest: vector ");
          dn(mVectorCount + 1);
          d(" is not {x, chips (at most 4, numbers or null), temp (a number or null), kg}");
          return false;
        }
        mVectorCount++;
      } while (jTake(0x2c));
      if (!jTake(0x5d)) return bad("vectors", "1..64 of {x, chips, temp, kg}");
    }
  } while (jTake(0x2c));
  if (!jTake(0x7d) || jNext() != -1) return bad("manifest", "not one JSON object");
  // A module declares vectors (and may declare parameters and a tolerance); a core declares its
  // state stream's version and nothing a module's checks use; a firmware image its address.
  const core = mKind == KIND_CORE;
  const firmware = mKind == KIND_FIRMWARE;
  if (mKind != 0 && (seen & (F_PARAMS | F_VECTORS | F_TOL))) return bad(seen & F_PARAMS ? "params" : seen & F_VECTORS ? "vectors" : "tolerance", core ? "a core has none" : "a firmware image has none");
  if (!core && (seen & F_STATE)) return bad("state", "only a core has one");
  if (!firmware && (seen & F_URL)) return bad("url", "only a firmware image has one");
  const required = F_FORMAT | F_NAME | F_VERSION | F_SIZE | F_SHA | (core ? F_ABI | F_STATE : firmware ? F_URL : F_ABI | F_VECTORS);
  if ((seen & required) != required) {
    const missing = required & ~seen;
    return bad(missing & F_FORMAT ? "format" : missing & F_NAME ? "name" : missing & F_VERSION ? "version" : missing & F_ABI ? "abi" : missing & F_SIZE ? "size" : missing & F_SHA ? "sha256" : core ? "state" : firmware ? "url" : "vectors", "missing");
  }
  const most = firmware ? MAX_FIRMWARE : <f64>MAX_WASM;
  if (!(size == Math.floor(size)) || size < 1 || size > most) return bad("size", firmware ? "an integer, 1..16777216 bytes" : "an integer, 1..65536 bytes");
  mSize = <u32>size;
  return true;
}

/** A bare .wasm of len bytes in slot, for a module tried without a package (replay). */
export function bareModule(len: u32): void {
  vectorsSlot = -1;
  wasmAt = 0;
  wasmLen = len;
  mParamCount = 0;
  mVectorCount = 0;
  store<u8>(mName, 0);
}

/** Splits the package in len bytes of slot, reads its manifest and checks the module's size and hash. */
export function readPackage(slot: i32, len: u32): bool {
  if (len < HEAD || slot_read(slot, 0, head, HEAD) != <i32>HEAD || load<u64>(head) != 0x444F4D4C41435357) {
    refuse("BAD_PACKAGE");
    d("not a wasm-scale module package");
    return false;
  }
  const format = <i32>load<u8>(head, 8);
  if (format != PACKAGE_FORMAT) {
    refuse("BAD_PACKAGE");
    d("package format ");
    dn(format);
    d("; this scale reads 1");
    return false;
  }
  manLen = load<u32>(head, 9);
  manAt = HEAD;
  if (manLen > MAX_MANIFEST) {
    refuse("BAD_PACKAGE");
    d("manifest of ");
    dn(manLen);
    d(" bytes, over 16384");
    return false;
  }
  if (<u64>HEAD + <u64>manLen + 2 > <u64>len) {
    refuse("TRUNCATED");
    d("the package ends inside its manifest");
    return false;
  }
  if (slot_read(slot, HEAD + manLen, head, 2) != 2) return refuse("TRUNCATED");
  sigLen = <u32>load<u16>(head);
  sigAt = HEAD + manLen + 2;
  if (sigAt + sigLen > len) {
    refuse("TRUNCATED");
    d("the package ends inside its signature");
    return false;
  }
  wasmAt = sigAt + sigLen;
  wasmLen = len - wasmAt;
  rSlot(slot, manAt, manAt + manLen);
  vectorsSlot = slot;
  if (!readManifest()) return false;
  if (mKind == KIND_FIRMWARE) {
    // It describes an image the scale fetches from its url; the package carries none.
    if (wasmLen == 0) return true;
    refuse("BAD_PACKAGE");
    d("a firmware package carries no image: the scale fetches it from the manifest's url");
    return false;
  }
  if (wasmLen < mSize) {
    refuse("TRUNCATED");
    d("the module has ");
    dn(wasmLen);
    d(" of its ");
    dn(mSize);
    d(" bytes");
    return false;
  }
  if (wasmLen > mSize) {
    refuse("BAD_PACKAGE");
    d("the module has ");
    dn(wasmLen);
    d(" bytes; the manifest says ");
    dn(mSize);
    return false;
  }
  if (slot_sha256(slot, wasmAt, wasmLen, hash) != 1 || memory.compare(hash, mSha, 32) != 0) {
    refuse("BAD_HASH");
    d("the module's SHA-256 differs from the manifest's");
    return false;
  }
  return true;
}

/** Starts reading the vectors of the package read last (readPackage passed). */
export function firstVector(): void {
  rSlot(vectorsSlot, vectorsAt, manAt + manLen);
}

/** The next vector into mVector (it was checked when the manifest was read); false after the last. */
export function nextVector(): bool {
  if (jNext() == 0x2c) jTake(0x2c);
  if (jNext() == 0x5d) return false;
  return readVector();
}

/** Reads a transfer's begin, {"size": bytes, "sha256": hex[, "sender": id]}, from memory. */
export let bSize: f64 = 0;
export const bSha = memory.data(32);
export const bSender = memory.data(64);
export let bSenderLen: i32 = 0;

export function readBegin(p: usize, n: u32): bool {
  rMemory(p, n);
  bSenderLen = 0;
  bSize = NaN;
  let seen = 0;
  if (!jTake(0x7b)) return false;
  if (!jTake(0x7d)) {
    do {
      const k = jString(key, 16);
      if (k < 0 || !jTake(0x3a)) return false;
      if (same(key, k, "size") && !(seen & 1)) {
        seen |= 1;
        bSize = jNumber();
      } else if (same(key, k, "sha256") && !(seen & 2)) {
        seen |= 2;
        const t = jString(text, 80);
        if (t < 0 || !hex32(text, t, bSha)) return false;
      } else if (same(key, k, "sender") && !(seen & 4)) {
        seen |= 4;
        bSenderLen = jString(bSender, 64);
        if (bSenderLen < 1) return false;
      } else {
        return false;
      }
    } while (jTake(0x2c));
    if (!jTake(0x7d)) return false;
  }
  return jNext() == -1 && (seen & 3) == 3 && bSize == Math.floor(bSize) && bSize >= 1;
}


/** The signature, against the keys the host trusts. */
export function checkSignature(slot: i32): bool {
  if (sigLen == 0) {
    refuse("UNSIGNED");
    d("the package is not signed (wasm-scale module sign)");
    return false;
  }
  const r = verify(slot, manAt, manLen, sigAt, sigLen, mKey, mKeyLen);
  if (r == 0) return true;
  if (r == 1) {
    refuse("UNTRUSTED_KEY");
    d("signed by key ");
    if (mKeyLen) dBytes(mKey, mKeyLen);
    else d("(unnamed)");
    d(", which this device does not trust");
  } else {
    refuse("BAD_SIGNATURE");
    d("the signature does not verify against the manifest");
  }
  return false;
}

