// Recording on the device: the core, asked by a `record` command, publishes what it is given on
// the raw topic; the batches decode to a recording that replays to the device's own readings.
// Recording never costs a reading or a publish: the readings published are the same with and
// without it, and a recording the network cannot carry is cut short and counted, not queued.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { Cli, bin } from "./processes.js";
import { freePort } from "./brokers.js";
import { spawnSync } from "node:child_process";
import { parseBatch, decodeBatches, type Batch } from "../host/desktop/device-recording.js";
import { Recorder } from "../host/desktop/record.js";
import { replay } from "../host/desktop/replay.js";
import type { OutMessage } from "../host/desktop/core.js";
import type { VirtualScale } from "../host/desktop/virtual-scale.js";

const SCENARIO = {
  rate: 80, settings: { PUBLISH_MS: 0 },
  events: [...CAL_10KG, { type: "load", at: 7, kg: 3.5, rampS: 0.2 }, { type: "load", at: 9, kg: 1.25, rampS: 0.4 }],
};

/** Runs the scale to `untilS`, publishing as a connected host does after every sample (when `online`). */
function runOnline(scale: VirtualScale, untilS: number, sent: OutMessage[], online = () => true): void {
  while (scale.nowS < untilS) {
    scale.step();
    if (!online()) continue;
    for (let m = scale.core.next(); m; m = scale.core.next()) {
      sent.push(m);
      scale.core.done();
    }
  }
}

async function device(): Promise<VirtualScale> {
  const scale = await scaleFor(SCENARIO, 3);
  scale.core.setDeviceId("hive7");
  scale.core.connected(true);
  return scale;
}

const state = (sent: OutMessage[]) => sent.filter((m) => m.topic === "wasm-scale/hive7/state").map((m) => m.payload.toString());
const batches = (sent: OutMessage[]): Batch[] => sent.filter((m) => m.topic === "wasm-scale/hive7/raw").map((m) => parseBatch(m.payload));

