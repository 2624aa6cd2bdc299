// Battery mode: the scale sleeps between readings. A host that sees WAKE_INTERVAL_S > 0 wakes on a
// timer, restores the core's state (state.ts), calls wake_begin, samples with wake_step after each
// sample until the wake's one reading is done, connects only when told, and sleeps for
// wake_sleep_ms. What a wake keeps, when to publish and when to wake next are decided here, once
// for every host; the host only powers things, moves bytes and sleeps.
import {
  CFG_WAKE_INTERVAL_S, CFG_PUBLISH_EVERY, CFG_PUBLISH_CHANGE_KG, CFG_WAKE_SAMPLE_MS,
  READING_FLAGS, READING_FAULT, READING_KG, FLAG_STABLE, ERR_BAD_VALUE,
} from "./abi";
import { cfg, cfgInt } from "./config";
import { outboxPut } from "./outbox";

/** wake_step's answers. */
export const DUTY_SAMPLE: i32 = 0;
export const DUTY_SLEEP: i32 = 1;
export const DUTY_PUBLISH: i32 = 2;

/** A wake is in progress: its readings are kept for its one reading, not queued. */
export let waking: bool = false;
let startMs: i32 = 0;
/** This wake has produced a reading (a weight or a fault report) in the reading record. */
let seen: bool = false;
/** Wakes since the last publishing wake. */
let wakes: i32 = 0;
/** No publishing wake since a cold boot: the first wake publishes (and the host learns the time). */
let cold: bool = true;
/** The weight and fault at the last publishing wake (the change threshold's reference). */
let sentKg: f32 = NaN;
let lastFault: i32 = 0;
/** Home Assistant has had the discovery messages since the cold boot. */
let announced: bool = false;
/** When the next wake is due (host ms), on the grid of WAKE_INTERVAL_S; valid once planned. */
let plannedMs: i32 = 0;
let planned: bool = false;

export function dutyReset(): void {
  waking = false;
  seen = false;
  wakes = 0;
  cold = true;
  sentKg = NaN;
  lastFault = 0;
  announced = false;
  planned = false;
}

export function batteryMode(): bool {
  return cfgInt(CFG_WAKE_INTERVAL_S) > 0;
}

export function wakeBegin(nowMs: i32): void {
  waking = true;
  seen = false;
  startMs = nowMs;
  const interval = cfgInt(CFG_WAKE_INTERVAL_S) * 1000;
  if (!planned || interval <= 0) {
    plannedMs = nowMs; // the grid starts at the first wake
    planned = true;
  } else if (nowMs - plannedMs > 0) {
    // This wake's slot: the grid point nearest now (the sleep timer runs on an RC clock and may
    // wake a little early or late).
    plannedMs += ((nowMs - plannedMs + (interval >> 1)) / interval) * interval;
  }
}

/** scale_sample made a reading (or a fault report) during the wake. */
export function wakeSeen(): void {
  seen = true;
}

/**
 * Whether the wake's reading is done: the latest reading is stable with no fault, or the wake has
 * sampled WAKE_SAMPLE_MS. Done, the latest reading (if any) is queued as it is: a motion or fault
 * reading says so in its flags. Publish on every PUBLISH_EVERY-th wake, on the first wake after a
 * cold boot, when a fault appears or clears, or when the weight moved more than PUBLISH_CHANGE_KG.
 */
export function wakeDecide(nowMs: i32, r: usize): i32 {
  if (!waking) return ERR_BAD_VALUE;
  const fault = load<i32>(r, READING_FAULT);
  const stable = seen && fault == 0 && (load<u32>(r, READING_FLAGS) & FLAG_STABLE) != 0;
  if (!stable && nowMs - startMs < cfgInt(CFG_WAKE_SAMPLE_MS)) return DUTY_SAMPLE;
  waking = false;
  wakes++;
  let publish = cold || wakes >= cfgInt(CFG_PUBLISH_EVERY);
  if (seen) {
    const kg = load<f32>(r, READING_KG);
    const change = cfg(CFG_PUBLISH_CHANGE_KG);
    if ((fault != 0) != (lastFault != 0)) publish = true;
    if (change > 0 && !isNaN(kg) && !isNaN(sentKg) && Mathf.abs(kg - sentKg) > change) publish = true;
    lastFault = fault;
    outboxPut(r);
    if (publish || isNaN(sentKg)) sentKg = kg;
  }
  if (!publish) return DUTY_SLEEP;
  wakes = 0;
  cold = false;
  return DUTY_PUBLISH;
}

/** Milliseconds to the next wake on the grid; a wake that ran past its slot skips to the next. */
export function wakeSleepMs(nowMs: i32): i32 {
  const interval = cfgInt(CFG_WAKE_INTERVAL_S) * 1000;
  if (interval <= 0 || !planned) return 0;
  let next = plannedMs + interval;
  if (next - nowMs <= 0) next += ((nowMs - next) / interval + 1) * interval;
  return next - nowMs;
}

/** The discovery messages go on this connection: always, but in battery mode once after a cold
 * boot or a change of the wake settings (they are retained; each one costs airtime). */
export function discoveryDue(): bool {
  return !batteryMode() || !announced;
}

export function discoverySent(): void {
  announced = true;
}

/** A setting changed: the wake settings are in the discovery messages (expire_after). */
export function dutyConfigChanged(key: i32): void {
  if (key == CFG_WAKE_INTERVAL_S || key == CFG_PUBLISH_EVERY) announced = false;
  if (key == CFG_WAKE_INTERVAL_S) planned = false;
}

/** Seconds after which Home Assistant shows the weight as unavailable: three publishing periods
 * in battery mode, 0 (never) otherwise. */
export function expireAfterS(): i32 {
  return batteryMode() ? 3 * cfgInt(CFG_WAKE_INTERVAL_S) * cfgInt(CFG_PUBLISH_EVERY) : 0;
}

// --- volatile state (state.ts) -----------------------------------------------------------------

export function dutyStateSave(p: usize): usize {
  store<i32>(p, waking ? 1 : 0); store<i32>(p, startMs, 4); store<i32>(p, seen ? 1 : 0, 8); store<i32>(p, wakes, 12);
  store<i32>(p, cold ? 1 : 0, 16); store<f32>(p, sentKg, 20); store<i32>(p, lastFault, 24); store<i32>(p, announced ? 1 : 0, 28);
  store<i32>(p, plannedMs, 32); store<i32>(p, planned ? 1 : 0, 36);
  return p + 40;
}

export function dutyStateLoad(p: usize): usize {
  waking = load<i32>(p) != 0; startMs = load<i32>(p, 4); seen = load<i32>(p, 8) != 0; wakes = load<i32>(p, 12);
  cold = load<i32>(p, 16) != 0; sentKg = load<f32>(p, 20); lastFault = load<i32>(p, 24); announced = load<i32>(p, 28) != 0;
  plannedMs = load<i32>(p, 32); planned = load<i32>(p, 36) != 0;
  return p + 40;
}
