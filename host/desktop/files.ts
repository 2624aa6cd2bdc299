// Directories made as the CLI needs them. Node 20's mkdirSync({ recursive: true }) loops for ever,
// ignoring signals, under a path it can never create (/proc/x): each missing level is made here on
// its own, so such a path fails at once with the system's reason.
import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Makes `dir` and whatever of its parents is missing; with `mode`, `dir` ends with that mode (kept private if asked). */
export function makeDirs(dir: string, mode?: number): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) mkdirSync(d, mode === undefined ? undefined : { mode });
  if (!statSync(dir).isDirectory()) {
    const e = new Error(`${dir} is not a directory`) as NodeJS.ErrnoException;
    e.code = "ENOTDIR";
    e.path = dir;
    e.syscall = "mkdir";
    throw e;
  }
  if (mode !== undefined) chmodSync(dir, mode);
}

/** What a system call's error means to a person ("no such file or directory"), from its code. */
const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory", EACCES: "permission denied", EPERM: "not permitted", EROFS: "read-only file system",
  ENOTDIR: "not a directory", EISDIR: "is a directory", ENOSPC: "no space left", EEXIST: "already exists",
};

export function systemReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  return (code && REASONS[code]) ?? (e as Error)?.message ?? String(e);
}
