// Recording a scale over MQTT: `wasm-scale record FILE --seconds N` asks a running scale (an
// ESP32, or `npm start`) to record, collects the binary batches its core publishes on the raw
// topic (format in assembly/raw.ts), and writes them as an ordinary recording (record.ts) that
// `replay` reads. Batches are put in order by number, duplicates (QoS 1) are dropped, and a
// recording with a hole (the device could not keep up) is written up to the hole and says so.
import mqtt, { type MqttClient } from "mqtt";
import { abi, code, codeName, COMMAND_NAMES } from "../abi.js";
import { Recorder, RecordingError, RECORDING_FORMAT, RECORDING_VERSION, type RecordingHeader, type RecordingEvent } from "./record.js";
import { toolClientOptions, type Connection } from "./mqtt/config.js";
import { describeError } from "./mqtt/link.js";

const RAW_VERSION = 2;
/** The core's commands in the order of assembly/commands.ts, as 'X' records number them. */
const COMMANDS = COMMAND_NAMES;
const FIRST = 1;
const LAST = 2;
/** How long the scale may stay silent before the recording is given up (s), by default. */
export const SILENCE_S = 30;

export interface Batch {
  flags: number;
  no: number;
  lost: number;
  records: Buffer;
}

export function parseBatch(payload: Buffer): Batch {
  if (payload.length < 12 || payload[0] !== RAW_VERSION) throw new RecordingError(`not a raw batch of version ${RAW_VERSION}`);
  const n = payload.readUInt16LE(2);
  if (12 + n !== payload.length) throw new RecordingError(`a raw batch of ${payload.length} bytes says it holds ${n} bytes of records`);
  return { flags: payload[1], no: payload.readUInt32LE(4), lost: payload.readUInt32LE(8), records: payload.subarray(12) };
}

/** What the batches held, as a recording: its header (without the source) and events. */
export interface Decoded {
  header: Omit<RecordingHeader, "source">;
  events: RecordingEvent[];
  samples: number;
  /** Records the device could not keep, in the batches that were left out. */
  lost: number;
  /** Batches kept, and received. */
  kept: number;
  received: number;
}

/** Decodes the batches of one recording (batch 0 first); stops before the first hole. */
export function decodeBatches(batches: Batch[], deviceId: string): Decoded {
  const ordered = [...batches].sort((a, b) => a.no - b.no);
  if (!ordered.length || ordered[0].no !== 0 || !(ordered[0].flags & FIRST)) throw new RecordingError("the recording's first batch is missing");
  const events: RecordingEvent[] = [["x", "device", deviceId]];
  let header: Decoded["header"] | null = null;
  let samples = 0;
  let kept = 0;
  let lost = 0;
  for (const [i, b] of ordered.entries()) {
    if (b.no !== i || b.lost > 0) {
      lost = b.lost;
      break;
    }
    kept++;
    const r = b.records;
    let p = 0;
    while (p < r.length) {
      const tag = String.fromCharCode(r[p++]);
      if (tag === "H") {
        const rate = r[p];
        const n = r[p + 1];
        p += 2;
        const chips: Array<[number, number]> = [];
        for (let k = 0; k < n; k++, p += 2) chips.push([r[p], r[p + 1]]);
        const blob = () => {
          const len = r.readUInt16LE(p);
          const b64 = r.subarray(p + 2, p + 2 + len).toString("base64");
          p += 2 + len;
          return b64;
        };
        const config = blob();
        const calibration = blob();
        if (rate !== 10 && rate !== 80) throw new RecordingError(`the recording says the chips run at ${rate} SPS`);
        header = { format: RECORDING_FORMAT, version: RECORDING_VERSION, abi: abi.version, rate, chips, config, calibration };
      } else if (tag === "S") {
        events.push(["s", r.readInt32LE(p)]);
        samples++;
        p += 4;
      } else if (tag === "W") {
        events.push(["w", r.readInt32LE(p)]);
        p += 4;
      } else if (tag === "C") {
        const n = r[p];
        const v = (k: number) => r.readUInt32LE(p + 1 + 4 * k);
        events.push(["c", Array.from({ length: 2 * n + 4 }, (_, k) => v(k))]);
        p += 1 + 4 * (2 * n + 4);
      } else if (tag === "M") {
        // What the core was given: the topic, and the payload (cut short when it did not fit the
        // core's buffer; the core refused it as too long then, and a replay does the same).
        const tn = r.readUInt16LE(p);
        const have = r.readUInt16LE(p + 4);
        const bytes = r.subarray(p + 6, p + 6 + have);
        events.push(["x", "message", bytes.subarray(0, tn).toString("utf8"), bytes.subarray(tn).toString("base64")]);
        p += 6 + have;
      } else if (tag === "P") {
        events.push(["x", "power", r[p] !== 0]);
        p += 1;
      } else if (tag === "K") {
        const name = codeName("config", r[p]);
        if (!name) throw new RecordingError(`the recording sets an unknown setting ${r[p]}`);
        events.push(["x", "set", name, r.readFloatLE(p + 1)]);
        p += 5;
      } else if (tag === "X") {
        const name = COMMANDS[r[p]];
        if (!name) throw new RecordingError(`the recording has an unknown command ${r[p]}`);
        const arg = r.readFloatLE(p + 1);
        events.push(["x", "command", name, arg, name === "cal_fit" ? arg : 1, name === "trim_corner" ? arg : 0]);
        p += 5;
      } else if (tag === "B") {
        const which = r[p] === code("blob", "CONFIG") ? "CONFIG" : "CALIBRATION";
        const n = r.readUInt16LE(p + 1);
        events.push(["x", "blob", which, r.subarray(p + 3, p + 3 + n).toString("base64")]);
        p += 3 + n;
      } else if (tag === "U") {
        events.push(["x", "button", r[p] !== 0, r.readInt32LE(p + 1)]);
        p += 5;
      } else if (tag === "E") {
        break;
      } else {
        throw new RecordingError(`unknown record ${JSON.stringify(tag)} in batch ${b.no}`);
      }
      if (p > r.length) throw new RecordingError(`batch ${b.no} ends inside a record`);
    }
  }
  if (!header) throw new RecordingError("the recording has no header");
  return { header, events, samples, lost, kept, received: ordered.length };
}

