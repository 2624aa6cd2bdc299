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

/** Runs a harness binary as CTest would: directly, or under its emulator. */
export function runBinary(binary: string, args: string[]): ReturnType<typeof spawnSync> {
  const emulator = EMULATOR.get(binary);
  return emulator ? spawnSync(emulator, [binary, ...args], { encoding: "utf8" }) : spawnSync(binary, args, { encoding: "utf8" });
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
  pool_peak: number;
  pool: number;
  linear: number;
  module_copy: number;
  native_stack: number;
  stack: number;
}

/** The figures load-and-run prints (pool peak, linear memory, module copy, native stack). */
export function hostFigures(output: string): HostFigures {
  const line = /FIGURES (\{.*\})/.exec(output);
  if (!line) throw new Error(`no figures in:\n${output}`);
  return JSON.parse(line[1]) as HostFigures;
}

/**
 * The least Wasm stack and the least pool (bytes, to 64) with which the whole workload runs: the
 * true need, where WAMR's own high-water mark under-reports (see largest_block in the harness).
 */
export function leastThatWorks(binary: string, defaults: { stack: number; pool: number }): { stack: number; pool: number } {
  const works = (stack: number, pool: number) => runCase(binary, "probe", String(stack), String(pool)).ok;
  const search = (lo: number, hi: number, ok: (n: number) => boolean) => {
    if (!ok(hi)) throw new Error(`the workload does not run even with ${hi} bytes`);
    while (hi - lo > 64) {
      const mid = Math.round((lo + hi) / 128) * 64;
      if (ok(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  };
  const stack = search(0, 4 * defaults.stack, (n) => works(n, 2 * defaults.pool));
  const pool = search(4096, 2 * defaults.pool, (n) => works(defaults.stack, n));
  return { stack, pool };
}

export function coreBuilt(): boolean {
  return existsSync(CORE);
}
