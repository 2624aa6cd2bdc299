// Record and replay: a run's conversions, commands and settings written down and given to a core
// again. With the recorded settings the readings come back byte for byte; with others they show
// what those settings would have made of the same conversions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { replay } from "../host/desktop/replay.js";
import { RecordingError } from "../host/desktop/record.js";
import type { Reading } from "../host/desktop/core.js";
import { parseScenario } from "../host/desktop/scenario.js";
import { VirtualScale } from "../host/desktop/virtual-scale.js";
import { CAL_10KG } from "./helpers.js";
import { wat, later } from "./module-fixtures.js";

const bin = fileURLToPath(new URL("../bin/wasm-scale.js", import.meta.url));

/** A recorded run with two cells, loads, commands, a setting change and faults; its readings. */
async function recorded(dir: string): Promise<{ path: string; readings: Reading[] }> {
  const path = join(dir, "run.rec");
  const scenario = parseScenario({
    rate: 80, cells: 2, inStep: true,
    events: [
      ...CAL_10KG, { type: "load", at: 6, kg: 3.2, rampS: 0.4 }, { type: "command", at: 8, name: "tare" },
      { type: "set", at: 9, key: "SMOOTH_MODE", value: 2 }, { type: "fault", at: 10, fault: "stall", value: 20000 },
      { type: "fault", at: 11, fault: "bit_flips", value: 0.02 }, { type: "fault", at: 12, fault: "clear" },
      { type: "load", at: 13, kg: 0 }, { type: "command", at: 15, name: "clear_tare" },
    ],
  });
  const scale = await VirtualScale.create(scenario, { seed: 5, record: path });
  const readings: Reading[] = [];
  let messaged = false;
  while (scale.nowS < 17) {
    if (!messaged && scale.nowS > 16) {
      // A command over MQTT, as npm start receives one: recorded with the device id it came under.
      scale.core.setDeviceId("dev1");
      scale.core.message("wasm-scale/dev1/cmd", Buffer.from('{"cmd":"zero","id":7}'));
      messaged = true;
    }
    if (scale.step() !== 0) readings.push(scale.reading());
  }
  await scale.close();
  return { path, readings };
}

