// Builds the native engines (cmake-js), with WAMR and wasm3 from host/vendor.mjs (offline from
// the vendor folder, else fetched by CMake from upstream).
// With --optional a failed build only warns: the V8 engine needs none of this.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { repo, vendorOverrides } from "../../../vendor.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const optional = process.argv.includes("--optional");

try {
  const overrides = vendorOverrides().map((arg) => arg.replace(/^-D/, "--CD"));
  const cmakeJs = join(repo, "node_modules", "cmake-js", "bin", "cmake-js");
  execFileSync(process.execPath, [cmakeJs, "build", "--directory", here, "--out", join(repo, "build", "engines"), "--CDFETCHCONTENT_FULLY_DISCONNECTED=" + (overrides.length ? "ON" : "OFF"), ...overrides], {
    stdio: ["ignore", optional ? "ignore" : "inherit", "inherit"], cwd: repo,
  });
  console.log("native engines built: wamr-fast, wamr-classic, wasm3 (build/engines/Release)");
} catch (e) {
  if (!optional) throw e;
  console.warn(`wasm-scale: the native engines (WAMR, wasm3) were not built (${e.message.split("\n")[0]}); the V8 engine works without them. Run \`npm run build:engines\` to see why.`);
}
