// npm run bench: figures for the core and the desktop host (`-- --json` for one JSON object).
// Counts and ratios are exact; samples per second is the best of three runs (machines are noisy).
import { parseArgs } from "node:util";
import { readFileSync, rmSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { releaseWasm, scaleFor } from "./helpers.js";
import { code } from "../host/abi.js";
import { makePki, startMosquitto, MOSQUITTO } from "./brokers.js";
import { startBroker } from "../host/desktop/mqtt/broker.js";
import { MqttLink } from "../host/desktop/mqtt/link.js";
import { resolveConnection } from "../host/desktop/mqtt/config.js";
import { Device } from "../host/desktop/device.js";
import { ENGINES, available, type EngineName } from "../host/desktop/engines/engine.js";
import { instructionCounts } from "./bench-instructions.js";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { ModuleManager, managerWasmPath, coreManagerWasmPath } from "../host/desktop/modules/manager.js";
import { packageModule } from "../host/desktop/modules/build.js";
import { decodePackage, generateSigningKey, signPackage } from "../host/desktop/modules/package.js";
import { buildPicoHost, runPicoCase, picoWasm3Bytes } from "./pico-host.js";
import { simulateBattery } from "../host/desktop/battery/simulate.js";
import { parseScenario } from "../host/desktop/scenario.js";
import { INTERPRETERS, buildFirmwareHost, runCase, hostFigures, leastStack, leastPool, type Interpreter, type HostFigures } from "./firmware-host.js";
import { heapBudget } from "./heap-budget.js";
import { bootromPath, emulatorBuild, measurePico } from "./pico-emulator.js";
import { esp32c3Missing, measureEsp32c3 } from "./esp32c3-qemu.js";
import { VirtualScale } from "../host/desktop/virtual-scale.js";
import { coreUpdateOverMqtt, coreSwapHeap } from "./bench-core.js";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, samples: { type: "string", default: "1000000" } } });
const SAMPLES = Number(values.samples);

/** The table example, built by npm run asbuild, signed here with a key made for the run, and installed. */
function installTable(scale: Awaited<ReturnType<typeof scaleFor>>): void {
  const key = generateSigningKey();
  const built = packageModule(readFileSync(new URL("../build/modules/table.wasm", import.meta.url)), readFileSync(new URL("../modules/table/module.json", import.meta.url), "utf8"), "table");
  const signed = signPackage(decodePackage(built.bytes), createPrivateKey(key.privatePem));
  const manager = new ModuleManager(scale.core, scale.host.calibration, null, [createPublicKey(key.publicPem)]);
  scale.modules = manager;
  const verdict = manager.install(signed);
  if (verdict.status !== "accepted") throw new Error(`the table module was refused: ${verdict.detail}`);
}

async function run(samples: number, cells = 1, engine: EngineName = "v8", withModule = false): Promise<{ perSecond: number; callsPerSample: number; growth: number }> {
  const scale = await scaleFor({ rate: 80, cells, cell: { spikeProbability: 0.001 }, events: [{ type: "load", at: 30, kg: 12 }] }, 1, undefined, engine);
  if (withModule) installTable(scale);
  const calls = () => Object.values(scale.host.calls).reduce((a, b) => a + b, 0);
  const before = { calls: calls(), bytes: scale.core.memoryBytes() };
  const t0 = performance.now();
  let sink = 0;
  const reading = scale.reading();
  for (let i = 0; i < samples; i++) {
    if (scale.step() !== 0) sink += scale.core.readInto(reading).seq;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (sink < 0) console.log(sink);
  return { perSecond: samples / seconds, callsPerSample: (calls() - before.calls) / samples, growth: scale.core.memoryBytes() - before.bytes };
}

/**
 * Sample-to-subscriber latency through a real broker over TLS, in real time at 80 SPS with every
 * reading published: from the moment the core hands out a reading to its arrival at an ordinary
 * MQTT.js subscriber.
 */
async function latency(url: string, pki: Awaited<ReturnType<typeof makePki>>, seconds: number): Promise<{ p50: number; p99: number; n: number }> {
  const sub = await mqtt.connectAsync(url, { ca: pki.ca.cert, cert: readFileSync(pki.file("watcher.pem")), key: readFileSync(pki.file("watcher-key.pem")) });
  const arrived = new Map<number, number>();
  sub.on("message", (_t, payload) => arrived.set((JSON.parse(payload.toString()) as { seq: number }).seq, performance.now()));
  await sub.subscribeAsync("wasm-scale/dev1/state", { qos: 1 });
  const scale = await scaleFor({ rate: 80, settings: { PUBLISH_MS: 0 }, events: [{ type: "load", at: 1, kg: 3 }] });
  const link = new MqttLink(scale.core, resolveConnection(undefined, {}, {
    url, deviceId: "dev1", ca: pki.file("ca.pem"), cert: pki.file("dev1.pem"), key: pki.file("dev1-key.pem"),
  })).start();
  while (!link.connected) await new Promise((r) => setTimeout(r, 10));
  const sent: number[] = [];
  const device = new Device(scale, link, { speed: 1, onReading: () => sent.push(performance.now()) });
  await device.run(scale.nowS + seconds);
  await new Promise((r) => setTimeout(r, 500));
  await link.stop();
  await sub.endAsync();
  const ms = sent.map((t, i) => (arrived.get(i + 1) ?? NaN) - t).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), n: ms.length };
}

