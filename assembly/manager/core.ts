// The core itself over the air. A core package (format "wasm-scale-core", the container and keys
// of a module package) is checked as a module's is (manifest, signature, ABI, version only going
// up) and as a core (its imports and exports against the ABI), then swapped in by the host with
// the running state moved into it, on trial until CONFIRM_READINGS readings; rolled back on a trap
// or a budget overrun, a restart during the trial, or on request. At start-up it says which core the
// host boots: the one in force, or the firmware's own when the slots are empty or damaged.
import { core_swap } from "./host";
import { readPackage, mKind, KIND_CORE, mName, mVersion, mAbi, mState, wasmAt, wasmLen } from "./package";
import { checkSignature } from "./package";
import { CONFIRM_READINGS } from "./slots";
import { rByte, rU32, rSkip, rAt, rEof } from "./reader";
import { startWasm } from "./wasm";
import { refuse, say, d, dn, dc, dBytes, dVersion, publish, reason, rephrase, dKept, nameLength } from "./out";
import { cActive, cPrevious, cTrial, cVersion, cPreviousVersion, setCoreState, setLength, lengthOf, slotLetter } from "./slots";
import { ABI_VERSION } from "../abi";
import { CORE_IMPORTS, CORE_IMPORTS_LENGTH, CORE_EXPORTS, CORE_EXPORTS_LENGTH, CORE_EXPORT_COUNT } from "./core-abi";
import { CORE_VERSION, STATE_VERSION } from "../version";

const words = memory.data(160);
const name = memory.data(80);
const coreName = memory.data(33);
/** The core that failed, for the rollback's sentence. */
const failText = memory.data(200);
let failLen: i32 = 0;

/** The version of the core in force (the firmware's own when no slot is). */
export function coreVersion(): u32 {
  return cActive >= 0 ? cVersion : CORE_VERSION;
}

/** Where the comma-separated list's name after `start` ends. */
function nameEnd(list: usize, length: i32, start: i32): i32 {
  let end = start;
  while (end < length && load<u8>(list + <usize>end) != 0x2c) end++;
  return end;
}

/** Which of list's comma-separated names (length bytes at list) the n bytes at name are; -1 for none. */
function indexIn(list: usize, length: i32, n: i32): i32 {
  let start = 0;
  let k = 0;
  while (start <= length) {
    const end = nameEnd(list, length, start);
    if (end - start == n && memory.compare(name, list + <usize>start, <usize>n) == 0) return k;
    start = end + 1;
    k++;
  }
  return -1;
}

/** A name of the import or export section into `name` (at most 79 bytes); its length, or -1. */
function readName(at: i32): i32 {
  const n = <i32>rU32();
  if (n + at > 79) {
    rSkip(<u32>n);
    return -1;
  }
  for (let i = 0; i < n; i++) store<u8>(name + <usize>(at + i), <u8>rByte());
  return n + at;
}

function skipLimits(): void {
  const flags = rByte();
  rU32();
  if (flags & 1) rU32();
}

/**
 * The core's own checks: a WebAssembly module that imports only what this firmware provides
 * (abi.json imports) and exports all the ABI names. The engine validates the rest when it loads it.
 */
function scanCore(slot: i32, at: u32, len: u32): bool {
  const end = at + len;
  if (!startWasm(slot, at, len)) return false;
  let seen: u64 = 0;
  while (rAt() < end && !rEof) {
    const id = rByte();
    const size = rU32();
    const stop = rAt() + size;
    if (rEof || <u64>stop > <u64>end) break;
    if (id == 2) {
      const n = rU32();
      for (let i: u32 = 0; i < n && !rEof; i++) {
        let k = readName(0);
        if (k >= 0) {
          store<u8>(name + <usize>k, 0x2e);
          k = readName(k + 1);
        } else {
          rSkip(rU32());
        }
        const kind = rByte();
        if (kind == 0) rU32();
        else if (kind == 1) {
          rByte();
          skipLimits();
        } else if (kind == 2) skipLimits();
        else {
          rByte();
          rByte();
        }
        if (k < 0 || indexIn(CORE_IMPORTS, CORE_IMPORTS_LENGTH, k) < 0) {
          refuse("FORBIDDEN_IMPORT");
          d("the core imports ");
          if (k >= 0) dBytes(name, k);
          else d("a name over 79 bytes");
          d(", which this firmware does not provide (a core for another firmware?)");
          return false;
        }
      }
    } else if (id == 7) {
      const n = rU32();
      for (let i: u32 = 0; i < n && !rEof; i++) {
        const k = readName(0);
        const kind = rByte();
        rU32();
        const e = k < 0 ? -1 : indexIn(CORE_EXPORTS, CORE_EXPORTS_LENGTH, k);
        if (e >= 0 && (kind == 2) == (e == 0)) seen |= (<u64>1) << <u64>e;
      }
    }
    if (rAt() > stop) break;
    rSkip(stop - rAt());
  }
  if (rEof || rAt() != end) {
    refuse("BAD_MODULE");
    d("the core is malformed (it ends inside a section, or a section overruns it)");
    return false;
  }
  for (let e = 0; e < CORE_EXPORT_COUNT; e++) {
    if (seen & ((<u64>1) << <u64>e)) continue;
    refuse("BAD_MODULE");
    d("the core does not export ");
    let start = 0;
    for (let k = 0; k < e; k++) start = nameEnd(CORE_EXPORTS, CORE_EXPORTS_LENGTH, start) + 1;
    dBytes(CORE_EXPORTS + <usize>start, nameEnd(CORE_EXPORTS, CORE_EXPORTS_LENGTH, start) - start);
    d(" (abi.json)");
    return false;
  }
  return true;
}

