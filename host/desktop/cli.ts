// wasm-scale command line: `simulate` runs a scenario on virtual time and summarises it;
// `run` (npm start) runs a virtual scale in real time and shows live readings.
import { Command, InvalidArgumentError, Option } from "commander";
import { fileURLToPath } from "node:url";
import { dirname, extname, join, resolve } from "node:path";
import { systemReason } from "./files.js";
import { ConfigError, resolveConnection, type Connection } from "./mqtt/config.js";
import { writeCerts, certFiles, CertError } from "./certs.js";
import { recordDevice, SILENCE_S } from "./device-recording.js";
import { loadScenario, ScenarioError } from "./scenario.js";
import { simulateBattery, formatBatterySummary } from "./battery/simulate.js";
import { DEFAULT_BATTERY } from "./battery/energy.js";
import { VirtualScale } from "./virtual-scale.js";
import { summarise, formatSummary } from "./summary.js";
import { StoreError } from "./store.js";
import { CoreError } from "./core.js";
import { ENGINES, EngineError, type EngineName } from "./engines/engine.js";
import { run, SUBSCRIBER_ID, type RunOptions } from "./run.js";
import { formatReading, displayDecimals } from "./terminal.js";
import { replay, parseSetting, formatReplaySummary } from "./replay.js";
import { plotSvg, svgToPng } from "./plot.js";
import { writeFileSync, existsSync } from "node:fs";
import { RecordingError } from "./record.js";
import { addModuleCommands, ModuleCliError } from "./module-cli.js";
import { addCoreCommands } from "./core-cli.js";
import { addFirmwareCommands } from "./firmware-cli.js";
import { BuildError } from "./modules/build.js";
import { SendError } from "./modules/send.js";
import { KeyError } from "./modules/keys.js";
import { addProvisionCommand, ProvisionError } from "./provision-cli.js";

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

function engineOption(): Option {
  return new Option("-e, --engine <name>", "Wasm engine: V8, or the devices' interpreters (npm run build:engines)").choices(ENGINES).default("v8");
}

/** How `run` and `record` reach a broker: the same flags, file and environment variables. */
function connectionOptions(command: Command, brokerDefault: string, certsHelp: string): Command {
  return command
    .option("-c, --config <file>", "broker configuration file (JSON: url, deviceId, ca, cert, key, username, password, servername, protocolVersion)")
    .option("-b, --broker <url>", `broker URL, mqtts://host:8883 [env WASM_SCALE_BROKER]; ${brokerDefault}`)
    .option("--device-id <id>", "device id in the topics [env WASM_SCALE_DEVICE_ID]")
    .option("--ca <file>", "CA certificate, PEM or DER [env WASM_SCALE_CA]")
    .option("--cert <file>", "client certificate, PEM or DER [env WASM_SCALE_CERT]")
    .option("--key <file>", "client key, PEM or DER [env WASM_SCALE_KEY]")
    .option("--username <name>", "[env WASM_SCALE_USERNAME]")
    .option("--password <secret>", "[env WASM_SCALE_PASSWORD]")
    .option("--servername <name>", "TLS SNI name when it differs from the URL's host [env WASM_SCALE_SERVERNAME]")
    .option("--mqtt5", "speak MQTT 5 (the embedded broker speaks 3.1.1)")
    .option("--certs <dir>", certsHelp, join(".wasm-scale", "certs"))
    .option("--port <n>", "port of the embedded broker", number("port", 1, 65535), 8883);
}

interface RecordCliOptions {
  seconds: number; wait: number; config?: string; broker?: string; deviceId?: string; ca?: string; cert?: string; key?: string;
  username?: string; password?: string; servername?: string; mqtt5?: boolean; certs: string; port: number;
}

