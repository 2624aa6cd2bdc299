// The weighing logic: one sample through protocol, filters, calibration, zero tracking and
// status flags into the reading record; and the commands that act on the current reading.
import {
  ABI_VERSION, CFG_GAIN, CFG_PIECE_KG, CFG_DIVISION_KG, CFG_CAPACITY_KG, CFG_STABLE_BAND_D,
  CFG_ZERO_TRACK_D_PER_S, CFG_ZERO_TRACK_RANGE_D, CFG_ZERO_RANGE_PCT, CFG_ADAPT_THRESHOLD_D,
  CFG_SPIKE_MODE, CFG_SPIKE_TRIM, CFG_SPIKE_WINDOW, CFG_SMOOTH_MODE, CFG_ADAPT_CONFIRM, CFG_STABLE_MS, CFG_INITIAL_ZERO_PCT, CFG_RATE_SPS,
  FAULT_SATURATED_HIGH, FAULT_SATURATED_LOW, FAULT_LATE,
  FLAG_STABLE, FLAG_CENTER_ZERO, FLAG_NET, FLAG_OVERLOAD, FLAG_UNDERLOAD, FLAG_UNCALIBRATED,
  FLAG_ZERO_RANGE, FLAG_GROSS_NEGATIVE, ERR_NOT_STABLE, ERR_OUT_OF_RANGE, ERR_FAULTED, ERR_BAD_VALUE,
  ERR_BAD_BLOB, BLOB_CALIBRATION, BLOB_CONFIG, CFG_COUNT, ERR_TOO_FEW_POINTS,
  READING_SIZE, READING_SEQ, READING_T_MS, READING_KG, READING_GROSS_KG, READING_RAW, READING_COUNTS,
  READING_FLAGS, READING_FAULT, READING_COUNT, WAKE_SAMPLE, FLAG_COUNTING, FLAG_COUNT_STABLE, CFG_BUTTON_CAL_KG,
} from "./abi";
import { cfg, cfgInt, configDefaults, configSet, configBase, configBytes, configRestore } from "./config";
import { hxRead, hxReset, hxPower, hxSum, hxFault, hxWaitedUs, hxDataGain, hxCodes, hxChips, clkPins, doutPins } from "./hx711";
import { rawOn, rawStarting, rawBegin, rawBlob, rawSample, rawMessage, rawCommand } from "./raw";
import { trimSum, trimBreak, trimEmpty, trimCorner, trimReset, trimFactors } from "./trim";
import { spikeStep, spikeReset, smoothStep, smoothReset, smoothSetThreshold, stableStep, stableReset, stableShift, smoothPending, SPIKE_OFF } from "./filter";
import {
  calEval, calSlope, calReset, calKind, calGain, calC1, calC2, zeroCounts, calZeroCounts, tareKg,
  points, pointData, MAX_POINTS, POINT_BYTES, KIND_NONE, KIND_QUADRATIC, setZero, setTare, calSpan, calAddPoint,
  calFit, calClearPoints, calForgetFit, restoreCalibration, calNominal, monotonicOverRange,
  calHasCurve, calCurve, calModule, modOn, modGain, modEval, modFit, modSpan,
} from "./calibration";
import { blobSeal, blobOpen, BLOB_HEADER, markDirty, CAL_VERSION, CONFIG_VERSION } from "./blob";
import { mqttReset, mqttMessage, mqttResult, MESSAGE_RUN } from "./mqtt";
import { outboxOffer } from "./outbox";
import { waking, wakeSeen, wakeBegin, wakeDecide, dutyReset, dutyConfigChanged } from "./duty";
import {
  cmdIndex, cmdKg, cmdOrder, cmdKey, cmdValue, cmdCorner, cmdSeconds, cmdPieceKg, cmdPieces,
  CMD_TARE, CMD_CLEAR_TARE, CMD_ZERO, CMD_CALIBRATE, CMD_CAL_POINT, CMD_CAL_CLEAR, CMD_CAL_FIT,
  CMD_TRIM_EMPTY, CMD_TRIM_CORNER, CMD_TRIM_CLEAR, CMD_RECORD, CMD_COUNT, CMD_COUNT_SAMPLE, resultPushFromButton,
} from "./commands";
import { count, countStable, countStep, countSet, countSample } from "./count";
import { buttonStep, PRESS_NONE, PRESS_SHORT, PRESS_LONG } from "./button";

