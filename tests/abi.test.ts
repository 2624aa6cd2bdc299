// The compiled core, the desktop host and the generated constants all agree with assembly/abi.json;
// the release binary uses only the allowed Wasm features and one memory page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import wabtInit from "wabt";
import { abi, wasmType, wamrSignature } from "../host/abi.js";
import { generateAssemblyScript, generatedPath, generateCoreLists, generatedCoreListsPath } from "../host/gen-abi.js";
import { makeImports } from "../host/desktop/imports.js";
import { Board } from "../host/desktop/sim/board.js";
import { ScaleCore, CoreError } from "../host/desktop/core.js";
import { releaseWasm, debugWasmPath } from "./helpers.js";
import { coreManagerWasmPath, managerWasmPath } from "../host/desktop/modules/manager.js";

const ALLOWED = { mutable_globals: true, sat_float_to_int: true, sign_extension: true, bulk_memory: true };
const FORBIDDEN = {
  exceptions: false, simd: false, threads: false, function_references: false, multi_value: false, tail_call: false,
  reference_types: false, annotations: false, code_metadata: false, gc: false, memory64: false, extended_const: false,
  relaxed_simd: false, multi_memory: false,
};

/** Imports and exports of a binary with their Wasm types, read from wabt's text form. */
async function signatures(bytes: Uint8Array): Promise<{ imports: Map<string, string>; exports: Map<string, string>; memory: string }> {
  const wabt = await wabtInit();
  const mod = wabt.readWasm(bytes, { ...ALLOWED, ...FORBIDDEN });
  mod.validate();
  const wat = mod.toText({ foldExprs: false, inlineExport: false });
  mod.destroy();
  const types = new Map<string, string>();
  for (const m of wat.matchAll(/\(type \(;(\d+);\) \(func(?: \(param ([^)]*)\))?(?: \(result ([^)]*)\))?\)\)/g)) {
    types.set(m[1], `(${(m[2] ?? "").trim().split(/\s+/).filter(Boolean).join(",")})->${m[3] ?? "void"}`);
  }
  const imports = new Map<string, string>();
  const funcTypes: string[] = [];
  for (const m of wat.matchAll(/\(import "([^"]+)" "([^"]+)" \(func \(;\d+;\) \(type (\d+)\)\)\)/g)) {
    imports.set(`${m[1]}.${m[2]}`, types.get(m[3])!);
    funcTypes.push(types.get(m[3])!);
  }
  for (const m of wat.matchAll(/\n  \(func \(;(\d+);\) \(type (\d+)\)/g)) funcTypes[Number(m[1])] = types.get(m[2])!;
  const exports = new Map<string, string>();
  for (const m of wat.matchAll(/\(export "([^"]+)" \((func|memory) (\d+)\)\)/g)) {
    exports.set(m[1], m[2] === "memory" ? "memory" : funcTypes[Number(m[3])]);
  }
  const memory = /\(memory \(;0;\) ([^)]*)\)/.exec(wat)?.[1] ?? "";
  return { imports, exports, memory };
}

test("the release core's imports are exactly the ABI's (sys.panic may be optimised away)", async () => {
  const { imports } = await signatures(releaseWasm());
  for (const fn of abi.imports) {
    const key = `${fn.module}.${fn.name}`;
    if (!imports.has(key)) {
      assert.equal(key, "sys.panic", `release core lacks import ${key}`);
      continue;
    }
    assert.equal(imports.get(key), wasmType(fn), `type of import ${key}`);
  }
  const known = new Set(abi.imports.map((f) => `${f.module}.${f.name}`));
  for (const key of imports.keys()) assert.ok(known.has(key), `release core imports ${key}, which the ABI lacks`);
});

test("the debug core imports sys.panic with the ABI's type (abort is routed there)", async () => {
  const { imports } = await signatures(readFileSync(debugWasmPath));
  assert.equal(imports.get("sys.panic"), "(i32,i32)->void");
  assert.ok(!imports.has("env.abort"), "AssemblyScript's env.abort must be routed, not imported");
});

test("the release core's exports are exactly the ABI's, with the ABI's types", async () => {
  const { exports } = await signatures(releaseWasm());
  const expected = new Map(abi.exports.map((e) => [e.name, e.kind === "memory" ? "memory" : wasmType(e)]));
  assert.deepEqual(new Map([...exports].sort()), new Map([...expected].sort()));
});

test("the release core validates with only MVP + mutable globals, sign extension, non-trapping f2i, bulk memory", async () => {
  const wabt = await wabtInit();
  const bytes = releaseWasm();
  const mod = wabt.readWasm(bytes, { ...ALLOWED, ...FORBIDDEN });
  assert.doesNotThrow(() => mod.validate());
  mod.destroy();
  // And the check can fail: without bulk memory the same binary is refused.
  assert.throws(() => {
    const strict = wabt.readWasm(bytes, { ...FORBIDDEN, mutable_globals: true, sat_float_to_int: true, sign_extension: true, bulk_memory: false });
    strict.validate();
  });
});

