// The device id, the topics built from it, and the frame every outgoing message is written in:
// flags (qos | retain << 2), topic length (u16 LE), topic, then the payload.
import { ERR_BAD_VALUE, ERR_NO_DEVICE, TOPIC_STATE, TOPIC_STATUS, TOPIC_CMD, TOPIC_HA_STATUS, TOPIC_GAP, TOPIC_RAW, TOPIC_MODULE } from "./abi";
import { wBegin, wLen, wByte, wStr, wBytes } from "./json";

const TOPIC_ROOT = "wasm-scale/";
export const HA_ROOT = "homeassistant/";
export const MAX_ID: i32 = 32;

export const deviceId = memory.data(MAX_ID);
export let idLen: i32 = 0;

export function topicsReset(): void {
  idLen = 0;
}

/** Device id from [p, p+n): 1..32 of [A-Za-z0-9_-] (it becomes a topic level and an HA id). */
export function mqttSetup(p: usize, n: i32): i32 {
  if (n < 1 || n > MAX_ID) return ERR_BAD_VALUE;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D;
    if (!ok) return ERR_BAD_VALUE;
  }
  memory.copy(deviceId, p, n);
  idLen = n;
  return 0;
}

// @ts-ignore: decorator
@inline export function wDeviceId(): void {
  wBytes(deviceId, idLen);
}

export function wTopic(which: i32): void {
  if (which == TOPIC_HA_STATUS) {
    wStr(HA_ROOT);
    wStr("status");
    return;
  }
  wStr(TOPIC_ROOT);
  wDeviceId();
  if (which == TOPIC_STATE) wStr("/state");
  else if (which == TOPIC_STATUS) wStr("/status");
  else if (which == TOPIC_CMD) wStr("/cmd");
  else if (which == TOPIC_GAP) wStr("/gap");
  else if (which == TOPIC_RAW) wStr("/raw");
  else if (which == TOPIC_MODULE) wStr("/module");
  else wStr("/result");
}

/** Renders a topic at p; returns its length, or an error. */
export function mqttTopic(p: usize, cap: i32, which: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  if (which < TOPIC_STATE || which > TOPIC_MODULE) return ERR_BAD_VALUE;
  wBegin(p, cap);
  wTopic(which);
  return wLen();
}

/** True when the topic at [p, p+n) is `which`. */
export function topicIs(p: usize, n: i32, which: i32): bool {
  const scratch = memory.data(64);
  return mqttTopic(scratch, 64, which) == n && memory.compare(scratch, p, n) == 0;
}

/** Starts a frame at p with the topic `which`; the payload is written next. */
export function frameBegin(p: usize, cap: i32, qos: i32, retain: bool, which: i32): void {
  frameOpen(p, cap, qos, retain);
  wTopic(which);
  frameTopicEnd(p);
}

/** Starts a frame whose topic the caller writes, then closes with frameTopicEnd. */
export function frameOpen(p: usize, cap: i32, qos: i32, retain: bool): void {
  wBegin(p, cap);
  // The flags byte and the topic length's two bytes (filled in by frameTopicEnd), written at once.
  wBytes(changetype<usize>(FRAME_START) + <usize>(qos | (retain ? 4 : 0)) * 3, 3);
}

/** The three first bytes of a frame for each flags value (QoS 0..2, retain bit), then the topic length. */
const FRAME_START = memory.data<u8>([0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0, 5, 0, 0, 6, 0, 0]);

// @ts-ignore: decorator
@inline export function frameTopicEnd(p: usize): void {
  const n = wLen() - 3;
  store<u8>(p, <u8>(n & 0xFF), 1);
  store<u8>(p, <u8>(n >> 8), 2);
}
