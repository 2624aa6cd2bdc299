// The weighing logic: one sample through protocol, filters, calibration, zero tracking and
// status flags into the reading record; and the commands that act on the current reading.
import {
  ABI_VERSION, CFG_GAIN, CFG_DIVISION_KG, CFG_CAPACITY_KG, CFG_STABLE_BAND_D,
  CFG_ZERO_TRACK_D_PER_S, CFG_ZERO_TRACK_RANGE_D, CFG_ZERO_RANGE_PCT, CFG_ADAPT_THRESHOLD_D,
  CFG_SPIKE_MODE, CFG_SPIKE_TRIM, CFG_SMOOTH_MODE, CFG_ADAPT_CONFIRM, CFG_STABLE_COUNT,
  FLAG_STABLE, FLAG_CENTER_ZERO, FLAG_NET, FLAG_OVERLOAD, FLAG_UNDERLOAD, FLAG_UNCALIBRATED,
  FLAG_ZERO_RANGE, FLAG_GROSS_NEGATIVE, ERR_NOT_STABLE, ERR_OUT_OF_RANGE, ERR_FAULTED, ERR_BAD_VALUE,
  ERR_BAD_BLOB, BLOB_CALIBRATION, BLOB_CONFIG,
  READING_SIZE, READING_SEQ, READING_T_MS, READING_KG, READING_GROSS_KG, READING_RAW, READING_COUNTS,
  READING_FLAGS, READING_FAULT,
} from "./abi";
import { cfg, cfgInt, configDefaults, configSet, configBase, configBytes, configRestore } from "./config";
import { hxRead, hxReset, hxSum, hxFault, hxWaitedUs } from "./hx711";
import { spikeStep, spikeReset, smoothStep, smoothReset, smoothSetThreshold, stableStep, stableReset, stableShift, smoothPending } from "./filter";
import {
  calEval, calSlope, calReset, calKind, calGain, calC1, calC2, zeroCounts, calZeroCounts, tareKg,
  points, pointData, MAX_POINTS, KIND_NONE, KIND_QUADRATIC, setZero, setTare, calSpan, calAddPoint,
  calFit, calClearPoints, calForgetFit, restoreCalibration, calNominal,
} from "./calibration";
import { blobSeal, blobOpen, BLOB_HEADER, markDirty } from "./blob";
import { mqttReset, mqttMessage, mqttResult, MESSAGE_RUN } from "./mqtt";
import { outboxOffer } from "./outbox";
import {
  cmdIndex, cmdKg, cmdOrder, cmdKey, cmdValue,
  CMD_TARE, CMD_CLEAR_TARE, CMD_ZERO, CMD_CALIBRATE, CMD_CAL_POINT, CMD_CAL_CLEAR, CMD_CAL_FIT,
} from "./commands";

/** OIML R76: overload above Max + 9 e, underload below -20 e. */
const OVERLOAD_D: f32 = 9;
const UNDERLOAD_D: f32 = 20;
/** Center of zero: within a quarter division. */
const CENTER_ZERO_D: f32 = 0.25;
/** Zero tracking never integrates more than this much time at once (s), e.g. after a gap. */
const MAX_TRACK_DT_S: f32 = 1;
const CAL_PAYLOAD: i32 = 32 + MAX_POINTS * 8;
const CONFIG_PAYLOAD: i32 = configBytes;
export const IO_CAP: i32 = 1024;

export const reading = memory.data(READING_SIZE);
export const io = memory.data(IO_CAP);

let seq: u32 = 0;
let haveReading: bool = false;
let lastFaulted: bool = false;
let lastStable: bool = false;
let lastCounts: f32 = 0;
let lastGross: f32 = 0;
let lastT: i32 = 0;

export function scaleInit(): i32 {
  configDefaults();
  hxReset();
  calReset();
  resetFilters(); // also derives the nominal calibration
  mqttReset();
  seq = 0;
  haveReading = false;
  lastFaulted = false;
  lastT = 0;
  memory.fill(reading, 0, READING_SIZE);
  return ABI_VERSION;
}

function resetFilters(): void {
  spikeReset();
  smoothReset();
  stableReset();
  lastStable = false;
  retune();
}

/** Re-derives the count-domain thresholds after a change of division or calibration. */
function retune(): void {
  calNominal(cfg(CFG_CAPACITY_KG), cfgInt(CFG_GAIN));
  smoothSetThreshold(cfg(CFG_ADAPT_THRESHOLD_D) * cfg(CFG_DIVISION_KG) / Mathf.abs(calC1));
}

// @ts-ignore: decorator
@inline function roundTo(kg: f32, d: f32): f32 {
  return Mathf.round(kg / d) * d;
}

/** Inside the zero-setting range: the load relative to the calibrated zero is small enough. */
function inZeroRange(counts: f32): bool {
  if (calKind == KIND_NONE) return true; // no calibrated zero to measure from
  return Mathf.abs(calEval(counts - calZeroCounts)) <= cfg(CFG_ZERO_RANGE_PCT) * 0.01 * cfg(CFG_CAPACITY_KG);
}

