// `wasm-scale firmware ...`: the ESP32's firmware image over the air. `sign` describes a built image
// (build/wasm-scale.bin) in a package signed with the module signing key (its version, size,
// SHA-256 and the https:// address the scale fetches it from); `install` sends that package to a
// running scale, whose module manager checks it before the scale fetches, checks and restarts into
// the image (ESP-IDF's app rollback keeps it once it has weighed and reached the broker).
import type { Command } from "commander";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Connection } from "./mqtt/config.js";
import { encodePackage, sha256, signPackage, readPrivateKey, type FirmwareManifest } from "./modules/package.js";
import { DEFAULT_KEY_DIR, PRIVATE_KEY } from "./modules/keys.js";
import { describeAnswer, type TransferAnswer } from "./modules/transfer.js";
import { ask } from "./modules/send.js";
import { ModuleCliError, readPackage, decodeOrExplain } from "./module-cli.js";

interface Helpers {
  connectionOptions(command: Command, brokerDefault: string, certsHelp: string): Command;
  connection(o: Record<string, unknown>): Connection;
}

/** A signed package describing `image` (the bytes the scale will fetch from url). */
export function firmwarePackage(image: Uint8Array, version: string, url: string, key: ReturnType<typeof readPrivateKey>, name = "wasm-scale"): Buffer {
  const manifest: FirmwareManifest = { format: "wasm-scale-firmware", name, version, size: image.length, sha256: sha256(image), url };
  const bare = encodePackage(Buffer.from(JSON.stringify(manifest)), Buffer.alloc(0), new Uint8Array(0));
  return signPackage(decodeOrExplain(bare), key);
}

/** Sends a firmware package to a running scale; the manager's verdict, then the fetch's when it waits for it. */
export function sendFirmware(c: Connection, pkg: Uint8Array, o: { timeoutMs?: number; waitFetch?: boolean } = {}): Promise<TransferAnswer[]> {
  return ask(c, "firmware", pkg, "firmware", (a) => a.status !== "accepted" || !o.waitFetch || a.step === "fetch", o.timeoutMs);
}

export function addFirmwareCommands(cli: Command, h: Helpers): void {
  const firmware = cli.command("firmware").description("the ESP32's firmware image over the air: a signed package the scale checks, then fetches the image over HTTPS into its other OTA slot");

  firmware
    .command("sign")
    .description("describe a built image (host/esp-idf/build/wasm-scale.bin) in a package signed with the module signing key")
    .argument("<image>", "the firmware image, as idf.py build writes it")
    .requiredOption("--version <major.minor.patch>", "its version: the image's own (package.json's), above the one the scale runs")
    .requiredOption("--url <https://...>", "where the scale fetches it (a server whose certificate the scale's CA, or the certificate bundle, accepts)")
    .option("-k, --key <file>", "private key", join(DEFAULT_KEY_DIR, PRIVATE_KEY))
    .option("-o, --out <file>", "the package (default: IMAGE.wsf)")
    .action((image: string, o: { version: string; url: string; key: string; out?: string }) => {
      if (!existsSync(o.key)) throw new ModuleCliError(`no key ${o.key}: make one with wasm-scale module keygen`);
      const bytes = readPackage(image);
      if (bytes[0] !== 0xe9) throw new ModuleCliError(`${image} is not an ESP-IDF app image (it starts with 0x${bytes[0]?.toString(16) ?? "??"}, not 0xe9)`);
      const pkg = firmwarePackage(bytes, o.version, o.url, readPrivateKey(readFileSync(o.key), o.key));
      const out = o.out ?? `${image}.wsf`;
      writeFileSync(out, pkg);
      console.log(`${out}: firmware ${o.version}, ${bytes.length} bytes at ${o.url}, signed`);
    });

  const install = firmware
    .command("install")
    .description("send a signed firmware package to a running ESP32: it checks it, fetches the image, checks it and restarts into it")
    .argument("<package>")
    .option("--wait", "wait for the fetch's answer too (the scale restarts after it)");
  h.connectionOptions(install, "the scale's broker", "certificates")
    .action(async (file: string, o: Record<string, unknown> & { wait?: boolean }) => {
      const pkg = readPackage(file);
      decodeOrExplain(pkg);
      const answers = await sendFirmware(h.connection(o), pkg, { waitFetch: o.wait, timeoutMs: o.wait ? 600_000 : 30_000 });
      for (const a of answers) console.log(describeAnswer(a));
      if (answers.some((a) => a.status !== "accepted")) process.exitCode = 1;
    });
}