/** OIML R76: overload above Max + 9 e, underload below -20 e. */
const OVERLOAD_D: f64 = 9;
const UNDERLOAD_D: f64 = 20;
/** Center of zero: within a quarter division. */
const CENTER_ZERO_D: f64 = 0.25;
/** Zero tracking never integrates more than this much time at once (s), e.g. after a gap. */
const MAX_TRACK_DT_S: f64 = 1;
/** Calibration blob: kind, gain, c1, c2, zero, calibrated zero, tare, points, 16 reserved, points. */
const CAL_PAYLOAD: i32 = 64 + MAX_POINTS * POINT_BYTES;
/** The calibration blob before f64 state and 10 points (version 1): read, then saved as version 2. */
const CAL_PAYLOAD_V1: i32 = 32 + 8 * 8;
const CONFIG_PAYLOAD: i32 = configBytes;
/** Settings in a version 1 blob (before RATE_SPS and INITIAL_ZERO_PCT; key 13 was a count). */
const CONFIG_KEYS_V1: i32 = 21;
/** Settings in a version 2 blob (before battery mode's). */
const CONFIG_KEYS_V2: i32 = 23;
/** Settings in a version 3 blob (before piece counting's and the button's). */
const CONFIG_KEYS_V3: i32 = 28;
export const IO_CAP: i32 = 1024;

export const reading = memory.data(READING_SIZE);
export const io = memory.data(IO_CAP);

let seq: u32 = 0;
let haveReading: bool = false;
/** A very long press of the button began a one-weight calibration: the next press completes it. */
let calArmed: bool = false;
let lastFaulted: bool = false;
let lastStable: bool = false;
let lastCounts: f64 = 0;
let lastGross: f64 = 0;
let lastT: i32 = 0;
/** Counts at the zero the zero-setting range is measured from: the calibrated zero, or the
 * initial zero set at power-up. */
let zeroRefCounts: f64 = 0;
/** The initial zero-setting (INITIAL_ZERO_PCT) has yet to look at the first stable reading. */
let initialZeroDue: bool = true;

export function scaleInit(): i32 {
  configDefaults();
  hxReset();
  calReset();
  trimReset();
  resetFilters(); // also derives the nominal calibration
  mqttReset();
  dutyReset();
  seq = 0;
  haveReading = false;
  lastFaulted = false;
  lastT = 0;
  zeroRefCounts = 0;
  initialZeroDue = true;
  calArmed = false;
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
  smoothSetThreshold(<f64>cfg(CFG_ADAPT_THRESHOLD_D) * <f64>cfg(CFG_DIVISION_KG) / Math.abs(calSlope(0)));
  if (calHasCurve()) zeroRefCounts = calZeroCounts;
}

/** The nearest multiple of d, halves away from zero: the same either side of zero. */
// @ts-ignore: decorator
@inline export function roundTo(kg: f64, d: f64): f64 {
  const n = Math.floor(Math.abs(kg) / d + 0.5) * d;
  return kg < 0 ? -n : n;
}

/**
 * Inside the zero-setting range (OIML R76): ZERO_RANGE_PCT of capacity in total, half each way,
 * around the initial zero; zero tracking stays inside it too. An uncalibrated scale has no zero to
 * measure the range from (its raw zero holds the platform and the cells' zero balance): never.
 */
// @ts-ignore: decorator
@inline function inZeroRange(counts: f64): bool {
  if (!calHasCurve()) return false;
  return Math.abs(calEval(counts - zeroRefCounts)) <= <f64>cfg(CFG_ZERO_RANGE_PCT) * 0.005 * <f64>cfg(CFG_CAPACITY_KG);
}

/** Without a calibration, or calibrated at another gain than the data was read at. */
// @ts-ignore: decorator
@inline function uncalibratedAt(gain: i32): bool {
  return modOn ? modGain != gain : calKind == KIND_NONE || calGain != gain;
}

