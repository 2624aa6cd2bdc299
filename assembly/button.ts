// The button on the scale: one input, active while held. The host hands over every edge it sees
// with its time (an interrupt's timestamp), and polls between samples; this decides what a press
// was. A level counts only once it has held DEBOUNCE_MS: a contact's bounces (edges a few ms
// apart) are passed over, a glitch shorter than that is no press at all, and a press is measured
// between the edges its bounces settled on. What a press does (tare, zero, calibration) is the
// scale's (scale.ts).
//
//   shorter than LONG_MS             PRESS_SHORT      tare, or clear the tare when there is one
//   LONG_MS to VERY_LONG_MS          PRESS_LONG       set zero
//   VERY_LONG_MS or longer           PRESS_VERY_LONG  begin a one-weight calibration

export const DEBOUNCE_MS: i32 = 30;
export const LONG_MS: i32 = 2000;
export const VERY_LONG_MS: i32 = 6000;

export const PRESS_NONE: i32 = 0;
export const PRESS_SHORT: i32 = 1;
export const PRESS_LONG: i32 = 2;
export const PRESS_VERY_LONG: i32 = 3;

/** The level as the host last reported it, and since when. */
let level = false;
let levelSince: i32 = 0;
/** The debounced state, and when the press being held began. */
let held = false;
let heldSince: i32 = 0;
/** Whether the host ever reported an edge (the first defines the time base). */
let seen = false;

export function buttonReset(): void {
  level = false;
  held = false;
  seen = false;
}

/** Commits a level that has held DEBOUNCE_MS by `now`; returns the press that ended, if one did. */
function settle(now: i32): i32 {
  if (!seen || level == held || now - levelSince < DEBOUNCE_MS) return PRESS_NONE;
  held = level;
  if (held) {
    heldSince = levelSince;
    return PRESS_NONE;
  }
  const ms = levelSince - heldSince;
  return ms >= VERY_LONG_MS ? PRESS_VERY_LONG : ms >= LONG_MS ? PRESS_LONG : PRESS_SHORT;
}

/**
 * An edge (down: pressed) at tMs, or a poll (edge false) at tMs: the press decided by then, if
 * any. Edges must come in time order; a repeated level is not an edge.
 */
export function buttonStep(edge: bool, down: bool, tMs: i32): i32 {
  const press = settle(tMs);
  if (edge && (!seen || down != level)) {
    level = down;
    levelSince = tMs;
    seen = true;
  }
  return press;
}

// --- volatile state (state.ts) ----------------------------------------------------------------

export function buttonStateSave(p: usize): usize {
  store<i32>(p, (level ? 1 : 0) | (held ? 2 : 0) | (seen ? 4 : 0));
  store<i32>(p, levelSince, 4);
  store<i32>(p, heldSince, 8);
  return p + 12;
}

export function buttonStateLoad(p: usize): usize {
  const bits = load<i32>(p);
  level = (bits & 1) != 0;
  held = (bits & 2) != 0;
  seen = (bits & 4) != 0;
  levelSince = load<i32>(p, 4);
  heldSince = load<i32>(p, 8);
  return p + 12;
}
