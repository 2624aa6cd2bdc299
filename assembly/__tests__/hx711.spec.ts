// The protocol against scripted GPIO results (as-pect.config.js): decode, gain pulses, checks.
import { configDefaults, configSet } from "../config";
import { hxReset, hxAddChip, hxRead, hxPower, hxSum, hxFault, hxChips, hxDataGain } from "../hx711";
import {
  CFG_GAIN, CFG_SETTLE_DISCARD, CFG_FROZEN_COUNT, FAULT_TIMEOUT, FAULT_SATURATED_HIGH, FAULT_SATURATED_LOW,
  FAULT_LATE, FAULT_GAIN_PULSES, FAULT_NO_DOUT_HIGH, FAULT_POWER_DOWN, FAULT_FROZEN, ERR_BAD_VALUE, ERR_FULL, CFG_RATE_SPS,
} from "../abi";

@external("spec", "set_word") declare function setWord(i: i32, w: u32): void;
@external("spec", "set_after") declare function setAfter(mask: u32, maxHighUs: u32): void;
@external("spec", "set_wait") declare function setWait(r: i32): void;
@external("spec", "set_timing") declare function setTiming(periodUs: i32, startAfterUs: i32, readUs: i32): void;
@external("spec", "set_times") declare function setTimes(on: i32): void;
@external("spec", "last_pulses") declare function lastPulses(): i32;
@external("spec", "last_write") declare function lastWrite(): i32;

/** One chip, no settling discards, ready at once. */
function oneChip(): void {
  configDefaults();
  configSet(CFG_SETTLE_DISCARD, 0);
  hxReset();
  hxAddChip(18, 4);
  setWait(0);
  setAfter(1, 1);
  setTiming(100000, 10, 50);
  setTimes(1);
}

/** The word a chip clocks out for `code` with 25 pulses: 24 data bits then DOUT high. */
function word25(code: u32): u32 {
  return ((code & 0xFFFFFF) << 1) | 1;
}

describe("decode", () => {
  it("sign-extends 24-bit two's complement", () => {
    oneChip();
    setWord(0, word25(0x000001)); expect<i32>(hxRead()).toBe(1); expect<i32>(hxSum).toBe(1);
    setWord(0, word25(0x7FFFFE)); hxRead(); expect<i32>(hxSum).toBe(8388606);
    setWord(0, word25(0x800001)); hxRead(); expect<i32>(hxSum).toBe(-8388607);
    setWord(0, word25(0xFFFFFE)); hxRead(); expect<i32>(hxSum).toBe(-2);
    setWord(0, word25(0x123456)); hxRead(); expect<i32>(hxSum).toBe(0x123456);
  });
  it("sums chips and reads chips sharing a clock together", () => {
    configDefaults();
    configSet(CFG_SETTLE_DISCARD, 0);
    hxReset();
    expect<i32>(hxAddChip(18, 4)).toBe(1);
    expect<i32>(hxAddChip(18, 16)).toBe(2);
    setWait(0);
    setAfter(3, 1);
    setWord(0, word25(1000));
    setWord(1, word25(0xFFFC18)); // -1000
    expect<i32>(hxRead()).toBe(1);
    expect<i32>(hxSum).toBe(0);
  });
  it("refuses conflicting pins and more than 4 chips", () => {
    hxReset();
    expect<i32>(hxAddChip(18, 18)).toBe(ERR_BAD_VALUE);
    expect<i32>(hxAddChip(18, 4)).toBe(1);
    expect<i32>(hxAddChip(18, 4)).toBe(ERR_BAD_VALUE);
    expect<i32>(hxAddChip(4, 16)).toBe(ERR_BAD_VALUE);
    expect<i32>(hxAddChip(-1, 16)).toBe(ERR_BAD_VALUE);
    hxAddChip(18, 16); hxAddChip(19, 17); hxAddChip(19, 5);
    expect<i32>(hxAddChip(19, 23)).toBe(ERR_FULL);
    expect<i32>(hxChips()).toBe(4);
  });
});

