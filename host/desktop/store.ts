// Persistent key-value bytes for the desktop host, the counterpart of NVS on the ESP32: one JSON
// file, replaced atomically on every write so a crash never leaves half a file.
import { makeDirs } from "./files.js";
import { readFileSync, renameSync, existsSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import writeFileAtomic from "write-file-atomic";
import lockfile from "proper-lockfile";

interface StoreFile {
  format: "wasm-scale-store";
  version: 1;
  entries: Record<string, string>;
}

export class StoreError extends Error {}

/** A lock older than this, not refreshed, was left by a process that died (kill -9, a crash). */
const LOCK_STALE_MS = 10_000;

export class FileStore {
  private entries: Record<string, string> = {};
  /** Set when the file existed but could not be read; it is moved aside, never overwritten. */
  readonly recovered: string | null = null;

  /** Opens the store at path; with onLockLost, locked for this process first (see lock). */
  constructor(readonly path: string, onLockLost?: (e: Error) => void) {
    if (onLockLost) this.lock(onLockLost);
    if (!existsSync(path)) return;
    try {
      const data = JSON.parse(readFileSync(path, "utf8")) as StoreFile;
      if (data.format !== "wasm-scale-store" || data.version !== 1 || typeof data.entries !== "object" || data.entries === null) {
        throw new StoreError("unknown format");
      }
      for (const [k, v] of Object.entries(data.entries)) {
        if (typeof v !== "string") throw new StoreError(`entry ${k} is not base64 text`);
      }
      this.entries = data.entries;
    } catch (e) {
      const aside = `${path}.corrupt-${Date.now()}`;
      renameSync(path, aside);
      this.recovered = `${path} was unreadable (${(e as Error).message}); moved to ${aside}`;
    }
  }

  private unlock: (() => void) | null = null;

  /**
   * Takes the store for this process: a second wasm-scale on the same store is refused, so two
   * never write the same file. The lock is a directory beside the file, refreshed while held.
   */
  private lock(onLost: (e: Error) => void): void {
    makeDirs(dirname(this.path));
    try {
      this.unlock = lockfile.lockSync(this.path, { realpath: false, stale: LOCK_STALE_MS, onCompromised: onLost });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw new StoreError(`cannot lock ${this.path}: ${(e as Error).message}`);
      throw new StoreError(`${this.path} is in use by another wasm-scale (if none is running, a crashed one's lock frees itself within ${LOCK_STALE_MS / 1000} s; or pass --store FILE)`);
    }
  }

  release(): void {
    this.unlock?.();
    this.unlock = null;
  }

  get(key: string): Uint8Array | undefined {
    const v = this.entries[key];
    return v === undefined ? undefined : new Uint8Array(Buffer.from(v, "base64"));
  }

  set(key: string, value: Uint8Array): void {
    this.entries[key] = Buffer.from(value).toString("base64");
    this.write();
  }

  delete(key: string): void {
    if (!(key in this.entries)) return;
    delete this.entries[key];
    this.write();
  }

  /**
   * Copies an entry the core refused (a damaged or foreign blob) to a file of its own beside the
   * store, before the next save replaces it: `<store>.<key>-refused-<ms>.bin`. Returns its path.
   */
  keepCopy(key: string): string | null {
    const v = this.entries[key];
    if (v === undefined) return null;
    const copy = `${this.path}.${key.toLowerCase()}-refused-${Date.now()}.bin`;
    writeFileSync(copy, Buffer.from(v, "base64"), { mode: 0o600, flag: "wx" });
    return copy;
  }

  private write(): void {
    makeDirs(dirname(this.path));
    const file: StoreFile = { format: "wasm-scale-store", version: 1, entries: this.entries };
    writeFileAtomic.sync(this.path, JSON.stringify(file, null, 2) + "\n");
  }
}
