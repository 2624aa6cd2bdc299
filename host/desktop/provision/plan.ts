// `wasm-scale provision --plan scales.csv`: a fleet. One row a scale (device_id, and any of
// wifi_ssid, wifi_password, broker, username, password); a certificate issued to each from the
// local CA; per device, the files a factory step needs: its settings record (settings.bin, what
// the scale keeps), an NVS CSV for ESP-IDF's nvs_partition_gen.py that holds it, its certificate,
// key and CA, and the line-protocol script that sets the same over a serial port.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "csv-parse/sync";
import { makeDirs, writeSecret } from "../files.js";
import { issueFor, ProvisionError } from "./provision.js";
import { FIELDS, PEM_FIELDS, encodeRecord, type Field, type Settings } from "./record.js";

const COLUMNS: readonly Field[] = ["device_id", "wifi_ssid", "wifi_password", "broker", "username", "password"];

/** The plan's rows, checked: a device id each, no column the scale does not know, no id twice. */
export function readPlan(csvPath: string): Settings[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(csvPath, "utf8"), { columns: true, skip_empty_lines: true, trim: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new ProvisionError(`no plan at ${csvPath}`);
    throw new ProvisionError(`${csvPath}: ${(e as Error).message}`);
  }
  const seen = new Set<string>();
  return rows.map((row, i) => {
    const line = i + 2;
    for (const c of Object.keys(row)) {
      if (!COLUMNS.includes(c as Field)) throw new ProvisionError(`${csvPath}: column "${c}" is not one of ${COLUMNS.join(", ")}`);
    }
    const id = row.device_id;
    if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new ProvisionError(`${csvPath} line ${line}: device_id must be 1..32 of A-Z a-z 0-9 _ -`);
    if (seen.has(id)) throw new ProvisionError(`${csvPath} line ${line}: device ${id} is planned twice`);
    seen.add(id);
    const s: Settings = {};
    for (const c of COLUMNS) if (row[c] !== undefined && row[c] !== "") s[c] = row[c];
    return s;
  });
}

/** One device's settings from the plan, with a certificate issued to it. */
export async function planned(csvPath: string, deviceId: string, certsDir: string): Promise<Settings> {
  const row = readPlan(csvPath).find((r) => r.device_id === deviceId);
  if (!row) throw new ProvisionError(`${csvPath} plans no device ${deviceId}`);
  return { ...row, ...(await issueFor(certsDir, deviceId)) };
}

/** Writes every device's files under outDir; one line a device. */
export async function writePlan(csvPath: string, outDir: string, certsDir: string): Promise<string[]> {
  const rows = readPlan(csvPath);
  const lines: string[] = [];
  for (const row of rows) {
    const id = row.device_id!;
    const s: Settings = { ...row, ...(await issueFor(certsDir, id)) };
    const dir = resolve(join(outDir, id));
    makeDirs(dir, 0o700); // it holds the device's key
    let record: Buffer;
    try {
      record = encodeRecord(s);
    } catch (e) {
      throw new ProvisionError(`${id}: ${(e as Error).message}`);
    }
    writeSecret(join(dir, "settings.bin"), record);
    writeFileSync(join(dir, "nvs.csv"), `key,type,encoding,value\nwasm-scale,namespace,,\nprovision,file,binary,${join(dir, "settings.bin")}\n`);
    writeFileSync(join(dir, "ca.pem"), s.ca!);
    writeFileSync(join(dir, `${id}.pem`), s.cert!);
    writeSecret(join(dir, `${id}-key.pem`), s.key!);
    const script = FIELDS.filter((f) => s[f] !== undefined)
      .map((f) => (PEM_FIELDS.includes(f) ? `set ${f}\n${s[f]!.trim()}\n` : `set ${f} ${s[f]}\n`))
      .join("") + "commit\n";
    writeSecret(join(dir, "provision.txt"), script);
    lines.push(`${id.padEnd(16)} ${dir}: settings.bin (${record.length} bytes), nvs.csv, ${id}.pem, ${id}-key.pem, ca.pem, provision.txt`);
  }
  return lines;
}
