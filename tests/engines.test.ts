// The same core in every engine the product runs it in: V8 (the desktop), WAMR 2.4 fast and classic
// (the ESP32's runtime, configured as there) and wasm3 (the Pico W's). One seeded run exercises
// every fault class, every command (valid and hostile, over the MQTT interface), a broker outage,
// time sync, blobs saved and restored; its transcript (readings, results, published messages)
// must be byte-identical across engines. CI builds the native engines and sets
// WASM_SCALE_REQUIRE_ENGINES, so there a missing engine fails instead of skipping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { ENGINES, available, type EngineName } from "../host/desktop/engines/engine.js";
import { Random } from "../host/desktop/sim/random.js";
import { makeImports } from "../host/desktop/imports.js";
import { Board } from "../host/desktop/sim/board.js";
import { scaleFor, CAL_10KG, releaseWasm } from "./helpers.js";

const EPOCH_MS = Date.UTC(2026, 10, 24, 6, 0, 0);
const FAULT_EVENTS = [
  { type: "fault", at: 8, fault: "disconnect", chip: 1 }, { type: "fault", at: 8.5, fault: "clear", chip: 1 },
  { type: "fault", at: 10, fault: "stuck_low" }, { type: "fault", at: 10.5, fault: "clear" },
  { type: "fault", at: 12, fault: "stretch_clock", value: 80 },
  { type: "fault", at: 13, fault: "short_pulse", value: 10 },
  { type: "fault", at: 14, fault: "frozen", value: 0x7fffff }, { type: "fault", at: 14.5, fault: "clear" },
  { type: "fault", at: 15, fault: "frozen", value: 0x800000 }, { type: "fault", at: 15.5, fault: "clear" },
  { type: "fault", at: 16, fault: "frozen", value: 0xffffff }, { type: "fault", at: 16.5, fault: "clear" },
  { type: "fault", at: 17, fault: "frozen", value: 0 }, { type: "fault", at: 17.5, fault: "clear" },
  { type: "fault", at: 18, fault: "frozen", value: 0x123456 }, { type: "fault", at: 19, fault: "clear" },
  { type: "fault", at: 20, fault: "bit_flips", value: 0.01 }, { type: "fault", at: 22, fault: "clear" },
];
const COMMANDS = [
  '{"cmd":"tare","id":1}', '{"cmd":"zero","id":"z"}', '{"cmd":"clear_tare"}', '{"cmd":"cal_point","kg":0,"id":2}',
  '{"cmd":"cal_point","kg":5}', '{"cmd":"cal_fit","order":1}', '{"cmd":"cal_clear"}', '{"cmd":"calibrate","kg":5,"id":"c"}',
  '{"cmd":"config","key":"SMOOTH_MODE","value":1}', '{"cmd":"config","key":"DIVISION_KG","value":0.005}',
  '{"cmd":"config","key":"GAIN","value":64}', '{"cmd":"config","key":"GAIN","value":128}', '{"cmd":"config","key":"PUBLISH_MS","value":100}',
  '{"cmd":"tare","bogus":[1,{"x":2}],"id":"b"}', '{"cmd":"calibrate","kg":1e999}', '{"cmd', '', '{"cmd":"reboot"}',
  '{"cmd":"config","key":"NOPE","value":1}', "x".repeat(2000),
  '{"cmd":"count","piece_kg":0.5}', '{"cmd":"count_sample","pieces":6,"id":"n"}', '{"cmd":"count","piece_kg":0.01}', '{"cmd":"count","piece_kg":0}',
];

/** One seeded run; every observable output as text, in order. A trap ends it with its sample number. */
async function transcript(engine: EngineName): Promise<string[]> {
  const scale = await scaleFor({
    rate: 80, cells: 2, sharedClock: true,
    settings: { PUBLISH_MS: 0, OUTBOX_CAPACITY: 40 },
    events: [...CAL_10KG, { type: "load", at: 5, kg: 3, rampS: 0.5 }, { type: "load", at: 24, kg: 7.5 }, { type: "temperature", at: 25, c: 35 },
      { type: "button", at: 8, duration: 0.4, bounces: 3 }, { type: "button", at: 11, duration: 2.5, bounces: 1 }, ...FAULT_EVENTS],
  }, 7, undefined, engine);
  const core = scale.core;
  const memoryAtStart = core.memoryBytes();
  const out: string[] = [];
  const random = new Random(2026);
  core.setDeviceId("dev1");
  out.push(`will ${core.will().topic} ${core.will().payload.toString()}`);
  let up = true;
  core.connected(true);
  const drain = () => {
    for (let m = core.next(); m; m = core.next()) {
      out.push(`pub ${m.topic} q${m.qos}${m.retain ? "r" : ""} ${m.payload.toString("hex")}`);
      core.done();
    }
  };
  let sample = 0;
  try {
    while (scale.nowS < 30) {
      sample++;
      const status = scale.step();
      if (status !== 0) {
        const r = core.reading();
        out.push(`reading ${status} ${r.seq} ${r.tMs} ${r.kg} ${r.grossKg} ${r.raw} ${r.counts} ${r.flags} ${r.fault} ${r.faultChip} ${r.count}`);
      }
      if (sample === 100) core.timeSync(EPOCH_MS, Math.floor(scale.board.nowUs / 1000));
      if (sample % 97 === 0) out.push(`msg ${core.message(core.topic("CMD"), Buffer.from(COMMANDS[random.int(COMMANDS.length)]))}`);
      if (sample % 701 === 0) core.connected((up = !up)); // a broker outage, and back
      if (sample % 211 === 0) out.push(`dirty ${core.dirty().join(",")}`);
      if (up && sample % 5 === 0) drain();
    }
    core.connected(true);
    drain();
    out.push(`pending ${core.pending} dropped ${core.dropped}`);
    for (const which of ["CALIBRATION", "CONFIG"] as const) {
      const blob = core.saveBlob(which);
      out.push(`blob ${which} ${Buffer.from(blob).toString("hex")}`);
      const fresh = await scaleFor({ rate: 80 }, 1, undefined, engine);
      out.push(`restored ${which} ${fresh.core.loadBlob(which, blob)} ${Buffer.from(fresh.core.saveBlob(which)).equals(Buffer.from(blob))}`);
      blob[20] ^= 1;
      out.push(`corrupt ${which} ${fresh.core.loadBlob(which, blob)}`);
    }
    out.push(`panics ${scale.panics.length} memory growth ${core.memoryBytes() - memoryAtStart}`);
  } catch (e) {
    out.push(`TRAP at sample ${sample}: ${(e as Error).message}`);
  }
  return out;
}

