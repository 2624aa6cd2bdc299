// The energy model of a battery scale: what each phase of a wake and the sleep between wakes draw
// from the battery, and how long the phases take. The sampling phase's length is measured (the
// virtual HX711 and the core decide it); the radio phases' lengths come from the figures below.
// Every figure is a parameter: `simulate --battery` reports with these defaults unless told
// otherwise, and the README lists them.
//
// Sources:
// [DS]  Espressif, ESP32 Series Datasheet v4.x, "Power Consumption by Power Modes" (deep sleep
//       with the RTC timer and RTC memory: 10 uA; modem-sleep, CPU at 80 MHz: 20-31 mA, at
//       160 MHz: 27-44 mA) and "RF Power-Consumption Specifications" (TX 802.11b at 19.5 dBm:
//       240 mA; RX 802.11b/g/n: 95-100 mA).
// [HX]  Avia Semiconductor, HX711 datasheet: supply current 1.5 mA running, < 1 uA powered down;
//       settling 400 ms at 10 SPS, 50 ms at 80 SPS (the core discards SETTLE_DISCARD conversions).
// [TvE] T. von Eicken, "ESP32 Deep-Sleep with Periodic Wake-up" (blog.voneicken.com, 2018):
//       ~270 ms from the deep-sleep wake to the application; WiFi with channel, BSSID and IP
//       given, plus a TCP connection: ~200 ms on an open network.
// Assumed (not measured here: no ESP32 on these machines): WPA2 association and DHCP with the
// stored channel and BSSID, 800 ms at an average of 120 mA (between RX and TX bursts); a full
// TLS 1.2 handshake (ECDHE, RSA-2048 certificate, the ESP32's RSA/SHA accelerators, two round
// trips to a cloud broker) 1,200 ms at 100 mA; a resumed one (session ticket) 250 ms; MQTT
// CONNECT/CONNACK and SUBSCRIBE 150 ms, and 25 ms a QoS 1 message (pipelined behind its PUBACK)
// at 110 mA. A load cell bridge of 1 kOhm excited at 3.3 V draws 3.3 mA while the HX711 is on.

export interface EnergyModel {
  /** Deep sleep: the chip [DS] plus the board's regulator and leakage (uA). */
  sleepChipUa: number;
  boardQuiescentUa: number;
  /** HX711 powered down [HX] (uA); its bridge is off with it (E+ from its own AVDD regulator). */
  hx711DownUa: number;
  /** From the wake to the core running (ms), at cpuMa [TvE]. */
  bootMs: number;
  /** CPU running, radio off (mA) [DS]. */
  cpuMa: number;
  /** HX711 running [HX] and the bridge it excites (mA). */
  hx711Ma: number;
  bridgeMa: number;
  /** WiFi association and address (ms, mA). */
  wifiMs: number;
  wifiMa: number;
  /** TLS handshake, full and resumed (ms), at tlsMa. */
  tlsFullMs: number;
  tlsResumedMs: number;
  tlsMa: number;
  /** MQTT: connect and subscribe, then per message (ms), at mqttMa. */
  mqttConnectMs: number;
  mqttPerMessageMs: number;
  mqttMa: number;
  /** The device resumes TLS sessions. The ESP32 firmware cannot yet (esp-mqtt does not expose
   * esp-tls's client session: espressif/esp-mqtt#331), so the default charges a full handshake
   * every time, even when the desktop's own connection resumed. */
  tlsResumption: boolean;
  /** With resumption, a full handshake every this many connections (the broker's ticket lifetime). */
  tlsFullEvery: number;
}

export const DEFAULT_MODEL: EnergyModel = {
  sleepChipUa: 10,
  boardQuiescentUa: 5,
  hx711DownUa: 1,
  bootMs: 270,
  cpuMa: 30,
  hx711Ma: 1.5,
  bridgeMa: 3.3,
  wifiMs: 800,
  wifiMa: 120,
  tlsFullMs: 1200,
  tlsResumedMs: 250,
  tlsMa: 100,
  mqttConnectMs: 150,
  mqttPerMessageMs: 25,
  mqttMa: 110,
  tlsResumption: false,
  tlsFullEvery: 24,
};

