// The ESP-IDF host checked here, without ESP-IDF: its natives table, signatures and export calls
// against assembly/abi.json, its generated header, and the settings a reviewer would look for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync, cpSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { abi, wamrSignature } from "../host/abi.js";
import { generateC, generatedCPath } from "../host/gen-abi.js";

const root = fileURLToPath(new URL("../host/esp-idf/", import.meta.url));
const read = (path: string) => readFileSync(root + path, "utf8");
const macro = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "_");

test("scale_abi.h is generated from the current abi.json", () => {
  assert.equal(readFileSync(generatedCPath, "utf8"), generateC(), "run `npm run abi`");
});

test("the WAMR natives table has every import of the ABI, with the ABI's signature and module", () => {
  const src = read("components/wasm_host/wasm_host.c");
  const tables = new Map<string, string>(); // table variable -> module it is registered under
  for (const m of src.matchAll(/wasm_runtime_register_natives\((SCALE_ABI_MODULE_\w+), (s_\w+),/g)) {
    const header = readFileSync(generatedCPath, "utf8");
    const module = new RegExp(`#define ${m[1]} "(\\w+)"`).exec(header)![1];
    tables.set(m[2], module);
  }
  const found: string[] = [];
  for (const [table, module] of tables) {
    const body = new RegExp(`static NativeSymbol ${table}\\[\\] = \\{([\\s\\S]*?)\\n\\};`).exec(src)![1];
    for (const e of body.matchAll(/\{"(\w+)", \(void \*\)(\w+), (SCALE_ABI_SIG_\w+), NULL\}/g)) {
      const [, name, fn, sig] = e;
      const imp = abi.imports.find((i) => i.module === module && i.name === name);
      assert.ok(imp, `native ${module}.${name} is not in the ABI`);
      assert.equal(sig, `SCALE_ABI_SIG_${macro(module)}_${macro(name)}`, `${module}.${name} uses its own signature`);
      // exec_env first, then one C parameter per ABI parameter
      const decl = new RegExp(`static \\w+ \\*?${fn}\\(wasm_exec_env_t env([^)]*)\\)`).exec(src);
      assert.ok(decl, `native function ${fn} defined`);
      const params = decl[1].split(",").filter((p) => p.trim()).length;
      assert.equal(params, (imp.params ?? []).length, `${fn} takes the ABI's parameters`);
      assert.match(wamrSignature(imp), /^\(/);
      found.push(`${module}.${name}`);
    }
  }
  assert.deepEqual(found.sort(), abi.imports.map((i) => `${i.module}.${i.name}`).sort());
});

test("every export the firmware calls exists, with the ABI's argument count", () => {
  const sources = ["main/main.c", "main/battery.c", "main/app.c", "components/wasm_host/wasm_host.c"].map(read).join("\n");
  let calls = 0;
  for (const m of sources.matchAll(/wasm_host_call_i\(SCALE_EXPORT_(\w+), (\d+)/g)) {
    const ex = abi.exports.find((e) => macro(e.name) === m[1]);
    assert.ok(ex, `SCALE_EXPORT_${m[1]} is not an export`);
    assert.equal(Number(m[2]), (ex.params ?? []).length, `${ex.name} takes ${(ex.params ?? []).length} arguments`);
    calls++;
  }
  // The state stream's calls, shared by both firmwares (scale_portable.c), by name.
  const portable = readFileSync(new URL("../host/scale_portable/scale_portable.c", import.meta.url), "utf8");
  for (const m of portable.matchAll(/core->call\("(\w+)", (\d+)/g)) {
    const ex = abi.exports.find((e) => e.name === m[1]);
    assert.ok(ex, `${m[1]} is not an export`);
    assert.equal(Number(m[2]), (ex.params ?? []).length, `${ex.name} takes ${(ex.params ?? []).length} arguments`);
    calls++;
  }
  assert.ok(calls >= 20, `${calls} calls checked`);
});

test("the firmware keeps SNI and verifies the broker; TLS and WAMR settings are as documented", () => {
  const all = ["main/main.c", "components/scale_net/mqtt_link.c"].map(read).join("\n");
  assert.doesNotMatch(all, /skip_cert_common_name_check\s*=\s*true/);
  assert.match(all, /crt_bundle_attach = esp_crt_bundle_attach/);
  const defaults = read("sdkconfig.defaults");
  for (const line of [
    "CONFIG_MQTT_PROTOCOL_5=y", "CONFIG_MBEDTLS_CERTIFICATE_BUNDLE=y", "CONFIG_WAMR_INTERP_CLASSIC=y",
    "CONFIG_FREERTOS_USE_TRACE_FACILITY=y",
    "# CONFIG_WAMR_ENABLE_AOT is not set", "# CONFIG_WAMR_ENABLE_LIBC_WASI is not set",
    "# CONFIG_WAMR_ENABLE_LIB_PTHREAD is not set", "# CONFIG_WAMR_ENABLE_MULTI_MODULE is not set",
    "CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN=16384", "CONFIG_PARTITION_TABLE_CUSTOM=y",
  ]) assert.ok(defaults.split("\n").includes(line), `sdkconfig.defaults: ${line}`);
  // WAMR >= 2.4.0 for instruction metering; ESP-IDF 5.x, where esp-mqtt is part of IDF.
  assert.match(read("main/idf_component.yml"), /espressif\/wasm-micro-runtime: ">=2\.4\.0,<3\.0\.0"/);
  assert.match(read("main/idf_component.yml"), /idf: ">=5\.1,<6\.0"/);
  assert.match(read("CMakeLists.txt"), /FATAL_ERROR[\s\S]*npm run asbuild/);
  assert.match(read("main/CMakeLists.txt"), /EMBED_FILES \$\{embed\}/);
  const parts = read("partitions.csv").split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(",").map((s) => s.trim()));
  const end = parts.reduce((a, p) => Math.max(a, Number(p[3]) + Number(p[4])), 0);
  assert.ok(end <= 4 * 1024 * 1024, "partitions fit 4 MB flash");
  for (let i = 1; i < parts.length; i++) assert.equal(Number(parts[i][3]), Number(parts[i - 1][3]) + Number(parts[i - 1][4]), `${parts[i][0]} follows ${parts[i - 1][0]}`);
});

test("Kconfig offers every setting the firmware reads", () => {
  const kconfig = read("main/Kconfig.projbuild");
  const used = new Set([...["main/main.c", "components/wasm_host/wasm_host.c"].map(read).join("\n").matchAll(/CONFIG_(SCALE_\w+)/g)].map((m) => m[1]));
  for (const name of used) assert.match(kconfig, new RegExp(`config ${name}\\b`), `Kconfig lacks ${name}`);
});

// The firmware's C against the real ESP-IDF 5.1.6 and 5.5.4 headers and Kconfig, the oldest and newest
// versions idf_component.yml allows (host/esp-idf/tools/check_build.py).
// CI installs the compiler and sets WASM_SCALE_REQUIRE_ESP_IDF_CHECK, so there a missing tool fails.
const checkScript = root + "tools/check_build.py";
const haveXtensa = spawnSync("xtensa-lx106-elf-gcc", ["--version"]).status === 0;
const skipCheck = !haveXtensa && !process.env.WASM_SCALE_REQUIRE_ESP_IDF_CHECK && "xtensa-lx106-elf-gcc not installed (apt-get install gcc-xtensa-lx106 libnewlib-dev)";

function check(project?: string): { status: number | null; out: string } {
  const r = spawnSync("python3", [checkScript, "--keep-going"], {
    encoding: "utf8", env: { ...process.env, ...(project ? { WASM_SCALE_ESP_IDF_PROJECT: project } : {}) },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

test("the firmware compiles against ESP-IDF 5.1.6's and 5.5.4's headers and its sdkconfig has what it needs", { skip: skipCheck, timeout: 600_000 }, () => {
  const r = check();
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /ESP-IDF 5\.1\.6 and 5\.5\.4 check: .*22 C files of 10 components compile with -Wall -Wextra -Werror against each/);
});

test("the ESP-IDF check fails on a wrong field, a missing REQUIRES and a lost sdkconfig value", { skip: skipCheck, timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), "wasm-scale-idf-"));
  // The project and, beside it as in host/, the shared components it names in EXTRA_COMPONENT_DIRS.
  const copy = join(work, "esp-idf");
  try {
    cpSync(root, copy, { recursive: true, filter: (p) => !p.includes(`${sep}build`) });
    cpSync(join(root, "..", "scale_portable"), join(work, "scale_portable"), { recursive: true });
    cpSync(join(root, "..", "module_host"), join(work, "module_host"), { recursive: true });
    const edit = (path: string, from: string | RegExp, to: string) => {
      const before = readFileSync(join(copy, path), "utf8");
      const after = before.replace(from, to);
      assert.notEqual(after, before, `${path}: nothing to break`);
      writeFileSync(join(copy, path), after);
    };
    edit("components/scale_net/mqtt_link.c", ".broker.address.uri", ".broker.address.urii");
    edit("components/wasm_host/CMakeLists.txt", "PRIV_REQUIRES espressif__wasm-micro-runtime", "");
    edit("sdkconfig.defaults", "CONFIG_FREERTOS_HZ=1000", "");
    const r = check(copy);
    assert.equal(r.status, 1, r.out);
    // Each failure names the version it failed against.
    assert.match(r.out, /mqtt_link\.c does not compile against ESP-IDF 5\.1\.6[\s\S]*urii/);
    assert.match(r.out, /mqtt_link\.c does not compile against ESP-IDF 5\.5\.4[\s\S]*urii/);
    assert.match(r.out, /wasm_host\.c does not compile[\s\S]*wasm_export\.h/);
    assert.match(r.out, /ESP-IDF 5\.1\.6: sdkconfig: CONFIG_FREERTOS_HZ is 100, the firmware needs 1000/);
    assert.match(r.out, /ESP-IDF 5\.5\.4: sdkconfig: CONFIG_FREERTOS_HZ is 100, the firmware needs 1000/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("the firmware's calibration module budgets are abi.json's (every other limit is the module manager's)", () => {
  const header = read("components/cal_module/include/cal_module.h");
  const define = (name: string) => Number(new RegExp(`#define ${name} (\\d+)`).exec(header)?.[1]);
  const m = abi.calibration_module;
  assert.equal(define("CAL_MODULE_BUDGET_EVAL"), m.budget.eval.instructions);
  assert.equal(define("CAL_MODULE_BUDGET_FIT"), m.budget.fit.instructions);
  assert.equal(define("CAL_MODULE_BUDGET_OTHER"), m.budget.other.instructions);
});

test("main.c, battery.c and app.c call downward only: main uses battery and app, battery uses app, app neither", () => {
  const main = readFileSync(join(root, "main", "main.c"), "utf8");
  const battery = readFileSync(join(root, "main", "battery.c"), "utf8");
  const app = readFileSync(join(root, "main", "app.c"), "utf8");
  // Functions main.c offers others: app_main alone (ESP-IDF's entry), everything else static.
  const exported = [...main.matchAll(/^(?!static)[a-z][\w ]*?\b(\w+)\(.*\)\s*$/gm)].map((m) => m[1]).filter((n) => n !== "if");
  assert.deepEqual(exported, ["app_main"], `main.c defines non-static functions: ${exported.join(", ")}`);
  assert.doesNotMatch(app, /\bbattery_\w+\(/, "app.c calls into battery.c");
  assert.doesNotMatch(app, /#include "battery\.h"/);
  assert.doesNotMatch(battery.replace(/\/\*[\s\S]*?\*\//g, ""), /\bapp_main\(/, "battery.c calls app_main");
});