describe("gain pulses", () => {
  it("sends 25, 26, 27 pulses for gain 128, 32, 64", () => {
    oneChip();
    setWord(0, word25(100)); hxRead(); expect<i32>(lastPulses()).toBe(25);
    configSet(CFG_GAIN, 32);
    setWord(0, (100 << 2) | 3); hxRead(); expect<i32>(lastPulses()).toBe(26);
    configSet(CFG_GAIN, 64);
    setWord(0, (100 << 3) | 7); hxRead(); expect<i32>(lastPulses()).toBe(27);
  });
  it("discards the conversions after a gain change while the chip settles", () => {
    oneChip();
    configSet(CFG_SETTLE_DISCARD, 3);
    setWord(0, word25(100));
    hxReset(); hxAddChip(18, 4); // power-up: settling
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(1);
    configSet(CFG_GAIN, 64);
    setWord(0, (100 << 3) | 7);
    expect<i32>(hxRead()).toBe(0); // converted at 128: the transition, never a weight; selects 64
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(1);
    expect<i32>(hxDataGain).toBe(64);
  });
  it("discards the transition even with no settling discards configured", () => {
    oneChip();
    setWord(0, word25(100));
    expect<i32>(hxRead()).toBe(1);
    expect<i32>(hxDataGain).toBe(128);
    configSet(CFG_GAIN, 64);
    setWord(0, (100 << 3) | 7);
    expect<i32>(hxRead()).toBe(0); // old-gain data
    expect<i32>(hxRead()).toBe(1);
    expect<i32>(hxDataGain).toBe(64);
  });
});

