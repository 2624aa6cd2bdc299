// Replays a recording (record.ts) through a core, with the recorded settings or others, at full
// speed, and summarises what the core made of it.
import { readFileSync } from "node:fs";
import { abi, code, codeName } from "../abi.js";
import { ModuleManager } from "./modules/manager.js";
import { ModuleRefused } from "./modules/package.js";
import type { CalibrationSocket } from "./modules/socket.js";
import { ScaleCore, CoreError, type Reading } from "./core.js";
import { readRecording, replayImports, applyOp, RecordingError } from "./record.js";
import type { EngineName } from "./engines/engine.js";

/** Settings that change what the host is asked to do (pulses, timing): the recording cannot answer. */
const FIXED = ["GAIN", "RATE_SPS"];

export interface ReplayOptions {
  /** Settings to change before replaying: [name, value]. */
  set?: Array<[string, number]>;
  engine?: EngineName;
  wasm?: Uint8Array | string;
  /** A calibration module to weigh with: a package (.wsm, with its parameters) or a bare .wasm. */
  module?: string;
  /** Every reading, with the core that made it (its settings: the division a display shows). */
  onReading?: (r: Reading, core: ScaleCore) => void;
  /** Called now and then with the fraction done (for a progress bar). */
  onProgress?: (fraction: number) => void;
}

export interface ReplaySummary {
  samples: number;
  readings: number;
  faults: Record<string, number>;
  /** Share of the readings flagged STABLE. */
  stableShare: number;
  /** Noise of the conversions while stable, in divisions at the final calibration: the spread of
   * the raw counts about the median of each stable run (10 readings or more), as 1.4826 x the
   * median absolute deviation, an rms that a load arriving at a run's end cannot inflate. */
  noiseD: number | null;
  /** Settling after each load change (the raw counts moving by more than 20 d from one reading to the
   * next): seconds from the change to the first STABLE reading after the motion was seen. */
  settleS: { steps: number; median: number | null; max: number | null };
  /** Zero moved by zero tracking over the recording (zero and calibration commands apart), in kg. */
  zeroTrackedKg: number;
  /** The recorded commands and setting changes, with what this replay's core answered. */
  commands: Array<{ op: string; result: number; error?: string; tS: number }>;
  final: Reading | null;
}

/** Parses "KEY=VALUE" for --set. */
export function parseSetting(s: string): [string, number] {
  const m = /^([A-Z_0-9]+)=(.+)$/.exec(s);
  const value = m ? Number(m[2]) : NaN;
  if (!m || !Number.isFinite(value)) throw new RecordingError(`--set takes KEY=VALUE with a number, not "${s}"`);
  return [m[1], value];
}

/** kg per count near zero (c1 of the calibration blob; see assembly/scale.ts blobSave). */
function kgPerCount(core: ScaleCore): number {
  const blob = core.saveBlob("CALIBRATION");
  return new DataView(blob.buffer, blob.byteOffset).getFloat64(8 + 8, true);
}

