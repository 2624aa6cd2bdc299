// Directories made as the CLI needs them. Node 20's mkdirSync({ recursive: true }) loops for ever,
// ignoring signals, under a path it can never create (/proc/x): each missing level is made here on
// its own, so such a path fails at once with the system's reason.
import { chmodSync, closeSync, constants, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Makes `dir` and whatever of its parents is missing; with `mode`, the folders it makes get that mode (not umask's). */
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
  if (mode !== undefined) for (const d of missing) chmodSync(d, mode);
}

/**
 * Writes a secret (a private key, an access key) readable by its owner only, whatever was there:
 * through a new file (O_EXCL, O_NOFOLLOW, mode 600) renamed over `path`, so a symbolic link at
 * `path` is replaced, never written through, and an old file's wider mode goes with it.
 */
export function writeSecret(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    writeSync(fd, bytes, 0, bytes.length);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/**
 * An existing secret made private again: a symbolic link is refused (whoever planted it could read
 * what is written through it); a file readable by others is made 600. False when there is none.
 */
export function keepSecret(path: string): boolean {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (st.isSymbolicLink()) {
    const e = new Error(`${path} is a symbolic link: a secret is kept in a plain file`) as NodeJS.ErrnoException;
    e.code = "ELOOP";
    throw e;
  }
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  return true;
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