describe("faults are classified, never weights", () => {
  it("times out with the chip that stayed high", () => {
    oneChip();
    setWait(-1);
    expect<i32>(hxRead()).toBe(-1);
    expect<i32>(hxFault & 0xFF).toBe(FAULT_TIMEOUT);
    configDefaults(); configSet(CFG_SETTLE_DISCARD, 0); hxReset(); hxAddChip(18, 4); hxAddChip(18, 16);
    setWait(-2);
    hxRead();
    expect<i32>(hxFault).toBe(FAULT_TIMEOUT | (1 << 8));
  });
  it("flags saturation; 0x000000 and 0xFFFFFF are ordinary readings (a bridge near 0 V)", () => {
    oneChip();
    setWord(0, word25(0x7FFFFF)); expect<i32>(hxRead()).toBe(-1); expect<i32>(hxFault).toBe(FAULT_SATURATED_HIGH);
    setWord(0, word25(0x800000)); hxRead(); expect<i32>(hxFault).toBe(FAULT_SATURATED_LOW);
    setWord(0, word25(0xFFFFFF)); expect<i32>(hxRead()).toBe(1); expect<i32>(hxSum).toBe(-1);
    setWord(0, word25(0)); expect<i32>(hxRead()).toBe(1); expect<i32>(hxSum).toBe(0);
    setWord(0, word25(0xFFFF00)); expect<i32>(hxRead()).toBe(1);
    setWord(0, word25(0xFFFFFF)); expect<i32>(hxRead()).toBe(1); // -256 to -1: a bridge near 0 V
  });
  it("holds a jump to all ones or all zeros from far away as no weight, resynchronises, and waits for a code near it", () => {
    oneChip();
    setWord(0, word25(400000)); expect<i32>(hxRead()).toBe(1);
    // A lost step, or a load taken off a balanced bridge: no fault, no weight, the chip resynchronised.
    setWord(0, word25(0xFFFFFF)); expect<i32>(hxRead()).toBe(0); expect<i32>(hxFault).toBe(0);
    setWord(0, word25(400000)); expect<i32>(hxRead()).toBe(0); // the chip's next data is of unknown gain
    expect<i32>(hxRead()).toBe(1); // back where it was: it was a glitch
    // The load really went: all zeros, then a code near zero confirms it, and weighing goes on.
    setWord(0, word25(0)); expect<i32>(hxRead()).toBe(0);
    setWord(0, word25(3)); expect<i32>(hxRead()).toBe(0); // settling after the resynchronisation
    expect<i32>(hxRead()).toBe(1);
    setWord(0, word25(0)); expect<i32>(hxRead()).toBe(1); // near the last accepted code: a reading
  });
  it("takes a chip that stays at all ones after a jump for a lost step", () => {
    oneChip();
    setWord(0, word25(400000)); expect<i32>(hxRead()).toBe(1);
    setWord(0, word25(0xFFFFFF));
    let r = 0;
    for (let i = 0; i < 8 && r == 0; i++) r = hxRead();
    expect<i32>(r).toBe(-1);
    expect<i32>(hxFault).toBe(FAULT_GAIN_PULSES);
  });
  it("refuses a read only when a conversion could have completed during it, from each chip's own period", () => {
    oneChip();
    configSet(CFG_RATE_SPS, 80); // 12,500 us nominal
    configSet(CFG_FROZEN_COUNT, 0); // the same code throughout
    setWord(0, word25(100));
    // This chip's oscillator is 2 % slow: 12,750 us. Prompt reads teach the core its period.
    setTiming(12750, 10, 50);
    for (let i = 0; i < 12; i++) expect<i32>(hxRead()).toBe(1);
    // Read from 12,600 to 12,650 us after the fall: the nominal period would put a conversion in
    // it (at 12,500), the learned one does not (12,750).
    setTiming(12750, 12600, 50); expect<i32>(hxRead()).toBe(1);
    // From 12,700 to 12,760: the conversion at 12,750 came during the read.
    setTiming(12750, 12700, 60); expect<i32>(hxRead()).toBe(-1); expect<i32>(hxFault).toBe(FAULT_LATE);
    // One conversion lost, nothing more: the next read is a reading (no resynchronisation).
    setTiming(12750, 10, 50); expect<i32>(hxRead()).toBe(1);
    // A host 1.3 periods late reads the conversion that replaced the unread one: a good read.
    setTiming(12750, 16575, 50); expect<i32>(hxRead()).toBe(1);
    // A read stalled between pulses past the next conversion.
    setTiming(12750, 10, 13000); expect<i32>(hxRead()).toBe(-1); expect<i32>(hxFault).toBe(FAULT_LATE);
    // A host that reports no times: every read is LATE.
    setTiming(12750, 10, 50);
    setTimes(0); expect<i32>(hxRead()).toBe(-1); expect<i32>(hxFault).toBe(FAULT_LATE);
    setTimes(1); expect<i32>(hxRead()).toBe(1);
    configSet(CFG_RATE_SPS, 10);
  });
  it("checks the gain bits and DOUT high after the last pulse", () => {
    oneChip();
    setWord(0, (100 << 1) | 0);
    expect<i32>(hxRead()).toBe(-1);
    expect<i32>(hxFault).toBe(FAULT_GAIN_PULSES); // DOUT high after, a gain bit low: a pulse went astray
    setWord(0, word25(100));
    setAfter(0, 1);
    hxRead();
    expect<i32>(hxFault).toBe(FAULT_NO_DOUT_HIGH);
  });
  it("treats a clock high phase over 50 us as a power-down and settles again", () => {
    oneChip();
    configSet(CFG_SETTLE_DISCARD, 2);
    hxReset(); hxAddChip(18, 4);
    setWord(0, word25(100));
    hxRead(); hxRead();
    expect<i32>(hxRead()).toBe(1);
    setAfter(1, 80);
    expect<i32>(hxRead()).toBe(-1);
    expect<i32>(hxFault).toBe(FAULT_POWER_DOWN);
    setAfter(1, 1);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxRead()).toBe(1);
  });
  it("reports a frozen converter", () => {
    oneChip();
    configSet(CFG_FROZEN_COUNT, 4);
    setWord(0, word25(4242));
    for (let i = 0; i < 4; i++) expect<i32>(hxRead()).toBe(1);
    expect<i32>(hxRead()).toBe(-1);
    expect<i32>(hxFault).toBe(FAULT_FROZEN);
  });
});

describe("power", () => {
  it("holds the clock high to power down and low to power up", () => {
    oneChip();
    expect<i32>(hxPower(false)).toBe(0);
    expect<i32>(lastWrite()).toBe(181);
    expect<i32>(hxRead()).toBe(0);
    expect<i32>(hxPower(true)).toBe(0);
    expect<i32>(lastWrite()).toBe(180);
  });
});
