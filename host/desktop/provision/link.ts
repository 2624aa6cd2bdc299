// One scale on a serial port: the project's line protocol (a "prov ok|err" answer to each request)
// and Improv packets, told apart in the bytes the scale sends, among its log lines.
import { SerialPort } from "serialport";
import { takePacket, type ImprovPacket } from "./improv.js";

export class ProvisionError extends Error {}

interface Waiter<T> {
  accept: (v: T) => boolean;
  resolve: (v: T) => void;
}

export class ScaleLink {
  private buf = Buffer.alloc(0);
  private lineWaiters: Waiter<string>[] = [];
  private packetWaiters: Waiter<ImprovPacket>[] = [];
  private failure: Error | null = null;
  /** Lines that were neither answers nor packets: the firmware's log. */
  readonly log: string[] = [];

  private constructor(private readonly port: SerialPort, readonly path: string) {
    port.on("data", (d: Buffer) => this.receive(d));
    port.on("error", (e: Error) => this.fail(new ProvisionError(`${path}: ${e.message}`)));
    port.on("close", () => this.fail(new ProvisionError(`${path} was closed (the scale was unplugged or restarted)`)));
  }

  static async open(path: string, baudRate = 115200): Promise<ScaleLink> {
    // hupcl off, then DTR and RTS released, as idf.py monitor does: on an ESP32 board's auto-reset
    // circuit RTS holds the chip in reset and DTR, with it, selects the bootloader.
    const port = new SerialPort({ path, baudRate, autoOpen: false, hupcl: false });
    await new Promise<void>((resolve, reject) =>
      port.open((e) => (e ? reject(new ProvisionError(`cannot open ${path}: ${e.message.replace(/^Error: /, "").replace(/, cannot open .*$/, "")}`)) : resolve())),
    );
    // A port without modem lines (a pseudo-terminal, some adapters) refuses this: nothing to release.
    await new Promise<void>((resolve) => port.set({ dtr: false, rts: false }, () => resolve()));
    return new ScaleLink(port, path);
  }

  async close(): Promise<void> {
    this.failure ??= new ProvisionError("closed");
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve) => this.port.drain(() => this.port.close(() => resolve())));
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const w of [...this.lineWaiters, ...this.packetWaiters]) (w.resolve as (v: unknown) => void)(undefined);
  }

  private receive(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const p = takePacket(this.buf);
      if (p === "wait") return;
      if (p) {
        this.buf = this.buf.subarray(p.used);
        if (p.packet) this.deliver(this.packetWaiters, p.packet);
        continue;
      }
      const nl = this.buf.indexOf(0x0a);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString("utf8").replace(/\r$/, "");
      this.buf = this.buf.subarray(nl + 1);
      if (line.startsWith("prov ")) this.deliver(this.lineWaiters, line);
      else if (line.length) this.log.push(line);
    }
  }

  private deliver<T>(waiters: Waiter<T>[], v: T): void {
    const i = waiters.findIndex((w) => w.accept(v));
    if (i < 0) return;
    const [w] = waiters.splice(i, 1);
    w.resolve(v);
  }

  private wait<T>(waiters: Waiter<T>[], accept: (v: T) => boolean, ms: number, what: string): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new ProvisionError(`no answer from the scale on ${this.path} to ${what} within ${ms / 1000} s`));
      }, ms);
      const w: Waiter<T> = {
        accept,
        resolve: (v) => {
          clearTimeout(timer);
          if (v === undefined) reject(this.failure);
          else resolve(v);
        },
      };
      waiters.push(w);
    });
  }

  private write(data: Buffer | string): void {
    this.port.write(data);
  }

  /** Sends a request (one line, or a line and the PEM lines of its value) and waits for its answer. */
  async request(text: string, ms = 10_000): Promise<{ ok: boolean; text: string }> {
    const answer = this.wait(this.lineWaiters, () => true, ms, JSON.stringify(text.split("\n")[0]));
    this.write(text.endsWith("\n") ? text : text + "\n");
    const line = await answer;
    const ok = line.startsWith("prov ok");
    return { ok, text: line.slice(ok ? 8 : 9) };
  }

  /** Sends an Improv packet and waits for the first packet the scale sends that accept takes. */
  async improv(packet: Buffer, accept: (p: ImprovPacket) => boolean, ms: number, what: string): Promise<ImprovPacket> {
    const answer = this.wait(this.packetWaiters, accept, ms, what);
    this.write(packet);
    return answer;
  }

  /** Waits for a packet the scale sends unasked (a state after an attempt). */
  next(accept: (p: ImprovPacket) => boolean, ms: number, what: string): Promise<ImprovPacket> {
    return this.wait(this.packetWaiters, accept, ms, what);
  }
}
