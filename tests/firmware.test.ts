// The firmware's Wasm host, unchanged, on Linux against WAMR 2.4.0 with the firmware's Kconfig
// defaults (tests/firmware-host.ts builds it): the release core loads and does all the firmware
// asks of it within the defaults, for the default interpreter (classic) and the other (fast); a
// trap is recovered without losing pool memory; a core that traps while being set up is retried
// with backoff and given up, with no recursion; runaway calls are stopped, start-up ones too; a
// core of another ABI is refused. CI sets WASM_SCALE_REQUIRE_ENGINES: a missing WAMR or 32-bit
// compiler fails there instead of skipping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { INTERPRETERS, buildFirmwareHost, runCase, runCTest, hostFigures, leastThatWorks } from "./firmware-host.js";

const REQUIRED = Boolean(process.env.WASM_SCALE_REQUIRE_ENGINES);
/** The budget of issue "Firmware that boots": WAMR's pool peak and the linear memory together. */
const BUDGET_BYTES = 64 * 1024;

for (const interpreter of INTERPRETERS) {
  const build = buildFirmwareHost(interpreter);
  const why = "unavailable" in build ? build.unavailable : build.bits !== 32 ? "no 32-bit compiler (apt-get install gcc-multilib): the figures would not be the ESP32's" : "";
  const skip = !REQUIRED && why ? why : false;
  const binary = "unavailable" in build ? "" : build.binary;
  const dir = "unavailable" in build ? "" : build.dir;

  test(`firmware host, ${interpreter} interpreter: the release core loads and runs the firmware's workload with the Kconfig defaults`, { skip }, () => {
    assert.equal(why, "", why);
    const run = runCase(binary, "load-and-run");
    assert.ok(run.ok, run.output);
    const f = hostFigures(run.output);
    assert.equal(f.interpreter, interpreter);
    assert.ok(f.linear < 32 * 1024, `linear memory ${f.linear} bytes: WAMR did not shrink it to the static data`);
    // The defaults leave a margin over what the core really needs (Xtensa aligns 64-bit fields
    // to 8 where x86-32 aligns them to 4, so the device's structs may be a little larger).
    const least = leastThatWorks(binary, { stack: f.stack, pool: f.pool });
    assert.ok(f.pool >= least.pool * 1.2, `the default pool (${f.pool} bytes usable) is under 20 % over the ${least.pool} the core needs`);
    assert.ok(f.stack >= least.stack * 1.4, `the default Wasm stack (${f.stack} bytes) is under 40 % over the ${least.stack} the core needs`);
    if (interpreter === "classic") {
      assert.ok(least.pool + f.linear <= BUDGET_BYTES, `pool ${least.pool} + linear ${f.linear} bytes is over ${BUDGET_BYTES}`);
      assert.ok(f.module_copy > 0, "the classic interpreter runs from a RAM copy");
    } else {
      assert.equal(f.module_copy, 0, "the fast interpreter keeps no copy of the module");
    }
  });

  for (const name of ["trap-recovery", "setup-trap", "runaway", "spin", "wrong-abi", "battery", "sleep-cycle", "brownout", "connect-hang", "no-ntp", "late-command"]) {
    test(`firmware host, ${interpreter} interpreter: ${name}`, { skip }, () => {
      assert.equal(why, "", why);
      const run = runCTest(dir, name);
      assert.ok(run.ok, run.output);
      assert.match(run.output, /100% tests passed, 0 tests failed out of 1/);
    });
  }
}