test("a device recording replays to the device's readings, and recording costs no reading", async () => {
  const plain: OutMessage[] = [];
  runOnline(await device(), 12, plain);

  const scale = await device();
  const sent: OutMessage[] = [];
  runOnline(scale, 5, sent);
  const answer = scale.core.message("wasm-scale/hive7/cmd", Buffer.from('{"cmd":"record","seconds":6,"id":"r1"}'));
  assert.equal(answer, 0);
  const from = sent.length;
  runOnline(scale, 12, sent);
  // Every reading published without the recording is published with it, byte for byte.
  assert.deepEqual(state(sent), state(plain));
  const results = sent.filter((m) => m.topic.endsWith("/result")).map((m) => JSON.parse(m.payload.toString()));
  assert.deepEqual(results, [{ cmd: "record", id: "r1", status: "accepted" }]);
  // Raw batches: the first, then in order, the last flagged, nothing lost.
  const raw = batches(sent.slice(from));
  assert.ok(raw.length > 10, `${raw.length} batches`);
  assert.deepEqual(raw.map((b) => b.no), raw.map((_, i) => i));
  assert.equal(raw[0].flags & 1, 1);
  assert.equal(raw.at(-1)!.flags & 2, 2);
  assert.ok(raw.every((b) => b.lost === 0));
  const decoded = decodeBatches([...raw].reverse(), "hive7");
  assert.ok(Math.abs(decoded.samples - 6 * 80) <= 2, `${decoded.samples} samples`);

  // The recording replays to what the device published: the same raw counts for every reading,
  // and, once the replay's filters have filled (its first second), the same weights and flags.
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-devrec-"));
  try {
    const file = join(dir, "hive7.rec");
    const recorder = new Recorder(file);
    recorder.begin({ ...decoded.header, source: "test" });
    for (const e of decoded.events) recorder.event(e);
    await recorder.close();
    const { readings, summary } = await replay(file);
    const published = new Map(state(sent).map((t) => JSON.parse(t)).map((r) => [r.t_ms, r]));
    const first = readings[0].tMs;
    let compared = 0;
    let same = 0;
    for (const r of readings) {
      const d = published.get(r.tMs);
      assert.ok(d, `the device published a reading at ${r.tMs} ms`);
      assert.equal(r.raw, d.raw, `raw at ${r.tMs} ms`);
      if (r.tMs < first + 1000) continue;
      assert.equal(Math.abs(r.kg).toFixed(3), Math.abs(Number(d.kg)).toFixed(3), `kg at ${r.tMs} ms`);
      if (r.flags === d.flags) same++;
      compared++;
    }
    assert.ok(compared > 300, `${compared} readings compared`);
    // The stability timer and the sign of a zero's last bits carry history the recording starts
    // without: the stability window's slots start at boot on the device and at the recording's
    // start in the replay, so STABLE may come up to a slot (125 ms, 10 samples) apart after a load
    // change; nothing else differs.
    assert.ok(same / compared > 0.96, `${same} of ${compared} readings with the same flags`);
    assert.ok(summary.settleS.steps >= 1, "the recorded load changes are seen");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a recording the network cannot carry is cut short and counted; readings go first", async () => {
  const scale = await device();
  const sent: OutMessage[] = [];
  runOnline(scale, 5, sent);
  scale.core.message("wasm-scale/hive7/cmd", Buffer.from('{"cmd":"record","seconds":3}'));
  let online = false;
  runOnline(scale, 7, sent, () => online); // offline for 2 s: the two batch buffers fill, the rest is counted
  online = true;
  const at = sent.length;
  runOnline(scale, 7.05, sent);
  const after = sent.slice(at);
  // The readings kept while offline go before any raw batch.
  const firstRaw = after.findIndex((m) => m.topic.endsWith("/raw"));
  assert.ok(firstRaw > 100 && after.slice(0, firstRaw).every((m) => !m.topic.endsWith("/raw")), `first batch after ${firstRaw} messages`);
  runOnline(scale, 10, sent);
  const raw = batches(sent);
  assert.ok(raw.some((b) => b.lost > 0), "the records that found no room are counted");
  const decoded = decodeBatches(raw, "hive7");
  assert.ok(decoded.kept < decoded.received && decoded.lost > 0);
  assert.ok(decoded.samples > 0 && decoded.samples < 2 * 80, `${decoded.samples} samples kept before the hole`);
  assert.equal(raw.at(-1)!.flags & 2, 2, "the recording still ends");
});

test("record refuses what it cannot do", async () => {
  const scale = await device();
  const ask = (payload: string) => scale.core.message("wasm-scale/hive7/cmd", Buffer.from(payload));
  assert.equal(ask('{"cmd":"record"}'), -13, "MISSING_FIELD");
  assert.equal(ask('{"cmd":"record","seconds":3601}'), -2, "BAD_VALUE");
  assert.equal(ask('{"cmd":"record","seconds":1.5}'), -2, "BAD_VALUE");
  assert.equal(ask('{"cmd":"record","seconds":"10"}'), -11, "BAD_FIELD");
  assert.equal(ask('{"cmd":"record","seconds":0}'), 0, "stopping when nothing records is fine");
});

test("wasm-scale record: a running npm start records over its embedded broker, and the file replays", async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-devrec-"));
  const scenario = join(dir, "scenario.json");
  writeFileSync(scenario, JSON.stringify({ ...SCENARIO, rate: 10, settings: {} }));
  const port = await freePort();
  const certs = join(dir, "certs");
  const run = new Cli(["run", scenario, "--no-store", "--certs", certs, "--port", String(port), "--no-web", "--speed", "2"]);
  try {
    await run.waitFor(/device +connected/);
    const file = join(dir, "scale1.rec");
    const rec = spawnSync(process.execPath, [bin, "record", file, "--seconds", "4", "--certs", certs, "--port", String(port)], { encoding: "utf8" });
    assert.equal(rec.status, 0, rec.stderr);
    assert.match(rec.stdout, /scale1\.rec: 4\d samples in \d+ batches$/m);
    const { summary } = await replay(file);
    assert.ok(summary.readings > 30, `${summary.readings} readings`);
    const header = readFileSync(file).subarray(0, 2);
    assert.deepEqual([...header], [0x1f, 0x8b], "gzip");
    // No scale by that id: a clear error once it has stayed silent, and no file.
    const nobody = join(dir, "nobody.rec");
    const silent = spawnSync(process.execPath, [bin, "record", nobody, "--seconds", "2", "--wait", "2", "--device-id", "nobody",
      "--certs", certs, "--port", String(port)], { encoding: "utf8" });
    assert.equal(silent.status, 2);
    assert.match(silent.stderr, /the scale "nobody" sent nothing for 2 s/);
    assert.equal(existsSync(nobody), false);
    // A scale that refuses: the reason, at once.
    const refused = spawnSync(process.execPath, [bin, "record", nobody, "--seconds", "0", "--certs", certs, "--port", String(port)], { encoding: "utf8" });
    assert.equal(refused.status, 1, "--seconds 0 is refused (as every malformed argument) before anything is sent");
    assert.match(refused.stderr, /seconds must be a number from 1 to 3600/);
  } finally {
    run.child.kill("SIGINT");
    await run.exited;
    rmSync(dir, { recursive: true, force: true });
  }
});