export interface DeviceRecordOptions {
  seconds: number;
  /** Seconds of silence from the scale after which the recording is given up (SILENCE_S). */
  silenceS?: number;
  /** Told how many batches have arrived, as they arrive. */
  onProgress?: (batches: number) => void;
}

/** The summary `wasm-scale record` prints. */
export interface DeviceRecordResult {
  file: string;
  samples: number;
  batches: number;
  lost: number;
  complete: boolean;
}

/** Asks the scale at `c` to record for `seconds`, and writes what it sends to `file`. */
export async function recordDevice(c: Connection, file: string, o: DeviceRecordOptions): Promise<DeviceRecordResult> {
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(c.url, toolClientOptions(c, `wasm-scale-record-${process.pid}`));
  } catch (e) {
    throw new RecordingError(`cannot reach the broker: ${describeError(e as Error)}`);
  }
  const root = `wasm-scale/${c.deviceId}`;
  const id = `record-${process.pid}-${Date.now()}`;
  const batches = new Map<number, Batch>();
  try {
    const done = new Promise<void>((resolve, reject) => {
      let silence: NodeJS.Timeout | undefined;
      const quiet = () => {
        clearTimeout(silence);
        const wait = o.silenceS ?? SILENCE_S;
        silence = setTimeout(() => reject(new RecordingError(`the scale "${c.deviceId}" sent nothing for ${wait} s (is it online, and is this its device id?)`)), wait * 1000);
      };
      quiet();
      client.on("message", (topic, payload) => {
        if (topic === `${root}/result`) {
          let r: { id?: string; status?: string; reason?: string };
          try { r = JSON.parse(payload.toString()); } catch { return; }
          if (r.id === id && r.status !== "accepted") reject(new RecordingError(`the scale refused to record: ${r.reason ?? r.status}`));
          return;
        }
        let b: Batch;
        try { b = parseBatch(payload); } catch (e) { return reject(e); }
        quiet();
        // Batches of an earlier recording may still be on their way: this one starts with the first flag.
        if (b.flags & FIRST) batches.clear();
        else if (!batches.has(0)) return;
        if (batches.has(b.no)) return; // sent again (QoS 1)
        batches.set(b.no, b);
        o.onProgress?.(batches.size);
        if (b.flags & LAST) {
          clearTimeout(silence);
          resolve();
        }
      });
    });
    await client.subscribeAsync([`${root}/raw`, `${root}/result`], { qos: 1 });
    await client.publishAsync(`${root}/cmd`, JSON.stringify({ cmd: "record", seconds: o.seconds, id }), { qos: 1 });
    await done;
  } finally {
    await client.endAsync();
  }
  const decoded = decodeBatches([...batches.values()], c.deviceId);
  const recorder = new Recorder(file);
  recorder.begin({ ...decoded.header, source: `device "${c.deviceId}" over MQTT (${c.url})` });
  for (const e of decoded.events) recorder.event(e);
  await recorder.close();
  return { file, samples: decoded.samples, batches: decoded.kept, lost: decoded.lost, complete: decoded.kept === decoded.received };
}
