// The Pico W host: its wasm3 natives and export calls against assembly/abi.json, and the firmware
// built to a .uf2 with the Pico SDK (offline from ../shared/vendor) and Debian's arm-none-eabi gcc.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync, statSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { abi } from "../host/abi.js";
import { buildPicoHost, runPicoCase, picoWasm3Bytes, picoModulesBinary } from "./pico-host.js";
import { corePackage, rebuilt, trappingCore, refusedCores } from "./core-fixtures.js";
import { trusted, signedExample, wat, handPacked, refusedPackages, failingInService } from "./module-fixtures.js";
import { EmulatedPico, bootromPath } from "./pico-emulator.js";
import { VirtualScale } from "../host/desktop/virtual-scale.js";
import { parseScenario } from "../host/desktop/scenario.js";

const root = fileURLToPath(new URL("../host/pico-w/", import.meta.url));
const repo = fileURLToPath(new URL("../", import.meta.url));
const read = (path: string) => readFileSync(root + path, "utf8");
const macro = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "_");

/** wasm3's signature of an ABI import: result letter (v for none), then a letter per parameter, '*' for a pointer. */
function wasm3Signature(fn: (typeof abi.imports)[number]): string {
  const letter = (t: string) => ({ i32: "i", i64: "I", f32: "f", f64: "F" })[t]!;
  const params = (fn.params ?? []).map((p) => (p.kind === "ptr" ? "*" : letter(p.type))).join("");
  return `${fn.result ? letter(fn.result.type) : "v"}(${params})`;
}

