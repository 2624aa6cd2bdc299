// The Pico W host's desktop tests (host/pico-w/test): the flash store against a simulated NOR
// flash, and the firmware's wasm3 host with the release core and a hostile module, built with the
// vendored wasm3 and run by CTest; used by tests/pico-w.test.ts and the bench.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import wabtInit from "wabt";
import { repo, vendorOverrides } from "../host/vendor.mjs";
import { abi } from "../host/abi.js";

const SOURCE = join(repo, "host", "pico-w", "test");
export const PICO_HOST_DIR = join(repo, "build", "pico-host");
/** The same tests built 64-bit, for the calibration module harness (Debian's mbedTLS is 64-bit). */
export const PICO_MODULES_DIR = join(repo, "build", "pico-host-modules");

/** Builds the harness (incremental) and the hostile module; a reason when it cannot. */
export async function buildPicoHost(): Promise<string | null> {
  const overrides = vendorOverrides(["WASM3"]);
  if (overrides.length === 0 && !process.env.WASM_SCALE_ONLINE) return "no vendor folder with wasm3 (set WASM_SCALE_VENDOR, or WASM_SCALE_ONLINE=1 to fetch it)";
  mkdirSync(PICO_HOST_DIR, { recursive: true });
  const wabt = await wabtInit();
  const wat = readFileSync(join(SOURCE, "hostile.wat"), "utf8").replace("(i32.const ABI_VERSION)", `(i32.const ${abi.version})`);
  writeFileSync(join(PICO_HOST_DIR, "hostile.wasm"), wabt.parseWat("hostile.wat", wat).toBinary({}).buffer);
  try {
    execFileSync("cmake", ["-S", SOURCE, "-B", PICO_HOST_DIR, `-DFETCHCONTENT_FULLY_DISCONNECTED=${overrides.length ? "ON" : "OFF"}`, ...overrides], { stdio: "pipe" });
    execFileSync("cmake", ["--build", PICO_HOST_DIR, "-j", "2"], { stdio: "pipe" });
    execFileSync("cmake", ["-S", SOURCE, "-B", PICO_MODULES_DIR, "-DWASM_HOST_32BIT=OFF", `-DFETCHCONTENT_FULLY_DISCONNECTED=${overrides.length ? "ON" : "OFF"}`, ...overrides], { stdio: "pipe" });
    execFileSync("cmake", ["--build", PICO_MODULES_DIR, "-j", "2", "--target", "test_pico_modules"], { stdio: "pipe" });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    throw new Error(`building the Pico W host's tests failed:\n${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? err.message}`);
  }
  return null;
}

/** Runs one CTest case (pico_store, pico_host_core, pico_host_hostile). */
export function runPicoCase(name: string): { ok: boolean; output: string } {
  const r = spawnSync("ctest", ["--test-dir", PICO_HOST_DIR, "-R", `^${name}$`, "--output-on-failure", "--no-tests=error", "-V"], { encoding: "utf8" });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** The calibration module harness (test_pico_modules), built by buildPicoHost. */
export function picoModulesBinary(): string {
  return join(PICO_MODULES_DIR, "test_pico_modules");
}

/** What wasm3 allocates for the core (linear memory, stack, compiled code), at the peak. */
export function picoWasm3Bytes(output: string): number | null {
  const m = /wasm3 RAM for the core: \d+ bytes now, (\d+) at the peak/.exec(output);
  return m ? Number(m[1]) : null;
}
