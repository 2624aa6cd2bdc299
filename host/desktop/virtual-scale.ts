// A virtual scale: simulated load cells and HX711s on a virtual board, the Wasm core reading them
// through the desktop host's imports, and a scenario's events applied on time.
import { Board } from "./sim/board.js";
import { Hx711, SUBS } from "./sim/hx711.js";
import { LoadCell, DEFAULT_CELL } from "./sim/loadcell.js";
import { Random } from "./sim/random.js";
import { makeImports, type HostImports, type CorePanic } from "./imports.js";
import { ScaleCore, CoreError, defaultWasmPath, type Reading } from "./core.js";
import { readFileSync } from "node:fs";
import { codeName, COMMAND_NAMES as COMMAND_LIST } from "../abi.js";
import type { Scenario, ScenarioEvent } from "./scenario.js";
import type { EngineName } from "./engines/engine.js";
import { Recorder, applyOp, RECORDING_FORMAT, RECORDING_VERSION, type CoreOp } from "./record.js";
import { abi } from "../abi.js";
import type { ModuleManager } from "./modules/manager.js";

/** GPIO numbers the desktop board uses (the ESP32 defaults of the firmware's Kconfig). */
export const CLOCK_PINS = [18, 19, 21, 22];
export const DATA_PINS = [4, 16, 17, 5];

export interface CommandResult {
  at: number;
  name: string;
  result: number;
  /** Error name when result < 0. */
  error?: string;
  /** A press of the button, not a scenario command. */
  source?: "button";
}

export interface VirtualScaleOptions {
  seed: number;
  /** The .wasm to run (bytes or path); the release build by default. */
  wasm?: Uint8Array | string;
  /** The engine that runs it; V8 by default. */
  engine?: EngineName;
  /** Record what the core is given to this file (see record.ts); close() finishes it. */
  record?: string;
  /** The firmware's own core, when `wasm` is one installed over the air (a rollback returns to it). */
  ownWasm?: Uint8Array | string;
}

/** A step of the platform load: from `from` at t0 to `to` at t0 + ramp, moving from (fromX, fromY)
 * to (x, y) over the same ramp (a weight slid across the platform). */
interface LoadStep {
  t0Us: number;
  from: number;
  to: number;
  rampUs: number;
  fromX: number;
  fromY: number;
  x: number;
  y: number;
}

/**
 * The share of a load at (x, y) that cell i of n carries: four cells at the corners (front left,
 * front right, back right, back left), two at the ends, one or three equally.
 */
export function cellShare(i: number, n: number, x: number, y: number): number {
  if (n === 4) {
    const right = i === 1 || i === 2 ? 1 : -1;
    const back = i >= 2 ? 1 : -1;
    return ((1 + right * x) * (1 + back * y)) / 4;
  }
  if (n === 2) return (1 + (i === 1 ? x : -x)) / 2;
  return 1 / n;
}

export class VirtualScale {
  readonly board = new Board();
  readonly chips: Hx711[] = [];
  readonly commands: CommandResult[] = [];
  readonly panics: CorePanic[] = [];
  core!: ScaleCore;
  host!: HostImports;
  recorder: Recorder | null = null;
  temperatureC: number;
  /** The calibration modules plugged into the core, when the host runs any. */
  modules: ModuleManager | null = null;
  /** The network a battery scale publishes over is reachable (scenario "network" events). */
  networkUp = true;
  /** The platform's load over time, from the scenario's load events: a function of time alone, so
   * every conversion sees the load the scenario puts there then, however the chips are polled. */
  private readonly loads: LoadStep[] = [{ t0Us: -Infinity, from: 0, to: 0, rampUs: 0, fromX: 0, fromY: 0, x: 0, y: 0 }];
  /** The button's edges from the scenario's button events (bounces included), in time order. */
  private readonly buttonEdges: Array<{ tUs: number; down: boolean }> = [];
  private nextEdge = 0;
  /** The status LED's bits from the button's last poll (ScaleCore.button). */
  buttonLed = 0;
  private next = 0;
  private chipPins: Array<[number, number]> = [];
  private wasm: Uint8Array | string | undefined;
  private ownWasm: Uint8Array | string | undefined;
  private engine: EngineName | undefined;
  /** Told of the core swapped in over the air (the MQTT link, the module manager). */
  readonly coreListeners: Array<(core: ScaleCore) => void> = [];

