// Shared by the node:test suites: the built core, scenarios, and running a virtual scale.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseScenario } from "../host/desktop/scenario.js";
import { VirtualScale } from "../host/desktop/virtual-scale.js";
import type { Reading } from "../host/desktop/core.js";
import type { EngineName } from "../host/desktop/engines/engine.js";

export const releaseWasmPath = fileURLToPath(new URL("../build/release.wasm", import.meta.url));
export const debugWasmPath = fileURLToPath(new URL("../build/debug.wasm", import.meta.url));

export function releaseWasm(): Uint8Array {
  if (!existsSync(releaseWasmPath)) throw new Error("build/release.wasm is missing: run `npm run asbuild`");
  return readFileSync(releaseWasmPath);
}

/** A virtual scale on a scenario given as an object (validated like a file). */
export async function scaleFor(scenario: unknown, seed = 1, wasm?: Uint8Array | string, engine?: EngineName): Promise<VirtualScale> {
  return VirtualScale.create(parseScenario(scenario, "test scenario"), { seed, wasm, engine });
}

/** Runs to virtual time `untilS`, returning every reading and fault report on the way. */
export function collect(scale: VirtualScale, untilS: number): Reading[] {
  const out: Reading[] = [];
  scale.run(untilS, (r) => out.push(r));
  return out;
}

/**
 * Runs a scale, telling apart the reads during which one of its chips completed a conversion (their
 * later bits are the new conversion's: corrupted) from the others, as the simulator knows them.
 */
export function collectMarked(scale: VirtualScale, untilS: number): { all: Reading[]; corrupted: Reading[]; reads: number } {
  const board = scale.board;
  const clockIn = board.clockIn.bind(board);
  const waitLow = board.waitLow.bind(board);
  let mid = 0;
  let reads = 0;
  let corrupt = false;
  const midCount = () => scale.chips.reduce((n, c) => n + c.midReadConversions, 0);
  board.waitLow = (...args: Parameters<typeof waitLow>) => {
    corrupt = false; // a sample begins
    return waitLow(...args);
  };
  board.clockIn = (...args: Parameters<typeof clockIn>) => {
    clockIn(...args);
    reads++;
    const now = midCount();
    if (now !== mid) corrupt = true;
    mid = now;
  };
  const all: Reading[] = [];
  const corrupted: Reading[] = [];
  scale.run(untilS, (r) => {
    all.push(r);
    if (corrupt) corrupted.push(r);
    corrupt = false;
  });
  return { all, corrupted, reads };
}

export const CAL_10KG = [
  // The empty scale (stable for STABLE_MS, 1 s, after the first readings), then one known weight.
  { type: "command", at: 1.9, name: "cal_point", kg: 0 },
  { type: "load", at: 2, kg: 10 },
  { type: "command", at: 4, name: "calibrate", kg: 10 },
  { type: "load", at: 4.5, kg: 0 },
] as const;
