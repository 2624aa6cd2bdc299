// Making core packages (wasm-scale core pack): a core's .wasm with its manifest (the release
// version, the core ABI, its state stream's version, its size and SHA-256), in the container and
// with the signing of calibration module packages (package.ts). What a scale accepts is decided by
// the module manager (assembly/manager/core.ts).
import { abi } from "../../abi.js";
import { ScaleCore } from "../core.js";
import { makeImports } from "../imports.js";
import { Board } from "../sim/board.js";
import { encodePackage, sha256, ModuleRefused, type CoreManifest, type ModulePackage } from "./package.js";

/** The core's own answers: its ABI (scale_init) and its state stream's version (state_save's header). */
export async function describeCore(wasm: Uint8Array): Promise<{ abi: number; state: number }> {
  let core: ScaleCore;
  try {
    core = await ScaleCore.load(makeImports(new Board(), () => undefined), wasm);
  } catch (e) {
    throw new ModuleRefused("BAD_MODULE", `not a core for this host (ABI ${abi.version}): ${(e as Error).message}`);
  }
  const stream = Buffer.from(core.saveState());
  return { abi: abi.version, state: stream.readUInt16LE(4) };
}

/** An unsigned core package of `wasm` as release `version` (major.minor.patch). */
export async function packCore(wasm: Uint8Array, version: string, name = "wasm-scale"): Promise<ModulePackage> {
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(version) || version.split(".").some((p) => Number(p) > 255)) {
    throw new ModuleRefused("BAD_PACKAGE", `version "${version}": major.minor.patch, each 0..255`);
  }
  if (wasm.length > abi.calibration_module.package.maxWasmBytes) {
    throw new ModuleRefused("TOO_LARGE", `a core of ${wasm.length} bytes; a package holds at most ${abi.calibration_module.package.maxWasmBytes}`);
  }
  const { state } = await describeCore(wasm);
  const manifest: CoreManifest = { format: "wasm-scale-core", name, version, abi: abi.version, state, size: wasm.length, sha256: sha256(wasm) };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
  return { manifest, manifestBytes, signature: Buffer.alloc(0), wasm: Buffer.from(wasm) };
}

/** The package's bytes (unsigned until `core sign`). */
export function encodeUnsigned(pkg: ModulePackage): Buffer {
  return encodePackage(pkg.manifestBytes, pkg.signature, pkg.wasm);
}