test("the release core has one memory page at most and stays inside its size budget", async () => {
  const { memory } = await signatures(releaseWasm());
  assert.equal(memory, `${abi.memory.maxPages} ${abi.memory.maxPages}`, "initial and maximum pages");
  // npm run bench reports the size; this only stops a regression (the ESP32 keeps a RAM copy).
  const size = releaseWasm().length;
  // 28.5 KiB since the calibration module link (the calib imports, a module's fit and span, the
  // module topic: about 1 KB), the state stream for deep sleep (state_save/state_load: 2.2 KB)
  // and battery mode's duty cycle (wake_begin/wake_step/wake_sleep_ms, five settings: 1.5 KB);
  // 29 KiB since host/pack-data.mjs joins the data segments (437 bytes of zeros written out save
  // WAMR 141 segment records, about 7 KB of heap); 30.5 KiB since the second metrology round
  // (stability on the converted input with one value excepted each way, the corner adjustment's
  // per-chip windows, a jump to all zeros or ones confirmed: 1.5 KB); 31.5 KiB since each chip's
  // period is learned from its DOUT falls and a read judged by when a conversion can come (0.7 KB);
  // 34 KiB since calibration modules declare their curves and the core checks and interpolates
  // them (module ABI 2: 0.6 KB), and since piece counting and the button (1.7 KB).
  // The whole share of the ESP32's heap is checked in firmware.test.ts.
  assert.ok(size <= 34 * 1024, `release core is ${size} bytes, over the 34 KiB budget`);
});

for (const [what, wasm] of [["release core", releaseWasm], ["module manager", () => readFileSync(managerWasmPath)], ["core manager", () => readFileSync(coreManagerWasmPath)]] as const) test(`WAMR can shrink the ${what}'s memory to its static data, and never checks a global as a C stack`, async () => {
  // WAMR's rules (core/iwasm/interpreter/wasm_loader.c, load_from_sections, WAMR 2.4.0): exported
  // immutable i32 constants __data_end <= __heap_base and no memory.grow shrink the memory to
  // __heap_base; the first mutable i32 global whose constant initial value is <= __heap_base is
  // then the C stack pointer, with a stack as large as that value, and every global.set to it is
  // checked against that stack (a trap if it leaves it). A value of 0 is a stack of size 0: no check.
  const wabt = await wabtInit();
  const mod = wabt.readWasm(wasm(), { ...ALLOWED, ...FORBIDDEN });
  const wat = mod.toText({ foldExprs: false, inlineExport: false });
  mod.destroy();
  const globals = [...wat.matchAll(/\n  \(global \(;(\d+);\) (\(mut i32\)|i32|\(mut [if]\d\d\)|[if]\d\d) \(([if]\d\d)\.const ([^)]+)\)\)/g)].map((m) => ({
    index: Number(m[1]), mutable: m[2].startsWith("(mut"), i32: m[2].includes("i32"), value: m[3] === "i32" ? Number(m[4]) >>> 0 : NaN,
  }));
  const exported = new Map([...wat.matchAll(/\(export "([^"]+)" \(global (\d+)\)\)/g)].map((m) => [m[1], globals[Number(m[2])]]));
  assert.deepEqual([...exported.keys()].sort(), [...abi.memory.layout].sort(), `the ${what} exports exactly the ABI's layout globals`);
  const dataEnd = exported.get("__data_end")!;
  const heapBase = exported.get("__heap_base")!;
  for (const g of [dataEnd, heapBase]) assert.ok(g.i32 && !g.mutable && Number.isFinite(g.value), "immutable i32 constant");
  assert.ok(dataEnd.value <= heapBase.value && heapBase.value < 65536);
  assert.doesNotMatch(wat, /^\s*memory\.grow\b/m, "memory.grow would stop WAMR from shrinking the memory"); // the instruction, not a sentence in the data
  // Nothing runs while instantiating: a start function would run before a host can bound it.
  assert.doesNotMatch(wat, /\(start \d+\)/, `the ${what} has a start function`);
  for (const m of wat.matchAll(/\(data \(;\d+;\) \(i32\.const (\d+)\) "((?:[^"\\]|\\.)*)"\)/g)) {
    const bytes = m[2].replace(/\\[0-9a-f]{2}/g, "x").replace(/\\./g, "x").length;
    assert.ok(Number(m[1]) + bytes <= heapBase.value, `a data segment at ${m[1]} ends past __heap_base`);
  }
  const stack = globals.find((g) => g.mutable && g.i32 && g.value <= heapBase.value)!;
  assert.ok(stack, "a mutable i32 global WAMR takes for the stack pointer");
  assert.equal(stack.value, 0, `global ${stack.index} starts at ${stack.value}: WAMR would check every global.set to it as a stack of ${stack.value} bytes`);
});

