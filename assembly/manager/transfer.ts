// Receiving a package over MQTT (abi.json calibration_module.transfer): begin with its size and
// SHA-256, chunks at explicit offsets written straight to the spare slot, end; or rollback. A
// begin of the same package resumes where the transfer stands. The transfer belongs to whoever
// began it: a begin of another package is refused (BUSY) until the transfer ends or has been idle
// for IDLE_MS, unless it comes from the same sender. Every step answers.
import { slot_erase, slot_write_message, slot_sha256, slot_capacity, message_read, now_ms } from "./host";
import { readBegin, bSize, bSha, bSender, bSenderLen, MAX_PACKAGE } from "./package";
import { refuse, say, d, dn, dBytes, dVersion, publish, reason } from "./out";
import { same } from "./json";
import { PREVIOUS, sActive, sPrevious, sTrial, spareSlot, setLength, setState, freeHandle, loaded, nameOf, versionOf, cActive, cPrevious, cPreviousVersion, cTrial, cVersion, setCoreState } from "./slots";
import { nameLength } from "./out";

/** A transfer idle this long may be taken over by another sender. */
export const IDLE_MS: f64 = 60000;
const MAX_CHUNK: i32 = 4096;

let on = false;
/** What is being sent: 0 a calibration module, 1 a core. */
let tKind: i32 = 0;
let tSlot: i32 = 0;
let tSize: u32 = 0;
let tReceived: u32 = 0;
let tLast: f64 = 0;
const tSha = memory.data(32);
const tSender = memory.data(64);
let tSenderLen: i32 = 0;
const payload = memory.data(256);
const hash = memory.data(32);
const givenUp = memory.data(33);
let givenUpVersion: u32 = 0;

/** The largest chunk this host takes (its MQTT buffer), set at start. */
let chunkBytes: i32 = 4096; // MAX_CHUNK, as a literal: an initialiser that names a constant runs in a start function
export function setChunkBytes(n: i32): void {
  chunkBytes = n > 0 && n < MAX_CHUNK ? n : MAX_CHUNK;
}

/** A transfer is under way (the host keeps the manager loaded until it ends). */
export function busy(): bool {
  return on;
}

function begin(kind: i32): void {
  const n = message_read(payload, 256);
  if (n > 256 || !readBegin(payload, <u32>n)) {
    refuse("BAD_PACKAGE");
    d("begin needs {\"size\": bytes, \"sha256\": 64 hex digits} and may name its \"sender\"");
    publish("begin", false, reason(), -1, -1, 0, 0);
    return;
  }
  const cap = min<u32>(MAX_PACKAGE, slot_capacity());
  if (bSize > <f64>cap) {
    refuse("TOO_LARGE");
    d("a package of ");
    dn(bSize);
    d(" bytes; at most ");
    dn(cap);
    publish("begin", false, reason(), -1, -1, 0, 0);
    return;
  }
  const size = <u32>bSize;
  const now = now_ms();
  const resume = on && tKind == kind && tSize == size && memory.compare(tSha, bSha, 32) == 0;
  if (on && !resume && now - tLast < IDLE_MS && !(tSenderLen > 0 && tSenderLen == bSenderLen && memory.compare(tSender, bSender, <usize>tSenderLen) == 0)) {
    refuse("BUSY");
    d("a transfer of ");
    dn(tSize);
    d(" bytes from ");
    if (tSenderLen) dBytes(tSender, tSenderLen);
    else d("a sender that gave no name");
    d(" is under way (");
    dn(tReceived);
    d(" received); it may be taken over after ");
    dn(IDLE_MS / 1000);
    d(" s without a message");
    publish("begin", false, reason(), -1, -1, 0, 0);
    return;
  }
  let gaveUp = false;
  if (!resume) {
    const slot = spareSlot(kind);
    // The spare slot may hold the previous module (or core): it goes now (no rollback to it from
    // here on), and the state says so before the slot is erased.
    if (kind == 1) {
      if (cPrevious == slot) {
        store<u8>(givenUp, 0);
        givenUpVersion = cPreviousVersion;
        gaveUp = true;
      }
      setLength(slot, 0);
      setCoreState(cActive, cVersion, cPrevious == slot ? -1 : cPrevious, cPrevious == slot ? 0 : cPreviousVersion, cTrial);
    } else {
      if (sPrevious == slot && loaded(PREVIOUS)) {
        memory.copy(givenUp, nameOf(PREVIOUS), 33);
        givenUpVersion = versionOf(PREVIOUS);
        gaveUp = true;
      }
      if (sPrevious == slot) freeHandle(PREVIOUS);
      setLength(slot, 0);
      setState(sActive, sPrevious == slot ? -1 : sPrevious, sTrial);
    }
    if (slot_erase(slot) != 1) {
      on = false;
      refuse("TOO_LARGE");
      d("the module slot cannot be erased");
      publish("begin", false, reason(), -1, -1, 0, 0);
      return;
    }
    on = true;
    tKind = kind;
    tSlot = slot;
    tSize = size;
    tReceived = 0;
    memory.copy(tSha, bSha, 32);
  }
  tSenderLen = bSenderLen;
  memory.copy(tSender, bSender, <usize>bSenderLen);
  tLast = now;
  say();
  if (resume) {
    d("resuming at byte ");
    dn(tReceived);
    d(" of ");
  } else {
    d("ready for ");
  }
  dn(size);
  d(" bytes");
  if (gaveUp) {
    if (kind == 1) d("; the previous core, ");
    else {
      d("; the previous module, ");
      dBytes(givenUp, nameLength(givenUp));
      d(" ");
    }
    dVersion(givenUpVersion);
    d(", is given up for it (its slot takes the new package)");
  }
  publish("begin", true, "", tReceived, chunkBytes, 0, 0);
}

