// The firmware's Wasm host, unchanged, on Linux against WAMR 2.4.0 with the firmware's Kconfig
// defaults (tests/firmware-host.ts builds it): the release core loads and does all the firmware
// asks of it within the defaults, for the default interpreter (classic) and the other (fast); a
// trap is recovered without losing pool memory; a core that traps while being set up is retried
// with backoff and given up, with no recursion; runaway calls are stopped, start-up ones too; a
// core of another ABI is refused. CI sets WASM_SCALE_REQUIRE_ENGINES: a missing WAMR or 32-bit
// compiler fails there instead of skipping.
import { test } from "node:test";
import assert from "node:assert/strict";
import { INTERPRETERS, buildFirmwareHost, runCase, runCTest, hostFigures, leastStack, leastPool } from "./firmware-host.js";
import { heapBudget, CORE_SHARE_BYTES, LEAST_FREE_BYTES } from "./heap-budget.js";
import { coreManagerWasmPath, managerWasmPath } from "../host/desktop/modules/manager.js";

const REQUIRED = Boolean(process.env.WASM_SCALE_REQUIRE_ENGINES);

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
    // The defaults put WAMR on the heap (SCALE_WASM_POOL_KB 0); the Wasm stack leaves a margin over
    // what the core needs, found by search (Xtensa frames may be a little larger than x86-32's).
    assert.equal(f.pool, 0, "the default is WAMR on the heap, with no pool");
    const stack = leastStack(binary, f.stack);
    assert.ok(f.stack >= stack * 1.4, `the default Wasm stack (${f.stack} bytes) is under 40 % over the ${stack} the core needs`);
    if (interpreter === "classic") {
      assert.ok(f.module_copy > 0, "the classic interpreter runs from a RAM copy");
      // The firmware's default: the core's share, and the heap a TLS handshake still has.
      const budget = heapBudget(f);
      assert.ok(budget.coreShare <= CORE_SHARE_BYTES,
        `the core takes ${budget.coreShare} bytes (runtime ${f.runtime} + linear ${f.linear} + copy ${f.module_copy}), over ${CORE_SHARE_BYTES}`);
      assert.ok(budget.leastFree >= LEAST_FREE_BYTES,
        `about ${budget.leastFree} bytes free at a TLS handshake's peak, under ${LEAST_FREE_BYTES}:\n${budget.rows.map((r) => `${r.bytes}\t${r.what}`).join("\n")}`);
    } else {
      assert.equal(f.module_copy, 0, "the fast interpreter keeps no copy of the module");
    }
  });

  test(`firmware host, ${interpreter} interpreter: with a pool (SCALE_WASM_POOL_KB), the core runs in the least pool found by search`, { skip }, () => {
    assert.equal(why, "", why);
    const run = runCase(binary, "load-and-run");
    const f = hostFigures(run.output);
    const pool = leastPool(binary, f.stack, 2 * (f.runtime + 4096));
    // A pool holds the same blocks with smaller headers than malloc's: never much more than the heap gave.
    assert.ok(pool <= f.runtime + 1024, `a pool of ${pool} bytes needed where the heap gave ${f.runtime}`);
    assert.ok(!runCase(binary, "probe", String(f.stack), String(pool - 1024)).ok, `the workload also ran in a pool 1 KiB under the least found (${pool})`);
  });

  test(`firmware host, ${interpreter} interpreter: the module manager and the core manager loaded beside the core, as the ESP32 loads them (32-bit), and every byte given back`, { skip }, (t) => {
    assert.equal(why, "", why);
    for (const [what, path] of [["module manager", managerWasmPath], ["core manager", coreManagerWasmPath]] as const) {
      const run = runCase(binary, "manager", path);
      assert.ok(run.ok, run.output);
      const figures = JSON.parse(/FIGURES (\{.*\})/.exec(run.output)![1]) as { manager_heap: number; manager_linear: number };
      t.diagnostic(`the ${what} takes ${figures.manager_heap} bytes of heap while loaded (linear memory ${figures.manager_linear})`);
      assert.ok(figures.manager_linear < 24 * 1024, `linear memory ${figures.manager_linear}: WAMR did not shrink it`);
      // Loaded only while it has something to decide, one at a time: with TLS up on an ESP32 that
      // is the largest allocation after the core's (docs/esp32.md, Memory).
      if (interpreter === "classic") assert.ok(figures.manager_heap <= 80 * 1024, `${what}: ${figures.manager_heap} bytes`);
    }
  });

  for (const name of ["trap-recovery", "setup-trap", "runaway", "spin", "wrong-abi", "battery", "button", "sleep-cycle", "brownout", "connect-hang", "no-ntp",
    "late-command", "core-fails", "restart", "message-burst", "stalled-core"]) {
    test(`firmware host, ${interpreter} interpreter: ${name}`, { skip }, () => {
      assert.equal(why, "", why);
      const run = runCTest(dir, name);
      assert.ok(run.ok, run.output);
      assert.match(run.output, /100% tests passed, 0 tests failed out of 1/);
    });
  }
}