test("a recording replays to the same readings, byte for byte, and to others with other settings", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-rec-"));
  try {
    const { path, readings } = await recorded(dir);
    assert.ok(readings.length > 1000 && readings.some((r) => r.fault), "a run with faults");
    const same = await replay(path);
    assert.equal(same.readings.length, readings.length);
    assert.deepEqual(same.readings, readings, "the same readings");
    assert.ok(same.summary.commands.every((c) => c.result >= 0) && same.summary.commands.length >= 7, JSON.stringify(same.summary.commands));
    assert.ok(same.summary.commands.some((c) => c.op === "message on wasm-scale/dev1/cmd"), "the MQTT command is in the recording");
    assert.ok(same.summary.faults.LATE >= 1, JSON.stringify(same.summary.faults));
    assert.ok(same.summary.noiseD !== null && same.summary.noiseD > 0.01 && same.summary.noiseD < 1, `noise ${same.summary.noiseD} d`);
    // Four loads placed or taken off; each settles within STABLE_MS and the filters' delay.
    assert.ok(same.summary.settleS.steps >= 3 && same.summary.settleS.median! > 0.9 && same.summary.settleS.max! < 2.5, JSON.stringify(same.summary.settleS));

    const other = await replay(path, { set: [["SPIKE_WINDOW", 9]] });
    // The same conversions, but for those held back after a fault gap until the spike filter has a
    // window full of fresh ones (4 or 8 more), after gaps longer than the window (62 or 112 ms).
    const gaps = readings.filter((r, i) => i > 0 && !r.fault && readings[i - 1].fault).length;
    assert.ok(Math.abs(other.readings.length - readings.length) <= 8 * gaps,
      `${other.readings.length} readings through a median of 9, ${readings.length} through 5, ${gaps} fault gaps`);
    assert.notDeepEqual(other.readings, readings, "read through other settings");
    // Through the bit flips (11..12 s) a median of 9 lets no more corrupted conversions through than 5.
    const off = (rs: Reading[]) => rs.filter((r) => r.tMs > 11000 && r.tMs < 12500 && !r.fault && Math.abs(r.grossKg - 3.2) > 0.02).length;
    assert.ok(off(other.readings) <= off(readings), `${off(other.readings)} off with a median of 9, ${off(readings)} with 5`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a recording replays through a calibration module: the same conversions, the module's weights", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-rec-"));
  try {
    const { path, readings } = await recorded(dir);
    const table = fileURLToPath(new URL("../build/modules/table-1.0.0.wsm", import.meta.url));
    const through = await replay(path, { module: table });
    assert.equal(through.readings.length, readings.length, "the same conversions");
    assert.deepEqual(through.readings.map((r) => r.seq), readings.map((r) => r.seq));
    // Before the run's calibration the table's own curve weighs (the 10 kg otherwise); the run's
    // calibrate command then fits the module, and the 3.2 kg load weighs 3.2 kg through it.
    const at = (rs: Reading[], from: number, to: number) => rs.filter((r) => r.tMs > from && r.tMs < to && !r.fault).at(-1)!.grossKg;
    assert.notEqual(at(through.readings, 3000, 3900), at(readings, 3000, 3900));
    assert.ok(Math.abs(at(through.readings, 7000, 8000) - 3.2) <= 0.01 + 1e-6, `3.2 kg: ${at(through.readings, 7000, 8000)}`);
    const cli = spawnSync(process.execPath, [bin, "replay", path, "--module", table, "--json"], { encoding: "utf8" });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).readings, readings.length);
    const bad = join(dir, "bad.wasm");
    writeFileSync(bad, Buffer.from("\0asm\x01\0\0\0"));
    await assert.rejects(replay(path, { module: bad }), (e: RecordingError) => /refused \((BAD_MODULE|MEMORY)\)/.test(e.message));
    // A module that fails during the replay stops it with the module manager's reason and words.
    for (const [body, reason] of [[later("unreachable", 50), /failed \(TRAPPED\): trapped: /], [later("(return (f64.const 1.5))", 50), /failed \(BAD_GAIN\): its gain was 1\.5, outside 1 \+- 0\.2/]] as const) {
      const hostile = join(dir, "hostile.wasm");
      writeFileSync(hostile, wat({ body }));
      await assert.rejects(replay(path, { module: hostile }), (e: RecordingError) => reason.test(e.message) || assert.fail(e.message));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a replay refuses what it cannot honour, with a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-rec-"));
  try {
    const { path } = await recorded(dir);
    await assert.rejects(replay(path, { set: [["GAIN", 64]] }), (e: RecordingError) => /GAIN cannot be replayed/.test(e.message));
    const bytes = readFileSync(path);
    const cut = join(dir, "cut.rec");
    writeFileSync(cut, bytes.subarray(0, bytes.length / 2));
    await assert.rejects(replay(cut), (e: RecordingError) => e instanceof RecordingError && /damaged|differently/.test(e.message));
    const other = join(dir, "other.rec");
    writeFileSync(other, gzipSync('{"format":"something else"}\n'));
    await assert.rejects(replay(other), (e: RecordingError) => /not a wasm-scale recording/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm start --record: the restored calibration is part of the recording, and the replay sees what the run showed", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-rec-"));
  try {
    const store = join(dir, "store.json");
    const args = (rec: string) => [bin, "run", "--no-mqtt", "--duration", "10", "--speed", "50", "--store", store, "--record", join(dir, rec)];
    assert.equal(spawnSync(process.execPath, args("first.rec"), { encoding: "utf8" }).status, 0);
    const second = spawnSync(process.execPath, args("second.rec"), { encoding: "utf8" });
    assert.equal(second.status, 0, second.stderr);
    const shown = second.stdout.split("\n").filter((l) => /#\d+/.test(l)).length;
    const r = spawnSync(process.execPath, [bin, "replay", join(dir, "second.rec"), "--json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.readings, shown, "as many readings as the run printed");
    assert.deepEqual(s.commands.map((c: { op: string }) => c.op), ["config restored", "calibration restored", "device id scale1"]);
    assert.equal(s.final.kg, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the command line: simulate --record, then replay --set ... --json", () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-rec-"));
  try {
    const path = join(dir, "kitchen.rec");
    const rec = spawnSync(process.execPath, [bin, "simulate", "--duration", "20", "--record", path], { encoding: "utf8" });
    assert.equal(rec.status, 0, rec.stderr);
    const r = spawnSync(process.execPath, [bin, "replay", path, "--set", "SPIKE_WINDOW=9", "STABLE_MS=500", "--json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.ok(s.readings > 150 && s.stableShare > 0.3, r.stdout);
    // A plot of both: the recorded settings and the others, overlaid, with the commands marked.
    const svg = join(dir, "plot.svg");
    const p = spawnSync(process.execPath, [bin, "replay", path, "--set", "SPIKE_WINDOW=9", "--plot", svg], { encoding: "utf8" });
    assert.equal(p.status, 0, p.stderr);
    const text = readFileSync(svg, "utf8");
    assert.match(text, /^<svg/);
    for (const label of ["recorded", "SPIKE_WINDOW=9", "weight (kg)", "raw counts", "stable", "calibrate"]) assert.ok(text.includes(label), `the plot shows ${label}`);
    assert.ok((text.match(/<path/g) ?? []).length >= 6, "lines are drawn");
    const png = join(dir, "plot.png");
    assert.equal(spawnSync(process.execPath, [bin, "replay", path, "--plot", png], { encoding: "utf8" }).status, 0);
    const bytes = readFileSync(png);
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
    assert.ok(bytes.readUInt32BE(16) >= 900 && bytes.readUInt32BE(20) >= 400, `${bytes.readUInt32BE(16)} x ${bytes.readUInt32BE(20)} pixels`);
    const bad = spawnSync(process.execPath, [bin, "replay", path, "--set", "SPIKE_WINDOW"], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /KEY=VALUE/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
