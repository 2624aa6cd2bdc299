// The energy model of a battery scale: what each phase of a wake and the sleep between wakes draw
// from the battery, and how long the phases take. The sampling phase's length is measured (the
// virtual HX711 and the core decide it); the radio phases' lengths come from the figures below.
// Every figure is a parameter: `simulate --battery` reports with these defaults unless told
// otherwise, and docs/battery.md lists them.
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
// [AMS] Advanced Monolithic Systems, AMS1117 datasheet: quiescent current 5 mA typical (10 mA
//       max), dropout 1.1 V: the DevKitC's regulator, with its power LED (~1 mA) and USB bridge.
// [L91] Energizer L91 (lithium AA) datasheet: 3,000 mAh at low drain, above 1.4 V to the end of
//       life (2 cells stay above the ESP32's 2.43 V brown-out level). [E91] Energizer E91
//       (alkaline AA): 2,850 mAh to 0.8 V, but 1.2 V a cell is reached at about half of it, sooner
//       under the WiFi's 250-350 mA peaks: 2 cells brown out after about 1,300 mAh (the embedded
//       review's 1,200-1,400).
// Assumed (not measured here: no ESP32 on these machines), as the firmware does a wake: the boot
// of this sdkconfig (image not validated after deep sleep, warnings-only logs: 270-600 ms, [TvE]
// measured 270 ms with a tuned one) at the CPU's 160 MHz current ([DS]: 27-44 mA, 40 taken); WPA2
// association and DHCP with the stored channel and BSSID and no ARP probe, 800 ms (600-1,500) at
// 120 mA on average (between RX and TX bursts); SNTP, when it runs (after a cold boot, then daily),
// one round trip of 250 ms (the firmware waits 3 s at most); a full TLS 1.2 handshake (ECDHE,
// RSA-2048 certificate, the ESP32's RSA/SHA accelerators, two round trips to a cloud broker) 1,200
// ms (800-2,500) at 100 mA; a resumed one (session ticket) 250 ms; MQTT CONNECT/CONNACK and
// SUBSCRIBE 150 ms, and one round trip a QoS 1 message (the firmware sends the next after the
// PUBACK): 80 ms (30-200) at 110 mA. A load cell bridge of 1 kOhm excited at 3.3 V draws 3.3 mA
// while the HX711 is on. The scale this models is a bare ESP32-WROOM-32 module on 2 AA cells with
// no regulator (or one of a few uA that works from 2.4 V), no LEDs, and the HX711 board's own
// regulator powered down with it.

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
  /** SNTP's round trip (ms), at wifiMa, on the connections that set the clock. */
  sntpMs: number;
  /** MQTT: connect and subscribe, then per message (ms: one round trip, as the firmware waits for
   * each PUBACK), at mqttMa. */
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
  bootMs: 350,
  cpuMa: 40,
  hx711Ma: 1.5,
  bridgeMa: 3.3,
  wifiMs: 800,
  wifiMa: 120,
  tlsFullMs: 1200,
  tlsResumedMs: 250,
  tlsMa: 100,
  sntpMs: 250,
  mqttConnectMs: 150,
  mqttPerMessageMs: 80,
  mqttMa: 110,
  tlsResumption: false,
  tlsFullEvery: 24,
};

export interface Battery {
  /** Nominal capacity (mAh) of the cells in series. */
  capacityMah: number;
  /** The share of it usable before the supply reaches the ESP32's brown-out level (0..1). */
  usable: number;
  /** Self-discharge per year (share of capacity). */
  selfDischargePerYear: number;
}

/** Two lithium AA cells [L91]: flat to the end. */
export const LITHIUM_AA: Battery = { capacityMah: 3000, usable: 0.9, selfDischargePerYear: 0.01 };
/** Two alkaline AA cells [E91]: about 1,300 mAh before 2.43 V under the radio's peaks. */
export const ALKALINE_AA: Battery = { capacityMah: 2850, usable: 0.45, selfDischargePerYear: 0.03 };
export const DEFAULT_BATTERY = LITHIUM_AA;

/** What the board draws all the time beside the chips (uA): its regulator, LEDs, USB bridge. */
export interface Board {
  name: string;
  quiescentUa: number;
}

/** A bare module on the cells (or a regulator of a few uA that works from 2.4 V). */
export const BARE_MODULE: Board = { name: "bare ESP32-WROOM-32 module", quiescentUa: 5 };
/** An ESP32-DevKitC through its 5 V pin (3 cells): AMS1117 [AMS], power LED, USB bridge. */
export const DEVKIT: Board = { name: "ESP32-DevKitC", quiescentUa: 6000 };

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

  /** A connection that got through: WiFi (and SNTP when it ran), TLS, MQTT with `messages`
   * messages. Returns its ms. */
  connection(messages: number, resumed: boolean, sntp = false): number {
    const m = this.model;
    const tls = resumed ? m.tlsResumedMs : m.tlsFullMs;
    const mqtt = m.mqttConnectMs + messages * m.mqttPerMessageMs;
    const wifi = m.wifiMs + (sntp ? m.sntpMs : 0);
    this.add("wifi", wifi, m.wifiMa);
    this.add("tls", tls, m.tlsMa);
    this.add("mqtt", mqtt, m.mqttMa);
    return wifi + tls + mqtt;
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

/** The ledger's charge on `battery`, on a `board` other than the model's (its regulator draws all
 * the time, awake and asleep). */
export function report(ledger: EnergyLedger, virtualMs: number, battery: Battery = DEFAULT_BATTERY, board?: Board): BatteryReport {
  const days = virtualMs / 86_400_000;
  const extraUa = board ? board.quiescentUa - ledger.model.boardQuiescentUa : 0;
  const mah = ledger.totalMah() + (extraUa / 1000) * (virtualMs / 3.6e6);
  const mahPerDay = mah / days;
  const usable = battery.capacityMah * battery.usable;
  const drainPerDay = mahPerDay + (battery.capacityMah * battery.selfDischargePerYear) / 365;
  const total = Object.values(ledger.charge).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(ledger.charge).map(([k, v]) => [k, total > 0 ? v / total : 0])) as Record<Phase, number>;
  return { days, mahPerDay, batteryDays: usable / drainPerDay, shares, averageUa: (mahPerDay / 24) * 1000 };
}
