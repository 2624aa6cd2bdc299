// wasm-scale command line: `simulate` runs a scenario on virtual time and summarises it;
// `run` (npm start) runs a virtual scale in real time and shows live readings.
import { Command, InvalidArgumentError, Option } from "commander";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loadScenario, ScenarioError } from "./scenario.js";
import { VirtualScale } from "./virtual-scale.js";
import { summarise, formatSummary } from "./summary.js";
import { FileStore } from "./store.js";
import { flagNames, CoreError, type ScaleCore, type Reading } from "./core.js";
import { codeName } from "../abi.js";

export const defaultScenario = fileURLToPath(new URL("./scenarios/default.json", import.meta.url));

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

function rate(v: string): 10 | 80 {
  if (v !== "10" && v !== "80") throw new InvalidArgumentError("the HX711 runs at 10 or 80 samples per second");
  return Number(v) as 10 | 80;
}

/** Restores calibration and settings from the store; saves them back after each change. */
function persistence(path: string | undefined): { restore(core: ScaleCore): string[]; persist(core: ScaleCore): void } {
  const store = path ? new FileStore(path) : null;
  return {
    restore(core) {
      const notes: string[] = [];
      if (!store) return notes;
      if (store.recovered) notes.push(store.recovered);
      for (const which of ["CONFIG", "CALIBRATION"] as const) {
        const blob = store.get(which);
        if (!blob) continue;
        const r = core.loadBlob(which, blob);
        notes.push(r === 0 ? `restored ${which.toLowerCase()} from ${path}` : `ignored stored ${which.toLowerCase()}: ${codeName("error", r)}`);
      }
      return notes;
    },
    persist(core) {
      if (!store) return;
      store.set("CONFIG", core.saveBlob("CONFIG"));
      store.set("CALIBRATION", core.saveBlob("CALIBRATION"));
    },
  };
}

export function formatReading(r: Reading, decimals: number): string {
  const t = (r.tMs / 1000).toFixed(1).padStart(7);
  if (r.fault) return `${t} s  #${r.seq}  FAULT ${codeName("fault", r.fault)} (chip ${r.faultChip})`;
  const flags = flagNames(r.flags).filter((f) => f !== "ZERO_RANGE").join(" ");
  return `${t} s  #${r.seq}  ${r.kg.toFixed(decimals).padStart(9)} kg  raw ${String(r.raw).padStart(8)}  ${flags}`;
}

export function program(): Command {
  const cli = new Command("wasm-scale")
    .description("WiFi weighing-scale firmware core (WebAssembly), on a simulated HX711 and load cell")
    .showHelpAfterError();

  cli
    .command("simulate")
    .description("run a scenario on virtual time and print a summary")
    .argument("[scenario]", "scenario JSON file", defaultScenario)
    .option("-d, --duration <s>", "virtual seconds to run (default: the scenario's durationS, else 60)", number("duration", 0.001, 1e7))
    .addOption(new Option("-r, --rate <sps>", "HX711 rate: 10 or 80 (default: the scenario's)").argParser(rate))
    .option("-s, --seed <n>", "random seed", number("seed", 0, 2 ** 31 - 1), 1)
    .option("--wasm <file>", "core module to run (default: build/release.wasm)")
    .option("--json", "print one JSON object")
    .option("--readings", "print every reading too")
    .action(async (file: string, o: { duration?: number; rate?: 10 | 80; seed: number; wasm?: string; json?: boolean; readings?: boolean }) => {
      const scenario = loadScenario(file);
      if (o.rate) scenario.rate = o.rate;
      const duration = o.duration ?? scenario.durationS ?? 60;
      const scale = await VirtualScale.create(scenario, { seed: o.seed, wasm: o.wasm });
      const decimals = Math.max(0, Math.ceil(-Math.log10(scale.core.get("DIVISION_KG")) - 1e-9));
      const started = performance.now();
      const summary = summarise(scale, duration, (r) => {
        if (o.readings && !o.json) console.log(formatReading(r, decimals));
      });
      summary.wallSeconds = (performance.now() - started) / 1000;
      console.log(o.json ? JSON.stringify(summary) : formatSummary(summary));
    });

  cli
    .command("run", { isDefault: true })
    .description("run a virtual scale in real time and show live readings (npm start)")
    .argument("[scenario]", "scenario JSON file", defaultScenario)
    .option("-d, --duration <s>", "stop after this many seconds (default: run until Ctrl-C, repeating the scenario)", number("duration", 0.1, 1e7))
    .option("-s, --seed <n>", "random seed", number("seed", 0, 2 ** 31 - 1), 1)
    .option("--speed <x>", "virtual seconds per real second", number("speed", 0.1, 1000), 1)
    .option("--store <file>", "where calibration and settings persist", join(process.cwd(), ".wasm-scale", "store.json"))
    .option("--no-store", "do not persist anything")
    .action(async (file: string, o: { duration?: number; seed: number; speed: number; store: string | false }) => {
      const scenario = loadScenario(file);
      const keep = persistence(o.store || undefined);
      const loop = scenario.durationS;
      let scale = await VirtualScale.create(scenario, { seed: o.seed, onPersist: (c) => keep.persist(c) });
      for (const note of keep.restore(scale.core)) console.log(note);
      const decimals = Math.max(0, Math.ceil(-Math.log10(scale.core.get("DIVISION_KG")) - 1e-9));
      console.log(`wasm-scale: ${scenario.name} (${scenario.rate} SPS, ${scenario.cells} cell(s)); Ctrl-C to stop`);
      let stopping = false;
      process.once("SIGINT", () => { stopping = true; });
      const start = performance.now();
      let offsetS = 0;
      let seen = scale.commands.length;
      while (!stopping && (o.duration === undefined || offsetS + scale.nowS < o.duration)) {
        const status = scale.step();
        if (status !== 0) console.log(formatReading(scale.reading(), decimals));
        for (; seen < scale.commands.length; seen++) {
          const c = scale.commands[seen];
          console.log(`        command ${c.name}: ${c.result >= 0 ? "accepted" : `rejected (${c.error})`}`);
        }
        if (loop !== undefined && scale.nowS >= loop) {
          // Start the scenario again on a fresh virtual board, keeping what was persisted.
          offsetS += scale.nowS;
          scale = await VirtualScale.create(scenario, { seed: o.seed + Math.round(offsetS), onPersist: (c) => keep.persist(c) });
          keep.restore(scale.core);
          seen = 0;
        }
        const aheadMs = ((offsetS + scale.nowS) / o.speed) * 1000 - (performance.now() - start);
        if (aheadMs > 0) await sleep(aheadMs);
      }
    });
  return cli;
}

/** Runs the command line; input errors print one clear line and exit with code 2. */
export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof CoreError) {
      console.error(`wasm-scale: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
