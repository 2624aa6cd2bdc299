// Recordings: what the core was given, so that it can be given again. A recording holds the
// chips, the settings and calibration in force when it started, and then, in order, every
// sample's host time, what each GPIO import returned (wait_low's result, clock_in's whole output:
// words, DOUT mask, longest high phase, the read's edges and each DOUT's fall) and every command, setting or power change the core was
// given. Replaying feeds the same import results to a core: with the recorded settings it gives
// the same readings, byte for byte; with other filter, stability or calibration settings it shows
// what they would have done with the very same conversions.
//
// Format (version 2): gzip'd lines of JSON. Line 1 is the header object; then one array per event:
//   ["s", now_ms]                          a scale_sample call
//   ["w", result]                          gpio.wait_low returned result
//   ["c", [u32, ...]]                      gpio.clock_in filled its output with these 2n + 4 words (assembly/abi.json)
//   ["x", "command", name, kg, order, corner] | ["x", "set", key, value] | ["x", "power", on]
//   ["x", "message", topic, payload_base64] | ["x", "blob", which, blob_base64] | ["x", "device", id]   (npm start)
//   ["x", "temperature", celsius | null]    the host's temperature for calibration modules (null: unknown)
//   ["x", "button", down, t_ms]             an edge of the button (the host polls it after every sample)
import { createReadStream, createWriteStream, openSync, type WriteStream } from "node:fs";
import { systemReason } from "./files.js";
import { createGunzip, createGzip, type Gzip } from "node:zlib";
import { createInterface } from "node:readline";
import { abi } from "../abi.js";
import type { HostImports } from "./imports.js";
import { CalibrationSocket } from "./modules/socket.js";
import type { ScaleCore } from "./core.js";

export const RECORDING_FORMAT = "wasm-scale-recording";
export const RECORDING_VERSION = 2;

export interface RecordingHeader {
  format: typeof RECORDING_FORMAT;
  version: number;
  abi: number;
  rate: 10 | 80;
  /** [clock pin, data pin] of each chip, in the order added. */
  chips: Array<[number, number]>;
  /** The blobs in force when the recording started, base64. */
  calibration: string;
  config: string;
  source: string;
}

export type CoreOp = ["command", string, number, number, number] | ["set", string, number] | ["power", boolean]
  | ["message", string, string] | ["blob", "CALIBRATION" | "CONFIG", string] | ["device", string] | ["temperature", number | null]
  | ["button", boolean, number];
export type RecordingEvent = ["s", number] | ["w", number] | ["c", number[]] | ["x", ...CoreOp];
type Event = RecordingEvent;

export class RecordingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordingError";
  }
}

export class Recorder {
  private readonly gzip: Gzip;
  private readonly file: WriteStream;
  private readonly done: Promise<void>;

  /** Opens the file; `begin` writes the header once the core is set up (no GPIO call before). */
  constructor(path: string) {
    this.gzip = createGzip();
    // Opened here, so that a path that cannot be written fails now, with its reason.
    let fd: number;
    try {
      fd = openSync(path, "w");
    } catch (e) {
      throw new RecordingError(`cannot write ${path}: ${systemReason(e)}`);
    }
    this.file = createWriteStream(path, { fd });
    this.gzip.pipe(this.file);
    this.done = new Promise((resolve, reject) => {
      this.file.on("finish", () => resolve());
      this.file.on("error", (e) => reject(new RecordingError(`cannot write ${path}: ${e.message}`)));
    });
  }

  begin(header: RecordingHeader): void {
    this.line(header);
  }

  private line(v: unknown): void {
    this.gzip.write(JSON.stringify(v) + "\n");
  }

  /** An event made elsewhere (a device's recording, decoded). */
  event(e: RecordingEvent): void {
    this.line(e);
  }

  sample(nowMs: number): void {
    this.line(["s", nowMs]);
  }

  op(op: CoreOp): void {
    this.line(["x", ...op]);
  }

  /** Wraps a host's imports so that every GPIO result is written down as the core receives it. */
  wrap(host: HostImports): HostImports {
    const gpio = host.imports.gpio as {
      wait_low(ptr: number, len: number, timeoutUs: number): number;
      clock_in(clk: number, ptr: number, len: number, pulses: number, out: number, outLen: number): number;
      write(pin: number, level: number): void;
    };
    let memory: { buffer: ArrayBuffer } | null = null;
    const recorded = {
      wait_low: (ptr: number, len: number, timeoutUs: number): number => {
        const r = gpio.wait_low(ptr, len, timeoutUs);
        this.line(["w", r]);
        return r;
      },
      clock_in: (clk: number, ptr: number, len: number, pulses: number, out: number, outLen: number): number => {
        const r = gpio.clock_in(clk, ptr, len, pulses, out, outLen);
        if (r !== 0) throw new RecordingError(`clock_in refused (${r}): a recording needs well-formed reads`);
        const v = new DataView(memory!.buffer, out, 4 * (2 * len + 4));
        this.line(["c", Array.from({ length: 2 * len + 4 }, (_, i) => v.getUint32(4 * i, true))]);
        return r;
      },
      write: gpio.write,
    };
    return {
      imports: { gpio: recorded, calib: host.imports.calib, sys: host.imports.sys },
      calls: host.calls,
      calibration: host.calibration,
      bind(m: { buffer: ArrayBuffer }): void {
        memory = m;
        host.bind(m);
      },
    };
  }

