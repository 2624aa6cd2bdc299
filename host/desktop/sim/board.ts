// The virtual board: a clock in microseconds, HX711s wired to GPIO pins, and the three GPIO
// capabilities of the ABI with the ESP32 host's semantics. Timing faults (a preempted clock-high
// phase, a pulse too short to be seen) are injected here, where the real hazard lives.
import { Hx711 } from "./hx711.js";

/** Nominal clock phases of the host's pulse primitive (us): datasheet typical. */
export const PULSE_HIGH_US = 1;
export const PULSE_LOW_US = 1;
/** DOUT-low to first rising edge (datasheet T1 >= 0.1 us; the ESP32 host needs about 1 us). */
export const FIRST_EDGE_US = 1;

/** A host that does not read as soon as the chips are ready (busy with the network, a slow loop). */
export interface LateHost {
  /** The longest delay (us); each read comes a seeded, uniformly random part of it late. */
  maxUs: number;
  /** A uniform random number in [0, 1), seeded by the caller. */
  uniform: () => number;
}

export interface TimingFaults {
  /** Stretch one high phase of the next read to this many us (a preempted pulse); 0 for none. */
  stretchHighUs: number;
  /** Which pulse of the read (1-based) is stretched. */
  stretchPulse: number;
  /** Make one pulse of the next read too short to be seen (0 for none): a missed pulse. */
  shortPulse: number;
  /** Stretch the low phase after one pulse of the next read to this many us (the host task
   * preempted between pulses, which the HX711 allows); 0 for none. */
  stallLowUs: number;
  /** After which pulse of the read (1-based) the stall comes. */
  stallPulse: number;
}

export class Board {
  nowUs = 0;
  readonly timing: TimingFaults = { stretchHighUs: 0, stretchPulse: 1, shortPulse: 0, stallLowUs: 0, stallPulse: 1 };
  /** Reads done by clock_in (one per clock pin per sample). */
  clockInCalls = 0;
  waitCalls = 0;
  /** Results of the last clockIn: pins high after the last falling edge, longest high phase (us). */
  highMask = 0;
  maxHighUs = 0;
  /** The last read's first rising and last falling edge (us, this board's clock). */
  readStartUs = 0;
  readEndUs = 0;
  /** Per pin of the last read: when its DOUT fell, as an edge interrupt records it (us). */
  readonly fellUs = new Float64Array(64);
  /** Reads come late by up to this much (null: the host waits on DOUT and reads at once). */
  lateHost: LateHost | null = null;
  /** Datasheet T1, DOUT low to the first rising edge: at least 0.1 us (us). */
  firstEdgeUs = FIRST_EDGE_US;
  /** When the host began to watch DOUT (its first wait): a fall before it is seen as happening then, as a firmware's edge interrupt armed at start-up sees it. */
  private watchingSinceUs = -Infinity;
  /** When the last wait_low first saw one of its pins low. */
  private firstLowUs = 0;
  private readonly byDout: (Hx711 | undefined)[] = new Array(64).fill(undefined);
  private readonly byClock: (Hx711[] | undefined)[] = new Array(64).fill(undefined);

  /** Wire a chip: its PD_SCK to `clk`, its DOUT to `dout`. */
  attach(chip: Hx711, clk: number, dout: number): void {
    if (this.byDout[dout] || this.byClock[dout] || this.byDout[clk]) {
      throw new Error(`pin conflict wiring clk ${clk} / dout ${dout}`);
    }
    this.byDout[dout] = chip;
    (this.byClock[clk] ??= []).push(chip);
  }

  chipOn(dout: number): Hx711 | undefined {
    return this.byDout[dout];
  }

  isClockPin(pin: number): boolean {
    return this.byClock[pin] !== undefined;
  }

  /** gpio.wait_low: us waited, or minus the mask (by list index) of pins still high at the timeout. */
  waitLow(pins: ArrayLike<number>, count: number, timeoutUs: number): number {
    this.waitCalls++;
    if (this.watchingSinceUs === -Infinity) this.watchingSinceUs = this.nowUs;
    let at = this.nowUs;
    let first = Infinity;
    for (let i = 0; i < count; i++) {
      const chip = this.byDout[pins[i]];
      const t = chip ? chip.readyAt(this.nowUs) : Infinity; // an unwired pin floats high (pull-up)
      if (t > at) at = t;
      if (t < first) first = t;
    }
    // Where a pin has no falling edge to report (stuck low), its fall is when the wait first saw it low.
    this.firstLowUs = Math.max(this.nowUs, first);
    if (this.lateHost && at !== Infinity) at += this.lateHost.uniform() * this.lateHost.maxUs;
    if (at - this.nowUs <= timeoutUs) {
      const waited = Math.ceil(at - this.nowUs);
      this.nowUs += waited;
      return waited;
    }
    this.nowUs += timeoutUs;
    let mask = 0;
    for (let i = 0; i < count; i++) {
      const chip = this.byDout[pins[i]];
      if (!chip || chip.dout(this.nowUs) === 1) mask |= 1 << i;
    }
    return -mask;
  }

