// `wasm-scale run` (npm start): a virtual scale in real time, publishing over MQTT/TLS. With no
// broker given, an embedded broker (client certificates required) and a subscriber show what
// arrives. Calibration and settings persist in a locked store; a clean stop says "offline".
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import mqtt, { type MqttClient } from "mqtt";
import { Device } from "./device.js";
import { MqttLink } from "./mqtt/link.js";
import { createServer } from "node:net";
import { startBroker, type RunningBroker } from "./mqtt/broker.js";
import { SUBSCRIBER } from "./mqtt/acl.js";
import { resolveConnection, ConfigError, type Connection } from "./mqtt/config.js";
import { writeCerts, certFiles, type CertFiles } from "./certs.js";
import { loadScenario, type Scenario } from "./scenario.js";
import { VirtualScale } from "./virtual-scale.js";
import { FileStore } from "./store.js";
import { printable, formatReading, displayDecimals } from "./terminal.js";
import type { ScaleCore } from "./core.js";
import type { EngineName } from "./engines/engine.js";
import { codeName } from "../abi.js";
import { WebView, webKey } from "./web/server.js";
import { ModuleManager } from "./modules/manager.js";
import { ModuleSlots, slotsDir } from "./modules/slots.js";
import { ModuleTransfer, answerOf, describeAnswer, type TransferAnswer } from "./modules/transfer.js";
import { trustedKeys } from "./modules/keys.js";

export interface RunOptions {
  duration?: number; seed: number; speed: number; store: string | false; mqtt: boolean; config?: string; broker?: string;
  deviceId?: string; ca?: string; cert?: string; key?: string; username?: string; password?: string; servername?: string;
  mqtt5?: boolean; certs: string; port: number; engine: EngineName; record?: string; web: boolean; webPort?: number;
  moduleKey?: string[];
}

/** The client certificate the built-in subscriber uses on the embedded broker (./mqtt/acl.ts: it reads every scale). */
export const SUBSCRIBER_ID = SUBSCRIBER;
/** How long a stop waits for queued readings to reach the broker. */
const DRAIN_MS = 2000;
/** While the broker is away, how often the number of readings waiting is shown. */
const WAITING_EVERY_MS = 10_000;

/** Restores calibration and settings from the store; says what it did and whether calibration came back. */
export function restore(store: FileStore | undefined, core: ScaleCore): { notes: string[]; calibrated: boolean } {
  const notes: string[] = [];
  let calibrated = false;
  if (!store) return { notes, calibrated };
  if (store.recovered) notes.push(store.recovered);
  for (const which of ["CONFIG", "CALIBRATION"] as const) {
    const blob = store.get(which);
    if (!blob) continue;
    const r = core.loadBlob(which, blob);
    if (r === 0) notes.push(`restored ${which.toLowerCase()} from ${store.path}`);
    else {
      // Refused whole; the next save would replace it: a copy is kept for whoever wants it back.
      const copy = store.keepCopy(which);
      notes.push(`ignored stored ${which.toLowerCase()}: ${codeName("error", r)}; the refused bytes are kept in ${copy}`);
    }
    if (r === 0 && which === "CALIBRATION") calibrated = true;
  }
  return { notes, calibrated };
}

/** Leaves out the scenario's set-up commands when the store already holds a calibration. */
function skipSetup(scenario: Scenario): string[] {
  const skipped = scenario.events.filter((e) => e.type === "command" && e.unlessRestored);
  scenario.events = scenario.events.filter((e) => !skipped.includes(e));
  return skipped.map((e) => (e.type === "command" ? e.name : e.type));
}

/** The web view's port when none is given; when it is taken, any free port (the URL is printed). */
const WEB_PORT = 8080;

async function startWebView(make: (port: number) => WebView, port: number | undefined): Promise<[WebView, string]> {
  const view = make(port ?? WEB_PORT);
  try {
    return [view, await view.start()];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    await view.close().catch(() => undefined);
    if (port !== undefined) throw new ConfigError(`port ${port} of the web view is in use: pass another --web-port (0: any free port), or --no-web`);
    const other = make(0);
    return [other, await other.start()];
  }
}

/** Refuses a --web-port that is taken before anything else starts (the broker, the device's link). */
async function webPortFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE"
      ? new ConfigError(`port ${port} of the web view is in use: pass another --web-port (0: any free port), or --no-web`) : e));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

