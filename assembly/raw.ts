// Recording on the device: on a `record` command the core writes down, for N seconds, what it is
// given (each sample's time, what each GPIO import returned, the messages, power and settings the
// host passed in), in binary batches published on the raw topic, so that the desktop can replay
// the very conversions through other settings. Bounded by construction: two batch buffers, and a
// batch is only framed when no reading, result or gap waits (mqtt.ts sends it last); when both
// buffers are full what cannot be kept is counted, never a reading or a publish.
//
// A batch (little endian): u8 version, u8 flags (1 first, 2 last), u16 bytes of records,
// u32 batch number, u32 records lost so far, then records, each a tag byte and its fields:
//   'H' u8 rate, u8 chips, chips x (u8 clk, u8 dout), u16 n + config blob, u16 n + calibration blob
//   'S' i32 now_ms                                    a scale_sample call
//   'W' i32 result                                    gpio_wait_low returned
//   'C' u8 n, (2n + 4) x u32                          gpio_clock_in's output (words, high mask, longest high,
//                                                     first rising and last falling edge, each DOUT's fall)
//   'M' u16 topic bytes, u16 payload bytes (full length), u16 n, then the n bytes the core was given
//   'P' u8 on                                         hx_power
//   'K' u8 key, f32 value                             config_set from the host
//   'X' u8 command, f32 argument                      a command export the host called (cmd_*, cal_*),
//                                                     numbered as commands.ts lists them
//   'B' u8 which, u16 n, n bytes                      blob_load from the host
//   'U' u8 down, i32 t_ms                              an edge of the button (its polls are not recorded:
//                                                     a replay polls after every sample, as the host does)
//   'E'                                               the end of the recording
// host/desktop/raw.ts turns batches into a recording file (docs/simulator.md, "Recording on the device").

export const RAW_VERSION: i32 = 2;
/** Bytes of a batch: framed with its topic it fits the io buffer. */
export const RAW_BATCH: i32 = 896;
const HEADER: i32 = 12;
/** Room a sample needs: S, W, and a C per clock pin (at most four pins of one chip each: 6 words). */
const SAMPLE_ROOM: i32 = 5 + 5 + 4 * (2 + 6 * 4);
/** A batch is sent at least this often while recording (ms), so the stream flows at 10 SPS too. */
const BATCH_MS: i32 = 1000;
/** Longest recording a command may ask for (s). */
export const RAW_MAX_S: i32 = 3600;

const buffers = memory.data(2 * RAW_BATCH);
/** Buffer being filled (0 or 1), bytes in it, and the buffer sealed and waiting to be sent, plus one (0: none). */
let fill: i32 = 0;
let used: i32 = 0;
let sealed: i32 = 0;
let batchNo: u32 = 0;
let lost: u32 = 0;
/**
 * Recording now, for durationMs from startMs; and the seconds of a recording asked to start at
 * the next sample. The per-sample hooks are called only while `rawOn` (a global read instead of
 * three calls a sample: measured, 300 x86 instructions a sample in WAMR's fast interpreter).
 */
export let rawOn: bool = false;
let active: bool = false;
let pending: i32 = 0;
let startMs: i32 = 0;
let durationMs: i32 = 0;
let batchStartMs: i32 = 0;
/** The current sample found no room: its records are skipped. */
let skipping: bool = false;
let first: bool = false;

/** rawOn follows the state: a recording runs or is about to start. */
function track(): void {
  rawOn = active || pending > 0;
}

export function rawReset(): void {
  active = false;
  pending = 0;
  used = 0;
  sealed = 0;
  batchNo = 0;
  lost = 0;
  skipping = false;
  track();
}

/** The record command: seconds 1..RAW_MAX_S starts (or restarts) a recording at the next sample, 0 ends it. */
export function rawCommand(seconds: i32): void {
  if (seconds == 0) {
    if (active) durationMs = 0; // ends at the next sample
    pending = 0;
    track();
    return;
  }
  pending = seconds;
  track();
}

/** True when a recording starts at this sample: the caller then gives rawBegin the header. */
export function rawStarting(): bool {
  return pending > 0;
}

function at(): usize {
  return buffers + <usize>(fill * RAW_BATCH + HEADER + used);
}

/** Seals the buffer being filled and moves to the other; false when the other still waits to be sent. */
function seal(last: bool): bool {
  if (sealed != 0) return false;
  const b = buffers + <usize>(fill * RAW_BATCH);
  store<u8>(b, <u8>RAW_VERSION);
  store<u8>(b, <u8>((first ? 1 : 0) | (last ? 2 : 0)), 1);
  store<u16>(b, <u16>used, 2);
  store<u32>(b, batchNo++, 4);
  store<u32>(b, lost, 8);
  sealed = fill + 1;
  first = false;
  fill ^= 1;
  used = 0;
  return true;
}

/** Room for n more bytes, sealing the current batch when it is full; false when there is none. */
function room(n: i32): bool {
  if (HEADER + used + n <= RAW_BATCH) return true;
  return seal(false) && HEADER + n <= RAW_BATCH;
}

/**
 * Starts the recording with its header record: the rate and chips here, then the configuration
 * and calibration blobs as the core holds them now, by two rawBlob calls.
 */
