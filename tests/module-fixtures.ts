// What the calibration module tests share: the example modules as npm run asbuild built them,
// signing keys made for the run, and hostile modules written in WAT (compiled by wabt) with
// hand-written, signed manifests, for the desktop host (modules.test.ts) and the firmware's C
// (firmware-modules.test.ts).
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import wabtInit from "wabt";
import { packageModule } from "../host/desktop/modules/build.js";
import { encodePackage, signPackage, decodePackage, generateSigningKey, sha256, type Manifest } from "../host/desktop/modules/package.js";

const wabt = await wabtInit();
export const EXAMPLES = new URL("../build/modules/", import.meta.url);
export const example = (name: string) => readFileSync(new URL(`${name}.wasm`, EXAMPLES));
export const spec = (name: string) => readFileSync(new URL(`../modules/${name}/module.json`, import.meta.url), "utf8");

export function keyPair(): { priv: KeyObject; pub: KeyObject } {
  const k = generateSigningKey();
  return { priv: createPrivateKey(k.privatePem), pub: createPublicKey(k.publicPem) };
}
export const trusted = keyPair();
export const stranger = keyPair();

/** An example module built and signed as `module build` and `module sign` do. */
export function signedExample(name: string, key = trusted.priv): Buffer {
  return signPackage(decodePackage(packageModule(example(name), spec(name), name).bytes), key);
}

/** A hand-written module (WAT) of the module ABI; `body` runs first in cal_eval, `$n` counts calls. */
export function wat(o: { body?: string; memory?: string; abi?: number; extra?: string; slope?: number; layout?: string; version?: number } = {}): Uint8Array {
  const text = `(module ${o.extra ?? ""}
    (memory (export "memory") ${o.memory ?? "1 1"})
    ${o.layout ?? '(global (export "__data_end") i32 (i32.const 4096)) (global (export "__heap_base") i32 (i32.const 4096))'}
    (global $n (mut i32) (i32.const 0))
    (data (i32.const 16) "hostile\\00")
    (func (export "cal_abi") (result i32) (i32.const ${o.abi ?? 1}))
    (func (export "cal_name") (result i32) (i32.const 16))
    (func (export "cal_version") (result i32) (i32.const ${o.version ?? 0x010000}))
    (func (export "cal_points") (result i32) (i32.const 1024))
    (func (export "cal_params") (result i32) (i32.const 2048))
    (func (export "cal_params_save") (result i32)
      (i32.store (i32.const 2048) (i32.const 1)) (i32.store (i32.const 2052) (i32.const 0)) (i32.const 8))
    (func (export "cal_params_load") (param i32) (result i32) (i32.const 0))
    (func (export "cal_fit") (param i32 i32) (result i32) (i32.const 0))
    (func (export "cal_eval") (param $x f64) (param f64 f64 f64 f64 f64) (result f64)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      ${o.body ?? ""}
      (f64.mul (local.get $x) (f64.const ${o.slope ?? 1.1641532182693481e-5}))))`;
  return wabt.parseWat("hostile.wat", text).toBinary({}).buffer;
}

/** After `calls` evaluations (past the vectors and the sweep), `then` runs. */
export const later = (then: string, calls = 1500) => `(if (i32.gt_s (global.get $n) (i32.const ${calls})) (then ${then}))`;

/** A package with a manifest written by hand (for modules `module build` would refuse), signed. */
export function handPacked(wasm: Uint8Array, change: Partial<Manifest> = {}, key = trusted.priv): Buffer {
  const manifest: Manifest = {
    format: "wasm-scale-module", name: "hostile", version: "1.0.0", abi: 1, size: wasm.length, sha256: sha256(wasm),
    params: [], vectors: [{ x: 0, chips: [], temp: null, kg: 0 }], tolerance: 0, ...change,
  };
  return signPackage(decodePackage(encodePackage(Buffer.from(JSON.stringify(manifest)), Buffer.alloc(0), wasm)), key);
}


