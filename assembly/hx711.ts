// The HX711 protocol: ready wait, 24-bit read with 25/26/27 pulses for the next conversion's gain,
// protocol checks after every read, settling discards, power down / up, several chips summed.
// The host only clocks pulses; every decision about them is made here (see notes/hx711.md).
//
// What a read must survive, and what catches it:
// - a chip missing or DOUT stuck high: the ready wait times out (TIMEOUT);
// - DOUT stuck low, or a missed pulse: DOUT is not high after the last pulse (NO_DOUT_HIGH), or a
//   gain bit is low (GAIN_PULSES);
// - a clock high phase over 50 us (a preempted pulse): the chip powers down (POWER_DOWN);
// - a conversion that completes during the read (a stalled low phase, chips on a shared clock
//   whose conversions drifted nearly a period apart, a host that came late): the later bits are
//   the new conversion's (LATE). The host reports when each DOUT fell and when the read began and
//   ended, on its microsecond clock; each chip's conversions follow its fall every period, and each
//   chip's own period is learned from its successive falls (oscillators differ by a few percent),
//   so a read is refused only when one of them could have completed during it (then the chip is
//   resynchronised, as after a lost step: see hxRead);
// - a converter that repeats one code: FROZEN.
// Codes 0x000000 and 0xFFFFFF are ordinary readings (a bridge near 0 V gives both), but one that
// comes from far away may be a chip that missed a pulse and took this read's first pulses as its
// gain pulses, or a load really taken off a balanced bridge. Neither is a weight yet: the chip is
// resynchronised (its next conversions discarded) and the code is confirmed by a later one near it
// that is not itself all zeros or all ones; a chip that never confirms it has lost its step
// (GAIN_PULSES). The reference for the jump is the chip's last code in an accepted read. Residual
// risk: a missed pulse at gain 128 leaves the least significant bit where the gain bit and the
// after-read level are checked, so it passes when that bit is 1 (half the time); the value is
// then the code with the bits after the missed pulse shifted, a spike the median filter removes
// unless the miss was in the last few bits, where it changes the code by a few counts.
import { gpio_wait_low, gpio_clock_in, gpio_write } from "./host";
import { rawOn, rawWait, rawClock } from "./raw";
import { cfgInt } from "./config";
import {
  CFG_GAIN, CFG_SETTLE_DISCARD, CFG_READY_TIMEOUT_MS, CFG_FROZEN_COUNT,
  FAULT_TIMEOUT, FAULT_SATURATED_HIGH, FAULT_SATURATED_LOW, FAULT_LATE, FAULT_GAIN_PULSES,
  FAULT_NO_DOUT_HIGH, FAULT_POWER_DOWN, FAULT_FROZEN, FAULT_HOST, ERR_FULL, ERR_BAD_VALUE, CFG_RATE_SPS,
} from "./abi";

/** Chips on one platform (each with its own DOUT; clocks shared or separate). */
export const MAX_CHIPS: i32 = 4;
/** Datasheet T3: a clock high phase above 50 us may power the chip down (> 60 us certainly does). */
const MAX_HIGH_US: u32 = 50;
/** Data bits per conversion. */
const DATA_BITS: i32 = 24;
/** Highest GPIO number a pin may have (ESP32: 0..39; leaves room for other chips). */
const MAX_PIN: i32 = 63;
/** wait_low returns at most this for a bad argument (ABI). */
const HOST_ERROR_BASE: i32 = -1000000;

