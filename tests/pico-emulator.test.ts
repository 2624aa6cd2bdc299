// The Pico firmware, built from the same main.c and components as the Pico W's but without a
// network (npm run build:pico -- --emulator), run on an emulated RP2040 (tests/pico-emulator.ts)
// with the desktop simulator's HX711 on its pins: every reading it prints is the reading the same
// core gives in V8 for the same chip, the same conversions and the same load, field for field
// (t_ms within a millisecond: it is the host's clock, read by each host at its own moment). And
// waiting for DOUT leaves the CPU asleep: at 80 SPS the firmware runs at most 5 % of the cycles.
// Skipped without the Arm toolchain or the vendor folder, like the Pico W build; CI requires it
// (WASM_SCALE_REQUIRE_PICO).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { EmulatedPico, emulatorBuild, parseRecord, functionRanges, bootromPath } from "./pico-emulator.js";
import { VirtualScale } from "../host/desktop/virtual-scale.js";
import { parseScenario } from "../host/desktop/scenario.js";
import type { Reading } from "../host/desktop/core.js";
import { repo } from "../host/vendor.mjs";
import { trusted, signedExample } from "./module-fixtures.js";
import { sha256 } from "../host/desktop/modules/package.js";
import { ModuleManager } from "../host/desktop/modules/manager.js";

const toolchain = spawnSync("arm-none-eabi-gcc", ["--version"]).status === 0;
const skip = process.env.WASM_SCALE_REQUIRE_PICO ? false
  : !toolchain ? "no arm-none-eabi-gcc (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)"
  : !bootromPath() ? "no vendor folder with the RP2040 boot ROM (WASM_SCALE_VENDOR)" : false;

/** Builds the emulator's firmware for a rate (incremental), trusting a module signing key when given. */
function build(rate: 10 | 80, moduleKey?: string): { uf2: string; elf: string } {
  const settings = [`-DSCALE_HX711_RATE_SPS=${rate}`, ...(moduleKey ? [`-DSCALE_MODULE_KEY_FILE=${moduleKey}`] : [])];
  const r = spawnSync(process.execPath, [join(repo, "host", "pico-w", "build.mjs"), "--emulator", ...settings], { encoding: "utf8", cwd: repo });
  assert.equal(r.status, 0, r.stdout.slice(-3000) + r.stderr.slice(-3000));
  const out = emulatorBuild(rate);
  assert.ok(existsSync(out.uf2), `${out.uf2} was not built`);
  return out;
}

type Row = Omit<Reading, never> & { status: number };

/** A console record decoded as ScaleCore.readInto decodes the core's memory. */
function decode(line: string): Row | null {
  const r = parseRecord(line);
  if (!r) return null;
  const v = new DataView(r.bytes.buffer);
  const fault = v.getInt32(28, true);
  return {
    status: r.status, seq: v.getUint32(0, true), tMs: v.getUint32(4, true), kg: v.getFloat32(8, true), grossKg: v.getFloat32(12, true),
    raw: v.getInt32(16, true), counts: v.getFloat32(20, true), flags: v.getUint32(24, true), fault: fault & 0xff, faultChip: (fault >> 8) & 0xff,
    count: v.byteLength >= 36 ? v.getInt32(32, true) : 0,
  };
}

const WATCH = ["hx711_pio_wait_low", "hx711_pio_clock_in", "wasm_host_call_i", "wasm_host_start"];

