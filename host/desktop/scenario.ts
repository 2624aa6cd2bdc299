// Scenario files: a platform (cells, rate, load cell), settings, and timed events (loads placed and
// removed, temperature, commands, faults). Validated with zod so a bad file gets a precise error.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { abi } from "../abi.js";

const at = z.number().finite().min(0).describe("seconds from the start");
const finite = z.number().finite();
const configNames = Object.keys(abi.codes.config) as [string, ...string[]];

export const COMMANDS = ["tare", "clear_tare", "zero", "calibrate", "cal_point", "cal_clear", "cal_fit", "trim_empty", "trim_corner", "trim_clear"] as const;
export const FAULTS = ["disconnect", "stuck_low", "bit_flips", "frozen", "stretch_clock", "short_pulse", "stall", "clear"] as const;
const position = z.number().finite().min(-1).max(1);

const Event = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("load"), at, kg: finite, rampS: z.number().finite().min(0).default(0),
    x: position.default(0).describe("where the load stands, -1 (left cells) .. 1 (right cells)"),
    y: position.default(0).describe("-1 (front cells) .. 1 (back cells)"),
  }),
  z.strictObject({ type: z.literal("temperature"), at, c: finite.min(-60).max(150) }),
  z.strictObject({
    type: z.literal("command"), at, name: z.enum(COMMANDS),
    kg: finite.optional(), order: z.union([z.literal(1), z.literal(2)]).optional(),
    corner: z.number().int().min(0).max(3).optional().describe("trim_corner: the chip whose cell the test weight stands over"),
    unlessRestored: z.boolean().default(false).describe("skipped when `run` restored a calibration from its store"),
  }),
  z.strictObject({ type: z.literal("set"), at, key: z.enum(configNames), value: finite }),
  z.strictObject({
    type: z.literal("fault"), at, fault: z.enum(FAULTS),
    chip: z.number().int().min(0).max(3).default(0),
    value: finite.optional().describe("bit_flips: probability; frozen: code; stretch_clock: high us; short_pulse: which pulse is missed; stall: low us after pulse 12"),
  }),
  z.strictObject({ type: z.literal("power"), at, on: z.boolean() }),
  z.strictObject({
    type: z.literal("button"), at, duration: z.number().finite().positive().max(600).describe("seconds the button is held"),
    bounces: z.number().int().min(0).max(20).default(0).describe("extra edges 2 ms apart at the press and at the release, as a worn contact gives"),
  }).describe("the button on the scale: a press of `duration` seconds (under 2 s tares, 2 to 6 s zeroes, 6 s or more begins a calibration)"),
  z.strictObject({ type: z.literal("network"), at, up: z.boolean() }).describe("battery mode: the network (WiFi or the broker) goes away or comes back; publishing wakes fail meanwhile and keep their readings"),
]);

const Cell = z.strictObject({
  capacityKg: finite.positive(),
  sensitivityMvV: finite.positive(),
  excitationV: finite.min(2.6).max(5.5),
  zeroBalanceMvV: finite,
  nonlinearity: finite.min(0).max(0.05),
  creepFraction: finite.min(0).max(0.05),
  creepTauS: finite.positive(),
  tempZeroPerC: finite,
  tempSpanPerC: finite,
  spikeProbability: finite.min(0).max(1),
  spikeFraction: finite,
}).partial();

export const Scenario = z.strictObject({
  name: z.string().default("scenario"),
  rate: z.union([z.literal(10), z.literal(80)]).default(10),
  cells: z.number().int().min(1).max(4).default(1),
  sharedClock: z.boolean().default(true),
  cell: Cell.default({}),
  noiseNvRms: finite.min(0).optional().describe("input-referred noise per output sample; datasheet value if absent"),
  noiseCorrelation: finite.min(0).max(0.99).default(0).describe("noise correlation from one conversion to the next; 0 is white"),
  oscillatorPpm: finite.min(0).max(20000).default(2000).describe("each chip's oscillator is off by up to this much (seeded), with its own phase"),
  inStep: z.boolean().default(false).describe("the chips share one clock source (an external clock on XI): same period, same phase"),
  lateHostPeriods: finite.min(0).max(4).default(0).describe("the host reads up to this many conversion periods after DOUT fell (seeded, uniform): a host busy elsewhere"),
  t1Us: finite.min(0.1).max(100).default(1).describe("datasheet T1, DOUT falling to the first clock edge (at least 0.1 us)"),
  channelB: z.enum(["none", "cell", "temperature"]).default("none").describe("what is wired to channel B (gain 32)"),
  bridgeMvPerC: finite.default(0.05).describe("channelB temperature: bridge output per degree C from 20 C"),
  cellSensitivitySpread: finite.min(0).max(0.05).default(0).describe("each cell's sensitivity is off by up to this fraction (seeded)"),
  temperatureC: finite.default(20),
  durationS: finite.positive().optional(),
  settings: z.partialRecord(z.enum(configNames), finite).default({}),
  events: z.array(Event).default([]),
});

export type ScenarioEvent = z.infer<typeof Event>;
export type Scenario = z.infer<typeof Scenario>;

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ScenarioError";
  }
}

/** Parses and validates scenario JSON; events are sorted by time. */
export function parseScenario(json: unknown, source = "scenario"): Scenario {
  const r = Scenario.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ScenarioError(`${source} is not a valid scenario:\n${lines.join("\n")}`);
  }
  const s = r.data;
  for (const e of s.events) {
    if (e.type === "command" && (e.name === "calibrate" || e.name === "cal_point") && e.kg === undefined) {
      throw new ScenarioError(`${source}: command ${e.name} at ${e.at} s needs kg`);
    }
    if (e.type === "command" && e.name === "trim_corner" && e.corner === undefined) {
      throw new ScenarioError(`${source}: command trim_corner at ${e.at} s needs corner`);
    }
    if (e.type === "fault" && e.chip >= s.cells) {
      throw new ScenarioError(`${source}: fault at ${e.at} s names chip ${e.chip}, but there are ${s.cells} cells`);
    }
  }
  s.events.sort((a, b) => a.at - b.at);
  return s;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(`${path} is not JSON: ${(e as Error).message}`);
  }
  return parseScenario(json, path);
}
