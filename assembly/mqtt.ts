// What goes over MQTT, decided once for every host: topics, JSON payloads, Home Assistant
// discovery, commands and their results, and store-and-forward of readings while offline.
// A host only moves bytes: it asks out_next for the next message, publishes it with the QoS and
// retain flag given, and calls out_done when the broker has it.
import {
  CFG_PUBLISH_MS, CFG_OUTBOX_CAPACITY, CFG_DIVISION_KG, CFG_NAMES, ERR_NAMES, FAULT_NAMES, CFG_COUNT,
  ERR_BAD_VALUE, ERR_UNKNOWN_COMMAND, ERR_MISSING_FIELD, ERR_TOO_LONG, ERR_NO_DEVICE, ERR_BAD_KEY,
  READING_SIZE, READING_SEQ, READING_T_MS, READING_KG, READING_GROSS_KG, READING_RAW, READING_FLAGS, READING_FAULT,
  TOPIC_STATE, TOPIC_STATUS, TOPIC_CMD, TOPIC_RESULT, TOPIC_HA_STATUS, TOPIC_GAP,
  FLAG_STABLE, FLAG_NET, FLAG_CENTER_ZERO, FLAG_OVERLOAD, FLAG_UNDERLOAD, FLAG_UNCALIBRATED,
} from "./abi";
import { cfg, cfgInt } from "./config";
import {
  wBegin, wLen, wByte, wStr, wBytes, wInt, wFixed, wBool, wListName, parseCommand, bytesAre,
  F_KG, F_ORDER, F_KEY, F_VALUE, pFields, pCmdAt, pCmdLen, pKeyAt, pKeyLen, pIdAt, pIdLen, pKg, pOrder, pValue,
} from "./json";

/** The version of the core, as Home Assistant shows it. */
const CORE_VERSION = "0.2.0";
const TOPIC_ROOT = "wasm-scale/";
const HA_ROOT = "homeassistant/";
export const MAX_ID: i32 = 32;
const OUTBOX_MAX: i32 = 1000;
/** Results waiting to be published; a burst of commands beyond this loses the oldest results. */
const RESULTS_MAX: i32 = 64;
/** A result: command index, code, id length, id bytes. */
const RESULT_SIZE: i32 = 12 + 32;


/** Commands, in the order of their index. */
const COMMANDS = "tare,clear_tare,zero,calibrate,cal_point,cal_clear,cal_fit,config";
const CMD_TARE: i32 = 0;
const CMD_CLEAR_TARE: i32 = 1;
const CMD_ZERO: i32 = 2;
const CMD_CALIBRATE: i32 = 3;
const CMD_CAL_POINT: i32 = 4;
const CMD_CAL_CLEAR: i32 = 5;
const CMD_CAL_FIT: i32 = 6;
const CMD_CONFIG: i32 = 7;

// Kinds of outgoing message, in the order they are sent.
const OUT_NONE: i32 = 0;
const OUT_ONLINE: i32 = 1;
const OUT_DISCOVERY: i32 = 2; // + entity index
const ENTITIES: i32 = 4;
const OUT_RESULT: i32 = 10;
const OUT_GAP: i32 = 11;
const OUT_READING: i32 = 12;

const deviceId = memory.data(MAX_ID);
let idLen: i32 = 0;
let connected: bool = false;
let onlinePending: bool = false;
let discoveryPending: i32 = 0; // bit per entity
let lastOut: i32 = OUT_NONE;

const outbox = memory.data(OUTBOX_MAX * READING_SIZE);
let outHead: i32 = 0; // oldest
let outLen: i32 = 0;
let pubSeq: u32 = 0;
let droppedTotal: u32 = 0;
/** Dropped since the last gap message, and the seq of the first reading kept after them. */
let droppedPending: u32 = 0;
let gapNextSeq: u32 = 0;
/** How many drops the gap message in flight reports (more may happen before it is acknowledged). */
let gapFramed: u32 = 0;
let lastQueuedMs: i32 = 0;
let queuedAny: bool = false;
let lastFault: i32 = 0;

const results = memory.data(RESULTS_MAX * RESULT_SIZE);
let resHead: i32 = 0;
let resLen: i32 = 0;

let epochS: u32 = 0;
let epochAtMs: i32 = 0;
let timeKnown: bool = false;
let dirty: i32 = 0;

