// Replays a recording (record.ts) through a core, with the recorded settings or others, at full
// speed, and summarises what the core made of it.
import { code, codeName } from "../abi.js";
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
  onReading?: (r: Reading) => void;
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
  for (const [key, value] of options.set ?? []) {
    if (FIXED.includes(key)) throw new RecordingError(`--set ${key} cannot be replayed: it changes how the chips are read (record again instead)`);
    const r = core.set(key, value);
    if (r !== 0) throw new CoreError(`--set ${key}=${value} refused: ${codeName("error", r) ?? r}`, r);
  }
  let zeroFrom = zeroKg(core);
  let zeroTracked = 0;
  const commands: ReplaySummary["commands"] = [];
  const stable = code("flag", "STABLE");
  const readings: Reading[] = [];
  const faults: Record<string, number> = {};
  let samples = 0;
  let lastMs = 0;
  // Steps are found on the raw counts, so they do not depend on the settings being replayed.
  const stepCounts = (20 * core.get("DIVISION_KG")) / Math.abs(kgPerCount(core));
  let lastRaw: number | null = null;
  let stepAt: number | null = null;
  let moved = false; // the step has been seen as motion (STABLE lags the raw counts by the filters)
  const settles: number[] = [];
  let stableCount = 0;
  let run: number[] = [];
  const deviations: number[] = [];
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const closeRun = () => {
    if (run.length >= 10) {
      const m = median(run);
      for (const x of run) deviations.push(Math.abs(x - m));
    }
    run = [];
  };
  for (let i = 0; i < events.length; ) {
    const e = events[i];
    if (e[0] === "x") {
      // A command or setting change: what it does to zero is not tracking, and a stable run ends.
      const op = e.slice(1) as Parameters<typeof applyOp>[1];
      zeroTracked += zeroKg(core) - zeroFrom;
      const result = applyOp(core, op);
      zeroFrom = zeroKg(core);
      const name = op[0] === "command" ? op[1] : op[0] === "set" ? `set ${op[1]}=${op[2]}` : op[0] === "message" ? `message on ${op[1]}`
        : op[0] === "blob" ? `${op[1].toLowerCase()} restored` : op[0] === "device" ? `device id ${op[1]}` : op[1] ? "power up" : "power down";
      commands.push(result < 0 ? { op: name, result, error: codeName("error", result), tS: lastMs / 1000 } : { op: name, result, tS: lastMs / 1000 });
      closeRun();
      i++;
      continue;
    }
    if (e[0] !== "s") mismatch(`an import result (${e[0]}) where the core expected a sample`);
    replayed.seek(i + 1);
    lastMs = e[1] as number;
    const status = core.sample(lastMs);
    samples++;
    i = replayed.at();
    if (samples % 4096 === 0) options.onProgress?.(i / events.length);
    if (status === 0) continue;
    const r = core.reading();
    readings.push(r);
    options.onReading?.(r);
    if (!r.fault) {
      if (lastRaw !== null && Math.abs(r.raw - lastRaw) > stepCounts && stepAt === null) {
        stepAt = r.tMs;
        moved = false;
      }
      lastRaw = r.raw;
      if (stepAt !== null && !(r.flags & stable)) moved = true;
      if (stepAt !== null && moved && r.flags & stable) {
        settles.push((r.tMs - stepAt) / 1000);
        stepAt = null;
      }
    }
    if (r.fault) {
      const name = codeName("fault", r.fault) ?? String(r.fault);
      faults[name] = (faults[name] ?? 0) + 1;
      closeRun();
    } else if (r.flags & stable) {
      stableCount++;
      run.push(r.raw);
    } else {
      closeRun();
    }
  }
  closeRun();
  zeroTracked += zeroKg(core) - zeroFrom;
  options.onProgress?.(1);
  const d = core.get("DIVISION_KG");
  return {
    readings,
    summary: {
      samples,
      readings: readings.length,
      faults,
      stableShare: readings.length ? stableCount / readings.length : 0,
      noiseD: deviations.length ? (1.4826 * median(deviations) * Math.abs(kgPerCount(core))) / d : null,
      settleS: { steps: settles.length, median: settles.length ? median(settles) : null, max: settles.length ? Math.max(...settles) : null },
      zeroTrackedKg: zeroTracked,
      commands,
      final: readings.at(-1) ?? null,
    },
  };
}

export function formatReplaySummary(s: ReplaySummary): string {
  const faults = Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return [
    `samples ${s.samples}, readings ${s.readings}, stable ${(100 * s.stableShare).toFixed(1)} %`,
    `noise while stable ${s.noiseD === null ? "-" : `${s.noiseD.toFixed(3)} d rms`}, zero tracked ${s.zeroTrackedKg.toFixed(4)} kg`,
    `settling after ${s.settleS.steps} load change(s): ${s.settleS.median === null ? "-" : `median ${s.settleS.median.toFixed(2)} s, longest ${s.settleS.max!.toFixed(2)} s`}`,
    `faults: ${faults}`,
    `commands: ${s.commands.map((c) => (c.error ? `${c.op} refused (${c.error})` : `${c.op} accepted`)).join(", ") || "none"}`,
    s.final ? `last reading: ${s.final.kg} kg (gross ${s.final.grossKg} kg)` : "no reading",
  ].join("\n");
}
