// A timing-accurate HX711 (Avia Semiconductor datasheet; see ../shared/notes/hx711.md):
// - conversions every 1/rate seconds of the chip's own oscillator (a per-chip tolerance and phase:
//   chips drift in and out of step); DOUT goes low when one is ready;
// - a conversion that completes during a read replaces the data: the later bits come from it;
// - DOUT follows a rising edge only T2 (0.1 us) later; a low phase shorter than 0.2 us hides the
//   next rising edge;
// - channel A (gain 128 or 64) and channel B (gain 32) are different inputs;
// - noise: the datasheet's input-referred rms at gain 128, the same floor in counts at lower gains
//   (never quieter than the datasheet supports), white from conversion to conversion unless a
//   correlation is asked for;
// - each PD_SCK rising edge shifts out one bit, MSB first; the 25th edge pulls DOUT high;
//   25 / 26 / 27 pulses select A-128 / B-32 / A-64 for the NEXT conversion;
// - PD_SCK high for more than 60 us powers the chip down; taking it low resets it;
// - the digital filter: a cascade of four integrators, each over one conversion period, sampled
//   once a period (a sinc^4 decimation filter). That is what the datasheet's facts point to: 10 SPS
//   rejects 50 and 60 Hz together (its nulls are at multiples of the output rate), and settling
//   takes 4 conversions after a step, power-up, reset or gain change (the filter's span is 4
//   periods). It passes a 2 Hz sway at 10 SPS at sinc(0.2)^4, about 0.77 of its size; the chip
//   signals every conversion ready, the unsettled ones after a reset too (the host discards them).
//   Modelled with 4 input samples a period, weighted by the cascade's discrete kernel;
// - the output saturates at 0x7FFFFF / 0x800000.
import type { Random } from "./random.js";

export type Gain = 128 | 64 | 32;
export type Rate = 10 | 80;

/** Datasheet: PD_SCK high longer than this powers the chip down (us). */
export const POWER_DOWN_US = 60;
/** Datasheet T3 minimum: a shorter high phase is not seen by the chip (us). */
export const MIN_HIGH_US = 0.2;
/** Datasheet T3 maximum for a valid read (us). */
export const MAX_HIGH_US = 50;
/** Datasheet T2: DOUT is valid this long after a rising edge (us). */
export const T2_US = 0.1;
/** Datasheet T4 minimum: a shorter low phase hides the next rising edge (us). */
export const MIN_LOW_US = 0.2;
/** The decimation filter: integrators in cascade, each over one period, and input samples a period. */
const STAGES = 4;
/** Input samples a conversion period: a cell's per-conversion rates (spikes) divide by this. */
export const SUBS = 4;
/** The cascade's kernel over the last TAPS input samples, newest first: four boxcars of SUBS convolved, summing to 1. */
const KERNEL: Float64Array = (() => {
  let k = [1];
  for (let stage = 0; stage < STAGES; stage++) {
    const next = new Array<number>(k.length + SUBS - 1).fill(0);
    for (let i = 0; i < k.length; i++) for (let j = 0; j < SUBS; j++) next[i + j] += k[i] / SUBS;
    k = next;
  }
  return Float64Array.from(k);
})();
const TAPS = KERNEL.length;
const FULL_SCALE = 0x800000;

/** Input-referred noise, datasheet typical (V rms): 50 nV at 10 SPS, 90 nV at 80 SPS. */
export function datasheetNoiseV(rate: Rate): number {
  return rate === 10 ? 50e-9 : 90e-9;
}

/** Faults a test can inject into one chip. */
export interface ChipFaults {
  /** DOUT pulled high: no conversion is ever seen (chip missing or unpowered). */
  disconnected: boolean;
  /** DOUT shorted low. */
  stuckLow: boolean;
  /** Probability per conversion that one data bit flips on the way out. */
  bitFlipProbability: number;
  /** Every conversion returns this code (a frozen or broken converter); null for none. */
  frozenCode: number | null;
}

export function noFaults(): ChipFaults {
  return { disconnected: false, stuckLow: false, bitFlipProbability: 0, frozenCode: null };
}

/** The two differential inputs: A (gains 128 and 64) and B (gain 32), in volts at a time (us). */
export interface Hx711Inputs {
  a: (tUs: number) => number;
  b: (tUs: number) => number;
}

export interface Hx711Options {
  /** This chip's oscillator: its period is the nominal one times (1 + ppm / 1e6). */
  oscillatorPpm?: number;
  /** When the first conversion completes after startUs (us), i.e. the chip's phase. */
  phaseUs?: number;
  /** Correlation of the noise from one conversion to the next (0: white). */
  noiseCorrelation?: number;
}

