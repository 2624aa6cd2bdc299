// The ESP-IDF firmware built for the ESP32-C3 (host/esp-idf/qemu: the same main, components and
// core, with QEMU's Ethernet for WiFi and a simulated HX711 behind the pins) and booted in
// Espressif's QEMU: WAMR loads the release core with the Kconfig defaults; readings reach a
// Mosquitto on this machine over mutual TLS, and a recording the device makes of its own inputs
// replays on the desktop to the readings it published; a calibration sent over MQTT is stored in
// NVS and in force after a restart on the same flash; a core that traps is instantiated again and
// goes on weighing. The simulated chip follows the script in host/esp-idf/qemu/sdkconfig.defaults:
// empty until 40 s, 5 kg from 41 s to 80 s; a host call fails at 62 s.
// Skipped without the RISC-V compiler, gcc-12-source or the vendor folder, or when not root (its
// SNTP answer listens on port 123); CI requires it (WASM_SCALE_REQUIRE_ESP32C3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { makePki, startMosquitto } from "./brokers.js";
import { esp32c3Missing, buildEsp32c3, deviceCerts, toolsDir, startSntp, Qemu, freshFlash, imageFigures } from "./esp32c3-qemu.js";
import { parseBatch, decodeBatches, type Batch } from "../host/desktop/device-recording.js";
import { Recorder } from "../host/desktop/record.js";
import { replay } from "../host/desktop/replay.js";
import { repo } from "../host/vendor.mjs";
import { trusted, signedExample } from "./module-fixtures.js";
import { corePackage, rebuilt } from "./core-fixtures.js";
import { firmwarePackage, sendFirmware } from "../host/desktop/firmware-cli.js";
import { resolveConnection } from "../host/desktop/mqtt/config.js";
import { createServer as createHttpsServer } from "node:https";

/** A step reached, on stderr when WASM_SCALE_QEMU_ECHO is set (the emulator is slow to watch). */
const step = (what: string) => { if (process.env.WASM_SCALE_QEMU_ECHO) process.stderr.write(`step| ${what}\n`); };

const skip = process.env.WASM_SCALE_REQUIRE_ESP32C3 ? false
  : esp32c3Missing() || (process.getuid?.() !== 0 ? "the SNTP answer for the emulated board listens on port 123: run as root" : false);

const DEVICE = "c3-qemu";
const PORT = 38883; // CONFIG_SCALE_BROKER_URI in host/esp-idf/qemu/sdkconfig.defaults
const HTTPS_PORT = 38443; // where the test serves the firmware image
const OFFSET = 84000; // hx711_sim.h
const PER_KG = 41000;

interface Reading { seq: number; kg: number | null; gross_kg: number | null; raw: number; stable: boolean; calibrated: boolean; flags: number; fault: unknown; t_ms: number }

