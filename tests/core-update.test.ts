// The core itself updated over the air on the desktop host, with the real cores: a package checked
// by the module manager (assembly/manager/core.ts), swapped in with the running state moved into it
// byte for byte, confirmed by good readings, kept across a restart; refused with its reason while
// the scale weighs on; rolled back on a trap (no reading lost), on a restart during the trial and
// on request; and, as a user runs it, over MQTT (aedes, TLS) on a running npm start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import mqtt from "mqtt";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { trusted } from "./module-fixtures.js";
import { firmwarePackage } from "../host/desktop/firmware-cli.js";
import { corePackage, rebuilt, release, trappingCore, refusedCores, STATE, OWN_VERSION } from "./core-fixtures.js";
import { ModuleManager, type ModuleEvent } from "../host/desktop/modules/manager.js";
import { MemorySlots, type SlotStore } from "../host/desktop/modules/slots.js";
import { freePort } from "./brokers.js";
import { Cli, bin } from "./processes.js";
import { certFiles } from "../host/desktop/certs.js";
import type { VirtualScale } from "../host/desktop/virtual-scale.js";
import type { Reading } from "../host/desktop/core.js";

const SCENARIO = { rate: 80, events: [...CAL_10KG, { type: "load", at: 6, kg: 20, rampS: 0.3 }, { type: "command", at: 7.5, name: "tare" }] };

interface Rig {
  scale: VirtualScale;
  manager: ModuleManager;
  events: ModuleEvent[];
  readings: Reading[];
  slots: SlotStore;
}

/** A scale booted as npm start boots one: the manager names the core, then the scale starts on it. */
async function rig(slots: SlotStore = new MemorySlots()): Promise<Rig> {
  const events: ModuleEvent[] = [];
  const boot = ModuleManager.bootCore(slots, [trusted.pub]);
  events.push(...boot.events);
  const scale = await scaleFor(SCENARIO, 5, boot.wasm ?? undefined);
  scale.core.setDeviceId("scale1"); // its readings queue in the outbox (no broker here)
  const manager = new ModuleManager(scale.core, scale.host.calibration, slots, [trusted.pub], { cores: scale });
  scale.modules = manager;
  scale.coreListeners.push((core) => manager.setCore(core));
  manager.onEvent = (e) => events.push(e);
  manager.restore();
  return { scale, manager, events, readings: [], slots };
}

function runTo(r: Rig, s: number): void {
  r.scale.run(s, (reading) => r.readings.push(reading));
}

/** Every reading follows the one before it: none lost, none repeated. */
function consecutive(readings: Reading[]): void {
  for (let i = 1; i < readings.length; i++) assert.equal(readings[i].seq, readings[i - 1].seq + 1, `reading ${i}: seq ${readings[i - 1].seq} then ${readings[i].seq}`);
}

test("a rebuilt core is swapped in with the scale's whole state, confirmed by good readings and kept across a restart", async () => {
  const r = await rig();
  runTo(r, 9);
  const before = r.scale.core;
  const state = Buffer.from(before.saveState());
  const queued = before.pending;
  assert.ok(queued > 5, `readings wait in the outbox (no broker here): ${queued}`);
  const verdict = r.manager.install(corePackage(rebuilt(), "0.2.1"), "core");
  assert.equal(verdict.status, "accepted", verdict.detail);
  assert.equal(verdict.kind, "core");
  assert.match(verdict.detail, /core wasm-scale 0\.2\.1 weighs now, on trial until 200 good readings; the running state moved into it/);
  assert.notEqual(r.scale.core, before, "another instance weighs");
  assert.deepEqual(Buffer.from(r.scale.core.bytes), Buffer.from(rebuilt()));
  assert.deepEqual(Buffer.from(r.scale.core.saveState()), state, "the state moved byte for byte: filters, zero, tare, sequence numbers, the outbox");
  assert.equal(r.scale.core.pending, queued);
  assert.deepEqual(r.manager.activeCore, { slot: "c", version: "0.2.1", trial: true });
  runTo(r, 14);
  consecutive(r.readings);
  const last = r.readings[r.readings.length - 1];
  assert.ok(Math.abs(last.grossKg - 20) <= 0.02, `calibration kept: ${last.grossKg} kg gross`);
  assert.ok(Math.abs(last.kg) <= 0.02, `tare kept: ${last.kg} kg net`);
  const confirm = r.events.find((e) => e.step === "confirm");
  assert.ok(confirm, "confirmed");
  assert.match(confirm.detail, /core 0\.2\.1 \(slot c\) confirmed after 200 good readings/);
  assert.equal(r.manager.activeCore.trial, false);

  const again = await rig(r.slots);
  assert.deepEqual(Buffer.from(again.scale.core.bytes), Buffer.from(rebuilt()), "the restart boots the confirmed core");
  assert.deepEqual(again.manager.activeCore, { slot: "c", version: "0.2.1", trial: false });
  assert.deepEqual(again.events, []);
});

