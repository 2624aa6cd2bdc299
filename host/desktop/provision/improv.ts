// Improv Wi-Fi serial packets (https://www.improv-wifi.com/serial/): "IMPROV", version 1, type,
// length, data, and a checksum that is the low byte of the sum of every byte before it.
export const IMPROV_HEADER = Buffer.from("IMPROV");
export const TYPE = { state: 0x01, error: 0x02, rpc: 0x03, result: 0x04 } as const;
export const RPC = { wifi: 0x01, state: 0x02, info: 0x03, scan: 0x04 } as const;
export const STATE = { ready: 0x02, provisioning: 0x03, provisioned: 0x04 } as const;
export const ERROR: Record<number, string> = {
  0x00: "no error",
  0x01: "invalid RPC packet (the scale refused the network's name or password)",
  0x02: "unknown RPC command",
  0x03: "unable to connect",
  0x05: "bad hostname",
  0xff: "unknown error",
};

export interface ImprovPacket {
  type: number;
  data: Buffer;
}

export function encodePacket(type: number, data: Buffer): Buffer {
  if (data.length > 255) throw new RangeError("an Improv packet holds at most 255 bytes of data");
  const p = Buffer.concat([IMPROV_HEADER, Buffer.from([1, type, data.length]), data, Buffer.alloc(1)]);
  let sum = 0;
  for (let i = 0; i < p.length - 1; i++) sum = (sum + p[i]) & 0xff;
  p[p.length - 1] = sum;
  return p;
}

/** An RPC command: its id, then its data's length and the data. */
export function rpc(command: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return encodePacket(TYPE.rpc, Buffer.concat([Buffer.from([command, data.length]), data]));
}

/** Send Wi-Fi settings: the SSID and the password, each with its length. */
export function wifiCommand(ssid: string, password: string): Buffer {
  const s = Buffer.from(ssid, "utf8");
  const p = Buffer.from(password, "utf8");
  if (s.length < 1 || s.length > 32) throw new RangeError("a WiFi SSID is 1..32 bytes");
  if (p.length > 64) throw new RangeError("a WiFi password is at most 64 bytes");
  return rpc(RPC.wifi, Buffer.concat([Buffer.from([s.length]), s, Buffer.from([p.length]), p]));
}

/**
 * A packet at the start of buf: the packet and the bytes it took (with a newline after it, when
 * there is one); "wait" when buf may be the start of one; null when it is not.
 */
export function takePacket(buf: Buffer): { packet: ImprovPacket | null; used: number } | "wait" | null {
  const n = Math.min(buf.length, IMPROV_HEADER.length);
  if (!buf.subarray(0, n).equals(IMPROV_HEADER.subarray(0, n))) return null;
  if (buf.length < 9) return "wait";
  const len = buf[8];
  if (buf.length < 10 + len) return "wait";
  let sum = 0;
  for (let i = 0; i < 9 + len; i++) sum = (sum + buf[i]) & 0xff;
  let used = 10 + len;
  if (buf[used] === 0x0a) used++;
  const ok = buf[6] === 1 && sum === buf[9 + len];
  return { packet: ok ? { type: buf[7], data: Buffer.from(buf.subarray(9, 9 + len)) } : null, used };
}

/** The strings of an RPC result (after its command and length bytes). */
export function resultStrings(data: Buffer): string[] {
  const out: string[] = [];
  for (let at = 2; at < data.length; ) {
    const n = data[at];
    out.push(data.subarray(at + 1, at + 1 + n).toString("utf8"));
    at += 1 + n;
  }
  return out;
}
