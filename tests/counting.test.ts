// Piece counting and the button, through the core on the simulator: what a person standing at a
// shelf, a parts bin or a kitchen scale does, with MQTT's results read as a subscriber sees them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { crc32 } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { code } from "../host/abi.js";
import { ScaleCore, type Reading } from "../host/desktop/core.js";
import type { VirtualScale } from "../host/desktop/virtual-scale.js";
import { replay } from "../host/desktop/replay.js";
import { VirtualScale as Scale } from "../host/desktop/virtual-scale.js";
import { parseScenario } from "../host/desktop/scenario.js";

const COUNTING = code("flag", "COUNTING");
const COUNT_STABLE = code("flag", "COUNT_STABLE");
const STABLE = code("flag", "STABLE");
const NET = code("flag", "NET");

/** A calibrated 50 kg scale at 10 g, with `events` after its calibration (from 6 s). */
async function scale(events: unknown[], seed = 3): Promise<VirtualScale> {
  const s = await scaleFor({ rate: 10, events: [...CAL_10KG, ...events] }, seed);
  s.core.setDeviceId("shelf1");
  s.core.connected(true);
  return s;
}

/** A command as MQTT brings it; its result as the core publishes it. */
function send(s: VirtualScale, cmd: object): Record<string, unknown> {
  s.core.message(s.core.topic("CMD"), Buffer.from(JSON.stringify(cmd)));
  return results(s).at(-1)!;
}

/** Everything the core has to publish now: the results (parsed), the readings dropped. */
function results(s: VirtualScale): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let m = s.core.next(); m; m = s.core.next()) {
    if (m.topic.endsWith("/result")) out.push(JSON.parse(m.payload.toString()) as Record<string, unknown>);
    s.core.done();
  }
  return out;
}

/** The readings from now to untilS, and the JSON the core publishes for each (at PUBLISH_MS 0). */
function run(s: VirtualScale, untilS: number): Array<{ r: Reading; json: Record<string, unknown> }> {
  const out: Array<{ r: Reading; json: Record<string, unknown> }> = [];
  s.run(untilS, (r) => {
    const reading = { ...r };
    for (let m = s.core.next(); m; m = s.core.next()) {
      if (m.topic.endsWith("/state")) out.push({ r: reading, json: JSON.parse(m.payload.toString()) as Record<string, unknown> });
      s.core.done();
    }
  });
  return out;
}

const PIECE = 0.125; // a 125 g part

test("count_sample takes the piece weight from pieces on the platform; readings count them, stable only when the weight is and it is whole", async () => {
  const s = await scale([
    { type: "load", at: 6, kg: 10 * PIECE, rampS: 0.2 },
    { type: "load", at: 10, kg: 23 * PIECE, rampS: 1 }, // 13 more pieces poured in over a second
    { type: "load", at: 15, kg: 23.5 * PIECE, rampS: 0.2 }, // a piece half on the edge
  ]);
  s.core.set("PUBLISH_MS", 0);
  run(s, 8);
  assert.equal(send(s, { cmd: "count_sample", pieces: 10, id: 1 }).status, "accepted");
  const piece = s.core.get("PIECE_KG");
  assert.ok(Math.abs(piece - PIECE) < 0.002, `piece weight ${piece}`);
  const rows = run(s, 18);
  // Every reading carries the count; a stable one counts 10, then 23.
  for (const { r, json } of rows) {
    assert.ok(r.flags & COUNTING);
    assert.equal(json.count, r.count);
    assert.equal(json.count_stable, (r.flags & COUNT_STABLE) !== 0);
    if (r.flags & COUNT_STABLE) {
      assert.ok(r.flags & STABLE, `reading ${r.seq}: a stable count needs a stable weight`);
      assert.ok(r.count === 10 || r.count === 23, `reading ${r.seq} counts ${r.count} stable`);
    }
  }
  const at = (t: number) => rows.filter(({ r }) => r.tMs / 1000 >= t && r.tMs / 1000 < t + 1);
  assert.ok(at(9).every(({ r }) => r.count === 10 && r.flags & COUNT_STABLE), "10 pieces, stable");
  assert.ok(at(10.2).every(({ r }) => !(r.flags & COUNT_STABLE)), "never stable while pieces are poured");
  assert.ok(at(13.5).some(({ r }) => r.count === 23 && r.flags & COUNT_STABLE), "23 pieces, stable");
  // 23.5 pieces: the weight settles, but between whole pieces the count is not stable.
  const half = at(17.5);
  assert.ok(half.some(({ r }) => r.flags & STABLE), "the weight is stable");
  assert.ok(half.every(({ r }) => !(r.flags & COUNT_STABLE)), "the count is not");
});