test("a core that is damaged, truncated, foreign, older or wrongly signed is refused with its reason while the scale weighs on", async () => {
  const r = await rig();
  runTo(r, 9);
  const core = r.scale.core;
  for (const [what, pkg, reason] of refusedCores()) {
    const verdict = r.manager.install(pkg, "core");
    assert.equal(verdict.status, "rejected", `${what}: ${verdict.detail}`);
    assert.equal(verdict.reason, reason, `${what}: ${verdict.detail}`);
    assert.equal(r.scale.core, core, `${what}: the core in force weighs on`);
  }
  runTo(r, 11);
  consecutive(r.readings);
  assert.deepEqual(r.manager.activeCore, { slot: null, version: OWN_VERSION, trial: false });
  const old = r.manager.install(corePackage(rebuilt(), "0.1.9"), "core");
  assert.match(old.detail, /core wasm-scale 0\.1\.9 is not newer than the 0\.2\.0 in force: versions only go up/);
});

test("a core that traps in its trial is rolled back at once, with the readings queued; a restart during a trial rolls back; a rollback on request", async () => {
  const r = await rig();
  runTo(r, 9);
  const verdict = r.manager.install(corePackage(trappingCore(100), "0.3.0"), "core");
  assert.equal(verdict.status, "accepted", verdict.detail);
  const queued = r.scale.core.pending;
  runTo(r, 12);
  const rollback = r.events.find((e) => e.step === "rollback");
  assert.ok(rollback, "rolled back");
  assert.equal(rollback.reason, "TRAPPED", rollback.detail);
  assert.match(rollback.detail, /core 0\.3\.0 \(slot c\) rolled back \(TRAPPED: .*unreachable.*\): the firmware's own core 0\.2\.0 weighs now/);
  assert.deepEqual(Buffer.from(r.scale.core.bytes), Buffer.from(release()));
  consecutive(r.readings);
  assert.ok(queued > 5 && r.scale.core.pending > queued, `the readings queued before the trap are still queued: ${queued}, then ${r.scale.core.pending}`);
  assert.ok(Math.abs(r.readings[r.readings.length - 1].kg) <= 0.02, "tare kept");

  // A restart during a trial: the next boot rolls back before anything is instantiated.
  assert.equal(r.manager.install(corePackage(rebuilt(), "0.3.1"), "core").status, "accepted");
  const restarted = await rig(r.slots);
  assert.deepEqual(Buffer.from(restarted.scale.core.bytes), Buffer.from(release()));
  const unconfirmed = restarted.events.find((e) => e.step === "rollback");
  assert.equal(unconfirmed?.reason, "UNCONFIRMED", JSON.stringify(restarted.events));
  assert.match(unconfirmed!.detail, /restarted before core 0\.3\.1 \(slot [cd]\) was confirmed: the firmware's own core 0\.2\.0 weighs/);

  // Requested: back to the one before, then nothing to go back to.
  assert.equal(restarted.manager.install(corePackage(rebuilt(), "0.3.2"), "core").status, "accepted");
  runTo(restarted, 6);
  const asked = restarted.manager.rollback("core");
  assert.equal(asked.status, "accepted", asked.detail);
  assert.match(asked.detail, /core 0\.3\.2 \(slot [cd]\) rolled back \(requested\): the firmware's own core 0\.2\.0 weighs now/);
  runTo(restarted, 8);
  consecutive(restarted.readings);
  assert.equal(restarted.manager.rollback("core").reason, "NO_PREVIOUS");
});

test("the firmware's own core is the release package.json names (assembly/version.ts)", () => {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  assert.equal(new ModuleManager(null, null, null, []).activeCore.version, version);
  assert.equal(OWN_VERSION, version);
});

test("the desktop runs no firmware image: a firmware package is refused with its reason, nothing fetched", async () => {
  const r = await rig();
  runTo(r, 3);
  const image = Buffer.alloc(4000, 1);
  image[0] = 0xe9;
  r.manager.message("firmware", firmwarePackage(image, "0.3.0", "https://updates.example/wasm-scale.bin", trusted.priv));
  const refused = r.events.find((e) => e.kind === "firmware");
  assert.equal(refused?.reason, "BAD_PACKAGE", JSON.stringify(r.events));
  assert.match(refused!.detail, /this scale's firmware image is not updated over the air \(update its core: wasm-scale core install\)/);
});

test("a core whose state stream differs starts from the blobs, keeps calibration and settings, and says so", async () => {
  const r = await rig();
  runTo(r, 9);
  const verdict = r.manager.install(corePackage(rebuilt(), "0.2.1", { state: STATE + 1 }), "core");
  assert.equal(verdict.status, "accepted", verdict.detail);
  assert.match(verdict.detail, /it started from the blobs \(its state stream is version 7, not the running core's\)/);
  const from = r.readings.length;
  runTo(r, 13);
  const last = r.readings[r.readings.length - 1];
  assert.ok(from < r.readings.length);
  assert.ok(Math.abs(last.grossKg - 20) <= 0.02, `calibration kept: ${last.grossKg}`);
});

test("wasm-scale core pack, sign, verify and install a rebuilt core on a running npm start over MQTT (aedes, TLS): no reading lost or repeated; core rollback", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-corecli-"));
  const keys = join(dir, "keys");
  const certs = join(dir, "certs");
  const store = join(dir, "store.json");
  const port = String(await freePort());
  const wasm = join(dir, "rebuilt.wasm");
  const pkg = join(dir, "core.wsc");
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  let scale: Cli | null = null;
  let watcher: mqtt.MqttClient | null = null;
  try {
    assert.equal(run("module", "keygen", "--out", keys).status, 0);
    writeFileSync(wasm, rebuilt());
    const packed = run("core", "pack", wasm, "--version", "0.2.1", "--out", pkg);
    assert.equal(packed.status, 0, packed.stderr);
    assert.match(packed.stdout, new RegExp(`core wasm-scale 0\\.2\\.1, ABI 6, state stream ${STATE}, \\d+ bytes \\(unsigned`));
    assert.match(run("core", "verify", pkg, "--module-key", join(keys, "module-signing.pub")).stderr, /UNSIGNED/);
    assert.equal(run("core", "sign", pkg, "--key", join(keys, "module-signing.key")).status, 0);
    const verified = run("core", "verify", pkg, "--module-key", join(keys, "module-signing.pub"));
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /core wasm-scale 0\.2\.1 for core ABI 6, state stream 6, imports and exports as this firmware's/);

    scale = new Cli(["run", "--store", store, "--certs", certs, "--port", port, "--no-web", "--speed", "4", "--module-key", join(keys, "module-signing.pub")]);
    await scale.waitFor(/device {6}connected/);
    // A subscriber of our own, as Home Assistant would be: every reading's seq across the swap.
    const me = certFiles(certs, "subscriber");
    const client = await mqtt.connectAsync(`mqtts://localhost:${port}`, { ca: readFileSync(me.ca), cert: readFileSync(me.device), key: readFileSync(me.deviceKey), clientId: "core-update-watch" });
    watcher = client;
    const seqs: number[] = [];
    const states: Array<{ calibrated?: boolean }> = [];
    client.on("message", (topic, payload) => {
      if (topic !== "wasm-scale/scale1/state") return;
      const r = JSON.parse(payload.toString()) as { seq?: number; calibrated?: boolean };
      if (typeof r.seq === "number") seqs.push(r.seq);
      states.push(r);
    });
    await client.subscribeAsync("wasm-scale/scale1/state", { qos: 1 });
    while (seqs.length < 20) await new Promise((resolve) => setTimeout(resolve, 100));
    const before = states.at(-1)!;
    assert.equal(before.calibrated, true, "npm start's scenario calibrated the scale");
    const installed = run("core", "install", pkg, "--certs", certs, "--port", port);
    assert.equal(installed.status, 0, installed.stdout + installed.stderr);
    assert.match(installed.stdout, /install accepted: wasm-scale 0\.2\.1: core wasm-scale 0\.2\.1 weighs now, on trial/);
    await scale.waitFor(/core {8}confirm accepted/);
    const listed = JSON.parse(run("core", "list", "--store", store, "--json").stdout) as { active: { slot: string; version: string; trial: boolean } };
    assert.deepEqual(listed.active, { slot: "c", version: "0.2.1", trial: false });
    const rolledBack = run("core", "rollback", "--certs", certs, "--port", port);
    assert.equal(rolledBack.status, 0, rolledBack.stderr);
    assert.match(rolledBack.stdout, /rollback accepted: .*the firmware's own core 0\.2\.0 weighs now/);
    const mark = seqs.length;
    while (seqs.length < mark + 20) await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `published seq ${seqs[i - 1]} then ${seqs[i]}`);
    const from = states.indexOf(before);
    assert.ok(states.slice(from).every((r) => r.calibrated === true), "the calibration kept across both swaps");
  } finally {
    await watcher?.endAsync();
    if (scale && scale.child.exitCode === null) {
      scale.child.kill("SIGINT");
      await scale.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