export class Hx711 {
  readonly periodUs: number;
  readonly faults: ChipFaults = noFaults();
  /** Gain of the conversion in progress. */
  gain: Gain = 128;
  /** Count of reads with more than 27 or fewer than 25 pulses. */
  protocolErrors = 0;
  /** Conversions completed since power-up (for tests). */
  conversions = 0;
  /** Result of the last shiftIn: sampled bits (first in the most significant place), DOUT after. */
  word = 0;
  after: 0 | 1 = 1;
  private noiseV: number;
  private noiseState = 0;
  private readonly noiseRho: number;
  private nextConvUs: number;
  /** The filter's input samples, a ring (newest at ring[head]); 0 before a reset's first ones. */
  private readonly ring = new Float64Array(TAPS);
  private head = 0;
  /** Counts per volt at gain 1: full scale is +-0.5 * AVDD / gain. */
  private readonly countsPerVolt: number;
  private data = 0;
  private ready = false;
  private shift = 0;
  private clockHigh = false;
  private highSinceUs = 0;
  private lowSinceUs = -Infinity;
  /** DOUT just before the last rising edge: what the pin still shows for T2 after it. */
  private doutBeforeEdge: 0 | 1 = 1;
  private lastRiseUs = -Infinity;
  private edgeCounted = false;

  /**
   * @param inputs differential input voltages (V) at a time (us), channel A and channel B
   * @param avddV analog supply: full scale is +-0.5 * AVDD / gain
   */
  constructor(
    readonly rate: Rate,
    inputs: Hx711Inputs | ((tUs: number) => number),
    avddV: number,
    private readonly random: Random,
    startUs = 0,
    options: Hx711Options = {},
  ) {
    this.inputs = typeof inputs === "function" ? { a: inputs, b: () => 0 } : inputs;
    this.periodUs = (1e6 / rate) * (1 + (options.oscillatorPpm ?? 0) / 1e6);
    this.countsPerVolt = FULL_SCALE / (0.5 * avddV);
    this.noiseV = datasheetNoiseV(rate);
    this.noiseRho = options.noiseCorrelation ?? 0;
    this.nextConvUs = startUs + (options.phaseUs ?? this.periodUs);
  }

  private readonly inputs: Hx711Inputs;

  /** Noise per output sample (V rms); datasheet value by default. */
  setNoise(vRms: number): void {
    this.noiseV = vRms;
  }

  private poweredDownAt(tUs: number): boolean {
    return this.clockHigh && tUs - this.highSinceUs > POWER_DOWN_US;
  }

  /** Runs every conversion due by tUs. */
  advance(tUs: number): void {
    const limit = this.clockHigh ? Math.min(tUs, this.highSinceUs + POWER_DOWN_US) : tUs;
    while (this.nextConvUs <= limit) {
      this.convert(this.nextConvUs);
      this.nextConvUs += this.periodUs;
    }
  }

  private convert(tUs: number): void {
    this.conversions++;
    // The input over the period that ends now, at the gain (and channel) selected for this
    // conversion, into the filter; the output is the cascade's weighting of the last 4 periods.
    for (let i = 0; i < SUBS; i++) {
      const t = tUs - this.periodUs + ((i + 0.5) * this.periodUs) / SUBS;
      const v = this.gain === 32 ? this.inputs.b(t) : this.inputs.a(t);
      this.head = this.head + 1 === TAPS ? 0 : this.head + 1;
      this.ring[this.head] = v * this.gain * this.countsPerVolt;
    }
    let filtered = 0;
    for (let k = 0, at = this.head; k < TAPS; k++, at = at === 0 ? TAPS - 1 : at - 1) filtered += KERNEL[k] * this.ring[at];
    // Output noise: the datasheet's input-referred rms at gain 128, as a floor in counts.
    const white = this.random.normal();
    this.noiseState = this.noiseRho === 0 ? white : this.noiseRho * this.noiseState + Math.sqrt(1 - this.noiseRho * this.noiseRho) * white;
    let code = Math.round(filtered + this.noiseState * this.noiseV * 128 * this.countsPerVolt);
    code = code > FULL_SCALE - 1 ? FULL_SCALE - 1 : code < -FULL_SCALE ? -FULL_SCALE : code;
    if (this.faults.frozenCode !== null) code = this.faults.frozenCode;
    let bits = code & 0xffffff;
    if (this.faults.bitFlipProbability > 0 && this.random.uniform() < this.faults.bitFlipProbability) {
      bits ^= 1 << this.random.int(24);
    }
    this.data = bits;
    // DOUT falls when a conversion finds it high (nothing ready, or the last read finished); an
    // unread conversion replaced by this one leaves it low, with no edge for the host to see.
    if (!this.ready || this.shift > 24) this.fellAtUs = tUs;
    this.ready = true;
    // A read in progress (up to its gain pulse) carries on into the new conversion's bits; after
    // a finished read, or none, DOUT goes low for the new data.
    if (this.shift === 0 || this.shift > 24) this.shift = 0;
    else this.midReadConversions++;
  }

  /** Conversions that completed while a read was shifting bits out (for tests). */
  midReadConversions = 0;
  /** When DOUT last went low for a new conversion (what a host's edge interrupt would see), us. */
  fellAtUs = -Infinity;