test("a piece too light to count reliably is refused with its reason, whichever way it is set", async () => {
  const s = await scale([{ type: "load", at: 6, kg: 0.2, rampS: 0.2 }]);
  run(s, 8);
  // At 10 g divisions and a 1-division band: at least 5 divisions (50 g) and 4 bands (40 g).
  const refused = (r: Record<string, unknown>) => r.status === "rejected" && r.reason === "PIECE_TOO_LIGHT";
  assert.ok(refused(send(s, { cmd: "count", piece_kg: 0.049 })));
  assert.ok(refused(send(s, { cmd: "count_sample", pieces: 5 })), "200 g in 5 pieces: 40 g each");
  assert.ok(refused(send(s, { cmd: "config", key: "PIECE_KG", value: 0.03 })));
  assert.equal(s.core.get("PIECE_KG"), 0, "nothing was set");
  assert.equal(send(s, { cmd: "count", piece_kg: 0.05 }).status, "accepted");
  // A coarser division or a wider band would leave that piece too light: refused too.
  assert.ok(refused(send(s, { cmd: "config", key: "DIVISION_KG", value: 0.02 })));
  assert.ok(refused(send(s, { cmd: "config", key: "STABLE_BAND_D", value: 2 })));
  assert.ok(Math.abs(s.core.get("DIVISION_KG") - 0.01) < 1e-9);
  // Bad input is refused as such.
  assert.equal(send(s, { cmd: "count_sample", pieces: 2.5 }).reason, "BAD_VALUE");
  assert.equal(send(s, { cmd: "count_sample", pieces: 0 }).reason, "BAD_VALUE");
  assert.equal(send(s, { cmd: "count", piece_kg: -1 }).reason, "BAD_VALUE");
  assert.equal(send(s, { cmd: "count" }).reason, "MISSING_FIELD");
  assert.equal(send(s, { cmd: "count_sample", piece_kg: 1 }).reason, "MISSING_FIELD");
  // And 0 stops counting: the readings no longer carry a count.
  assert.equal(send(s, { cmd: "count", piece_kg: 0 }).status, "accepted");
  s.core.set("PUBLISH_MS", 0);
  const rows = run(s, 9);
  assert.ok(rows.length > 0 && rows.every(({ r, json }) => !(r.flags & COUNTING) && !("count" in json)));
});

test("the piece weight is kept across a restart, and refined as pieces are added when asked", async () => {
  const s = await scale([
    { type: "load", at: 6, kg: 4 * 0.1013, rampS: 0.2 }, // a 4-piece sample of parts weighing 101.3 g
    { type: "load", at: 10, kg: 12 * 0.1013, rampS: 0.3 },
    { type: "load", at: 14, kg: 40 * 0.1013, rampS: 0.5 },
  ]);
  run(s, 8);
  s.core.set("COUNT_REFINE", 1);
  assert.equal(send(s, { cmd: "count_sample", pieces: 4 }).status, "accepted");
  const first = s.core.get("PIECE_KG");
  run(s, 18);
  const refined = s.core.get("PIECE_KG");
  // Taken again from the 40 pieces as this scale weighs them: a fortieth of the net weight.
  assert.notEqual(refined, first);
  assert.ok(Math.abs(refined * 40 - s.reading().kg) <= 0.01, `refined from ${first} to ${refined}; 40 pieces weigh ${s.reading().kg}`);
  assert.equal(s.reading().count, 40);
  assert.ok(s.reading().flags & COUNT_STABLE);
  // A restart: the settings blob brings the piece weight back, and the count with it.
  const blob = s.core.saveBlob("CONFIG");
  const again = await ScaleCore.load(s.host);
  assert.equal(again.loadBlob("CONFIG", blob), 0);
  assert.equal(again.get("PIECE_KG"), refined);
  assert.equal(again.get("COUNT_REFINE"), 1);
});