/**
 * The device's RAM for the core, from the firmware's Wasm host on Linux (32-bit, the Kconfig
 * defaults; tests/firmware-host.ts): for each interpreter, the heap WAMR takes for the core, the
 * least Wasm stack and the least pool (for a user who sets one) that run the firmware's whole
 * workload (found by search), the linear memory, the module's RAM copy and the native stack used.
 */
/** The heap the module manager takes while loaded beside the core, 32-bit WAMR, by interpreter. */
const managerHeap: Partial<Record<Interpreter, number>> = {};
const coreManagerHeap: Partial<Record<Interpreter, number>> = {};

function firmwareMemory(): Record<Interpreter, (HostFigures & { least_pool: number; least_stack: number; bits: number }) | null> {
  const out = {} as Record<Interpreter, (HostFigures & { least_pool: number; least_stack: number; bits: number }) | null>;
  for (const interpreter of INTERPRETERS) {
    const build = buildFirmwareHost(interpreter);
    if ("unavailable" in build) {
      out[interpreter] = null;
      continue;
    }
    const run = runCase(build.binary, "load-and-run");
    if (!run.ok) throw new Error(run.output);
    const f = hostFigures(run.output);
    const manager = runCase(build.binary, "manager", managerWasmPath);
    if (!manager.ok) throw new Error(manager.output);
    managerHeap[interpreter] = (JSON.parse(/FIGURES (\{.*\})/.exec(manager.output)![1]) as { manager_heap: number }).manager_heap;
    const cores = runCase(build.binary, "manager", coreManagerWasmPath);
    if (!cores.ok) throw new Error(cores.output);
    coreManagerHeap[interpreter] = (JSON.parse(/FIGURES (\{.*\})/.exec(cores.output)![1]) as { manager_heap: number }).manager_heap;
    const least_stack = leastStack(build.binary, f.stack);
    out[interpreter] = { ...f, least_pool: leastPool(build.binary, f.stack, 2 * (f.runtime + 4096)), least_stack, bits: build.bits };
  }
  return out;
}

const memory = firmwareMemory();
const wamr = memory.classic;
const budget = wamr ? heapBudget(wamr) : null;
const runs = [await run(SAMPLES), await run(SAMPLES), await run(SAMPLES)];
const ENGINE_SAMPLES = Math.min(SAMPLES, 200_000);
const engines: Record<string, { samples_per_second: number } | null> = {};
for (const engine of ENGINES) {
  if (!available(engine)) {
    engines[engine] = null;
    continue;
  }
  const best = Math.max(...[await run(ENGINE_SAMPLES, 1, engine), await run(ENGINE_SAMPLES, 1, engine), await run(ENGINE_SAMPLES, 1, engine)].map((r) => r.perSecond));
  engines[engine] = { samples_per_second: Math.round(best) };
}
const instructions = instructionCounts();
const four = await run(100_000, 4);
const moduled = [await run(SAMPLES, 1, "v8", true), await run(SAMPLES, 1, "v8", true), await run(SAMPLES, 1, "v8", true)];
const pki = await makePki();
const aedes = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: readFileSync(pki.file("server-key.pem"), "utf8") });
const viaAedes = await latency(aedes.url, pki, 5);
await aedes.close();
let viaMosquitto: { p50: number; p99: number; n: number } | null = null;
if (MOSQUITTO) {
  const m = await startMosquitto(pki);
  viaMosquitto = await latency(m.url, pki, 5);
  await m.stop();
}
rmSync(pki.dir, { recursive: true, force: true });