  async close(): Promise<void> {
    this.gzip.end();
    await this.done;
  }
}

/** Reads a recording whole: its header and events. */
export async function readRecording(path: string): Promise<{ header: RecordingHeader; events: Event[] }> {
  const events: Event[] = [];
  let header: RecordingHeader | null = null;
  // Opened first: a missing or unreadable file is an error here, not an unhandled stream event.
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new RecordingError(`cannot read ${path}: ${systemReason(e)}`);
  }
  const lines = createInterface({ input: createReadStream(path, { fd }).pipe(createGunzip()), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line === "") continue;
      const v = JSON.parse(line) as unknown;
      if (header === null) {
        const h = v as Partial<RecordingHeader>;
        if (h.format !== RECORDING_FORMAT) throw new RecordingError(`${path} is not a wasm-scale recording`);
        if (h.version !== RECORDING_VERSION) throw new RecordingError(`${path} is recording format ${h.version}; this version reads ${RECORDING_VERSION}`);
        if (h.abi !== abi.version) throw new RecordingError(`${path} was recorded with core ABI ${h.abi}; this core speaks ${abi.version}`);
        header = h as RecordingHeader;
      } else {
        if (!Array.isArray(v) || !["s", "w", "c", "x"].includes(v[0] as string)) throw new RecordingError(`${path} line ${n}: not an event`);
        events.push(v as Event);
      }
    }
  } catch (e) {
    if (e instanceof RecordingError) throw e;
    throw new RecordingError(`${path} is damaged (line ${n}): ${(e as Error).message}`);
  }
  if (header === null) throw new RecordingError(`${path} is empty`);
  return { header, events };
}

/** Imports that hand out a recording's GPIO results in order; a core that asks otherwise is stopped. */
export function replayImports(events: Event[], onMismatch: (what: string) => never): { host: HostImports; at: () => number; seek: (i: number) => void } {
  let i = 0;
  let memory: { buffer: ArrayBuffer } | null = null;
  const calls: Record<string, number> = { "gpio.wait_low": 0, "gpio.clock_in": 0, "gpio.write": 0, "sys.panic": 0 };
  const next = (kind: "w" | "c"): Event => {
    const e = events[i];
    if (!e || e[0] !== kind) onMismatch(`the core asked for ${kind === "w" ? "wait_low" : "clock_in"} where the recording has ${e ? e[0] : "its end"}`);
    i++;
    return e;
  };
  const calibration = new CalibrationSocket(calls);
  const host: HostImports = {
    calibration,
    imports: {
      calib: calibration.imports,
      gpio: {
        wait_low: (): number => {
          calls["gpio.wait_low"]++;
          return (next("w") as ["w", number])[1];
        },
        clock_in: (_clk: number, _ptr: number, len: number, _pulses: number, out: number): number => {
          calls["gpio.clock_in"]++;
          const [, words] = next("c") as ["c", number[]];
          if (words.length !== 2 * len + 4) onMismatch(`the core read ${len} chips where the recording has ${(words.length - 4) / 2}`);
          const v = new DataView(memory!.buffer, out, 4 * words.length);
          words.forEach((w, k) => v.setUint32(4 * k, w, true));
          return 0;
        },
        write: (): void => {
          calls["gpio.write"]++;
        },
      },
      sys: { panic: (): void => { calls["sys.panic"]++; } },
    },
    calls,
    bind(m: { buffer: ArrayBuffer }): void {
      memory = m;
      calibration.bind(m);
    },
  };
  return { host, at: () => i, seek: (k: number) => { i = k; } };
}

/** Applies a recorded command, setting or power change to a core; its result code. */
export function applyOp(core: ScaleCore, op: CoreOp): number {
  const x = core.exports;
  if (op[0] === "set") return core.set(op[1], op[2]);
  if (op[0] === "power") return core.power(op[1]);
  if (op[0] === "message") return core.message(op[1], Buffer.from(op[2], "base64"));
  if (op[0] === "blob") return core.loadBlob(op[1], Buffer.from(op[2], "base64"));
  if (op[0] === "temperature") {
    core.temperature(op[1] ?? NaN);
    return 0;
  }
  if (op[0] === "device") {
    core.setDeviceId(op[1]);
    return 0;
  }
  if (op[0] === "button") return core.button(op[1] ? "down" : "up", op[2]);
  const [, name, kg, order, corner] = op;
  switch (name) {
    case "tare": return x.cmd_tare();
    case "clear_tare": return x.cmd_clear_tare();
    case "zero": return x.cmd_zero();
    case "calibrate": return x.cal_span(kg);
    case "cal_point": return x.cal_add_point(kg);
    case "cal_clear": return x.cal_clear_points();
    case "cal_fit": return x.cal_fit(order);
    case "trim_empty": return x.cmd_trim_empty();
    case "trim_corner": return x.cmd_trim_corner(corner);
    case "trim_clear": return x.cmd_trim_clear();
    default: throw new RecordingError(`unknown command ${name} in the recording`);
  }
}
