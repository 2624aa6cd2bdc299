// npm run profile: where the core's instructions go, per function. The release core is built again
// with its function names (asc --debug keeps the optimisation, adds a name section), compiled to C
// by wasm2c at -O0 without inlining, so that each Wasm function is one C function whose cost
// follows the Wasm operations it executes, and run under callgrind by the instruction-count
// harness (host/desktop/engines/native/count). Needs Debian's wabt (wasm2c) and valgrind.
//   npm run profile -- [sample|publish] [N]
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("..", import.meta.url));
const out = join(repo, "build", "profile");
const mode = process.argv[2] === "publish" ? "publish" : "sample";
const n = Number(process.argv[3] ?? (mode === "sample" ? 20000 : 400));
const RT = ["/usr/share/wabt/wasm2c", "/usr/src/wasm2c"].find((d) => existsSync(join(d, "wasm-rt-impl.c")));
// Debian's wasm2c, which matches its wasm-rt-impl.c (npm's newer wabt is first on npm's PATH).
const WASM2C = ["/usr/bin/wasm2c", "/usr/local/bin/wasm2c"].find((p) => existsSync(p));
if (!RT || !WASM2C || spawnSync("valgrind", ["--version"]).status !== 0) {
  console.error("npm run profile needs wasm2c (apt-get install wabt) and valgrind");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
run(join(repo, "node_modules", ".bin", "asc"), ["assembly/index.ts", "--target", "release", "--debug",
  "--transform", "./host/align-heap-base.mjs", "-o", join(out, "core.wasm")]);
run(WASM2C, [join(out, "core.wasm"), "-n", "core", "-o", join(out, "core.c")]);
run("gcc", ["-O0", "-g", "-w", "-I", out, "-I", RT, "-c", join(out, "core.c"), "-o", join(out, "core.o")]);
run("gcc", ["-O1", "-g", "-w", "-I", RT, "-c", join(RT, "wasm-rt-impl.c"), "-o", join(out, "rt.o")]);
run("g++", ["-O1", "-g", "-w", "-DCOUNT_NATIVE=1", "-I", out, "-I", RT, join(repo, "host/desktop/engines/native/count/count.cc"),
  join(out, "core.o"), join(out, "rt.o"), "-o", join(out, "count_profile"), "-lm"]);
const cg = join(out, `${mode}.callgrind`);
run("valgrind", ["--tool=callgrind", `--callgrind-out-file=${cg}`, join(out, "count_profile"), join(out, "core.wasm"), mode, String(n)]);
const report = execFileSync("callgrind_annotate", ["--inclusive=no", cg], { encoding: "utf8" });
const rows = report.split("\n").map((l) => /^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+\S*core\.c:(\S+)/.exec(l)).filter((m) => m !== null);
const total = rows.reduce((a, m) => a + Number(m![1].replace(/,/g, "")), 0);
console.log(`${mode}: the core's own instructions (wasm2c -O0, so proportional to Wasm operations), per ${mode}, by function`);
for (const m of rows.slice(0, 25)) {
  const ir = Number(m![1].replace(/,/g, ""));
  const name = m![3].replace(/^w2c_/, "").replace(/^assembly_/, "");
  console.log(`${String(Math.round(ir / n)).padStart(8)}  ${(100 * ir / total).toFixed(1).padStart(5)} %  ${name}`);
}