export function rawBegin(nowMs: i32, rate: i32, clk: usize, dout: usize, chips: i32): void {
  durationMs = pending * 1000;
  pending = 0;
  if (active) seal(false); // a restart: what was recorded goes first
  used = 0;
  lost = 0;
  batchNo = 0;
  first = true;
  active = true;
  startMs = nowMs;
  batchStartMs = nowMs;
  track();
  const start = at();
  let p = start;
  store<u8>(p, 0x48);
  store<u8>(p, <u8>rate, 1);
  store<u8>(p, <u8>chips, 2);
  p += 3;
  for (let i = 0; i < chips; i++) {
    store<u8>(p, load<u8>(clk + i));
    store<u8>(p, load<u8>(dout + i), 1);
    p += 2;
  }
  used += <i32>(p - start);
}

/** A blob of the header (n bytes at p; the header has room for both blobs). */
export function rawBlob(p: usize, n: i32): void {
  const q = at();
  store<u16>(q, <u16>n);
  memory.copy(q + 2, p, n);
  used += 2 + n;
}

/** A scale_sample call: ends the recording when its time is up, then records the sample's time. */
export function rawSample(nowMs: i32): void {
  if (!active) return;
  if (nowMs - startMs >= durationMs) {
    skipping = true; // this sample is after the end
    if (!room(1)) return; // both buffers wait to be sent: the end is written at a later sample
    store<u8>(at(), 0x45);
    used++;
    if (seal(true)) active = false;
    else used--; // the other buffer is not sent yet: the end is sealed at a later sample
    track();
    return;
  }
  if (nowMs - batchStartMs >= BATCH_MS && used > 0 && seal(false)) batchStartMs = nowMs;
  skipping = !room(SAMPLE_ROOM);
  if (skipping) {
    lost++;
    return;
  }
  const p = at();
  store<u8>(p, 0x53);
  store<i32>(p, nowMs, 1);
  used += 5;
}

/** An i32 the host gave: tag and value (wait_low's result). */
export function rawWait(result: i32): void {
  if (!active || skipping) return;
  const p = at(); // room was made for the whole sample
  store<u8>(p, 0x57);
  store<i32>(p, result, 1);
  used += 5;
}

/** clock_in's output for n chips on one clock pin. */
export function rawClock(out: usize, n: i32): void {
  if (!active || skipping) return;
  const p = at();
  const bytes = (2 * n + 4) * 4;
  store<u8>(p, 0x43);
  store<u8>(p, <u8>n, 1);
  memory.copy(p + 2, out, bytes);
  used += 2 + bytes;
}

/** A message the host handed in: topic then payload at p, of which `have` bytes are there. */
export function rawMessage(p: usize, topicLen: i32, payloadLen: i32, have: i32): void {
  if (!active) return;
  if (have < 0 || !room(7 + have)) {
    lost++;
    return;
  }
  const q = at();
  store<u8>(q, 0x4D);
  store<u16>(q, <u16>topicLen, 1);
  store<u16>(q, <u16>min(payloadLen, 0xFFFF), 3);
  store<u16>(q, <u16>have, 5);
  memory.copy(q + 7, p, have);
  used += 7 + have;
}

/** hx_power from the host. */
export function rawPower(on: bool): void {
  if (!active) return;
  if (!room(2)) {
    lost++;
    return;
  }
  store<u8>(at(), 0x50);
  store<u8>(at(), on ? 1 : 0, 1);
  used += 2;
}

/** config_set from the host. */
export function rawConfig(key: i32, value: f32): void {
  if (!active) return;
  if (!room(6)) {
    lost++;
    return;
  }
  const p = at();
  store<u8>(p, 0x4B);
  store<u8>(p, <u8>key, 1);
  store<f32>(p, value, 2);
  used += 6;
}

/** A command export the host called: its index in commands.ts's list and its argument. */
export function rawCall(command: i32, arg: f32): void {
  if (!active) return;
  if (!room(6)) {
    lost++;
    return;
  }
  const p = at();
  store<u8>(p, 0x58);
  store<u8>(p, <u8>command, 1);
  store<f32>(p, arg, 2);
  used += 6;
}

/** An edge of the button, as the host gave it. */
export function rawButton(down: bool, tMs: i32): void {
  if (!active) return;
  if (!room(6)) {
    lost++;
    return;
  }
  const p = at();
  store<u8>(p, 0x55);
  store<u8>(p, down ? 1 : 0, 1);
  store<i32>(p, tMs, 2);
  used += 6;
}

/** blob_load from the host: the blob (n bytes at p) as it was given. */
export function rawBlobLoad(which: i32, p: usize, n: i32): void {
  if (!active) return;
  if (n < 0 || !room(4 + n)) {
    lost++;
    return;
  }
  const q = at();
  store<u8>(q, 0x42);
  store<u8>(q, <u8>which, 1);
  store<u16>(q, <u16>n, 2);
  memory.copy(q + 4, p, n);
  used += 4 + n;
}

export function rawWaiting(): bool {
  return sealed != 0;
}

/** The sealed batch: its address and length, for the framer. */
export function rawBatch(): usize {
  return buffers + <usize>((sealed - 1) * RAW_BATCH);
}

export function rawBatchLen(): i32 {
  return HEADER + <i32>load<u16>(rawBatch(), 2);
}

/** The sealed batch is at the broker: its buffer is free again. */
export function rawDone(): void {
  sealed = 0;
}
