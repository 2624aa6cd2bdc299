// A virtual scale: simulated load cells and HX711s on a virtual board, the Wasm core reading them
// through the desktop host's imports, and a scenario's events applied on time.
import { Board } from "./sim/board.js";
import { Hx711 } from "./sim/hx711.js";
import { LoadCell, DEFAULT_CELL } from "./sim/loadcell.js";
import { Random } from "./sim/random.js";
import { makeImports, type HostImports, type CorePanic } from "./imports.js";
import { ScaleCore, CoreError, type Reading } from "./core.js";
import { codeName } from "../abi.js";
import type { Scenario, ScenarioEvent } from "./scenario.js";
import type { EngineName } from "./engines/engine.js";

/** GPIO numbers the desktop board uses (the ESP32 defaults of the firmware's Kconfig). */
export const CLOCK_PINS = [18, 19, 21, 22];
export const DATA_PINS = [4, 16, 17, 5];

export interface CommandResult {
  at: number;
  name: string;
  result: number;
  /** Error name when result < 0. */
  error?: string;
}

export interface VirtualScaleOptions {
  seed: number;
  /** The .wasm to run (bytes or path); the release build by default. */
  wasm?: Uint8Array | string;
  /** The engine that runs it; V8 by default. */
  engine?: EngineName;
}

/** A step of the platform load: from `from` at t0 to `to` at t0 + ramp. */
interface LoadStep {
  t0Us: number;
  from: number;
  to: number;
  rampUs: number;
}

export class VirtualScale {
  readonly board = new Board();
  readonly chips: Hx711[] = [];
  readonly commands: CommandResult[] = [];
  readonly panics: CorePanic[] = [];
  core!: ScaleCore;
  host!: HostImports;
  temperatureC: number;
  private load: LoadStep = { t0Us: 0, from: 0, to: 0, rampUs: 0 };
  private next = 0;

  private constructor(readonly scenario: Scenario, options: VirtualScaleOptions) {
    this.temperatureC = scenario.temperatureC;
    const spec = { ...DEFAULT_CELL, ...scenario.cell };
    for (let i = 0; i < scenario.cells; i++) {
      const random = new Random(options.seed * 7919 + i);
      const cell = new LoadCell(spec, random);
      const share = 1 / scenario.cells;
      const chip = new Hx711(scenario.rate, (t) => cell.output(this.loadAt(t) * share, t, this.temperatureC), spec.excitationV, random);
      if (scenario.noiseNvRms !== undefined) chip.setNoise(scenario.noiseNvRms * 1e-9);
      this.board.attach(chip, scenario.sharedClock ? CLOCK_PINS[0] : CLOCK_PINS[i], DATA_PINS[i]);
      this.chips.push(chip);
    }
  }

  static async create(scenario: Scenario, options: VirtualScaleOptions): Promise<VirtualScale> {
    const s = new VirtualScale(scenario, options);
    s.host = makeImports(s.board, (p) => s.panics.push(p));
    s.core = await ScaleCore.load(s.host, options.wasm, options.engine);
    for (let i = 0; i < scenario.cells; i++) s.core.addChip(scenario.sharedClock ? CLOCK_PINS[0] : CLOCK_PINS[i], DATA_PINS[i]);
    for (const [key, value] of Object.entries(scenario.settings)) {
      const r = s.core.set(key, value as number);
      if (r !== 0) throw new CoreError(`setting ${key} = ${value} refused: ${codeName("error", r) ?? r}`, r);
    }
    return s;
  }

  /** Platform load (kg) at time tUs. */
  loadAt(tUs: number): number {
    const l = this.load;
    if (tUs >= l.t0Us + l.rampUs) return l.to;
    if (tUs <= l.t0Us) return l.from;
    return l.from + ((l.to - l.from) * (tUs - l.t0Us)) / l.rampUs;
  }

  get nowS(): number {
    return this.board.nowUs / 1e6;
  }

  /** Applies the events due by now. */
  private applyDue(): void {
    const events = this.scenario.events;
    while (this.next < events.length && events[this.next].at * 1e6 <= this.board.nowUs) {
      this.apply(events[this.next++]);
    }
  }

  apply(e: ScenarioEvent): void {
    const now = this.board.nowUs;
    switch (e.type) {
      case "load":
        this.load = { t0Us: now, from: this.loadAt(now), to: e.kg, rampUs: e.rampS * 1e6 };
        break;
      case "temperature":
        this.temperatureC = e.c;
        break;
      case "set":
        this.record(e.at, `set ${e.key}=${e.value}`, this.core.set(e.key, e.value));
        break;
      case "power":
        this.record(e.at, e.on ? "power up" : "power down", this.core.power(e.on));
        break;
      case "command":
        this.record(e.at, e.name, this.command(e.name, e.kg ?? 0, e.order ?? 1));
        break;
      case "fault":
        this.inject(e.fault, e.chip, e.value);
        break;
    }
  }

  /** Runs a command through the core; returns its result code. */
  command(name: string, kg = 0, order = 1): number {
    const x = this.core.exports;
    switch (name) {
      case "tare": return x.cmd_tare();
      case "clear_tare": return x.cmd_clear_tare();
      case "zero": return x.cmd_zero();
      case "calibrate": return x.cal_span(kg);
      case "cal_point": return x.cal_add_point(kg);
      case "cal_clear": return x.cal_clear_points();
      case "cal_fit": return x.cal_fit(order);
      default: throw new Error(`unknown command ${name}`);
    }
  }

  private record(at: number, name: string, result: number): void {
    this.commands.push(result < 0 ? { at, name, result, error: codeName("error", result) } : { at, name, result });
  }

  inject(fault: string, chip = 0, value?: number): void {
    const c = this.chips[chip];
    switch (fault) {
      case "disconnect": c.faults.disconnected = true; break;
      case "stuck_low": c.faults.stuckLow = true; break;
      case "bit_flips": c.faults.bitFlipProbability = value ?? 0.05; break;
      case "frozen": c.faults.frozenCode = value ?? 0x123456; break;
      case "stretch_clock": this.board.timing.stretchHighUs = value ?? 80; this.board.timing.stretchPulse = 12; break;
      case "short_pulse": this.board.timing.shortPulse = value ?? 10; break;
      case "clear":
        for (const ch of this.chips) Object.assign(ch.faults, { disconnected: false, stuckLow: false, bitFlipProbability: 0, frozenCode: null });
        break;
      default: throw new Error(`unknown fault ${fault}`);
    }
  }

  /** One sample: due events, then the core reads the chips. Returns the core's status. */
  step(): number {
    this.applyDue();
    return this.core.sample(Math.floor(this.board.nowUs / 1000));
  }

  reading(): Reading {
    return this.core.reading();
  }

  /** Runs until virtual time `untilS`, calling onReading for every reading and fault report. */
  run(untilS: number, onReading?: (r: Reading, status: number) => void): void {
    const until = untilS * 1e6;
    while (this.board.nowUs < until) {
      const status = this.step();
      if (status !== 0 && onReading) onReading(this.core.reading(), status);
      else if (status === 0 && this.board.nowUs < until && !this.poweredUp()) this.board.advance(1000);
    }
  }

  /** False while the core has the chips powered down (sampling then returns at once). */
  private poweredUp(): boolean {
    return !this.chips.every((c) => c.readyAt(this.board.nowUs) === Infinity);
  }
}