function chunk(at: usize, atLen: i32, len: i32, kind: i32): void {
  if (!on || tKind != kind) {
    refuse("NO_TRANSFER");
    d("no transfer begun (send begin first)");
    publish("chunk", false, reason(), -1, -1, 0, 0);
    return;
  }
  let offset: i64 = atLen >= 1 && atLen <= 9 ? 0 : -1;
  for (let i = 0; i < atLen && offset >= 0; i++) {
    const c = <i32>load<u8>(at + <usize>i);
    offset = c >= 0x30 && c <= 0x39 ? offset * 10 + (c - 0x30) : -1;
  }
  if (offset != <i64>tReceived) {
    refuse("BAD_OFFSET");
    d("expected offset ");
    dn(tReceived);
    d(", got ");
    dBytes(at, min(atLen, 16));
    publish("chunk", false, reason(), tReceived, -1, 0, 0);
    return;
  }
  if (len <= 0 || len > chunkBytes) {
    refuse("TOO_LARGE");
    d("a chunk carries 1..");
    dn(chunkBytes);
    d(" bytes, this one ");
    dn(len);
    publish("chunk", false, reason(), tReceived, -1, 0, 0);
    return;
  }
  if (<u64>tReceived + <u64>len > <u64>tSize) {
    refuse("TOO_LARGE");
    d("the chunk runs past the announced ");
    dn(tSize);
    d(" bytes");
    publish("chunk", false, reason(), tReceived, -1, 0, 0);
    return;
  }
  if (slot_write_message(tSlot, tReceived) != 1) {
    refuse("TOO_LARGE");
    d("writing the module slot failed");
    publish("chunk", false, reason(), tReceived, -1, 0, 0);
    return;
  }
  tReceived += <u32>len;
  tLast = now_ms();
  say();
  dn(tReceived);
  d(" of ");
  dn(tSize);
  d(" bytes");
  publish("chunk", true, "", tReceived, -1, 0, 0);
}

function end(kind: i32): void {
  if (!on || tKind != kind) {
    refuse("NO_TRANSFER");
    d("no transfer begun (send begin first)");
    publish("end", false, reason(), -1, -1, 0, 0);
    return;
  }
  if (tReceived < tSize) {
    refuse("TRUNCATED");
    d("only ");
    dn(tReceived);
    d(" of ");
    dn(tSize);
    d(" bytes arrived; resume with begin");
    publish("end", false, reason(), tReceived, -1, 0, 0);
    return;
  }
  on = false;
  if (slot_sha256(tSlot, 0, tSize, hash) != 1 || memory.compare(hash, tSha, 32) != 0) {
    refuse("BAD_HASH");
    d("the package received does not have the SHA-256 announced in begin");
    publish("end", false, reason(), -1, -1, 0, 0);
    return;
  }
  asked = ASK_INSTALL; // the entry installs it, and answers with the verdict
}

/** What a step asks of the manager's entry beyond the transfer: nothing, the package received
 * installed (slot and length: receivedSlot, receivedSize), or a rollback. */
export const ASK_NONE: i32 = 0;
export const ASK_INSTALL: i32 = 1;
export const ASK_ROLLBACK: i32 = 2;
let asked: i32 = 0;

export function receivedSlot(): i32 {
  return tSlot;
}

export function receivedSize(): u32 {
  return tSize;
}

/**
 * A step of the transfer (sub: what follows "<module topic>/", or "<module topic>/core/" for a
 * core: kind 1) at p, payloadLen bytes. Answers it, or leaves it to the entry (the returned ASK_).
 */
export function step(p: usize, subLen: i32, payloadLen: i32, kind: i32): i32 {
  asked = ASK_NONE;
  if (same(p, subLen, "begin")) begin(kind);
  else if (subLen > 6 && same(p, 6, "chunk/")) chunk(p + 6, subLen - 6, payloadLen, kind);
  else if (same(p, subLen, "end")) end(kind);
  else if (same(p, subLen, "rollback")) asked = ASK_ROLLBACK;
  else {
    refuse("BAD_PACKAGE");
    d("no step \"");
    dBytes(p, min(subLen, 40));
    if (kind == 1) d("\" for a core: core/begin, core/chunk/<offset>, core/end or core/rollback; or firmware");
    else d("\": begin, chunk/<offset>, end or rollback (a core's steps follow core/)");
    publish(kind == 1 ? "core" : "module", false, reason(), -1, -1, 0, 0);
  }
  return asked;
}
