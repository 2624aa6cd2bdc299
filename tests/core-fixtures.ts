// What the core update tests share (the desktop's core-update.test.ts, the ESP32 harness's and the
// Pico W host's): core packages of the built cores, signed with the module test keys, a core that
// traps once it has sampled a number of times (the release core with its scale_sample wrapped, in
// WAT compiled by wabt), and the packages a scale must refuse with their reasons.
import { readFileSync } from "node:fs";
import wabtInit from "wabt";
import { encodePackage, signPackage, decodePackage, sha256, type CoreManifest } from "../host/desktop/modules/package.js";
import { describeCore } from "../host/desktop/modules/core-package.js";
import { trusted, stranger, signedExample } from "./module-fixtures.js";

const wabt = await wabtInit();
export const RELEASE = new URL("../build/release.wasm", import.meta.url);
/** The running scale's core (the firmware's own), and a rebuilt one: its scale_sample wrapped in a
 * counter that never reaches its limit (other code, the same ABI and state stream). */
export const release = () => readFileSync(RELEASE);
export const rebuilt = () => trappingCore(2_000_000_000);
export const STATE = (await describeCore(release())).state;
/** The release the firmware's own core is (assembly/version.ts). */
export const OWN_VERSION = "0.2.0";

/** A core package with a hand-written manifest (changes applied), signed by `key` (null: unsigned). */
export function corePackage(wasm: Uint8Array, version: string, change: Partial<CoreManifest> = {}, key = trusted.priv as typeof trusted.priv | null): Buffer {
  const manifest = { format: "wasm-scale-core", name: "wasm-scale", version, abi: 6, state: STATE, size: wasm.length, sha256: sha256(wasm), ...change };
  const bare = encodePackage(Buffer.from(JSON.stringify(manifest)), Buffer.alloc(0), wasm);
  return key ? signPackage(decodePackage(bare), key) : bare;
}

/** The release core whose scale_sample traps after `samples` calls of the instance (or, `spin`,
 * loops for ever: an engine that bounds calls ends it past its budget). */
export function trappingCore(samples: number, spin = false): Uint8Array {
  const text = readFileSync(new URL("../build/release.wat", import.meta.url), "utf8");
  const m = /\(export "scale_sample" \(func (\$[^)]+)\)\)/.exec(text);
  if (!m) throw new Error("release.wat exports no scale_sample");
  const wrapper = `
 (global $trial_calls (mut i32) (i32.const 0))
 (func $trial_sample (param $t i32) (result i32)
  (global.set $trial_calls (i32.add (global.get $trial_calls) (i32.const 1)))
  (if (i32.gt_s (global.get $trial_calls) (i32.const ${samples})) (then ${spin ? "(loop $spin (br $spin))" : "(unreachable)"}))
  (call ${m[1]} (local.get $t)))
 (export "scale_sample" (func $trial_sample))`;
  const patched = text.replace(m[0], "").replace(/\)\s*$/, `${wrapper}\n)`);
  const features = { mutable_globals: true, sign_extension: true, sat_float_to_int: true, bulk_memory: true };
  return new Uint8Array(wabt.parseWat("trapping.wat", patched, features).toBinary({}).buffer);
}

/** A core that imports what no host provides. */
export function foreignCore(): Uint8Array {
  const text = readFileSync(new URL("../build/release.wat", import.meta.url), "utf8");
  const patched = text.replace(/\(import /, `(import "env" "seconds" (func $foreign (result i32)))\n (import `);
  const features = { mutable_globals: true, sign_extension: true, sat_float_to_int: true, bulk_memory: true };
  return new Uint8Array(wabt.parseWat("foreign.wat", patched, features).toBinary({}).buffer);
}

/** Core packages a scale must refuse, with the reason: [what, package, reason]. */
export function refusedCores(): Array<[string, Uint8Array, string]> {
  const good = corePackage(rebuilt(), "0.2.1");
  const damaged = Buffer.from(good);
  damaged[damaged.length - 100] ^= 0x40;
  const tampered = Buffer.from(good.toString("latin1").replace('"version": "0.2.1"', '"version": "0.2.9"'), "latin1");
  return [
    ["truncated", good.subarray(0, good.length - 500), "TRUNCATED"],
    ["damaged (a flipped bit in the core)", damaged, "BAD_HASH"],
    ["a manifest changed after signing", tampered, "BAD_SIGNATURE"],
    ["unsigned", corePackage(rebuilt(), "0.2.1", {}, null), "UNSIGNED"],
    ["signed by a key the scale does not trust", corePackage(rebuilt(), "0.2.1", {}, stranger.priv), "UNTRUSTED_KEY"],
    ["a downgrade", corePackage(rebuilt(), "0.1.9"), "DOWNGRADE"],
    ["the version in force again", corePackage(rebuilt(), OWN_VERSION), "DOWNGRADE"],
    ["for another core ABI", corePackage(rebuilt(), "0.2.1", { abi: 5 }), "WRONG_ABI"],
    ["a core importing what this firmware does not provide", corePackage(foreignCore(), "0.2.1"), "FORBIDDEN_IMPORT"],
    ["a calibration module's .wasm as a core", corePackage(readFileSync(new URL("../build/modules/table.wasm", import.meta.url)), "0.2.1"), "BAD_MODULE"],
    ["a calibration module package on the core topic", signedExample("table"), "BAD_PACKAGE"],
  ];
}
