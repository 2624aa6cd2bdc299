// The desktop device: what the ESP32's main task does, over the virtual scale. Sample, hand the
// outbox to the network, persist what commands changed. Virtual time follows real time times
// `speed`, so a broker test can run minutes of sampling in seconds against a real broker.
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from "node:timers/promises";
import type { VirtualScale } from "./virtual-scale.js";
import type { MqttLink } from "./mqtt/link.js";
import type { FileStore } from "./store.js";
import type { Reading } from "./core.js";
import type { ModuleTransfer } from "./modules/transfer.js";

export interface DeviceOptions {
  /** Virtual seconds per real second. */
  speed: number;
  store?: FileStore;
  onReading?: (r: Reading, status: number) => void;
  /** A message was handed to the core: its topic, payload and the core's answer (see ScaleCore.message). */
  onMessage?: (topic: string, payload: Uint8Array, result: number, source: "mqtt" | "web") => void;
  /** Receives calibration modules sent on the module topic (the host's, not the core's). */
  transfer?: ModuleTransfer;
  /** Wall clock (ms since 1970), injectable for tests. */
  now?: () => number;
}

export class Device {
  private stopped = false;

  constructor(readonly scale: VirtualScale, readonly link: MqttLink | null, private readonly options: DeviceOptions) {
    const now = options.now ?? Date.now;
    // The desktop's clock is the OS clock: known from the start (the ESP32 waits for SNTP).
    scale.core.timeSync(now(), Math.floor(scale.board.nowUs / 1000));
    if (link) link.receive = (topic, payload) => { this.receive(topic, payload); };
  }

  /**
   * A message for the core, from the broker or from the web view: the one command path. The core
   * answers it (a command's result also goes out on the result topic), what it changed is saved
   * before anything is published, and listeners see the command and its answer.
   */
  receive(topic: string, payload: Uint8Array, source: "mqtt" | "web" = "mqtt"): number {
    const modules = `${this.scale.core.topic("MODULE")}/`;
    if (this.options.transfer && topic.startsWith(modules)) {
      this.options.transfer.handle(topic.slice(modules.length), payload);
      this.persist(); // a module switched on, fitted or rolled back may have changed calibration
      this.link?.pump();
      return 1;
    }
    const result = this.scale.core.message(topic, payload);
    this.persist();
    this.options.onMessage?.(topic, payload, result, source);
    this.link?.pump();
    return result;
  }

  /**
   * Saves the blobs the core marked as changed, whoever changed them (a command over MQTT, a
   * scenario, a setting): the one place the dirty flags are read.
   */
  persist(): void {
    const store = this.options.store;
    const dirty = this.scale.core.dirty();
    if (!store) return;
    for (const which of dirty) store.set(which, this.scale.core.saveBlob(which));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Runs until virtual time untilS (or stop()), pacing virtual time against the real clock. */
  async run(untilS: number): Promise<void> {
    const startReal = performance.now();
    const startVirtual = this.scale.nowS;
    let lastYield = performance.now();
    while (!this.stopped && this.scale.nowS < untilS) {
      const status = this.scale.step();
      if (status !== 0) {
        this.options.onReading?.(this.scale.reading(), status);
        this.persist();
        this.link?.pump();
      }
      const aheadMs = ((this.scale.nowS - startVirtual) / this.options.speed) * 1000 - (performance.now() - startReal);
      if (aheadMs > 1) await sleep(aheadMs);
      else if (performance.now() - lastYield > 5) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  }
}
