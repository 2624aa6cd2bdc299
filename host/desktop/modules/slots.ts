// The two module slots on the desktop: files in a directory (the ESP32 keeps them in its `modules`
// partition). Each slot holds a package and its parameters; state.json names the active slot,
// the previous one, and whether the active one is still on trial (installed, not yet confirmed by
// enough good readings). Every file is replaced atomically, so a crash leaves the old or the new.
import { makeDirs } from "../files.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import { z } from "zod";

export type SlotName = "a" | "b";

/** The slots beside a store file (npm start keeps them there). */
export function slotsDir(store: string): string {
  return join(dirname(store), "modules");
}

const stateSchema = z.object({
  format: z.literal("wasm-scale-module-slots"),
  active: z.enum(["a", "b"]).nullable(),
  previous: z.enum(["a", "b"]).nullable(),
  trial: z.boolean(),
}).strict();
export type SlotState = z.infer<typeof stateSchema>;

const EMPTY: SlotState = { format: "wasm-scale-module-slots", active: null, previous: null, trial: false };

export class ModuleSlots {
  /** Set when state.json existed but could not be read (the slots then start empty). */
  readonly recovered: string | null = null;
  private current: SlotState = { ...EMPTY };

  constructor(readonly dir: string) {
    const file = join(dir, "state.json");
    if (!existsSync(file)) return;
    try {
      this.current = stateSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    } catch (e) {
      this.recovered = `${file} was unreadable (${(e as Error).message}): starting with the built-in calibration`;
    }
  }

  get state(): SlotState {
    return { ...this.current };
  }

  setState(next: Omit<SlotState, "format">): void {
    this.current = { format: "wasm-scale-module-slots", ...next };
    this.write("state.json", Buffer.from(JSON.stringify(this.current, null, 2) + "\n"));
  }

  /** The slot a new module goes to: never the active one. */
  spare(): SlotName {
    return this.current.active === "a" ? "b" : "a";
  }

  package(slot: SlotName): Buffer | null {
    return this.read(`${slot}.module`);
  }

  params(slot: SlotName): Buffer | null {
    return this.read(`${slot}.params`);
  }

  putPackage(slot: SlotName, bytes: Uint8Array): void {
    this.write(`${slot}.module`, bytes);
  }

  putParams(slot: SlotName, bytes: Uint8Array): void {
    this.write(`${slot}.params`, bytes);
  }

  private read(name: string): Buffer | null {
    const file = join(this.dir, name);
    return existsSync(file) ? readFileSync(file) : null;
  }

  private write(name: string, bytes: Uint8Array): void {
    makeDirs(this.dir);
    writeFileAtomic.sync(join(this.dir, name), Buffer.from(bytes));
  }
}
