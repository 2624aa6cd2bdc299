// Battery mode: the scale sleeps between readings. A host that sees WAKE_INTERVAL_S > 0 wakes on a
// timer, restores the core's state (state.ts), calls wake_begin, samples with wake_step after each
// sample until the wake's one reading is done, connects only when told, and sleeps for
// wake_sleep_ms. What a wake keeps, when to publish and when to wake next are decided here, once
// for every host; the host only powers things, moves bytes and sleeps.
import {
  CFG_WAKE_INTERVAL_S, CFG_PUBLISH_EVERY, CFG_PUBLISH_CHANGE_KG, CFG_WAKE_SAMPLE_MS,
  READING_FLAGS, READING_FAULT, READING_KG, FLAG_STABLE, FLAG_LOW_SUPPLY, ERR_BAD_VALUE, WAKE_SAMPLE, WAKE_SLEEP,
  WAKE_PUBLISH, CAUSE_BROWNOUT,
} from "./abi";
import { cfg, cfgInt } from "./config";
import { outboxPut } from "./outbox";

// The duty cycle's state, in one block of linear memory rather than ten globals (each global
// costs WAMR about 80 bytes of pool; the block is also the state stream's part, copied whole).
const S = memory.data(52);
/** A wake is in progress: its readings are kept for its one reading, not queued. */
const WAKING: usize = 0;
/** When the wake began (host ms). */
const START_MS: usize = 4;
/** This wake has produced a reading (a weight or a fault report) in the reading record. */
const SEEN: usize = 8;
/** Wakes since the last publishing wake. */
const WAKES: usize = 12;
/** No publishing wake since a cold boot: the first wake publishes (and the host learns the time). */
const COLD: usize = 16;
/** The weight and fault at the last publishing wake (the change threshold's reference). */
const SENT_KG: usize = 20;
const LAST_FAULT: usize = 24;
/** Home Assistant has had the discovery messages since the cold boot. */
const ANNOUNCED: usize = 28;
/** When the next wake is due (host ms), on the grid of WAKE_INTERVAL_S; valid once PLANNED. */
const PLANNED_MS: usize = 32;
const PLANNED: usize = 36;
/** Publishing wakes in a row that did not get through (no connection, or a brown-out): each one
 * doubles the wakes until the next, up to 8 times PUBLISH_EVERY. */
const MISSED: usize = 40;
/** The last publishing wake has not connected yet (set when it is decided, cleared on connection). */
const TRYING: usize = 44;
/** A brown-out reset since the last connection: the readings say LOW_SUPPLY. */
const LOW: usize = 48;
export const DUTY_STATE_BYTES: i32 = 52;
/** The longest back-off: 2^3 = 8 publishing periods. */
const MAX_BACKOFF_SHIFT: i32 = 3;

// @ts-ignore: decorator
@inline function get(at: usize): i32 { return load<i32>(S + at); }
// @ts-ignore: decorator
@inline function put(at: usize, v: i32): void { store<i32>(S + at, v); }

/** A wake is in progress (scale_sample keeps its readings for the wake's one reading). */
// @ts-ignore: decorator
@inline export function waking(): bool { return get(WAKING) != 0; }

export function dutyReset(): void {
  memory.fill(S, 0, DUTY_STATE_BYTES);
  put(COLD, 1);
  store<f32>(S + SENT_KG, NaN);
}

export function batteryMode(): bool {
  return cfgInt(CFG_WAKE_INTERVAL_S) > 0;
}

export function wakeBegin(nowMs: i32, cause: i32): void {
  // The last publishing wake never connected, or browned out (the host saved the state before it
  // turned the radio on, so this wake starts from there): publish less often until one gets through.
  if (get(TRYING) != 0) {
    put(TRYING, 0);
    put(MISSED, min<i32>(get(MISSED) + 1, MAX_BACKOFF_SHIFT));
  }
  if (cause == CAUSE_BROWNOUT) put(LOW, 1);
  put(WAKING, 1);
  put(SEEN, 0);
  put(START_MS, nowMs);
  const interval = cfgInt(CFG_WAKE_INTERVAL_S) * 1000;
  const planned = get(PLANNED_MS);
  if (get(PLANNED) == 0 || interval <= 0) {
    put(PLANNED_MS, nowMs); // the grid starts at the first wake
    put(PLANNED, 1);
  } else if (nowMs - planned > 0) {
    // This wake's slot: the grid point nearest now (the sleep timer runs on an RC clock and may
    // wake a little early or late).
    put(PLANNED_MS, planned + ((nowMs - planned + (interval >> 1)) / interval) * interval);
  }
}