export const clkPins = memory.data(MAX_CHIPS);
export const doutPins = memory.data(MAX_CHIPS);
export const lastCode = memory.data(MAX_CHIPS * 4);
export const sameCount = memory.data(MAX_CHIPS * 4);
export const CODES_BYTES: i32 = MAX_CHIPS * 4;
/** clock_in output: a word per chip, the high mask, the longest high phase, the read's first rising and last falling edge, each chip's DOUT fall (host us). */
const clockOut = memory.data((2 * MAX_CHIPS + 4) * 4);
/** Per chip: the host time (us) its DOUT last fell, its conversion period learned from its falls (us x 16), and how many falls taught it (saturating). */
export const fallTimes = memory.data(3 * MAX_CHIPS * 4);
export const FALL_TIMES_BYTES: i32 = 3 * MAX_CHIPS * 4;
const lastFall = fallTimes;
const periodX16 = fallTimes + <usize>(MAX_CHIPS * 4);
const learned = fallTimes + <usize>(2 * MAX_CHIPS * 4);
/** Falls a period must be learned from before its estimate is trusted to 1/1024. */
const LEARNED_FALLS: i32 = 8;
/** Time the host's clock readings and the chip's conversion instant may differ by (us): edge latency, rounding. */
const GUARD_US: i32 = 20;
/** A jump larger than this to 0x000000 or 0xFFFFFF is not a bridge near 0 V (counts). */
const JUMP_COUNTS: i32 = 4096;
/** Conversions of all zeros or all ones, after such a jump, before the chip is deemed out of step. */
const UNCONFIRMED_MAX: i32 = 8;
/** Per chip: conversions of all zeros or all ones since a jump to one, not yet confirmed. */
const unconfirmed = memory.data(MAX_CHIPS * 4);
/** Per chip: this read's code, kept as the reference once the read is accepted. */
const readCode = memory.data(MAX_CHIPS * 4);
/** codeFault: no fault, but no weight either (an unconfirmed jump to all zeros or all ones). */
const UNCONFIRMED: i32 = -1;

let chips: i32 = 0;
let powered: bool = true;
/** Gain of the conversion now in progress (what the last read's pulses selected). */
let convGain: i32 = 128;
/** Gain the last reading's data was converted at. */
export let hxDataGain: i32 = 128;
/** Conversions still to discard while the chips settle. */
let settleLeft: i32 = 0;

/** Result of the last successful read: the sum of every chip's signed code... */
export let hxSum: i32 = 0;
/** ...and each chip's code (i32), in the core's chip order. */
export const hxCodes = memory.data(MAX_CHIPS * 4);
/** Fault of the last read: code in the low byte, chip index in the next. */
export let hxFault: i32 = 0;
/** Microseconds the last read waited for DOUT. */
export let hxWaitedUs: i32 = 0;

/** Forget the chips and return to power-up state. */
export function hxReset(): void {
  chips = 0;
  forgetPeriods();
  powered = true;
  restartSettling();
}

function restartSettling(): void {
  convGain = 128; // power-up and reset select channel A, gain 128
  settleLeft = cfgInt(CFG_SETTLE_DISCARD);
  for (let i = 0; i < MAX_CHIPS; i++) {
    store<i32>(sameCount + (<usize>i << 2), 0);
    store<i32>(unconfirmed + (<usize>i << 2), 0);
  }
  // A reset restarts the conversions with a new phase (the next fall is no whole number of periods
  // after the last, so it teaches nothing); the oscillators, and so the periods learned, stay.
}

/** Forgets the periods learned (the chips, or their order, changed). */
function forgetPeriods(): void {
  for (let i = 0; i < MAX_CHIPS; i++) store<i32>(learned + (<usize>i << 2), 0);
}

/**
 * Whether one of chip i's conversions could have completed during a read from startUs to endUs,
 * given its DOUT fell at fallUs (host us clock, wrapping): its conversions follow at multiples of
 * its period. Learns the period from the interval since its previous fall (a whole number of
 * periods: each fall is a conversion; unread ones in between leave DOUT low).
 */
