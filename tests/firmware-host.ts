// The firmware's Wasm host (host/esp-idf/components/wasm_host) built for Linux against the WAMR
// the ESP32 runs, 32-bit and -Os like the device, with the firmware's Kconfig defaults; used by
// tests/firmware.test.ts and the bench. The classic interpreter is the firmware's default
// (sdkconfig.defaults); fast is the other choice the firmware offers.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repo, vendorOverrides } from "../host/vendor.mjs";

export type Interpreter = "classic" | "fast";
export const INTERPRETERS: Interpreter[] = ["classic", "fast"];
const SOURCE = join(repo, "host", "esp-idf", "components", "wasm_host", "test");
export const CORE = join(repo, "build", "release.wasm");

export type HostBuild = { dir: string; binary: string; bits: 32 | 64 } | { unavailable: string };

/** Configures and builds the harness for one interpreter (incremental); says why it cannot. */
export function buildFirmwareHost(interpreter: Interpreter): HostBuild {
  const overrides = vendorOverrides(["WAMR"]);
  if (overrides.length === 0 && !process.env.WASM_SCALE_ONLINE) {
    return { unavailable: "no vendor folder with WAMR 2.4.0 (set WASM_SCALE_VENDOR, or WASM_SCALE_ONLINE=1 to fetch it)" };
  }
  const dir = join(repo, "build", "firmware-host", interpreter);
  const configure = ["-S", SOURCE, "-B", dir, "-DCMAKE_BUILD_TYPE=MinSizeRel", `-DWAMR_INTERP_FAST=${interpreter === "fast" ? 1 : 0}`,
    `-DFETCHCONTENT_FULLY_DISCONNECTED=${overrides.length ? "ON" : "OFF"}`, ...overrides];
  try {
    execFileSync("cmake", configure, { stdio: "pipe" });
    execFileSync("cmake", ["--build", dir], { stdio: "pipe" });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`building the firmware's Wasm host failed:\n${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? err.message}`);
  }
  const cache = readFileSync(join(dir, "CMakeCache.txt"), "utf8");
  const binary = join(dir, "test_wasm_host");
  const emulator = /WASM_HOST_RUN:INTERNAL=(.*)/.exec(cache)?.[1].trim();
  if (emulator) EMULATOR.set(binary, emulator);
  return { dir, binary, bits: /WASM_HOST_32BIT:BOOL=ON/.test(cache) ? 32 : 64 };
}

/** Binaries that run under an emulator (qemu-i386 on a kernel without 32-bit support; host-32bit.cmake). */
const EMULATOR = new Map<string, string>();

/** Runs a harness binary as CTest would: directly, or under its emulator, with glibc's per-thread
 * cache off (its heap figures come from mallinfo2, which counts that cache as in use). */
export function runBinary(binary: string, args: string[]): ReturnType<typeof spawnSync> {
  const emulator = EMULATOR.get(binary);
  const env = { ...process.env, GLIBC_TUNABLES: "glibc.malloc.tcache_count=0" };
  return emulator ? spawnSync(emulator, [binary, ...args], { encoding: "utf8", env }) : spawnSync(binary, args, { encoding: "utf8", env });
}

/** Runs one of the harness's CTest cases (wasm_host_<name>); its outcome and output. */
export function runCTest(dir: string, name: string): { ok: boolean; output: string } {
  const r = spawnSync("ctest", ["--test-dir", dir, "-R", `^wasm_host_${name}$`, "--output-on-failure", "--no-tests=error"], { encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Runs one case of the harness directly; its exit status and output. */
export function runCase(binary: string, name: string, ...args: string[]): { ok: boolean; output: string } {
  const r = runBinary(binary, [name, CORE, ...args]);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

export interface HostFigures {
  interpreter: Interpreter;
  /** Heap WAMR took for the core at start, besides its linear memory and the module copy (0 with a pool). */
  runtime: number;
  pool_peak: number;
  pool: number;
  linear: number;
  module_copy: number;
  native_stack: number;
  stack: number;
}

/** The figures load-and-run prints (runtime heap, pool, linear memory, module copy, native stack). */
export function hostFigures(output: string): HostFigures {
  const line = /FIGURES (\{.*\})/.exec(output);
  if (!line) throw new Error(`no figures in:\n${output}`);
  return JSON.parse(line[1]) as HostFigures;
}

/** Searches the least n (to 64 bytes) in (lo, hi] for which ok holds, ok(hi) being required. */
function least(lo: number, hi: number, ok: (n: number) => boolean): number {
  if (!ok(hi)) throw new Error(`the workload does not run even with ${hi} bytes`);
  while (hi - lo > 64) {
    const mid = Math.round((lo + hi) / 128) * 64;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The least Wasm stack with which the whole workload runs (WAMR on the heap, the default). */
export function leastStack(binary: string, stack: number): number {
  return least(0, 4 * stack, (n) => runCase(binary, "probe", String(n), "0").ok);
}

/**
 * The least pool (SCALE_WASM_POOL_KB, for a user who chooses one) with which the whole workload
 * runs: the true need, where WAMR's own high-water mark under-reports (see largest_block in the harness).
 */
export function leastPool(binary: string, stack: number, upper: number): number {
  return least(4096, upper, (n) => runCase(binary, "probe", String(stack), String(n)).ok);
}

export function coreBuilt(): boolean {
  return existsSync(CORE);
}
