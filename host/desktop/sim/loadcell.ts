// A strain-gauge load cell: bridge output in volts for a load, with the errors a datasheet lists
// (zero balance, non-linearity, creep, temperature effects on zero and span) and electrical spikes.
import type { Random } from "./random.js";

export interface LoadCellSpec {
  /** Rated capacity (kg). */
  capacityKg: number;
  /** Rated output at capacity (mV/V). */
  sensitivityMvV: number;
  /** Bridge excitation, also the HX711's AVDD (V). */
  excitationV: number;
  /** Output with no load (mV/V). */
  zeroBalanceMvV: number;
  /** Deviation from a straight line at half capacity, as a fraction of rated output (quadratic). */
  nonlinearity: number;
  /** Creep: fraction of the load change added over `creepTauS` seconds. */
  creepFraction: number;
  creepTauS: number;
  /** Temperature effect on zero, fraction of rated output per degree C. */
  tempZeroPerC: number;
  /** Temperature effect on span, fraction of reading per degree C. */
  tempSpanPerC: number;
  /** Probability per input sample of an electrical spike (per conversion in a scenario: the
   * virtual scale divides it by the HX711's samples a conversion), and its size as a fraction of rated output. */
  spikeProbability: number;
  spikeFraction: number;
}

/** A 50 kg single-point cell of ordinary datasheet quality (C3-class figures). */
export const DEFAULT_CELL: LoadCellSpec = {
  capacityKg: 50,
  sensitivityMvV: 2,
  excitationV: 5,
  zeroBalanceMvV: 0.05,
  nonlinearity: 0.0002,
  creepFraction: 0.0002,
  creepTauS: 600,
  tempZeroPerC: 0.00002,
  tempSpanPerC: 0.00001,
  spikeProbability: 0,
  spikeFraction: 0.2,
};

/** Reference temperature of the cell's calibration (degrees C). */
export const REFERENCE_C = 20;

export class LoadCell {
  private creepKg = 0;
  private creepTarget = 0;
  private lastUs = 0;
  private lastLoad = 0;
  /** Creep decay factor for the last time step (conversions are evenly spaced: computed once). */
  private decayDtUs = -1;
  private decay = 0;

  constructor(readonly spec: LoadCellSpec, private readonly random: Random) {}

  /** Bridge differential voltage (V) at time tUs for loadKg on the cell at tempC. */
  output(loadKg: number, tUs: number, tempC: number): number {
    const s = this.spec;
    if (loadKg !== this.lastLoad) {
      // Creep restarts from the new load: it approaches a fraction of the change.
      this.creepTarget += (loadKg - this.lastLoad) * s.creepFraction;
      this.lastLoad = loadKg;
    }
    if (s.creepFraction !== 0) {
      const dtUs = tUs - this.lastUs;
      if (dtUs !== this.decayDtUs) {
        this.decayDtUs = dtUs;
        this.decay = 1 - Math.exp(-dtUs / 1e6 / s.creepTauS);
      }
      this.creepKg += (this.creepTarget - this.creepKg) * this.decay;
    }
    this.lastUs = tUs;
    const fraction = (loadKg + this.creepKg) / s.capacityKg;
    const dT = tempC - REFERENCE_C;
    let mvV = s.sensitivityMvV * fraction * (1 + s.tempSpanPerC * dT);
    mvV += s.sensitivityMvV * (s.nonlinearity * 4 * fraction * (1 - fraction));
    mvV += s.zeroBalanceMvV + s.sensitivityMvV * s.tempZeroPerC * dT;
    if (s.spikeProbability > 0 && this.random.uniform() < s.spikeProbability) {
      mvV += s.sensitivityMvV * s.spikeFraction * (this.random.uniform() < 0.5 ? -1 : 1);
    }
    return (mvV / 1000) * s.excitationV;
  }
}
