// The core's volatile state as one stream, for a host that turns the core off between readings
// (deep sleep) or moves it: filters and stability, zero tracking and tare, the sequence numbers,
// the outbox with its readings, the results not yet published, a corner adjustment in progress
// and the wall clock. Not in it: settings and calibration (their blobs), the chips and the device
// id (added by the host at every start), the MQTT connection (told by the host), a recording.
//
// The host restores a start as at a cold boot (scale_init, chips, blobs, device id), then the
// state, and must keep its millisecond clock running across the gap (the state holds times).
// The stream passes through the io buffer in chunks, in order: chunk k is bytes [k*cap, (k+1)*cap).
//   magic "WSS1" | version u16 | regions u16 | total length u32 | scalars length u16 | scalars |
//   every region's bytes | the waiting results, oldest first | the queued readings, oldest first |
//   crc32 u32 (of everything before it)
// The two queues take only their used slots, so a battery scale's stream is about 2 KB plus
// 24 bytes a queued reading: it fits the ESP32's RTC memory until an outage of many hours.
import { ERR_BAD_BLOB, ERR_BAD_VALUE } from "./abi";
import { STATE_VERSION } from "./version";
export { STATE_VERSION };
import { crc32Update } from "./blob";
import { filterStateSave, filterStateLoad, spikeRing, spikeSorted, SPIKE_BYTES, movingRing, MOVING_BYTES, slotLow, slotHigh, SLOT_BYTES } from "./filter";
import { hxStateSave, hxStateLoad, lastCode, sameCount, CODES_BYTES, fallTimes, FALL_TIMES_BYTES } from "./hx711";
import { trimStateSave, trimStateLoad, empty, rows, TRIM_BYTES, ROWS_BYTES } from "./trim";
import { calStateSave, calStateLoad } from "./calibration";
import { commandsStateSave, commandsStateLoad, results, resHead, resLen, RESULTS_MAX, RESULT_SIZE } from "./commands";
import { outboxStateSave, outboxStateLoad, outbox, outHead, outLen, OUTBOX_SLOTS, SLOT_SIZE } from "./outbox";
import { dutyState, DUTY_STATE_BYTES } from "./duty";
import { scaleStateSave, scaleStateLoad } from "./scale";
import { countStateSave, countStateLoad } from "./count";
import { buttonStateSave, buttonStateLoad } from "./button";

const STATE_MAGIC: u32 = 0x31535357; // "WSS1"
const HEAD: i32 = 14;
/** The scalars' bytes: filter 144, hx711 16, trim 24, calibration 16, commands 12, outbox 64, scale 52,
 * count 4, button 12. */
const SCALARS_LEN: i32 = 344;
/** Where the two queues' lengths are in the stream (their heads are written as 0). */
const RESULTS_LEN_AT: i32 = HEAD + 144 + 16 + 24 + 16 + 4;
const OUTBOX_LEN_AT: i32 = HEAD + 144 + 16 + 24 + 16 + 12 + 4;
const REGIONS: i32 = 11;

/** Header and scalars, staged: written here before the first chunk, read here before applying. */
const staged = memory.data(HEAD + SCALARS_LEN);
/** The regions: address and size, in stream order (the two queues come after them). */
const regionTable = memory.data<u32>([
  <u32>spikeRing, SPIKE_BYTES, <u32>spikeSorted, SPIKE_BYTES, <u32>movingRing, MOVING_BYTES, <u32>slotLow, SLOT_BYTES,
  <u32>slotHigh, SLOT_BYTES, <u32>lastCode, CODES_BYTES, <u32>sameCount, CODES_BYTES,
  <u32>empty, TRIM_BYTES, <u32>rows, ROWS_BYTES, <u32>dutyState, DUTY_STATE_BYTES, <u32>fallTimes, FALL_TIMES_BYTES,
]);

/** Where a stream is: the next chunk expected, the CRC register, its length (0: none started) and
 * the CRC trailer as it arrives; in linear memory, not globals (WAMR's pool pays for each global). */
