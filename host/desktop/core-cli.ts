// `wasm-scale core ...`: the core itself over the air. Pack a built core (build/release.wasm) as a
// package, sign and verify it with the module signing keys, and install, list and roll back cores
// on a scale: over MQTT on a running scale (ESP32, Pico W or npm start), or in a stopped desktop
// scale's slots. The checks, the swap, the trial and the rollback are the module manager's.
import type { Command } from "commander";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection } from "./mqtt/config.js";
import { defaultWasmPath } from "./core.js";
import { ModuleManager, type ModuleEvent } from "./modules/manager.js";
import { ModuleSlots, slotsDir } from "./modules/slots.js";
import { ModuleRefused } from "./modules/package.js";
import { packCore, encodeUnsigned } from "./modules/core-package.js";
import { trustedKeys, DEFAULT_KEY_DIR, PRIVATE_KEY } from "./modules/keys.js";
import { sendModule, requestRollback } from "./modules/send.js";
import { describeAnswer, type TransferAnswer } from "./modules/transfer.js";
import { ModuleCliError, readPackage, signFile } from "./module-cli.js";

interface Helpers {
  connectionOptions(command: Command, brokerDefault: string, certsHelp: string): Command;
  connection(o: Record<string, unknown>): Connection;
}

function verdictOut(verdict: ModuleEvent | TransferAnswer): void {
  console.log(describeAnswer(verdict));
  if (verdict.status !== "accepted") process.exitCode = 1;
}

export function addCoreCommands(cli: Command, h: Helpers): void {
  const core = cli.command("core").description("the weighing core itself, updated over the air: signed, tried, rolled back, with the scale's state carried across");

  core
    .command("pack")
    .description("package a built core (unsigned) as release VERSION: its manifest names the core ABI and its state stream's version")
    .argument("[wasm]", "the core", defaultWasmPath)
    .requiredOption("--version <major.minor.patch>", "its release version: above the one the scale runs (versions only go up)")
    .option("--name <name>", "the core's name", "wasm-scale")
    .option("-o, --out <file>", "the package (default: build/core-VERSION.wsc)")
    .action(async (wasm: string, o: { version: string; name: string; out?: string }) => {
      let pkg;
      try {
        pkg = await packCore(readPackage(wasm), o.version, o.name);
      } catch (e) {
        if (e instanceof ModuleRefused) throw new ModuleCliError(`${wasm} refused (${e.reason}): ${e.message}`);
        throw e;
      }
      const out = o.out ?? join("build", `core-${o.version}.wsc`);
      writeFileSync(out, encodeUnsigned(pkg));
      const m = pkg.manifest as { abi: number; state: number; size: number };
      console.log(`${out}: core ${o.name} ${o.version}, ABI ${m.abi}, state stream ${m.state}, ${m.size} bytes (unsigned: wasm-scale core sign)`);
    });

  core
    .command("sign")
    .description("sign a core package's manifest with the module signing key (ECDSA P-256 / SHA-256)")
    .argument("<package>", "a .wsc from core pack")
    .option("-k, --key <file>", "private key", join(DEFAULT_KEY_DIR, PRIVATE_KEY))
    .option("-o, --out <file>", "signed package (default: replaces the input)")
    .action(signFile);

  core
    .command("verify")
    .description("check a core package as a scale will: format, hash, signature, ABI, imports and exports")
    .argument("<package>")
    .option("--module-key <files...>", `trusted public keys (default: ${DEFAULT_KEY_DIR}/*.pub)`)
    .action((file: string, o: { moduleKey?: string[] }) => {
      const verdict = new ModuleManager(null, null, null, trustedKeys(o.moduleKey).keys).verify(readPackage(file), "core");
      if (verdict.status !== "accepted") throw new ModuleCliError(`${file} refused (${verdict.reason}): ${verdict.detail}`);
      console.log(`${file}: ${verdict.detail}`);
    });

  const install = core
    .command("install")
    .description("install a signed core package over MQTT on a running scale: swapped in with its state, on trial")
    .argument("<package>");
  h.connectionOptions(install, "default: the embedded broker of npm start on localhost, with its subscriber's certificate", "certificates of npm start's embedded broker")
    .action(async (file: string, o: Record<string, unknown>) => {
      const bytes = readPackage(file);
      const tty = process.stderr.isTTY;
      const verdict = await sendModule(h.connection(o), bytes, { kind: "core", onProgress: tty ? (n, total) => process.stderr.write(`\rsent ${n} of ${total} bytes`) : undefined });
      if (tty) process.stderr.write("\n");
      verdictOut(verdict);
    });

  core
    .command("list")
    .description("the cores in a desktop scale's slots, and the one in force")
    .option("--store <file>", "the scale's store", join(".wasm-scale", "store.json"))
    .option("--json", "print JSON")
    .action((o: { store: string; json?: boolean }) => {
      const manager = new ModuleManager(null, null, new ModuleSlots(slotsDir(o.store)), []);
      const list = manager.list().filter((s) => s.kind === "core");
      const active = manager.activeCore;
      if (o.json) return console.log(JSON.stringify({ active, slots: list }, null, 2));
      console.log(active.slot ? `core ${active.version} (slot ${active.slot})${active.trial ? " on trial" : ""} is in force` : `the firmware's own core ${active.version} is in force`);
      for (const s of list) console.log(`slot ${s.slot}  ${s.role}${s.trial ? " (on trial)" : ""}  ${s.name} ${s.version}  sha256 ${s.sha256.slice(0, 16)}`);
    });

  const rollback = core
    .command("rollback")
    .description("go back to the previous core (or the firmware's own) over MQTT on a running scale, with its state");
  h.connectionOptions(rollback, "default: the embedded broker of npm start on localhost", "certificates of npm start's embedded broker")
    .action(async (o: Record<string, unknown>) => verdictOut(await requestRollback(h.connection(o), 30_000, "core")));
}
