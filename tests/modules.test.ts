// Calibration modules on the desktop host, with the real core: packages signed and verified,
// hostile modules refused or rolled back with their reason while the scale keeps weighing with
// the calibration it had (no reading lost, none weighed by a refused module), slots that survive a
// restart, a fit whose parameters persist, and a transfer that resumes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import wabtInit from "wabt";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { ModuleManager, type ModuleEvent } from "../host/desktop/modules/manager.js";
import { ModuleSlots } from "../host/desktop/modules/slots.js";
import { ModuleTransfer, type TransferAnswer } from "../host/desktop/modules/transfer.js";
import { CalibrationModule } from "../host/desktop/modules/module.js";
import { packageModule } from "../host/desktop/modules/build.js";
import { encodePackage, signPackage, decodePackage, generateSigningKey, sha256, type Manifest } from "../host/desktop/modules/package.js";
import type { VirtualScale } from "../host/desktop/virtual-scale.js";
import type { Reading } from "../host/desktop/core.js";

const wabt = await wabtInit();
const EXAMPLES = new URL("../build/modules/", import.meta.url);
const example = (name: string) => readFileSync(new URL(`${name}.wasm`, EXAMPLES));
const spec = (name: string) => readFileSync(new URL(`../modules/${name}/module.json`, import.meta.url), "utf8");

function keyPair(): { priv: KeyObject; pub: KeyObject } {
  const k = generateSigningKey();
  return { priv: createPrivateKey(k.privatePem), pub: createPublicKey(k.publicPem) };
}
const trusted = keyPair();
const stranger = keyPair();

/** An example module built and signed as `module build` and `module sign` do. */
function signedExample(name: string, key = trusted.priv): Buffer {
  return signPackage(decodePackage(packageModule(example(name), spec(name), name).bytes), key);
}