const cursor = memory.data(16);
const NEXT: usize = 0;
const CRC: usize = 4;
const TOTAL: usize = 8;
const TRAILER: usize = 12;

/** The stream's length with `results` and `readings` queued: header, scalars, regions, queues, CRC. */
function streamLength(results: i32, readings: i32): i32 {
  let n = HEAD + SCALARS_LEN + results * RESULT_SIZE + readings * SLOT_SIZE + 4;
  for (let i = 0; i < REGIONS; i++) n += <i32>load<u32>(regionTable + <usize>(i * 8), 4);
  return n;
}


/** Copies the part of [at, at + size) (stream position pos) inside stream bytes [from, from + n). */
function visit(at: usize, size: i32, pos: i32, p: usize, from: i32, n: i32, save: bool): i32 {
  const lo = max(from, pos);
  const hi = min(from + n, pos + size);
  if (lo < hi) {
    const outside = p + <usize>(lo - from);
    const inside = at + <usize>(lo - pos);
    if (save) memory.copy(outside, inside, <usize>(hi - lo));
    else memory.copy(inside, outside, <usize>(hi - lo));
  }
  return pos + size;
}

/**
 * A queue's used slots, oldest first: saved from the ring as it stands (head, len; the part after
 * the end of the ring, then the part from its start), loaded into slots 0 .. len-1.
 */
function visitQueue(ring: usize, size: i32, slots: i32, head: i32, len: i32, pos: i32, p: usize, from: i32, n: i32, save: bool): i32 {
  if (!save) return visit(ring, len * size, pos, p, from, n, false);
  const first = min(len, slots - head);
  pos = visit(ring + <usize>(head * size), first * size, pos, p, from, n, true);
  return visit(ring, (len - first) * size, pos, p, from, n, true);
}

/**
 * Copies stream bytes [from, from + n) to p (save), or from p into the state (load): the staged
 * header and scalars, the regions, the results and the readings. The CRC trailer is the caller's.
 */
function move(p: usize, from: i32, n: i32, save: bool): void {
  let pos = visit(staged, HEAD + SCALARS_LEN, 0, p, from, n, save);
  for (let i = 0; i < REGIONS; i++) {
    const e = regionTable + <usize>(i * 8);
    pos = visit(<usize>load<u32>(e), <i32>load<u32>(e, 4), pos, p, from, n, save);
  }
  // Loading, the lengths come from the staged scalars (chunk 0 holds them whole, and fills the
  // staging area before the queues' bytes are reached).
  pos = visitQueue(results, RESULT_SIZE, RESULTS_MAX, resHead, save ? resLen : load<i32>(staged + <usize>RESULTS_LEN_AT), pos, p, from, n, save);
  visitQueue(outbox, SLOT_SIZE, OUTBOX_SLOTS, outHead, save ? outLen : load<i32>(staged + <usize>OUTBOX_LEN_AT), pos, p, from, n, save);
}

function stageScalars(): void {
  let q = staged + <usize>HEAD;
  q = filterStateSave(q);
  q = hxStateSave(q);
  q = trimStateSave(q);
  q = calStateSave(q);
  q = commandsStateSave(q);
  q = outboxStateSave(q);
  q = scaleStateSave(q);
  q = countStateSave(q);
  q = buttonStateSave(q);
  assert(<i32>(q - staged) == HEAD + SCALARS_LEN);
}

function applyScalars(): void {
  let q = staged + <usize>HEAD;
  q = filterStateLoad(q);
  q = hxStateLoad(q);
  q = trimStateLoad(q);
  q = calStateLoad(q);
  q = commandsStateLoad(q);
  q = outboxStateLoad(q);
  q = scaleStateLoad(q);
  q = countStateLoad(q);
  buttonStateLoad(q);
}

// @ts-ignore: decorator
@inline function cur(at: usize): i32 { return load<i32>(cursor + at); }
// @ts-ignore: decorator
@inline function setCur(at: usize, v: i32): void { store<i32>(cursor + at, v); }

/** Refuses the stream under way (the host starts the core as at a cold boot). */
function refuse(err: i32): i32 {
  setCur(TOTAL, 0);
  return err;
}

