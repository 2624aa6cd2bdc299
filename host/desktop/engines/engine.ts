// The engines a core runs in on the desktop, behind one interface: V8 (Node's own, the default),
// and the devices' interpreters as Node-API addons (host/desktop/engines/native): WAMR 2.4 fast
// and classic (the ESP32's runtime, configured as there) and wasm3 (the Pico W's). Imports and
// exports are marshalled by their signatures in assembly/abi.json.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abi, type AbiFunction, type WasmType } from "../../abi.js";

export const ENGINES = ["v8", "wamr-fast", "wamr-classic", "wasm3"] as const;
export type EngineName = (typeof ENGINES)[number];

/** What the host needs of an instance: the exports as functions, and the linear memory. */
export interface EngineInstance {
  exports: Record<string, unknown> & { memory: { buffer: ArrayBuffer } };
  /** Memory figures the native engines measure (the WAMR runtime pool). */
  info(): { poolTotalBytes: number; poolPeakBytes: number; linearMemoryBytes: number } | null;
}

export class EngineError extends Error {}

/** Limits a native instance runs with: the firmware's Kconfig defaults (host/esp-idf/main/Kconfig.projbuild). */
export const NATIVE_LIMITS = { stackBytes: 16 * 1024, instructionLimit: 2_000_000 };

const LETTER: Record<WasmType, string> = { i32: "i", i64: "I", f32: "f", f64: "F" };
const letters = (fn: AbiFunction) => ({
  params: (fn.params ?? []).map((p) => LETTER[p.type]).join(""),
  result: fn.result ? LETTER[fn.result.type] : "",
});

interface NativeInstance {
  call(index: number, ...args: number[]): number | undefined;
  memory(): ArrayBuffer | null;
  info(): { poolTotalBytes: number; poolPeakBytes: number; linearMemoryBytes: number };
}
interface Addon {
  engine: string;
  Instance: new (wasm: Uint8Array, imports: unknown[], exports: unknown[], limits: typeof NATIVE_LIMITS) => NativeInstance;
}

export function addonPath(engine: Exclude<EngineName, "v8">): string {
  return fileURLToPath(new URL(`../../../build/engines/Release/scale_${engine.replace("-", "_")}.node`, import.meta.url));
}

/** True when the engine can run here (V8 always; the others once `npm run build:engines` has built them). */
export function available(engine: EngineName): boolean {
  return engine === "v8" || existsSync(addonPath(engine));
}

function loadAddon(engine: Exclude<EngineName, "v8">): Addon {
  const path = addonPath(engine);
  if (!existsSync(path)) {
    throw new EngineError(`engine ${engine} is not built: run \`npm run build:engines\` (needs cmake and a C++ compiler; the sources come from ../shared/vendor or upstream)`);
  }
  return createRequire(import.meta.url)(path) as Addon;
}

/** Instantiates a compiled, validated module in the engine, with the host's imports. */
export async function instantiate(engine: EngineName, module: WebAssembly.Module, bytes: Uint8Array, imports: WebAssembly.Imports): Promise<EngineInstance> {
  if (engine === "v8") {
    const instance = await WebAssembly.instantiate(module, imports);
    return { exports: instance.exports as EngineInstance["exports"], info: () => null };
  }
  return instantiateSync(engine, module, bytes, imports);
}

/** The same, at once (a core swapped in while the module manager waits for the answer). */
export function instantiateSync(engine: EngineName, module: WebAssembly.Module, bytes: Uint8Array, imports: WebAssembly.Imports): EngineInstance {
  if (engine === "v8") {
    const instance = new WebAssembly.Instance(module, imports);
    return { exports: instance.exports as EngineInstance["exports"], info: () => null };
  }
  if (!(ENGINES as readonly string[]).includes(engine)) throw new EngineError(`unknown engine ${engine}: one of ${ENGINES.join(", ")}`);
  const addon = loadAddon(engine);
  const importList = abi.imports.map((fn) => {
    const f = (imports[fn.module!] as Record<string, unknown> | undefined)?.[fn.name];
    if (typeof f !== "function") throw new EngineError(`the host has no import ${fn.module}.${fn.name}`);
    return { module: fn.module, name: fn.name, ...letters(fn), fn: f };
  });
  const functions = abi.exports.filter((e) => e.kind !== "memory");
  let native: NativeInstance;
  try {
    native = new addon.Instance(bytes, importList, functions.map((fn) => ({ name: fn.name, ...letters(fn) })), NATIVE_LIMITS);
  } catch (e) {
    throw new EngineError((e as Error).message);
  }
  const buffer = native.memory();
  if (!buffer) throw new EngineError(`${engine}: the module has no linear memory`);
  const exports: Record<string, unknown> = { memory: { buffer } };
  functions.forEach((fn, index) => {
    const n = fn.params?.length ?? 0;
    // Fixed arities keep the calls monomorphic; the ABI's exports take at most three arguments.
    if (n > 3) throw new EngineError(`${fn.name} takes ${n} arguments: the engines' wrapper passes three at most`);
    exports[fn.name] = n === 0 ? () => native.call(index) : n === 1 ? (a: number) => native.call(index, a)
      : n === 2 ? (a: number, b: number) => native.call(index, a, b) : (a: number, b: number, c: number) => native.call(index, a, b, c);
  });
  return { exports: exports as EngineInstance["exports"], info: () => native.info() };
}