/** Conversions still to feed the spike filter before a reading is shown again after a gap. */
let refilling: i32 = 0;

/**
 * After a gap in the readings longer than the spike filter's window (a fault, a chip gone for a
 * while), what the filters hold is older than anything they would hold otherwise, and the load may
 * have changed meanwhile: they start afresh rather than show the old weight for a window. Until the
 * spike filter's window is full of fresh conversions no reading is shown (true: this conversion
 * only fed the filters), so corrupted reads right after the gap (a chip that came back out of
 * step gives two) are still outvoted.
 */
function refill(t: i32): bool {
  // (A battery wake's filters start afresh at wake_begin, and it waits for STABLE_MS anyway.)
  if (haveReading && !waking() && t - lastT > 1000 * cfgInt(CFG_SPIKE_WINDOW) / max(cfgInt(CFG_RATE_SPS), 1)) {
    spikeReset();
    smoothReset();
    refilling = cfgInt(CFG_SPIKE_MODE) == SPIKE_OFF ? 0 : cfgInt(CFG_SPIKE_WINDOW) - 1;
  }
  if (refilling == 0) return false;
  refilling--;
  const n = hxChips();
  smoothStep(spikeStep(n > 1 ? trimSum(hxCodes, n, t) : <f64>hxSum));
  lastT = t;
  return true;
}

