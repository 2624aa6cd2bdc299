// Debian's chromium, driven by puppeteer-core (nothing is downloaded): for the web view's test
// and the README's screenshot (docs/web-view.png).
import { existsSync } from "node:fs";
import puppeteer, { type Browser } from "puppeteer-core";

/** The chromium this machine has, if any (CHROMIUM overrides). */
export const CHROMIUM = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
  .find((p): p is string => Boolean(p && existsSync(p)));

export async function launch(): Promise<Browser> {
  if (!CHROMIUM) throw new Error("no chromium: apt-get install chromium (or set CHROMIUM)");
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox when run as root (CI containers); no GPU, and /tmp rather than a small /dev/shm.
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/** A scenario that shows the page at work: a fault, a calibration, then 2 kg on the platform. */
export const WEB_SCENARIO = {
  name: "2 kg on a freshly calibrated platform", rate: 10,
  settings: { PUBLISH_MS: 200 },
  events: [
    { type: "fault", at: 0.5, fault: "disconnect", chip: 0 },
    { type: "fault", at: 1.5, fault: "clear" },
    { type: "command", at: 4, name: "cal_point", kg: 0, unlessRestored: true },
    { type: "load", at: 5, kg: 10, rampS: 0.3 },
    { type: "command", at: 8, name: "calibrate", kg: 10, unlessRestored: true },
    { type: "load", at: 9, kg: 2, rampS: 0.3 },
  ],
};
