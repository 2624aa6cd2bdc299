// `wasm-scale module ...`: make a signing key, build, sign and verify calibration module packages,
// and install, list and roll back modules on a scale: over MQTT (a running scale, ESP32 or
// npm start) or in a stopped desktop scale's store.
import { makeDirs, writeSecret } from "./files.js";
import type { Command } from "commander";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection } from "./mqtt/config.js";
import { ScaleCore } from "./core.js";
import { makeImports } from "./imports.js";
import { Board } from "./sim/board.js";
import { FileStore } from "./store.js";
import { buildModule } from "./modules/build.js";
import { decodePackage, signPackage, generateSigningKey, readPrivateKey, ModuleRefused } from "./modules/package.js";
import { ModuleManager, type ModuleEvent, type CoreSwapper } from "./modules/manager.js";
import { ModuleSlots, slotsDir } from "./modules/slots.js";
import { trustedKeys, DEFAULT_KEY_DIR, PRIVATE_KEY, PUBLIC_KEY } from "./modules/keys.js";
import { sendModule, requestRollback } from "./modules/send.js";
import { describeAnswer, type TransferAnswer } from "./modules/transfer.js";

export class ModuleCliError extends Error {}

export function readPackage(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ModuleCliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** A stopped desktop scale: its core with the stored settings and calibration, and its slots. */
export async function openLocal(store: string, keys: string[] | undefined, cores?: CoreSwapper): Promise<{ manager: ModuleManager; release: () => void }> {
  const file = new FileStore(store, () => undefined);
  const host = makeImports(new Board(), () => undefined);
  const core = await ScaleCore.load(host);
  for (const which of ["CONFIG", "CALIBRATION"] as const) {
    const blob = file.get(which);
    if (blob) core.loadBlob(which, blob);
  }
  const manager = new ModuleManager(core, host.calibration, new ModuleSlots(slotsDir(store)), () => trustedKeys(keys).keys, { cores });
  manager.restore();
  return { manager, release: () => file.release() };
}

interface Helpers {
  connectionOptions(command: Command, brokerDefault: string, certsHelp: string): Command;
  connection(o: Record<string, unknown>): Connection;
}

export function addModuleCommands(cli: Command, h: Helpers): void {
  const module = cli.command("module").description("calibration modules: signed Wasm modules that replace the calibration curve, installed without reflashing");

  module
    .command("keygen")
    .description(`make an ECDSA P-256 key pair to sign modules (${PRIVATE_KEY}, mode 600, and ${PUBLIC_KEY}); scales trust the .pub`)
    .option("-o, --out <dir>", "where to write them", DEFAULT_KEY_DIR)
    .option("--force", "replace an existing key pair (modules signed with the old key stop installing)")
    .action((o: { out: string; force?: boolean }) => {
      const priv = join(o.out, PRIVATE_KEY);
      if (existsSync(priv) && !o.force) throw new ModuleCliError(`${priv} exists: keep it, or pass --force to replace it`);
      const k = generateSigningKey();
      makeDirs(o.out, 0o700);
      writeSecret(priv, k.privatePem);
      writeFileSync(join(o.out, PUBLIC_KEY), k.publicPem);
      console.log(`key ${k.id}: ${priv} (private: never commit it), ${join(o.out, PUBLIC_KEY)} (give it to the scales)`);
    });

  module
    .command("build")
    .description("compile modules (DIR/index.ts, AssemblyScript) and package each with DIR/module.json's params and golden vectors (unsigned)")
    .argument("<dirs...>", "module folders, e.g. modules/temperature")
    .option("-o, --out <dir>", "output folder", join("build", "modules"))
    .action(async (dirs: string[], o: { out: string }) => {
      for (const dir of dirs) {
        const r = await buildModule(dir, o.out);
        console.log(`${r.pkg}: ${r.manifest.name} ${r.manifest.version}, ${r.manifest.size} bytes, ${"vectors" in r.manifest ? r.manifest.vectors.length : 0} vectors (unsigned)`);
      }
    });

  module
    .command("sign")
    .description("sign a package's manifest (ECDSA P-256 / SHA-256)")
    .argument("<package>", "a .wsm from module build")
    .option("-k, --key <file>", "private key", join(DEFAULT_KEY_DIR, PRIVATE_KEY))
    .option("-o, --out <file>", "signed package (default: replaces the input)")
    .action(signFile);

  module
    .command("verify")
    .description("check a package as a scale will: format, hash, signature, the module, its vectors, its curve")
    .argument("<package>")
    .option("--module-key <files...>", `trusted public keys (default: ${DEFAULT_KEY_DIR}/*.pub)`)
    .action((file: string, o: { moduleKey?: string[] }) => {
      const bytes = readPackage(file);
      const keys = trustedKeys(o.moduleKey).keys;
      const verdict = new ModuleManager(null, null, null, keys).verify(bytes);
      if (verdict.status !== "accepted") throw new ModuleCliError(`${file} refused (${verdict.reason}): ${verdict.detail}`);
      console.log(`${file}: ${verdict.detail}`);
    });

  const install = module
    .command("install")
    .description("install a signed package: over MQTT on a running scale (default), or with --store into a stopped desktop scale")
    .argument("<package>")
    .option("--store <file>", "install into this store's slots instead (the scale must be stopped)")
    .option("--module-key <files...>", `with --store: trusted public keys (default: ${DEFAULT_KEY_DIR}/*.pub)`);
  h.connectionOptions(install, "default: the embedded broker of npm start on localhost, with its subscriber's certificate", "certificates of npm start's embedded broker")
    .action(async (file: string, o: Record<string, unknown> & { store?: string; moduleKey?: string[] }) => {
      const bytes = readPackage(file);
      let verdict: ModuleEvent | TransferAnswer;
      if (o.store) {
        const local = await openLocal(o.store, o.moduleKey);
        try {
          verdict = local.manager.install(bytes);
        } finally {
          local.release();
        }
      } else {
        const c = h.connection(o);
        const tty = process.stderr.isTTY;
        verdict = await sendModule(c, bytes, { onProgress: tty ? (n, total) => process.stderr.write(`\rsent ${n} of ${total} bytes`) : undefined });
        if (tty) process.stderr.write("\n");
      }
      console.log(describeAnswer(verdict));
      if (verdict.status !== "accepted") process.exitCode = 1;
    });

  module
    .command("list")
    .description("the modules in a desktop scale's slots")
    .option("--store <file>", "the scale's store", join(".wasm-scale", "store.json"))
    .option("--json", "print JSON")
    .action((o: { store: string; json?: boolean }) => {
      const list = new ModuleManager(null, null, new ModuleSlots(slotsDir(o.store)), []).list().filter((s) => s.kind === "module");
      if (o.json) return console.log(JSON.stringify(list, null, 2));
      if (!list.length) return console.log("no calibration module: the built-in calibration is in force");
      for (const s of list) console.log(`slot ${s.slot}  ${s.role}${s.trial ? " (on trial)" : ""}  ${s.name} ${s.version}  sha256 ${s.sha256.slice(0, 16)}  params [${(s.params ?? []).join(", ")}]`);
    });

  const rollback = module
    .command("rollback")
    .description("go back to the previous module (or the built-in calibration): over MQTT on a running scale, or with --store")
    .option("--store <file>", "roll back in this store's slots instead (the scale must be stopped)");
  h.connectionOptions(rollback, "default: the embedded broker of npm start on localhost", "certificates of npm start's embedded broker")
    .action(async (o: Record<string, unknown> & { store?: string }) => {
      let verdict: ModuleEvent | TransferAnswer;
      if (o.store) {
        const local = await openLocal(o.store, undefined);
        try {
          verdict = local.manager.rollback();
        } finally {
          local.release();
        }
      } else {
        verdict = await requestRollback(h.connection(o));
      }
      console.log(describeAnswer(verdict));
      if (verdict.status !== "accepted") process.exitCode = 1;
    });
}

/** `module sign` and `core sign`: the package's manifest signed with the key, written back or to --out. */
export function signFile(file: string, o: { key: string; out?: string }): void {
  const pkg = decodeOrExplain(readPackage(file));
  if (!existsSync(o.key)) throw new ModuleCliError(`no key ${o.key}: make one with wasm-scale module keygen`);
  const signed = signPackage(pkg, readPrivateKey(readFileSync(o.key), o.key));
  writeFileSync(o.out ?? file, signed);
  console.log(`${o.out ?? file}: ${pkg.manifest.name} ${pkg.manifest.version} signed`);
}

export function decodeOrExplain(bytes: Buffer) {
  try {
    return decodePackage(bytes);
  } catch (e) {
    if (e instanceof ModuleRefused) throw new ModuleCliError(`refused (${e.reason}): ${e.message}`);
    throw e;
  }
}
