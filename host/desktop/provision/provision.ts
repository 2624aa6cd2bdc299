// `wasm-scale provision`: one scale's settings over its serial port (WiFi by Improv, so the scale
// proves it can join the network before it keeps it; the rest by the line protocol, staged and
// committed whole), with a certificate issued for it from the local CA when asked.
import { readFileSync } from "node:fs";
import { writeCerts, certFiles } from "../certs.js";
import { ScaleLink, ProvisionError } from "./link.js";
import { ERROR, RPC, STATE, TYPE, resultStrings, rpc, wifiCommand } from "./improv.js";
import { FIELDS, PEM_FIELDS, SECRETS, type Field, type Settings } from "./record.js";

export { ProvisionError };

export interface ProvisionOptions {
  port: string;
  baudRate?: number;
  settings: Settings;
  /** Files holding PEM values (ca, cert, key), read here. */
  files?: Partial<Record<"ca" | "cert" | "key", string>>;
  /** Join the WiFi network by Improv (the scale tries it first) rather than storing it untried. */
  wifiCheck?: boolean;
  wifiTimeoutS?: number;
  /** Issue the scale a certificate (and key) from the CA in this folder, made if missing. */
  issueCertIn?: string;
  factoryReset?: boolean;
  restart?: boolean;
  /** Progress, one line each. */
  say?: (line: string) => void;
}

export interface ProvisionReport {
  firmware: string;
  chip: string;
  /** What the scale keeps now, as it reads it back (secrets as true/false). */
  settings: Record<string, unknown>;
  restarted: boolean;
}

/** A certificate and key issued for a device id from the CA in dir (the `certs` command's tooling). */
export async function issueFor(dir: string, deviceId: string): Promise<{ ca: string; cert: string; key: string }> {
  await writeCerts(dir, { clients: [deviceId], hosts: ["localhost", "127.0.0.1"] });
  const f = certFiles(dir, deviceId);
  return { ca: readFileSync(f.ca, "utf8"), cert: readFileSync(f.device, "utf8"), key: readFileSync(f.deviceKey, "utf8") };
}

function setRequest(field: Field, value: string): string {
  if (!PEM_FIELDS.includes(field)) return `set ${field} ${value}`;
  const pem = value.replace(/\r\n/g, "\n").trim();
  return `set ${field}\n${pem}\n`;
}

export async function provision(o: ProvisionOptions): Promise<ProvisionReport> {
  const say = o.say ?? (() => {});
  const settings: Settings = { ...o.settings };
  for (const [f, path] of Object.entries(o.files ?? {})) if (path) settings[f as Field] = readFileSync(path, "utf8");
  for (const f of Object.keys(settings)) {
    if (!FIELDS.includes(f as Field)) throw new ProvisionError(`no setting "${f}": the settings are ${FIELDS.join(", ")}`);
    if (/[\r\n]/.test(settings[f as Field]!) && !PEM_FIELDS.includes(f as Field)) throw new ProvisionError(`${f} cannot hold a line break`);
  }
  const link = await ScaleLink.open(o.port, o.baudRate);
  try {
    // The scale may still be printing its boot log: a second hello after the first goes unanswered.
    let hello;
    try {
      hello = await link.request("hello", 3000);
    } catch {
      try {
        hello = await link.request("hello", 5000);
      } catch (e) {
        throw new ProvisionError(`${(e as Error).message}: is a wasm-scale firmware on this port, at ${o.baudRate ?? 115200} baud?`);
      }
    }
    const about = JSON.parse(hello.text) as { firmware: string; version: string; chip: string; protocol: number };
    say(`${o.port}: ${about.firmware} ${about.version} on ${about.chip}`);
    if (o.factoryReset) {
      const r = await link.request("factory-reset");
      if (!r.ok) throw new ProvisionError(`factory reset refused: ${r.text}`);
      say("factory reset: the stored settings are erased");
    }
    if (settings.wifi_ssid !== undefined && o.wifiCheck !== false) {
      const ssid = settings.wifi_ssid;
      const password = settings.wifi_password ?? "";
      delete settings.wifi_ssid;
      delete settings.wifi_password;
      let packet: Buffer;
      try {
        packet = wifiCommand(ssid, password);
      } catch (e) {
        throw new ProvisionError((e as Error).message);
      }
      say(`WiFi: asking the scale to join "${ssid}" (Improv)`);
      const seconds = o.wifiTimeoutS ?? 60;
      const outcome = await link.improv(packet, (p) => (p.type === TYPE.state && p.data[0] === STATE.provisioned) || (p.type === TYPE.error && p.data[0] !== 0),
        seconds * 1000, "the WiFi settings");
      if (outcome.type === TYPE.error) throw new ProvisionError(`the scale did not take WiFi "${ssid}": ${ERROR[outcome.data[0]] ?? `error ${outcome.data[0]}`}`);
      say(`WiFi: joined "${ssid}" and kept`);
    }
    if (o.issueCertIn) {
      let id = settings.device_id;
      if (!id) {
        const info = await link.improv(rpc(RPC.info), (p) => p.type === TYPE.result && p.data[0] === RPC.info, 5000, "device information");
        id = resultStrings(info.data)[3];
      }
      if (!id) throw new ProvisionError("the scale has no device id: give --device-id");
      const issued = await issueFor(o.issueCertIn, id);
      settings.cert = issued.cert;
      settings.key = issued.key;
      settings.ca ??= issued.ca;
      say(`certificate: issued for ${id} by the CA in ${o.issueCertIn}`);
    }
    const fields = FIELDS.filter((f) => settings[f] !== undefined);
    for (const f of fields) {
      const r = await link.request(setRequest(f, settings[f]!));
      if (!r.ok) {
        await link.request("abort").catch(() => undefined);
        throw new ProvisionError(`the scale refused ${f}: ${r.text.replace(/^[A-Z_]+ (\w+: )?/, "")} (nothing was changed)`);
      }
    }
    if (fields.length) {
      const r = await link.request("commit");
      if (!r.ok) {
        await link.request("abort").catch(() => undefined);
        throw new ProvisionError(`the scale did not keep the settings: ${r.text.replace(/^[A-Z_]+ /, "")} (nothing was changed)`);
      }
      say(`kept: ${fields.map((f) => (SECRETS.includes(f) ? `${f} (secret)` : f)).join(", ")}`);
    }
    const got = await link.request("get");
    if (!got.ok) throw new ProvisionError(`get: ${got.text}`);
    const now = JSON.parse(got.text) as Record<string, unknown>;
    let restarted = false;
    if (o.restart && (fields.length > 0 || o.factoryReset)) {
      const r = await link.request("restart");
      restarted = r.ok;
      say(r.ok ? "restarting the scale: the settings are in use when it is back" : `not restarted: ${r.text}`);
    }
    return { firmware: `${about.firmware} ${about.version}`, chip: about.chip, settings: now, restarted };
  } finally {
    await link.close();
  }
}

/** What the scale keeps, one line a setting ("(build)": the firmware's own value applies). */
export function formatSettings(s: Record<string, unknown>): string[] {
  return FIELDS.map((f) => {
    const v = s[f];
    const shown = SECRETS.includes(f) ? (v ? "set" : "(build)") : v === null || v === undefined ? "(build)" : String(v);
    return `${f.padEnd(14)} ${shown}`;
  });
}