function uncalibrated(): bool {
  return calKind == KIND_NONE || calGain != cfgInt(CFG_GAIN);
}

/** One sample: at most two host calls (wait_low, clock_in), no allocation. */
export function scaleSample(nowMs: i32): i32 {
  const got = hxRead();
  if (got == 0) return 0;
  const t = nowMs + hxWaitedUs / 1000;
  store<u32>(reading, ++seq, READING_SEQ);
  store<i32>(reading, t, READING_T_MS);
  if (got < 0) {
    store<f32>(reading, NaN, READING_KG);
    store<f32>(reading, NaN, READING_GROSS_KG);
    store<i32>(reading, 0, READING_RAW);
    store<f32>(reading, NaN, READING_COUNTS);
    store<u32>(reading, uncalibrated() ? FLAG_UNCALIBRATED : 0, READING_FLAGS);
    store<i32>(reading, hxFault, READING_FAULT);
    lastFaulted = true;
    lastStable = false;
    stableReset(); // stability must be earned again from good readings
    outboxOffer(reading);
    return -(hxFault & 0xFF);
  }

  const counts = smoothStep(spikeStep(<f32>hxSum));
  const d = cfg(CFG_DIVISION_KG);
  let gross = calEval(counts - zeroCounts);
  const stable = stableStep(gross, cfg(CFG_STABLE_BAND_D) * d) && !smoothPending();

  // Zero tracking: stable, near zero, inside the zero-setting range, at most rate * d per second.
  // Relative to the calibrated zero, so zero tracking below does not change it.
  const zeroRange = inZeroRange(counts);
  const rate = cfg(CFG_ZERO_TRACK_D_PER_S);
  if (rate > 0 && stable && haveReading && Mathf.abs(gross) <= cfg(CFG_ZERO_TRACK_RANGE_D) * d && zeroRange) {
    const dt = min(<f32>(t - lastT) * 0.001, MAX_TRACK_DT_S);
    const limit = rate * d * max(dt, 0);
    const step = max(-limit, min(limit, gross));
    const slope = calSlope(counts - zeroCounts);
    if (step != 0 && slope != 0) {
      setZero(zeroCounts + step / slope);
      gross = calEval(counts - zeroCounts);
    }
  }

  const capacity = cfg(CFG_CAPACITY_KG);
  let flags: u32 = 0;
  if (stable) flags |= FLAG_STABLE;
  if (Mathf.abs(gross) <= CENTER_ZERO_D * d) flags |= FLAG_CENTER_ZERO;
  if (tareKg != 0) flags |= FLAG_NET;
  if (gross > capacity + OVERLOAD_D * d) flags |= FLAG_OVERLOAD;
  if (gross < -UNDERLOAD_D * d) flags |= FLAG_UNDERLOAD;
  if (uncalibrated()) flags |= FLAG_UNCALIBRATED;
  if (zeroRange) flags |= FLAG_ZERO_RANGE;
  if (gross < 0) flags |= FLAG_GROSS_NEGATIVE;

  store<f32>(reading, roundTo(gross - tareKg, d), READING_KG);
  store<f32>(reading, roundTo(gross, d), READING_GROSS_KG);
  store<i32>(reading, hxSum, READING_RAW);
  store<f32>(reading, counts, READING_COUNTS);
  store<u32>(reading, flags, READING_FLAGS);
  store<i32>(reading, 0, READING_FAULT);
  haveReading = true;
  lastFaulted = false;
  lastStable = stable;
  lastCounts = counts;
  lastGross = gross;
  lastT = t;
  outboxOffer(reading);
  return 1;
}

/** Why the current reading cannot be acted on, or 0. */
function notSettled(): i32 {
  if (lastFaulted) return ERR_FAULTED;
  if (!haveReading) return ERR_OUT_OF_RANGE;
  if (!lastStable) return ERR_NOT_STABLE;
  return 0;
}

export function cmdTare(): i32 {
  const err = notSettled();
  if (err != 0) return err;
  if (lastGross < 0 || lastGross > cfg(CFG_CAPACITY_KG)) return ERR_OUT_OF_RANGE;
  setTare(roundTo(lastGross, cfg(CFG_DIVISION_KG)));
  markDirty(BLOB_CALIBRATION);
  return 0;
}

export function cmdClearTare(): i32 {
  setTare(0);
  markDirty(BLOB_CALIBRATION);
  return 0;
}

export function cmdZero(): i32 {
  const err = notSettled();
  if (err != 0) return err;
  if (!inZeroRange(lastCounts)) return ERR_OUT_OF_RANGE;
  setZero(lastCounts);
  markDirty(BLOB_CALIBRATION);
  stableShift(-lastGross); // the readings in the stability window move with zero
  lastGross = 0;
  return 0;
}

function calibrated(err: i32): i32 {
  if (err == 0) {
    markDirty(BLOB_CALIBRATION);
    retune();
    stableReset();
    lastStable = false;
  }
  return err;
}