/** One sample: at most two host calls (wait_low, clock_in), no allocation. */
export function scaleSample(nowMs: i32): i32 {
  if (rawOn) {
    if (rawStarting()) {
      // A recording starts here: the chips, then the blobs (through io, free between calls).
      rawBegin(nowMs, cfgInt(CFG_RATE_SPS), clkPins, doutPins, hxChips());
      rawBlob(io, blobSave(BLOB_CONFIG));
      rawBlob(io, blobSave(BLOB_CALIBRATION));
    }
    rawSample(nowMs);
  }
  const got = hxRead();
  if (got == 0) return 0;
  const t = nowMs + hxWaitedUs / 1000;
  if (got > 0 && refill(t)) return 0;
  store<u32>(reading, ++seq, READING_SEQ);
  store<i32>(reading, t, READING_T_MS);
  if (got < 0) {
    const code = hxFault & 0xFF;
    let flags: u32 = uncalibratedAt(cfgInt(CFG_GAIN)) ? FLAG_UNCALIBRATED : 0;
    // A saturated converter in the loading direction is the scale overloaded, not only an ADC
    // fault (counts rise with load when c1 > 0).
    if ((code == FAULT_SATURATED_HIGH) == (calSlope(0) > 0) && (code == FAULT_SATURATED_HIGH || code == FAULT_SATURATED_LOW)) flags |= FLAG_OVERLOAD;
    else if (code == FAULT_SATURATED_HIGH || code == FAULT_SATURATED_LOW) flags |= FLAG_UNDERLOAD;
    store<f32>(reading, NaN, READING_KG);
    store<f32>(reading, NaN, READING_GROSS_KG);
    store<i32>(reading, 0, READING_RAW);
    store<f32>(reading, NaN, READING_COUNTS);
    store<u32>(reading, flags, READING_FLAGS);
    store<i32>(reading, hxFault, READING_FAULT);
    store<i32>(reading, 0, READING_COUNT);
    lastFaulted = true;
    lastStable = false;
    // Stability must be earned again from good readings after a fault, but a LATE read is one
    // conversion refused for when it was read, not a sign of the load or the chip: the window
    // goes on (its own gap check starts it again after a longer one).
    if (code != FAULT_LATE) {
      stableReset();
      trimBreak();
    }
    if (waking()) wakeSeen(); else outboxOffer(reading);
    return -code;
  }

  // Several chips: each weighed by its corner trim (1 until trimmed).
  const n = hxChips();
  const input = n > 1 ? trimSum(hxCodes, n, t) : <f64>hxSum;
  const light = spikeStep(input); // spikes removed, otherwise raw
  const counts = smoothStep(light);
  const d = <f64>cfg(CFG_DIVISION_KG);
  const band = <f64>cfg(CFG_STABLE_BAND_D) * d;
  let gross: f64;
  let inputKg: f64; // what motion is judged on: the input as converted, before the filters
  if (modOn) {
    gross = modEval(counts - zeroCounts, hxCodes, n);
    inputKg = gross + calEval(input - counts); // the module's slope over the few counts between them
  } else {
    gross = calCurve(counts - zeroCounts);
    inputKg = calCurve(input - zeroCounts);
  }
  const stable = stableStep(inputKg, gross, t, band) && !smoothPending();
  const zeroRange = inZeroRange(counts);

  // Initial zero-setting (R76), once after power-up, on the first stable reading, if enabled.
  if (initialZeroDue && stable) {
    initialZeroDue = false;
    const pct = <f64>cfg(CFG_INITIAL_ZERO_PCT);
    if (pct > 0 && calHasCurve() && Math.abs(calEval(counts - calZeroCounts)) <= pct * 0.005 * <f64>cfg(CFG_CAPACITY_KG)) {
      setZero(counts);
      zeroRefCounts = counts;
      stableShift(-gross);
      gross = 0;
    }
  }

  // Zero tracking: stable, near zero, inside the zero-setting range, at most rate * d per second.
  const rate = <f64>cfg(CFG_ZERO_TRACK_D_PER_S);
  if (rate > 0 && stable && haveReading && Math.abs(gross) <= <f64>cfg(CFG_ZERO_TRACK_RANGE_D) * d && zeroRange) {
    const dt = Math.min(<f64>(t - lastT) * 0.001, MAX_TRACK_DT_S);
    const limit = rate * d * Math.max(dt, 0);
    const step = Math.max(-limit, Math.min(limit, gross));
    const slope = calSlope(counts - zeroCounts);
    if (step != 0 && slope != 0) {
      setZero(zeroCounts + step / slope);
      gross = modOn ? gross - step : calCurve(counts - zeroCounts);
    }
  }

  const capacity = <f64>cfg(CFG_CAPACITY_KG);
  const shown = roundTo(gross, d);
  let flags: u32 = 0;
  if (stable) flags |= FLAG_STABLE;
  if (Math.abs(gross) <= CENTER_ZERO_D * d) flags |= FLAG_CENTER_ZERO;
  if (tareKg != 0) flags |= FLAG_NET;
  const overload = shown > capacity + OVERLOAD_D * d; // decided on what would be shown
  if (overload) flags |= FLAG_OVERLOAD;
  if (shown < -UNDERLOAD_D * d) flags |= FLAG_UNDERLOAD;
  if (uncalibratedAt(hxDataGain)) flags |= FLAG_UNCALIBRATED;
  if (zeroRange) flags |= FLAG_ZERO_RANGE;
  if (gross < 0) flags |= FLAG_GROSS_NEGATIVE;
  const counting = cfg(CFG_PIECE_KG) > 0 && !overload; // one comparison a sample when not counting
  if (counting) {
    countStep(gross - <f64>tareKg, stable);
    flags |= FLAG_COUNTING;
    if (countStable) flags |= FLAG_COUNT_STABLE;
  }

  // Overloaded, the scale shows no weight (R76); the raw counts still go out.
  store<f32>(reading, overload ? NaN : <f32>roundTo(gross - <f64>tareKg, d), READING_KG);
  store<f32>(reading, overload ? NaN : <f32>shown, READING_GROSS_KG);
  store<i32>(reading, hxSum, READING_RAW);
  store<f32>(reading, <f32>counts, READING_COUNTS);
  store<u32>(reading, flags, READING_FLAGS);
  store<i32>(reading, 0, READING_FAULT);
  store<i32>(reading, counting ? count : 0, READING_COUNT);
  haveReading = true;
  lastFaulted = false;
  lastStable = stable && !overload;
  lastCounts = counts;
  lastGross = gross;
  lastT = t;
  if (waking()) wakeSeen(); else outboxOffer(reading);
  return 1;
}

// --- battery mode (duty.ts decides; this is where it touches the chips and filters) -----------

/** A wake starts: chips up (settling discarded), filters afresh: the last wake was minutes ago. */
export function cmdWakeBegin(nowMs: i32, cause: i32): i32 {
  const err = hxPower(true);
  if (err != 0) return err;
  resetFilters();
  wakeBegin(nowMs, cause);
  return 0;
}

