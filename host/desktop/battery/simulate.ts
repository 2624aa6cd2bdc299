// `simulate --battery`: a scenario run as a battery scale on virtual time, publishing over TLS to an
// embedded broker (aedes, certificates made for the run), with the scenario's network outages;
// reported as what the energy model says the battery does.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VirtualScale } from "../virtual-scale.js";
import { writeCerts, certFiles } from "../certs.js";
import { startBroker } from "../mqtt/broker.js";
import { resolveConnection } from "../mqtt/config.js";
import { CoreError } from "../core.js";
import type { Scenario } from "../scenario.js";
import type { EngineName } from "../engines/engine.js";
import { BatteryDevice, RTC_STATE_BYTES } from "./device.js";
import { report, DEFAULT_BATTERY, DEFAULT_MODEL, ALKALINE_AA, LITHIUM_AA, DEVKIT, type Battery, type BatteryReport, type EnergyModel } from "./energy.js";

export interface BatterySummary extends BatteryReport {
  scenario: string;
  wakes: number;
  publishingWakes: number;
  failedConnections: number;
  resumedTls: number;
  readingsTaken: number;
  readingsDelivered: number;
  readingsQueued: number;
  coldStarts: number;
  /** Virtual ms of a wake, on average: boot and sampling; and with a connection that got through. */
  wakeMsWithoutPublish: number;
  wakeMsWithPublish: number;
  maxStateBytes: number;
  flashWrites: number;
  capacityMah: number;
  /** The same wakes on 2 alkaline AA cells (a bare module), and on a DevKitC with lithium cells. */
  batteryDaysAlkaline: number;
  batteryDaysDevkit: number;
  /** The model charges resumed TLS handshakes (false for the ESP32 today). */
  tlsResumption: boolean;
}

export interface BatterySimOptions {
  seed: number;
  durationS: number;
  wasm?: string;
  engine?: EngineName;
  model?: EnergyModel;
  battery?: Battery;
  deviceId?: string;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export async function simulateBattery(scenario: Scenario, o: BatterySimOptions): Promise<BatterySummary> {
  const deviceId = o.deviceId ?? "scale1";
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-battery-"));
  try {
    await writeCerts(dir, { clients: [deviceId], hosts: ["localhost", "127.0.0.1"] });
    const files = certFiles(dir, deviceId);
    const broker = await startBroker({
      ca: readFileSync(files.ca, "utf8"), cert: readFileSync(files.broker, "utf8"), key: readFileSync(files.brokerKey, "utf8"), requireClientCert: true,
    });
    try {
      const scale = await VirtualScale.create(scenario, { seed: o.seed, wasm: o.wasm, engine: o.engine });
      const connection = resolveConnection(undefined, {}, { url: broker.url, deviceId, ca: files.ca, cert: files.device, key: files.deviceKey });
      const device = new BatteryDevice(scale, { connection, epochMs: Date.UTC(2026, 0, 1), model: o.model ?? DEFAULT_MODEL });
      await device.run(o.durationS);
      if (device.batteryFromMs === null) {
        throw new CoreError(`the scenario never turns battery mode on: set WAKE_INTERVAL_S (in its settings, or a "set" event)`);
      }
      const wakes = device.wakes;
      const boot = device.ledger.model.bootMs;
      const quiet = wakes.filter((w) => !w.publish).map((w) => boot + w.sampleMs);
      const sent = wakes.filter((w) => w.session?.ok).map((w) => boot + w.sampleMs + w.connectMs);
      const taken = wakes.filter((w) => w.reading).length;
      const queued = scale.core.pending;
      const battery = o.battery ?? DEFAULT_BATTERY;
      const batteryMs = (device.batteryToMs ?? o.durationS * 1000) - device.batteryFromMs;
      return {
        scenario: scenario.name,
        ...report(device.ledger, batteryMs, battery),
        // The same wakes on the other cells and board docs/battery.md compares (energy.ts).
        batteryDaysAlkaline: report(device.ledger, batteryMs, ALKALINE_AA).batteryDays,
        batteryDaysDevkit: report(device.ledger, batteryMs, LITHIUM_AA, DEVKIT).batteryDays,
        wakes: wakes.length,
        publishingWakes: wakes.filter((w) => w.publish).length,
        failedConnections: wakes.filter((w) => w.publish && !w.session?.ok).length,
        resumedTls: wakes.filter((w) => w.session?.resumed).length,
        readingsTaken: taken,
        readingsDelivered: taken - queued,
        readingsQueued: queued,
        coldStarts: wakes.filter((w) => w.coldStart).length,
        wakeMsWithoutPublish: mean(quiet),
        wakeMsWithPublish: mean(sent),
        maxStateBytes: Math.max(0, ...wakes.map((w) => w.stateBytes)),
        flashWrites: device.flashWrites,
        capacityMah: battery.capacityMah,
        tlsResumption: device.ledger.model.tlsResumption,
      };
    } finally {
      await broker.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBatterySummary(s: BatterySummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    `battery scale: ${s.scenario}`,
    `  ${s.days.toFixed(2)} days on batteries: ${s.wakes} wakes, ${s.publishingWakes} publishing (${s.failedConnections} could not connect), ${s.coldStarts} cold starts`,
    `  TLS: ${s.resumedTls} sessions resumed by the broker; ${s.tlsResumption ? "charged as resumed" : "charged as full handshakes (the ESP32's esp-mqtt cannot resume yet)"}`,
    `  readings: ${s.readingsTaken} taken, ${s.readingsDelivered} delivered, ${s.readingsQueued} still queued`,
    `  a wake: ${s.wakeMsWithoutPublish.toFixed(0)} ms without publishing, ${s.wakeMsWithPublish.toFixed(0)} ms with (virtual, by the model)`,
    `  state: at most ${s.maxStateBytes} bytes (RTC memory holds ${RTC_STATE_BYTES}); ${s.flashWrites} writes to flash`,
    `  energy: ${s.mahPerDay.toFixed(2)} mAh a day (${s.averageUa.toFixed(0)} uA on average); sleep ${pct(s.shares.sleep)}, boot ${pct(s.shares.boot)}, sampling ${pct(s.shares.sample)}, WiFi ${pct(s.shares.wifi)}, TLS ${pct(s.shares.tls)}, MQTT ${pct(s.shares.mqtt)}`,
    `  battery: ${s.batteryDays.toFixed(0)} days on ${s.capacityMah} mAh (usable share and self-discharge as in host/desktop/battery/energy.ts)`,
    `  on a bare module with 2 lithium AA cells ${s.batteryDays.toFixed(0)} days, 2 alkaline AA ${s.batteryDaysAlkaline.toFixed(0)}, an ESP32-DevKitC ${s.batteryDaysDevkit.toFixed(0)} (its regulator, LED and USB bridge)`,
  ].join("\n");
}
