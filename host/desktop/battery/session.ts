// One publishing wake's connection, as the battery firmware makes it: connect with the MQTT
// session kept at the broker (clean = false, a fixed client id), so commands sent while the scale
// slept are waiting for it; resume the TLS session of the last connection when the broker allows;
// publish what the core frames until nothing is left, answering the commands that arrive; then
// disconnect cleanly. Bounded: whatever fails, or takes longer than the budget, ends the
// connection; the readings not acknowledged stay in the core for the next time.
import mqtt, { type MqttClient, type IClientOptions } from "mqtt";
import type { TLSSocket } from "node:tls";
import type { ScaleCore } from "../core.js";
import { toolClientOptions, type Connection } from "../mqtt/config.js";
import { describeError } from "../mqtt/link.js";

export interface SessionResult {
  ok: boolean;
  /** Messages published and acknowledged, and received. */
  published: number;
  received: number;
  /** The TLS session was resumed (no full handshake). */
  resumed: boolean;
  /** The broker still had the MQTT session (commands sent during the sleep were kept). */
  sessionPresent: boolean;
  /** The TLS session to offer next time (kept in RTC memory on the device). */
  tlsSession: Buffer | null;
  error?: string;
}

export interface SessionOptions {
  connection: Connection;
  /** Hard limit on the whole connection (real ms). */
  budgetMs: number;
  /** The TLS session from the last connection, if any. */
  tlsSession: Buffer | null;
  /** The network is up (WiFi and a route to the broker); down, the attempt fails at once. */
  networkUp: boolean;
  /** A received message, handed to the device (core and persistence) before anything is published. */
  receive: (topic: string, payload: Uint8Array) => void;
  /** Once connected, before publishing: the host's clock chores (SNTP when due). */
  onConnected?: () => void;
}

/** Connects, publishes everything the core has, answers commands, disconnects. */
export async function publishSession(core: ScaleCore, o: SessionOptions): Promise<SessionResult> {
  const result: SessionResult = { ok: false, published: 0, received: 0, resumed: false, sessionPresent: false, tlsSession: o.tlsSession };
  if (!o.networkUp) return { ...result, error: "network down" };
  const c = o.connection;
  const options: IClientOptions = {
    // One attempt a wake (reconnectPeriod 0): the next wake tries again.
    ...toolClientOptions(c, `wasm-scale-${c.deviceId}`),
    clean: false, // the broker keeps the subscriptions and the QoS 1 commands sent while asleep
    keepalive: c.keepaliveS,
    connectTimeout: o.budgetMs,
    manualConnect: true,
  };
  // Node's TLS resumes a session given here (passed through to tls.connect).
  if (o.tlsSession) (options as IClientOptions & { session?: Buffer }).session = o.tlsSession;
  const client: MqttClient = mqtt.connect(c.url, options);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`over the connection budget of ${o.budgetMs} ms`)), o.budgetMs);
  });
  client.on("message", (topic, payload) => {
    result.received++;
    o.receive(topic, payload);
  });
  try {
    await Promise.race([run(), expired]);
    result.ok = true;
  } catch (e) {
    result.error = describeError(e as Error);
  } finally {
    clearTimeout(timer);
    core.connected(false);
    await client.endAsync(!result.ok).catch(() => undefined);
  }
  return result;

  async function run(): Promise<void> {
    const connack = new Promise<{ sessionPresent: boolean }>((resolve, reject) => {
      client.once("connect", (p) => resolve({ sessionPresent: !!p.sessionPresent }));
      client.once("error", reject);
      client.once("close", () => reject(new Error("connection closed")));
    });
    client.connect();
    const socket = client.stream as unknown as TLSSocket;
    // The session to resume next time (TLS 1.3 sends its tickets after the handshake).
    socket.on("session", (s: Buffer) => { result.tlsSession = s; });
    const ack = await connack;
    result.resumed = typeof socket.isSessionReused === "function" && socket.isSessionReused();
    result.sessionPresent = ack.sessionPresent;
    core.connected(true);
    o.onConnected?.();
    // Subscribed again every time (cheap, and a broker that lost the session gets it back);
    // the commands kept for us arrive around the acknowledgement of it.
    await client.subscribeAsync([core.topic("CMD"), core.topic("HA_STATUS")], { qos: 1 });
    for (let m = core.next(); m; m = core.next()) {
      await client.publishAsync(m.topic, m.payload, { qos: m.qos, retain: m.retain });
      core.done();
      result.published++;
    }
  }
}
