// Plots of replays (`replay --plot out.svg|out.png`): on one time axis, the weight each set of
// settings showed, the raw counts, when the weight was stable, the faults and the commands. Drawn
// with Vega-Lite, rendered to SVG in Node, and to PNG by resvg (no browser).
import { compile, type TopLevelSpec } from "vega-lite";
import { parse, View } from "vega";
import { Resvg } from "@resvg/resvg-js";
import { codeName, code } from "../abi.js";
import type { Reading } from "./core.js";

export interface PlotSeries {
  /** Legend name, e.g. "recorded" or "SPIKE_WINDOW=9". */
  name: string;
  readings: Reading[];
}

export interface PlotCommand {
  tS: number;
  label: string;
}

/** At most this many points per series: longer recordings are thinned (every n-th reading). */
const MAX_POINTS = 4000;

export async function plotSvg(series: PlotSeries[], commands: PlotCommand[], title: string): Promise<string> {
  const stable = code("flag", "STABLE");
  const weights: object[] = [];
  const flags: object[] = [];
  const faults: object[] = [];
  for (const s of series) {
    const step = Math.max(1, Math.ceil(s.readings.length / MAX_POINTS));
    s.readings.forEach((r, i) => {
      const t = r.tMs / 1000;
      if (r.fault) {
        faults.push({ t, series: s.name, fault: codeName("fault", r.fault) ?? String(r.fault) });
        return;
      }
      if (i % step !== 0) return;
      weights.push({ t, series: s.name, kg: r.kg });
      flags.push({ t, series: s.name, stable: r.flags & stable ? 1 : 0 });
    });
  }
  const raw = series[0]?.readings.filter((r, i) => !r.fault && i % Math.max(1, Math.ceil(series[0].readings.length / MAX_POINTS)) === 0)
    .map((r) => ({ t: r.tMs / 1000, raw: r.raw })) ?? [];
  const x = { field: "t", type: "quantitative" as const, title: "time (s)" };
  const color = { field: "series", type: "nominal" as const, title: "settings" };
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    config: { font: "sans-serif", view: { stroke: "#ddd" } },
    vconcat: [
      {
        width: 900, height: 260,
        layer: [
          { data: { values: weights }, mark: { type: "line", strokeWidth: 1.2 }, encoding: { x, y: { field: "kg", type: "quantitative", title: "weight (kg)" }, color } },
          { data: { values: faults }, mark: { type: "tick", color: "#d62728", thickness: 2 }, encoding: { x, tooltip: { field: "fault" } } },
          { data: { values: commands }, mark: { type: "rule", strokeDash: [4, 3], color: "#777" }, encoding: { x: { field: "tS", type: "quantitative" } } },
          { data: { values: commands }, mark: { type: "text", angle: 270, align: "left", dx: 4, dy: -4, fontSize: 10, color: "#555" }, encoding: { x: { field: "tS", type: "quantitative" }, y: { value: 4 }, text: { field: "label" } } },
        ],
      },
      {
        width: 900, height: 120,
        data: { values: raw }, mark: { type: "line", strokeWidth: 1, color: "#7f7f7f" },
        encoding: { x, y: { field: "raw", type: "quantitative", title: "raw counts", scale: { zero: false } } },
      },
      {
        width: 900, height: 70,
        data: { values: flags }, mark: { type: "line", interpolate: "step-after", strokeWidth: 1.2 },
        encoding: { x, y: { field: "stable", type: "quantitative", title: "stable", scale: { domain: [0, 1] }, axis: { values: [0, 1] } }, color },
      },
    ],
  };
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

/** The SVG as a PNG, at its own size. */
export function svgToPng(svg: string): Buffer {
  return new Resvg(svg, { fitTo: { mode: "original" }, background: "white" }).render().asPng();
}