  private constructor(readonly scenario: Scenario, options: VirtualScaleOptions) {
    this.temperatureC = scenario.temperatureC;
    for (const e of scenario.events) {
      if (e.type === "button") this.pushPress(e.at * 1e6, e.duration * 1e6, e.bounces);
      if (e.type !== "load") continue;
      const t0Us = e.at * 1e6;
      this.pushLoad(t0Us, e.kg, e.rampS, e.x, e.y);
    }
    this.buttonEdges.sort((a, b) => a.tUs - b.tUs);
    const base = { ...DEFAULT_CELL, ...scenario.cell };
    const shared = new Random(options.seed * 104729);
    this.board.firstEdgeUs = scenario.t1Us;
    if (scenario.lateHostPeriods > 0) {
      const late = new Random(options.seed * 15485863);
      this.board.lateHost = { maxUs: (scenario.lateHostPeriods * 1e6) / scenario.rate, uniform: () => late.uniform() };
    }
    const commonPpm = scenario.oscillatorPpm * (2 * shared.uniform() - 1);
    const commonPhase = 0.05 + 0.95 * shared.uniform();
    for (let i = 0; i < scenario.cells; i++) {
      const random = new Random(options.seed * 7919 + i);
      const spread = scenario.cellSensitivitySpread;
      // The chip samples its input SUBS times a conversion: a spike rate per conversion is per SUBS samples.
      const spec = { ...base, sensitivityMvV: base.sensitivityMvV * (1 + spread * (2 * random.uniform() - 1)), spikeProbability: (base.spikeProbability ?? 0) / SUBS };
      const cell = new LoadCell(spec, random);
      const n = scenario.cells;
      const share = (t: number) => {
        const [x, y] = this.positionAt(t);
        return cellShare(i, n, x, y);
      };
      const a = (t: number) => cell.output(this.loadAt(t) * share(t), t, this.temperatureC);
      // Channel B: nothing (0 V), a second cell under the same share, or a temperature bridge.
      const second = new LoadCell(spec, random);
      const b = scenario.channelB === "cell"
        ? (t: number) => second.output(this.loadAt(t) * share(t), t, this.temperatureC)
        : scenario.channelB === "temperature"
          ? () => ((this.temperatureC - 20) * scenario.bridgeMvPerC) / 1000
          : () => 0;
      const periodUs = 1e6 / scenario.rate;
      const ownPpm = scenario.oscillatorPpm * (2 * random.uniform() - 1);
      const ownPhase = 0.05 + 0.95 * random.uniform();
      const chip = new Hx711(scenario.rate, { a, b }, base.excitationV, random, 0, {
        oscillatorPpm: scenario.inStep ? commonPpm : ownPpm,
        phaseUs: periodUs * (scenario.inStep ? commonPhase : ownPhase),
        noiseCorrelation: scenario.noiseCorrelation,
      });
      if (scenario.noiseNvRms !== undefined) chip.setNoise(scenario.noiseNvRms * 1e-9);
      this.board.attach(chip, scenario.sharedClock ? CLOCK_PINS[0] : CLOCK_PINS[i], DATA_PINS[i]);
      this.chips.push(chip);
    }
  }

  static async create(scenario: Scenario, options: VirtualScaleOptions): Promise<VirtualScale> {
    const s = new VirtualScale(scenario, options);
    s.host = makeImports(s.board, (p) => s.panics.push(p));
    s.recorder = options.record ? new Recorder(options.record) : null;
    s.core = await ScaleCore.load(s.recorder ? s.recorder.wrap(s.host) : s.host, options.wasm, options.engine);
    const chips: Array<[number, number]> = [];
    for (let i = 0; i < scenario.cells; i++) chips.push([scenario.sharedClock ? CLOCK_PINS[0] : CLOCK_PINS[i], DATA_PINS[i]]);
    s.chipPins = chips;
    s.wasm = options.wasm;
    s.ownWasm = options.ownWasm ?? options.wasm;
    s.engine = options.engine;
    s.wire();
    for (const [key, value] of Object.entries(scenario.settings)) {
      const r = s.core.set(key, value as number);
      if (r !== 0) throw new CoreError(`setting ${key} = ${value} refused: ${codeName("error", r) ?? r}`, r);
    }
    if (s.recorder) s.core.tap = (op) => s.recorder!.op(op);
    s.recorder?.begin({
      format: RECORDING_FORMAT, version: RECORDING_VERSION, abi: abi.version, rate: scenario.rate, chips,
      calibration: Buffer.from(s.core.saveBlob("CALIBRATION")).toString("base64"),
      config: Buffer.from(s.core.saveBlob("CONFIG")).toString("base64"),
      source: `scenario "${scenario.name}"`,
    });
    s.op(["temperature", s.temperatureC]); // the board's thermometer, for calibration modules
    return s;
  }

  /** The firmware's start-up wiring of a fresh core: the chips, and the RATE pin from its Kconfig. */
  private wire(core = this.core): void {
    for (const [clk, dout] of this.chipPins) core.addChip(clk, dout);
    core.set("RATE_SPS", this.scenario.rate);
  }