/** Packages a scale must refuse, with the reason it must give: [what, package, reason]. */
export function refusedPackages(): Array<[string, Uint8Array, string]> {
  const good = signedExample("table");
  const unsigned = packageModule(example("table"), spec("table"), "table").bytes;
  const badSignature = Buffer.from(good);
  badSignature[badSignature.length - example("table").length - 10] ^= 0xff; // inside the DER signature
  const tamperedWasm = Buffer.from(good);
  tamperedWasm[tamperedWasm.length - 20] ^= 0x01;
  return [
    ["unsigned", unsigned, "UNSIGNED"],
    ["signed by a key the scale does not trust", signedExample("table", stranger.priv), "UNTRUSTED_KEY"],
    ["a signature that does not verify", badSignature, "BAD_SIGNATURE"],
    ["a module changed after signing", tamperedWasm, "BAD_HASH"],
    ["a truncated package", good.subarray(0, good.length - 100), "TRUNCATED"],
    ["not a package", Buffer.from("hello"), "BAD_PACKAGE"],
    ["a module that imports", handPacked(wat({ extra: '(import "env" "now" (func))' })), "FORBIDDEN_IMPORT"],
    ["a module whose memory may grow without limit", handPacked(wat({ memory: "1" })), "MEMORY"],
    ["a module whose memory may grow to 4 pages", handPacked(wat({ memory: "1 4" })), "MEMORY"],
    ["a module that would get a whole page on the ESP32", handPacked(wat({ layout: "" })), "MEMORY"],
    ["a module that grows its memory", handPacked(wat({ body: "(drop (memory.grow (i32.const 1)))" })), "MEMORY"],
    ["a module with a start function", handPacked(wat({ extra: "(func $s) (start $s)" })), "BAD_MODULE"],
    ["a module whose state WAMR would take for a stack pointer", handPacked(wat({ extra: "(global $g (mut i32) (i32.const 5)) (func (export \"g\") (result i32) (global.get $g))", layout: '(global (export "__data_end") i32 (i32.const 4096)) (global (export "__heap_base") i32 (i32.const 4096))' })), "BAD_MODULE"],
    ["a module using SIMD", handPacked(wat({ body: "(drop (v128.const i32x4 0 0 0 0))" })), "BAD_MODULE"],
    ["a module built for another module ABI", handPacked(wat({ abi: 2 })), "WRONG_ABI"],
    ["a manifest for another module ABI", handPacked(wat(), { abi: 2 }), "WRONG_ABI"],
    ["a module that traps at once", handPacked(wat({ body: "unreachable" })), "TRAPPED"],
    ["a module that loops for ever", handPacked(wat({ body: "(loop $l (br $l))" })), "BUDGET"],
    ["a module that weighs NaN", handPacked(wat({ body: "(return (f64.const nan))" })), "NOT_FINITE"],
    ["a module whose vectors fail", handPacked(wat(), { vectors: [{ x: 1000, chips: [], temp: null, kg: 1 }] }), "VECTORS_FAILED"],
    ["a module whose weight turns back", handPacked(wat({ body: "(if (f64.gt (local.get $x) (f64.const 1e6)) (then (return (f64.const 1))))" })), "NOT_MONOTONIC"],
    ["a module flat near zero", handPacked(wat({ body: "(return (f64.const 0))" })), "NOT_MONOTONIC"],
  ];
}

/** Modules that pass their installation and fail later in service: [what, cal_eval's first lines, reason]. */
export function failingInService(): Array<[string, string, string]> {
  return [
    ["traps", later("unreachable"), "TRAPPED"],
    ["loops for ever", later("(loop $l (br $l))"), "BUDGET"],
    ["weighs NaN", later("(return (f64.const nan))"), "NOT_FINITE"],
    ["weighs infinity", later("(return (f64.const inf))"), "NOT_FINITE"],
  ];
}
