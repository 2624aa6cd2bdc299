// Receiving a calibration module over MQTT (abi.json calibration_module.transfer): begin with the
// package's size and SHA-256, chunks at explicit offsets, end; or rollback. The transfer survives
// a disconnect: a begin with the same SHA-256 answers the offset to go on from. Every step
// answers (through `answer`) with accepted or rejected and a reason.
import { createHash } from "node:crypto";
import { z } from "zod";
import { abi } from "../../abi.js";
import type { ModuleEvent, ModuleManager } from "./manager.js";

const contract = abi.calibration_module;
const MAX_PACKAGE = contract.package.maxWasmBytes + contract.package.maxManifestBytes + 1024;

const beginSchema = z.object({
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"),
}).strict();

export interface TransferAnswer {
  cmd: "module";
  step: string;
  status: "accepted" | "rejected";
  reason?: string;
  detail: string;
  offset?: number;
  /** In begin's answer: the largest chunk this scale takes (the ESP32's MQTT buffer is smaller). */
  chunk?: number;
  module?: { name: string; version: string };
}

export function answerOf(e: ModuleEvent): TransferAnswer {
  return { cmd: "module", ...e };
}

/** One line for a person: the step, its verdict and why. */
export function describeAnswer(e: ModuleEvent | TransferAnswer): string {
  const what = e.module ? `${e.module.name} ${e.module.version}: ` : "";
  return `${e.step} ${e.status}${e.reason ? ` (${e.reason})` : ""}: ${what}${e.detail}`;
}

export class ModuleTransfer {
  private inflight: { sha256: string; size: number; bytes: Buffer; received: number } | null = null;

  /** chunkBytes: the largest chunk taken (the ABI's by default; a device with a smaller buffer takes less). */
  constructor(
    private readonly manager: ModuleManager,
    private readonly answer: (a: TransferAnswer) => void,
    private readonly chunkBytes = contract.transfer.chunkBytes,
  ) {}

  private reply(step: string, status: "accepted" | "rejected", detail: string, extra: Partial<TransferAnswer> = {}): void {
    this.answer({ cmd: "module", step, status, detail, ...extra });
  }

  private refuse(step: string, reason: string, detail: string, extra: Partial<TransferAnswer> = {}): void {
    this.reply(step, "rejected", detail, { reason, ...extra });
  }

  /** A message on the module topic; `sub` is what follows it ("begin", "chunk/4096", "end", "rollback"). */
  handle(sub: string, payload: Uint8Array): void {
    const [step, arg, ...rest] = sub.split("/");
    if (step === "begin" && arg === undefined) return this.begin(payload);
    if (step === "chunk" && arg !== undefined && rest.length === 0) return this.chunk(arg, payload);
    if (step === "end" && arg === undefined) return this.end();
    if (step === "rollback" && arg === undefined) {
      this.manager.rollback("requested over MQTT");
      return;
    }
    this.refuse(step || sub, "BAD_PACKAGE", `no module step "${sub}": begin, chunk/<offset>, end or rollback`);
  }

  private begin(payload: Uint8Array): void {
    let msg: z.infer<typeof beginSchema>;
    try {
      msg = beginSchema.parse(JSON.parse(Buffer.from(payload).toString("utf8")));
    } catch (e) {
      const detail = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".") || "begin"}: ${i.message}`).join("; ") : `not JSON: ${(e as Error).message}`;
      return this.refuse("begin", "BAD_PACKAGE", `begin needs {"size": bytes, "sha256": hex}: ${detail}`);
    }
    if (msg.size > MAX_PACKAGE) return this.refuse("begin", "TOO_LARGE", `a package of ${msg.size} bytes; at most ${MAX_PACKAGE}`);
    const same = this.inflight && this.inflight.sha256 === msg.sha256 && this.inflight.size === msg.size;
    if (!same) this.inflight = { sha256: msg.sha256, size: msg.size, bytes: Buffer.alloc(msg.size), received: 0 };
    const offset = this.inflight!.received;
    this.reply("begin", "accepted", same ? `resuming at byte ${offset} of ${msg.size}` : `ready for ${msg.size} bytes`, { offset, chunk: this.chunkBytes });
  }

  private chunk(at: string, payload: Uint8Array): void {
    const t = this.inflight;
    if (!t) return this.refuse("chunk", "NO_TRANSFER", "no transfer begun (send begin first)");
    const offset = /^\d{1,9}$/.test(at) ? Number(at) : -1;
    if (offset !== t.received) return this.refuse("chunk", "BAD_OFFSET", `expected offset ${t.received}, got ${at}`, { offset: t.received });
    if (payload.length === 0 || payload.length > this.chunkBytes) {
      return this.refuse("chunk", "TOO_LARGE", `a chunk carries 1..${this.chunkBytes} bytes, this one ${payload.length}`, { offset: t.received });
    }
    if (offset + payload.length > t.size) return this.refuse("chunk", "TOO_LARGE", `the chunk runs past the announced ${t.size} bytes`, { offset: t.received });
    t.bytes.set(payload, offset);
    t.received += payload.length;
    this.reply("chunk", "accepted", `${t.received} of ${t.size} bytes`, { offset: t.received });
  }

  private end(): void {
    const t = this.inflight;
    if (!t) return this.refuse("end", "NO_TRANSFER", "no transfer begun (send begin first)");
    if (t.received < t.size) return this.refuse("end", "TRUNCATED", `only ${t.received} of ${t.size} bytes arrived; resume with begin`, { offset: t.received });
    this.inflight = null;
    if (createHash("sha256").update(t.bytes).digest("hex") !== t.sha256) {
      return this.refuse("end", "BAD_HASH", "the package received does not have the SHA-256 announced in begin");
    }
    this.manager.install(t.bytes); // answers through the manager's events
  }
}