// Cores over the air: a rebuilt core to a running scale over MQTT/TLS in 1 KiB chunks, and what a
// swap takes on the firmware's host (the harness npm test builds; one core at a time).
const coreUpdate = await coreUpdateOverMqtt();
const swapHarness = fileURLToPath(new URL("../build/firmware-modules/classic/test_cal_module", import.meta.url));
const coreSwap = existsSync(swapHarness) ? coreSwapHeap(swapHarness) : null;

// The Pico W: flash and static RAM of the firmware as linked (npm run build:pico, or npm test),
// and what wasm3 allocates for the core, measured by the firmware's wasm3 host on the desktop.
const pico = await (async () => {
  const elf = fileURLToPath(new URL("../build/pico-w/wasm_scale.elf", import.meta.url));
  const size = existsSync(elf) ? spawnSync("arm-none-eabi-size", [elf], { encoding: "utf8" }) : null;
  const [text, data, bss] = size?.status === 0 ? size.stdout.split("\n")[1].trim().split(/\s+/).map(Number) : [];
  let wasm3: number | null = null;
  if (!(await buildPicoHost())) wasm3 = picoWasm3Bytes(runPicoCase("pico_host_core").output);
  // The Pico 2 W build (npm test makes it in build/pico2-w), when there is one.
  const elf2 = fileURLToPath(new URL("../build/pico2-w/wasm_scale.elf", import.meta.url));
  const size2 = existsSync(elf2) ? spawnSync("arm-none-eabi-size", [elf2], { encoding: "utf8" }) : null;
  const [text2, data2, bss2] = size2?.status === 0 ? size2.stdout.split("\n")[1].trim().split(/\s+/).map(Number) : [];
  return { flash: text ?? null, ram: data === undefined ? null : data + bss, wasm3, flash2: text2 ?? null, ram2: data2 === undefined ? null : data2 + bss2 };
})();

// The firmware for the ESP32-C3, built with ESP-IDF 5.3 and booted in QEMU (tests/esp32c3-qemu.ts):
// its image, and the least free heap across a TLS handshake with the core running. Needs root
// (the SNTP answer on port 123) and the RISC-V toolchain.
const esp32c3 = !esp32c3Missing() && process.getuid?.() === 0 ? await measureEsp32c3() : null;
// The module manager: its size, and the linear memory an engine that shrinks it to __heap_base gives it.
const managerFigures = figuresOf(managerWasmPath);
const coreManagerFigures = figuresOf(coreManagerWasmPath);
function figuresOf(path: string): { bytes: number; linear: number } {
  const bytes = readFileSync(path);
  const module = new WebAssembly.Module(bytes);
  const imports: Record<string, Record<string, () => number>> = {};
  for (const i of WebAssembly.Module.imports(module)) (imports[i.module] ??= {})[i.name] = () => 0;
  const instance = new WebAssembly.Instance(module, imports); // nothing runs: the manager has no start function
  return { bytes: bytes.length, linear: (instance.exports.__heap_base as WebAssembly.Global).value as number };
}