/** Everything the broker carries for the device, and a way to wait on it. */
class Watch {
  readings: Reading[] = [];
  results: Array<{ cmd: string; id?: string; status: string; reason?: string }> = [];
  raw: Batch[] = [];
  private waiters: Array<() => boolean> = [];
  take(topic: string, payload: Buffer): void {
    if (topic === `wasm-scale/${DEVICE}/state`) this.readings.push(JSON.parse(payload.toString()));
    else if (topic === `wasm-scale/${DEVICE}/result`) this.results.push(JSON.parse(payload.toString()));
    else if (topic === `wasm-scale/${DEVICE}/raw`) this.raw.push(parseBatch(payload));
    this.waiters = this.waiters.filter((w) => !w());
  }
  until<T>(find: () => T | undefined | false): Promise<T> {
    return new Promise((resolve) => {
      const check = () => {
        const v = find();
        if (v) { resolve(v); return true; }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
  }
}

/** The answers on the module steps, as they come. */
const moduleAnswers: Array<{ step: string; status: string; reason?: string; detail: string; offset?: number; chunk?: number }> = [];

async function moduleAnswer(client: mqtt.MqttClient, step: string): Promise<(typeof moduleAnswers)[number]> {
  const seen = moduleAnswers.length;
  void client;
  return watchFor(() => moduleAnswers.slice(seen).find((a) => a.step === step || a.status === "rejected"));
}

async function watchFor<T>(find: () => T | undefined, ms = 120_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found) return found;
    if (Date.now() > until) throw new Error(`no module answer in ${ms} ms: ${JSON.stringify(moduleAnswers.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends a package as `wasm-scale module install` (or `core install`: kind "core") does: begin, each chunk acknowledged, end; the verdict. */
async function sendOverMqtt(client: mqtt.MqttClient, pkg: Buffer, kind: "module" | "core" = "module"): Promise<(typeof moduleAnswers)[number]> {
  const root = `wasm-scale/${DEVICE}/module${kind === "core" ? "/core" : ""}`;
  const sha256 = createHash("sha256").update(pkg).digest("hex");
  let seen = moduleAnswers.length;
  await client.publishAsync(`${root}/begin`, JSON.stringify({ size: pkg.length, sha256, sender: "c3-watcher" }), { qos: 1 });
  const begun = await watchFor(() => moduleAnswers.slice(seen).find((a) => a.step === "begin"));
  if (begun.status !== "accepted") return begun;
  const chunk = begun.chunk ?? 1024;
  for (let at = begun.offset ?? 0; at < pkg.length; at += chunk) {
    seen = moduleAnswers.length;
    await client.publishAsync(`${root}/chunk/${at}`, pkg.subarray(at, at + chunk), { qos: 1 });
    const got = await watchFor(() => moduleAnswers.slice(seen).find((a) => a.step === "chunk"));
    if (got.status !== "accepted") return got;
  }
  seen = moduleAnswers.length;
  await client.publishAsync(`${root}/end`, "", { qos: 1 });
  return watchFor(() => moduleAnswers.slice(seen).find((a) => a.step === "install" || a.step === "end"));
}

test("ESP32-C3 firmware in QEMU: the core under WAMR, readings over mutual TLS equal to the desktop's replay, calibration kept in NVS across a restart, a trap recovered, a calibration module installed and rolled back, a core swapped in over MQTT, the firmware image updated over HTTPS and kept, settings provisioned over its console", { skip, timeout: 30 * 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-c3-"));
  const pki = await makePki();
  const certs = await deviceCerts(dir, pki.ca, DEVICE);
  // The firmware trusts the test's module signing key (main/certs/module-signing.pub on a device).
  writeFileSync(join(certs, "module-signing.pub"), trusted.pub.export({ type: "spki", format: "pem" }) as string);
  const build = buildEsp32c3(certs);
  const tools = toolsDir();
  const broker = await startMosquitto(pki, { port: PORT });
  const sntp = await startSntp();
  const watch = new Watch();
  const watcher = await mqtt.connectAsync(`mqtts://localhost:${PORT}`, {
    ca: pki.ca.cert, cert: readFileSync(pki.file("watcher.pem")), key: readFileSync(pki.file("watcher-key.pem")),
    clientId: "c3-watcher", reconnectPeriod: 200,
  });
  watcher.on("message", (topic, payload) => {
    watch.take(topic, payload);
    if (topic !== `wasm-scale/${DEVICE}/result`) return;
    try {
      const a = JSON.parse(payload.toString("utf8"));
      if (a.cmd === "module" || a.cmd === "core" || a.cmd === "firmware") moduleAnswers.push(a);
    } catch {
      // not JSON: the watch reports it
    }
  });
  await watcher.subscribeAsync(`wasm-scale/${DEVICE}/#`, { qos: 1 });
  const command = (body: object) => watcher.publishAsync(`wasm-scale/${DEVICE}/cmd`, JSON.stringify(body), { qos: 1 });
  const answer = (id: string) => watch.until(() => watch.results.find((r) => r.id === id));

  const flash = freshFlash(join(dir, "flash.bin"));
  let qemu = new Qemu(tools, flash);
  try {
    // The image boots from ota_0, as flashed; WAMR loads the release core, with the Kconfig
    // defaults, and the firmware says what it took.
    await qemu.waitFor(/wasm-scale: firmware 0\.2\.0 from ota_0/);
    const loaded = await qemu.waitFor(/wasm_host: core loaded: (\d+) bytes, ABI (\d+)/);
    assert.equal(Number(loaded[1]), statSync(join(repo, "build", "release.wasm")).size);
    const took = await qemu.waitFor(/WAMR on the heap: the core took (\d+) bytes at start \(linear memory (\d+), module copy (\d+)\)/);
    const after = await qemu.waitFor(/heap free (\d+) after the core \(largest block (\d+)\)/);
    // Over mutual TLS with the test's CA, after the clock was set by SNTP.
    const connected = await qemu.waitFor(/mqtt: connected \(session present: \d\); heap free (\d+), least ever (\d+)/);
    const leastTls = Number(connected[2]);
    t.diagnostic(`core ${loaded[1]} bytes; WAMR took ${took[1]} bytes (linear memory ${took[2]}, module copy ${took[3]}); heap free ${after[1]} after the core; least free across the TLS handshake ${leastTls}`);
    assert.ok(leastTls > 50_000, `least free heap across the TLS handshake ${leastTls}`);

    step("connected over mutual TLS");
    // The device subscribes to its commands as it connects, before it publishes: after its first
    // reading a command reaches it. Every reading is published from here on (10 SPS).
    await watch.until(() => watch.readings.length > 0);
    await command({ cmd: "config", key: "PUBLISH_MS", value: 0, id: "p0" });
    assert.equal((await answer("p0")).status, "accepted");

    step("every reading published");
    // Calibration over MQTT: the empty platform, then the 5 kg the script puts on at 41 s.
    const near = (r: Reading, kg: number) => Math.abs(r.raw - (OFFSET + kg * PER_KG)) < 200;
    // A command sent once a stable reading of the load has been published. The emulated CPU can
    // stretch a read past the HX711's power-down time while TLS takes it (a POWER_DOWN reading, as
    // a real chip would report it), and a command then is refused FAULTED or NOT_STABLE, as it must
    // be: it is sent again after the next stable reading, up to five times.
    const whenStable = async (body: Record<string, unknown>, id: string, kg: number): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        const from = watch.readings.length;
        await watch.until(() => watch.readings.slice(from).find((r) => r.stable && near(r, kg)));
        await command({ ...body, id: `${id}.${attempt}` });
        const a = await answer(`${id}.${attempt}`);
        if (a.status === "accepted") return;
        assert.ok(attempt < 5 && (a.reason === "FAULTED" || a.reason === "NOT_STABLE"), JSON.stringify(watch.results));
      }
    };
    await whenStable({ cmd: "cal_point", kg: 0 }, "c0", 0);
    step("the empty platform recorded; waiting for the 5 kg");
    await whenStable({ cmd: "calibrate", kg: 5 }, "c1", 5);
    const calibrated = await watch.until(() => watch.readings.find((r) => r.calibrated && r.stable && r.kg !== null && Math.abs(r.kg - 5) < 0.011));
    assert.ok(calibrated);

