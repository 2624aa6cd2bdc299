// Builds the native engines (cmake-js). Offline, the third-party sources come from the vendor
// folder (WASM_SCALE_VENDOR, default ../shared/vendor beside the repository), checked against
// their SHA-256 and unpacked into build/vendor; otherwise CMake fetches them from upstream.
// With --optional a failed build only warns: the V8 engine needs none of this.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../../..");
const optional = process.argv.includes("--optional");
const pins = JSON.parse(readFileSync(join(repo, "host", "third-party.json"), "utf8"));
/** FetchContent name -> its pin in host/third-party.json. */
const SOURCES = { WAMR: pins.wamr, WASM3: pins.wasm3 };

function vendorOverrides() {
  const vendor = process.env.WASM_SCALE_VENDOR ?? resolve(repo, "../shared/vendor");
  if (!existsSync(vendor)) return [];
  const out = join(repo, "build", "vendor");
  mkdirSync(out, { recursive: true });
  return Object.entries(SOURCES).map(([name, { tarball: file, sha256: sha, folder }]) => {
    const tarball = join(vendor, file);
    const target = join(out, folder);
    if (!existsSync(join(target, ".unpacked"))) {
      const digest = createHash("sha256").update(readFileSync(tarball)).digest("hex");
      if (digest !== sha) throw new Error(`${tarball}: SHA-256 ${digest} is not the pinned ${sha}`);
      execFileSync("tar", ["xzf", tarball, "-C", out]);
      writeFileSync(join(target, ".unpacked"), sha);
    }
    return `--CDFETCHCONTENT_SOURCE_DIR_${name}=${target}`;
  });
}

try {
  const overrides = vendorOverrides();
  const cmakeJs = join(repo, "node_modules", "cmake-js", "bin", "cmake-js");
  execFileSync(process.execPath, [cmakeJs, "build", "--directory", here, "--out", join(repo, "build", "engines"), "--CDFETCHCONTENT_FULLY_DISCONNECTED=" + (overrides.length ? "ON" : "OFF"), ...overrides], {
    stdio: ["ignore", optional ? "ignore" : "inherit", "inherit"], cwd: repo,
  });
  console.log("native engines built: wamr-fast, wamr-classic, wasm3 (build/engines/Release)");
} catch (e) {
  if (!optional) throw e;
  console.warn(`wasm-scale: the native engines (WAMR, wasm3) were not built (${e.message.split("\n")[0]}); the V8 engine works without them. Run \`npm run build:engines\` to see why.`);
}