// The Pico firmware on an emulated RP2040 (tests/pico-emulator.ts): cycles a reading and their
// parts, the CPU's share at 80 SPS, loading the core, the heap left. Built here when it can be.
const picoEmulated = await (async () => {
  if (spawnSync("arm-none-eabi-gcc", ["--version"]).status !== 0 || !bootromPath()) return null;
  const built = spawnSync(process.execPath, [fileURLToPath(new URL("../host/pico-w/build.mjs", import.meta.url)), "--emulator", "-DSCALE_HX711_RATE_SPS=80"], { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`building the emulator's firmware failed:\n${built.stdout.slice(-2000)}${built.stderr.slice(-2000)}`);
  const world = await VirtualScale.create(parseScenario({ rate: 80, events: [{ type: "load", at: 0.5, kg: 5 }] }), { seed: 3 });
  return measurePico(emulatorBuild(80), world.chips[0]);
})();

// Battery mode (issue 16): one reading every 15 minutes, published hourly, for two virtual days
// over TLS to aedes, priced by the energy model (host/desktop/battery/energy.ts, docs/battery.md).
const battery = await simulateBattery(parseScenario({
  name: "a reading every 15 minutes, published hourly",
  cell: { capacityKg: 100, sensitivityMvV: 2, excitationV: 3.3 },
  settings: { DIVISION_KG: 0.05, CAPACITY_KG: 100, PUBLISH_EVERY: 4 },
  events: [
    { type: "command", at: 2, name: "cal_point", kg: 0 },
    { type: "load", at: 3, kg: 20, rampS: 0.3 },
    { type: "command", at: 6, name: "calibrate", kg: 20 },
    { type: "load", at: 7, kg: 31.2, rampS: 0.5 },
    { type: "set", at: 9, key: "WAKE_INTERVAL_S", value: 900 },
  ],
}, "bench battery"), { seed: 1, durationS: 2 * 86400 });

/**
 * Four chips on one clock at 80 SPS, each with its own oscillator up to `ppm` off (seeds 1-3, 120 s
 * of virtual time each): the share of reads refused as LATE (docs/settings.md, README).
 */
async function fourChipsLateShare(ppm: number): Promise<number> {
  let late = 0;
  let reads = 0;
  for (const seed of [1, 2, 3]) {
    const scale = await scaleFor({ rate: 80, cells: 4, oscillatorPpm: ppm, events: [{ type: "load", at: 6, kg: 7 }] }, seed);
    scale.run(120, (r) => {
      reads++;
      if (r.fault === code("fault", "LATE")) late++;
    });
  }
  return late / reads;
}
const lateShare2000 = await fourChipsLateShare(2000);
const lateShare10000 = await fourChipsLateShare(10000);

const figures = {
  core_wasm_bytes: releaseWasm().length,
  late_share_4_chips_2000ppm: Number(lateShare2000.toFixed(4)),
  late_share_4_chips_10000ppm: Number(lateShare10000.toFixed(4)),
  host_calls_per_sample: runs[0].callsPerSample,
  host_calls_per_sample_4_cells_shared_clock: four.callsPerSample,
  host_calls_per_sample_with_module: moduled[0].callsPerSample,
  sim_samples_per_second_with_module: Math.round(Math.max(...moduled.map((r) => r.perSecond))),
  sim_samples_per_second: Math.round(Math.max(...runs.map((r) => r.perSecond))),
  wasm_memory_growth_bytes: Math.max(...runs.map((r) => r.growth)),
  samples_per_run: SAMPLES,
  latency_aedes_ms_p50: viaAedes.p50,
  latency_aedes_ms_p99: viaAedes.p99,
  latency_mosquitto_ms_p50: viaMosquitto?.p50 ?? null,
  latency_mosquitto_ms_p99: viaMosquitto?.p99 ?? null,
  latency_samples: viaAedes.n,
  engines,
  engine_samples_per_run: ENGINE_SAMPLES,
  // The firmware's default (classic interpreter, WAMR on the heap); the pool figure is the least
  // pool that works, for a user who sets SCALE_WASM_POOL_KB.
  wamr_runtime_heap_bytes: wamr?.runtime ?? null,
  wamr_linear_memory_bytes: wamr?.linear ?? null,
  wamr_module_copy_bytes: wamr?.module_copy ?? null,
  core_share_bytes: budget?.coreShare ?? null,
  esp32_least_free_heap_tls_bytes: budget?.leastFree ?? null,
  wamr_pool_least_bytes: wamr?.least_pool ?? null,
  wamr_wasm_stack_bytes: wamr?.least_stack ?? null,
  wamr_native_stack_bytes: wamr?.native_stack ?? null,
  wamr_build_bits: wamr?.bits ?? null,
  wamr_fast_runtime_heap_bytes: memory.fast?.runtime ?? null,
  wamr_fast_pool_least_bytes: memory.fast?.least_pool ?? null,
  wamr_fast_wasm_stack_bytes: memory.fast?.least_stack ?? null,
  ...instructions.figures,
  instructions_note: instructions.note,
  esp32c3_app_bytes: esp32c3?.appBytes ?? null,
  esp32c3_static_ram_bytes: esp32c3?.staticRamBytes ?? null,
  esp32c3_core_heap_bytes: esp32c3?.coreTookBytes ?? null,
  esp32c3_heap_free_min_tls: esp32c3?.heapFreeMinTls ?? null,
  esp32c3_manager_heap_bytes: esp32c3?.managerTookBytes ?? null,
  esp32c3_heap_free_manager_loaded: esp32c3?.managerHeapFree ?? null,
  manager_wasm_bytes: managerFigures.bytes,
  wamr_manager_heap_bytes: managerHeap.classic ?? null,
  wamr_fast_manager_heap_bytes: managerHeap.fast ?? null,
  core_manager_wasm_bytes: coreManagerFigures.bytes,
  core_manager_linear_bytes: coreManagerFigures.linear,
  wamr_core_manager_heap_bytes: coreManagerHeap.classic ?? null,
  wamr_fast_core_manager_heap_bytes: coreManagerHeap.fast ?? null,
  manager_linear_bytes: managerFigures.linear,
  pico_flash_bytes: pico.flash,
  pico_static_ram_bytes: pico.ram,
  pico_wasm3_ram_bytes: pico.wasm3,
  pico2_flash_bytes: pico.flash2,
  pico2_static_ram_bytes: pico.ram2,
  pico_cycles_per_sample: picoEmulated ? Math.round(picoEmulated.cyclesPerSample) : null,
  pico_core_cycles_per_sample: picoEmulated ? Math.round(picoEmulated.coreCycles) : null,
  pico_clock_in_cycles_per_sample: picoEmulated ? Math.round(picoEmulated.clockInCycles) : null,
  pico_wait_cycles_per_sample: picoEmulated ? Math.round(picoEmulated.waitCycles) : null,
  pico_cpu_share_80sps: picoEmulated ? Number(picoEmulated.cpuShare.toFixed(4)) : null,
  pico_core_load_cycles: picoEmulated?.loadCycles ?? null,
  pico_first_call_cycles: picoEmulated?.firstCallCycles ?? null,
  pico_heap_free_after_load: picoEmulated?.heapFreeAfterLoad ?? null,
  battery_days_lithium_aa_15min: Math.round(battery.batteryDays),
  battery_days_alkaline_aa_15min: Math.round(battery.batteryDaysAlkaline),
  battery_days_devkit_15min: Math.round(battery.batteryDaysDevkit),
  battery_mah_per_day_15min: Number(battery.mahPerDay.toFixed(3)),
  wake_ms_without_publish: Math.round(battery.wakeMsWithoutPublish),
  wake_ms_with_publish: Math.round(battery.wakeMsWithPublish),
  battery_state_bytes_max: battery.maxStateBytes,
  core_update_seconds_1k_chunks: coreUpdate.seconds,
  core_update_chunks: coreUpdate.chunks,
  core_package_bytes: coreUpdate.bytes,
  core_swap_heap_bytes_64bit: coreSwap?.swap ?? null,
  core_swap_state_bytes: coreSwap?.state ?? null,
};

process.exitCode = 0;
if (values.json) {
  console.log(JSON.stringify(figures));
} else {
  console.log(`core (release .wasm)          ${figures.core_wasm_bytes} bytes (target 8192)`);
  console.log(`host calls per sample         ${figures.host_calls_per_sample} (1 cell), ${figures.host_calls_per_sample_4_cells_shared_clock} (4 cells, shared clock), ${figures.host_calls_per_sample_with_module} (1 cell, a calibration module)`);
  console.log(`with a calibration module     ${figures.sim_samples_per_second_with_module.toLocaleString("en")} simulated samples/s (the table example, V8)`);
  console.log(`simulated samples per second  ${figures.sim_samples_per_second.toLocaleString("en")} (simulator -> host -> Wasm core -> reading, best of 3 x ${SAMPLES.toLocaleString("en")})`);
  console.log(`Wasm memory growth            ${figures.wasm_memory_growth_bytes} bytes over ${SAMPLES.toLocaleString("en")} samples`);
  console.log(`four chips on one clock       ${(lateShare2000 * 100).toFixed(2)} % of reads refused as LATE (oscillators up to 0.2 % apart), ${(lateShare10000 * 100).toFixed(2)} % (1 % apart); 80 SPS, 3 x 120 s`);
  console.log(`sample -> subscriber latency  aedes p50 ${viaAedes.p50} ms, p99 ${viaAedes.p99} ms (${viaAedes.n} readings, TLS, QoS 1, 80 SPS)`);
  if (viaMosquitto) console.log(`                              Mosquitto (mutual TLS) p50 ${viaMosquitto.p50} ms, p99 ${viaMosquitto.p99} ms`);
  for (const [engine, e] of Object.entries(engines)) {
    console.log(`${`engine ${engine}`.padEnd(30)}${e ? `${e.samples_per_second.toLocaleString("en")} samples/s (whole pipeline, best of 3 x ${ENGINE_SAMPLES.toLocaleString("en")})` : "not built (npm run build:engines)"}`);
  }
  for (const interpreter of INTERPRETERS) {
    const m = memory[interpreter];
    console.log(`${`firmware RAM, ${interpreter}`.padEnd(30)}${m ? `runtime ${m.runtime} bytes of heap (or a pool of ${m.least_pool}), linear memory ${m.linear}, module copy ${m.module_copy}, Wasm stack ${m.least_stack} needed, native stack ${m.native_stack} (${m.bits}-bit)` : "WAMR sources not available (WASM_SCALE_VENDOR)"}`);
  }
  if (budget) console.log(`${"ESP32 heap, defaults".padEnd(30)}the core ${budget.coreShare} bytes; about ${budget.leastFree} bytes free at a TLS handshake's peak (tests/heap-budget.ts)`);
  console.log(`${"ESP32-C3 in QEMU".padEnd(30)}${esp32c3 ? `app ${esp32c3.appBytes} bytes, static RAM ${esp32c3.staticRamBytes} bytes; the core took ${esp32c3.coreTookBytes} bytes of heap; least free across a TLS handshake ${esp32c3.heapFreeMinTls} bytes` : "no RISC-V toolchain or vendor folder, or not root"}`);
  console.log(`${"Pico, emulated RP2040".padEnd(30)}${picoEmulated ? `${figures.pico_cycles_per_sample} cycles a reading at 80 SPS (core ${figures.pico_core_cycles_per_sample}, clock_in ${figures.pico_clock_in_cycles_per_sample}, waiting ${figures.pico_wait_cycles_per_sample}); CPU ${(picoEmulated.cpuShare * 100).toFixed(2)} %; loading the core ${figures.pico_core_load_cycles} cycles, the longest first call ${figures.pico_first_call_cycles}; heap free after it ${figures.pico_heap_free_after_load} bytes` : "no Arm toolchain or boot ROM"}`);
  console.log(`${"Pico W firmware".padEnd(30)}${pico.flash === null ? "not built (npm run build:pico)" : `flash ${pico.flash} bytes, static RAM ${pico.ram} bytes`}; wasm3 RAM for the core ${pico.wasm3 ?? "-"} bytes; Pico 2 W ${pico.flash2 === null ? "not built" : `flash ${pico.flash2} bytes, static RAM ${pico.ram2} bytes`}`);
  console.log(`${"battery, 15 min, hourly".padEnd(30)}${figures.battery_days_lithium_aa_15min} days on 2 lithium AA, ${figures.battery_days_alkaline_aa_15min} on alkaline, ${figures.battery_days_devkit_15min} on a DevKitC (${figures.battery_mah_per_day_15min} mAh a day); a wake ${figures.wake_ms_without_publish} ms, ${figures.wake_ms_with_publish} ms with publishing (virtual, energy model); state ${figures.battery_state_bytes_max} bytes at most`);
  console.log(`${"core over the air".padEnd(30)}${figures.core_package_bytes} bytes in ${figures.core_update_chunks} chunks of 1 KiB over MQTT/TLS: ${figures.core_update_seconds_1k_chunks} s until it weighs; a swap takes ${figures.core_swap_heap_bytes_64bit ?? "-"} bytes of heap beyond the transfer (state ${figures.core_swap_state_bytes ?? "-"} bytes; one core at a time); the core manager ${figures.core_manager_wasm_bytes} bytes, ${figures.wamr_core_manager_heap_bytes ?? "-"} bytes of heap while loaded (WAMR classic, 32-bit)`);
  for (const [name, value] of Object.entries(instructions.figures)) console.log(`${name.padEnd(42)}${value ?? "-"}`);
  if (instructions.note) console.log(`note: ${instructions.note}`);
}