export function cmdCalSpan(kg: f32): i32 {
  const err = notSettled();
  if (err != 0) return err;
  return calibrated(calSpan(kg, lastCounts, cfgInt(CFG_GAIN)));
}

export function cmdCalAddPoint(kg: f32): i32 {
  const err = notSettled();
  if (err != 0) return err;
  calForgetFit();
  const n = calAddPoint(kg, lastCounts);
  if (n > 0) markDirty(BLOB_CALIBRATION);
  return n;
}

export function cmdCalClearPoints(): i32 {
  calClearPoints();
  calForgetFit();
  markDirty(BLOB_CALIBRATION);
  return 0;
}

export function cmdCalFit(order: i32): i32 {
  return calibrated(calFit(order, cfgInt(CFG_GAIN)));
}

export function cmdConfigSet(key: i32, value: f32): i32 {
  const err = configSet(key, value);
  if (err != 0) return err;
  if (key >= CFG_SPIKE_MODE && key <= CFG_SPIKE_TRIM) spikeReset();
  else if (key >= CFG_SMOOTH_MODE && key <= CFG_ADAPT_CONFIRM) smoothReset();
  else if (key == CFG_STABLE_COUNT) {
    stableReset();
    lastStable = false;
  }
  retune();
  markDirty(BLOB_CONFIG);
  return 0;
}

/** An MQTT message from the host (topic, then payload, in the io buffer). */
export function message(topicLen: i32, payloadLen: i32): i32 {
  const r = mqttMessage(io, IO_CAP, topicLen, payloadLen);
  if (r != MESSAGE_RUN) return r;
  let code = 0;
  if (cmdIndex == CMD_TARE) code = cmdTare();
  else if (cmdIndex == CMD_CLEAR_TARE) code = cmdClearTare();
  else if (cmdIndex == CMD_ZERO) code = cmdZero();
  else if (cmdIndex == CMD_CALIBRATE) code = cmdCalSpan(cmdKg);
  else if (cmdIndex == CMD_CAL_POINT) code = cmdCalAddPoint(cmdKg);
  else if (cmdIndex == CMD_CAL_CLEAR) code = cmdCalClearPoints();
  else if (cmdIndex == CMD_CAL_FIT) code = cmdCalFit(cmdOrder);
  else code = cmdConfigSet(cmdKey, cmdValue);
  return mqttResult(code < 0 ? code : 0);
}

// --- blobs -------------------------------------------------------------------------------------

export function blobSave(which: i32): i32 {
  const p = io + BLOB_HEADER;
  if (which == BLOB_CONFIG) {
    memory.copy(p, configBase, CONFIG_PAYLOAD);
    return blobSeal(io, which, ABI_VERSION, CONFIG_PAYLOAD);
  }
  if (which != BLOB_CALIBRATION) return ERR_BAD_VALUE;
  store<i32>(p, calKind, 0);
  store<i32>(p, calGain, 4);
  store<f32>(p, calC1, 8);
  store<f32>(p, calC2, 12);
  store<f32>(p, zeroCounts, 16);
  store<f32>(p, calZeroCounts, 20);
  store<f32>(p, tareKg, 24);
  store<i32>(p, points, 28);
  memory.copy(p + 32, pointData, MAX_POINTS * 8);
  return blobSeal(io, which, ABI_VERSION, CAL_PAYLOAD);
}

export function blobLoad(which: i32, len: i32): i32 {
  if (len < 0 || len > IO_CAP) return ERR_BAD_BLOB;
  const p = io + BLOB_HEADER;
  if (which == BLOB_CONFIG) {
    if (blobOpen(io, len, which, ABI_VERSION) != CONFIG_PAYLOAD) return ERR_BAD_BLOB;
    if (!configRestore(p)) return ERR_BAD_BLOB;
    resetFilters();
    return 0;
  }
  if (which != BLOB_CALIBRATION) return ERR_BAD_VALUE;
  if (blobOpen(io, len, which, ABI_VERSION) != CAL_PAYLOAD) return ERR_BAD_BLOB;
  const kind = load<i32>(p, 0);
  const gain = load<i32>(p, 4);
  const c1 = load<f32>(p, 8);
  const c2 = load<f32>(p, 12);
  const n = load<i32>(p, 28);
  if (kind < KIND_NONE || kind > KIND_QUADRATIC || (gain != 128 && gain != 64 && gain != 32)) return ERR_BAD_BLOB;
  if (c1 == 0 || n < 0 || n > MAX_POINTS) return ERR_BAD_BLOB;
  for (let off = 8; off < CAL_PAYLOAD; off += 4) {
    if (off != 28 && !isFinite(load<f32>(p + off))) return ERR_BAD_BLOB;
  }
  restoreCalibration(kind, gain, c1, c2, load<f32>(p, 16), load<f32>(p, 20), load<f32>(p, 24), n, p + 32);
  return calibrated(0);
}
