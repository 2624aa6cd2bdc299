// The core manager (build/core-manager.wasm): every decision about the core itself and, on the
// ESP32, the firmware image (core.ts, firmware.ts), with the calibration module manager's package,
// signature, slots and transfer (one implementation: the same sources, built into a second, smaller
// program so that a host loads only what it decides with; index.ts is the module manager). A host
// loads it when a core's step or a firmware package comes, at start-up before the core is
// instantiated, after a core on trial trapped or made enough readings, and frees it when it is not
// busy: the slots' state lives in the blob the host keeps.
import { wBegin, wByte, wStr, wLen } from "../json";
import { loadState, lengthOf, cActive, cPrevious, cTrial } from "./slots";
import { step, busy, setChunkBytes, ASK_INSTALL, ASK_ROLLBACK, receivedSlot, receivedSize } from "./transfer";
import { readPackage } from "./package";
import { answerOf } from "./out";
import { wSlot } from "./listing";
import { same } from "./json";
import { bootCore, bootRefused, coreFailed, coreWake, coreReadings, rollbackCore, coreVersion, verifyCore, installCore } from "./core";
import { firmwareInstall } from "./firmware";
import { io, IO_CAP } from "./io";

// The layout WAMR needs to give the manager only its static data, not a 64 KiB page.
export { __heap_base, __data_end };
export { mgr_abi, mgr_io, mgr_io_bytes } from "./io";

/** What the host is: the largest chunk it takes (metering is the module manager's). */
export function mgr_configure(chunkBytes: i32, metered: i32): void {
  setChunkBytes(chunkBytes);
  void metered;
}

/** The slots' state (stateLen bytes at mgr_io), as the host keeps it: read before anything else. */
export function mgr_resume(stateLen: i32): void {
  loadState(io, <u32>stateLen);
}

/**
 * A message on the module topic for this manager: "core/..." (a core's transfer step) or
 * "firmware" (a firmware package, its payload), subLen bytes at mgr_io.
 */
export function mgr_message(subLen: i32, payloadLen: i32): void {
  if (same(io, subLen, "firmware")) {
    answerOf(2);
    firmwareInstall(<u32>payloadLen);
    answerOf(0);
    return;
  }
  answerOf(1);
  const core = subLen > 5 && same(io, 5, "core/");
  const asked = step(core ? io + 5 : io, core ? subLen - 5 : subLen, payloadLen, 1);
  if (asked == ASK_INSTALL) installCore(receivedSlot(), receivedSize());
  else if (asked == ASK_ROLLBACK) rollbackCore(1, "");
  answerOf(0);
}

/** A transfer is under way: keep the manager loaded. */
export function mgr_busy(): i32 {
  return busy() ? 1 : 0;
}

/**
 * Start-up, before the host instantiates a core: the slots' state (stateLen bytes at mgr_io). A
 * trial cut short is rolled back; then the core to boot: a slot (2 or 3) with its wasm's offset and
 * length at mgr_io (u32, u32), or -1 for the firmware's own.
 */
export function mgr_core_boot(stateLen: i32): i32 {
  loadState(io, <u32>stateLen);
  answerOf(1);
  const slot = bootCore(io);
  answerOf(0);
  return slot;
}

/** The core mgr_core_boot named did not instantiate (core_swap's code, the engine's words at mgr_io): the firmware's own boots. */
export function mgr_core_boot_refused(code: i32): void {
  answerOf(1);
  bootRefused(code, io);
  answerOf(0);
}

/** The core in force trapped (kind 1) or ran past its budget (2), words (n bytes) at mgr_io: rolled back when on trial. */
export function mgr_core_failed(kind: i32, n: i32): void {
  answerOf(1);
  coreFailed(kind, io, min(n, IO_CAP));
  answerOf(0);
}

/** Readings after which the host calls mgr_core_readings (0: no core on trial). */
export function mgr_core_wake(): i32 {
  return coreWake();
}

/** good readings since the core went in (the host counts samples that made a reading). */
export function mgr_core_readings(good: i32): void {
  answerOf(1);
  coreReadings(good);
  answerOf(0);
}

export function mgr_core_rollback(): void {
  answerOf(1);
  rollbackCore(0, "");
  answerOf(0);
}

/** The core package of len bytes in slot checked without swapping it in (wasm-scale core verify). */
export function mgr_core_verify(slot: i32, len: u32): void {
  answerOf(1);
  verifyCore(slot, len);
  answerOf(0);
}

/** The core in force: its slot (-1 the firmware's own), version, and whether it is on trial. */
export function mgr_core_slot(): i32 {
  return cActive;
}

export function mgr_core_version(): u32 {
  return coreVersion();
}

export function mgr_core_trial(): i32 {
  return cTrial ? 1 : 0;
}

/** What the core slots hold, as JSON at mgr_io; its length. Nothing is loaded. */
export function mgr_list(): i32 {
  let at = 0;
  store<u8>(io, 0x5b);
  at = 1;
  for (let slot = 2; slot < 4; slot++) {
    const len = lengthOf(slot);
    if (len == 0 || !readPackage(slot, len)) continue;
    wBegin(io + <usize>at, IO_CAP - at - 2);
    if (at > 1) wByte(0x2c);
    wSlot(slot, true, slot == cActive ? 0 : slot == cPrevious ? 1 : 2, slot == cActive && cTrial);
    wStr("}");
    const w = wLen();
    if (w < 0) break;
    at += w;
  }
  store<u8>(io + <usize>at, 0x5d);
  return at + 1;
}