const reference = transcript("v8");
const RECORDED = fileURLToPath(new URL("./fixtures/reference-transcript.txt.gz", import.meta.url));

test("the core's output equals the recorded reference stream (optimisations change no byte)", async () => {
  const text = (await reference).join("\n") + "\n";
  if (process.env.WASM_SCALE_RECORD) {
    // After a change that is meant to change the output: WASM_SCALE_RECORD=1 writes it again.
    mkdirSync(fileURLToPath(new URL("./fixtures/", import.meta.url)), { recursive: true });
    writeFileSync(RECORDED, gzipSync(text, { level: 9 }));
  }
  assert.ok(existsSync(RECORDED), "no recorded reference: run with WASM_SCALE_RECORD=1");
  const want = gunzipSync(readFileSync(RECORDED)).toString().split("\n");
  const got = text.split("\n");
  const first = want.findIndex((line, i) => got[i] !== line);
  assert.equal(first, -1, `line ${first + 1} differs:\n  recorded: ${want[first]}\n  now:      ${got[first]}`);
  assert.equal(got.length, want.length);
});

test("the reference run exercises what it claims: every fault, commands accepted and refused, an outage, blobs, the button, counting", async () => {
  const t = await reference;
  assert.ok(!t.some((l) => l.startsWith("TRAP")), t.at(-1));
  const faults = new Set(t.filter((l) => l.startsWith("reading")).map((l) => Number(l.split(" ")[9])).filter((f) => f !== 0));
  assert.ok(faults.size >= 7, `${faults.size} fault classes seen`);
  const results = t.filter((l) => l.includes("/result")).map((l) => Buffer.from(l.split(" ")[3], "hex").toString());
  assert.ok(results.some((r) => r.includes('"accepted"')) && results.some((r) => r.includes('"rejected"')));
  assert.ok(t.some((l) => l.includes("/gap")), "the outage overflowed the outbox");
  assert.ok(t.some((l) => /^restored CALIBRATION 0 true$/.test(l)) && t.some((l) => /^corrupt CONFIG -/.test(l)));
  assert.ok(results.some((r) => r.includes('"source":"button"')), "the button was pressed");
  assert.ok(t.some((l) => l.startsWith("reading") && Number(l.split(" ")[11]) !== 0), "pieces were counted");
});

for (const engine of ENGINES.filter((e) => e !== "v8")) {
  const skip = !available(engine) && !process.env.WASM_SCALE_REQUIRE_ENGINES && `${engine} is not built (npm run build:engines)`;
  test(`${engine} gives byte-identical readings, results and messages to V8`, { skip }, async () => {
    const [want, got] = [await reference, await transcript(engine)];
    const trap = got.find((l) => l.startsWith("TRAP"));
    assert.equal(trap, undefined, `${engine}: ${trap}`);
    const first = want.findIndex((line, i) => got[i] !== line);
    assert.equal(first, -1, `${engine} differs from V8 at line ${first}:\n  v8:      ${want[first]}\n  ${engine}: ${got[first]}`);
    assert.equal(got.length, want.length);
  });
}

for (const engine of ["wamr-fast", "wamr-classic"] as const) {
  const skip = !available(engine) && !process.env.WASM_SCALE_REQUIRE_ENGINES && `${engine} is not built (npm run build:engines)`;
  test(`${engine} gives the core only its static data as linear memory (__heap_base), not the 64 KiB page`, { skip }, async () => {
    const wasm = new WebAssembly.Module(new Uint8Array(releaseWasm()));
    const heapBase = new WebAssembly.Instance(wasm, makeImports(new Board(), () => {}).imports).exports.__heap_base as WebAssembly.Global;
    const scale = await scaleFor({ rate: 80 }, 1, undefined, engine);
    assert.equal(scale.core.memoryBytes(), heapBase.value, `${engine}'s linear memory`);
    assert.ok(heapBase.value < 65536 / 2);
    for (let i = 0; i < 500; i++) scale.step();
    assert.equal(scale.core.memoryBytes(), heapBase.value, "and it never grows");
  });
}
