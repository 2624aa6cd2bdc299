// What the command line prints: readings as lines, and anything that came from the network made
// safe for a terminal first (a payload cannot move the cursor, clear the screen or set a title).
import { codeName } from "../abi.js";
import { flagNames, settingShown, type ScaleCore, type Reading } from "./core.js";

/** Control characters (C0, DEL, C1) and line separators shown as \xNN / \uNNNN escapes. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n > 0xff ? `\\u${n.toString(16).padStart(4, "0")}` : `\\x${n.toString(16).padStart(2, "0")}`;
  });
}

/** Decimal places that show the division d (0.01 -> 2, 0.005 -> 3, 1 -> 0). */
/** Decimals that show the division (0.01 -> 2, 0.005 -> 3), as the core's own messages do. */
export function displayDecimals(core: ScaleCore): number {
  return Math.max(0, Math.ceil(-Math.log10(settingShown(core.get("DIVISION_KG"))) - 1e-9));
}

export function formatReading(r: Reading, decimals: number): string {
  const t = (r.tMs / 1000).toFixed(1).padStart(7);
  if (r.fault) return `${t} s  #${r.seq}  FAULT ${codeName("fault", r.fault)} (chip ${r.faultChip})`;
  const flags = flagNames(r.flags).filter((f) => f !== "ZERO_RANGE").join(" ");
  return `${t} s  #${r.seq}  ${r.kg.toFixed(decimals).padStart(9)} kg  raw ${String(r.raw).padStart(8)}  ${flags}`;
}
