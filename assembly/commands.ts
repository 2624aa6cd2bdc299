// Commands received over MQTT: which command a payload names and whether it is complete, and the
// queue of results that answer them. Every command is answered; when a burst outruns the queue,
// the results that could not be kept are counted and every later result says how many.
import {
  CFG_NAMES, CFG_COUNT, ERR_NAMES, ERR_UNKNOWN_COMMAND, ERR_MISSING_FIELD, ERR_TOO_LONG, ERR_BAD_KEY, TOPIC_RESULT, COMMAND_NAMES,
} from "./abi";
import {
  wStr, wBytes, wInt, wByte, wListName, parseCommand, F_KG, F_ORDER, F_KEY, F_VALUE, F_CORNER, F_SECONDS, F_PIECE_KG, F_PIECES,
  pFields, pCmdAt, pCmdLen, pKeyAt, pKeyLen, pIdAt, pIdLen, pKg, pOrder, pValue, pCorner, pSeconds, pPieceKg, pPieces, MAX_TOKEN,
} from "./json";
import { RAW_MAX_S } from "./raw";
import { frameBegin } from "./topics";

/** Commands, in the order of their index (abi.json commands.names). */
const COMMANDS = COMMAND_NAMES;
export const CMD_TARE: i32 = 0;
export const CMD_CLEAR_TARE: i32 = 1;
export const CMD_ZERO: i32 = 2;
export const CMD_CALIBRATE: i32 = 3;
export const CMD_CAL_POINT: i32 = 4;
export const CMD_CAL_CLEAR: i32 = 5;
export const CMD_CAL_FIT: i32 = 6;
export const CMD_CONFIG: i32 = 7;
export const CMD_TRIM_EMPTY: i32 = 8;
export const CMD_TRIM_CORNER: i32 = 9;
export const CMD_TRIM_CLEAR: i32 = 10;
export const CMD_RECORD: i32 = 11;
export const CMD_COUNT: i32 = 12;
export const CMD_COUNT_SAMPLE: i32 = 13;

/** Results waiting to be published. */
export const RESULTS_MAX: i32 = 32;
/** A result: command index, code, id length (-1: the button's, no id), id bytes (a JSON token of
 * at most MAX_TOKEN + 2). */
export const RESULT_SIZE: i32 = 12 + 36;

export const results = memory.data(RESULTS_MAX * RESULT_SIZE);
export const RESULTS_BYTES: i32 = RESULTS_MAX * RESULT_SIZE;
export let resHead: i32 = 0;
export let resLen: i32 = 0;
/** Results that found the queue full, since start. */
let resultsLost: u32 = 0;
/** The last payload was parsed (not truncated): its id, if any, can be echoed. */
let idParsed: bool = false;

/** The command parsed by commandParse, for the weighing code to run. */
export let cmdIndex: i32 = -1;
export let cmdKey: i32 = -1;
export let cmdKg: f32 = 0;
export let cmdOrder: i32 = 0;
export let cmdValue: f32 = 0;
export let cmdCorner: i32 = -1;
/** The record command's seconds, -1 when not a whole number in range (refused). */
export let cmdSeconds: i32 = -1;
/** The count command's piece weight, and count_sample's pieces (checked by the counting code). */
export let cmdPieceKg: f64 = 0;
export let cmdPieces: f64 = 0;

export function commandsReset(): void {
  resHead = 0;
  resLen = 0;
  resultsLost = 0;
}

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

/**
 * Parses the command payload at [p, p+n) (complete when !truncated) into cmd*. Returns 0 for a
 * valid command, or the reason it is refused. The command's name and id are kept either way, so
 * that the result can be matched.
 */
