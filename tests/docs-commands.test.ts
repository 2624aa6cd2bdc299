// Every command in the README and docs/ (each line of a ```sh block) runs as written: here, in a
// scratch copy of the project where what they write cannot touch the repository, or in the test
// named for it. A command that is neither, nor one that needs a board or ESP-IDF, fails this test:
// the pages cannot drift from what the product does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, existsSync } from "node:fs";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repo } from "../host/vendor.mjs";

/** The commands of the pages: every line of their sh blocks, continuations joined. */
function documentedCommands(): Array<{ page: string; line: string }> {
  const pages = ["README.md", ...readdirSync(join(repo, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
  const out: Array<{ page: string; line: string }> = [];
  for (const page of pages) {
    const text = readFileSync(join(repo, page), "utf8");
    for (const block of text.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
      const lines = block[1].replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
      for (const line of lines) out.push({ page, line });
    }
  }
  return out;
}

type How = { run: string } | { covered: string } | { exempt: string };

/** Each documented command, by its beginning: run here (the session), covered elsewhere, or exempt. */
const COVERAGE: Array<[RegExp, How]> = [
  [/^npm ci && npm start\b/, { run: "readme" }],
  [/^npx wasm-scale module keygen +# once: the signing key \(\.wasm-scale\/keys\); npm start trusts/, { run: "readme" }],
  [/^npm run asbuild:release +# build\/release\.wasm, with your change/, { covered: ".ci/run (npm ci builds the release core; tests/core-update.test.ts installs a rebuilt one)" }],
  [/^npx wasm-scale core (pack|sign|install|list)\b/, { run: "readme" }],
  [/^npx wasm-scale core (verify|rollback)\b/, { covered: "tests/core-update.test.ts (core verify and rollback against npm start)" }],
  [/^npx wasm-scale firmware sign host\/esp-idf\/build\/wasm-scale\.bin\b/, { exempt: "an image idf.py builds (the same package, signed by the test: tests/esp32c3-qemu.test.ts)" }],
  [/^npx wasm-scale firmware install .*--broker mqtts:\/\/broker:8883/, { exempt: "an ESP32 and its broker (the same package over MQTT to the ESP32-C3 in QEMU: tests/esp32c3-qemu.test.ts)" }],
  [/^npm test\b/, { covered: ".ci/run (it is the test command)" }],
  [/^npm run -s certs -- --out \.wasm-scale\/certs --device-id me@scale1\b/, { run: "readme" }],
  [/^C="--cafile \.wasm-scale/, { run: "readme" }],
  [/^mosquitto_sub -h localhost -p 8883 \$C/, { run: "readme" }],
  [/^mosquitto_pub -h localhost -p 8883 \$C/, { run: "readme" }],
  [/^npm ci && npm run asbuild\b/, { covered: ".ci/run (npm ci builds the core in its prepare step)" }],
  [/^cd host\/esp-idf$/, { exempt: "ESP-IDF's idf.py: not installable here (its build is checked by tests/esp-idf.test.ts and tests/esp32c3-qemu.test.ts)" }],
  [/^idf\.py /, { exempt: "ESP-IDF's idf.py and a board" }],
  [/^npm start -- --engine wamr-(classic|fast)\b/, { covered: "tests/cli.test.ts (npm start -- --engine wamr-fast)" }],
  [/^npm run -s simulate -- --engine wasm3 --json$/, { run: "simulator" }],
  [/^npm run build:engines\b/, { covered: ".ci/run" }],
  [/^cmake /, { covered: "tests/firmware.test.ts and tests/bench-instructions.ts build the same targets" }],
  [/^for n in 2000 4000; do valgrind/, { covered: "npm run bench (tests/bench-instructions.ts)" }],
  [/^GLIBC_TUNABLES=.* build\/wasm-host\/test_wasm_host probe/, { covered: "tests/firmware.test.ts (probe)" }],
  [/^cp -r modules\/table modules\/mybin\b/, { run: "modules" }],
  [/^\$EDITOR modules\/mybin\/index\.ts/, { run: "modules" }],
  [/^npx asp --config as-pect\.config\.js/, { covered: "npm test (test:core)" }],
  [/^npx wasm-scale module (build|keygen|sign|verify|install|list)\b/, { run: "modules" }],
  [/^npx wasm-scale simulate --duration 60 --record bin\.rec$/, { run: "modules" }],
  [/^npx wasm-scale replay bin\.rec --module /, { run: "modules" }],
  [/^npm run asbuild$/, { covered: ".ci/run (npm ci)" }],
  [/^npm run build:pico -- -DWIFI_SSID=/, { covered: "tests/pico-w.test.ts (the same build with its own settings)" }],
  [/^npm run build:pico -- --emulator\b/, { covered: "tests/pico-emulator.test.ts" }],
  [/^node --import tsx --test tests\/pico-emulator\.test\.ts$/, { covered: "npm test" }],
  [/^npm start -- --broker mqtts:\/\/x+\.s1\.eu\.hivemq\.cloud/, { exempt: "a HiveMQ Cloud account (the same flags against Mosquitto: tests/cli.test.ts)" }],
  [/^npm start -- --config broker\.json\b/, { covered: "tests/mqtt.test.ts (configuration files)" }],
  [/^npm run certs -- --out certs\/out --device-id scale1 kitchen --host/, { run: "certs" }],
  [/^npm run -s simulate -- --duration 600 --record kitchen\.rec$/, { run: "simulator" }],
  [/^npx wasm-scale replay kitchen\.rec\b/, { run: "simulator" }],
  [/^npx wasm-scale simulate --duration 30 --record kitchen\.rec$/, { run: "simulator" }],
  [/^npx wasm-scale record hive\.rec .*--broker mqtts:\/\/broker:8883/, { exempt: "an ESP32 and its broker (the same command against npm start: tests/device-record.test.ts)" }],
  [/^npx wasm-scale record kitchen\.rec --seconds 60\b/, { covered: "tests/device-record.test.ts (record from a running npm start)" }],
  [/^npx wasm-scale replay hive\.rec\b/, { exempt: "hive.rec comes from an ESP32 (replay --plot .png: tests/cli.test.ts)" }],
  [/^npx wasm-scale provision --port \/dev\/tty/, { covered: "tests/provision.test.ts (the same commands against the firmwares' provisioning on a pseudo-terminal)" }],
  [/^npx wasm-scale provision --plan scales\.csv --out /, { covered: "tests/provision.test.ts (a fleet plan)" }],
];

function how(line: string): How | undefined {
  return COVERAGE.find(([re]) => re.test(line))?.[1];
}

test("every command in the README and docs/ is run here, covered by a named test, or needs hardware", () => {
  const missing = documentedCommands().filter(({ line }) => !how(line));
  assert.deepEqual(missing, [], `commands in the pages that no test runs:\n${missing.map((m) => `  ${m.page}: ${m.line}`).join("\n")}`);
});

/**
 * A scratch copy of the project: the sources linked, what the commands write (modules/,
 * .wasm-scale/, files, and the core and modules in build/) its own. The first npx in a folder runs
 * the project's prepare step (npm run asbuild) there: it must not rewrite the repository's core.
 */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-docs-"));
  for (const entry of readdirSync(repo)) {
    if ([".git", ".wasm-scale", "modules", "tmp", "build"].includes(entry)) continue;
    symlinkSync(join(repo, entry), join(dir, entry));
  }
  cpSync(join(repo, "modules"), join(dir, "modules"), { recursive: true });
  mkdirSync(join(dir, "build"));
  for (const entry of readdirSync(join(repo, "build"))) {
    if (/^(release|debug)\.|^modules$/.test(entry)) cpSync(join(repo, "build", entry), join(dir, "build", entry), { recursive: true });
    else symlinkSync(join(repo, "build", entry), join(dir, "build", entry));
  }
  return dir;
}

/** The session's lines, in the order of the pages. */
function session(name: string): string[] {
  return documentedCommands().filter(({ line }) => (how(line) as { run?: string })?.run === name).map(({ line }) => line);
}

/**
 * The environment a person's shell has: without what `npm test` sets for its scripts (npm_*,
 * INIT_CWD, EDITOR, node_modules/.bin folders on PATH), with which npx looked for "wasm-scale" in
 * the registry instead of the project's own bin.
 */
function userEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith("npm_") && k !== "INIT_CWD" && k !== "EDITOR") env[k] = v;
  env.PATH = (process.env.PATH ?? "").split(":").filter((d) => !d.includes("node_modules")).join(":");
  return { ...env, ...extra };
}

/** Runs lines in one bash, in cwd, stopping at the first failure; its output. */
function sh(cwd: string, lines: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync("bash", ["-euo", "pipefail", "-c", lines.join("\n")], { cwd, encoding: "utf8", env: userEnv(env), maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${lines.join("\n")}\n--- output ---\n${(r.stdout + r.stderr).slice(-4000)}`);
  return r.stdout + r.stderr;
}

/** Long-running documented lines, started in the background in a process group of their own; resolves at a line of their output. */
function background(cwd: string, lines: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; out: () => string }> {
  const script = [...lines.slice(0, -1), `exec ${lines[lines.length - 1]}`].join("\n");
  const child = spawn("bash", ["-c", script], { cwd, env: userEnv(env), detached: true });
  const line = lines.join("; ");
  let out = "";
  return new Promise((resolve, reject) => {
    const take = (d: Buffer) => {
      out += d;
      if (ready.test(out)) resolve({ child, out: () => out });
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    child.once("exit", (code) => reject(new Error(`${line} exited (${code}) before ${ready}:\n${out.slice(-3000)}`)));
  });
}

/** Stops a background group with Ctrl-C, as a person would, and waits until every process of it is gone (its ports free). */
async function stop(child: ChildProcess): Promise<void> {
  const alive = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (alive()) process.kill(-child.pid!, "SIGINT");
  while (alive()) await new Promise((resolve) => setTimeout(resolve, 50));
}

test("the README's first session, as written: npm start, a tester's certificate, mosquitto_sub and mosquitto_pub (zero, then counting), then the running scale's core updated", { skip: !existsSync("/usr/bin/mosquitto_sub") && !process.env.WASM_SCALE_REQUIRE_BROWSER && "mosquitto-clients not installed", timeout: 600_000 }, async () => {
  const dir = scratch();
  const lines = session("readme");
  const start = lines.find((l) => l.startsWith("npm ci && npm start"))!;
  // npm ci is .ci/run's; the scratch copy shares the repository's node_modules.
  const npmStart = await background(dir, [start.replace(/^npm ci && /, "").replace(/\s+#.*$/, "")], /web view\s+http/);
  try {
    const certs = lines.find((l) => l.startsWith("npm run -s certs"))!;
    const c = lines.find((l) => l.startsWith("C="))!;
    sh(dir, [certs]);
    const sub = lines.find((l) => l.startsWith("mosquitto_sub"))!;
    const [pub, count] = lines.filter((l) => l.startsWith("mosquitto_pub"));
    // The subscriber runs until stopped: here, until it has shown the commands' answers.
    const watching = background(dir, [c, sub], /wasm-scale\/scale1\/result \{"cmd":"count","id":"n1","status":"accepted"\}/);
    // The README's zero is accepted on the empty, still platform the default scenario ends with
    // (its last load leaves at 26 s): npm start's own subscriber shows when that is.
    await new Promise<void>((resolve) => {
      const check = () => {
        const late = [...npmStart.out().matchAll(/wasm-scale\/scale1\/state\s+(\{.*\})/g)].map((m) => JSON.parse(m[1]))
          .some((r) => r.stable === true && r.t_ms > 27_000);
        if (late) resolve(); else setTimeout(check, 100);
      };
      check();
    });
    sh(dir, [c, pub]);
    sh(dir, [c, count]);
    const watched = await watching;
    assert.match(watched.out(), /wasm-scale\/scale1\/result \{"cmd":"zero","id":"z1","status":"accepted"\}/);
    // Counting on: the readings that follow carry a count (the empty platform: 0 pieces, stable).
    await new Promise<void>((resolve) => {
      const check = () => (/wasm-scale\/scale1\/state \{[^\n]*"count":0,"count_stable":true/.test(watched.out()) ? resolve() : setTimeout(check, 100));
      check();
    });
    await stop(watched.child);
    // The README's core update, as written, on the same running npm start.
    const update = lines.filter((l) => /^npx wasm-scale (module keygen|core )/.test(l));
    assert.equal(update.length, 5, update.join("\n"));
    const updated = sh(dir, update);
    assert.match(updated, /install accepted: wasm-scale 0\.2\.1: core wasm-scale 0\.2\.1 weighs now, on trial until 200 good readings; the running state moved into it/);
    assert.match(updated, /core 0\.2\.1 \(slot c\)( on trial)? is in force/);
    await new Promise<void>((resolve) => {
      const check = () => (/core {8}install accepted/.test(npmStart.out()) ? resolve() : setTimeout(check, 100));
      check();
    });
  } finally {
    await stop(npmStart.child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the simulator's pages, as written: simulate, record, replay with other settings, a plot", () => {
  const dir = scratch();
  try {
    const out = sh(dir, session("simulator"));
    assert.match(out, /"samples_per_second"|samples/);
    assert.ok(existsSync(join(dir, "kitchen.rec")) && existsSync(join(dir, "replay.svg")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("docs/protocol.md's certificates command, as written", () => {
  const dir = scratch();
  try {
    sh(dir, session("certs"));
    for (const f of ["ca.pem", "broker.pem", "scale1.pem", "kitchen.pem", "kitchen-key.der"]) assert.ok(existsSync(join(dir, "certs", "out", f)), f);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("docs/modules.md, end to end as written: a new module built, tried on a recording, signed, verified, installed on a running npm start", { timeout: 600_000 }, async () => {
  const dir = scratch();
  const lines = session("modules");
  const upTo = (prefix: string) => lines.slice(0, lines.findIndex((l) => l.startsWith(prefix)));
  const from = (prefix: string) => lines.slice(lines.findIndex((l) => l.startsWith(prefix)));
  // $EDITOR is the one step a person does: here it gives the module its own name, as the page asks.
  const EDITOR = `sed -i s/nameAddress(\\"table\\")/nameAddress(\\"mybin\\")/`;
  try {
    sh(dir, upTo("npx wasm-scale module install"), { EDITOR });
    assert.ok(existsSync(join(dir, "bin.svg")), "the plot of the module's weights");
    const npmStart = await background(dir, ["npm start -- --no-web --module-key .wasm-scale/keys/module-signing.pub"], /calibration modules signed by/);
    try {
      const out = sh(dir, from("npx wasm-scale module install"));
      assert.match(out, /mybin/);
    } finally {
      await stop(npmStart.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