async function startEmbeddedBroker(certs: CertFiles, port: number): Promise<RunningBroker> {
  try {
    return await startBroker({
      ca: readFileSync(certs.ca, "utf8"), cert: readFileSync(certs.broker, "utf8"), key: readFileSync(certs.brokerKey, "utf8"),
      port, requireClientCert: true,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new ConfigError(`port ${port} is in use (another wasm-scale, or a broker?): stop it, or pass --port N`);
    }
    throw e;
  }
}

/** An ordinary MQTT client, with its own certificate, subscribed to the device's topics. */
async function watch(c: Connection, certs: CertFiles, print: (line: string) => void): Promise<MqttClient> {
  const me = certFiles(certs.dir, SUBSCRIBER_ID);
  const client = await mqtt.connectAsync(c.url, {
    ca: readFileSync(c.ca!, "utf8"), cert: readFileSync(me.device), key: readFileSync(me.deviceKey),
    rejectUnauthorized: true, clientId: `wasm-scale-watch-${process.pid}`,
  });
  client.on("message", (topic, payload) => print(`subscriber  ${printable(topic)}  ${printable(payload.toString())}`));
  await client.subscribeAsync([`wasm-scale/${c.deviceId}/#`, `homeassistant/+/${c.deviceId}/+/config`], { qos: 1 });
  return client;
}

export async function run(file: string, o: RunOptions): Promise<void> {
  const external = Boolean(o.config || o.broker || process.env.WASM_SCALE_BROKER);
  if (o.mqtt && !external && o.mqtt5) throw new ConfigError("the embedded broker speaks MQTT 3.1.1: --mqtt5 needs --broker (or --config)");
  const scenario = loadScenario(file);
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const store = o.store ? new FileStore(o.store, (e) => {
      console.error(`wasm-scale: lost the lock on ${o.store} (${e.message}); stopping so two processes never write it`);
      process.exit(1);
    }) : undefined;
    if (store) cleanups.push(() => store.release());
    // The core to boot: one installed over the air and confirmed, or the firmware's own (a trial
    // the last run was stopped during is rolled back first).
    const slots = o.store ? new ModuleSlots(slotsDir(o.store)) : null;
    const boot = ModuleManager.bootCore(slots, () => trustedKeys(o.moduleKey).keys);
    let scale: VirtualScale;
    try {
      scale = await VirtualScale.create(scenario, { seed: o.seed, engine: o.engine, record: o.record, wasm: boot.wasm ?? undefined });
    } catch (e) {
      if (!boot.wasm) throw e;
      boot.refused((e as Error).message);
      scale = await VirtualScale.create(scenario, { seed: o.seed, engine: o.engine, record: o.record });
    }
    cleanups.push(() => scale.close());
    for (const e of boot.events) console.log(`core        ${describeAnswer(e)}`);
    const restored = restore(store, scale.core);
    for (const note of restored.notes) console.log(note);
    if (restored.calibrated) {
      const skipped = skipSetup(scenario);
      if (skipped.length) console.log(`calibration restored: the scenario's set-up commands (${skipped.join(", ")}) are skipped`);
    }
    const decimals = displayDecimals(scale.core);
    if (o.web && o.webPort) await webPortFree(o.webPort);
    let link: MqttLink | null = null;
    let web: WebView | null = null;
    let deviceId = o.deviceId ?? process.env.WASM_SCALE_DEVICE_ID ?? "scale1";
    if (o.mqtt) {
      const flags: Partial<Connection> = {
        url: o.broker, deviceId: o.deviceId, ca: o.ca, cert: o.cert, key: o.key,
        username: o.username, password: o.password, servername: o.servername, protocolVersion: o.mqtt5 ? 5 : undefined,
      };
      let certs: CertFiles | undefined;
      if (!external) {
        const made = await writeCerts(o.certs, { clients: [deviceId, SUBSCRIBER_ID], hosts: ["localhost", "127.0.0.1"] });
        certs = made.files;
        const broker = await startEmbeddedBroker(certs, o.port);
        cleanups.push(() => broker.close());
        Object.assign(flags, { url: broker.url, deviceId, ca: certs.ca, cert: certs.device, key: certs.deviceKey });
        console.log(`embedded broker (aedes, TLS, client certificates required) on ${broker.url}; certificates in ${certs.dir}`);
      }
      const connection = resolveConnection(o.config, process.env, flags);
      if (certs) { // the subscriber first, so that it sees the device come online and go offline
        const subscriber = await watch(connection, certs, (line) => console.log(line));
        cleanups.push(async () => { await subscriber.endAsync(); });
      }
      deviceId = connection.deviceId;
      const activeLink = new MqttLink(scale.core, connection, {
        onStatus: (t) => {
          console.log(`device      ${printable(t)}`);
          web?.note(t);
        },
      }).start();
      link = activeLink;
      cleanups.push(async () => {
        console.log(`device      ${(await activeLink.stop()) ? "offline (acknowledged by the broker)" : "stopped; the broker did not acknowledge \"offline\" (its will says so)"}`);
      });
      const waiting = setInterval(() => {
        if (!activeLink.connected) console.log(`device      offline: ${scale.core.pending} reading(s) waiting, ${scale.core.dropped} dropped`);
      }, WAITING_EVERY_MS).unref();
      cleanups.push(() => clearInterval(waiting));
    } else {
      scale.core.setDeviceId(deviceId); // the web view's commands take the command topic's path
    }
    // Calibration modules: the slots beside the store, the keys this scale trusts, the module topic.
    // The keys are read again at every check: a key made with module keygen while the scale runs counts at once.
    const keys = trustedKeys(o.moduleKey);
    const modules = new ModuleManager(scale.core, scale.host.calibration, slots, () => trustedKeys(o.moduleKey).keys, { cores: scale });
    scale.modules = modules;
    scale.coreListeners.push((core) => {
      link?.replaceCore(core);
      modules.setCore(core);
    });
    const answer = (a: TransferAnswer) => {
      if (a.step !== "chunk" || a.status !== "accepted") console.log(`${a.cmd.padEnd(12)}${describeAnswer(a)}`);
      link?.notify(scale.core.topic("RESULT"), JSON.stringify(a));
      web?.note(`${a.cmd} ${describeAnswer(a)}`);
    };
    modules.onEvent = (e) => answer(answerOf(e));
    for (const e of boot.events) link?.notify(scale.core.topic("RESULT"), JSON.stringify(answerOf(e)));
    for (const note of modules.restore()) console.log(note);
    const transfer = new ModuleTransfer(modules, answer);
    console.log(keys.keys.length
      ? `calibration modules signed by ${keys.described.join(", ")} are accepted on ${scale.core.topic("MODULE")}/#`
      : "no module signing key is trusted: calibration modules are refused (wasm-scale module keygen, or --module-key FILE)");
    console.log(`wasm-scale: ${scenario.name} (${scenario.rate} SPS, ${scenario.cells} cell(s), engine ${o.engine}); Ctrl-C to stop`);
    let seen = 0;
    const device = new Device(scale, link, {
      speed: o.speed,
      store,
      transfer,
      onReading: (r) => {
        if (!o.mqtt) console.log(formatReading(r, decimals));
        for (; seen < scale.commands.length; seen++) {
          const c = scale.commands[seen];
          const source = c.source ?? "scenario";
          console.log(`${source.padEnd(12)}${c.name}: ${c.result >= 0 ? "accepted" : `rejected (${c.error})`}`);
          web?.command(source, c.name, c.result);
        }
        web?.reading(r);
      },
      onMessage: (topic, payload, result, source) => {
        if (topic === scale.core.topic("CMD")) web?.command(source, Buffer.from(payload).toString("utf8"), result);
      },
    });
    if (o.web) {
      const activeLink = link;
      const key = webKey(o.certs);
      const [view, url] = await startWebView((port) => new WebView({
        device, port, key,
        about: { scenario: scenario.name, engine: o.engine, deviceId },
        link: activeLink ? () => ({ connected: activeLink.connected, pending: scale.core.pending, dropped: scale.core.dropped }) : undefined,
      }), o.webPort);
      console.log(`web view    ${url}  (this machine only; the key is in ${o.certs})`);
      web = view;
      cleanups.push(() => view.close());
    }
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        console.error(`wasm-scale: ${signal} again, exiting now`);
        process.exit(130);
      }
      device.stop();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    cleanups.push(() => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    });
    await device.run(o.duration ?? Number.POSITIVE_INFINITY);
    if (link?.connected) {
      const until = Date.now() + DRAIN_MS;
      while (link.connected && scale.core.pending > 0 && Date.now() < until) await sleep(20);
    }
  } finally {
    await cleanup();
  }
}