export function commandParse(p: usize, n: i32, truncated: bool): i32 {
  cmdIndex = -1;
  cmdKey = -1;
  idParsed = !truncated;
  let code = truncated ? ERR_TOO_LONG : parseCommand(p, n);
  if (truncated) return code;
  if ((pFields & 1) != 0) cmdIndex = listIndex(COMMANDS, pCmdAt, pCmdLen);
  if (code == 0 && cmdIndex < 0) code = ERR_UNKNOWN_COMMAND;
  if (code != 0) return code;
  if ((cmdIndex == CMD_CALIBRATE || cmdIndex == CMD_CAL_POINT) && (pFields & F_KG) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_CAL_FIT && (pFields & F_ORDER) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_TRIM_CORNER && (pFields & F_CORNER) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_RECORD && (pFields & F_SECONDS) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_COUNT && (pFields & F_PIECE_KG) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_COUNT_SAMPLE && (pFields & F_PIECES) == 0) return ERR_MISSING_FIELD;
  if (cmdIndex == CMD_CONFIG) {
    if ((pFields & F_KEY) == 0 || (pFields & F_VALUE) == 0) return ERR_MISSING_FIELD;
    cmdKey = listIndex(CFG_NAMES, pKeyAt, pKeyLen);
    if (cmdKey < 0 || cmdKey >= CFG_COUNT) return ERR_BAD_KEY;
  }
  cmdKg = <f32>pKg;
  cmdOrder = pOrder == 1 ? 1 : pOrder == 2 ? 2 : 0; // anything else is refused by the fit
  cmdValue = <f32>pValue;
  cmdCorner = pCorner >= 0 && pCorner <= 3 && pCorner == Math.floor(pCorner) ? <i32>pCorner : -1; // else refused
  cmdSeconds = pSeconds >= 0 && pSeconds <= <f64>RAW_MAX_S && pSeconds == Math.floor(pSeconds) ? <i32>pSeconds : -1;
  cmdPieceKg = pPieceKg;
  cmdPieces = pPieces;
  return 0;
}

/** Queues the result of the command last parsed; a full queue counts it as lost. */
export function resultPush(code: i32): void {
  const idn = idParsed && pIdLen <= MAX_TOKEN + 2 ? pIdLen : 0;
  const at = resultSlot(cmdIndex, code, idn);
  if (at) memory.copy(at + 12, pIdAt, idn);
}

/** Queues the result of what a press of the button did (command index, code). */
export function resultPushFromButton(command: i32, code: i32): void {
  resultSlot(command, code, -1);
}

/** The next result's slot, filled but for its id bytes; 0 when the queue is full (counted). */
function resultSlot(command: i32, code: i32, idn: i32): usize {
  if (resLen == RESULTS_MAX) {
    resultsLost++;
    return 0;
  }
  const at = results + <usize>(((resHead + resLen) % RESULTS_MAX) * RESULT_SIZE);
  store<i32>(at, command, 0);
  store<i32>(at, code, 4);
  store<i32>(at, idn, 8);
  resLen++;
  return at;
}

export function resultWaiting(): bool {
  return resLen > 0;
}

export function resultFrame(p: usize, cap: i32): void {
  const at = results + <usize>(resHead * RESULT_SIZE);
  const command = load<i32>(at, 0);
  const code = load<i32>(at, 4);
  const idn = load<i32>(at, 8);
  frameBegin(p, cap, 1, false, TOPIC_RESULT);
  wStr("{\"cmd\":");
  if (command >= 0) wListName(COMMANDS, command);
  else wStr("null");
  if (idn > 0) {
    wStr(",\"id\":");
    wBytes(at + 12, idn);
  } else if (idn < 0) {
    wStr(",\"source\":\"button\"");
  }
  wStr(",\"status\":");
  wStr(code >= 0 ? "\"accepted\"" : "\"rejected\"");
  if (code < 0) {
    wStr(",\"reason\":");
    wListName(ERR_NAMES, -code);
  }
  if (resultsLost > 0) {
    wStr(",\"results_lost\":");
    wInt(<i64>resultsLost);
  }
  wByte(0x7D);
}

export function resultDone(): void {
  resHead = (resHead + 1) % RESULTS_MAX;
  resLen--;
}

// --- volatile state (state.ts): results not yet published ---------------------------------------

export function commandsStateSave(p: usize): usize {
  // The stream holds the waiting results oldest first (state.ts): restored, the oldest is slot 0.
  store<i32>(p, 0); store<i32>(p, resLen, 4); store<u32>(p, resultsLost, 8);
  return p + 12;
}

export function commandsStateLoad(p: usize): usize {
  resHead = load<i32>(p); resLen = load<i32>(p, 4); resultsLost = load<u32>(p, 8);
  return p + 12;
}