// @ts-ignore: decorator
@inline function convertedDuring(i: i32, fallUs: u32, startUs: u32, endUs: u32, nominalX16: i32): bool {
  const pAt = periodX16 + (<usize>i << 2);
  const nAt = learned + (<usize>i << 2);
  let p = load<i32>(pAt);
  let n = load<i32>(nAt);
  // Nothing learned yet, or learned at another rate: start from the nominal period.
  if (n == 0 || abs(p - nominalX16) > nominalX16 >> 3) {
    p = nominalX16;
    n = 0;
  }
  const sinceLast = <i32>(fallUs - load<u32>(lastFall + (<usize>i << 2)));
  store<u32>(lastFall + (<usize>i << 2), fallUs);
  if (n > 0 && sinceLast > 0 && sinceLast < 0x4000000) {
    // Oscillators are within a few percent of nominal: a whole number of periods to within 1/32 of
    // one. Most falls are one period apart: that case needs no division.
    const x16 = sinceLast * 16;
    const periods = abs(x16 - p) <= p >> 5 ? 1 : (x16 + (p >> 1)) / p;
    if (periods >= 1 && periods <= 4 && abs(x16 - periods * p) <= p >> 5) {
      p += ((periods == 1 ? x16 : x16 / periods) - p) >> (n < LEARNED_FALLS ? 1 : 3);
    }
  }
  store<i32>(pAt, p);
  store<i32>(nAt, min(n + 1, LEARNED_FALLS + 1));
  const startAfter = <i32>(startUs - fallUs);
  const endAfter = <i32>(endUs - fallUs);
  // A fall after the read began, or a read that ended before it began: times not to be trusted.
  if (startAfter < 0 || endAfter < startAfter) return true;
  const periodUs = max(p >> 4, 1);
  // How far the conversions may be from where the period puts them by the read's end: an
  // unlearned period by the oscillators' spread (a few percent), a learned one by 1/1024.
  const slack = GUARD_US + (endAfter >> (n > LEARNED_FALLS ? 10 : 5));
  // The first conversion after the fall that could come at or after the read's start: within it?
  const from = startAfter - slack;
  const m = from <= periodUs ? 1 : (from + periodUs - 1) / periodUs;
  return m * periodUs <= endAfter + slack;
}

export function hxChips(): i32 {
  return chips;
}

/** Adds a chip, keeping chips that share a clock next to each other so one clock_in reads them. */
export function hxAddChip(clk: i32, dout: i32): i32 {
  if (chips >= MAX_CHIPS) return ERR_FULL;
  if (clk < 0 || clk > MAX_PIN || dout < 0 || dout > MAX_PIN || clk == dout) return ERR_BAD_VALUE;
  let at = chips;
  for (let i = 0; i < chips; i++) {
    const c = <i32>load<u8>(clkPins + i);
    const d = <i32>load<u8>(doutPins + i);
    if (d == dout || d == clk || c == dout) return ERR_BAD_VALUE;
    if (c == clk) at = i + 1;
  }
  for (let i = chips; i > at; i--) {
    store<u8>(clkPins + i, load<u8>(clkPins + i - 1));
    store<u8>(doutPins + i, load<u8>(doutPins + i - 1));
  }
  store<u8>(clkPins + at, <u8>clk);
  store<u8>(doutPins + at, <u8>dout);
  chips++;
  forgetPeriods();
  restartSettling();
  return chips;
}

/** Power down (clock held high: the chips sleep after 60 us) or up (clock low: chips reset). */
export function hxPower(on: bool): i32 {
  if (chips == 0) return ERR_BAD_VALUE;
  for (let i = 0; i < chips; i++) {
    if (i > 0 && load<u8>(clkPins + i) == load<u8>(clkPins + i - 1)) continue;
    gpio_write(<i32>load<u8>(clkPins + i), on ? 0 : 1);
  }
  powered = on;
  if (on) restartSettling();
  return 0;
}

/** Pulses per read that select `gain` for the next conversion (datasheet table 3). */
// @ts-ignore: decorator
@inline function pulsesFor(gain: i32): i32 {
  return gain == 128 ? 25 : gain == 32 ? 26 : 27;
}

function fault(code: i32, chip: i32): i32 {
  if (hxFault == 0) hxFault = code | (chip << 8);
  return hxFault;
}

