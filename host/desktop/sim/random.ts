// Seeded randomness for the simulator: every run with the same seed is identical.
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

const TWO_POW_32 = 4294967296;

export class Random {
  private readonly gen: RandomGenerator;
  private spare = NaN;

  constructor(seed: number) {
    // xoroshiro's first outputs barely differ for nearby seeds (7919, 7920, ...): mix the seed
    // first (the murmur3 finaliser) and let the generator run in.
    let h = seed | 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.gen = xoroshiro128plus((h ^ (h >>> 16)) | 0);
    for (let i = 0; i < 16; i++) this.gen.next();
  }

  /** Uniform in (0, 1). */
  uniform(): number {
    return ((this.gen.next() >>> 0) + 0.5) / TWO_POW_32;
  }

  /** Standard normal (Marsaglia's polar method; the second value is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}
