// The battery firmware's cycle on the desktop, on virtual time: what host/esp-idf/main/battery.c
// does on the ESP32. Every wake is a fresh core (the processor was off): chips, settings and
// calibration from flash, the state from RTC memory (or flash, when it outgrew RTC memory), then
// one reading as the core decides (wake_begin / wake_step), a connection when the core asks for
// one, the state saved again, and deep sleep until wake_sleep_ms. The energy each phase draws is
// added up by the model in energy.ts.
import type { VirtualScale } from "../virtual-scale.js";
import { CoreError, type Reading } from "../core.js";
import type { Connection } from "../mqtt/config.js";
import type { FileStore } from "../store.js";
import { EnergyLedger, DEFAULT_MODEL, type EnergyModel } from "./energy.js";
import { publishSession, type SessionResult } from "./session.js";

/** RTC slow memory the firmware gives the state (bytes); a larger state goes to flash. */
export const RTC_STATE_BYTES = 6144;
/** SNTP again after this long (the RTC's drift over a day is a few seconds at most). */
export const SNTP_EVERY_MS = 86_400_000;

export interface WakeRecord {
  /** Host ms at the wake, and how long its sampling and its connection took (virtual ms). */
  atMs: number;
  sampleMs: number;
  connectMs: number;
  /** The reading the wake queued (null when it produced none). */
  reading: Reading | null;
  /** The core asked to publish; what the connection did. */
  publish: boolean;
  session: SessionResult | null;
  /** The state was lost or damaged: the core started clean. */
  coldStart: boolean;
  stateBytes: number;
  stateInFlash: boolean;
}

export interface BatteryDeviceOptions {
  connection: Connection;
  /** Wall clock (ms since 1970) at virtual time 0: the RTC the device keeps across sleeps. */
  epochMs: number;
  model?: EnergyModel;
  /** Where settings, calibration and an oversized state persist (the device's flash). */
  store?: FileStore;
  /** Called after every wake, before the sleep (a test can stop or start the broker here). */
  onWake?: (w: WakeRecord) => void | Promise<void>;
  /** A received message and the core's answer. */
  onMessage?: (topic: string, result: number) => void;
}

export class BatteryDevice {
  readonly ledger: EnergyLedger;
  readonly wakes: WakeRecord[] = [];
  /** State writes to flash (wear: each is a sector erase on the device). */
  flashWrites = 0;
  /** What RTC memory holds across deep sleep: the state, the TLS session, when SNTP last ran. */
  readonly rtc: { state: Uint8Array | null; tlsSession: Buffer | null; sntpAtMs: number | null } = { state: null, tlsSession: null, sntpAtMs: null };
  /** The device's flash when no store is given. */
  private readonly flash = new Map<string, Uint8Array>();
  private connections = 0;

  constructor(readonly scale: VirtualScale, private readonly options: BatteryDeviceOptions) {
    this.ledger = new EnergyLedger(options.model ?? DEFAULT_MODEL);
  }

  private get nowMs(): number {
    return Math.floor(this.scale.board.nowUs / 1000);
  }

  private flashGet(key: string): Uint8Array | undefined {
    return this.options.store ? this.options.store.get(key) ?? undefined : this.flash.get(key);
  }

  private flashSet(key: string, bytes: Uint8Array | null): void {
    if (this.options.store) {
      if (bytes) this.options.store.set(key, bytes);
      else this.options.store.delete(key);
    } else if (bytes) this.flash.set(key, bytes);
    else this.flash.delete(key);
  }

  /** Saves the blobs the core marked as changed (settings or calibration by command). */
  private persist(): void {
    for (const which of this.scale.core.dirty()) this.flashSet(which, this.scale.core.saveBlob(which));
  }

  /** A fresh core, as the firmware sets one up at boot: wired, settings and calibration from
   * flash, device id. */
  private async boot(): Promise<void> {
    await this.scale.reboot();
    for (const which of ["CONFIG", "CALIBRATION"] as const) {
      const blob = this.flashGet(which);
      if (blob && this.scale.core.loadBlob(which, blob) !== 0) throw new CoreError(`the ${which} blob in flash was refused`);
    }
    this.scale.core.setDeviceId(this.options.connection.deviceId);
  }

  /** The core for this wake, with the state kept over the sleep. True when that state was lost
   * or damaged and the core starts clean (the first wake's clean start is by design). */
  private async start(): Promise<boolean> {
    if (this.wakes.length === 0) {
      this.persist(); // the scenario's settings, as a user would have set them before
      for (const which of ["CONFIG", "CALIBRATION"] as const) this.flashSet(which, this.scale.core.saveBlob(which));
      this.scale.core.setDeviceId(this.options.connection.deviceId);
      return false;
    }
    await this.boot();
    const state = this.rtc.state ?? this.flashGet("STATE") ?? null;
    if (state && this.scale.core.loadState(state) === 0) return false;
    await this.boot(); // half-applied state is not to be used: clean, as at a cold boot
    return true;
  }