    step("calibrated");
    // The device records its own inputs; the desktop replays them to the readings it published.
    const rawFrom = watch.raw.length;
    await command({ cmd: "record", seconds: 8, id: "r1" });
    assert.equal((await answer("r1")).status, "accepted");
    const batches = await watch.until(() => watch.raw.slice(rawFrom).some((b) => (b.flags & 2) !== 0) && watch.raw.slice(rawFrom));
    step("recorded");
    const decoded = decodeBatches(batches, DEVICE);
    assert.ok(decoded.samples >= 70, `${decoded.samples} samples recorded`);
    const file = join(dir, "c3.rec");
    const recorder = new Recorder(file);
    recorder.begin({ ...decoded.header, source: "esp32c3-qemu" });
    for (const e of decoded.events) recorder.event(e);
    await recorder.close();
    const { readings: replayed } = await replay(file);
    const published = new Map(watch.readings.map((r) => [r.t_ms, r]));
    const first = replayed[0].tMs;
    let compared = 0;
    for (const r of replayed) {
      const d = published.get(r.tMs);
      assert.ok(d, `the device published a reading at ${r.tMs} ms`);
      assert.equal(r.raw, d.raw, `raw at ${r.tMs} ms`);
      if (r.tMs < first + 1000) continue; // the replay's filters fill from the recording's start
      assert.equal(r.kg.toFixed(2), (d.kg ?? NaN).toFixed(2), `kg at ${r.tMs} ms`);
      compared++;
    }
    assert.ok(compared >= 60, `${compared} readings compared`);

