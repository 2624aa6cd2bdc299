// What goes over MQTT, decided once for every host. A host only moves bytes: it asks out_next
// for the next message, publishes it with the QoS and retain flag given, and calls out_done when
// the broker has it. This file orders the outgoing messages and routes the incoming ones; topics,
// discovery, commands and the outbox each have a file of their own.
import { ERR_BAD_VALUE, ERR_NO_DEVICE, TOPIC_STATUS, TOPIC_CMD, TOPIC_HA_STATUS, TOPIC_RAW } from "./abi";
import { wLen, wStr, wBytes, bytesAre } from "./json";
import { idLen, topicsReset, topicIs, frameBegin } from "./topics";
import { outboxReset, gapWaiting, gapFrame, gapDone, outboxLength, readingFrame, readingDone } from "./outbox";
import { ENTITIES, discoveryFrame } from "./discovery";
import { commandsReset, commandParse, resultPush, resultWaiting, resultFrame, resultDone } from "./commands";
import { rawReset, rawWaiting, rawBatch, rawBatchLen, rawDone } from "./raw";
import { discoveryDue, discoverySent, dutyConnected } from "./duty";

// Kinds of outgoing message, in the order they are sent.
const OUT_NONE: i32 = 0;
const OUT_ONLINE: i32 = 1;
const OUT_DISCOVERY: i32 = 2; // + entity index
const OUT_RESULT: i32 = 10;
const OUT_GAP: i32 = 11;
const OUT_READING: i32 = 12;
const OUT_RAW: i32 = 13; // last: a recording never delays a reading, result or gap

let connected: bool = false;
/** Announcements to send: a bit per discovery entity, and ONLINE (availability "online"). */
let pending: i32 = 0;
const ALL_ENTITIES: i32 = (1 << ENTITIES) - 1;
const ONLINE: i32 = 1 << ENTITIES;
let lastOut: i32 = 0; // OUT_NONE, as a literal: no start function

export function mqttReset(): void {
  topicsReset();
  outboxReset();
  commandsReset();
  rawReset();
  connected = false;
  pending = 0;
  lastOut = OUT_NONE;
}

/** The availability message "offline", retained: the will, and what a host sends on a clean stop. */
export function mqttWill(p: usize, cap: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  frameBegin(p, cap, 1, true, TOPIC_STATUS);
  wStr("offline");
  return wLen();
}

export function mqttConnected(up: bool): void {
  connected = up;
  lastOut = OUT_NONE;
  if (up) {
    dutyConnected();
    pending = ONLINE | (discoveryDue() ? ALL_ENTITIES : 0);
  }
}

/** mqttMessage's answer when a valid command waits to be run (then mqttResult reports it). */
export const MESSAGE_RUN: i32 = 3;

/**
 * An incoming message: topic at p (tn bytes), payload after it (pn bytes, of which only what fits
 * the buffer is there). Returns MESSAGE_RUN for a valid command (in commands' cmd*), a negative
 * code for a refused one (its result is queued), 1 for another message handled, 2 for one not
 * meant for us.
 */
export function mqttMessage(p: usize, cap: i32, tn: i32, pn: i32): i32 {
  if (idLen == 0) return ERR_NO_DEVICE;
  if (tn < 0 || pn < 0 || tn > cap) return 2;
  const payload = p + <usize>tn;
  const complete = tn + pn <= cap;
  if (topicIs(p, tn, TOPIC_HA_STATUS)) {
    if (complete && bytesAre(payload, pn, "online")) {
      pending |= ALL_ENTITIES;
      return 1;
    }
    return 2;
  }
  if (!topicIs(p, tn, TOPIC_CMD)) return 2;
  const code = commandParse(payload, complete ? pn : cap - tn, !complete);
  if (code != 0) {
    resultPush(code);
    return code;
  }
  return MESSAGE_RUN;
}

/** Queues the result of the command run after mqttMessage returned MESSAGE_RUN. */
export function mqttResult(code: i32): i32 {
  resultPush(code);
  return code;
}

/** Frames the next message to publish at p; returns its length, 0 when there is none. */
export function outNext(p: usize, cap: i32): i32 {
  lastOut = OUT_NONE;
  if (idLen == 0 || !connected) return 0;
  if (pending & ONLINE) {
    frameBegin(p, cap, 1, true, TOPIC_STATUS);
    wStr("online");
    lastOut = OUT_ONLINE;
  } else if (pending != 0) {
    const e = ctz(pending);
    discoveryFrame(p, cap, e);
    lastOut = OUT_DISCOVERY + e;
  } else if (resultWaiting()) {
    resultFrame(p, cap);
    lastOut = OUT_RESULT;
  } else if (gapWaiting()) {
    gapFrame(p, cap);
    lastOut = OUT_GAP;
  } else if (outboxLength() > 0) {
    readingFrame(p, cap);
    lastOut = OUT_READING;
  } else if (rawWaiting()) {
    frameBegin(p, cap, 1, false, TOPIC_RAW);
    wBytes(rawBatch(), rawBatchLen());
    lastOut = OUT_RAW;
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
  if (kind == OUT_ONLINE) pending &= ~ONLINE;
  else if (kind >= OUT_DISCOVERY && kind < OUT_DISCOVERY + ENTITIES) {
    pending &= ~(1 << (kind - OUT_DISCOVERY));
    if (pending == 0) discoverySent();
  }
  else if (kind == OUT_RESULT) resultDone();
  else if (kind == OUT_GAP) gapDone();
  else if (kind == OUT_RAW) rawDone();
  else readingDone();
  return 0;
}