/** "core <name> <version>" of the package read last, in the sentence. */
function dCore(): void {
  d("core ");
  dBytes(mName, nameLength(mName));
  dc(0x20);
  dVersion(mVersion);
}

/** The core in force or before, by its slot and version, in the sentence. */
function dSlotCore(slot: i32, version: u32): void {
  if (slot < 0) {
    d("the firmware's own core ");
    dVersion(CORE_VERSION);
  } else {
    d("core ");
    dVersion(version);
    d(" (slot ");
    dc(slotLetter(slot));
    d(")");
  }
}

/** A core package in slot: read, of the core kind, signed, for this ABI; false with the refusal. */
function readCore(slot: i32, len: u32): bool {
  if (!readPackage(slot, len) || !checkSignature(slot)) return false;
  if (mKind != KIND_CORE) {
    refuse("BAD_PACKAGE");
    d("a calibration module package, not a core (send it with wasm-scale module install)");
    return false;
  }
  if (mAbi != ABI_VERSION) {
    refuse("WRONG_ABI");
    d("built for core ABI ");
    dn(mAbi);
    d("; this firmware runs ");
    dn(ABI_VERSION);
    return false;
  }
  return true;
}

/** The swap's refusal (core_swap's codes 1..3), with the engine's words. */
function swapRefused(r: i32): void {
  const code = r & 0xffff;
  if (code == 2) refuse("MEMORY");
  else if (code == 3) refuse("STATE_REFUSED");
  else refuse("BAD_MODULE");
  if (code == 3) d("it refused the running state: ");
  else if (code != 2) d("the engine did not load it: ");
  dBytes(words, min(r >>> 16, 160));
}

/** Checks the core package of len bytes in slot and swaps it in, on trial; answers either way. */
export function installCore(slot: i32, len: u32): void {
  if (!readCore(slot, len) || !checkVersion() || !scanCore(slot, wasmAt, wasmLen)) {
    publish("install", false, reason(), -1, -1, 0, 0);
    return;
  }
  memory.copy(coreName, mName, 33);
  const version = mVersion;
  const state = mState;
  const r = core_swap(slot, wasmAt, wasmLen, state, words, 160);
  const code = r & 0xffff;
  if (code != 0 && code != 4) {
    swapRefused(r);
    rephrase();
    dCore();
    d(" was not swapped in, ");
    dKept();
    d("; ");
    dSlotCore(cActive, cVersion);
    d(" weighs on");
    publish("install", false, reason(), -1, -1, coreName, version);
    return;
  }
  setLength(slot, len);
  setCoreState(slot, version, cActive, cVersion, true);
  say();
  dCore();
  d(" weighs now, on trial until ");
  dn(CONFIRM_READINGS);
  d(" good readings; ");
  if (code == 0) d("the running state moved into it (readings queued, zero, tare, filters)");
  else {
    d("it started from the blobs (its state stream is version ");
    dn(state);
    d(", not the running core's): readings queued were not carried over");
  }
  publish("install", true, "", -1, -1, coreName, version);
}

function checkVersion(): bool {
  if (mVersion > coreVersion()) return true;
  refuse("DOWNGRADE");
  dCore();
  d(" is not newer than the ");
  dVersion(coreVersion());
  d(" in force: versions only go up (a rollback returns to the previous core)");
  return false;
}

/**
 * Swaps to the core in `slot` (-1: the firmware's own), as a rollback: its package read again and
 * checked, then swapped in with the state. The firmware's own core when the slot's does not load.
 * true when a core went in.
 */
function swapBack(slot: i32): bool {
  if (slot >= 0) {
    if (readCore(slot, lengthOf(slot))) {
      const r = core_swap(slot, wasmAt, wasmLen, mState, words, 160);
      if ((r & 0xffff) == 0 || (r & 0xffff) == 4) return true;
      swapRefused(r);
    }
    return false;
  }
  const r = core_swap(-1, 0, 0, STATE_VERSION, words, 160);
  if ((r & 0xffff) == 0 || (r & 0xffff) == 4) return true;
  swapRefused(r);
  return false;
}

/**
 * Back to the core before the one in force. cause: 0 requested here, 1 requested over MQTT, 2 the
 * core in force failed (TRAPPED or BUDGET, the host's words at failText).
 */