    step("the replay equals the device");
    // The scripted failure at 62 s traps the core; it is instantiated again and weighs on, calibrated.
    await qemu.waitFor(/core trapped in scale_sample: (?:Exception: )?gpio\.wait_low: scripted failure/);
    const trappedAt = watch.readings.length;
    await qemu.waitFor(/core instantiated again/);
    step("trapped and instantiated again");
    const resumed = await watch.until(() => watch.readings.slice(trappedAt).find((r) => r.calibrated && r.stable && r.kg !== null && Math.abs(r.kg - 5) < 0.011));
    assert.ok(resumed);

    step("weighing again after the trap");
    // A calibration module over MQTT in 1 KiB chunks, through the module manager under WAMR on the
    // real ESP-IDF heap with TLS up: installed on trial, then rolled back to the calibration above.
    const sent = await sendOverMqtt(watcher, signedExample("table"));
    assert.equal(sent.status, "accepted", JSON.stringify(sent));
    const manager = await qemu.waitFor(/module manager loaded: took (\d+) bytes, heap free (\d+), least ever (\d+)/);
    await watcher.publishAsync(`wasm-scale/${DEVICE}/module/rollback`, "", { qos: 1 });
    const back = await moduleAnswer(watcher, "rollback");
    assert.equal(back.status, "accepted", JSON.stringify(back));
    const builtIn = watch.readings.length;
    await watch.until(() => watch.readings.slice(builtIn).find((r) => r.calibrated && r.stable && r.kg !== null && Math.abs(r.kg - 5) < 0.011));
    t.diagnostic(`module manager loaded with TLS up: took ${manager[1]} bytes, heap free ${manager[2]}, least ever ${manager[3]}`);
    step("a module installed and rolled back over MQTT");
    // The core itself over MQTT in 1 KiB chunks: read in place from the `cores` partition, swapped
    // into the running WAMR with the scale's state, confirmed by 200 readings.
    const coreSent = await sendOverMqtt(watcher, corePackage(rebuilt(), "0.2.1"), "core");
    assert.equal(coreSent.status, "accepted", JSON.stringify(coreSent));
    assert.match(coreSent.detail, /core wasm-scale 0\.2\.1 weighs now, on trial until 200 good readings; the running state moved into it/);
    const coreManager = await qemu.waitFor(/core manager loaded: took (\d+) bytes, heap free (\d+), least ever (\d+)/);
    t.diagnostic(`core manager loaded with TLS up: took ${coreManager[1]} bytes, heap free ${coreManager[2]}`);
    const swapped = watch.readings.length;
    const coreConfirmed = await watchFor(() => moduleAnswers.find((a) => a.step === "confirm" && /core 0\.2\.1/.test(a.detail)), 300_000);
    assert.equal(coreConfirmed.status, "accepted");
    const afterSwap = watch.readings.slice(swapped);
    for (let i = 1; i < afterSwap.length; i++) assert.equal(afterSwap[i].seq, afterSwap[i - 1].seq + 1, "no reading lost or repeated across the swap");
    await watch.until(() => watch.readings.slice(swapped).find((r) => r.calibrated && r.stable && r.kg !== null && Math.abs(r.kg - 5) < 0.011));
    step("a core swapped in over MQTT and confirmed");
    // The firmware image itself: a signed package describes it, the scale fetches it over HTTPS
    // into ota_1, checks it and restarts into it, and keeps it once it has weighed and reached the
    // broker. An older version is refused first.
    const image = readFileSync(join(build, "wasm-scale.bin"));
    const url = `https://10.0.2.2:${HTTPS_PORT}/wasm-scale.bin`;
    let served = 0;
    const https = createHttpsServer({ cert: pki.server.cert, key: readFileSync(pki.file("server-key.pem"), "utf8") }, (req, res) => {
      if (req.url !== "/wasm-scale.bin") return void res.writeHead(404).end();
      served++;
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": image.length }).end(image);
    });
    await new Promise<void>((resolve) => https.listen(HTTPS_PORT, resolve));
    try {
      // Sent as `wasm-scale firmware install --wait` sends it.
      const tool = resolveConnection(undefined, {}, { url: `mqtts://localhost:${PORT}`, deviceId: DEVICE, ca: pki.file("ca.pem"), cert: pki.file("watcher.pem"), key: pki.file("watcher-key.pem") });
      const [old] = await sendFirmware(tool, firmwarePackage(image, "0.2.0", url, trusted.priv));
      assert.equal(old.reason, "DOWNGRADE", JSON.stringify(old));
      const otaLine = qemu.lines.length;
      const [accepted, fetched] = await sendFirmware(tool, firmwarePackage(image, "0.2.1", url, trusted.priv), { waitFetch: true, timeoutMs: 900_000 });
      assert.equal(accepted.status, "accepted", JSON.stringify(accepted));
      assert.equal(fetched?.step, "fetch", JSON.stringify(fetched));
      assert.equal(fetched.status, "accepted", JSON.stringify(fetched));
      assert.match(fetched.detail, new RegExp(`${image.length} bytes into ota_1, SHA-256 checked: restarting into it`));
      await qemu.waitFor(/rst:0xc \(RTC_SW_CPU_RST\)/, otaLine);
      await qemu.waitFor(/wasm-scale: firmware 0\.2\.0 from ota_1/, otaLine);
      await qemu.waitFor(/core 0\.2\.1 from slot c/, otaLine);
      await qemu.waitFor(/this firmware image weighed and reached the broker: kept/, otaLine);
      assert.equal(served, 1);
    } finally {
      await new Promise((resolve) => https.close(resolve));
    }
    step("the firmware image updated over the air and kept");
    // Provisioning over the console UART (provision_console.c on the real ESP-IDF): a value refused
    // with its reason, then a setting committed to NVS, read back, and in use after the restart.
    qemu.send("hello\n");
    await qemu.waitFor(/prov ok \{"firmware":"wasm-scale","version":"[^"]*","chip":"esp32c3","protocol":1\}/);
    qemu.send("set broker mqtt://plain.example\n");
    await qemu.waitFor(/prov err BAD_VALUE broker: .*plaintext MQTT is refused/);
    qemu.send("set wifi_ssid qemu-ethernet\ncommit\nget\n");
    await qemu.waitFor(/prov ok saved \(\d+ bytes\)/);
    await qemu.waitFor(/prov ok \{"stored":true,"wifi_ssid":"qemu-ethernet","wifi_password":false,"broker":null/);
    step("provisioned over the console");
    // Its restart, asked for over the console: the core's thread keeps the state in RTC memory and
    // the chip boots again on the stored settings, the state given back.
    const bootLine = qemu.lines.length;
    qemu.send("restart\n");
    await qemu.waitFor(/prov ok restarting/, bootLine);
    await qemu.waitFor(/rst:0xc \(RTC_SW_CPU_RST\)/, bootLine);
    await qemu.waitFor(/settings: device c3-qemu, broker mqtts:\/\/10\.0\.2\.2:\d+, WiFi "qemu-ethernet" \(stored settings\)/, bootLine);
    await qemu.waitFor(/battery: wake \d+: state restored from RTC memory \(\d+ bytes\)/, bootLine);
    step("restarted over the console with its state");
    // A restart on the same flash: the calibration comes back from NVS, no command sent.
    await qemu.stop();
    const beforeRestart = watch.readings.length;
    qemu = new Qemu(tools, flash);
    await qemu.waitFor(/settings: device c3-qemu, broker mqtts:\/\/10\.0\.2\.2:\d+, WiFi "qemu-ethernet" \(stored settings\)/);
    const empty = await watch.until(() => watch.readings.slice(beforeRestart).find((r) => r.stable && near(r, 0)));
    assert.equal(empty.calibrated, true, JSON.stringify(empty));
    assert.equal(Math.abs(empty.kg ?? NaN).toFixed(2), "0.00", JSON.stringify(empty));
    const figures = imageFigures(build);
    t.diagnostic(`app ${figures.appBytes} bytes, static RAM ${figures.staticRamBytes} bytes; ${compared} readings equal to the replay`);
  } catch (e) {
    const faults = watch.readings.filter((r) => r.fault !== null);
    throw new Error(`${(e as Error).message}\n--- ${watch.readings.length} readings, ${faults.length} faulted; first faults: ${JSON.stringify(faults.slice(0, 5))}\nlast readings: ${JSON.stringify(watch.readings.slice(-5))}\n--- serial (last 80 lines) ---\n${qemu.lines.slice(-80).join("\n")}\n--- broker ---\n${broker.log()}`);
  } finally {
    await qemu.stop();
    await watcher.endAsync(true);
    sntp.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
