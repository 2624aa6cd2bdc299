// Store-and-forward of readings: a bounded queue that keeps what should be published while the
// broker is away, and reports what a full queue cost. The accounting is exact by construction:
// a reading is dropped only if it was never handed to the network (the oldest one, once framed,
// may already be at the broker, so it stays until acknowledged), each drop is counted once, and a
// gap message, once framed, is frozen: sent again it is byte for byte the same, so a subscriber
// that sees it twice (QoS 1) tells by its dropped_total.
import {
  CFG_PUBLISH_MS, CFG_OUTBOX_CAPACITY, CFG_DIVISION_KG, FAULT_NAMES, TOPIC_STATE, TOPIC_GAP,
  READING_SEQ, READING_T_MS, READING_KG, READING_GROSS_KG, READING_RAW, READING_FLAGS, READING_FAULT, READING_COUNT,
  FLAG_STABLE, FLAG_NET, FLAG_CENTER_ZERO, FLAG_OVERLOAD, FLAG_UNDERLOAD, FLAG_UNCALIBRATED, FLAG_COUNTING, FLAG_COUNT_STABLE,
} from "./abi";
import { cfg, cfgInt } from "./config";
import { wStr, wInt, wFixed, wListName, wByte, partsInit, wPart } from "./json";
import { idLen, frameBegin } from "./topics";

/**
 * Slots in the ring; one more than the largest capacity, for the reading in flight. The ring is
 * most of the core's linear memory, so its size is set by the device's RAM budget (docs/esp32.md,
 * "Memory"): 256 readings are 4 minutes at the default interval.
 */
export const OUTBOX_SLOTS: i32 = 257;
/**
 * A queued reading: the record's first 20 bytes (seq, t_ms, kg, gross_kg, raw, at their offsets),
 * then its flags and fault as u16 and its piece count (the filtered counts are not published):
 * 28 bytes, not 36.
 */
export const SLOT_SIZE: i32 = 28;
const SLOT_FLAGS: usize = 20;
const SLOT_FAULT: usize = 22;
const SLOT_COUNT: usize = 24;

export const outbox = memory.data(OUTBOX_SLOTS * SLOT_SIZE);
export const OUTBOX_BYTES: i32 = OUTBOX_SLOTS * SLOT_SIZE;
export let outHead: i32 = 0; // oldest
export let outLen: i32 = 0;
/** The oldest reading has been framed for publishing: it may be at the broker, it is never dropped. */
let headSent: bool = false;
let pubSeq: u32 = 0;
let droppedTotal: u32 = 0;
/** Drops not yet in a gap message, and the seq of the first reading kept after them. */
let droppedPending: u32 = 0;
let gapNextSeq: u32 = 0;
/** The gap message framed and not yet acknowledged: its figures are fixed once framed. */
let gapFramed: u32 = 0;
let gapFramedTotal: u32 = 0;
let gapFramedNext: u32 = 0;
let lastQueuedMs: i32 = 0;
let queuedAny: bool = false;
let lastFault: i32 = 0;

let epochS: u32 = 0;
let epochAtMs: i32 = 0;
let timeKnown: bool = false;

export function outboxReset(): void {
  outHead = 0;
  outLen = 0;
  headSent = false;
  pubSeq = 0;
  droppedTotal = 0;
  droppedPending = 0;
  gapFramed = 0;
  queuedAny = false;
  lastFault = 0;
  timeKnown = false;
}

export function timeSync(epochSeconds: u32, nowMs: i32): void {
  epochS = epochSeconds;
  epochAtMs = nowMs;
  timeKnown = epochSeconds != 0;
}

/** Address of the i-th oldest reading in the outbox. */
function slotAt(i: i32): usize {
  let slot = outHead + i;
  if (slot >= OUTBOX_SLOTS) slot -= OUTBOX_SLOTS;
  return outbox + <usize>(slot * SLOT_SIZE);
}

/** Offered every reading (and fault report); keeps what should be published, bounded. */
export function outboxOffer(reading: usize): void {
  if (idLen == 0) return;
  const t = load<i32>(reading, READING_T_MS);
  const fault = load<i32>(reading, READING_FAULT);
  const faultChanged = (fault != 0) != (lastFault != 0);
  lastFault = fault;
  if (queuedAny && !faultChanged && t - lastQueuedMs < cfgInt(CFG_PUBLISH_MS)) return;
  outboxPut(reading);
}