  /**
   * The core replaced over the air (the module manager's core_swap): `wasm` (the firmware's own
   * core when null) instantiated with this host's imports and set up as at a boot: chips, settings
   * and calibration, device id, clock, temperature. The running state (readings queued, zero,
   * tare, filters) is moved into it when its state stream version is the running one's; otherwise
   * it starts from the blobs. 0 moved, 4 from the blobs; 1 not loadable, 3 a blob or the state
   * refused: the running core then weighs on as it was.
   */
  swapCore(wasm: Uint8Array | null, stateVersion: number): { code: number; words: string } {
    if (this.recorder) return { code: 1, words: "a recording cannot span a swap of the core" };
    const old = this.core;
    const bytes = wasm ?? (typeof this.ownWasm === "string" || this.ownWasm === undefined ? readFileSync(this.ownWasm ?? defaultWasmPath) : this.ownWasm);
    const state = old.saveState();
    const running = state.length >= 6 ? Buffer.from(state.buffer, state.byteOffset, state.length).readUInt16LE(4) : -1;
    const blobs = { CONFIG: old.saveBlob("CONFIG"), CALIBRATION: old.saveBlob("CALIBRATION") };
    const back = (code: number, words: string) => {
      this.host.bind(old.exports.memory);
      return { code, words };
    };
    let core: ScaleCore;
    try {
      core = ScaleCore.loadSync(this.host, bytes, this.engine);
      this.wire(core);
    } catch (e) {
      return back(1, (e as Error).message);
    }
    for (const which of ["CONFIG", "CALIBRATION"] as const) {
      const r = core.loadBlob(which, blobs[which]);
      if (r !== 0) return back(3, `it refused the ${which.toLowerCase()} blob (${codeName("error", r) ?? r})`);
    }
    if (old.told.deviceId) core.setDeviceId(old.told.deviceId);
    if (old.told.time) core.timeSync(...old.told.time);
    core.temperature(this.temperatureC);
    let code = 4;
    if (running === stateVersion) {
      const r = core.loadState(state);
      if (r !== 0) return back(3, `state_load: ${codeName("error", r) ?? r}`);
      code = 0;
    }
    if (old.told.connected) core.connected(true);
    this.core = core;
    this.wasm = bytes;
    for (const tell of this.coreListeners) tell(core);
    return { code, words: "" };
  }

  /**
   * The processor starts again (a wake from deep sleep, a reset) on the same board, chips and
   * load: a fresh core, wired as at start-up. Settings, calibration and state are the caller's to
   * restore; the scenario's settings are not applied again.
   */
  async reboot(): Promise<void> {
    if (this.recorder) throw new CoreError("a recording cannot span a restart of the core");
    this.host = makeImports(this.board, (p) => this.panics.push(p));
    this.core = await ScaleCore.load(this.host, this.wasm, this.engine);
    this.wire();
  }

  /** Virtual time passes with the core asleep until tUs; the scenario's events apply on time. */
  sleepUntil(tUs: number): void {
    const events = this.scenario.events;
    while (this.next < events.length && events[this.next].at * 1e6 <= tUs) {
      const e = events[this.next++];
      if (e.type === "command" || e.type === "set" || e.type === "power") {
        throw new CoreError(`scenario event at ${e.at} s (${e.type}) comes while the core sleeps: in battery mode commands and settings reach the scale over MQTT`);
      }
      this.board.nowUs = Math.max(this.board.nowUs, e.at * 1e6);
      this.apply(e);
    }
    this.board.nowUs = Math.max(this.board.nowUs, tUs);
  }

  /** A press from tUs held for heldUs, with `bounces` extra edges 2 ms apart at each end. */
  private pushPress(tUs: number, heldUs: number, bounces: number): void {
    for (const [t, down] of [[tUs, true], [tUs + heldUs, false]] as const) {
      let level = down;
      this.buttonEdges.push({ tUs: t, down: level });
      for (let k = 1; k <= bounces * 2; k++) {
        level = !level;
        this.buttonEdges.push({ tUs: t + k * 1000, down: level });
      }
    }
  }

  /** A load step from tUs: the load and the position as they are then, ramped to the new ones. */
  private pushLoad(tUs: number, kg: number, rampS: number, x: number, y: number): void {
    const [fromX, fromY] = this.positionAt(tUs);
    this.loads.push({ t0Us: tUs, from: this.loadAt(tUs), to: kg, rampUs: rampS * 1e6, fromX, fromY, x, y });
  }

  /** Where the load stands at tUs (it slides over a step's ramp). */
  private positionAt(tUs: number): [number, number] {
    const l = this.stepAt(tUs);
    if (tUs >= l.t0Us + l.rampUs) return [l.x, l.y];
    const f = (tUs - l.t0Us) / l.rampUs;
    return [l.fromX + (l.x - l.fromX) * f, l.fromY + (l.y - l.fromY) * f];
  }

