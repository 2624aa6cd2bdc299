// Third-party sources for the desktop builds of WAMR and wasm3 (the native engines, the firmware's
// Wasm host on Linux). Offline, they come from the vendor folder (WASM_SCALE_VENDOR, default
// ../shared/vendor beside the repository), checked against the SHA-256 pinned in
// host/third-party.json and unpacked into build/vendor; CMake then takes them through
// FetchContent's standard override. Without a vendor folder CMake fetches them from upstream.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pins = JSON.parse(readFileSync(join(repo, "host", "third-party.json"), "utf8"));
/** FetchContent name -> its pin in host/third-party.json. */
const SOURCES = {
  WAMR: pins.wamr, WASM3: pins.wasm3, PICO_SDK: pins["pico-sdk"], PICOTOOL: pins.picotool,
  ESP_IDF: pins["esp-idf"], ESP_IDF_KCONFIG: pins["esp-idf-kconfig"], ESPTOOL: pins.esptool,
};

/** The vendor folder (WASM_SCALE_VENDOR, default ../shared/vendor), or null when there is none. */
export function vendorDir() {
  const vendor = process.env.WASM_SCALE_VENDOR ?? resolve(repo, "../shared/vendor");
  return existsSync(vendor) ? vendor : null;
}

/** A source from the vendor folder, checked and unpacked into build/vendor once: its folder. */
export function unpackVendor(name) {
  const vendor = vendorDir();
  if (!vendor) throw new Error(`no vendor folder (WASM_SCALE_VENDOR) for ${name}`);
  const out = join(repo, "build", "vendor");
  mkdirSync(out, { recursive: true });
  const { tarball: file, sha256: sha, folder } = SOURCES[name];
  const tarball = join(vendor, file);
  const target = join(out, folder);
  if (!existsSync(join(target, ".unpacked"))) {
    const digest = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    if (digest !== sha) throw new Error(`${tarball}: SHA-256 ${digest} is not the pinned ${sha}`);
    execFileSync("tar", ["xzf", tarball, "-C", out]);
    writeFileSync(join(target, ".unpacked"), sha);
  }
  return target;
}

/**
 * CMake arguments (-DFETCHCONTENT_SOURCE_DIR_<NAME>=dir ...) for the named sources, unpacked from
 * the vendor folder; [] when there is none. Throws on a tarball whose digest is not the pinned one.
 */
export function vendorOverrides(names = ["WAMR", "WASM3"]) {
  if (!vendorDir()) return [];
  return names.map((name) => `-DFETCHCONTENT_SOURCE_DIR_${name}=${unpackVendor(name)}`);
}
