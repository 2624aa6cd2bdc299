// What a simulated run did, as one object (`simulate --json`) or a few lines of text.
import { codeName, code } from "../abi.js";
import { flagNames, type Reading } from "./core.js";
import type { VirtualScale, CommandResult } from "./virtual-scale.js";

export interface Summary {
  scenario: string;
  rate: number;
  cells: number;
  virtualSeconds: number;
  /** scale_sample calls. */
  samples: number;
  readings: number;
  /** Conversions the core discarded (settling after power-up, reset or a gain change). */
  discarded: number;
  faults: Record<string, number>;
  stableReadings: number;
  commands: CommandResult[];
  final: { kg: number; grossKg: number; flags: string[]; fault: string | null } | null;
  hostCallsPerSample: number;
  memoryGrowthBytes: number;
  panics: number;
  wallSeconds: number;
}

export function summarise(scale: VirtualScale, seconds: number, onReading?: (r: Reading) => void): Summary {
  const memoryBefore = scale.core.memoryBytes();
  const callsBefore = Object.values(scale.host.calls).reduce((a, b) => a + b, 0);
  const stable = code("flag", "STABLE");
  let samples = 0, readings = 0, discarded = 0, stableReadings = 0;
  const faults: Record<string, number> = {};
  let last: Reading | null = null;
  const until = seconds * 1e6;
  while (scale.board.nowUs < until) {
    const before = scale.board.nowUs;
    const status = scale.step();
    samples++;
    if (status === 0) {
      discarded++;
      if (scale.board.nowUs === before) scale.board.advance(1000); // powered down: let time pass
      continue;
    }
    const r = scale.reading();
    last = r;
    onReading?.(r);
    if (status < 0) {
      const name = codeName("fault", r.fault) ?? String(r.fault);
      faults[name] = (faults[name] ?? 0) + 1;
    } else {
      readings++;
      if (r.flags & stable) stableReadings++;
    }
  }
  const calls = Object.values(scale.host.calls).reduce((a, b) => a + b, 0) - callsBefore;
  return {
    scenario: scale.scenario.name,
    rate: scale.scenario.rate,
    cells: scale.scenario.cells,
    virtualSeconds: scale.nowS,
    samples,
    readings,
    discarded,
    faults,
    stableReadings,
    commands: scale.commands,
    final: last && {
      kg: last.kg,
      grossKg: last.grossKg,
      flags: flagNames(last.flags),
      fault: last.fault ? codeName("fault", last.fault) ?? String(last.fault) : null,
    },
    hostCallsPerSample: samples ? calls / samples : 0,
    memoryGrowthBytes: scale.core.memoryBytes() - memoryBefore,
    panics: scale.panics.length,
    wallSeconds: 0,
  };
}

export function formatSummary(s: Summary): string {
  const faults = Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  const lines = [
    `scenario      ${s.scenario} (${s.rate} SPS, ${s.cells} cell(s))`,
    `virtual time  ${s.virtualSeconds.toFixed(1)} s in ${s.wallSeconds.toFixed(2)} s`,
    `samples       ${s.samples}: ${s.readings} readings (${s.stableReadings} stable), ${s.discarded} discarded`,
    `faults        ${faults}`,
    `host calls    ${s.hostCallsPerSample.toFixed(3)} per sample; memory growth ${s.memoryGrowthBytes} bytes`,
  ];
  for (const c of s.commands) lines.push(`command       ${c.at}s ${c.name}: ${c.result >= 0 ? "accepted" : `rejected (${c.error})`}`);
  if (s.final) lines.push(`final         ${s.final.fault ? `fault ${s.final.fault}` : `${s.final.kg} kg (gross ${s.final.grossKg}) ${s.final.flags.join(" ")}`}`);
  return lines.join("\n");
}
