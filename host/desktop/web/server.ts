// The live web view of `npm start`: a page on localhost showing the weight, a rolling chart, the
// flags, faults and every command's answer, with buttons that send commands. A button's command
// takes the MQTT path: the same payload, handed to the core by the device as if it came from the
// broker, so its result is also published on the result topic and what it changed is saved first.
//
// Access: it listens on 127.0.0.1 only, answers only requests addressed to localhost (a DNS
// rebinding page cannot reach it), and, like the embedded broker that admits only holders of the
// local CA's certificates, it admits only holders of a key kept beside those certificates (mode
// 600). The URL it prints carries the key once; the page then holds it in a strict, HTTP-only
// cookie. Commands must be JSON from the page's own origin, and the page cannot be framed.
import { keepSecret, makeDirs, writeSecret } from "../files.js";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { ServerResponse } from "node:http";
import { abi, code, codeName } from "../../abi.js";
import { flagNames, settingShown, type Reading } from "../core.js";
import type { Device } from "../device.js";
import { printable } from "../terminal.js";

/** How much of the past a page that opens is shown. */
export const HISTORY_S = 300;
/** Entries of the command and fault log a page that opens is shown. */
const LOG_MAX = 200;
/** Longest command a page may send (the core's own limit is lower; it answers TOO_LONG). */
const BODY_MAX = 1024;

const page = (name: string) => fileURLToPath(new URL(`./page/${name}`, import.meta.url));
const uplot = dirname(createRequire(import.meta.url).resolve("uplot/package.json"));
const ASSETS: Record<string, [string, string]> = {
  "/app.js": [page("app.js"), "text/javascript; charset=utf-8"],
  "/style.css": [page("style.css"), "text/css; charset=utf-8"],
  "/uplot.js": [join(uplot, "dist", "uPlot.iife.min.js"), "text/javascript; charset=utf-8"],
  "/uplot.css": [join(uplot, "dist", "uPlot.min.css"), "text/css; charset=utf-8"],
};

/** A reading as the page gets it. */
export interface WebReading {
  /** Virtual seconds since start. */
  t: number;
  seq: number;
  kg: number | null;
  gross: number | null;
  raw: number;
  flags: string[];
  fault: string | null;
  chip: number;
  /** Pieces on the platform while counting (PIECE_KG set), else null. */
  count: number | null;
}

export interface LogEntry {
  t: number;
  kind: "command" | "fault" | "note";
  source?: "web" | "mqtt" | "scenario" | "button";
  text: string;
  ok: boolean;
}

export interface WebViewOptions {
  device: Device;
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  /** The access key (see webKey). */
  key: string;
  /** What the page's title line says: scenario, engine, device id. */
  about: { scenario: string; engine: string; deviceId: string };
  /** The MQTT link's state, when there is one. */
  link?: () => { connected: boolean; pending: number; dropped: number };
}

/** The web view's access key, kept in `dir` (beside the broker's certificates): made once, then reused. */
export function webKey(dir: string): string {
  const file = join(dir, "web-key");
  makeDirs(dir, 0o700);
  if (keepSecret(file)) {
    const key = readFileSync(file, "utf8").trim();
    if (/^[A-Za-z0-9_-]{22,}$/.test(key)) return key;
  }
  const key = randomBytes(18).toString("base64url");
  writeSecret(file, key + "\n");
  return key;
}

export class WebView {
  private readonly app: FastifyInstance;
  private readonly clients = new Set<ServerResponse>();
  private readonly history: WebReading[] = [];
  private readonly log: LogEntry[] = [];
  private lastFault: string | null = null;
  private port = 0;

  constructor(private readonly o: WebViewOptions) {
    this.app = Fastify({ bodyLimit: BODY_MAX });
    // Only JSON bodies: a form or text/plain post (which any web page may send) is refused.
    this.app.removeContentTypeParser("text/plain");
    this.app.addHook("onRequest", async (req, reply) => {
      reply.headers({
        "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
      });
      if (!this.ourHost(req.headers.host)) return reply.code(421).type("text/plain").send("this page answers only on localhost\n");
    });
    this.app.get("/", (req, reply) => this.index(req, reply));
    for (const [path, [file, type]] of Object.entries(ASSETS)) {
      this.app.get(path, (_req, reply) => reply.type(type).send(readFileSync(file)));
    }
    this.app.get("/events", (req, reply) => this.events(req, reply));
    this.app.post("/command", (req, reply) => this.post(req, reply));
  }

  /** Starts listening; returns the URL to print (it carries the key). */
  async start(): Promise<string> {
    await this.app.listen({ host: "127.0.0.1", port: this.o.port });
    const address = this.app.server.address();
    this.port = typeof address === "object" && address ? address.port : this.o.port;
    return `http://localhost:${this.port}/?key=${this.o.key}`;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.end();
    this.clients.clear();
    await this.app.close();
  }

