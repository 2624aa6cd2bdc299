// What the calibration module tests share: the example modules as npm run asbuild built them,
// signing keys made for the run, and hostile modules written in WAT (compiled by wabt) with
// hand-written, signed manifests, for the desktop host (modules.test.ts) and the firmware's C
// (firmware-modules.test.ts).
import { readFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import wabtInit from "wabt";
import { packageModule } from "../host/desktop/modules/build.js";
import { encodePackage, signPackage, decodePackage, generateSigningKey, sha256, type ModuleManifest } from "../host/desktop/modules/package.js";

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

/** WAT that writes knots (counts, kg) at 3072, where cal_knots points, and returns their count. */
export function knotsWat(knots: Array<[number, number]>): string {
  const stores = knots.map(([x, kg], i) => `(f64.store (i32.const ${3072 + 16 * i}) (f64.const ${x})) (f64.store (i32.const ${3080 + 16 * i}) (f64.const ${kg}))`);
  return `${stores.join(" ")} (return (i32.const ${knots.length}))`;
}

/**
 * A hand-written module (WAT) of the module ABI. Its curve is the straight line of `slope` kg a
 * count (two knots, 2^23 counts apart), its gain 1. `body` runs first in cal_gain and `curve` first
 * in cal_curve (whose temperature is $t); `$n` counts cal_gain's calls.
 */
export function wat(o: { body?: string; curve?: string; memory?: string; abi?: number; extra?: string; slope?: number; layout?: string; version?: number; knotsAt?: number } = {}): Uint8Array {
  const slope = o.slope ?? 1.1641532182693481e-5;
  const text = `(module ${o.extra ?? ""}
    (memory (export "memory") ${o.memory ?? "1 1"})
    ${o.layout ?? '(global (export "__data_end") i32 (i32.const 4096)) (global (export "__heap_base") i32 (i32.const 4096))'}
    (global $n (mut i32) (i32.const 0))
    (data (i32.const 16) "hostile\\00")
    (func (export "cal_abi") (result i32) (i32.const ${o.abi ?? 2}))
    (func (export "cal_name") (result i32) (i32.const 16))
    (func (export "cal_version") (result i32) (i32.const ${o.version ?? 0x010000}))
    (func (export "cal_points") (result i32) (i32.const 1024))
    (func (export "cal_params") (result i32) (i32.const 2048))
    (func (export "cal_knots") (result i32) (i32.const ${o.knotsAt ?? 3072}))
    (func (export "cal_params_save") (result i32)
      (i32.store (i32.const 2048) (i32.const 1)) (i32.store (i32.const 2052) (i32.const 0)) (i32.const 8))
    (func (export "cal_params_load") (param i32) (result i32) (i32.const 0))
    (func (export "cal_fit") (param i32 i32) (result i32) (i32.const 0))
    (func (export "cal_curve") (param $t f64) (result i32)
      ${o.curve ?? ""}
      ${knotsWat([[0, 0], [8388608, 8388608 * slope]])})
    (func (export "cal_gain") (param f64 f64 f64 f64) (result f64)
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      ${o.body ?? ""}
      (f64.const 1)))`;
  return wabt.parseWat("hostile.wat", text).toBinary({}).buffer;
}

/** After `calls` gains (readings, past the vectors and the checks), `then` runs. */
export const later = (then: string, calls = 1500) => `(if (i32.gt_s (global.get $n) (i32.const ${calls})) (then ${then}))`;

/** A package with a manifest written by hand (for modules `module build` would refuse), signed. */
export function handPacked(wasm: Uint8Array, change: Partial<ModuleManifest> = {}, key = trusted.priv): Buffer {
  const manifest: ModuleManifest = {
    format: "wasm-scale-module", name: "hostile", version: "1.0.0", abi: 2, size: wasm.length, sha256: sha256(wasm),
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
    ["a module built for another module ABI", handPacked(wat({ abi: 1 })), "WRONG_ABI"],
    ["a manifest for another module ABI", handPacked(wat(), { abi: 1 }), "WRONG_ABI"],
    ["a module that traps at once", handPacked(wat({ body: "unreachable" })), "TRAPPED"],
    ["a module that loops for ever", handPacked(wat({ body: "(loop $l (br $l))" })), "BUDGET"],
    ["a module whose gain is NaN", handPacked(wat({ body: "(return (f64.const nan))" })), "NOT_FINITE"],
    ["a module whose gain is out of bounds", handPacked(wat({ body: "(return (f64.const 0.5))" })), "BAD_GAIN"],
    ["a module whose vectors fail", handPacked(wat(), { vectors: [{ x: 1000, chips: [], temp: null, kg: 1 }] }), "VECTORS_FAILED"],
    ["a module whose curve turns back", handPacked(wat({ curve: knotsWat([[0, 0], [1e6, 11.6], [2e6, 1]]) })), "NOT_MONOTONIC"],
    ["a module whose curve is flat", handPacked(wat({ curve: knotsWat([[0, 0], [1e6, 0]]) })), "NOT_MONOTONIC"],
    ["a module whose curve has a vertical step", handPacked(wat({ curve: knotsWat([[0, 0], [1e6, 11.6], [1e6, 20]]) })), "NOT_MONOTONIC"],
    ["a module with 17 knots", handPacked(wat({ curve: knotsWat(Array.from({ length: 17 }, (_, i) => [i * 1e5, i] as [number, number])) })), "NOT_MONOTONIC"],
    ["a module whose curve turns back when it is hot", handPacked(wat({ curve: `(if (f64.gt (local.get $t) (f64.const 50)) (then ${knotsWat([[0, 0], [1e6, 11.6], [2e6, 1]])}))` })), "NOT_MONOTONIC"],
    ["a module whose knots lie outside its memory", handPacked(wat({ knotsAt: 65530 })), "BAD_MODULE"],
  ];
}

/** Modules that pass their installation and fail later in service: [what, cal_gain's first lines, reason]. */
export function failingInService(): Array<[string, string, string]> {
  return [
    ["traps", later("unreachable"), "TRAPPED"],
    ["loops for ever", later("(loop $l (br $l))"), "BUDGET"],
    ["gives a gain of NaN", later("(return (f64.const nan))"), "NOT_FINITE"],
    ["gives a gain of infinity", later("(return (f64.const inf))"), "NOT_FINITE"],
    ["gives a gain out of bounds", later("(return (f64.const 1.5))"), "BAD_GAIN"],
  ];
}