/** The firmware for `seconds` of a scenario, and the same scenario's readings from the core in V8. */
async function both(firmware: { uf2: string; elf: string }, json: unknown, seconds: number, seed: number) {
  const scenario = parseScenario(json);
  const world = await VirtualScale.create(scenario, { seed });
  const emu = new EmulatedPico(readFileSync(firmware.uf2), [{ chip: world.chips[0], clk: 18, dout: 19 }], functionRanges(firmware.elf, WATCH));
  // The scenario's events reach the chips when a sample starts, as VirtualScale.step applies them
  // (loads follow the scenario's clock by themselves).
  emu.onEnter = (name) => {
    if (name !== "hx711_pio_wait_low") return;
    world.worldAt(emu.nowUs);
    emu.refreshPins();
  };
  emu.runUntil(seconds * 1e6);
  const fw = emu.lines.map(decode).filter((r): r is Row => r !== null);
  // V8 reads the same chip model from the moment the firmware first waited for DOUT.
  const start = emu.inside.get("hx711_pio_wait_low")!.firstUs;
  assert.ok(start > 0, "the firmware never waited for DOUT");
  const reference = await VirtualScale.create(scenario, { seed });
  reference.worldAt(start);
  const v8: Row[] = [];
  reference.run(emu.nowUs / 1e6, (r, status) => v8.push({ status, ...r }));
  return { emu, fw, v8, start };
}

function full(r: Row): string {
  return `#${r.seq} status ${r.status} t_ms ${r.tMs} kg ${r.kg} gross ${r.grossKg} raw ${r.raw} counts ${r.counts} flags 0x${r.flags.toString(16)} fault ${r.fault}/${r.faultChip}`;
}

/** Every reading the firmware printed is V8's, field for field; t_ms within 1 ms. */
function sameReadings(fw: Row[], v8: Row[]): void {
  assert.ok(fw.length > 0, "the firmware printed no reading");
  // The runs end at slightly different moments: the shorter is a prefix of the longer.
  assert.ok(Math.abs(fw.length - v8.length) <= 2, `${fw.length} readings from the firmware, ${v8.length} from V8`);
  for (let i = 0; i < Math.min(fw.length, v8.length); i++) {
    const a = fw[i];
    const b = v8[i];
    const same = a.status === b.status && a.seq === b.seq && Object.is(a.kg, b.kg) && Object.is(a.grossKg, b.grossKg) && a.raw === b.raw &&
      Object.is(a.counts, b.counts) && a.flags === b.flags && a.fault === b.fault && a.faultChip === b.faultChip && Math.abs(a.tMs - b.tMs) <= 1;
    assert.ok(same, `reading ${i + 1} differs:\n  firmware ${full(a)}\n  V8       ${full(b)}`);
  }
}

const LOADS = { rate: 80, events: [{ type: "load", at: 0.8, kg: 5, rampS: 0.3 }, { type: "load", at: 2.2, kg: 0.5 }, { type: "load", at: 3.1, kg: 12 }] };

test("Pico firmware on an emulated RP2040, 80 SPS: every reading is the core's in V8, and the CPU sleeps while DOUT is high", { skip, timeout: 20 * 60_000 }, async (t) => {
  const firmware = build(80);
  const { emu, fw, v8, start } = await both(firmware, LOADS, 4, 11);
  sameReadings(fw, v8);
  // 80 SPS from the first wait: one reading per conversion, none skipped.
  const span = (fw[fw.length - 1].tMs - fw[0].tMs) / 1000;
  assert.ok(fw.length >= Math.floor(span * 80 * 0.99), `${fw.length} readings in ${span.toFixed(2)} s at 80 SPS`);
  // Steady state: the CPU's share of the cycles over the last second.
  emu.resetCycles();
  const before = emu.lines.length;
  emu.runUntil(emu.nowUs + 1e6);
  const readings = emu.lines.slice(before).filter((l) => l.startsWith("R ")).length;
  const share = emu.runCycles / (emu.runCycles + emu.sleepCycles);
  const perSample = emu.runCycles / readings;
  t.diagnostic(`first wait at ${(start / 1000).toFixed(1)} ms; ${fw.length} readings identical to V8; CPU ${(share * 100).toFixed(2)} % at 80 SPS, ${Math.round(perSample)} cycles a reading`);
  assert.ok(readings >= 79, `${readings} readings in a second at 80 SPS`);
  assert.ok(share <= 0.05, `the firmware used ${(share * 100).toFixed(1)} % of the CPU at 80 SPS`);
});