  private get cookieName(): string {
    return `wasm-scale-${this.port}`;
  }

  private ourHost(host: string | undefined): boolean {
    return ["localhost", "127.0.0.1", "[::1]"].some((h) => host === `${h}:${this.port}`);
  }

  private sameKey(given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.o.key);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private admitted(req: FastifyRequest): boolean {
    const cookies = req.headers.cookie ?? "";
    const m = new RegExp(`(?:^|;\\s*)${this.cookieName}=([^;]*)`).exec(cookies);
    return this.sameKey(m?.[1]);
  }

  private index(req: FastifyRequest, reply: FastifyReply) {
    const key = (req.query as Record<string, string | undefined>).key;
    if (key !== undefined) {
      if (!this.sameKey(key)) return reply.code(403).type("text/plain").send("wrong key: open the URL npm start printed\n");
      // The key leaves the address bar (and the history) at once.
      reply.header("set-cookie", `${this.cookieName}=${this.o.key}; HttpOnly; SameSite=Strict; Path=/`);
      return reply.redirect("/", 303);
    }
    if (!this.admitted(req)) {
      return reply.code(401).type("text/plain").send("this scale's page needs its key: open the URL npm start printed (http://localhost:PORT/?key=...)\n");
    }
    return reply.type("text/html; charset=utf-8").send(readFileSync(page("index.html")));
  }

  private events(req: FastifyRequest, reply: FastifyReply) {
    if (!this.admitted(req)) return reply.code(401).send({ error: "no key" });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    this.clients.add(res);
    res.on("close", () => this.clients.delete(res));
    this.send(res, "hello", {
      about: this.o.about, historyS: HISTORY_S, settings: this.settings(), history: this.history, log: this.log,
      link: this.o.link?.() ?? null, flags: abi.codes.flag,
    });
  }

  private async post(req: FastifyRequest, reply: FastifyReply) {
    if (!this.admitted(req)) return reply.code(401).send({ error: "no key" });
    const origin = req.headers.origin;
    if (origin !== undefined && !["localhost", "127.0.0.1", "[::1]"].some((h) => origin === `http://${h}:${this.port}`)) {
      return reply.code(403).send({ error: "commands are taken from this page only" });
    }
    const body = req.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return reply.code(400).send({ error: "a command is one JSON object" });
    const core = this.o.device.scale.core;
    const result = this.o.device.receive(core.topic("CMD"), Buffer.from(JSON.stringify(body)), "web");
    return { status: result >= 0 ? "accepted" : "rejected", reason: result < 0 ? codeName("error", result) ?? String(result) : undefined };
  }

  private settings() {
    const core = this.o.device.scale.core;
    return Object.entries(abi.codes.config).map(([name, c]) => ({ name, value: settingShown(core.get(name)), min: c.min, max: c.max, doc: c.doc }));
  }

  private send(res: ServerResponse, event: string, data: unknown): void {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcast(event: string, data: unknown): void {
    for (const c of this.clients) this.send(c, event, data);
  }

  private now(): number {
    return this.o.device.scale.nowS;
  }

  private addLog(entry: LogEntry): void {
    this.log.push(entry);
    if (this.log.length > LOG_MAX) this.log.shift();
    this.broadcast("log", entry);
  }

  /** A reading or fault report the core made. */
  reading(r: Reading): void {
    const w: WebReading = {
      t: this.now(), seq: r.seq, kg: Number.isFinite(r.kg) ? r.kg : null, gross: Number.isFinite(r.grossKg) ? r.grossKg : null,
      raw: r.raw, flags: flagNames(r.flags), fault: r.fault ? codeName("fault", r.fault) ?? String(r.fault) : null, chip: r.faultChip,
      count: r.flags & code("flag", "COUNTING") ? r.count : null,
    };
    this.history.push(w);
    while (this.history.length && this.history[0].t < w.t - HISTORY_S) this.history.shift();
    if (w.fault !== this.lastFault) {
      this.addLog(w.fault
        ? { t: w.t, kind: "fault", text: `fault ${w.fault} on chip ${w.chip}`, ok: false }
        : { t: w.t, kind: "fault", text: `fault ${this.lastFault} cleared`, ok: true });
      this.lastFault = w.fault;
    }
    this.broadcast("reading", { ...w, link: this.o.link?.() ?? null });
  }

  /** A command the core answered, from whichever source. */
  command(source: "web" | "mqtt" | "scenario" | "button", text: string, result: number): void {
    const ok = result >= 0;
    this.addLog({ t: this.now(), kind: "command", source, text: `${printable(text)}: ${ok ? "accepted" : `rejected (${codeName("error", result) ?? result})`}`, ok });
    this.broadcast("settings", this.settings());
  }

  /** A line worth showing (the link's state changes). */
  note(text: string): void {
    this.addLog({ t: this.now(), kind: "note", text: printable(text), ok: true });
  }
}
