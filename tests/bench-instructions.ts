// Instructions per sample and per publish, counted with valgrind (callgrind) on the harnesses of
// host/desktop/engines/native/count: (count for 2N - count for N) / N, so start-up cancels out.
// The native reference is the core compiled to C by wasm2c. Nothing is invented: a missing tool
// or harness gives null and says why.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { releaseWasmPath } from "./helpers.js";

const out = fileURLToPath(new URL("../build/engines/", import.meta.url));
const HARNESS = {
  native: `${out}count_native`,
  wamr_fast: `${out}wamr-fast/count_wamr_fast`,
  wamr_classic: `${out}wamr-classic/count_wamr_classic`,
  wasm3: `${out}count_wasm3`,
};
const SAMPLES = 2000;
const PUBLISHES = 200;

/** The calibration module measured: the table example with its 4 rows (modules/table/module.json). */
const MODULE_WASM = fileURLToPath(new URL("../build/modules/table.wasm", import.meta.url));
const MODULE_SPEC = fileURLToPath(new URL("../modules/table/module.json", import.meta.url));

/** The table module's parameter blob (version 1, its params as f64), for the harness to load. */
function moduleParams(): string {
  const values = (JSON.parse(readFileSync(MODULE_SPEC, "utf8")) as { params: number[] }).params;
  const blob = Buffer.alloc(8 + 8 * values.length);
  blob.writeUInt32LE(1, 0);
  blob.writeUInt32LE(values.length, 4);
  values.forEach((v, i) => blob.writeDoubleLE(v, 8 + 8 * i));
  const file = join(mkdtempSync(join(tmpdir(), "wasm-scale-bench-")), "table.params");
  writeFileSync(file, blob);
  return file;
}

type Mode = "sample" | "publish" | "module";

function collected(exe: string, mode: Mode, n: number): number {
  const extra = mode === "module" ? [MODULE_WASM, moduleParams()] : [];
  const r = spawnSync("valgrind", ["--tool=callgrind", "--callgrind-out-file=/dev/null", exe, releaseWasmPath, mode, String(n), ...extra], { encoding: "utf8" });
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${exe} ${mode} ${n}: ${r.stderr.slice(-400)}`);
  return Number(m[1]);
}

function perUnit(exe: string, mode: Mode, n: number): number {
  return Math.round((collected(exe, mode, 2 * n) - collected(exe, mode, n)) / n);
}

/**
 * The native reference is built on demand: it needs Debian's wasm2c, which the engines do not.
 * False when it could not be built for this core: an older binary would measure an older core.
 */
function buildNative(): boolean {
  if (!existsSync(`${out}build.ninja`) && !existsSync(`${out}Makefile`)) return false;
  return spawnSync("cmake", ["--build", out, "--target", "count_native"], { stdio: "ignore" }).status === 0;
}

export function instructionCounts(): { figures: Record<string, number | null>; note: string | null } {
  const figures: Record<string, number | null> = {
    native_instructions_per_sample: null,
    wamr_fast_instructions_per_sample: null,
    wamr_classic_instructions_per_sample: null,
    wasm3_instructions_per_sample: null,
    wamr_fast_instructions_per_publish: null,
    wamr_fast_to_native_ratio: null,
    wamr_fast_instructions_per_sample_with_module: null,
    wamr_classic_instructions_per_sample_with_module: null,
    wasm3_instructions_per_sample_with_module: null,
    module_instructions_per_sample: null,
  };
  if (spawnSync("valgrind", ["--version"]).status !== 0) return { figures, note: "valgrind is not installed (apt-get install valgrind): instruction counts not measured" };
  const nativeBuilt = buildNative();
  const missing: string[] = [];
  for (const [name, exe] of Object.entries(HARNESS)) {
    if (!existsSync(exe) || (name === "native" && !nativeBuilt)) {
      missing.push(name);
      continue;
    }
    figures[`${name}_instructions_per_sample`] = perUnit(exe, "sample", SAMPLES);
    if (name === "wamr_fast") figures.wamr_fast_instructions_per_publish = perUnit(exe, "publish", PUBLISHES);
    // With the table module linked to calib.gain and calib.curve (a second instance in the same runtime, as on the
    // ESP32): a sample with the module's call included. The native reference links no module.
    if (name !== "native" && existsSync(MODULE_WASM)) figures[`${name}_instructions_per_sample_with_module`] = perUnit(exe, "module", SAMPLES);
  }
  const fast = figures.wamr_fast_instructions_per_sample, native = figures.native_instructions_per_sample;
  const fastModule = figures.wamr_fast_instructions_per_sample_with_module;
  if (fast && fastModule) figures.module_instructions_per_sample = fastModule - fast;
  if (fast && native) figures.wamr_fast_to_native_ratio = Math.round((fast / native) * 100) / 100;
  const note = missing.length ? `not built: ${missing.join(", ")} (npm run build:engines; the native reference needs wasm2c from Debian's wabt)` : null;
  return { figures, note: note ? `x86-64 instructions under callgrind; ${note}` : "x86-64 instructions under callgrind (Xtensa counts differ but scale alike)" };
}
