// wasm-scale command line: `simulate` runs a scenario on virtual time and summarises it;
// `run` (npm start) runs a virtual scale in real time and shows live readings.
import { Command, InvalidArgumentError, Option } from "commander";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { existsSync, readFileSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import { Device } from "./device.js";
import { MqttLink } from "./mqtt/link.js";
import { startBroker, type RunningBroker } from "./mqtt/broker.js";
import { resolveConnection, ConfigError, type Connection } from "./mqtt/config.js";
import { writeCerts, certFiles, type CertFiles } from "./certs.js";
import { loadScenario, ScenarioError } from "./scenario.js";
import { VirtualScale } from "./virtual-scale.js";
import { summarise, formatSummary } from "./summary.js";
import { FileStore } from "./store.js";
import { flagNames, CoreError, type ScaleCore, type Reading } from "./core.js";
import { codeName } from "../abi.js";

export const defaultScenario = fileURLToPath(new URL("./scenarios/default.json", import.meta.url));

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

function rate(v: string): 10 | 80 {
  if (v !== "10" && v !== "80") throw new InvalidArgumentError("the HX711 runs at 10 or 80 samples per second");
  return Number(v) as 10 | 80;
}

/** Restores calibration and settings from the store, with a note for each. */
function restore(store: FileStore | undefined, core: ScaleCore): string[] {
  const notes: string[] = [];
  if (!store) return notes;
  if (store.recovered) notes.push(store.recovered);
  for (const which of ["CONFIG", "CALIBRATION"] as const) {
    const blob = store.get(which);
    if (!blob) continue;
    const r = core.loadBlob(which, blob);
    notes.push(r === 0 ? `restored ${which.toLowerCase()} from ${store.path}` : `ignored stored ${which.toLowerCase()}: ${codeName("error", r)}`);
  }
  return notes;
}

interface RunOptions {
  duration?: number; seed: number; speed: number; store: string | false; mqtt: boolean; config?: string; broker?: string;
  deviceId?: string; ca?: string; cert?: string; key?: string; username?: string; password?: string; servername?: string;
  mqtt5?: boolean; certs: string;
}

async function startEmbeddedBroker(certs: CertFiles): Promise<RunningBroker> {
  const tls = { ca: readFileSync(certs.ca, "utf8"), cert: readFileSync(certs.broker, "utf8"), key: readFileSync(certs.brokerKey, "utf8") };
  try {
    return await startBroker({ ...tls, port: 8883 });
  } catch {
    return startBroker({ ...tls, port: 0 }); // 8883 is taken: any free port
  }
}

/** An ordinary MQTT client subscribed to the device's topics, printing what arrives. */
async function watch(c: Connection, print: (line: string) => void): Promise<MqttClient> {
  const client = await mqtt.connectAsync(c.url, { ca: readFileSync(c.ca!, "utf8"), rejectUnauthorized: true, clientId: `wasm-scale-watch-${process.pid}` });
  client.on("message", (topic, payload) => print(`subscriber  ${topic}  ${payload.toString().slice(0, 160)}`));
  await client.subscribeAsync([`wasm-scale/${c.deviceId}/#`, "homeassistant/+/" + c.deviceId + "/+/config"], { qos: 1 });
  return client;
}

/** Decimal places that show the division d (0.01 -> 2, 0.005 -> 3, 1 -> 0). */
function displayDecimals(core: ScaleCore): number {
  return Math.max(0, Math.ceil(-Math.log10(core.get("DIVISION_KG")) - 1e-9));
}

export function formatReading(r: Reading, decimals: number): string {
  const t = (r.tMs / 1000).toFixed(1).padStart(7);
  if (r.fault) return `${t} s  #${r.seq}  FAULT ${codeName("fault", r.fault)} (chip ${r.faultChip})`;
  const flags = flagNames(r.flags).filter((f) => f !== "ZERO_RANGE").join(" ");
  return `${t} s  #${r.seq}  ${r.kg.toFixed(decimals).padStart(9)} kg  raw ${String(r.raw).padStart(8)}  ${flags}`;
}

export function program(): Command {
  const cli = new Command("wasm-scale")
    .description("WiFi weighing-scale firmware core (WebAssembly), on a simulated HX711 and load cell")
    .showHelpAfterError();

  cli
    .command("simulate")
    .description("run a scenario on virtual time and print a summary")
    .argument("[scenario]", "scenario JSON file", defaultScenario)
    .option("-d, --duration <s>", "virtual seconds to run (default: the scenario's durationS, else 60)", number("duration", 0.001, 1e7))
    .addOption(new Option("-r, --rate <sps>", "HX711 rate: 10 or 80 (default: the scenario's)").argParser(rate))
    .option("-s, --seed <n>", "random seed", number("seed", 0, 2 ** 31 - 1), 1)
    .option("--wasm <file>", "core module to run (default: build/release.wasm)")
    .option("--json", "print one JSON object")
    .option("--readings", "print every reading too")
    .action(async (file: string, o: { duration?: number; rate?: 10 | 80; seed: number; wasm?: string; json?: boolean; readings?: boolean }) => {
      const scenario = loadScenario(file);
      if (o.rate) scenario.rate = o.rate;
      const duration = o.duration ?? scenario.durationS ?? 60;
      const scale = await VirtualScale.create(scenario, { seed: o.seed, wasm: o.wasm });
      const decimals = displayDecimals(scale.core);
      const started = performance.now();
      const summary = summarise(scale, duration, (r) => {
        if (o.readings && !o.json) console.log(formatReading(r, decimals));
      });
      summary.wallSeconds = (performance.now() - started) / 1000;
      console.log(o.json ? JSON.stringify(summary) : formatSummary(summary));
    });

  cli
    .command("run", { isDefault: true })
    .description("run a virtual scale in real time, publishing over MQTT/TLS (npm start); with no --broker, an embedded broker and a subscriber show what arrives")
    .argument("[scenario]", "scenario JSON file", defaultScenario)
    .option("-d, --duration <s>", "stop after this many virtual seconds (default: until Ctrl-C)", number("duration", 0.1, 1e7))
    .option("-s, --seed <n>", "random seed", number("seed", 0, 2 ** 31 - 1), 1)
    .option("--speed <x>", "virtual seconds per real second", number("speed", 0.1, 1000), 1)
    .option("--store <file>", "where calibration and settings persist", join(".wasm-scale", "store.json"))
    .option("--no-store", "do not persist anything")
    .option("--no-mqtt", "no network: print the readings only")
    .option("-c, --config <file>", "broker configuration file (JSON: url, deviceId, ca, cert, key, username, password, servername, protocolVersion)")
    .option("-b, --broker <url>", "broker URL, mqtts://host:8883 [env WASM_SCALE_BROKER]; default: an embedded broker on localhost")
    .option("--device-id <id>", "device id in the topics [env WASM_SCALE_DEVICE_ID]")
    .option("--ca <file>", "CA certificate, PEM or DER [env WASM_SCALE_CA]")
    .option("--cert <file>", "device certificate, PEM or DER [env WASM_SCALE_CERT]")
    .option("--key <file>", "device key, PEM or DER [env WASM_SCALE_KEY]")
    .option("--username <name>", "[env WASM_SCALE_USERNAME]")
    .option("--password <secret>", "[env WASM_SCALE_PASSWORD]")
    .option("--servername <name>", "TLS SNI name when it differs from the URL's host [env WASM_SCALE_SERVERNAME]")
    .option("--mqtt5", "speak MQTT 5 (the embedded broker speaks 3.1.1)")
    .option("--certs <dir>", "certificates of the embedded broker (made on first run)", join(".wasm-scale", "certs"))
    .action(async (file: string, o: RunOptions) => {
      const scenario = loadScenario(file);
      const store = o.store ? new FileStore(o.store) : undefined;
      const scale = await VirtualScale.create(scenario, { seed: o.seed });
      for (const note of restore(store, scale.core)) console.log(note);
      const decimals = displayDecimals(scale.core);
      let broker: RunningBroker | undefined;
      let link: MqttLink | null = null;
      let subscriber: MqttClient | undefined;
      if (o.mqtt) {
        const flags: Partial<Connection> = {
          url: o.broker, deviceId: o.deviceId, ca: o.ca, cert: o.cert, key: o.key,
          username: o.username, password: o.password, servername: o.servername, protocolVersion: o.mqtt5 ? 5 : undefined,
        };
        const external = o.config || o.broker || process.env.WASM_SCALE_BROKER;
        if (!external) {
          const deviceId = o.deviceId ?? process.env.WASM_SCALE_DEVICE_ID ?? "scale1";
          const certs = existsSync(certFiles(o.certs, deviceId).device) ? certFiles(o.certs, deviceId) : await writeCerts(o.certs, deviceId, ["localhost", "127.0.0.1"]);
          broker = await startEmbeddedBroker(certs);
          Object.assign(flags, { url: broker.url, deviceId, ca: certs.ca, cert: certs.device, key: certs.deviceKey });
          console.log(`embedded broker (aedes, TLS) on ${broker.url}; certificates in ${certs.dir}`);
        }
        const connection = resolveConnection(o.config, process.env, flags);
        link = new MqttLink(scale.core, connection, { onStatus: (t) => console.log(`device      ${t}`) }).start();
        if (broker) subscriber = await watch(connection, (line) => console.log(line));
      }
      console.log(`wasm-scale: ${scenario.name} (${scenario.rate} SPS, ${scenario.cells} cell(s)); Ctrl-C to stop`);
      let seen = 0;
      const device = new Device(scale, link, {
        speed: o.speed,
        store,
        onReading: (r) => {
          if (!o.mqtt) console.log(formatReading(r, decimals));
          for (; seen < scale.commands.length; seen++) {
            const c = scale.commands[seen];
            console.log(`scenario    ${c.name}: ${c.result >= 0 ? "accepted" : `rejected (${c.error})`}`);
          }
        },
      });
      process.once("SIGINT", () => device.stop());
      await device.run(o.duration ?? Number.POSITIVE_INFINITY);
      if (link) {
        const until = Date.now() + 2000;
        while (link.connected && scale.core.pending > 0 && Date.now() < until) await sleep(20);
        await link.stop();
      }
      await subscriber?.endAsync();
      await broker?.close();
    });
  cli
    .command("certs")
    .description("make a CA, a broker certificate and a device key, CSR and certificate (PEM and DER); an existing CA in the folder is reused")
    .option("-o, --out <dir>", "output folder (private keys are written there, mode 600; never commit them)", join("certs", "out"))
    .option("--device-id <id>", "device id (the certificate's common name)", "scale1")
    .option("--host <names...>", "broker host names and IP addresses", ["localhost", "127.0.0.1"])
    .action(async (o: { out: string; deviceId: string; host: string[] }) => {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(o.deviceId)) throw new ConfigError(`device id "${o.deviceId}" is not 1..32 of A-Z a-z 0-9 _ -`);
      const files = await writeCerts(o.out, o.deviceId, o.host);
      console.log(`CA             ${files.ca} (+ ca.der)`);
      console.log(`broker         ${files.broker}, ${files.brokerKey} for ${o.host.join(", ")}`);
      console.log(`device         ${files.device} (+ .der, .csr), ${files.deviceKey} (+ -key.der)`);
    });
  return cli;
}

/** Runs the command line; input errors print one clear line and exit with code 2. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof CoreError || e instanceof ConfigError) {
      console.error(`wasm-scale: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