/** After a sample of a wake: go on, or the wake's reading is queued and the chips sleep. */
export function cmdWakeStep(nowMs: i32): i32 {
  const d = wakeDecide(nowMs, reading);
  if (d > WAKE_SAMPLE) hxPower(false);
  return d;
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
  if (lastGross <= 0 || lastGross > <f64>cfg(CFG_CAPACITY_KG)) return ERR_OUT_OF_RANGE;
  setTare(<f32>roundTo(lastGross, <f64>cfg(CFG_DIVISION_KG)));
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
  setTare(0); // zero-setting cancels a tare (R76)
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

/**
 * Span from one known weight now on the scale, keeping zero. A scale never calibrated has no zero
 * yet: it takes the empty scale recorded with cal_point 0.
 */
export function cmdCalSpan(kg: f32): i32 {
  const err = notSettled();
  if (err != 0) return err;
  if (calKind == KIND_NONE) {
    let empty = -1;
    for (let i = 0; i < points; i++) {
      if (load<f32>(pointData + <usize>(i * POINT_BYTES) + 8) == 0) empty = i;
    }
    if (empty < 0) return ERR_TOO_FEW_POINTS;
    setZero(load<f64>(pointData + <usize>(empty * POINT_BYTES)));
  }
  if (modOn) return calibrated(modSpan(kg, lastCounts, cfgInt(CFG_GAIN), cfg(CFG_DIVISION_KG)));
  return calibrated(calSpan(kg, lastCounts, cfgInt(CFG_GAIN), cfg(CFG_DIVISION_KG)));
}

export function cmdCalAddPoint(kg: f32): i32 {
  const err = notSettled();
  if (err != 0) return err;
  calForgetFit();
  const n = calAddPoint(kg, lastCounts);
  if (n > 0) markDirty(BLOB_CALIBRATION);
  return n;
}

/** The stability band in counts of the summed codes, where the scale is: a chip's own codes must
 * settle within it for a corner to be recorded (Infinity before a calibration gives a slope). */
function bandCounts(): f64 {
  const slope = Math.abs(calSlope(lastCounts - zeroCounts));
  return slope > 0 ? <f64>cfg(CFG_STABLE_BAND_D) * <f64>cfg(CFG_DIVISION_KG) / slope : Infinity;
}

/** Corner adjustment, step 1: the platform empty and stable. */
export function cmdTrimEmpty(): i32 {
  const err = notSettled();
  if (err != 0) return err;
  return trimEmpty(hxChips(), bandCounts());
}

/** Step 2, for every chip k: the test weight over its cell, stable. Applies the factors at the last. */
export function cmdTrimCorner(k: i32): i32 {
  const err = notSettled();
  if (err != 0) return err;
  const r = trimCorner(k, hxChips(), bandCounts());
  if (r == 0) {
    markDirty(BLOB_CALIBRATION);
    resetFilters(); // the sum changed its weighing: filtered history no longer applies
  }
  return r;
}

/** Back to equal factors. */
export function cmdTrimClear(): i32 {
  trimReset();
  markDirty(BLOB_CALIBRATION);
  resetFilters();
  return 0;
}

export function cmdCalClearPoints(): i32 {
  calClearPoints();
  calForgetFit();
  markDirty(BLOB_CALIBRATION);
  return 0;
}

export function cmdCalFit(order: i32): i32 {
  if (modOn) return calibrated(modFit(order, cfgInt(CFG_GAIN)));
  return calibrated(calFit(order, cfgInt(CFG_GAIN), cfg(CFG_CAPACITY_KG), cfg(CFG_DIVISION_KG)));
}

export function cmdConfigSet(key: i32, value: f32): i32 {
  const err = configSet(key, value);
  if (err != 0) return err;
  if (key == CFG_GAIN) resetFilters(); // data at the old gain must not mix with the new
  else if (key >= CFG_SPIKE_MODE && key <= CFG_SPIKE_TRIM) spikeReset();
  else if (key >= CFG_SMOOTH_MODE && key <= CFG_ADAPT_CONFIRM) smoothReset();
  else if (key == CFG_STABLE_MS || key == CFG_STABLE_BAND_D) {
    stableReset();
    lastStable = false;
  }
  retune();
  dutyConfigChanged(key);
  markDirty(BLOB_CONFIG);
  return 0;
}

/** An MQTT message from the host (topic, then payload, in the io buffer). */
export function message(topicLen: i32, payloadLen: i32): i32 {
  rawMessage(io, topicLen, payloadLen, topicLen < 0 || payloadLen < 0 ? -1 : min(topicLen + payloadLen, IO_CAP));
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
  else if (cmdIndex == CMD_TRIM_EMPTY) code = cmdTrimEmpty();
  else if (cmdIndex == CMD_TRIM_CORNER) code = cmdTrimCorner(cmdCorner);
  else if (cmdIndex == CMD_TRIM_CLEAR) code = cmdTrimClear();
  else if (cmdIndex == CMD_RECORD) code = cmdRecord(cmdSeconds);
  else if (cmdIndex == CMD_COUNT) code = countSet(cmdPieceKg, 0);
  else if (cmdIndex == CMD_COUNT_SAMPLE) code = cmdCountSample(cmdPieces);
  else code = cmdConfigSet(cmdKey, cmdValue);
  return mqttResult(code < 0 ? code : 0);
}

/** The piece weight from `pieces` pieces now on the platform (net), stable. */
export function cmdCountSample(pieces: f64): i32 {
  const err = notSettled();
  if (err != 0) return err;
  return countSample(lastGross - <f64>tareKg, pieces);
}

// --- the button (button.ts decides what a press was; this is what it does) --------------------

/** Button outcome bits (button export): an action accepted, refused, and a calibration waiting. */
const BUTTON_ACCEPTED: i32 = 1;
const BUTTON_REFUSED: i32 = 2;
const BUTTON_ARMED: i32 = 4;

/**
 * An edge of the button (edge 1: down 1 pressed, 0 released) or a poll (edge 0) at tMs. A short
 * press tares (clears the tare when there is one), a long one sets zero, a very long one begins a
 * one-weight calibration: the platform empty, it is zeroed (or, never calibrated, recorded as the
 * empty point) and the next short press calibrates with BUTTON_CAL_KG on it (a long press gives
 * the calibration up). Every action is answered on the result topic like its command, with
 * "source":"button", and refused as its command would be (in motion, out of range). Returns
 * BUTTON_* bits for the host's status LED, and with an action its command's index + 1 in bits
 * 8..15 and a refusal's error (negated) in bits 16..23, for its log.
 */
export function cmdButton(edge: bool, down: bool, tMs: i32): i32 {
  const press = buttonStep(edge, down, tMs);
  let outcome = 0;
  if (press != PRESS_NONE) {
    let cmd: i32;
    let code: i32;
    if (press == PRESS_SHORT && calArmed) {
      cmd = CMD_CALIBRATE;
      code = cmdCalSpan(cfg(CFG_BUTTON_CAL_KG));
      if (code == 0) calArmed = false;
    } else if (press == PRESS_SHORT) {
      cmd = tareKg != 0 ? CMD_CLEAR_TARE : CMD_TARE;
      code = tareKg != 0 ? cmdClearTare() : cmdTare();
    } else if (press == PRESS_LONG) {
      calArmed = false; // a calibration waiting is given up
      cmd = CMD_ZERO;
      code = cmdZero();
    } else if (!(cfg(CFG_BUTTON_CAL_KG) > 0)) {
      calArmed = false;
      cmd = CMD_CALIBRATE; // no reference weight set: nothing to calibrate with
      code = ERR_BAD_VALUE;
    } else {
      cmd = calHasCurve() ? CMD_ZERO : CMD_CAL_POINT;
      code = cmd == CMD_ZERO ? cmdZero() : cmdCalAddPoint(0);
      if (code >= 0) calArmed = true;
    }
    resultPushFromButton(cmd, code < 0 ? code : 0);
    outcome = (code < 0 ? BUTTON_REFUSED | (-code << 16) : BUTTON_ACCEPTED) | ((cmd + 1) << 8);
  }
  return outcome | (calArmed ? BUTTON_ARMED : 0);
}

/** Record what the core is given for `seconds` (0 ends a recording early); see raw.ts. */
export function cmdRecord(seconds: i32): i32 {
  if (seconds < 0) return ERR_BAD_VALUE;
  rawCommand(seconds);
  return 0;
}

// --- blobs -------------------------------------------------------------------------------------

export function blobSave(which: i32): i32 {
  const p = io + BLOB_HEADER;
  if (which == BLOB_CONFIG) {
    memory.copy(p, configBase, CONFIG_PAYLOAD);
    return blobSeal(io, which, CONFIG_VERSION, CONFIG_PAYLOAD);
  }
  if (which != BLOB_CALIBRATION) return ERR_BAD_VALUE;
  memory.fill(p, 0, CAL_PAYLOAD);
  store<i32>(p, calKind, 0);
  store<i32>(p, calGain, 4);
  store<f64>(p, calC1, 8);
  store<f64>(p, calC2, 16);
  store<f64>(p, zeroCounts, 24);
  store<f64>(p, calZeroCounts, 32);
  store<f32>(p, tareKg, 40);
  store<i32>(p, points, 44);
  for (let i = 0; i < 4; i++) store<f32>(p + 48 + <usize>(i << 2), <f32>load<f64>(trimFactors + (<usize>i << 3)));
  memory.copy(p + 64, pointData, MAX_POINTS * POINT_BYTES);
  return blobSeal(io, which, CAL_VERSION, CAL_PAYLOAD);
}

export function blobLoad(which: i32, len: i32): i32 {
  if (len < 0 || len > IO_CAP) return ERR_BAD_BLOB;
  const p = io + BLOB_HEADER;
  if (which == BLOB_CONFIG) {
    if (blobOpen(io, len, which, CONFIG_VERSION) == CONFIG_PAYLOAD) {
      if (!configRestore(p, CFG_COUNT, -1)) return ERR_BAD_BLOB;
    } else if (blobOpen(io, len, which, 3) == CONFIG_KEYS_V3 * 4) {
      if (!configRestore(p, CONFIG_KEYS_V3, -1)) return ERR_BAD_BLOB; // counting's and the button's keep their defaults
      markDirty(BLOB_CONFIG);
    } else if (blobOpen(io, len, which, 2) == CONFIG_KEYS_V2 * 4) {
      if (!configRestore(p, CONFIG_KEYS_V2, -1)) return ERR_BAD_BLOB; // battery mode's keep their defaults
      markDirty(BLOB_CONFIG);
    } else if (blobOpen(io, len, which, 1) == CONFIG_KEYS_V1 * 4) {
      if (!configRestore(p, CONFIG_KEYS_V1, CFG_STABLE_MS)) return ERR_BAD_BLOB; // its key 13 meant something else
      markDirty(BLOB_CONFIG); // saved again in today's form
    } else {
      return ERR_BAD_BLOB;
    }
    resetFilters();
    return 0;
  }
  if (which != BLOB_CALIBRATION) return ERR_BAD_VALUE;
  let kind: i32, gain: i32, n: i32;
  let c1: f64, c2: f64, zero: f64, calZero: f64;
  let tare: f32;
  if (blobOpen(io, len, which, CAL_VERSION) == CAL_PAYLOAD) {
    kind = load<i32>(p, 0);
    gain = load<i32>(p, 4);
    c1 = load<f64>(p, 8);
    c2 = load<f64>(p, 16);
    zero = load<f64>(p, 24);
    calZero = load<f64>(p, 32);
    tare = load<f32>(p, 40);
    n = load<i32>(p, 44);
    if (n < 0 || n > MAX_POINTS) return ERR_BAD_BLOB;
    for (let i = 0; i < n; i++) {
      const at = p + 64 + <usize>(i * POINT_BYTES);
      if (!isFinite(load<f64>(at)) || !isFinite(load<f32>(at, 8))) return ERR_BAD_BLOB;
    }
  } else if (blobOpen(io, len, which, 1) == CAL_PAYLOAD_V1) {
    // Version 1: f32 state and up to 8 points of (counts f32, kg f32).
    kind = load<i32>(p, 0);
    gain = load<i32>(p, 4);
    c1 = <f64>load<f32>(p, 8);
    c2 = <f64>load<f32>(p, 12);
    zero = <f64>load<f32>(p, 16);
    calZero = <f64>load<f32>(p, 20);
    tare = load<f32>(p, 24);
    n = load<i32>(p, 28);
    if (n < 0 || n > 8) return ERR_BAD_BLOB;
    for (let i = 0; i < n; i++) {
      if (!isFinite(load<f32>(p + 32 + <usize>(i * 8))) || !isFinite(load<f32>(p + 36 + <usize>(i * 8)))) return ERR_BAD_BLOB;
    }
  } else {
    return ERR_BAD_BLOB;
  }
  if (kind < KIND_NONE || kind > KIND_QUADRATIC || (gain != 128 && gain != 64 && gain != 32)) return ERR_BAD_BLOB;
  if (!isFinite(zero) || !isFinite(calZero) || !isFinite(tare)) return ERR_BAD_BLOB;
  const current = len == BLOB_HEADER + CAL_PAYLOAD + 4;
  for (let i = 0; current && i < 4; i++) {
    const f = load<f32>(p + 48 + <usize>(i << 2));
    if (!(f >= 0.5 && f <= 2)) return ERR_BAD_BLOB;
  }
  if (kind != KIND_NONE && !monotonicOverRange(c1, c2, <f64>cfg(CFG_CAPACITY_KG), <f64>cfg(CFG_DIVISION_KG))) return ERR_BAD_BLOB;
  if (kind == KIND_NONE && !(isFinite(c1) && c1 != 0 && isFinite(c2))) return ERR_BAD_BLOB;
  // Valid: now it may replace the state.
  trimReset();
  if (current) {
    memory.copy(pointData, p + 64, MAX_POINTS * POINT_BYTES);
    for (let i = 0; i < 4; i++) store<f64>(trimFactors + (<usize>i << 3), <f64>load<f32>(p + 48 + <usize>(i << 2)));
  } else {
    for (let i = 0; i < n; i++) {
      store<f64>(pointData + <usize>(i * POINT_BYTES), <f64>load<f32>(p + 32 + <usize>(i * 8)));
      store<f32>(pointData + <usize>(i * POINT_BYTES) + 8, load<f32>(p + 36 + <usize>(i * 8)));
    }
    markDirty(BLOB_CALIBRATION); // saved again in today's form
  }
  restoreCalibration(kind, gain, c1, c2, zero, calZero, tare, n);
  initialZeroDue = true;
  return calibrated(0);
}

/** A calibration module switched on (measuring its slope) or off: the weight changes its curve. */
export function cmdCalModule(on: bool): i32 {
  const r = calModule(on, cfgInt(CFG_GAIN));
  if (r == 0) {
    retune();
    stableReset();
    lastStable = false;
  }
  return r;
}

// --- volatile state (state.ts) -------------------------------------------------------------------

export function scaleStateSave(p: usize): usize {
  store<u32>(p, seq); store<i32>(p, haveReading ? 1 : 0, 4); store<i32>(p, lastFaulted ? 1 : 0, 8);
  store<i32>(p, lastStable ? 1 : 0, 12); store<f64>(p, lastCounts, 16); store<f64>(p, lastGross, 24);
  store<i32>(p, lastT, 32); store<i32>(p, initialZeroDue ? 1 : 0, 36); store<f64>(p, zeroRefCounts, 40);
  store<i32>(p, calArmed ? 1 : 0, 48);
  return p + 52;
}

export function scaleStateLoad(p: usize): usize {
  seq = load<u32>(p); haveReading = load<i32>(p, 4) != 0; lastFaulted = load<i32>(p, 8) != 0;
  lastStable = load<i32>(p, 12) != 0; lastCounts = load<f64>(p, 16); lastGross = load<f64>(p, 24);
  lastT = load<i32>(p, 32); initialZeroDue = load<i32>(p, 36) != 0; zeroRefCounts = load<f64>(p, 40);
  calArmed = load<i32>(p, 48) != 0;
  return p + 52;
}
