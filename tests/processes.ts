// Helpers for tests that run `wasm-scale` as a user does, as a real process, and watch a broker.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { MqttClient } from "mqtt";

export const bin = fileURLToPath(new URL("../bin/wasm-scale.js", import.meta.url));

/** A running program whose output can be awaited line by line (stdin: a pipe the test holds, or none). */
export class Watched {
  readonly child: ChildProcess;
  out = "";
  err = "";
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(command: string, args: string[], stdin: "pipe" | "ignore" = "ignore") {
    this.child = spawn(command, args, { stdio: [stdin, "pipe", "pipe"] });
    this.child.stdout!.on("data", (d) => { this.out += d; this.wake(); });
    this.child.stderr!.on("data", (d) => { this.err += d; this.wake(); });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => { this.wake(); resolve(code); }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until stdout matches (or the process exits, which fails the wait). */
  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const m = this.out.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before ${pattern}:\n${this.out}\n${this.err}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

/** A running `wasm-scale`. */
export class Cli extends Watched {
  constructor(args: string[]) {
    super(process.execPath, [bin, ...args]);
  }
}

/** Messages on a topic, awaited by predicate. */
export function inbox(client: MqttClient) {
  const got: Array<{ topic: string; text: string }> = [];
  let wake: (() => void) | null = null;
  client.on("message", (topic, payload) => { got.push({ topic, text: payload.toString() }); wake?.(); });
  return {
    got,
    async until<T>(find: () => T | undefined): Promise<T> {
      for (;;) {
        const v = find();
        if (v !== undefined) return v;
        await new Promise<void>((resolve) => { wake = resolve; });
      }
    },
  };
}

