// npm run screenshot: the README's picture of the live web view. A real `npm start` (embedded
// broker, no store) runs the web test's scenario; chromium opens the page, tares the 2 kg once it
// is stable, and saves the page as docs/web-view.png.
//   npm run screenshot -- [out.png]
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Cli } from "./processes.js";
import { launch, WEB_SCENARIO } from "./browser.js";
import { freePort } from "./brokers.js";

const out = process.argv[2] ?? fileURLToPath(new URL("../docs/web-view.png", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "wasm-scale-shot-"));
const scenario = join(dir, "scenario.json");
writeFileSync(scenario, JSON.stringify({ ...WEB_SCENARIO, events: [...WEB_SCENARIO.events, { type: "load", at: 16, kg: 3.25, rampS: 0.5 }] }));
const run = new Cli(["run", scenario, "--no-store", "--certs", join(dir, "certs"), "--port", String(await freePort()), "--web-port", "0", "--speed", "2"]);
const browser = await launch();
try {
  const [, url] = await run.waitFor(/web view\s+(http:\/\/localhost:\d+\/\?key=\S+)/);
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 760 });
  await page.goto(url);
  await page.waitForFunction(() => Math.abs(Number(document.getElementById("weight")!.textContent) - 2) < 0.01
    && (document.getElementById("flags")!.dataset.flags ?? "").split(" ").includes("STABLE"), { timeout: 0 });
  await page.click("#tare");
  await page.waitForFunction(() => document.getElementById("result")!.textContent === "tare: accepted", { timeout: 0 });
  // The second load, net of the tare, settled.
  await page.waitForFunction(() => Math.abs(Number(document.getElementById("weight")!.textContent) - 1.25) < 0.01
    && (document.getElementById("flags")!.dataset.flags ?? "").split(" ").includes("STABLE"), { timeout: 0 });
  await page.screenshot({ path: out as `${string}.png` });
  console.log(`screenshot: ${out}`);
} finally {
  await browser.close();
  run.child.kill("SIGINT");
  await run.exited;
  rmSync(dir, { recursive: true, force: true });
}
