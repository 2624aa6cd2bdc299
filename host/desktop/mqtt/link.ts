// The desktop host's network capability: MQTT.js over TLS, moving the core's bytes. What is
// published, when, and what a command means are the core's; this file connects, subscribes,
// publishes what out_next frames (one at a time, in order, QoS 1) and reports delivery.
import mqtt, { Store, type MqttClient, type IClientOptions } from "mqtt";
import { Readable } from "node:stream";
import type { ScaleCore, OutMessage } from "../core.js";
import { readCert, readKey, type Connection } from "./config.js";

export interface LinkEvents {
  /** A state change worth showing: connected, disconnected, an error with its cause (each once). */
  onStatus?: (text: string) => void;
}

/** How long a clean stop waits for the broker to acknowledge "offline". */
const STOP_MS = 3000;
/** How often the link checks that the core's view of the connection is MQTT.js's. */
const RECONCILE_MS = 250;
/** How long a publish may wait for its acknowledgement before the connection is made again. */
const ACK_TIMEOUT_MS = 10_000;

class AckTimeout extends Error {
  constructor() {
    super(`no acknowledgement from the broker within ${ACK_TIMEOUT_MS / 1000} s; reconnecting`);
  }
}

/** Turns a TLS or MQTT failure into a sentence a user can act on. */
export function describeError(e: Error & { code?: string | number }): string {
  const code = String(e.code ?? "");
  const why: Record<string, string> = {
    SELF_SIGNED_CERT_IN_CHAIN: "the broker's certificate is signed by a CA this host does not trust (set the CA)",
    DEPTH_ZERO_SELF_SIGNED_CERT: "the broker's certificate is self-signed and not trusted (set the CA)",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the broker's certificate chain does not lead to a trusted CA (set the CA)",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the broker's certificate is signed by a CA this host does not trust (set the CA)",
    ERR_TLS_CERT_ALTNAME_INVALID: "the broker's certificate is not valid for this host name (check the URL or servername)",
    CERT_HAS_EXPIRED: "the broker's certificate has expired (or this clock is wrong)",
    CERT_NOT_YET_VALID: "the broker's certificate is not valid yet (is this clock set?)",
    ECONNREFUSED: "nothing listens at the broker's address and port",
    ECONNRESET: "the broker closed the connection during the handshake (a client certificate may be required, or the port is not TLS)",
    EPROTO: "the TLS handshake failed (is the port TLS? is a client certificate required?)",
    ERR_SSL_WRONG_VERSION_NUMBER: "the port does not speak TLS (plaintext port?)",
  };
  const alert = /alert (certificate required|handshake failure|bad certificate|unknown ca)/i.exec(e.message);
  if (alert) return `TLS refused by the broker (${alert[1]}): a valid client certificate is required`;
  if (why[code]) return `${why[code]} [${code}]`;
  if (/Not authorized|Bad username or password/i.test(e.message)) return `the broker refused the credentials: ${e.message}`;
  return e.message || code;
}

/**
 * MQTT.js's outgoing store, without its replay on reconnect. The core already sends again what was
 * not acknowledged (QoS 1, at least once), so the replay only duplicates it; and a replay cut short
 * by another disconnect leaves MQTT.js queueing every later publish for ever.
 */
class NoReplayStore extends Store {
  createStream(): ReturnType<Store["createStream"]> {
    // Node's Readable, typed as the readable-stream one MQTT.js declares (the same interface).
    return new Readable({ objectMode: true, read() { this.push(null); } }) as unknown as ReturnType<Store["createStream"]>;
  }
}

/** Host answers kept while offline. */
const HOST_MESSAGES = 32;