/** Classifies a 24-bit code that cannot be a weight; 0 when it may be one, UNCONFIRMED when it is no fault but no weight yet. */
// @ts-ignore: decorator
@inline function codeFault(data: u32, chip: i32): i32 {
  if (data == 0x7FFFFF) return FAULT_SATURATED_HIGH;
  if (data == 0x800000) return FAULT_SATURATED_LOW;
  const frozenAfter = cfgInt(CFG_FROZEN_COUNT);
  const lastAt = lastCode + (<usize>chip << 2);
  const sameAt = sameCount + (<usize>chip << 2);
  const pendingAt = unconfirmed + (<usize>chip << 2);
  store<u32>(readCode + (<usize>chip << 2), data);
  const code = (<i32>(data << 8)) >> 8;
  if (data == 0xFFFFFF || data == 0) {
    const pending = load<i32>(pendingAt);
    const jump = code - ((<i32>(load<u32>(lastAt) << 8)) >> 8);
    if (pending > 0 || jump > JUMP_COUNTS || jump < -JUMP_COUNTS) {
      // Far from the last accepted code (or still unconfirmed): a lost step or a load taken off.
      store<i32>(pendingAt, pending + 1);
      return pending + 1 >= UNCONFIRMED_MAX ? FAULT_GAIN_PULSES : UNCONFIRMED;
    }
  } else if (load<i32>(pendingAt) > 0) {
    // Confirmed if near zero (the load really went), else it was a glitch: either way, go on.
    store<i32>(pendingAt, 0);
  }
  if (data == load<u32>(lastAt)) {
    const same = load<i32>(sameAt) + 1;
    store<i32>(sameAt, same);
    if (frozenAfter > 0 && same >= frozenAfter) return FAULT_FROZEN;
  } else {
    store<i32>(sameAt, 0);
  }
  return 0;
}

/**
 * Reads one conversion from every chip: one wait_low, then one clock_in per clock pin.
 * Returns 1 for a reading (hxSum), 0 for a conversion discarded while settling or powered down,
 * and -1 for a fault (hxFault). Never turns a fault into a number.
 */