/** Queues a reading whatever the interval (battery mode's one reading per wake); bounded. */
export function outboxPut(reading: usize): void {
  if (idLen == 0) return;
  const t = load<i32>(reading, READING_T_MS);
  lastFault = load<i32>(reading, READING_FAULT);
  queuedAny = true;
  lastQueuedMs = t;
  // Full: the oldest reading not yet handed to the network goes, counted once.
  const capacity = min(cfgInt(CFG_OUTBOX_CAPACITY), OUTBOX_SLOTS - 1);
  const keep = headSent ? 1 : 0;
  let dropped = false;
  while (outLen >= capacity && outLen > keep) {
    if (keep) memory.copy(slotAt(1), slotAt(0), SLOT_SIZE);
    outHead = outHead + 1 == OUTBOX_SLOTS ? 0 : outHead + 1;
    outLen--;
    droppedTotal++;
    droppedPending++;
    dropped = true;
  }
  if (dropped) gapNextSeq = outLen > keep ? load<u32>(slotAt(keep), READING_SEQ) : pubSeq + 1;
  const at = slotAt(outLen);
  memory.copy(at, reading, SLOT_FLAGS);
  store<u16>(at, <u16>load<u32>(reading, READING_FLAGS), SLOT_FLAGS); // codes.flag: bits 0..10
  store<u16>(at, <u16>load<i32>(reading, READING_FAULT), SLOT_FAULT); // code, then chip index
  store<i32>(at, load<i32>(reading, READING_COUNT), SLOT_COUNT);
  store<u32>(at, ++pubSeq, READING_SEQ); // the published sequence: a gap means a lost reading
  outLen++;
}

export function outboxLength(): i32 {
  return outLen;
}

export function outboxDropped(): u32 {
  return droppedTotal;
}

/** Decimal places that show the division (0.01 -> 2, 0.005 -> 3). */
export function decimals(): i32 {
  const d = cfg(CFG_DIVISION_KG);
  let n = 0;
  let step: f32 = 1;
  while (n < 6 && step > d * 1.0001) {
    step *= 0.1;
    n++;
  }
  return n;
}

// --- the gap message -------------------------------------------------------------------------

export function gapWaiting(): bool {
  return gapFramed > 0 || droppedPending > 0;
}

export function gapFrame(p: usize, cap: i32): void {
  if (gapFramed == 0) {
    gapFramed = droppedPending;
    gapFramedTotal = droppedTotal;
    gapFramedNext = gapNextSeq;
    droppedPending = 0;
  }
  frameBegin(p, cap, 1, false, TOPIC_GAP);
  wStr("{\"dropped\":");
  wInt(<i64>gapFramed);
  wStr(",\"dropped_total\":");
  wInt(<i64>gapFramedTotal);
  wStr(",\"next_seq\":");
  wInt(<i64>gapFramedNext);
  wByte(0x7D);
}

export function gapDone(): void {
  gapFramed = 0;
}

// --- readings --------------------------------------------------------------------------------

export function readingFrame(p: usize, cap: i32): void {
  headSent = true;
  frameBegin(p, cap, 1, false, TOPIC_STATE);
  wReading(slotAt(0));
}

export function readingDone(): void {
  outHead = outHead + 1 == OUTBOX_SLOTS ? 0 : outHead + 1;
  outLen--;
  headSent = false;
}

// The reading message's literal parts, in the order written (see wReading). A flag's key and
// value are one part ("stable":true and "stable":false are parts of their own), and so is the
// run from "fault" to "t_ms" when there is no fault: in WAMR's fast interpreter each part costs a
// call of about 600 x86 instructions, so the message is written in as few as its numbers allow.
// One literal, not a concatenation: AssemblyScript would join strings at run time, allocating.
const READING_PARTS = "{\"seq\":\u0001,\"kg\":\u0001,\"gross_kg\":\u0001,\"raw\":\u0001,\"stable\":true\u0001,\"stable\":false\u0001,\"net\":true\u0001,\"net\":false\u0001,\"zero\":true\u0001,\"zero\":false\u0001,\"overload\":true\u0001,\"overload\":false\u0001,\"underload\":true\u0001,\"underload\":false\u0001,\"calibrated\":true\u0001,\"calibrated\":false\u0001,\"flags\":\u0001,\"fault\":null,\"status\":\"stable\",\"t_ms\":\u0001,\"fault\":null,\"status\":\"motion\",\"t_ms\":\u0001,\"fault\":\u0001,\"status\":\u0001,\"t_ms\":\u0001,\"ts\":\u0001,\"ts\":null\u0001,\"time_known\":true}\u0001,\"time_known\":false}\u0001,\"count\":\u0001,\"count_stable\":true\u0001,\"count_stable\":false";
const P_SEQ = 0;
const P_KG = 1;
const P_GROSS = 2;
const P_RAW = 3;
/** Flag k's part: P_FLAGS + 2k when set, + 1 when not (stable, net, zero, overload, underload, calibrated). */
const P_FLAGS = 4;
const P_FLAGS_NUMBER = 16;
const P_NO_FAULT_STABLE = 17;
const P_NO_FAULT_MOTION = 18;
const P_FAULT = 19;
const P_STATUS = 20;
const P_T_MS = 21;
const P_TS = 22;
const P_TS_NULL = 23;
const P_TIME_KNOWN = 24;
const P_TIME_UNKNOWN = 25;
const P_COUNT = 26;
const P_COUNT_STABLE = 27;
const P_COUNT_UNSTABLE = 28;
/** Bytes of the parts above (433), rounded up. */
const READING_BYTES: i32 = 448;
const readingBytes = memory.data(READING_BYTES);
const readingOffsets = memory.data(31 * 2);

