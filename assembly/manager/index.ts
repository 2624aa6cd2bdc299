// The calibration module manager (build/manager.wasm): one implementation of every decision about calibration modules
// (packages, signatures asked of the host, module checks, golden vectors, the curve's check, slots,
// trial, confirmation, rollback, the transfer), run by every host beside the core. A host loads it
// when it needs it (start-up, a message on the module topic, a failure, a confirmation, a fit) and
// may drop it when it is not busy: the slots' state lives in a blob the host keeps, not here.
// Imports: host.ts. The host writes into mgr_io() what an export says it reads there.
import { wBegin, wByte, wStr, wLen } from "../json";
import { ACTIVE, PREVIOUS, loaded, nameOf, versionOf, sActive, sPrevious, sTrial, lengthOf, loadState } from "./slots";
import { relearn, restore, rollback, afterSample, wake, fit, verifyOnly, tryModule, setMetering, pending, weighActive, explainFailure, install } from "./install";
import { step, busy, setChunkBytes, ASK_INSTALL, ASK_ROLLBACK, receivedSlot, receivedSize } from "./transfer";
import { readPackage, mParams, mParamCount } from "./package";
import { refuse, d, dn, publish, reason } from "./out";
import { params_get } from "./host";
import { wSlot } from "./listing";
import { io, IO_CAP } from "./io";

const blob = memory.data(8 + 32 * 8);

// The layout WAMR needs to give the manager only its static data, not a 64 KiB page.
export { __heap_base, __data_end };
export { mgr_abi, mgr_io, mgr_io_bytes } from "./io";

/** What the host is: the largest chunk it takes, whether it meters modules by rewriting them (1) or its engine counts (0). */
export function mgr_configure(chunkBytes: i32, metered: i32): void {
  setChunkBytes(chunkBytes);
  setMetering(metered != 0);
}

/** Start-up: the slots' state (stateLen bytes at mgr_io, 0 when the host kept none). Restores the active module. */
export function mgr_start(stateLen: i32): void {
  if (!loadState(io, <u32>stateLen) && stateLen > 0) {
    refuse("BAD_PACKAGE");
    d("the module slots' state was unreadable: starting with the built-in calibration");
    publish("restore", false, reason(), -1, -1, 0, 0);
  }
  restore();
}

/**
 * The manager loaded again while the host kept the module instances (handles in mask: bit h for
 * handle h): the slots' state (stateLen bytes at mgr_io) and what each instance says of itself,
 * without a word to the result topic. Hosts that free the manager between uses call this.
 */
export function mgr_resume(stateLen: i32, mask: i32): void {
  loadState(io, <u32>stateLen);
  if (mask & 1) relearn(ACTIVE, sActive);
  if (mask & 2) relearn(PREVIOUS, sPrevious);
}

/** A message on the module topic: what follows "<module topic>/" (subLen bytes at mgr_io); its payload is the host's.
 * (A core's steps, core/..., and firmware packages are the core manager's: cores.ts.) */
export function mgr_message(subLen: i32, payloadLen: i32): void {
  const asked = step(io, subLen, payloadLen, 0);
  if (asked == ASK_INSTALL) install(receivedSlot(), receivedSize());
  else if (asked == ASK_ROLLBACK) rollback(1);
}

/**
 * After a sample that failed, or once good >= mgr_wake() (or at once when it is -1). failed: 0 no,
 * 1 the core refused a curve (calib.fault: x, kg of the knot), 2 the core refused a gain (x NaN, kg
 * the gain), 3 a gain that was not finite; a call that trapped or ran past its budget is told apart
 * by the host's mod_failure whatever the kind.
 */
export function mgr_after_sample(good: i32, failed: i32, x: f64, kg: f64): void {
  afterSample(good, failed, x, kg);
}

/** Why the active module failed (mgr_after_sample's arguments), answered as step "failure"; nothing is rolled back. */
export function mgr_explain(failed: i32, x: f64, kg: f64): void {
  explainFailure(failed, x, kg);
}

/** The active module's weight for x counts, chip codes and a temperature, as the core weighs with
 * it (tools: `module build` computes a package's vectors with it); NaN when it fails. */
export function mgr_weigh(x: f64, c0: f64, c1: f64, c2: f64, c3: f64, t: f64): f64 {
  return weighActive(x, c0, c1, c2, c3, t);
}

export function mgr_wake(): i32 {
  return wake();
}

/** A fit through the module in force: n points at mgr_io (x counts above zero f64, kg f64). */
export function mgr_fit(order: i32, n: i32): i32 {
  if (n < 1 || n > 10) return -2;
  return fit(order, io, n);
}

export function mgr_rollback(): void {
  rollback(0);
}

/** A transfer is under way: keep the manager loaded. */
export function mgr_busy(): i32 {
  return busy() || pending ? 1 : 0;
}

/** The module in force: its name (NUL-terminated), 0 for the built-in calibration. */
export function mgr_active(): usize {
  return loaded(ACTIVE) ? nameOf(ACTIVE) : 0;
}

export function mgr_active_version(): u32 {
  return versionOf(ACTIVE);
}

export function mgr_trial(): i32 {
  return loaded(ACTIVE) && sTrial ? 1 : 0;
}

/** `wasm-scale module verify`: the package of len bytes in slot checked without switching to it. */
export function mgr_verify(slot: i32, len: u32): void {
  verifyOnly(slot, len);
}

/**
 * A module tried on a recording: the package of len bytes in slot (mode 0; mode 2 without running
 * its vectors, for module build) or a bare .wasm (mode 1), made the active handle (not linked,
 * nothing kept).
 */
export function mgr_try(slot: i32, len: u32, mode: i32): void {
  tryModule(slot, len, mode);
}

/** What the slots hold, as JSON at mgr_io; its length. Nothing is loaded. */
export function mgr_list(): i32 {
  let at = 0;
  store<u8>(io, 0x5b);
  at = 1;
  for (let slot = 0; slot < 2; slot++) {
    const len = lengthOf(slot);
    if (len == 0 || !readPackage(slot, len)) continue;
    wBegin(io + <usize>at, IO_CAP - at - 2);
    if (at > 1) wByte(0x2c);
    wSlot(slot, false, slot == sActive ? 0 : slot == sPrevious ? 1 : 2, slot == sActive && sTrial);
    wStr(",\"params\":[");
    const n = params_get(slot, blob, 8 + 32 * 8);
    const count = n >= 8 ? min(<i32>load<u32>(blob, 4), (n - 8) >> 3) : mParamCount;
    const from = n >= 8 ? blob + 8 : mParams;
    for (let i = 0; i < count; i++) {
      if (i) wByte(0x2c);
      dn(load<f64>(from + <usize>(i * 8)));
    }
    wStr("]}");
    const w = wLen();
    if (w < 0) break;
    at += w;
  }
  store<u8>(io + <usize>at, 0x5d);
  return at + 1;
}