/** The broker `record` uses: the one given, else npm start's embedded broker with the subscriber's certificate. */
function recordConnection(o: RecordCliOptions): Connection {
  const flags: Partial<Connection> = {
    url: o.broker, deviceId: o.deviceId, ca: o.ca, cert: o.cert, key: o.key, username: o.username, password: o.password,
    servername: o.servername, protocolVersion: o.mqtt5 ? 5 : undefined,
  };
  if (!o.config && !o.broker && !process.env.WASM_SCALE_BROKER) {
    const mine = certFiles(o.certs, SUBSCRIBER_ID);
    if (!existsSync(mine.device)) throw new ConfigError(`no ${mine.device}: start the scale first (npm start makes the certificates), or pass --broker`);
    Object.assign(flags, { url: `mqtts://localhost:${o.port}`, ca: certFiles(o.certs, SUBSCRIBER_ID).ca, cert: mine.device, key: mine.deviceKey });
    flags.deviceId ??= process.env.WASM_SCALE_DEVICE_ID ?? "scale1";
  }
  for (const k of Object.keys(flags) as Array<keyof Connection>) if (flags[k] === undefined) delete flags[k];
  return resolveConnection(o.config, process.env, flags);
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
    .addOption(engineOption())
    .option("--json", "print one JSON object")
    .option("--readings", "print every reading too")
    .option("--record <file>", "record what the core is given, to replay it later (wasm-scale replay)")
    .option("--battery", "run it as a battery scale (the scenario sets WAKE_INTERVAL_S): deep sleeps, a fresh core every wake, publishing over TLS to an embedded broker through the scenario's network outages; report the energy model's mAh a day and days of battery")
    .option("--capacity <mAh>", "battery capacity for --battery", number("capacity", 1, 1e6), DEFAULT_BATTERY.capacityMah)
    .action(async (file: string, o: { duration?: number; rate?: 10 | 80; seed: number; wasm?: string; engine: EngineName; json?: boolean; readings?: boolean; record?: string; battery?: boolean; capacity: number }) => {
      const scenario = loadScenario(file);
      if (o.rate) scenario.rate = o.rate;
      const duration = o.duration ?? scenario.durationS ?? 60;
      if (o.battery) {
        if (o.record || o.readings) throw new ScenarioError("--battery reports the battery; --record and --readings are for a scale that stays awake");
        const summary = await simulateBattery(scenario, {
          seed: o.seed, durationS: duration, wasm: o.wasm, engine: o.engine, battery: { ...DEFAULT_BATTERY, capacityMah: o.capacity },
        });
        console.log(o.json ? JSON.stringify(summary) : formatBatterySummary(summary));
        return;
      }
      const scale = await VirtualScale.create(scenario, { seed: o.seed, wasm: o.wasm, engine: o.engine, record: o.record });
      const decimals = displayDecimals(scale.core);
      const started = performance.now();
      const summary = summarise(scale, duration, (r) => {
        if (o.readings && !o.json) console.log(formatReading(r, decimals));
      });
      summary.wallSeconds = (performance.now() - started) / 1000;
      await scale.close();
      console.log(o.json ? JSON.stringify(summary) : formatSummary(summary));
    });

  cli
    .command("replay")
    .description("run a recording through the core again, with its settings or others, and summarise it")
    .argument("<recording>", "a file made by simulate --record")
    .option("--set <KEY=VALUE...>", "change a setting before replaying (not GAIN or RATE_SPS)")
    .option("--wasm <file>", "core module to run (default: build/release.wasm)")
    .option("--module <file>", "weigh with this calibration module: a package (.wsm, its parameters loaded) or a .wasm")
    .addOption(engineOption())
    .option("--json", "print one JSON object")
    .option("--readings", "print every reading too")
    .option("--plot <file>", "draw the weight, raw counts, stability, faults and commands (.svg or .png); with --set or --module, the recorded run too, overlaid")
    .action(async (file: string, o: { set?: string[]; wasm?: string; module?: string; engine: EngineName; json?: boolean; readings?: boolean; plot?: string }) => {
      const set = (o.set ?? []).map(parseSetting);
      if (o.plot) {
        plotFormat(o.plot);
        if (!existsSync(dirname(resolve(o.plot)))) throw new RecordingError(`cannot write ${o.plot}: no such directory`);
      }
      const tty = process.stderr.isTTY && !o.json;
      let shown = -1;
      const { summary } = await replay(file, {
        set, wasm: o.wasm, engine: o.engine, module: o.module,
        onReading: o.readings && !o.json ? (r, core) => console.log(formatReading(r, displayDecimals(core))) : undefined,
        onProgress: tty ? (f) => {
          const pct = Math.floor(f * 100);
          if (pct !== shown) process.stderr.write(`\rreplaying ${file}: ${(shown = pct)} %`);
          if (f >= 1) process.stderr.write("\n");
        } : undefined,
      });
      console.log(o.json ? JSON.stringify(summary) : formatReplaySummary(summary));
      if (o.plot) {
        const changes = [...set.map(([k, v]) => `${k}=${v}`), ...(o.module ? [`module ${o.module}`] : [])];
        const label = changes.length ? changes.join(", ") : "recorded";
        const series = [{ name: label, readings: (await replay(file, { set, wasm: o.wasm, engine: o.engine, module: o.module })).readings }];
        if (changes.length) series.unshift({ name: "recorded", readings: (await replay(file, { wasm: o.wasm, engine: o.engine })).readings });
        const commands = summary.commands.map((c) => ({ tS: c.tS, label: c.error ? `${c.op} (${c.error})` : c.op }));
        const svg = await plotSvg(series, commands, `replay of ${file}`);
        writeFileSync(o.plot, plotFormat(o.plot) === "png" ? svgToPng(svg) : svg);
        if (!o.json) console.log(`plot: ${o.plot}`);
      }
    });

  const runCommand = cli
    .command("run", { isDefault: true })
    .description("run a virtual scale in real time, publishing over MQTT/TLS (npm start); with no --broker, an embedded broker and a subscriber show what arrives")
    .argument("[scenario]", "scenario JSON file", defaultScenario)
    .option("-d, --duration <s>", "stop after this many virtual seconds (default: until Ctrl-C)", number("duration", 0.1, 1e7))
    .option("-s, --seed <n>", "random seed", number("seed", 0, 2 ** 31 - 1), 1)
    .option("--speed <x>", "virtual seconds per real second", number("speed", 0.1, 1000), 1)
    .option("--store <file>", "where calibration and settings persist", join(".wasm-scale", "store.json"))
    .option("--no-store", "do not persist anything")
    .option("--no-mqtt", "no network: print the readings only")
    .option("--record <file>", "record what the core is given, MQTT commands included, to replay it later (wasm-scale replay)")
    .option("--web-port <n>", "port of the live web view on localhost (default 8080, or any free port when 8080 is taken; 0: any free port)", number("web port", 0, 65535))
    .option("--no-web", "no live web view")
    .option("--module-key <files...>", "public keys whose calibration modules this scale accepts (default: .wasm-scale/keys/*.pub)")
    .addOption(engineOption());
  connectionOptions(runCommand, "default: an embedded broker on localhost", "certificates of the embedded broker and its clients (made on first run, then reused)")
    .action((file: string, o: RunOptions) => run(file, o));

  const recordCommand = cli
    .command("record")
    .description("ask a running scale (an ESP32, or npm start) to record what its core is given, over MQTT, into a file for replay")
    .argument("<file>", "the recording to write")
    .option("--seconds <n>", "how long to record (the device sends it as it goes)", number("seconds", 1, 3600), 60)
    .option("--wait <s>", "give up when the scale sends nothing for this long", number("wait", 1, 3600), SILENCE_S);
  connectionOptions(recordCommand, "default: the embedded broker of npm start on localhost, with its subscriber's certificate", "certificates of npm start's embedded broker")
    .action(async (file: string, o: RecordCliOptions) => {
      const c = recordConnection(o);
      const tty = process.stderr.isTTY;
      if (tty) process.stderr.write(`asking "${c.deviceId}" at ${c.url} to record ${o.seconds} s\n`);
      const r = await recordDevice(c, file, {
        seconds: o.seconds, silenceS: o.wait,
        onProgress: tty ? (n) => process.stderr.write(`\rbatches received: ${n}`) : undefined,
      });
      if (tty) process.stderr.write("\n");
      console.log(`${r.file}: ${r.samples} samples in ${r.batches} batches${r.complete ? "" : `; the scale could not keep up: ${r.lost} record(s) lost, the file stops before the first hole`}`);
    });
  cli
    .command("certs")
    .description("make what is missing of a CA, a broker certificate and client (device or subscriber) certificates, PEM and DER; what exists is reused")
    .option("-o, --out <dir>", "output folder (private keys are written there, mode 600; never commit them)", join("certs", "out"))
    .option("--device-id <ids...>", "clients to certify, each the certificate's common name: a scale's id (it publishes as that scale), NAME@ID (a person or tool that reads and commands scale ID), or subscriber (reads and commands every scale)", ["scale1"])
    .option("--host <names...>", "broker host names and IP addresses, added to those the broker certificate has", ["localhost", "127.0.0.1"])
    .option("--rotate", "make new keys and certificates for the CA, the broker and the clients named (other clients of the old CA stop working)")
    .action(async (o: { out: string; deviceId: string[]; host: string[]; rotate?: boolean }) => {
      for (const id of o.deviceId) {
        const [name, scale] = id.includes("@") ? id.split("@", 2) : [id, null];
        if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name) || (scale !== null && !/^[A-Za-z0-9_-]{1,32}$/.test(scale))) {
          throw new ConfigError(`client "${id}" is not a device id (1..32 of A-Z a-z 0-9 _ -) or NAME@ID for one scale's operator`);
        }
      }
      const report = await writeCerts(o.out, { clients: o.deviceId, hosts: o.host, rotate: o.rotate });
      for (const line of report.lines) console.log(line);
    });
  addModuleCommands(cli, { connectionOptions, connection: (o) => recordConnection(o as unknown as RecordCliOptions) });
  addCoreCommands(cli, { connectionOptions, connection: (o) => recordConnection(o as unknown as RecordCliOptions) });
  addFirmwareCommands(cli, { connectionOptions, connection: (o) => recordConnection(o as unknown as RecordCliOptions) });
  addProvisionCommand(cli);
  return cli;
}

/** A plot is written in the format its extension names: .svg or .png, nothing else. */
function plotFormat(file: string): "svg" | "png" {
  const ext = extname(file).toLowerCase();
  if (ext === ".svg" || ext === ".png") return ext === ".png" ? "png" : "svg";
  throw new RecordingError(`--plot writes .svg or .png, not "${file}"`);
}

/** Runs the command line; input errors print one clear line and exit with code 2. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof CoreError || e instanceof ConfigError || e instanceof StoreError || e instanceof CertError || e instanceof EngineError || e instanceof RecordingError
      || e instanceof ModuleCliError || e instanceof BuildError || e instanceof SendError || e instanceof KeyError || e instanceof ProvisionError) {
      console.error(`wasm-scale: ${e.message}`);
      process.exit(2);
    }
    // A file the user named that cannot be read or written: the path and the reason, no stack.
    const sys = e as NodeJS.ErrnoException;
    if (sys && typeof sys.code === "string" && typeof sys.path === "string") {
      console.error(`wasm-scale: ${sys.syscall ?? "open"} ${sys.path}: ${systemReason(sys)}`);
      process.exit(2);
    }
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