export function mqttReset(): void {
  idLen = 0;
  connected = false;
  onlinePending = false;
  discoveryPending = 0;
  lastOut = OUT_NONE;
  outHead = 0;
  outLen = 0;
  pubSeq = 0;
  droppedTotal = 0;
  droppedPending = 0;
  queuedAny = false;
  lastFault = 0;
  resHead = 0;
  resLen = 0;
  timeKnown = false;
  dirty = 0;
}

/** Marks blobs (bit = codes.blob value) to be persisted by the host. */
export function markDirty(blob: i32): void {
  dirty |= 1 << blob;
}

export function takeDirty(): i32 {
  const d = dirty;
  dirty = 0;
  return d;
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

export function timeSync(epochSeconds: u32, nowMs: i32): void {
  epochS = epochSeconds;
  epochAtMs = nowMs;
  timeKnown = epochSeconds != 0;
}

function wTopic(which: i32): void {
  if (which == TOPIC_HA_STATUS) {
    wStr(HA_ROOT);
    wStr("status");
    return;
  }
  wStr(TOPIC_ROOT);
  wBytes(deviceId, idLen);
  if (which == TOPIC_STATE) wStr("/state");
  else if (which == TOPIC_STATUS) wStr("/status");
  else if (which == TOPIC_CMD) wStr("/cmd");
  else if (which == TOPIC_RESULT) wStr("/result");
  else wStr("/gap");
}

/** Renders a topic at p; returns its length, or an error. */
export function mqttTopic(p: usize, cap: i32, which: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  if (which < TOPIC_STATE || which > TOPIC_GAP) return ERR_BAD_VALUE;
  wBegin(p, cap);
  wTopic(which);
  return wLen();
}

/** Frame: flags (qos | retain << 2), topic length (u16), topic; the payload follows. */
function frameBegin(p: usize, cap: i32, qos: i32, retain: bool): void {
  wBegin(p, cap);
  wByte(qos | (retain ? 4 : 0));
  wByte(0);
  wByte(0);
}

function frameTopicEnd(p: usize): void {
  const n = wLen() - 3;
  store<u8>(p, <u8>(n & 0xFF), 1);
  store<u8>(p, <u8>(n >> 8), 2);
}

/** The will: availability "offline", retained. */
export function mqttWill(p: usize, cap: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  frameBegin(p, cap, 1, true);
  wTopic(TOPIC_STATUS);
  frameTopicEnd(p);
  wStr("offline");
  return wLen();
}

export function mqttConnected(up: bool): void {
  connected = up;
  lastOut = OUT_NONE;
  if (up) {
    onlinePending = true;
    discoveryPending = (1 << ENTITIES) - 1;
  }
}

// --- readings --------------------------------------------------------------------------------

/** Offered every reading (and fault report); keeps what should be published, bounded. */
export function outboxOffer(reading: usize): void {
  if (idLen == 0) return;
  const t = load<i32>(reading, READING_T_MS);
  const fault = load<i32>(reading, READING_FAULT);
  const faultChanged = (fault != 0) != (lastFault != 0);
  lastFault = fault;
  if (queuedAny && !faultChanged && t - lastQueuedMs < cfgInt(CFG_PUBLISH_MS)) return;
  queuedAny = true;
  lastQueuedMs = t;
  const capacity = min(cfgInt(CFG_OUTBOX_CAPACITY), OUTBOX_MAX);
  // Full: the oldest reading goes (but not one the host is publishing right now), and the loss
  // is counted and published before the next reading.
  const inFlight = lastOut == OUT_READING ? 1 : 0;
  let dropped = false;
  while (outLen >= capacity && outLen > inFlight) {
    if (inFlight) memory.copy(slotAt(1), slotAt(0), READING_SIZE);
    outHead = outHead + 1 == OUTBOX_MAX ? 0 : outHead + 1;
    outLen--;
    droppedTotal++;
    droppedPending++;
    dropped = true;
  }
  if (dropped) gapNextSeq = outLen > inFlight ? load<u32>(slotAt(inFlight), READING_SEQ) : pubSeq + 1;
  const at = slotAt(outLen);
  memory.copy(at, reading, READING_SIZE);
  store<u32>(at, ++pubSeq, READING_SEQ); // the published sequence: a gap means a lost reading
  outLen++;
}

/** Address of the i-th oldest reading in the outbox. */
function slotAt(i: i32): usize {
  let slot = outHead + i;
  if (slot >= OUTBOX_MAX) slot -= OUTBOX_MAX;
  return outbox + <usize>(slot * READING_SIZE);
}

export function outboxLength(): i32 {
  return outLen;
}

export function outboxDropped(): u32 {
  return droppedTotal;
}

function decimals(): i32 {
  const d = cfg(CFG_DIVISION_KG);
  let n = 0;
  let step: f32 = 1;
  while (n < 6 && step > d * 1.0001) {
    step *= 0.1;
    n++;
  }
  return n;
}

function wReading(r: usize): void {
  const flags = load<u32>(r, READING_FLAGS);
  const fault = load<i32>(r, READING_FAULT) & 0xFF;
  const dec = decimals();
  const t = load<i32>(r, READING_T_MS);
  wStr("{\"seq\":");
  wInt(<i64>load<u32>(r, READING_SEQ));
  wStr(",\"kg\":");
  wFixed(load<f32>(r, READING_KG), dec);
  wStr(",\"gross_kg\":");
  wFixed(load<f32>(r, READING_GROSS_KG), dec);
  wStr(",\"raw\":");
  wInt(<i64>load<i32>(r, READING_RAW));
  wStr(",\"stable\":");
  wBool((flags & FLAG_STABLE) != 0);
  wStr(",\"net\":");
  wBool((flags & FLAG_NET) != 0);
  wStr(",\"zero\":");
  wBool((flags & FLAG_CENTER_ZERO) != 0);
  wStr(",\"overload\":");
  wBool((flags & FLAG_OVERLOAD) != 0);
  wStr(",\"underload\":");
  wBool((flags & FLAG_UNDERLOAD) != 0);
  wStr(",\"calibrated\":");
  wBool((flags & FLAG_UNCALIBRATED) == 0);
  wStr(",\"flags\":");
  wInt(<i64>flags);
  wStr(",\"fault\":");
  if (fault != 0) wListName(FAULT_NAMES, fault);
  else wStr("null");
  wStr(",\"status\":");
  if (fault != 0) wListName(FAULT_NAMES, fault);
  else wStr((flags & FLAG_STABLE) != 0 ? "\"stable\"" : "\"motion\"");
  wStr(",\"t_ms\":");
  wInt(<i64><u32>t);
  wStr(",\"ts\":");
  // Wall-clock milliseconds once the host has set the clock (NTP); null, and said so, before.
  if (timeKnown) wInt(<i64>epochS * 1000 + <i64>(t - epochAtMs));
  else wStr("null");
  wStr(",\"time_known\":");
  wBool(timeKnown);
  wByte(0x7D);
}

// --- Home Assistant discovery -----------------------------------------------------------------

function wDevice(): void {
  wStr(",\"availability_topic\":\"");
  wTopic(TOPIC_STATUS);
  wStr("\",\"device\":{\"identifiers\":[\"wasm-scale-");
  wBytes(deviceId, idLen);
  wStr("\"],\"name\":\"wasm-scale ");
  wBytes(deviceId, idLen);
  wStr("\",\"manufacturer\":\"wasm-scale\",\"model\":\"HX711 WiFi scale\",\"sw_version\":\"");
  wStr(CORE_VERSION);
  wStr("\"}}");
}

/** Entity e: 0 weight sensor, 1 tare button, 2 zero button, 3 status sensor. */
function wDiscovery(p: usize, cap: i32, e: i32): void {
  frameBegin(p, cap, 1, true);
  wStr(HA_ROOT);
  wStr(e == 1 || e == 2 ? "button/" : "sensor/");
  wBytes(deviceId, idLen);
  wStr(e == 0 ? "/weight" : e == 1 ? "/tare" : e == 2 ? "/zero" : "/status");
  wStr("/config");
  frameTopicEnd(p);
  wStr("{\"name\":\"");
  wStr(e == 0 ? "Weight" : e == 1 ? "Tare" : e == 2 ? "Zero" : "Status");
  wStr("\",\"unique_id\":\"wasm-scale-");
  wBytes(deviceId, idLen);
  wStr(e == 0 ? "-weight" : e == 1 ? "-tare" : e == 2 ? "-zero" : "-status");
  wByte(0x22);
  if (e == 1 || e == 2) {
    wStr(",\"command_topic\":\"");
    wTopic(TOPIC_CMD);
    wStr(e == 1 ? "\",\"payload_press\":\"{\\\"cmd\\\":\\\"tare\\\"}\"" : "\",\"payload_press\":\"{\\\"cmd\\\":\\\"zero\\\"}\"");
  } else {
    wStr(",\"state_topic\":\"");
    wTopic(TOPIC_STATE);
    if (e == 0) {
      wStr("\",\"value_template\":\"{{ value_json.kg }}\",\"unit_of_measurement\":\"kg\",\"device_class\":\"weight\",\"state_class\":\"measurement\"");
      wStr(",\"suggested_display_precision\":");
      wInt(<i64>decimals());
    } else {
      wStr("\",\"value_template\":\"{{ value_json.status }}\",\"icon\":\"mdi:scale\"");
    }
  }
  wDevice();
}

// --- commands --------------------------------------------------------------------------------

function listIndex(list: string, p: usize, n: i32): i32 {
  let index = 0;
  let start = 0;
  while (start <= list.length) {
    let end = list.indexOf(",", start);
    if (end < 0) end = list.length;
    if (end - start == n) {
      let same = true;
      for (let i = 0; i < n; i++) if (<i32>load<u8>(p + i) != list.charCodeAt(start + i)) same = false;
      if (same) return index;
    }
    index++;
    start = end + 1;
  }
  return -1;
}

function pushResult(command: i32, code: i32): void {
  if (resLen == RESULTS_MAX) {
    resHead = (resHead + 1) % RESULTS_MAX; // the oldest unsent result gives way
    resLen--;
    if (lastOut == OUT_RESULT) lastOut = OUT_NONE;
  }
  const at = results + <usize>(((resHead + resLen) % RESULTS_MAX) * RESULT_SIZE);
  store<i32>(at, command, 0);
  store<i32>(at, code, 4);
  store<i32>(at, pIdLen, 8);
  memory.copy(at + 12, pIdAt, pIdLen);
  resLen++;
}

/** The command parsed by mqttMessage, for the weighing code to run. */
export let cmdIndex: i32 = -1;
export let cmdKey: i32 = -1;
export let cmdKg: f32 = 0;
export let cmdOrder: i32 = 0;
export let cmdValue: f32 = 0;
/** mqttMessage's answer when a valid command waits to be run (then mqttResult reports it). */
export const MESSAGE_RUN: i32 = 3;

/**
 * An incoming message: topic at p (tn bytes), payload after it (pn bytes, of which only what fits
 * the buffer is there). Returns MESSAGE_RUN for a valid command (in cmd*), a negative code for a
 * refused one (its result is queued), 1 for another message handled, 2 for one not meant for us.
 */
export function mqttMessage(p: usize, cap: i32, tn: i32, pn: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  if (tn < 0 || pn < 0 || tn > cap) return 2;
  const payload = p + <usize>tn;
  const topics = memory.data(64);
  if (mqttTopic(topics, 64, TOPIC_HA_STATUS) == tn && memory.compare(topics, p, tn) == 0) {
    if (tn + pn <= cap && bytesAre(payload, pn, "online")) {
      discoveryPending = (1 << ENTITIES) - 1;
      return 1;
    }
    return 2;
  }
  const n = mqttTopic(topics, 64, TOPIC_CMD);
  if (n != tn || memory.compare(topics, p, tn) != 0) return 2;
  pIdLen = 0;
  cmdIndex = -1;
  cmdKey = -1;
  let code = tn + pn > cap ? ERR_TOO_LONG : parseCommand(payload, pn);
  if (code == 0) {
    cmdIndex = (pFields & 1) != 0 ? listIndex(COMMANDS, pCmdAt, pCmdLen) : -1;
    if (cmdIndex < 0) code = ERR_UNKNOWN_COMMAND;
  }
  if (code == 0) {
    if ((cmdIndex == CMD_CALIBRATE || cmdIndex == CMD_CAL_POINT) && (pFields & F_KG) == 0) code = ERR_MISSING_FIELD;
    else if (cmdIndex == CMD_CAL_FIT && (pFields & F_ORDER) == 0) code = ERR_MISSING_FIELD;
    else if (cmdIndex == CMD_CONFIG) {
      if ((pFields & F_KEY) == 0 || (pFields & F_VALUE) == 0) code = ERR_MISSING_FIELD;
      else {
        cmdKey = listIndex(CFG_NAMES, pKeyAt, pKeyLen);
        if (cmdKey < 0 || cmdKey >= CFG_COUNT) code = ERR_BAD_KEY;
      }
    }
  }
  if (code != 0) {
    pushResult(cmdIndex, code);
    return code;
  }
  cmdKg = <f32>pKg;
  cmdOrder = pOrder == 1 ? 1 : pOrder == 2 ? 2 : 0; // anything else is refused by the fit
  cmdValue = <f32>pValue;
  return MESSAGE_RUN;
}

/** Queues the result of the command run after mqttMessage returned MESSAGE_RUN. */
export function mqttResult(code: i32): i32 {
  pushResult(cmdIndex, code);
  return code;
}

export { CMD_TARE, CMD_CLEAR_TARE, CMD_ZERO, CMD_CALIBRATE, CMD_CAL_POINT, CMD_CAL_CLEAR, CMD_CAL_FIT, CMD_CONFIG };

function wResult(p: usize, cap: i32): void {
  const at = results + <usize>(resHead * RESULT_SIZE);
  const command = load<i32>(at, 0);
  const code = load<i32>(at, 4);
  const idn = load<i32>(at, 8);
  frameBegin(p, cap, 1, false);
  wTopic(TOPIC_RESULT);
  frameTopicEnd(p);
  wStr("{\"cmd\":");
  if (command >= 0) wListName(COMMANDS, command);
  else wStr("null");
  if (idn > 0) {
    wStr(",\"id\":");
    wBytes(at + 12, idn);
  }
  wStr(",\"status\":");
  wStr(code >= 0 ? "\"accepted\"" : "\"rejected\"");
  if (code < 0) {
    wStr(",\"reason\":");
    wListName(ERR_NAMES, -code);
  }
  wByte(0x7D);
}

// --- the outgoing queue ----------------------------------------------------------------------

/** Frames the next message to publish at p; returns its length, 0 when there is none. */
export function outNext(p: usize, cap: i32): i32 {
  lastOut = OUT_NONE;
  if (idLen == 0 || !connected) return 0;
  if (onlinePending) {
    frameBegin(p, cap, 1, true);
    wTopic(TOPIC_STATUS);
    frameTopicEnd(p);
    wStr("online");
    lastOut = OUT_ONLINE;
  } else if (discoveryPending != 0) {
    const e = ctz(discoveryPending);
    wDiscovery(p, cap, e);
    lastOut = OUT_DISCOVERY + e;
  } else if (resLen > 0) {
    wResult(p, cap);
    lastOut = OUT_RESULT;
  } else if (droppedPending > 0) {
    frameBegin(p, cap, 1, false);
    wTopic(TOPIC_GAP);
    frameTopicEnd(p);
    gapFramed = droppedPending;
    wStr("{\"dropped\":");
    wInt(<i64>droppedPending);
    wStr(",\"dropped_total\":");
    wInt(<i64>droppedTotal);
    wStr(",\"next_seq\":");
    wInt(<i64>gapNextSeq);
    wByte(0x7D);
    lastOut = OUT_GAP;
  } else if (outLen > 0) {
    frameBegin(p, cap, 1, false);
    wTopic(TOPIC_STATE);
    frameTopicEnd(p);
    wReading(slotAt(0));
    lastOut = OUT_READING;
  } else {
    return 0;
  }
  return wLen();
}

/** The message framed by the last outNext was delivered: remove it. */
export function outDone(): i32 {
  const kind = lastOut;
  lastOut = OUT_NONE;
  if (kind == OUT_NONE) return ERR_BAD_VALUE;
  if (kind == OUT_ONLINE) onlinePending = false;
  else if (kind >= OUT_DISCOVERY && kind < OUT_DISCOVERY + ENTITIES) discoveryPending &= ~(1 << (kind - OUT_DISCOVERY));
  else if (kind == OUT_RESULT) {
    resHead = (resHead + 1) % RESULTS_MAX;
    resLen--;
  } else if (kind == OUT_GAP) droppedPending -= gapFramed;
  else {
    outHead = outHead + 1 == OUTBOX_MAX ? 0 : outHead + 1;
    outLen--;
  }
  return 0;
}