export function hxRead(): i32 {
  hxFault = 0;
  if (!powered) return 0;
  if (chips == 0) {
    fault(FAULT_HOST, 0);
    return -1;
  }
  const waited = gpio_wait_low(doutPins, chips, cfgInt(CFG_READY_TIMEOUT_MS) * 1000);
  if (rawOn) rawWait(waited);
  if (waited < 0) {
    if (waited <= HOST_ERROR_BASE) fault(FAULT_HOST, 0);
    else fault(FAULT_TIMEOUT, ctz(-waited));
    return -1;
  }
  hxWaitedUs = waited;
  assert(chips <= MAX_CHIPS);
  const gain = cfgInt(CFG_GAIN);
  const pulses = pulsesFor(gain);
  const extra = pulses - DATA_BITS;
  const extraMask: u32 = (1 << extra) - 1;
  // The data being read was converted at convGain; this read's pulses select `gain` for the next.
  // A conversion at another gain than the configured one is the transition: never a weight.
  const dataGain = convGain;
  const settling = settleLeft > 0 || dataGain != gain;
  const nominalX16 = 16000000 / max(cfgInt(CFG_RATE_SPS), 1);
  let lost = false;
  let poweredDown = false;
  let unconfirmedRead = false;
  let sum: i32 = 0;
  let start = 0;
  while (start < chips) {
    const clk = load<u8>(clkPins + start);
    let end = start + 1;
    while (end < chips && load<u8>(clkPins + end) == clk) end++;
    const n = end - start;
    // A host that fills in no times reports a read that ended before it began: LATE.
    store<u32>(clockOut + (<usize>(n + 2) << 2), 1);
    store<u32>(clockOut + (<usize>(n + 3) << 2), 0);
    if (gpio_clock_in(<i32>clk, doutPins + start, n, pulses, clockOut, (2 * n + 4) * 4) != 0) {
      fault(FAULT_HOST, start);
      break;
    }
    if (rawOn) rawClock(clockOut, n);
    const highAfter = load<u32>(clockOut + (<usize>n << 2));
    if (load<u32>(clockOut + (<usize>(n + 1) << 2)) > MAX_HIGH_US) {
      poweredDown = true;
      fault(FAULT_POWER_DOWN, start);
    }
    const readStart = load<u32>(clockOut + (<usize>(n + 2) << 2));
    const readEnd = load<u32>(clockOut + (<usize>(n + 3) << 2));
    for (let j = 0; j < n; j++) {
      const word = load<u32>(clockOut + (<usize>j << 2));
      const data = (word >> <u32>extra) & 0xFFFFFF;
      const signedCode = (<i32>(data << 8)) >> 8;
      if (convertedDuring(start + j, load<u32>(clockOut + (<usize>(n + 4 + j) << 2)), readStart, readEnd, nominalX16)) {
        fault(FAULT_LATE, start + j);
        // A chip in step carries on: its pulses were counted as usual, and its code is near its
        // last (the later bits are a conversion of nearly the same load). One that missed a pulse
        // unseen before (the residual risk above) may be left out of step by a conversion in the
        // middle of the read that would have shown it; its code is then far from its last (a
        // 2,000-run property found a missed pulse then a stall showing half the weight): so is
        // one recovering from a lost step. Those are resynchronised.
        const jump = signedCode - ((<i32>(load<u32>(lastCode + (<usize>(start + j) << 2)) << 8)) >> 8);
        if (settling || jump > JUMP_COUNTS || jump < -JUMP_COUNTS) lost = true;
      }
      // After the 25th rising edge DOUT is pulled high and stays high until the next conversion.
      if (((highAfter >> j) & 1) == 0) {
        fault(FAULT_NO_DOUT_HIGH, start + j);
        lost = true;
      }
      if ((word & extraMask) != extraMask) {
        fault(FAULT_GAIN_PULSES, start + j);
        lost = true;
      }
      const bad = codeFault(data, start + j);
      if (bad == UNCONFIRMED) unconfirmedRead = true;
      // A lost step counts while settling too: the resynchronisation starts again.
      else if (bad != 0 && (!settling || bad == FAULT_GAIN_PULSES)) fault(bad, start + j);
      if (bad == FAULT_GAIN_PULSES) lost = true;
      store<i32>(hxCodes + (<usize>(start + j) << 2), signedCode);
      sum += signedCode;
    }
    start = end;
  }
  if (settleLeft > 0) settleLeft--;
  // The chips' codes in an accepted read are the references for the next jump check; those of a
  // refused read are not (another chip's fault says nothing good of them).
  if (hxFault == 0) {
    for (let i = 0; i < chips; i++) {
      if (load<i32>(unconfirmed + (<usize>i << 2)) == 0) store<u32>(lastCode + (<usize>i << 2), load<u32>(readCode + (<usize>i << 2)));
    }
  }
  const lostStep = unconfirmedRead || lost;
  if (poweredDown) {
    restartSettling(); // the chips reset when the clock went low: channel A, gain 128
  } else if (lostStep) {
    // A pulse went astray: the chip may wait for pulses it missed, or have taken extra ones as
    // another gain. Its next read resynchronises it (and selects the gain again): until then and
    // while it settles, nothing it says is a weight.
    convGain = 0;
    settleLeft = cfgInt(CFG_SETTLE_DISCARD);
  } else if (gain != convGain) {
    convGain = gain;
    settleLeft = cfgInt(CFG_SETTLE_DISCARD);
  }
  if (hxFault != 0) return -1;
  if (settling || unconfirmedRead) return 0;
  hxSum = sum;
  hxDataGain = dataGain;
  return 1;
}

// --- volatile state (state.ts): power, the gain in conversion and settling; the chips themselves
// are the host's to add again at every start.

export function hxStateSave(p: usize): usize {
  store<i32>(p, powered ? 1 : 0); store<i32>(p, convGain, 4); store<i32>(p, hxDataGain, 8); store<i32>(p, settleLeft, 12);
  return p + 16;
}

export function hxStateLoad(p: usize): usize {
  powered = load<i32>(p) != 0; convGain = load<i32>(p, 4); hxDataGain = load<i32>(p, 8); settleLeft = load<i32>(p, 12);
  return p + 16;
}
