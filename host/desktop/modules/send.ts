// `wasm-scale module install PKG` over MQTT: sends a signed package to a running scale in chunks
// (abi.json calibration_module.transfer), each acknowledged before the next, and waits for the
// scale's verdict. A dropped connection is made again and the transfer resumes where the scale
// says it stopped.
import { createHash } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import { abi } from "../../abi.js";
import { toolClientOptions, type Connection } from "../mqtt/config.js";
import type { TransferAnswer } from "./transfer.js";

const CHUNK = abi.calibration_module.transfer.chunkBytes;

export class SendError extends Error {}

export interface SendOptions {
  /** Give up when the scale has not answered a step for this long (ms). */
  answerTimeoutMs?: number;
  onProgress?: (sent: number, total: number) => void;
  /** Called with every answer (tests watch the steps). */
  onAnswer?: (a: TransferAnswer) => void;
  /** A calibration module (the default) or a core package. */
  kind?: "module" | "core";
}

/** The tool's own client; reconnectPeriod 0: no reconnection. */
export async function connect(c: Connection, reconnectPeriod: number, name = "module"): Promise<MqttClient> {
  try {
    return await mqtt.connectAsync(c.url, toolClientOptions(c, `wasm-scale-${name}-${process.pid}`, reconnectPeriod));
  } catch (e) {
    throw new SendError(`cannot reach the broker: ${(e as Error).message}`);
  }
}

export async function sendModule(c: Connection, pkg: Uint8Array, o: SendOptions = {}): Promise<TransferAnswer> {
  const timeoutMs = o.answerTimeoutMs ?? 30_000;
  const root = `wasm-scale/${c.deviceId}`;
  const kind = o.kind ?? "module";
  const steps = `${root}/module${kind === "core" ? "/core" : ""}`;
  const client = await connect(c, 1000);
  const answers: TransferAnswer[] = [];
  let wake: (() => void) | null = null;
  let reconnected = false;
  client.on("message", (_topic, payload) => {
    let a: TransferAnswer;
    try {
      a = JSON.parse(payload.toString("utf8")) as TransferAnswer;
    } catch {
      return;
    }
    if (a.cmd !== kind) return;
    o.onAnswer?.(a);
    answers.push(a);
    wake?.();
  });
  client.on("connect", () => {
    reconnected = true; // answers of the old connection may be lost: start again from begin
    wake?.();
  });
  const next = async (steps: string[]): Promise<TransferAnswer | "reconnected"> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = answers.findIndex((a) => steps.includes(a.step));
      if (i >= 0) return answers.splice(0, i + 1).pop()!;
      if (reconnected) {
        reconnected = false;
        return "reconnected";
      }
      const left = until - Date.now();
      if (left <= 0) throw new SendError(`the scale "${c.deviceId}" did not answer ${steps.join(" or ")} within ${timeoutMs / 1000} s (is it running, and is its id right?)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => { clearTimeout(t); resolve(); };
      });
      wake = null;
    }
  };
  try {
    await client.subscribeAsync(`${root}/result`, { qos: 1 });
    const sha256 = createHash("sha256").update(pkg).digest("hex");
    const begin = JSON.stringify({ size: pkg.length, sha256, sender: client.options.clientId });
    reconnected = false;
    for (;;) {
      await client.publishAsync(`${steps}/begin`, begin, { qos: 1 });
      const started = await next(["begin"]);
      if (started === "reconnected") continue;
      if (started.status !== "accepted") return started;
      let offset = started.offset ?? 0;
      // The scale says how much it takes at once (an ESP32 1 KiB, the desktop 4 KiB).
      const chunk = Math.max(1, Math.min(CHUNK, started.chunk ?? CHUNK));
      let restart = false;
      while (offset < pkg.length) {
        await client.publishAsync(`${steps}/chunk/${offset}`, Buffer.from(pkg.subarray(offset, offset + chunk)), { qos: 1 });
        const a = await next(["chunk"]);
        if (a === "reconnected") {
          restart = true;
          break;
        }
        if (a.status !== "accepted" && a.reason !== "BAD_OFFSET") return a;
        offset = a.offset ?? offset;
        o.onProgress?.(offset, pkg.length);
      }
      if (restart) continue;
      await client.publishAsync(`${steps}/end`, "", { qos: 1 });
      const verdict = await next(["install", "end"]);
      if (verdict === "reconnected") continue;
      return verdict;
    }
  } finally {
    await client.endAsync();
  }
}

/**
 * Publishes one message on a running scale's module topic (`sub` follows "<module topic>/") and
 * collects its answers of `cmd` until `last` says one is the last; they come in order.
 */
export async function ask(c: Connection, sub: string, payload: Uint8Array | string, cmd: TransferAnswer["cmd"], last: (a: TransferAnswer) => boolean, timeoutMs = 30_000): Promise<TransferAnswer[]> {
  const root = `wasm-scale/${c.deviceId}`;
  const client = await connect(c, 0, cmd);
  const answers: TransferAnswer[] = [];
  try {
    const done = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new SendError(`the scale "${c.deviceId}" did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      client.on("message", (_topic, bytes) => {
        let a: TransferAnswer;
        try {
          a = JSON.parse(bytes.toString("utf8")) as TransferAnswer;
        } catch {
          return; // not an answer of ours
        }
        if (a.cmd !== cmd) return;
        answers.push(a);
        if (last(a)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    await client.subscribeAsync(`${root}/result`, { qos: 1 });
    await client.publishAsync(`${root}/module/${sub}`, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1 });
    await done;
    return answers;
  } finally {
    await client.endAsync();
  }
}

/** Asks a running scale to roll its calibration module (or its core) back; its answer. */
export async function requestRollback(c: Connection, timeoutMs = 30_000, kind: "module" | "core" = "module"): Promise<TransferAnswer> {
  const answers = await ask(c, kind === "core" ? "core/rollback" : "rollback", "", kind, (a) => a.step === "rollback", timeoutMs);
  return answers[answers.length - 1];
}
