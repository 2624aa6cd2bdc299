// The firmware's calibration module support (host/esp-idf/components/cal_module), unchanged, on
// Linux against WAMR 2.4.0 with the Kconfig defaults (its CTest harness, test/): the examples and
// every hostile package of the desktop tests go through the same transfer, verification (mbedTLS),
// checks and trial as on the ESP32, for both interpreters. Packages are made and signed here.
// CI sets WASM_SCALE_REQUIRE_ENGINES: a missing WAMR or mbedTLS fails there instead of skipping.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo, vendorOverrides } from "../host/vendor.mjs";
import { ModuleManager } from "../host/desktop/modules/manager.js";
import { trusted, signedExample, wat, handPacked, refusedPackages, failingInService } from "./module-fixtures.js";
import { CORE, type Interpreter, INTERPRETERS } from "./firmware-host.js";
import { corePackage, rebuilt, trappingCore, refusedCores } from "./core-fixtures.js";
import { firmwarePackage } from "../host/desktop/firmware-cli.js";
import { stranger } from "./module-fixtures.js";

const REQUIRED = Boolean(process.env.WASM_SCALE_REQUIRE_ENGINES);
const SOURCE = join(repo, "host", "esp-idf", "components", "cal_module", "test");

function build(interpreter: Interpreter): { binary: string } | { unavailable: string } {
  const overrides = vendorOverrides(["WAMR"]);
  if (overrides.length === 0 && !process.env.WASM_SCALE_ONLINE) return { unavailable: "no vendor folder with WAMR 2.4.0 (set WASM_SCALE_VENDOR)" };
  const dir = join(repo, "build", "firmware-modules", interpreter);
  try {
    execFileSync("cmake", ["-S", SOURCE, "-B", dir, "-DCMAKE_BUILD_TYPE=MinSizeRel", `-DWAMR_INTERP_FAST=${interpreter === "fast" ? 1 : 0}`,
      `-DFETCHCONTENT_FULLY_DISCONNECTED=${overrides.length ? "ON" : "OFF"}`, ...overrides], { stdio: "pipe" });
    execFileSync("cmake", ["--build", dir, "-j", "2"], { stdio: "pipe" });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    const output = `${err.stdout?.toString() ?? ""}${err.stderr?.toString() ?? err.message}`;
    if (/mbedtls\/pk\.h/.test(output)) return { unavailable: "mbedTLS headers missing (apt-get install libmbedtls-dev)" };
    throw new Error(`building the calibration module harness failed:\n${output}`);
  }
  return { binary: join(dir, "test_cal_module") };
}

const work = mkdtempSync(join(tmpdir(), "wasm-scale-fwmod-"));
after(() => rmSync(work, { recursive: true, force: true }));
const key = join(work, "trusted.pub");
writeFileSync(key, trusted.pub.export({ type: "spki", format: "pem" }) as string);
let n = 0;
function file(bytes: Uint8Array): string {
  const path = join(work, `p${n++}.wsm`);
  writeFileSync(path, bytes);
  return path;
}

/** What the module itself weighs for a chip code, at 30 C (the harness's temperature). */
function ownWeight(name: string, code: number): number {
  const own = ModuleManager.tryModule(signedExample(name));
  // The filtered counts are the code plus the simulator's noise (0..63 counts), about 31.5 on average.
  return own.weigh(code + 31.5, code, NaN, NaN, NaN, 30);
}