test("the button: a short press tares and clears the tare, a long one zeroes, bounces and glitches change nothing, in motion it is refused", async () => {
  const s = await scale([
    { type: "load", at: 6, kg: 2, rampS: 0.2 },
    { type: "button", at: 6.3, duration: 0.2 }, // the weight still settling: refused
    { type: "button", at: 9, duration: 0.3, bounces: 4 }, // tare, through a worn contact
    { type: "button", at: 11, duration: 0.01 }, // a 10 ms glitch: no press
    { type: "load", at: 12, kg: 5, rampS: 2 },
    { type: "button", at: 16, duration: 0.3, bounces: 2 }, // clear the tare
    { type: "load", at: 17, kg: 0, rampS: 0.2 },
    { type: "button", at: 20, duration: 3 }, // long: zero
  ]);
  const seen: Array<Record<string, unknown>> = [];
  const leds: number[] = [];
  s.run(25, () => {
    seen.push(...results(s));
    leds.push(s.buttonLed);
  });
  seen.push(...results(s));
  const presses = seen.filter((r) => r.source === "button");
  assert.deepEqual(presses.map((r) => [r.cmd, r.status, r.reason ?? null]), [
    ["tare", "rejected", "NOT_STABLE"],
    ["tare", "accepted", null],
    ["clear_tare", "accepted", null],
    ["zero", "accepted", null],
  ]);
  assert.ok(presses.every((r) => !("id" in r)));
  assert.ok(leds.some((l) => l & 1) && leds.some((l) => l & 2), "the LED was told of an accepted and a refused press");
  // And the host's log has what each press did, with its source.
  assert.deepEqual(s.commands.filter((c) => c.source === "button").map((c) => [c.name, c.error ?? null]),
    [["tare", "NOT_STABLE"], ["tare", null], ["clear_tare", null], ["zero", null]]);
});

test("the button: a very long press with the platform empty begins a calibration that the next press completes with the reference weight", async () => {
  const s = await scale([
    { type: "set", at: 5, key: "BUTTON_CAL_KG", value: 5 },
    { type: "button", at: 7, duration: 7 }, // very long, empty: zero, then wait for the weight
    { type: "load", at: 16, kg: 5, rampS: 0.3 },
    { type: "button", at: 19, duration: 0.2 },
  ]);
  const armed: boolean[] = [];
  s.run(15, () => armed.push((s.buttonLed & 4) !== 0));
  assert.ok(armed.at(-1), "the LED shows a calibration waiting");
  const before = results(s).filter((r) => r.source === "button");
  assert.deepEqual(before.map((r) => [r.cmd, r.status]), [["zero", "accepted"]]);
  s.run(21);
  const after = results(s).filter((r) => r.source === "button");
  assert.deepEqual(after.map((r) => [r.cmd, r.status]), [["calibrate", "accepted"]]);
  assert.equal(s.buttonLed & 4, 0, "nothing waits any more");
  s.run(23);
  assert.ok(Math.abs(s.reading().grossKg - 5) <= 0.01, `the reference weight reads ${s.reading().grossKg}`);
});

test("the button without a reference weight refuses to calibrate; a scale never calibrated records the empty point first", async () => {
  const s = await scaleFor({ rate: 10, events: [{ type: "button", at: 3, duration: 6.5 }] }, 5);
  s.core.setDeviceId("shelf1");
  s.core.connected(true);
  s.run(10);
  assert.deepEqual(results(s).filter((r) => r.source === "button").map((r) => [r.cmd, r.reason]), [["calibrate", "BAD_VALUE"]]);
  const t = await scaleFor({
    rate: 10,
    events: [{ type: "set", at: 0.5, key: "BUTTON_CAL_KG", value: 10 }, { type: "button", at: 3, duration: 6.5 },
      { type: "load", at: 11, kg: 10, rampS: 0.3 }, { type: "button", at: 14, duration: 0.2 }, { type: "load", at: 16, kg: 4 }],
  }, 5);
  t.core.setDeviceId("shelf1");
  t.core.connected(true);
  t.run(19);
  assert.deepEqual(results(t).filter((r) => r.source === "button").map((r) => [r.cmd, r.status]), [["cal_point", "accepted"], ["calibrate", "accepted"]]);
  assert.ok(Math.abs(t.reading().grossKg - 4) <= 0.02, `4 kg reads ${t.reading().grossKg}`);
  assert.equal(t.reading().flags & NET, 0);
});