test("the Pico W's wasm3 natives are the ABI's imports, with the ABI's signatures", () => {
  const src = read("components/wasm_host/wasm_host.c");
  const table = /NATIVES\[\] = \{([\s\S]*?)\n\};/.exec(src)![1];
  const found: string[] = [];
  for (const [, module, name, sig, fn] of table.matchAll(/\{"(\w+)", "(\w+)", "([^"]+)", (\w+)\}/g)) {
    const imp = abi.imports.find((i) => i.module === module && i.name === name);
    assert.ok(imp, `native ${module}.${name} is not in the ABI`);
    assert.equal(sig, wasm3Signature(imp), `${module}.${name}'s signature`);
    // One m3ApiGetArg / m3ApiGetArgMem per ABI parameter, in the function that implements it.
    const body = new RegExp(`m3ApiRawFunction\\(${fn}\\)\\s*\\{([\\s\\S]*?)\\n\\}`).exec(src);
    assert.ok(body, `${fn} is defined`);
    const args = [...body[1].matchAll(/m3ApiGetArg(Mem)?\(/g)].map((m) => (m[1] ? "*" : "v"));
    assert.deepEqual(args, (imp.params ?? []).map((p) => (p.kind === "ptr" ? "*" : "v")), `${fn} reads the ABI's parameters, pointers checked as memory`);
    for (const p of (imp.params ?? []).filter((q) => q.kind === "ptr")) assert.match(body[1], new RegExp(`m3ApiCheckMem\\(${p.name},`), `${fn} bounds-checks ${p.name}`);
    found.push(`${module}.${name}`);
  }
  assert.deepEqual(found.sort(), abi.imports.map((i) => `${i.module}.${i.name}`).sort());
});

test("every export the Pico W firmware calls exists, with the ABI's argument count", () => {
  const sources = ["main.c", "components/wasm_host/wasm_host.c"].map(read).join("\n");
  let calls = 0;
  for (const m of sources.matchAll(/wasm_host_call_i\((?:SCALE_EXPORT_(\w+)|"(\w+)"), (\d+)/g)) {
    const ex = abi.exports.find((e) => macro(e.name) === m[1] || e.name === m[2]);
    assert.ok(ex, `${m[1] ?? m[2]} is not an export`);
    assert.equal(Number(m[3]), (ex.params ?? []).length, `${ex.name} takes ${(ex.params ?? []).length} arguments`);
    calls++;
  }
  for (const [name, args] of [["config_set", 2], ["config_get", 1]] as const) {
    assert.match(sources, new RegExp(`call\\("${name}", ${args},`), `${name} is called with ${args} arguments`);
    assert.equal(abi.exports.find((e) => e.name === name)!.params!.length, args);
  }
  assert.ok(calls >= 12, `${calls} calls checked`);
});

test("the Pico W verifies the broker, sends SNI, sets the clock before TLS and bounds every call", () => {
  const link = read("components/net/mqtt_link.c");
  assert.match(link, /mbedtls_ssl_set_hostname\(altcp_tls_context\(s_client->conn\), s_config\.host\)/);
  assert.match(link, /net_clock_epoch\(\) == 0\) return;/, "no TLS before SNTP");
  assert.match(read("config/lwipopts.h"), /#define ALTCP_MBEDTLS_AUTHMODE MBEDTLS_SSL_VERIFY_REQUIRED/);
  assert.match(read("main.c"), /watchdog_enable\(WATCHDOG_MS, true\)/);
  assert.match(read("components/hx711_pio/hx711.pio"), /side 1 \[4\][\s\S]*in pins, 32\s+side 1 \[4\]/, "the clock's high phase is fixed by the PIO program");
});

test("the Pico W host on the desktop: the store survives power cuts; the core runs in its wasm3 host; a hostile module is refused; the button's edges reach the core", async (t) => {
  if (!(await picoHostBuilt(t))) return;
  const store = runPicoCase("pico_store");
  assert.ok(store.ok, store.output);
  assert.match(store.output, /power cuts survived/);
  const core = runPicoCase("pico_host_core");
  assert.ok(core.ok, core.output);
  const bytes = picoWasm3Bytes(core.output)!;
  t.diagnostic(`wasm3 RAM for the core: ${bytes} bytes at the peak`);
  assert.ok(bytes > 22_000 && bytes < 120 * 1024, `${bytes} bytes`);
  const hostile = runPicoCase("pico_host_hostile");
  assert.ok(hostile.ok, hostile.output);
  const button = runPicoCase("pico_host_button");
  assert.ok(button.ok, button.output);
  assert.match(button.output, /a bouncing press tared once, a glitch did nothing/);
});

/** Builds the Pico W's host for the desktop; false (the test skipped) when it cannot, which CI's WASM_SCALE_REQUIRE_PICO fails. */
async function picoHostBuilt(t: { skip(why: string): void }): Promise<boolean> {
  const why = await buildPicoHost();
  if (!why) return true;
  if (process.env.WASM_SCALE_REQUIRE_PICO) assert.fail(why);
  t.skip(why);
  return false;
}

/** The Pico W's module harness (test_pico_modules) with the test's trusted key: packages written to files, a case run and its output. */
function modulesHarness(): { work: string; file: (bytes: Uint8Array) => string; run: (...args: string[]) => string } {
  const work = mkdtempSync(join(tmpdir(), "wasm-scale-picomod-"));
  const key = join(work, "trusted.pub");
  writeFileSync(key, trusted.pub.export({ type: "spki", format: "pem" }) as string);
  let n = 0;
  const file = (bytes: Uint8Array) => {
    const path = join(work, `p${n++}.pkg`);
    writeFileSync(path, bytes);
    return path;
  };
  const run = (...args: string[]) => {
    const r = spawnSync(picoModulesBinary(), [args[0], join(repo, "build", "release.wasm"), key, ...args.slice(1)], { encoding: "utf8" });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `${args.join(" ")}:\n${output}`);
    return output;
  };
  return { work, file, run };
}

test("the Pico W host on the desktop: calibration modules through the one manager, wasm3 and the flash slots: installed, refused, rolled back, kept across restarts", async (t) => {
  if (!(await picoHostBuilt(t))) return;
  const { work, file, run } = modulesHarness();
  try {
    for (const name of ["temperature", "table", "corners"]) assert.match(run("install", file(signedExample(name)), "accepted"), /install accepted/);
    for (const [what, pkg, reason] of refusedPackages()) {
      assert.match(run("install", file(pkg), reason), new RegExp(`(install|end) rejected ${reason}`), what);
    }
    for (const [what, body, reason] of failingInService()) {
      assert.match(run("service", file(handPacked(wat({ body }))), reason), new RegExp(`rolled back \\(${reason}\\)`), what);
    }
    const slots = run("slots", file(signedExample("table")), file(signedExample("corners")));
    assert.match(slots, /restored table after a restart/);
    assert.match(slots, /sector erases; the slots read back from flash after each restart/);
    t.diagnostic(slots.split("\n").filter((l) => /erases/.test(l)).join(" "));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("the Pico W host on the desktop: the core itself sent over the air through the one manager into its flash slots: swapped in with its state, refused, rolled back on a trap, kept across restarts", async (t) => {
  if (!(await picoHostBuilt(t))) return;
  const { work, file, run } = modulesHarness();
  try {
    assert.match(run("core", file(corePackage(rebuilt(), "0.2.1")), "accepted", "000201"), /install accepted\nconfirm accepted/);
    assert.match(run("core-kept", file(corePackage(rebuilt(), "0.2.1")), "000201"), /core 0\.2\.1 kept across a restart \(slot c\)/);
    for (const [what, pkg, reason] of refusedCores()) {
      assert.match(run("core", file(pkg), reason, "0"), new RegExp(`(install|end) rejected ${reason}`), what);
    }
    const trial = run("core-trial", file(corePackage(trappingCore(100), "0.3.0")), file(corePackage(rebuilt(), "0.3.1")));
    assert.match(trial, /rolled back \(TRAPPED\) with \d+ readings, none lost: rolled back \(TRAPPED: scale_sample: \[trap\] unreachable executed\): the firmware's own core 0\.2\.0 weighs now/);
    assert.match(trial, /rollback accepted UNCONFIRMED/);
    assert.match(trial, /rollback rejected NO_PREVIOUS/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

const toolchain = spawnSync("arm-none-eabi-gcc", ["--version"]).status === 0;
const vendor = existsSync(process.env.WASM_SCALE_VENDOR ?? `${repo}../shared/vendor`);
const skip = process.env.WASM_SCALE_REQUIRE_PICO ? false
  : !toolchain ? "no arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)"
  : !vendor ? "no vendor folder with the Pico SDK (see docs/pico-w.md)" : false;

test("the Pico W firmware builds to a .uf2 for the RP2040, with the core, wasm3, TLS, MQTT and SNTP in it", { skip, timeout: 30 * 60_000 }, () => {
  const r = spawnSync(process.execPath, [`${root}build.mjs`, "-DWIFI_SSID=example-network", "-DSCALE_BROKER_HOST=broker.example.com",
    "-DSCALE_HX711_CLK_PINS=18,20", "-DSCALE_HX711_DOUT_PINS=19,21"], { encoding: "utf8", cwd: repo });
  assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  const uf2 = readFileSync(`${repo}build/pico-w/wasm_scale.uf2`);
  // UF2 blocks of 512 bytes: magic numbers, and the RP2040's family id.
  assert.equal(uf2.length % 512, 0);
  assert.equal(uf2.readUInt32LE(0), 0x0a324655);
  assert.equal(uf2.readUInt32LE(4), 0x9e5d5157);
  assert.equal(uf2.readUInt32LE(28), 0xe48bff56, "family RP2040");
  const elf = `${repo}build/pico-w/wasm_scale.elf`;
  const size = spawnSync("arm-none-eabi-size", [elf], { encoding: "utf8" }).stdout.split("\n")[1].trim().split(/\s+/).map(Number);
  const [text, data, bss] = size;
  assert.ok(text > 300_000 && text < 2 * 1024 * 1024, `flash ${text} bytes (2 MB on a Pico W)`);
  assert.ok(data + bss < 100 * 1024, `static RAM ${data + bss} bytes of 264 KB`);
  const symbols = spawnSync("arm-none-eabi-nm", [elf], { encoding: "utf8" }).stdout;
  for (const s of ["mqtt_client_connect", "m3_LoadModule", "hx711_pio_clock_in", "mbedtls_ssl_set_hostname", "sntp_init", "watchdog_enable", "scale_wasm_heap_base", "scale_core_wasm"]) {
    assert.match(symbols, new RegExp(` ${s}$`, "m"), `${s} is linked`);
  }
  assert.ok(statSync(`${repo}build/release.wasm`).size < text, "the core is embedded");
});

test("the Pico W image, unmodified, on an emulated RP2040 whose WiFi chip never answers: readings at the configured rate", { skip: skip || (bootromPath() ? false : "no RP2040 boot ROM in the vendor folder"), timeout: 10 * 60_000 }, async (t) => {
  // The image the build test above made: two chips, each on its own clock (18/19 and 20/21), 10 SPS.
  const uf2 = readFileSync(`${repo}build/pico-w/wasm_scale.uf2`);
  const world = await VirtualScale.create(parseScenario({ rate: 10, cells: 2, sharedClock: false, events: [{ type: "load", at: 1, kg: 4 }] }), { seed: 2 });
  const emu = new EmulatedPico(uf2, [{ chip: world.chips[0], clk: 18, dout: 19 }, { chip: world.chips[1], clk: 20, dout: 21 }]);
  emu.runUntil(10e6);
  assert.ok(emu.lines.some((l) => /CYW43 did not start/.test(l)), `no word of the WiFi chip:\n${emu.lines.slice(0, 20).join("\n")}`);
  // The console shows a reading a second, with its sequence number: the rate is in the numbers.
  const shown = emu.lines.map((l) => /^\s*(\d+) ms\s+#(\d+)\s+[-\d.]+ kg/.exec(l)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ ms: Number(m[1]), seq: Number(m[2]) }));
  assert.ok(shown.length >= 5, `${shown.length} readings shown:\n${emu.lines.slice(-20).join("\n")}`);
  const first = shown[0];
  const last = shown[shown.length - 1];
  const rate = ((last.seq - first.seq) * 1000) / (last.ms - first.ms);
  t.diagnostic(`${last.seq} readings by ${last.ms} ms: ${rate.toFixed(2)} a second without a WiFi chip; CPU ${(100 * emu.runCycles / (emu.runCycles + emu.sleepCycles)).toFixed(1)} %`);
  assert.ok(Math.abs(rate - 10) < 0.3, `${rate.toFixed(2)} readings a second at 10 SPS`);
  // Provisioning on the console UART, through the image's interrupt ring and settings_pico.c: the
  // line protocol answers, refuses a bad value with its reason, and reads the build's settings back.
  // (Flash writes are not emulated: tests/provision.test.ts commits through store_settings.c.)
  const ask = (line: string, answer: RegExp): string | undefined => {
    const from = emu.lines.length;
    emu.typeLine(line);
    emu.runUntil(emu.nowUs + 2e6, () => emu.lines.slice(from).some((l) => answer.test(l)));
    return emu.lines.slice(from).find((l) => answer.test(l));
  };
  assert.ok(ask("hello", /^prov ok \{"firmware":"wasm-scale","version":"[^"]*","chip":"rp2040","protocol":1\}$/), emu.lines.slice(-10).join("\n"));
  assert.ok(ask("set device_id hive/7", /^prov err BAD_VALUE device_id: the device id may use only A-Z a-z 0-9 _ -$/), emu.lines.slice(-10).join("\n"));
  assert.ok(ask("get", /^prov ok \{"stored":false,"wifi_ssid":null,.*"staged":\[\]\}$/), emu.lines.slice(-10).join("\n"));
  const after = emu.lines.length;
  emu.runUntil(emu.nowUs + 2e6);
  assert.ok(emu.lines.slice(after).some((l) => /^\s*\d+ ms\s+#\d+/.test(l)), "sampling went on while the console was spoken to");
});

test("the same firmware builds for the Pico 2 W (RP2350, Cortex-M33 with a single-precision FPU)", { skip, timeout: 30 * 60_000 }, () => {
  const r = spawnSync(process.execPath, [`${root}build.mjs`, "--pico2w", "-DWIFI_SSID=example-network", "-DSCALE_BROKER_HOST=broker.example.com"], { encoding: "utf8", cwd: repo });
  assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  const uf2 = readFileSync(`${repo}build/pico2-w/wasm_scale.uf2`);
  assert.equal(uf2.length % 512, 0);
  assert.equal(uf2.readUInt32LE(0), 0x0a324655);
  const elf = `${repo}build/pico2-w/wasm_scale.elf`;
  const attributes = spawnSync("arm-none-eabi-readelf", ["-A", elf], { encoding: "utf8" }).stdout;
  assert.match(attributes, /Tag_CPU_arch: v8-M\.mainline/, "built for the Cortex-M33");
  assert.match(attributes, /Tag_ABI_HardFP_use: SP only/, "f32 in the FPU");
  const [text, data, bss] = spawnSync("arm-none-eabi-size", [elf], { encoding: "utf8" }).stdout.split("\n")[1].trim().split(/\s+/).map(Number);
  assert.ok(text > 300_000 && text < 4 * 1024 * 1024, `flash ${text} bytes (4 MB on a Pico 2 W)`);
  assert.ok(data + bss < 100 * 1024, `static RAM ${data + bss} bytes of 520 KB`);
});