for (const interpreter of INTERPRETERS) {
  const harness = build(interpreter);
  const skip = !REQUIRED && "unavailable" in harness ? harness.unavailable : false;
  const run = (...args: string[]) => {
    assert.ok(!("unavailable" in harness), "unavailable" in harness ? harness.unavailable : "");
    const r = spawnSync(harness.binary, [args[0], CORE, key, ...args.slice(1)], { encoding: "utf8" });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `${args.join(" ")}:\n${output.split("\n").filter((l) => !l.startsWith("I (")).join("\n")}`);
    return output;
  };

  test(`firmware, ${interpreter}: each example is sent, verified, tested and weighs as the module says`, { skip }, () => {
    const code = 2_000_000;
    for (const name of ["temperature", "table", "corners"]) {
      const want = ownWeight(name, code);
      const out = run("install", file(signedExample(name)), "accepted", String(code), String(want));
      assert.match(out, /install accepted/);
    }
  });

  test(`firmware, ${interpreter}: every package the desktop refuses is refused for the same reason, weighing unchanged`, { skip }, () => {
    for (const [what, pkg, reason] of refusedPackages()) {
      const out = run("install", file(pkg), reason);
      assert.match(out, new RegExp(`(install|end) rejected ${reason}`), what);
    }
  });

  test(`firmware, ${interpreter}: a module failing in service is rolled back at once with its reason, no reading lost`, { skip }, () => {
    for (const [what, body, reason] of failingInService()) {
      const out = run("service", file(handPacked(wat({ body }))), reason);
      assert.match(out, new RegExp(`rolled back \\(${reason}\\)`), what);
    }
  });

  test(`firmware, ${interpreter}: slots survive restarts, a trial does not; rollback over MQTT; a resumed transfer; a fit saved`, { skip }, () => {
    assert.match(run("slots", file(signedExample("table")), file(signedExample("corners"))), /restored table after a restart/);
    assert.match(run("transfer", file(signedExample("corners"))), /end rejected BAD_HASH/);
    assert.match(run("fit", file(signedExample("table"))), /fitted: 20 kg weighs 20\.000/);
  });

  test(`firmware, ${interpreter}: a core sent over the air is swapped in with the scale's state, confirmed and kept across a restart; every bad core refused for its reason, weighing unchanged`, { skip }, () => {
    assert.match(run("core", file(corePackage(rebuilt(), "0.2.1")), "accepted", "000201"), /install accepted\nconfirm accepted/);
    assert.match(run("core-kept", file(corePackage(rebuilt(), "0.2.1")), "000201"), /core 0\.2\.1 kept across a restart \(slot c\)/);
    for (const [what, pkg, reason] of refusedCores()) {
      assert.match(run("core", file(pkg), reason, "0"), new RegExp(`(install|end) rejected ${reason}`), what);
    }
  });

  test(`firmware, ${interpreter}: a core that traps or runs past its budget in its trial is rolled back at once with no reading lost; a restart during a trial; a rollback on request`, { skip }, () => {
    const out = run("core-trial", file(corePackage(trappingCore(100), "0.3.0")), file(corePackage(rebuilt(), "0.3.1")));
    assert.match(out, /rolled back \(TRAPPED\) with \d+ readings, none lost: rolled back \(TRAPPED: scale_sample: Exception: unreachable\): the firmware's own core 0\.2\.0 weighs now/);
    assert.match(out, /rollback accepted UNCONFIRMED/);
    assert.match(out, /rollback rejected NO_PREVIOUS/);
    // One that runs past the instruction budget WAMR bounds every call with: rolled back as BUDGET.
    assert.match(run("core-budget", file(corePackage(trappingCore(100, true), "0.3.0"))), /rolled back \(BUDGET: scale_sample: Exception: instruction limit exceeded\): the firmware's own core 0\.2\.0 weighs now/);
  });

  test(`firmware, ${interpreter}: a firmware package is checked by the manager before the image is fetched: signature, a version above the running image's, the package's kind`, { skip }, () => {
    const image = Buffer.alloc(5000, 7);
    image[0] = 0xe9;
    const url = "https://updates.example/wasm-scale.bin";
    const fetched = run("firmware", file(firmwarePackage(image, "0.3.0", url, trusted.priv)), "accepted");
    assert.match(fetched, new RegExp(`fetch ${url.replace(/\./g, "\\.")} 5000 [0-9a-f]{4}`));
    assert.match(run("firmware", file(firmwarePackage(image, "0.2.0", url, trusted.priv)), "DOWNGRADE"), /install rejected DOWNGRADE/);
    assert.match(run("firmware", file(firmwarePackage(image, "0.3.0", url, stranger.priv)), "UNTRUSTED_KEY"), /install rejected UNTRUSTED_KEY/);
    assert.match(run("firmware", file(corePackage(rebuilt(), "0.3.0")), "BAD_PACKAGE"), /install rejected BAD_PACKAGE/);
    const tampered = Buffer.from(firmwarePackage(image, "0.3.0", url, trusted.priv).toString("latin1").replace("updates.example", "updates.exampla"), "latin1");
    assert.match(run("firmware", file(tampered), "BAD_SIGNATURE"), /install rejected BAD_SIGNATURE/);
  });
}