  /** Tells the core the wall clock from the RTC (after an SNTP sync once, the RTC keeps it). */
  private syncClock(): void {
    if (this.rtc.sntpAtMs === null) return;
    this.scale.core.timeSync(this.options.epochMs + this.nowMs, this.nowMs);
  }

  /** One wake: boot, sample to one reading, maybe publish, save the state. Returns the sleep (ms). */
  async wake(): Promise<number> {
    const atMs = this.nowMs;
    this.scale.sleepUntil(this.scale.board.nowUs + this.ledger.boot() * 1000);
    const coldStart = await this.start();
    const core = this.scale.core;
    this.syncClock();
    const t0 = this.scale.board.nowUs;
    core.wakeBegin(this.nowMs);
    let step = core.wakeStep(this.nowMs);
    let reading: Reading | null = null;
    while (step === "sample") {
      const status = this.scale.step();
      if (status !== 0) reading = core.reading();
      else this.scale.board.nowUs += 1000; // nothing ready: the host yields a tick
      step = core.wakeStep(this.nowMs);
    }
    const sampleMs = (this.scale.board.nowUs - t0) / 1000;
    this.ledger.sample(sampleMs);

    let session: SessionResult | null = null;
    let connectMs = 0;
    if (step === "publish") {
      const budgetMs = core.get("CONNECT_BUDGET_MS");
      let synced = false; // SNTP ran on this connection: its round trip is charged
      session = await publishSession(core, {
        connection: this.options.connection,
        budgetMs,
        tlsSession: this.rtc.tlsSession,
        networkUp: this.scale.networkUp,
        receive: (topic, payload) => {
          const r = core.message(topic, payload);
          this.persist(); // saved before its result can be published
          this.options.onMessage?.(topic, r);
        },
        onConnected: () => {
          if (this.rtc.sntpAtMs === null || this.nowMs - this.rtc.sntpAtMs >= SNTP_EVERY_MS) {
            synced = true;
            this.rtc.sntpAtMs = this.nowMs; // SNTP: the virtual RTC is the wall clock
            this.syncClock();
          }
        },
      });
      if (session.ok) {
        this.connections++;
        const m = this.ledger.model;
        const full = !m.tlsResumption || !session.resumed || this.connections % m.tlsFullEvery === 1;
        connectMs = this.ledger.connection(session.published + session.received, !full, synced);
        this.rtc.tlsSession = session.tlsSession;
      } else {
        connectMs = this.ledger.failedConnection(budgetMs);
      }
      this.scale.sleepUntil(this.scale.board.nowUs + connectMs * 1000);
    }
    this.persist();
    const state = core.saveState();
    const inFlash = state.length > RTC_STATE_BYTES;
    if (inFlash) {
      this.flashSet("STATE", state);
      this.flashWrites++;
      this.rtc.state = null;
    } else {
      this.rtc.state = state;
      if (this.flashGet("STATE")) this.flashSet("STATE", null);
    }
    const record: WakeRecord = {
      atMs, sampleMs, connectMs, reading, publish: step === "publish", session, coldStart,
      stateBytes: state.length, stateInFlash: inFlash,
    };
    this.wakes.push(record);
    await this.options.onWake?.(record);
    return core.wakeSleepMs(this.nowMs);
  }

  /** Virtual ms at the first wake (battery mode's start), null before; and at its end, when a
   * command set WAKE_INTERVAL_S to 0 (the firmware then boots awake; the simulation stops there). */
  batteryFromMs: number | null = null;
  batteryToMs: number | null = null;

  /**
   * Runs until virtual time untilS: awake and sampling, as the firmware does, while battery mode
   * is off (the scenario calibrates and sets WAKE_INTERVAL_S), then wakes and sleeps.
   */
  async run(untilS: number): Promise<void> {
    const until = untilS * 1e6;
    while (this.batteryFromMs === null && this.scale.board.nowUs < until) {
      if (this.scale.core.get("WAKE_INTERVAL_S") > 0) {
        this.batteryFromMs = this.nowMs;
        break;
      }
      if (this.scale.step() === 0) this.scale.board.nowUs += 1000;
    }
    while (this.scale.board.nowUs < until) {
      const sleepMs = await this.wake();
      if (sleepMs <= 0) {
        this.batteryToMs = this.nowMs;
        return;
      }
      const wakeAt = Math.min(until, this.scale.board.nowUs + sleepMs * 1000);
      this.ledger.sleep((wakeAt - this.scale.board.nowUs) / 1000);
      this.scale.sleepUntil(wakeAt);
    }
  }
}