export class MqttLink {
  readonly client: MqttClient;
  /** Messages published and acknowledged. */
  delivered = 0;
  /** Publishes not acknowledged in time (each made the connection again). */
  ackTimeouts = 0;
  lastError: string | null = null;
  private pumping = false;
  /** Bumped on every disconnect: an acknowledgement from before it is not trusted. */
  private epoch = 0;
  private lastStatus = "";
  /** The core has been told this connection is up. */
  private coreUp = false;
  private offlineShown = false;
  private watchdog: NodeJS.Timeout | undefined;
  /**
   * Where a received message goes, before anything it caused is published: the device hands it
   * to the core and persists what it changed there, so a result that says "accepted" is only
   * ever sent for a change already on disk. The core itself when no device is attached.
   */
  receive: (topic: string, payload: Uint8Array) => void = (topic, payload) => { this.core.message(topic, payload); };

  constructor(private core: ScaleCore, readonly connection: Connection, private readonly events: LinkEvents = {}) {
    core.setDeviceId(connection.deviceId);
    const will = core.will();
    // TLS 1.2 is Node's floor already; certificates are always verified.
    const options: IClientOptions = {
      protocolVersion: connection.protocolVersion,
      clientId: `wasm-scale-${connection.deviceId}`,
      clean: true,
      keepalive: connection.keepaliveS,
      reconnectPeriod: connection.reconnectMs,
      connectTimeout: 10_000,
      username: connection.username,
      password: connection.password,
      rejectUnauthorized: true,
      ca: connection.ca ? readCert(connection.ca) : undefined,
      cert: connection.cert ? readCert(connection.cert) : undefined,
      key: connection.key ? readKey(connection.key) : undefined,
      servername: connection.servername,
      will: { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain },
      queueQoSZero: false,
      outgoingStore: new NoReplayStore(),
      manualConnect: true,
    };
    this.client = mqtt.connect(connection.url, options);
    // Up on the CONNACK itself: MQTT.js emits "connect" only after re-sending its stored packets,
    // and not at all when that is cut short, while the connection is up and usable.
    this.client.on("packetreceive", (packet) => {
      if (packet.cmd === "connack" && ((packet as { returnCode?: number }).returnCode ?? (packet as { reasonCode?: number }).reasonCode ?? 0) === 0) {
        setImmediate(() => this.up());
      }
    });
    this.client.on("connect", () => this.up());
    this.client.on("close", () => {
      // A publish still awaiting its acknowledgement belongs to the old connection: forget it
      // (the core frames it again after reconnecting) and let a new drain start.
      if (this.epoch >= 0) this.epoch++;
      this.pumping = false;
      this.coreUp = false;
      this.core.connected(false);
    });
    this.client.on("offline", () => {
      if (this.offlineShown) return; // once per outage, not once per retry
      this.offlineShown = true;
      this.events.onStatus?.("broker unreachable; readings are kept and sent on reconnect");
    });
    this.client.on("error", (e) => this.fail(e));
    this.client.on("message", (topic, payload) => {
      this.receive(topic, payload);
      this.pump();
    });
  }

  /** The core swapped in over the air (it was told the device id and the connection already). */
  replaceCore(core: ScaleCore): void {
    this.core = core;
    this.pump();
  }

  /** The connection is up: tell the core (once per connection), subscribe, and start sending. */
  private up(): void {
    if (this.coreUp || !this.client.connected || this.epoch < 0) return;
    this.coreUp = true;
    this.offlineShown = false;
    this.lastError = null;
    this.core.connected(true);
    this.status(`connected to ${this.connection.url}`);
    // The module topic is the host's (calibration module transfer); everything else the core reads.
    this.client.subscribe([this.core.topic("CMD"), this.core.topic("HA_STATUS"), `${this.core.topic("MODULE")}/#`], { qos: 1 }, (err) => {
      if (err) this.fail(err);
    });
    this.flushHostMessages();
    this.pump();
  }

  /** Reports a status unless it is the one reported last: a broker that keeps refusing is not reported every retry. */
  private status(text: string): void {
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.events.onStatus?.(text);
  }

  private fail(e: Error): void {
    this.lastError = describeError(e);
    this.status(`broker error: ${this.lastError}`);
  }

  start(): this {
    this.client.connect();
    this.watchdog = setInterval(() => this.reconcile(), RECONCILE_MS).unref();
    return this;
  }