/** scale_sample made a reading (or a fault report) during the wake. */
export function wakeSeen(): void {
  put(SEEN, 1);
}

/**
 * Whether the wake's reading is done: the latest reading is stable with no fault, or the wake has
 * sampled WAKE_SAMPLE_MS. Done, the latest reading (if any) is queued as it is: a motion or fault
 * reading says so in its flags. Publish on every PUBLISH_EVERY-th wake, on the first wake after a
 * cold boot, when a fault appears or clears, or when the weight moved more than PUBLISH_CHANGE_KG.
 * After publishing wakes that did not get through (no network, no clock, no broker, a brown-out),
 * only on every (PUBLISH_EVERY << missed)-th wake: a scale with low cells or no network spends its
 * energy on readings, not on connections that fail.
 */
export function wakeDecide(nowMs: i32, r: usize): i32 {
  if (!waking()) return ERR_BAD_VALUE;
  const seen = get(SEEN) != 0;
  const fault = load<i32>(r, READING_FAULT);
  const stable = seen && fault == 0 && (load<u32>(r, READING_FLAGS) & FLAG_STABLE) != 0;
  if (!stable && nowMs - get(START_MS) < cfgInt(CFG_WAKE_SAMPLE_MS)) return WAKE_SAMPLE;
  put(WAKING, 0);
  const wakes = get(WAKES) + 1;
  const missed = get(MISSED);
  let publish = get(COLD) != 0 || wakes >= cfgInt(CFG_PUBLISH_EVERY) << missed;
  if (seen) {
    const kg = load<f32>(r, READING_KG);
    const sent = load<f32>(S + SENT_KG);
    const change = cfg(CFG_PUBLISH_CHANGE_KG);
    if (missed == 0 && (fault != 0) != (get(LAST_FAULT) != 0)) publish = true;
    if (missed == 0 && change > 0 && !isNaN(kg) && !isNaN(sent) && Mathf.abs(kg - sent) > change) publish = true;
    if (get(LOW) != 0) store<u32>(r, load<u32>(r, READING_FLAGS) | FLAG_LOW_SUPPLY, READING_FLAGS);
    put(LAST_FAULT, fault);
    outboxPut(r);
    if (publish || isNaN(sent)) store<f32>(S + SENT_KG, kg);
  }
  if (!publish) {
    put(WAKES, wakes);
    return WAKE_SLEEP;
  }
  put(WAKES, 0);
  put(COLD, 0);
  put(TRYING, 1);
  return WAKE_PUBLISH;
}

/** The broker is reached: publishing goes back to every PUBLISH_EVERY wakes. */
export function dutyConnected(): void {
  put(TRYING, 0);
  put(MISSED, 0);
  put(LOW, 0);
}

/** Milliseconds to the next wake on the grid; a wake that ran past its slot skips to the next. */
export function wakeSleepMs(nowMs: i32): i32 {
  const interval = cfgInt(CFG_WAKE_INTERVAL_S) * 1000;
  if (interval <= 0 || get(PLANNED) == 0) return 0;
  let next = get(PLANNED_MS) + interval;
  if (next - nowMs <= 0) next += ((nowMs - next) / interval + 1) * interval;
  return next - nowMs;
}

/** The discovery messages go on this connection: always, but in battery mode once after a cold
 * boot or a change of the wake settings (they are retained; each one costs airtime). */
export function discoveryDue(): bool {
  return !batteryMode() || get(ANNOUNCED) == 0;
}

export function discoverySent(): void {
  put(ANNOUNCED, 1);
}

/** A setting changed: the wake settings are in the discovery messages (expire_after). */
export function dutyConfigChanged(key: i32): void {
  if (key == CFG_WAKE_INTERVAL_S || key == CFG_PUBLISH_EVERY) put(ANNOUNCED, 0);
  if (key == CFG_WAKE_INTERVAL_S) put(PLANNED, 0);
}

/** Seconds after which Home Assistant shows the weight as unavailable: three publishing periods
 * in battery mode, 0 (never) otherwise. */
export function expireAfterS(): i32 {
  return batteryMode() ? 3 * cfgInt(CFG_WAKE_INTERVAL_S) * cfgInt(CFG_PUBLISH_EVERY) : 0;
}

// --- volatile state (state.ts): the block itself --------------------------------------------

export const dutyState: usize = S;