export interface Battery {
  /** Nominal capacity (mAh): two AA lithium cells in series, 3,000 mAh. */
  capacityMah: number;
  /** The share of it usable before the regulator drops out (0..1). */
  usable: number;
  /** Self-discharge per year (share of capacity). */
  selfDischargePerYear: number;
}

export const DEFAULT_BATTERY: Battery = { capacityMah: 3000, usable: 0.9, selfDischargePerYear: 0.01 };

/** Where the charge went, in mA*ms (divide by 3.6e6 for mAh). */
export type Phase = "sleep" | "boot" | "sample" | "wifi" | "tls" | "mqtt";

/** Adds up the charge drawn, phase by phase, over virtual time. */
export class EnergyLedger {
  readonly charge: Record<Phase, number> = { sleep: 0, boot: 0, sample: 0, wifi: 0, tls: 0, mqtt: 0 };
  readonly time: Record<Phase, number> = { sleep: 0, boot: 0, sample: 0, wifi: 0, tls: 0, mqtt: 0 };

  constructor(readonly model: EnergyModel = DEFAULT_MODEL) {}

  /** `ms` of phase `phase` at `ma`. */
  add(phase: Phase, ms: number, ma: number): void {
    this.charge[phase] += ms * ma;
    this.time[phase] += ms;
  }

  sleep(ms: number): void {
    const m = this.model;
    this.add("sleep", ms, (m.sleepChipUa + m.boardQuiescentUa + m.hx711DownUa) / 1000);
  }

  boot(): number {
    this.add("boot", this.model.bootMs, this.model.cpuMa);
    return this.model.bootMs;
  }

  sample(ms: number): void {
    const m = this.model;
    this.add("sample", ms, m.cpuMa + m.hx711Ma + m.bridgeMa);
  }

  /** A connection that got through: WiFi, TLS, MQTT with `messages` messages. Returns its ms. */
  connection(messages: number, resumed: boolean): number {
    const m = this.model;
    const tls = resumed ? m.tlsResumedMs : m.tlsFullMs;
    const mqtt = m.mqttConnectMs + messages * m.mqttPerMessageMs;
    this.add("wifi", m.wifiMs, m.wifiMa);
    this.add("tls", tls, m.tlsMa);
    this.add("mqtt", mqtt, m.mqttMa);
    return m.wifiMs + tls + mqtt;
  }

  /** A connection that failed: the radio on for the whole budget (the worst case). Returns its ms. */
  failedConnection(budgetMs: number): number {
    this.add("wifi", budgetMs, this.model.wifiMa);
    return budgetMs;
  }

  totalMah(): number {
    let s = 0;
    for (const v of Object.values(this.charge)) s += v;
    return s / 3.6e6;
  }
}

export interface BatteryReport {
  /** Virtual time covered (days). */
  days: number;
  mahPerDay: number;
  /** Days the battery lasts at this rate, self-discharge included. */
  batteryDays: number;
  /** Share of the charge by phase (0..1). */
  shares: Record<Phase, number>;
  /** Average current (uA). */
  averageUa: number;
}

export function report(ledger: EnergyLedger, virtualMs: number, battery: Battery = DEFAULT_BATTERY): BatteryReport {
  const days = virtualMs / 86_400_000;
  const mah = ledger.totalMah();
  const mahPerDay = mah / days;
  const usable = battery.capacityMah * battery.usable;
  const drainPerDay = mahPerDay + (battery.capacityMah * battery.selfDischargePerYear) / 365;
  const total = Object.values(ledger.charge).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(ledger.charge).map(([k, v]) => [k, total > 0 ? v / total : 0])) as Record<Phase, number>;
  return { days, mahPerDay, batteryDays: usable / drainPerDay, shares, averageUa: (mahPerDay / 24) * 1000 };
}
