// The package slots and the module instances the host holds for them: slots 0 and 1 (a, b) hold
// calibration modules, slots 2 and 3 (c, d) cores. The state (which module slot is active, which
// previous, whether the active one is on trial; the same of the core slots, with the version of
// each core; each slot's package length) is the manager's: a 40-byte blob the host keeps whole
// (old or new after a power cut) and hands back at start-up. The 24-byte blob of version 1 (no
// cores) is still read. The instances are the host's; the manager keeps what it knows of each.
import { state_put, mod_free, mod_swap } from "./host";

/** Good readings that confirm a module or a core on trial (abi.json calibration_module.transfer.confirmReadings). */
export const CONFIRM_READINGS: i32 = 200;

export const ACTIVE: i32 = 0;
export const PREVIOUS: i32 = 1;
export const CANDIDATE: i32 = 2;

export let sActive: i32 = -1;
export let sPrevious: i32 = -1;
export let sTrial = false;
export const sLength = memory.data(16);
/** The core slots: the one in force (-1: the firmware's own core), the one before it (-1: the
 * firmware's own), whether the one in force is on trial, and the versions of both. */
export let cActive: i32 = -1;
export let cPrevious: i32 = -1;
export let cTrial = false;
export let cVersion: u32 = 0;
export let cPreviousVersion: u32 = 0;

const STATE_V1_BYTES: u32 = 24;
const STATE_BYTES: u32 = 40;
const STATE_MAGIC: u32 = 0x534d5357; // "WSMS"
const blob = memory.data(40);

// What the manager knows of each instance: loaded, its slot, name (NUL-terminated), version.
export const hName = memory.data(3 * 33);
const hInfo = memory.data(3 * 8); // loaded u8, slot i8, pad, version u32

export function loaded(h: i32): bool {
  return load<u8>(hInfo + <usize>(h * 8)) != 0;
}

export function slotOf(h: i32): i32 {
  return loaded(h) ? <i32>load<i8>(hInfo + <usize>(h * 8), 1) : -1;
}

export function versionOf(h: i32): u32 {
  return load<u32>(hInfo + <usize>(h * 8), 4);
}

export function nameOf(h: i32): usize {
  return hName + <usize>(h * 33);
}

export function setLoaded(h: i32, slot: i32, name: usize, version: u32): void {
  store<u8>(hInfo + <usize>(h * 8), 1);
  store<i8>(hInfo + <usize>(h * 8), <i8>slot, 1);
  store<u32>(hInfo + <usize>(h * 8), version, 4);
  memory.copy(nameOf(h), name, 33);
}

export function freeHandle(h: i32): void {
  mod_free(h);
  store<u64>(hInfo + <usize>(h * 8), 0);
  store<u8>(nameOf(h), 0);
}

export function swapHandles(a: i32, b: i32): void {
  mod_swap(a, b);
  const info = load<u64>(hInfo + <usize>(a * 8));
  store<u64>(hInfo + <usize>(a * 8), load<u64>(hInfo + <usize>(b * 8)));
  store<u64>(hInfo + <usize>(b * 8), info);
  for (let i = 0; i < 33; i++) {
    const x = load<u8>(nameOf(a) + <usize>i);
    store<u8>(nameOf(a) + <usize>i, load<u8>(nameOf(b) + <usize>i));
    store<u8>(nameOf(b) + <usize>i, x);
  }
}

export function lengthOf(slot: i32): u32 {
  return slot >= 0 && slot <= 3 ? load<u32>(sLength + <usize>(slot * 4)) : 0;
}

export function setLength(slot: i32, len: u32): void {
  store<u32>(sLength + <usize>(slot * 4), len);
}

function fnv(p: usize, n: u32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i: u32 = 0; i < n; i++) h = (h ^ load<u8>(p + <usize>i)) * 16777619;
  return h;
}

/** Sets and keeps the state. */
export function setState(active: i32, previous: i32, trial: bool): void {
  sActive = active;
  sPrevious = previous;
  sTrial = trial && active >= 0;
  saveState();
}

/** Sets and keeps the core slots' state. */
export function setCoreState(active: i32, activeVersion: u32, previous: i32, previousVersion: u32, trial: bool): void {
  cActive = active;
  cVersion = activeVersion;
  cPrevious = previous;
  cPreviousVersion = previousVersion;
  cTrial = trial;
  saveState();
}

export function saveState(): void {
  store<u32>(blob, STATE_MAGIC);
  store<u8>(blob, 2, 4);
  store<i8>(blob, <i8>sActive, 5);
  store<i8>(blob, <i8>sPrevious, 6);
  store<u8>(blob, sTrial ? 1 : 0, 7);
  store<u32>(blob, lengthOf(0), 8);
  store<u32>(blob, lengthOf(1), 12);
  store<i8>(blob, <i8>cActive, 16);
  store<i8>(blob, <i8>cPrevious, 17);
  store<u8>(blob, cTrial ? 1 : 0, 18);
  store<u8>(blob, 0, 19);
  store<u32>(blob, lengthOf(2), 20);
  store<u32>(blob, lengthOf(3), 24);
  store<u32>(blob, cVersion, 28);
  store<u32>(blob, cPreviousVersion, 32);
  store<u32>(blob, fnv(blob, 36), 36);
  state_put(blob, STATE_BYTES);
}

function coreSlotOk(c: i32): bool {
  return c == -1 || c == 2 || c == 3;
}

/** Takes a blob the host kept; false (and empty slots) when it is not one the manager wrote. */
export function loadState(p: usize, n: u32): bool {
  sActive = -1;
  sPrevious = -1;
  sTrial = false;
  cActive = -1;
  cPrevious = -1;
  cTrial = false;
  cVersion = 0;
  cPreviousVersion = 0;
  for (let i = 0; i < 4; i++) setLength(i, 0);
  const v2 = n == STATE_BYTES && load<u8>(p, 4) == 2 && load<u32>(p, 36) == fnv(p, 36);
  const v1 = n == STATE_V1_BYTES && load<u8>(p, 4) == 1 && load<u32>(p, 20) == fnv(p, 20);
  if (load<u32>(p) != STATE_MAGIC || !(v1 || v2)) return false;
  const a = <i32>load<i8>(p, 5);
  const b = <i32>load<i8>(p, 6);
  if (a < -1 || a > 1 || b < -1 || b > 1 || (a >= 0 && a == b)) return false;
  if (v2) {
    const ca = <i32>load<i8>(p, 16);
    const cb = <i32>load<i8>(p, 17);
    if (!coreSlotOk(ca) || !coreSlotOk(cb) || (ca >= 0 && ca == cb)) return false;
    cActive = ca;
    cPrevious = cb;
    cTrial = load<u8>(p, 18) != 0 && ca >= 0;
    setLength(2, load<u32>(p, 20));
    setLength(3, load<u32>(p, 24));
    cVersion = load<u32>(p, 28);
    cPreviousVersion = load<u32>(p, 32);
  }
  sActive = a;
  sPrevious = b;
  sTrial = load<u8>(p, 7) != 0 && a >= 0;
  setLength(0, load<u32>(p, 8));
  setLength(1, load<u32>(p, 12));
  return true;
}

/** The slot a new package goes to: never the active one (kind 1: a core slot). */
export function spareSlot(kind: i32): i32 {
  if (kind == 1) return cActive == 2 ? 3 : 2;
  return sActive == 0 ? 1 : 0;
}

/** "a", "b" (modules), "c" or "d" (cores). */
export function slotLetter(slot: i32): i32 {
  return 0x61 + slot;
}