  /**
   * MQTT.js's events can arrive out of order (a late "close" of a replaced socket after the new
   * CONNACK): what it reports as its state is the truth, and this brings the core in line with it,
   * and restarts sending if anything waits while nothing is in flight.
   */
  private reconcile(): void {
    if (this.epoch < 0) return;
    if (this.client.connected && !this.coreUp) this.up();
    else if (this.client.connected && !this.pumping) this.pump();
  }

  /** Answers the host itself gives (calibration module steps), waiting for a connection if need be. */
  private readonly hostMessages: Array<{ topic: string; payload: string }> = [];

  /**
   * Publishes a message of the host's own (QoS 1, not retained): the answers to calibration
   * module transfers, which the core does not frame. Kept while offline, the oldest dropped
   * beyond HOST_MESSAGES.
   */
  notify(topic: string, payload: string): void {
    this.hostMessages.push({ topic, payload });
    if (this.hostMessages.length > HOST_MESSAGES) this.hostMessages.shift();
    this.flushHostMessages();
  }

  private flushHostMessages(): void {
    while (this.client.connected && this.coreUp && this.hostMessages.length) {
      const m = this.hostMessages.shift()!;
      this.client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) this.fail(err);
      });
    }
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /**
   * Publishes everything the core has queued, oldest first, one message in flight at a time so
   * order is kept and nothing leaves the core's outbox before the broker has it.
   */
  pump(): void {
    if (this.pumping || !this.client.connected || !this.coreUp) return;
    this.pumping = true;
    const epoch = this.epoch;
    void this.drain(epoch).finally(() => {
      if (epoch === this.epoch) this.pumping = false;
    });
  }

  private async drain(epoch: number): Promise<void> {
    let m: OutMessage | null;
    while (epoch === this.epoch && this.client.connected && (m = this.core.next())) {
      // A publish never acknowledged (a broker that stalls, a packet lost with its connection)
      // would stop the outbox for good: after ACK_TIMEOUT_MS the connection is dropped and made
      // again, and the message is sent again, as esp-mqtt does on the device.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.client.publishAsync(m.topic, m.payload, { qos: m.qos, retain: m.retain }),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new AckTimeout()), ACK_TIMEOUT_MS).unref(); }),
        ]);
      } catch (e) {
        if (epoch !== this.epoch) return; // a publish of a connection already gone: nothing to report
        if (e instanceof AckTimeout) {
          this.ackTimeouts++;
          this.client.stream?.destroy();
        }
        this.fail(e as Error);
        // Refused on a connection that stays up: the watchdog tries again shortly.
        return;
      } finally {
        clearTimeout(timer);
      }
      // Acknowledged on the connection it was sent on: it may leave the outbox. Otherwise it is
      // framed and sent again after reconnecting (QoS 1: at least once; seq tells duplicates).
      if (epoch !== this.epoch) return;
      this.core.done();
      this.delivered++;
    }
  }

  /**
   * Stops cleanly: no more readings are sent, availability "offline" (the core's will, retained)
   * is published and acknowledged, then the connection ends. Bounded: a broker that does not
   * answer within STOP_MS leaves the will to say the same thing.
   */
  async stop(): Promise<boolean> {
    this.epoch = -1;
    clearInterval(this.watchdog);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => { timer = setTimeout(() => resolve("expired"), STOP_MS); });
    let acknowledged = false;
    if (this.client.connected) {
      const will = this.core.will();
      const publish = this.client.publishAsync(will.topic, will.payload, { qos: will.qos, retain: will.retain });
      acknowledged = (await Promise.race([publish.then(() => "ok", () => "failed"), expired])) === "ok";
    }
    // A clean DISCONNECT when the broker answers; otherwise the socket is simply closed.
    if (!acknowledged || (await Promise.race([this.client.endAsync().then(() => "ok"), expired])) === "expired") {
      await this.client.endAsync(true);
    }
    clearTimeout(timer);
    return acknowledged;
  }
}
