// The settings record a scale keeps (host/scale_portable/provision.c reads it; this writes it for a
// factory step that flashes it instead of speaking to the scale): "WSPV", version 1, the fields'
// length, then each field as tag, length (u16 LE), bytes and a NUL, then a CRC-32 of all before it.
// tests/provision.test.ts boots the firmware's code on a record written here.
import { crc32 } from "node:zlib";

/** The fields in tag order (scale_provision.h's prov_field_t). */
export const FIELDS = ["wifi_ssid", "wifi_password", "broker", "username", "password", "device_id", "ca", "cert", "key"] as const;
export type Field = (typeof FIELDS)[number];
export type Settings = Partial<Record<Field, string>>;
/** Fields never printed back by the scale. */
export const SECRETS: readonly Field[] = ["wifi_password", "password", "key"];
/** Fields given as PEM, on the lines after their set line. */
export const PEM_FIELDS: readonly Field[] = ["ca", "cert", "key"];
export const RECORD_MAX = 7936;

export function encodeRecord(s: Settings): Buffer {
  const parts: Buffer[] = [];
  FIELDS.forEach((f, tag) => {
    const v = s[f];
    if (v === undefined) return;
    const bytes = Buffer.from(v, "utf8");
    const head = Buffer.alloc(3);
    head[0] = tag;
    head.writeUInt16LE(bytes.length, 1);
    parts.push(head, bytes, Buffer.alloc(1));
  });
  const fields = Buffer.concat(parts);
  const header = Buffer.alloc(8);
  header.write("WSPV", 0, "latin1");
  header.writeUInt16LE(1, 4);
  header.writeUInt16LE(fields.length, 6);
  const body = Buffer.concat([header, fields]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body) >>> 0);
  const record = Buffer.concat([body, crc]);
  if (record.length > RECORD_MAX) throw new RangeError(`the settings take ${record.length} bytes; a scale keeps at most ${RECORD_MAX}`);
  return record;
}