test("Pico firmware on an emulated RP2040: a chip that goes missing, comes back and flips bits is reported as V8 reports it", { skip, timeout: 20 * 60_000 }, async () => {
  const firmware = build(80);
  const faults = {
    rate: 80,
    events: [
      { type: "load", at: 0.5, kg: 3 },
      { type: "fault", at: 1.2, fault: "disconnect" },
      { type: "fault", at: 2.0, fault: "clear" },
      { type: "fault", at: 2.8, fault: "bit_flips", value: 0.2 },
    ],
  };
  const { fw, v8 } = await both(firmware, faults, 4, 5);
  sameReadings(fw, v8);
  const names = new Set(fw.filter((r) => r.status < 0).map((r) => r.fault));
  assert.ok(names.has(1), "no TIMEOUT while the chip was missing");
  assert.ok(fw.some((r) => r.status > 0 && r.tMs > 2100), "no readings after the chip came back");
});

test("Pico firmware on an emulated RP2040: a calibration module sent on its console is checked by the one manager in wasm3, weighs, and is rolled back", { skip, timeout: 20 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-emu-module-"));
  try {
    const key = join(dir, "module-signing.pub");
    writeFileSync(key, trusted.pub.export({ type: "spki", format: "pem" }) as string);
    const firmware = build(10, key);
    const scenario = parseScenario({ rate: 10, events: [{ type: "load", at: 0.3, kg: 20 }] });
    const world = await VirtualScale.create(scenario, { seed: 3 });
    const emu = new EmulatedPico(readFileSync(firmware.uf2), [{ chip: world.chips[0], clk: 18, dout: 19 }], functionRanges(firmware.elf, WATCH));
    emu.onEnter = (name) => {
      if (name !== "hx711_pio_wait_low") return;
      world.worldAt(emu.nowUs);
      emu.refreshPins();
    };
    assert.ok(emu.runUntilLine(/calibration modules on the console/, 3e6), emu.lines.slice(-10).join("\n"));
    emu.runUntil(emu.nowUs + 1e6);
    const answer = (step: string) => {
      const line = emu.runUntilLine(new RegExp(`wasm-scale: module \\{"cmd":"module","step":"${step}"`), emu.nowUs + 20e6);
      assert.ok(line, `no ${step} answer:\n${emu.lines.filter((l) => !l.startsWith("R ")).slice(-15).join("\n")}`);
      return JSON.parse(line.slice(line.indexOf("{"))) as { status: string; reason?: string; detail: string; chunk?: number };
    };
    const send = (step: string, payload: Uint8Array = new Uint8Array(0)) => emu.typeLine(`module ${step}${payload.length ? ` ${Buffer.from(payload).toString("hex")}` : ""}`);
    const pkg = signedExample("table");
    send("begin", Buffer.from(JSON.stringify({ size: pkg.length, sha256: sha256(pkg), sender: "console" })));
    const begun = answer("begin");
    assert.equal(begun.status, "accepted", begun.detail);
    assert.equal(begun.chunk, 1024, "the console takes what the MQTT link takes");
    for (let at = 0; at < pkg.length; at += 1024) {
      send(`chunk/${at}`, pkg.subarray(at, at + 1024));
      assert.equal(answer("chunk").status, "accepted");
    }
    send("end");
    const installed = answer("install");
    assert.equal(installed.status, "accepted", installed.detail);
    const from = emu.lines.length;
    emu.runUntil(emu.nowUs + 3e6);
    const weighed = emu.lines.slice(from).map(decode).filter((r): r is Row => r !== null && r.status > 0).at(-1)!;
    // The table module's default table (a nominal 2 mV/V, 50 kg cell) weighs the 20 kg.
    const own = ModuleManager.tryModule(pkg).weigh(weighed.counts, weighed.raw, NaN, NaN, NaN, NaN);
    assert.ok(Math.abs(weighed.grossKg - own) <= 0.011, `${weighed.grossKg} kg on the Pico; the module says ${own}`);
    send("rollback");
    const back = answer("rollback");
    assert.equal(back.status, "accepted", back.detail);
    t.diagnostic(`installed and rolled back on the emulated RP2040: ${installed.detail}; then ${back.detail}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
