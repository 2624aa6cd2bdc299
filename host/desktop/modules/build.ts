// `wasm-scale module build DIR`: compiles a calibration module written in AssemblyScript
// (DIR/index.ts, with modules/asconfig.json: no imports, one page, no runtime) and packages it
// with DIR/module.json: its parameters, and golden vectors whose weights the module itself
// computes here. The package is unsigned until `wasm-scale module sign`.
import { makeDirs } from "../files.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { abi } from "../../abi.js";
import { encodePackage, sha256, ModuleRefused, type Manifest } from "./package.js";
import { ModuleManager } from "./manager.js";

const ASCONFIG = fileURLToPath(new URL("../../../modules/asconfig.json", import.meta.url));
/** The core's transform: __heap_base rounded up to 16 bytes, as WAMR needs to shrink memory. */
const ALIGN_HEAP_BASE = fileURLToPath(new URL("../../align-heap-base.mjs", import.meta.url));

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const specSchema = z.object({
  $comment: z.string().optional(),
  params: z.array(finite).max(32).default([]),
  vectors: z.array(z.object({ x: finite, chips: z.array(finite.nullable()).max(4).default([]), temp: finite.nullable().default(null) }).strict()).min(1).max(abi.calibration_module.package.maxVectors),
  tolerance: finite.default(0),
}).strict();

export class BuildError extends Error {}

/** Compiles DIR/index.ts to a .wasm; returns its bytes. */
export async function compileModule(dir: string, outFile: string): Promise<Buffer> {
  const asc = (await import("assemblyscript/asc")).default;
  const errors: string[] = [];
  const stderr = { write: (s: string | Uint8Array) => { errors.push(String(s)); return true; } };
  const { error } = await asc.main([join(dir, "index.ts"), "--config", ASCONFIG, "--target", "release", "--transform", ALIGN_HEAP_BASE, "--outFile", outFile], { stderr, stdout: stderr });
  if (error) throw new BuildError(`${dir}: the module does not compile:\n${errors.join("")}`);
  return readFileSync(outFile);
}

/** A package (unsigned) from a module's bytes and its spec: the vectors' weights computed by the module. */
export function packageModule(wasm: Buffer, specText: string, from: string): { bytes: Buffer; manifest: Manifest } {
  let spec: z.infer<typeof specSchema>;
  try {
    spec = specSchema.parse(JSON.parse(specText));
  } catch (e) {
    const detail = e instanceof z.ZodError ? e.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : (e as Error).message;
    throw new BuildError(`${from}: ${detail}`);
  }
  // The module as a scale loads it (the manager's checks), given the params; it weighs the vectors.
  const bare = tryOrExplain(wasm, from);
  const own = bare.activeModule!;
  const draft: Manifest = {
    format: "wasm-scale-module", name: own.name, version: own.version, abi: abi.calibration_module.version,
    size: wasm.length, sha256: sha256(wasm), params: spec.params, vectors: [{ x: 0, chips: [], temp: null, kg: 0 }], tolerance: spec.tolerance,
  };
  const module = tryOrExplain(encodePackage(Buffer.from(JSON.stringify(draft)), Buffer.alloc(0), wasm), from, false);
  const vectors = spec.vectors.map((v) => {
    const chip = (k: number) => v.chips[k] ?? NaN;
    const kg = module.weigh(v.x, chip(0), chip(1), chip(2), chip(3), v.temp ?? NaN);
    if (!Number.isFinite(kg)) throw new BuildError(`vector ${JSON.stringify(v)}: the module weighs ${kg} kg`);
    return { ...v, kg };
  });
  const manifest: Manifest = { ...draft, vectors };
  // As a device will: a fresh instance, the params, then the vectors (a module whose weights
  // depend on what it was asked before fails here, not on the scale).
  const bytes = encodePackage(Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), Buffer.alloc(0), wasm);
  try {
    ModuleManager.tryModule(bytes);
  } catch (e) {
    throw new BuildError(`the module's weights are not reproducible: ${(e as Error).message}`);
  }
  return { bytes, manifest };
}

function tryOrExplain(bytes: Uint8Array, from: string, vectors = true): ModuleManager {
  try {
    return ModuleManager.tryModule(bytes, null, { vectors });
  } catch (e) {
    if (e instanceof ModuleRefused && e.reason === "BAD_PARAMS") throw new BuildError(`${from}: the module refuses these params`);
    throw new BuildError(`the module is refused (${e instanceof ModuleRefused ? e.reason : "BAD_MODULE"}): ${(e as Error).message}`);
  }
}

/** Builds DIR into outDir: NAME.wasm and NAME-VERSION.wsm (unsigned). */
export async function buildModule(dir: string, outDir: string): Promise<{ wasm: string; pkg: string; manifest: Manifest }> {
  const abs = resolve(dir);
  makeDirs(outDir);
  const base = abs.split(/[\\/]/).pop()!;
  const wasmFile = join(outDir, `${base}.wasm`);
  const wasm = await compileModule(abs, wasmFile);
  const specFile = join(abs, "module.json");
  let specText: string;
  try {
    specText = readFileSync(specFile, "utf8");
  } catch {
    throw new BuildError(`${specFile} is missing: it gives the module's params and the inputs of its golden vectors`);
  }
  const { bytes, manifest } = packageModule(wasm, specText, specFile);
  if (manifest.name !== base) {
    // A copied example still calls itself by the example's name: its package would overwrite the
    // example's (NAME-VERSION.wsm) and the .wasm and .wsm would name different modules.
    throw new BuildError(`${dir}: the module calls itself "${manifest.name}" (cal_name in ${join(dir, "index.ts")}); a module's folder is named after it: change cal_name to "${base}" or the folder to ${manifest.name}`);
  }
  const pkg = join(outDir, `${manifest.name}-${manifest.version}.wsm`);
  writeFileSync(pkg, bytes);
  return { wasm: wasmFile, pkg, manifest };
}