test("a recording with button presses and counting replays to the same readings", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-count-"));
  try {
    const file = join(dir, "shelf.rec");
    const scenario = parseScenario({ rate: 10, events: [...CAL_10KG,
      { type: "set", at: 5, key: "PIECE_KG", value: PIECE },
      { type: "load", at: 6, kg: 7 * PIECE, rampS: 0.2 },
      { type: "button", at: 9, duration: 0.3, bounces: 3 },
      { type: "load", at: 10, kg: 12 * PIECE, rampS: 0.3 },
    ] }, "shelf");
    const s = await Scale.create(scenario, { seed: 3, record: file });
    const live: Reading[] = [];
    s.run(14, (r) => live.push({ ...r }));
    await s.close();
    const { readings } = await replay(file);
    const tail = (rs: Reading[]) => rs.filter((r) => r.tMs >= 5500).map((r) => [r.seq, r.kg, r.flags, r.count]);
    assert.deepEqual(tail(readings), tail(live));
    assert.ok(live.at(-1)!.flags & NET, "tared by the button");
    assert.equal(live.at(-1)!.count, 5, "5 pieces on the tared 7");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Home Assistant discovers the count as a sensor of its own, unknown while nothing is counted", async () => {
  const s = await scaleFor({ rate: 10, events: [] }, 1);
  s.core.setDeviceId("shelf1");
  s.core.connected(true);
  const configs = new Map<string, Record<string, unknown>>();
  for (let m = s.core.next(); m; m = s.core.next()) {
    if (m.topic.startsWith("homeassistant/")) configs.set(m.topic, JSON.parse(m.payload.toString()) as Record<string, unknown>);
    s.core.done();
  }
  const count = configs.get("homeassistant/sensor/shelf1/count/config");
  assert.ok(count, [...configs.keys()].join(", "));
  assert.equal(count.state_topic, "wasm-scale/shelf1/state");
  assert.equal(count.unique_id, "wasm-scale-shelf1-count");
  assert.equal(count.value_template, "{{ value_json.count if value_json.count is defined else None }}");
  assert.equal(count.unit_of_measurement, "pcs");
});

test("a long press gives up a calibration the button began", async () => {
  const s = await scale([
    { type: "set", at: 5, key: "BUTTON_CAL_KG", value: 5 },
    { type: "button", at: 7, duration: 7 },
    { type: "button", at: 16, duration: 3 },
    { type: "load", at: 20, kg: 2, rampS: 0.2 },
    { type: "button", at: 23, duration: 0.2 },
  ]);
  s.run(15);
  assert.ok(s.buttonLed & 4, "waiting for the weight");
  s.run(20);
  assert.equal(s.buttonLed & 4, 0, "given up");
  s.run(25);
  // The short press after it tares: it does not calibrate with 2 kg as the 5 kg reference.
  assert.deepEqual(results(s).filter((r) => r.source === "button").map((r) => r.cmd), ["zero", "zero", "tare"]);
  assert.ok(Math.abs(s.reading().grossKg - 2) <= 0.02, `2 kg still reads ${s.reading().grossKg}`);
});

test("settings saved before counting (version 3) are read, counting keeps its defaults, and they are saved again in today's form", async () => {
  const s = await scale([]);
  s.core.set("PUBLISH_MS", 250);
  const v4 = Buffer.from(s.core.saveBlob("CONFIG"));
  // The same settings as the version 3 core wrote them: 28 keys, before PIECE_KG.
  const payload = v4.subarray(8, 8 + 28 * 4);
  const head = Buffer.alloc(8);
  v4.copy(head, 0, 0, 5);
  head[5] = 3;
  head.writeUInt16LE(payload.length, 6);
  const body = Buffer.concat([head, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body) >>> 0);
  const v3 = Buffer.concat([body, crc]);
  const again = await ScaleCore.load(s.host);
  again.set("PIECE_KG", 0.5);
  again.dirty();
  assert.equal(again.loadBlob("CONFIG", v3), 0);
  assert.equal(again.get("PUBLISH_MS"), 250);
  assert.equal(again.get("PIECE_KG"), 0.5, "keys the blob does not have keep their values");
  assert.deepEqual(again.dirty(), ["CONFIG"]);
  assert.equal(again.saveBlob("CONFIG")[5], 4);
});