/** A hand-written module (WAT) of the module ABI; `body` runs first in cal_eval, `$n` counts calls. */
function wat(o: { body?: string; memory?: string; abi?: number; extra?: string; slope?: number } = {}): Uint8Array {
  const text = `(module ${o.extra ?? ""}
    (memory (export "memory") ${o.memory ?? "1 1"})
    (global $n (mut i32) (i32.const 0))
    (data (i32.const 16) "hostile\\00")
    (func (export "cal_abi") (result i32) (i32.const ${o.abi ?? 1}))
    (func (export "cal_name") (result i32) (i32.const 16))
    (func (export "cal_version") (result i32) (i32.const 0x010000))
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
const later = (then: string, calls = 1500) => `(if (i32.gt_s (global.get $n) (i32.const ${calls})) (then ${then}))`;

/** A package with a manifest written by hand (for modules `module build` would refuse), signed. */
function handPacked(wasm: Uint8Array, change: Partial<Manifest> = {}, key = trusted.priv): Buffer {
  const manifest: Manifest = {
    format: "wasm-scale-module", name: "hostile", version: "1.0.0", abi: 1, size: wasm.length, sha256: sha256(wasm),
    params: [], vectors: [{ x: 0, chips: [], temp: null, kg: 0 }], tolerance: 0, ...change,
  };
  return signPackage(decodePackage(encodePackage(Buffer.from(JSON.stringify(manifest)), Buffer.alloc(0), wasm)), key);
}

const SCENARIO = { rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg: 20, rampS: 0.3 }] };

interface Rig {
  scale: VirtualScale;
  manager: ModuleManager;
  events: ModuleEvent[];
  readings: Reading[];
}

async function rig(dir: string | null = null): Promise<Rig> {
  const scale = await scaleFor(SCENARIO, 5);
  const manager = new ModuleManager(scale.core, scale.host.calibration, dir ? new ModuleSlots(dir) : null, [trusted.pub]);
  scale.modules = manager;
  const r: Rig = { scale, manager, events: [], readings: [] };
  manager.onEvent = (e) => r.events.push(e);
  manager.restore();
  return r;
}

function runTo(r: Rig, s: number): void {
  r.scale.run(s, (reading) => r.readings.push(reading));
}

/** The readings of the same scale and seed with nothing installed. */
async function builtIn(untilS: number): Promise<Reading[]> {
  const r = await rig();
  runTo(r, untilS);
  return r.readings;
}

test("each example module installs, weighs as its vectors say, and is confirmed by good readings", async () => {
  for (const name of ["temperature", "table", "corners"]) {
    const r = await rig();
    runTo(r, 5);
    const verdict = r.manager.install(signedExample(name));
    assert.equal(verdict.status, "accepted", `${name}: ${verdict.detail}`);
    assert.deepEqual(r.manager.activeModule, { name, version: "1.0.0", trial: true });
    runTo(r, 12);
    assert.ok(r.events.some((e) => e.step === "confirm"), `${name} confirmed after good readings`);
    // The 20 kg load, weighed by the module: its own evaluation of the counts, to the division.
    const last = r.readings[r.readings.length - 1];
    const own = CalibrationModule.load(example(name));
    const pkg = decodePackage(signedExample(name));
    own.loadParams(own.paramsBlob(pkg.manifest.params));
    const zero = Buffer.from(r.scale.core.saveBlob("CALIBRATION")).readDoubleLE(8 + 24);
    const expected = own.evaluate(last.counts - zero, r.scale.reading().raw, NaN, NaN, NaN, 20);
    assert.ok(Math.abs(last.grossKg - expected) <= 0.01 + 1e-6, `${name}: ${last.grossKg} kg shown, the module says ${expected}`);
    assert.ok(Math.abs(last.grossKg - 20) < 0.5, `${name}: about the 20 kg on the platform (${last.grossKg})`);
  }
});

test("packages that are not what they claim are refused with their reason, and weighing goes on unchanged", async () => {
  const good = signedExample("table");
  const unsigned = packageModule(example("table"), spec("table"), "table").bytes;
  const badSignature = Buffer.from(good);
  badSignature[badSignature.length - example("table").length - 10] ^= 0xff; // inside the DER signature
  const tamperedWasm = Buffer.from(good);
  tamperedWasm[tamperedWasm.length - 20] ^= 0x01;
  const cases: Array<[string, Uint8Array, string]> = [
    ["unsigned", unsigned, "UNSIGNED"],
    ["signed by a key the scale does not trust", signedExample("table", stranger.priv), "UNTRUSTED_KEY"],
    ["a signature that does not verify", badSignature, "BAD_SIGNATURE"],
    ["a module changed after signing", tamperedWasm, "BAD_HASH"],
    ["a truncated package", good.subarray(0, good.length - 100), "TRUNCATED"],
    ["not a package", Buffer.from("hello"), "BAD_PACKAGE"],
    ["a module that imports", handPacked(wat({ extra: '(import "env" "now" (func))' })), "FORBIDDEN_IMPORT"],
    ["a module whose memory may grow without limit", handPacked(wat({ memory: "1" })), "MEMORY"],
    ["a module whose memory may grow to 4 pages", handPacked(wat({ memory: "1 4" })), "MEMORY"],
    ["a module built for another module ABI", handPacked(wat({ abi: 2 })), "WRONG_ABI"],
    ["a manifest for another module ABI", handPacked(wat(), { abi: 2 }), "WRONG_ABI"],
    ["a module that traps at once", handPacked(wat({ body: "unreachable" })), "TRAPPED"],
    ["a module that loops for ever", handPacked(wat({ body: "(loop $l (br $l))" })), "BUDGET"],
    ["a module that weighs NaN", handPacked(wat({ body: "(return (f64.const nan))" })), "NOT_FINITE"],
    ["a module whose vectors fail", handPacked(wat(), { vectors: [{ x: 1000, chips: [], temp: null, kg: 1 }] }), "VECTORS_FAILED"],
    ["a module whose weight turns back", handPacked(wat({ body: "(if (f64.gt (local.get $x) (f64.const 1e6)) (then (return (f64.const 1))))" })), "NOT_MONOTONIC"],
    ["a module flat near zero", handPacked(wat({ body: "(return (f64.const 0))" })), "NOT_MONOTONIC"],
  ];
  const reference = await builtIn(10);
  for (const [what, pkg, reason] of cases) {
    const r = await rig();
    runTo(r, 5);
    const verdict = r.manager.install(pkg);
    assert.equal(verdict.status, "rejected", what);
    assert.equal(verdict.reason, reason, `${what}: ${verdict.detail}`);
    assert.equal(r.manager.activeModule, null, what);
    runTo(r, 10);
    assert.deepEqual(r.readings, reference, `${what}: the readings are those of the scale that never saw it`);
  }
});

test("a module that fails in service is rolled back at once: that reading and the rest weigh as before it came", async () => {
  const reference = await builtIn(30);
  const cases: Array<[string, string, string]> = [
    ["traps", later("unreachable"), "TRAPPED"],
    ["loops for ever", later("(loop $l (br $l))"), "BUDGET"],
    ["weighs NaN", later("(return (f64.const nan))"), "NOT_FINITE"],
    ["weighs infinity", later("(return (f64.const inf))"), "NOT_FINITE"],
  ];
  for (const [what, body, reason] of cases) {
    const r = await rig();
    runTo(r, 5);
    // The hostile module weighs like the built-in calibration (its slope) until it fails...
    const slope = Buffer.from(r.scale.core.saveBlob("CALIBRATION")).readDoubleLE(8 + 8);
    const verdict = r.manager.install(handPacked(wat({ body, slope })));
    assert.equal(verdict.status, "accepted", `${what}: ${verdict.detail}`);
    runTo(r, 30); // 1,500 readings at 80 SPS come after 19 s
    const rollback = r.events.find((e) => e.step === "rollback");
    assert.ok(rollback, `${what}: rolled back`);
    assert.equal(rollback.reason, reason, `${what}: ${rollback.detail}`);
    assert.equal(r.manager.activeModule, null);
    // ...so no reading is lost, and no weight, the failing one included, strays from the built-in
    // calibration's by more than a division (the filters' arithmetic differs in the last bits).
    assert.deepEqual(r.readings.map((x) => x.seq), reference.map((x) => x.seq), `${what}: no reading lost`);
    r.readings.forEach((x, i) => {
      const same = Number.isNaN(x.grossKg) ? Number.isNaN(reference[i].grossKg) : Math.abs(x.grossKg - reference[i].grossKg) <= 0.01 + 1e-6;
      assert.ok(same, `${what}: reading ${x.seq} weighed ${x.grossKg} kg, the built-in calibration ${reference[i].grossKg}`);
    });
  }
});