  /**
   * gpio.clock_in: `pulses` pulses on clk; every data pin sampled after each rising edge.
   * Fills words (one per pin), returns the mask of pins high after the last falling edge and the
   * longest high phase in us (rounded up).
   */
  clockIn(clk: number, pins: ArrayLike<number>, count: number, pulses: number, words: Uint32Array): void {
    this.clockInCalls++;
    const t0 = this.nowUs + this.firstEdgeUs;
    for (let i = 0; i < count; i++) {
      const chip = this.byDout[pins[i]];
      chip?.advance(this.nowUs);
      this.fellUs[i] = chip && !chip.faults.stuckLow && chip.fellAtUs > -Infinity ? Math.max(chip.fellAtUs, this.watchingSinceUs) : this.firstLowUs;
    }
    this.readStartUs = t0;
    const chips = this.byClock[clk] ?? [];
    // The fast path is exact when every chip on this clock is listed and no timing fault is due.
    const faulty = this.timing.stretchHighUs > 0 || this.timing.shortPulse > 0 || this.timing.stallLowUs > 0 || chips.length !== count;
    let highMask = 0;
    let maxHighUs = PULSE_HIGH_US;
    if (!faulty) {
      for (let i = 0; i < count; i++) {
        const chip = this.byDout[pins[i]];
        chip!.shiftIn(t0, pulses, PULSE_HIGH_US, PULSE_LOW_US); // every pin is wired: counts match
        words[i] = chip!.word;
        if (chip!.after) highMask |= 1 << i;
      }
      this.nowUs = t0 + pulses * (PULSE_HIGH_US + PULSE_LOW_US);
      this.highMask = highMask;
      this.maxHighUs = maxHighUs;
      this.readEndUs = this.nowUs - PULSE_LOW_US;
      return;
    }
    // Edge by edge, with the injected violation; every chip on this clock sees every edge.
    words.fill(0, 0, count);
    let t = t0;
    let lastFall = t0;
    for (let p = 1; p <= pulses; p++) {
      let high = PULSE_HIGH_US;
      if (p === this.timing.stretchPulse && this.timing.stretchHighUs > 0) high = this.timing.stretchHighUs;
      if (p === this.timing.shortPulse) high = 0.1;
      maxHighUs = Math.max(maxHighUs, Math.ceil(high));
      for (const chip of chips) chip.clock(t, true);
      for (let i = 0; i < count; i++) {
        const chip = this.byDout[pins[i]];
        words[i] = ((words[i] << 1) | (chip ? chip.dout(t + high) : 1)) >>> 0; // sampled as the high phase ends
      }
      t += high;
      for (const chip of chips) chip.clock(t, false);
      lastFall = t;
      t += p === this.timing.stallPulse && this.timing.stallLowUs > 0 ? this.timing.stallLowUs : PULSE_LOW_US;
    }
    for (let i = 0; i < count; i++) {
      const chip = this.byDout[pins[i]];
      if (!chip || chip.dout(lastFall) === 1) highMask |= 1 << i;
    }
    this.timing.stretchHighUs = 0;
    this.timing.shortPulse = 0;
    this.timing.stallLowUs = 0;
    this.highMask = highMask;
    this.maxHighUs = maxHighUs;
    this.nowUs = lastFall + PULSE_LOW_US;
    this.readEndUs = lastFall;
  }

  /** gpio.write: only clock pins are outputs. Returns false for a pin that is not one. */
  write(pin: number, level: 0 | 1): boolean {
    const chips = this.byClock[pin];
    if (!chips) return false;
    for (const chip of chips) chip.clock(this.nowUs, level === 1);
    return true;
  }

  /** Lets virtual time pass (between samples, or while powered down). */
  advance(us: number): void {
    this.nowUs += us;
  }
}