// @ts-ignore: decorator
@inline function wPartOf(k: i32): void {
  wPart(readingBytes, readingOffsets, k);
}

// @ts-ignore: decorator
@inline function wFlag(k: i32, on: bool): void {
  wPartOf(P_FLAGS + 2 * k + (on ? 0 : 1));
}

function wReading(r: usize): void {
  // Made on first use: the parts start with '{' once there (no flag: a global costs WAMR pool).
  if (load<u8>(readingBytes) == 0) partsInit(READING_PARTS, readingBytes, readingOffsets, READING_BYTES);
  const flags = <u32>load<u16>(r, SLOT_FLAGS);
  const fault = <i32>load<u16>(r, SLOT_FAULT) & 0xFF;
  const dec = decimals();
  const t = load<i32>(r, READING_T_MS);
  const stable = (flags & FLAG_STABLE) != 0;
  wPartOf(P_SEQ);
  wInt(<i64>load<u32>(r, READING_SEQ));
  wPartOf(P_KG);
  wFixed(load<f32>(r, READING_KG), dec);
  wPartOf(P_GROSS);
  wFixed(load<f32>(r, READING_GROSS_KG), dec);
  wPartOf(P_RAW);
  wInt(<i64>load<i32>(r, READING_RAW));
  wFlag(0, stable);
  wFlag(1, (flags & FLAG_NET) != 0);
  wFlag(2, (flags & FLAG_CENTER_ZERO) != 0);
  wFlag(3, (flags & FLAG_OVERLOAD) != 0);
  wFlag(4, (flags & FLAG_UNDERLOAD) != 0);
  wFlag(5, (flags & FLAG_UNCALIBRATED) == 0);
  if ((flags & FLAG_COUNTING) != 0) {
    wPartOf(P_COUNT);
    wInt(<i64>load<i32>(r, SLOT_COUNT));
    wPartOf((flags & FLAG_COUNT_STABLE) != 0 ? P_COUNT_STABLE : P_COUNT_UNSTABLE);
  }
  wPartOf(P_FLAGS_NUMBER);
  wInt(<i64>flags);
  if (fault == 0) {
    wPartOf(stable ? P_NO_FAULT_STABLE : P_NO_FAULT_MOTION);
  } else {
    wPartOf(P_FAULT);
    wListName(FAULT_NAMES, fault);
    wPartOf(P_STATUS);
    wListName(FAULT_NAMES, fault);
    wPartOf(P_T_MS);
  }
  wInt(<i64><u32>t);
  // Wall-clock milliseconds once the host has set the clock (NTP); null, and said so, before.
  if (timeKnown) {
    wPartOf(P_TS);
    wInt(<i64>epochS * 1000 + <i64>(t - epochAtMs));
    wPartOf(P_TIME_KNOWN);
  } else {
    wPartOf(P_TS_NULL);
    wPartOf(P_TIME_UNKNOWN);
  }
}

// --- volatile state (state.ts): the queue's bookkeeping and the wall clock --------------------
// A reading framed before the save may be at the broker: it stays framed (never dropped), and is
// sent again after the restore, as after any reconnection (QoS 1; seq tells the duplicate).

export function outboxStateSave(p: usize): usize {
  // The stream holds the queued readings oldest first (state.ts): restored, the oldest is slot 0.
  store<i32>(p, 0); store<i32>(p, outLen, 4); store<u32>(p, pubSeq, 8); store<u32>(p, droppedTotal, 12);
  store<u32>(p, droppedPending, 16); store<u32>(p, gapNextSeq, 20); store<u32>(p, gapFramed, 24);
  store<u32>(p, gapFramedTotal, 28); store<u32>(p, gapFramedNext, 32); store<i32>(p, lastQueuedMs, 36);
  store<i32>(p, queuedAny ? 1 : 0, 40); store<i32>(p, lastFault, 44); store<u32>(p, epochS, 48);
  store<i32>(p, epochAtMs, 52); store<i32>(p, timeKnown ? 1 : 0, 56); store<i32>(p, headSent ? 1 : 0, 60);
  return p + 64;
}

export function outboxStateLoad(p: usize): usize {
  outHead = load<i32>(p); outLen = load<i32>(p, 4); pubSeq = load<u32>(p, 8); droppedTotal = load<u32>(p, 12);
  droppedPending = load<u32>(p, 16); gapNextSeq = load<u32>(p, 20); gapFramed = load<u32>(p, 24);
  gapFramedTotal = load<u32>(p, 28); gapFramedNext = load<u32>(p, 32); lastQueuedMs = load<i32>(p, 36);
  queuedAny = load<i32>(p, 40) != 0; lastFault = load<i32>(p, 44); epochS = load<u32>(p, 48);
  epochAtMs = load<i32>(p, 52); timeKnown = load<i32>(p, 56) != 0; headSent = load<i32>(p, 60) != 0;
  return p + 64;
}