test("the module manager's limits are abi.json's calibration_module", () => {
  const source = (f: string) => readFileSync(new URL(`../assembly/manager/${f}`, import.meta.url), "utf8");
  const constant = (text: string, name: string) => Number(new RegExp(`const ${name}: [iu]32 = (\\d+);`).exec(text)?.[1]);
  const m = abi.calibration_module;
  const pkg = source("package.ts");
  assert.equal(constant(pkg, "MODULE_ABI"), m.version);
  assert.equal(constant(pkg, "PACKAGE_FORMAT"), m.package.format);
  assert.equal(constant(pkg, "MAX_WASM"), m.package.maxWasmBytes);
  assert.equal(constant(pkg, "MAX_MANIFEST"), m.package.maxManifestBytes);
  assert.equal(constant(pkg, "MAX_VECTORS"), m.package.maxVectors);
  assert.equal(constant(source("slots.ts"), "CONFIRM_READINGS"), m.transfer.confirmReadings);
  assert.equal(constant(source("transfer.ts"), "MAX_CHUNK"), m.transfer.chunkBytes);
  assert.match(source("package.ts"), new RegExp(`0x${[...Buffer.from(m.package.magic, "latin1")].reverse().map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase()}`), "the package magic");
  for (const reason of ["DOWNGRADE", "BUSY", "STATE_REFUSED"]) assert.ok(reason in m.reasons, `abi.json names ${reason}`);
});

test("the desktop host offers exactly the ABI's imports, with the ABI's arity", () => {
  const { imports } = makeImports(new Board(), () => {});
  const offered = new Map<string, number>();
  for (const [mod, fns] of Object.entries(imports)) {
    for (const [name, fn] of Object.entries(fns as Record<string, unknown>)) offered.set(`${mod}.${name}`, (fn as (...a: unknown[]) => unknown).length);
  }
  const expected = new Map(abi.imports.map((f) => [`${f.module}.${f.name}`, (f.params ?? []).length]));
  assert.deepEqual(new Map([...offered].sort()), new Map([...expected].sort()));
});

test("assembly/abi.ts is generated from the current abi.json", () => {
  assert.equal(readFileSync(generatedPath, "utf8"), generateAssemblyScript(), "run `npm run abi`");
  assert.equal(readFileSync(generatedCoreListsPath, "utf8"), generateCoreLists(), "run `npm run abi`");
});

test("WAMR signatures derive from the ABI: pointers as '*' with '~' lengths", () => {
  const sig = Object.fromEntries(abi.imports.map((f) => [`${f.module}.${f.name}`, wamrSignature(f)]));
  assert.deepEqual(sig, {
    "gpio.wait_low": "(*~i)i", "gpio.clock_in": "(i*~i*~)i", "gpio.write": "(ii)",
    "calib.gain": "(FFFF)F", "calib.curve": "(F)i", "calib.knot": "(i)F", "calib.fault": "(iFF)",
    "calib.fit": "(i*iF)i", "sys.panic": "(ii)",
  });
});

test("the host refuses a module that is not a wasm-scale core, with a clear error", async () => {
  const host = makeImports(new Board(), () => {});
  await assert.rejects(ScaleCore.load(host, new Uint8Array([0, 1, 2, 3])), (e: CoreError) => /not a valid WebAssembly module/.test(e.message));
  const wabt = await wabtInit();
  const other = wabt.parseWat("other.wat", '(module (import "env" "evil" (func)) (memory (export "memory") 1) (func (export "scale_init") (result i32) i32.const 1))');
  const { buffer } = other.toBinary({});
  await assert.rejects(ScaleCore.load(host, buffer), (e: CoreError) => /missing function export "scale_sample"/.test(e.message) && /env\.evil/.test(e.message));
  await assert.rejects(ScaleCore.load(host, "/nonexistent/core.wasm"), (e: CoreError) => /npm run asbuild/.test(e.message));
});

test("host/pack-data.mjs joins the data segments and leaves the memory's contents byte for byte the same", async () => {
  const { packData } = await import("../host/pack-data.mjs");
  // The debug core is as asc wrote it: many segments to join.
  const original = readFileSync(debugWasmPath);
  const { binary, before, after } = packData(original);
  assert.ok(before > 20 && after < before / 4, `${before} segments joined into ${after}`);
  const image = async (bytes: Uint8Array<ArrayBuffer>) => {
    const module = await WebAssembly.compile(bytes);
    const imports: Record<string, Record<string, () => number>> = {};
    for (const i of WebAssembly.Module.imports(module)) (imports[i.module] ??= {})[i.name] = () => 0;
    const instance = await WebAssembly.instantiate(module, imports);
    return new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
  };
  assert.deepEqual(await image(binary), await image(original));
  // And the release core was built through it (npm run asbuild:release).
  assert.ok(packData(releaseWasm()).before <= 8, "the release core's data segments are not joined");
});
