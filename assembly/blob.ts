// Versioned, checksummed byte blobs that a host persists (NVS on the ESP32, a file on the desktop)
// and hands back at start-up:  magic u32 | which u8 | version u8 | payload length u16 | payload | crc32 u32
export const BLOB_MAGIC: u32 = 0x31435357; // "WSC1" little endian
export const BLOB_HEADER: i32 = 8;
export const BLOB_TRAILER: i32 = 4;
/** Payload versions, apart from the ABI's: a host keeps its blobs across core updates. Older
 * blobs (calibration 1, settings 1 to 3) are still read, and saved again as these. */
export const CAL_VERSION: i32 = 2;
export const CONFIG_VERSION: i32 = 4;

/** CRC-32 (IEEE 802.3, reflected, as zlib), bitwise: blobs are rare and small, a table is not worth 1 KiB. */
export function crc32(p: usize, len: i32): u32 {
  return ~crc32Update(0xFFFFFFFF, p, len);
}

/** The CRC-32 register after `len` more bytes (start at 0xFFFFFFFF, invert at the end). */
export function crc32Update(crc: u32, p: usize, len: i32): u32 {
  for (let i = 0; i < len; i++) {
    crc ^= <u32>load<u8>(p + i);
    for (let b = 0; b < 8; b++) crc = (crc >>> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
  }
  return crc;
}

/** Writes header and checksum around a payload already at p + BLOB_HEADER; returns the blob length. */
export function blobSeal(p: usize, which: i32, version: i32, payload: i32): i32 {
  store<u32>(p, BLOB_MAGIC);
  store<u8>(p, <u8>which, 4);
  store<u8>(p, <u8>version, 5);
  store<u16>(p, <u16>payload, 6);
  const len = BLOB_HEADER + payload;
  store<u32>(p + len, crc32(p, len));
  return len + BLOB_TRAILER;
}

/** Checks framing and checksum; returns the payload length, or -1. */
export function blobOpen(p: usize, len: i32, which: i32, version: i32): i32 {
  if (len < BLOB_HEADER + BLOB_TRAILER) return -1;
  if (load<u32>(p) != BLOB_MAGIC || <i32>load<u8>(p, 4) != which || <i32>load<u8>(p, 5) != version) return -1;
  const payload = <i32>load<u16>(p, 6);
  if (BLOB_HEADER + payload + BLOB_TRAILER != len) return -1;
  if (load<u32>(p + BLOB_HEADER + payload) != crc32(p, BLOB_HEADER + payload)) return -1;
  return payload;
}

let dirty: i32 = 0;

/** Marks a blob (codes.blob value) as changed: the host persists it. */
export function markDirty(blob: i32): void {
  dirty |= 1 << blob;
}

/** The blobs changed since the last call (bit per codes.blob), and forgets them. */
export function takeDirty(): i32 {
  const d = dirty;
  dirty = 0;
  return d;
}
