// npm run bench: figures for the core and the desktop host (`-- --json` for one JSON object).
// Counts and ratios are exact; samples per second is the best of three runs (machines are noisy).
import { parseArgs } from "node:util";
import { releaseWasm, scaleFor } from "./helpers.js";

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, samples: { type: "string", default: "1000000" } } });
const SAMPLES = Number(values.samples);

async function run(samples: number, cells = 1): Promise<{ perSecond: number; callsPerSample: number; growth: number }> {
  const scale = await scaleFor({ rate: 80, cells, cell: { spikeProbability: 0.001 }, events: [{ type: "load", at: 30, kg: 12 }] });
  const calls = () => Object.values(scale.host.calls).reduce((a, b) => a + b, 0);
  const before = { calls: calls(), bytes: scale.core.memoryBytes() };
  const t0 = performance.now();
  let sink = 0;
  const reading = scale.reading();
  for (let i = 0; i < samples; i++) {
    if (scale.step() !== 0) sink += scale.core.readInto(reading).seq;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (sink < 0) console.log(sink);
  return { perSecond: samples / seconds, callsPerSample: (calls() - before.calls) / samples, growth: scale.core.memoryBytes() - before.bytes };
}

const runs = [await run(SAMPLES), await run(SAMPLES), await run(SAMPLES)];
const four = await run(100_000, 4);
const figures = {
  core_wasm_bytes: releaseWasm().length,
  host_calls_per_sample: runs[0].callsPerSample,
  host_calls_per_sample_4_cells_shared_clock: four.callsPerSample,
  sim_samples_per_second: Math.round(Math.max(...runs.map((r) => r.perSecond))),
  wasm_memory_growth_bytes: Math.max(...runs.map((r) => r.growth)),
  samples_per_run: SAMPLES,
};

if (values.json) {
  console.log(JSON.stringify(figures));
} else {
  console.log(`core (release .wasm)          ${figures.core_wasm_bytes} bytes (target 4096)`);
  console.log(`host calls per sample         ${figures.host_calls_per_sample} (1 cell), ${figures.host_calls_per_sample_4_cells_shared_clock} (4 cells, shared clock)`);
  console.log(`simulated samples per second  ${figures.sim_samples_per_second.toLocaleString("en")} (simulator -> host -> Wasm core -> reading, best of 3 x ${SAMPLES.toLocaleString("en")})`);
  console.log(`Wasm memory growth            ${figures.wasm_memory_growth_bytes} bytes over ${SAMPLES.toLocaleString("en")} samples`);
}
