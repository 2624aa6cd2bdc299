// `wasm-scale provision`: a scale's WiFi, broker, credentials, device id and certificate over its
// USB serial port (provision/provision.ts), or a fleet's files from a plan (provision/plan.ts).
import { Option, type Command } from "commander";
import { join } from "node:path";
import { provision, formatSettings, ProvisionError } from "./provision/provision.js";
import { planned, writePlan } from "./provision/plan.js";
import type { Settings } from "./provision/record.js";

export { ProvisionError };

interface ProvisionCliOptions {
  port?: string;
  baud: string;
  wifi?: string;
  wifiPassword?: string;
  wifiCheck: boolean;
  wifiTimeout: string;
  broker?: string;
  username?: string;
  password?: string;
  deviceId?: string;
  ca?: string;
  cert?: string;
  key?: string;
  issueCert?: boolean;
  certs: string;
  plan?: string;
  out: string;
  factoryReset?: boolean;
  restart: boolean;
}

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new ProvisionError(`${what} must be a positive whole number, not "${text}"`);
  return n;
}

export function addProvisionCommand(cli: Command): void {
  cli
    .command("provision")
    .description("set a scale's WiFi, broker, credentials, device id and certificate over its USB serial port (Improv for WiFi); with --plan and no --port, write a fleet's files")
    .option("--port <path>", "the scale's serial port (/dev/ttyUSB0, /dev/ttyACM0, COM3)")
    .option("--baud <rate>", "the port's speed", "115200")
    .option("--wifi <ssid>", "the WiFi network")
    .addOption(new Option("--wifi-password <password>", "its password (none: an open network; from the environment it stays out of the process list)").env("WASM_SCALE_WIFI_PASSWORD"))
    .option("--no-wifi-check", "store the WiFi network without joining it first (a scale set up away from its network)")
    .option("--wifi-timeout <s>", "how long the scale may take to join the network", "60")
    .option("--broker <url>", "mqtts://host[:port] (or wss://host[:port]/path)")
    .option("--username <name>", "MQTT user name")
    .addOption(new Option("--password <password>", "MQTT password (from the environment it stays out of the process list)").env("WASM_SCALE_MQTT_PASSWORD"))
    .option("--device-id <id>", "the scale's id in its topics (1..32 of A-Z a-z 0-9 _ -); with --plan, the planned device to provision")
    .option("--ca <file>", "PEM: the CA that verifies the broker")
    .option("--cert <file>", "PEM: the scale's own certificate")
    .option("--key <file>", "PEM: its private key (never read back from the scale)")
    .option("--issue-cert", "issue the scale a certificate and key from the CA in --certs (made if missing), for its device id")
    .option("--certs <dir>", "the CA's folder for --issue-cert and --plan", join("certs", "out"))
    .option("--plan <csv>", "a fleet: device_id[,wifi_ssid,wifi_password,broker,username,password] a row")
    .option("-o, --out <dir>", "with --plan and no --port: where each device's files go", join("provision", "out"))
    .option("--factory-reset", "erase what the scale keeps first (the build's values apply again)")
    .option("--no-restart", "do not restart the scale after its settings change (they are in use from its next start)")
    .action(async (o: ProvisionCliOptions, cmd: Command) => {
      // A WiFi password from the environment applies only with a network named on the command line.
      if (o.wifi === undefined && cmd.getOptionValueSource("wifiPassword") === "env") o.wifiPassword = undefined;
      if (o.plan && !o.port) {
        for (const line of await writePlan(o.plan, o.out, o.certs)) console.log(line);
        return;
      }
      if (!o.port) throw new ProvisionError("give the scale's serial port (--port), or a --plan to write a fleet's files");
      let settings: Settings = {};
      if (o.plan) {
        if (!o.deviceId) throw new ProvisionError("with --plan and --port, name the planned device to provision (--device-id)");
        settings = await planned(o.plan, o.deviceId, o.certs);
      }
      const given: Settings = {
        wifi_ssid: o.wifi, wifi_password: o.wifiPassword, broker: o.broker, username: o.username, password: o.password, device_id: o.deviceId,
      };
      for (const [k, v] of Object.entries(given)) if (v !== undefined) settings[k as keyof Settings] = v;
      if (o.wifiPassword !== undefined && o.wifi === undefined && !o.plan) throw new ProvisionError("--wifi-password needs --wifi");
      if ((o.cert === undefined) !== (o.key === undefined)) throw new ProvisionError("--cert and --key go together");
      if (o.issueCert && o.cert) throw new ProvisionError("--issue-cert makes the certificate: leave out --cert and --key");
      const report = await provision({
        port: o.port,
        baudRate: positive(o.baud, "--baud"),
        settings,
        files: { ca: o.ca, cert: o.cert, key: o.key },
        wifiCheck: o.wifiCheck,
        wifiTimeoutS: positive(o.wifiTimeout, "--wifi-timeout"),
        issueCertIn: o.issueCert ? o.certs : undefined,
        factoryReset: o.factoryReset,
        restart: o.restart,
        say: (line) => console.log(line),
      });
      console.log(`the scale keeps now${report.restarted ? "" : " (in use from its next start)"}:`);
      for (const line of formatSettings(report.settings)) console.log(`  ${line}`);
    });
}