  /** The load step in force at tUs. */
  private stepAt(tUs: number): LoadStep {
    let i = this.loads.length - 1;
    while (i > 0 && this.loads[i].t0Us > tUs) i--;
    return this.loads[i];
  }

  /** Platform load (kg) at time tUs. */
  loadAt(tUs: number): number {
    const l = this.stepAt(tUs);
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
    switch (e.type) {
      case "load": {
        // The scenario's loads are in this.loads from the start (loadAt follows its clock); one
        // applied from outside (a test, an interactive host) takes effect now.
        if (this.scenario.events.includes(e)) break;
        const now = Math.max(this.board.nowUs, this.loads[this.loads.length - 1].t0Us);
        this.pushLoad(now, e.kg, e.rampS, e.x, e.y);
        break;
      }
      case "temperature":
        this.temperatureC = e.c;
        this.op(["temperature", e.c]);
        break;
      case "set":
        this.record(e.at, `set ${e.key}=${e.value}`, this.op(["set", e.key, e.value]));
        break;
      case "power":
        this.record(e.at, e.on ? "power up" : "power down", this.op(["power", e.on]));
        break;
      case "command":
        this.record(e.at, e.name, this.command(e.name, e.kg ?? 0, e.order ?? 1, e.corner ?? 0));
        break;
      case "fault":
        this.inject(e.fault, e.chip, e.value);
        break;
      case "network":
        this.networkUp = e.up;
        break;
      case "button":
        break; // its edges, from the start, reach the core at their times (step)
    }
  }

  /** Runs a command through the core; returns its result code. */
  command(name: string, kg = 0, order = 1, corner = 0): number {
    return this.op(["command", name, kg, order, corner]);
  }

  /** A command, setting or power change: recorded when recording, then applied. */
  private op(op: CoreOp): number {
    this.recorder?.op(op);
    return applyOp(this.core, op);
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
      case "stall": this.board.timing.stallLowUs = value ?? 20000; this.board.timing.stallPulse = 12; break;
      case "clear":
        for (const ch of this.chips) Object.assign(ch.faults, { disconnected: false, stuckLow: false, bitFlipProbability: 0, frozenCode: null });
        break;
      default: throw new Error(`unknown fault ${fault}`);
    }
  }

  /**
   * The world alone at tUs: the scenario's events due by then applied (loads, temperature, chip
   * faults), no sample taken. For another processor that reads these chips on its own clock (the
   * emulated RP2040 of tests/pico-emulator.ts).
   */
  worldAt(tUs: number): void {
    this.board.nowUs = tUs;
    this.applyDue();
  }

  /** One sample: due events, then the core reads the chips. Returns the core's status. */
  step(): number {
    this.applyDue();
    // The button's edges seen since the last sample, with the times they happened at (a host's
    // interrupt queue), before the sample; a poll after it.
    while (this.nextEdge < this.buttonEdges.length && this.buttonEdges[this.nextEdge].tUs <= this.board.nowUs) {
      const e = this.buttonEdges[this.nextEdge++];
      this.op(["button", e.down, Math.floor(e.tUs / 1000)]);
    }
    const nowMs = Math.floor(this.board.nowUs / 1000);
    this.recorder?.sample(nowMs);
    let status: number;
    try {
      status = this.core.sample(nowMs);
    } catch (e) {
      // A core on trial that traps is rolled back, its state (the readings queued) moved into
      // the core before it; any other trap is the caller's.
      const trapped = this.core;
      if (!this.modules?.coreOnTrial) throw e;
      const words = (e as Error).message;
      this.modules.coreFailed(/budget|instruction limit|fuel/i.test(words) ? 2 : 1, words);
      if (this.core === trapped) throw e;
      return 0;
    }
    if (status > 0) this.modules?.coreReading();
    this.modules?.afterSample();
    // (A scale with no button is never polled: before its first edge a poll does nothing.)
    if (this.buttonEdges.length) this.buttonLed = this.core.button(null, nowMs);
    if (this.buttonLed & 3) {
      // What the press did, for the host's log (the result topic has it too).
      const name = COMMAND_LIST[((this.buttonLed >> 8) & 0xff) - 1] ?? "?";
      const result = this.buttonLed & 2 ? -((this.buttonLed >> 16) & 0xff) : 0;
      this.commands.push(result < 0 ? { at: nowMs / 1000, name, result, error: codeName("error", result), source: "button" } : { at: nowMs / 1000, name, result, source: "button" });
    }
    return status;
  }

  /** Finishes a recording, if there is one. */
  async close(): Promise<void> {
    await this.recorder?.close();
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