/** Writes chunk k of the state into [p, p + cap): its length, 0 after the last chunk, or an error. */
export function stateSave(k: i32, p: usize, cap: i32): i32 {
  if (k == 0) {
    stageScalars();
    setCur(TOTAL, streamLength(resLen, outLen));
    store<u32>(staged, STATE_MAGIC);
    store<u16>(staged, <u16>STATE_VERSION, 4);
    store<u16>(staged, <u16>(REGIONS + 2), 6);
    store<u32>(staged, <u32>cur(TOTAL), 8);
    store<u16>(staged, <u16>SCALARS_LEN, 12);
    setCur(CRC, 0xFFFFFFFF);
  } else if (k != cur(NEXT) || cur(TOTAL) == 0) {
    return ERR_BAD_VALUE; // chunks go in order, from 0
  }
  const total = cur(TOTAL);
  const from = k * cap;
  if (from >= total) return 0;
  const n = min(cap, total - from);
  const body = min(n, total - 4 - from); // the bytes before the CRC trailer
  if (body > 0) {
    move(p, from, body, true);
    setCur(CRC, crc32Update(cur(CRC), p, body));
  }
  // The trailer's bytes in this chunk (it may straddle two): the CRC is complete by then.
  const crc = ~<u32>cur(CRC);
  for (let t = max(from, total - 4); t < from + n; t++) store<u8>(p + <usize>(t - from), <u8>(crc >> (<u32>(t - total + 4) << 3)));
  setCur(NEXT, k + 1);
  return n;
}

/**
 * Takes chunk k (n bytes at p; every chunk but the last a full cap). Returns 1 while more is due,
 * 0 when the whole state has arrived, been checked and applied; or an error (BAD_BLOB: wrong magic,
 * version, length or checksum; BAD_VALUE: out of order), after which the state is not to be
 * used: the host starts the core as at a cold boot.
 */
export function stateLoad(k: i32, p: usize, n: i32, cap: i32): i32 {
  if (k == 0) {
    // Chunk 0 holds the header and the scalars whole (the io buffer is larger than both).
    if (n < HEAD + SCALARS_LEN || load<u32>(p) != STATE_MAGIC || <i32>load<u16>(p, 4) != STATE_VERSION || <i32>load<u16>(p, 6) != REGIONS + 2
      || <i32>load<u16>(p, 12) != SCALARS_LEN) {
      return refuse(ERR_BAD_BLOB);
    }
    const results = load<i32>(p + <usize>RESULTS_LEN_AT);
    const readings = load<i32>(p + <usize>OUTBOX_LEN_AT);
    if (results < 0 || results > RESULTS_MAX || readings < 0 || readings > OUTBOX_SLOTS || <i32>load<u32>(p, 8) != streamLength(results, readings)) {
      return refuse(ERR_BAD_BLOB);
    }
    setCur(TOTAL, streamLength(results, readings));
    setCur(CRC, 0xFFFFFFFF);
    setCur(TRAILER, 0);
  } else if (k != cur(NEXT) || cur(TOTAL) == 0) {
    return refuse(ERR_BAD_VALUE);
  }
  const total = cur(TOTAL);
  const from = k * cap;
  if (n <= 0 || from + n > total || (from + n < total && n != cap)) return refuse(ERR_BAD_BLOB);
  const body = min(n, total - 4 - from);
  if (body > 0) {
    setCur(CRC, crc32Update(cur(CRC), p, body));
    move(p, from, body, false);
  }
  let trailer = <u32>cur(TRAILER);
  for (let t = max(from, total - 4); t < from + n; t++) trailer |= <u32>load<u8>(p + <usize>(t - from)) << (<u32>(t - total + 4) << 3);
  setCur(TRAILER, trailer);
  setCur(NEXT, k + 1);
  if (from + n < total) return 1;
  const ok = trailer == ~<u32>cur(CRC);
  setCur(TOTAL, 0);
  if (!ok) return ERR_BAD_BLOB;
  applyScalars();
  return 0;
}
