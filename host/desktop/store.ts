// Persistent key-value bytes for the desktop host, the counterpart of NVS on the ESP32: one JSON
// file, replaced atomically on every write so a crash never leaves half a file.
import { readFileSync, mkdirSync, renameSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import writeFileAtomic from "write-file-atomic";

interface StoreFile {
  format: "wasm-scale-store";
  version: 1;
  entries: Record<string, string>;
}

export class StoreError extends Error {}

export class FileStore {
  private entries: Record<string, string> = {};
  /** Set when the file existed but could not be read; it is moved aside, never overwritten. */
  readonly recovered: string | null = null;

  constructor(readonly path: string) {
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

  get(key: string): Uint8Array | undefined {
    const v = this.entries[key];
    return v === undefined ? undefined : new Uint8Array(Buffer.from(v, "base64"));
  }

  set(key: string, value: Uint8Array): void {
    this.entries[key] = Buffer.from(value).toString("base64");
    mkdirSync(dirname(this.path), { recursive: true });
    const file: StoreFile = { format: "wasm-scale-store", version: 1, entries: this.entries };
    writeFileAtomic.sync(this.path, JSON.stringify(file, null, 2) + "\n");
  }
}