export function rollbackCore(cause: i32, why: string): void {
  if (cActive < 0) {
    refuse("NO_PREVIOUS");
    d("no core was installed: the firmware's own core weighs");
    publish("rollback", false, reason(), -1, -1, 0, 0);
    return;
  }
  const from = cActive;
  const fromVersion = cVersion;
  let to = cPrevious;
  let toVersion = cPreviousVersion;
  if (!swapBack(to)) {
    // The previous core does not load any more (a key no longer trusted, damaged flash): the
    // firmware's own, which always does.
    to = -1;
    toVersion = 0;
    if (!swapBack(-1)) {
      rephrase();
      d("no core could be swapped back in: ");
      dKept();
      publish("rollback", false, reason(), -1, -1, 0, 0);
      return;
    }
  }
  setLength(from, 0);
  setCoreState(to, toVersion, -1, 0, false);
  say();
  dSlotCore(from, fromVersion);
  d(" rolled back (");
  if (cause == 0) d("requested");
  else if (cause == 1) d("requested on the module topic");
  else {
    d(why);
    d(": ");
    dBytes(failText, failLen);
  }
  d("): ");
  dSlotCore(to, toVersion);
  d(" weighs now");
  publish("rollback", true, cause == 2 ? why : "", -1, -1, 0, 0);
}

/** The core in force failed (kind 1 trapped, 2 ran past its budget; the host's words at p). */
export function coreFailed(kind: i32, p: usize, n: i32): void {
  failLen = min(n, 200);
  memory.copy(failText, p, <usize>failLen);
  if (!cTrial) {
    // A confirmed core that traps is the host's to recover, as the firmware's own is.
    refuse(kind == 2 ? "BUDGET" : "TRAPPED");
    dSlotCore(cActive, cVersion);
    d(" failed after its trial: ");
    dBytes(failText, failLen);
    publish("failure", false, reason(), -1, -1, 0, 0);
    return;
  }
  rollbackCore(2, kind == 2 ? "BUDGET" : "TRAPPED");
}

/** Good readings after which the host tells coreReadings; 0 when no core is on trial. */
export function coreWake(): i32 {
  return cTrial ? CONFIRM_READINGS : 0;
}

/** good readings since the core on trial went in: confirmed at CONFIRM_READINGS. */
export function coreReadings(good: i32): void {
  if (!cTrial || good < CONFIRM_READINGS) return;
  setCoreState(cActive, cVersion, cPrevious, cPreviousVersion, false);
  say();
  dSlotCore(cActive, cVersion);
  d(" confirmed after ");
  dn(good);
  d(" good readings");
  publish("confirm", true, "", -1, -1, 0, 0);
}

/**
 * At start-up, before the host instantiates a core: a trial cut short by the restart rolled back,
 * then the core to boot. The slot (2 or 3) with the package's wasm offset and length at out
 * (u32, u32), or -1 for the firmware's own core; a slot that no longer reads is given up, and said.
 */
export function bootCore(out: usize): i32 {
  if (cTrial) {
    const was = cActive;
    const wasVersion = cVersion;
    setLength(was, 0);
    setCoreState(cPrevious, cPreviousVersion, -1, 0, false);
    refuse("UNCONFIRMED");
    d("restarted before ");
    dSlotCore(was, wasVersion);
    d(" was confirmed: ");
    dSlotCore(cActive, cVersion);
    d(" weighs");
    publish("rollback", true, "UNCONFIRMED", -1, -1, 0, 0);
  }
  if (cActive < 0) return -1;
  const slot = cActive;
  if (!readCore(slot, lengthOf(slot))) {
    bootFailed();
    return -1;
  }
  if (mVersion != cVersion) {
    refuse("BAD_PACKAGE");
    d("it holds version ");
    dVersion(mVersion);
    d(", not the ");
    dVersion(cVersion);
    d(" installed");
    bootFailed();
    return -1;
  }
  store<u32>(out, wasmAt);
  store<u32>(out, wasmLen, 4);
  return slot;
}

/** The core to boot did not (the host's code and words at p, as core_swap's), or its slot did not read: the firmware's own. */
export function bootRefused(r: i32, p: usize): void {
  memory.copy(words, p, <usize>min(r >>> 16, 160));
  swapRefused(r);
  bootFailed();
}

function bootFailed(): void {
  const slot = cActive;
  rephrase();
  d("slot ");
  dc(slotLetter(slot));
  d(": ");
  dKept();
  d("; weighing with the firmware's own core");
  setLength(slot, 0);
  setCoreState(-1, 0, cPrevious == slot ? -1 : cPrevious, cPrevious == slot ? 0 : cPreviousVersion, false);
  publish("restore", false, reason(), -1, -1, 0, 0);
}

/** The check of `wasm-scale core verify`: a core package in slot, checked without swapping it in. */
export function verifyCore(slot: i32, len: u32): void {
  if (!readCore(slot, len) || !scanCore(slot, wasmAt, wasmLen)) {
    publish("verify", false, reason(), -1, -1, 0, 0);
    return;
  }
  say();
  dCore();
  d(" for core ABI ");
  dn(mAbi);
  d(", state stream ");
  dn(mState);
  d(", imports and exports as this firmware's");
  publish("verify", true, "", -1, -1, mName, mVersion);
}