  /** Power-up / reset: channel A, gain 128, the filter empty (its first outputs unsettled). */
  private reset(tUs: number): void {
    this.gain = 128;
    this.ring.fill(0);
    this.ready = false;
    this.shift = 0;
    this.nextConvUs = tUs + this.periodUs;
  }

  /** DOUT level at tUs. */
  dout(tUs: number): 0 | 1 {
    if (this.faults.disconnected) return 1;
    if (this.faults.stuckLow) return 0;
    this.advance(tUs);
    if (tUs - this.lastRiseUs < T2_US) return this.doutBeforeEdge; // not yet valid (T2)
    return this.level(tUs);
  }

  private level(tUs: number): 0 | 1 {
    if (this.poweredDownAt(tUs) || !this.ready) return 1;
    if (this.shift === 0) return 0;
    if (this.shift <= 24) return ((this.data >>> (24 - this.shift)) & 1) as 0 | 1;
    return 1;
  }

  /** Earliest time >= tUs at which DOUT reads low, or Infinity. */
  readyAt(tUs: number): number {
    if (this.faults.stuckLow) return tUs;
    if (this.faults.disconnected || this.clockHigh) return Infinity;
    this.advance(tUs);
    if (this.ready && this.shift === 0) return tUs;
    return this.nextConvUs; // every conversion is signalled, settled or not
  }

  /** PD_SCK edge at tUs. A rising edge shorter than MIN_HIGH_US after it is not seen. */
  clock(tUs: number, high: boolean): void {
    if (high === this.clockHigh) return;
    this.advance(tUs);
    if (high) {
      this.clockHigh = true;
      this.highSinceUs = tUs;
      this.edgeCounted = false;
      if (tUs - this.lowSinceUs < MIN_LOW_US) return; // the low phase was too short: no edge seen
      this.doutBeforeEdge = this.level(tUs);
      this.lastRiseUs = tUs;
      if (!this.ready || this.faults.disconnected || this.faults.stuckLow) return;
      this.shift++;
      this.edgeCounted = true;
      this.selectGain();
      return;
    }
    const highUs = tUs - this.highSinceUs;
    this.clockHigh = false;
    this.lowSinceUs = tUs;
    if (highUs > POWER_DOWN_US) this.reset(tUs);
    else if (highUs < MIN_HIGH_US && this.edgeCounted) {
      this.shift--; // too short: not seen
      this.lastRiseUs = -Infinity;
    }
  }

  private selectGain(): void {
    if (this.shift === 25) this.gain = 128;
    else if (this.shift === 26) this.gain = 32;
    else if (this.shift === 27) this.gain = 64;
    else if (this.shift === 28) this.protocolErrors++;
  }

  /**
   * The common case of clock(): `pulses` well-formed pulses starting at t0Us, computed at once.
   * Returns the sampled bits (first in the most significant place) and the DOUT level after the
   * last falling edge. Same result as driving clock() and dout() edge by edge (a test checks).
   */
  shiftIn(t0Us: number, pulses: number, highUs: number, lowUs: number): void {
    const endUs = t0Us + pulses * (highUs + lowUs) - lowUs;
    this.advance(t0Us);
    // The closed form holds when the read starts on fresh data and no conversion completes
    // before it ends; otherwise, edge by edge.
    if (!this.ready || this.shift !== 0 || this.faults.disconnected || this.faults.stuckLow || this.nextConvUs <= endUs ||
        highUs < T2_US || lowUs < MIN_LOW_US || t0Us - this.lowSinceUs < MIN_LOW_US) {
      this.shiftInByEdges(t0Us, pulses, highUs, lowUs);
      return;
    }
    const extra = pulses - 24;
    // 24 data bits, then DOUT high for every extra pulse (at most 8 extra: 32-bit words).
    const word = extra >= 0 ? (this.data << extra) | ((1 << extra) - 1) : this.data >>> -extra;
    this.shift = pulses;
    if (pulses >= 25) this.gain = pulses === 25 ? 128 : pulses === 26 ? 32 : 64;
    if (pulses > 27) this.protocolErrors++;
    this.word = word >>> 0;
    this.lastRiseUs = endUs - highUs;
    this.doutBeforeEdge = this.level(endUs); // the gain pulses' level: high before and after
    this.lowSinceUs = endUs;
    this.after = this.dout(endUs);
  }

  /** Edge by edge: the reference behaviour. */
  shiftInByEdges(t0Us: number, pulses: number, highUs: number, lowUs: number): void {
    let t = t0Us;
    let word = 0;
    for (let i = 0; i < pulses; i++) {
      this.clock(t, true);
      word = (word * 2 + this.dout(t + highUs)) >>> 0; // sampled at the end of the high phase
      t += highUs;
      this.clock(t, false);
      t += lowUs;
    }
    this.word = word;
    this.after = this.dout(t - lowUs);
  }
}