function zeroKg(core: ScaleCore): number {
  const blob = core.saveBlob("CALIBRATION");
  const v = new DataView(blob.buffer, blob.byteOffset);
  return v.getFloat64(8 + 24, true) * v.getFloat64(8 + 8, true); // zero counts x kg per count
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

const STABLE = code("flag", "STABLE");

/** What a replay is summarised by, gathered reading by reading (see ReplaySummary). */
class Statistics {
  readings = 0;
  stable = 0;
  readonly faults: Record<string, number> = {};
  readonly commands: ReplaySummary["commands"] = [];
  private run: number[] = [];
  private readonly deviations: number[] = [];
  private readonly settles: number[] = [];
  private lastRaw: number | null = null;
  private stepAt: number | null = null;
  private moved = false; // the step has been seen as motion (STABLE lags the raw counts by the filters)
  private zeroFrom: number;
  private zeroTracked = 0;

  /** @param stepCounts a load change: the raw counts moving by more than this between readings */
  constructor(private readonly core: ScaleCore, private readonly stepCounts: number) {
    this.zeroFrom = zeroKg(core);
  }

  reading(r: Reading): void {
    this.readings++;
    if (r.fault) {
      const name = codeName("fault", r.fault) ?? String(r.fault);
      this.faults[name] = (this.faults[name] ?? 0) + 1;
      this.closeRun();
      return;
    }
    const stable = (r.flags & STABLE) !== 0;
    if (this.lastRaw !== null && Math.abs(r.raw - this.lastRaw) > this.stepCounts && this.stepAt === null) {
      this.stepAt = r.tMs;
      this.moved = false;
    }
    this.lastRaw = r.raw;
    if (this.stepAt !== null && !stable) this.moved = true;
    if (this.stepAt !== null && this.moved && stable) {
      this.settles.push((r.tMs - this.stepAt) / 1000);
      this.stepAt = null;
    }
    if (stable) {
      this.stable++;
      this.run.push(r.raw);
    } else {
      this.closeRun();
    }
  }

  /** Before a command or setting change: what it does to zero is not tracking, and a stable run ends. */
  beforeOp(): void {
    this.zeroTracked += zeroKg(this.core) - this.zeroFrom;
    this.closeRun();
  }

  afterOp(name: string, result: number, tMs: number): void {
    this.zeroFrom = zeroKg(this.core);
    const tS = tMs / 1000;
    this.commands.push(result < 0 ? { op: name, result, error: codeName("error", result), tS } : { op: name, result, tS });
  }

  private closeRun(): void {
    if (this.run.length >= 10) {
      const m = median(this.run);
      for (const x of this.run) this.deviations.push(Math.abs(x - m));
    }
    this.run = [];
  }

  summary(samples: number, final: Reading | null): ReplaySummary {
    this.closeRun();
    this.zeroTracked += zeroKg(this.core) - this.zeroFrom;
    this.zeroFrom = zeroKg(this.core);
    const d = this.core.get("DIVISION_KG");
    const s = this.settles;
    return {
      samples,
      readings: this.readings,
      faults: this.faults,
      stableShare: this.readings ? this.stable / this.readings : 0,
      noiseD: this.deviations.length ? (1.4826 * median(this.deviations) * Math.abs(kgPerCount(this.core))) / d : null,
      settleS: { steps: s.length, median: s.length ? median(s) : null, max: s.length ? Math.max(...s) : null },
      zeroTrackedKg: this.zeroTracked,
      commands: this.commands,
      final,
    };
  }
}

/** A name for a recorded operation, for the summary. */
function opName(op: Parameters<typeof applyOp>[1]): string {
  switch (op[0]) {
    case "command": return op[1];
    case "set": return `set ${op[1]}=${op[2]}`;
    case "message": return `message on ${op[1]}`;
    case "blob": return `${op[1].toLowerCase()} restored`;
    case "device": return `device id ${op[1]}`;
    case "power": return op[1] ? "power up" : "power down";
    case "temperature": return `temperature ${op[1] ?? "unknown"} C`;
    case "button": return op[1] ? "button pressed" : "button released";
  }
}

/**
 * Links a calibration module to the replaying core, as a device does once it installed it (a
 * package's parameters loaded; its signature is the device's concern, not a replay's). A module
 * that fails during the replay stops it with the reason: a replay has no previous module.
 */
function plugModule(core: ScaleCore, socket: CalibrationSocket, file: string, recording: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new RecordingError(`cannot read the module ${file}: ${(e as Error).message}`);
  }
  let module: ModuleManager;
  try {
    module = ModuleManager.tryModule(bytes, core);
  } catch (e) {
    if (e instanceof ModuleRefused) throw new RecordingError(`${file} refused (${e.reason}): ${e.message}`);
    throw e;
  }
  const failed = (): void => {
    const f = module.failure;
    if (f) throw new RecordingError(`${recording}: the module ${module.activeModule?.name} failed (${f.reason}): ${f.detail}`);
  };
  socket.target = {
    gain(c0, c1, c2, c3) {
      const g = module.gain(c0, c1, c2, c3);
      failed();
      return g;
    },
    curve(tempC) {
      const n = module.curve(tempC);
      failed();
      return n;
    },
    knot: (i) => module.knot(i),
    fault(kind, x, value) {
      module.fault(kind, x, value);
      failed();
    },
    fit: (order, xs, kgs, n) => module.fit(order, xs, kgs, n),
  };
  const r = core.calModule(true);
  if (r !== 0) throw new RecordingError(`${file}: the core refused the module's curve (${codeName("error", r) ?? r})`);
}

