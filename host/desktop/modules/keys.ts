// The keys a desktop scale trusts to sign calibration modules: the files given (--module-key, or
// moduleKeys in the broker config), else every *.pub in .wasm-scale/keys, where
// `wasm-scale module keygen` puts a new key pair.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { KeyObject } from "node:crypto";
import { readPublicKey, keyId } from "./package.js";

export const DEFAULT_KEY_DIR = join(".wasm-scale", "keys");
export const PRIVATE_KEY = "module-signing.key";
export const PUBLIC_KEY = "module-signing.pub";

export class KeyError extends Error {}

export interface TrustedKeys {
  keys: KeyObject[];
  /** Where they came from, with their ids, for the start-up message. */
  described: string[];
}

export function trustedKeys(files: string[] | undefined, dir = DEFAULT_KEY_DIR): TrustedKeys {
  const paths = files && files.length ? files : existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".pub")).sort().map((f) => join(dir, f)) : [];
  const keys = paths.map((p) => {
    let pem: Buffer;
    try {
      pem = readFileSync(p);
    } catch (e) {
      throw new KeyError(`cannot read module key ${p}: ${(e as Error).message}`);
    }
    try {
      return readPublicKey(pem, p);
    } catch (e) {
      throw new KeyError((e as Error).message);
    }
  });
  return { keys, described: keys.map((k, i) => `${paths[i]} (${keyId(k)})`) };
}