export async function replay(path: string, options: ReplayOptions = {}): Promise<{ readings: Reading[]; summary: ReplaySummary }> {
  const { header, events } = await readRecording(path);
  const mismatch = (what: string): never => {
    throw new RecordingError(`${path}: ${what}: the core or its settings read the chips differently from the recording`);
  };
  const replayed = replayImports(events, mismatch);
  const core = await ScaleCore.load(replayed.host, options.wasm, options.engine);
  for (const [clk, dout] of header.chips) core.addChip(clk, dout);
  for (const [which, b64] of [["CONFIG", header.config], ["CALIBRATION", header.calibration]] as const) {
    const r = core.loadBlob(which, Buffer.from(b64, "base64"));
    if (r !== 0) throw new RecordingError(`${path}: its ${which.toLowerCase()} was refused by this core (${codeName("error", r) ?? r})`);
  }
  if (options.module) plugModule(core, replayed.host.calibration, options.module, path);
  for (const [key, value] of options.set ?? []) {
    if (FIXED.includes(key)) throw new RecordingError(`--set ${key} cannot be replayed: it changes how the chips are read (record again instead)`);
    if (!(key in abi.codes.config)) throw new RecordingError(`--set ${key}: no such setting (docs/settings.md lists them)`);
    const r = core.set(key, value);
    if (r !== 0) throw new CoreError(`--set ${key}=${value} refused: ${codeName("error", r) ?? r}`, r);
  }
  // Load changes are found on the raw counts (20 d at the starting calibration), so they do not
  // depend on the settings being replayed.
  const stats = new Statistics(core, (20 * core.get("DIVISION_KG")) / Math.abs(kgPerCount(core)));
  const readings: Reading[] = [];
  let samples = 0;
  let lastMs = 0;
  let buttonSeen = false;
  for (let i = 0; i < events.length; ) {
    const e = events[i];
    if (e[0] === "x") {
      const op = e.slice(1) as Parameters<typeof applyOp>[1];
      if (op[0] === "button") buttonSeen = true; // polled from its first edge on (before, a poll does nothing)
      if (op[0] === "temperature") { // the environment, not an operation: given, not summarised
        applyOp(core, op);
        i++;
        continue;
      }
      stats.beforeOp();
      stats.afterOp(opName(op), applyOp(core, op), lastMs);
      i++;
      continue;
    }
    if (e[0] !== "s") mismatch(`an import result (${e[0]}) where the core expected a sample`);
    replayed.seek(i + 1);
    lastMs = e[1] as number;
    const status = core.sample(lastMs);
    if (buttonSeen) core.button(null, lastMs); // as a host with a button polls it after every sample
    samples++;
    i = replayed.at();
    if (samples % 4096 === 0) options.onProgress?.(i / events.length);
    if (status === 0) continue;
    const r = core.reading();
    readings.push(r);
    stats.reading(r);
    options.onReading?.(r, core);
  }
  options.onProgress?.(1);
  return { readings, summary: stats.summary(samples, readings.at(-1) ?? null) };
}

/** An f32 of the reading record as its shortest decimal (1.2, not 1.1999999284744263). */
function shortest(x: number): number {
  return Number(x.toPrecision(7));
}

export function formatReplaySummary(s: ReplaySummary): string {
  const faults = Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return [
    `samples ${s.samples}, readings ${s.readings}, stable ${(100 * s.stableShare).toFixed(1)} %`,
    `noise while stable ${s.noiseD === null ? "-" : `${s.noiseD.toFixed(3)} d rms`}, zero tracked ${s.zeroTrackedKg.toFixed(4)} kg`,
    `settling after ${s.settleS.steps} load change(s): ${s.settleS.median === null ? "-" : `median ${s.settleS.median.toFixed(2)} s, longest ${s.settleS.max!.toFixed(2)} s`}`,
    `faults: ${faults}`,
    `commands: ${s.commands.map((c) => (c.error ? `${c.op} refused (${c.error})` : `${c.op} accepted`)).join(", ") || "none"}`,
    s.final ? `last reading: ${shortest(s.final.kg)} kg (gross ${shortest(s.final.grossKg)} kg)` : "no reading",
  ].join("\n");
}
