// The ESP32-C3 firmware in Espressif's QEMU (host/esp-idf/qemu): its build, an SNTP answer for it,
// and the emulator itself, read line by line from its serial port. Used by
// tests/esp32c3-qemu.test.ts and tests/bench.ts.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { copyFileSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { repo, vendorDir } from "../host/vendor.mjs";
import type { Issued } from "../host/desktop/certs.js";

/** Why the ESP32-C3 tests cannot run here, or false. */
export function esp32c3Missing(): string | false {
  if (spawnSync("riscv64-unknown-elf-gcc", ["--version"]).status !== 0) return "no riscv64-unknown-elf-gcc (apt-get install gcc-riscv64-unknown-elf)";
  if (!existsSync("/usr/src/gcc-12")) return "no /usr/src/gcc-12 (apt-get install gcc-12-source)";
  if (!vendorDir()) return "no vendor folder (WASM_SCALE_VENDOR) with ESP-IDF, newlib and QEMU";
  if (spawnSync("ninja", ["--version"]).status !== 0) return "no ninja (apt-get install ninja-build)";
  return false;
}

export const BUILD = join(repo, "build", "esp32c3-qemu");

/** Builds the QEMU variant with the certificates in `certs` (incremental); its build folder. */
export function buildEsp32c3(certs: string): string {
  const r = spawnSync(process.execPath, [join(repo, "host", "esp-idf", "qemu", "build.mjs"), "--certs", certs], { encoding: "utf8", cwd: repo, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`the ESP32-C3 build failed:\n${(r.stdout + r.stderr).slice(-6000)}`);
  return BUILD;
}

/** The toolchain folder (QEMU in qemu/), from the script that built it. */
export function toolsDir(): string {
  const r = spawnSync("bash", [join(repo, "host", "esp-idf", "tools", "esp32c3-toolchain.sh")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim().split("\n").pop()!;
}

/** Sizes of the built image: the app's bytes, and its static RAM (.data and .bss in DRAM). */
export function imageFigures(build = BUILD): { appBytes: number; staticRamBytes: number } {
  const appBytes = statSync(join(build, "wasm-scale.bin")).size;
  const r = spawnSync("riscv64-unknown-elf-size", ["-A", join(build, "wasm-scale.elf")], { encoding: "utf8" });
  let ram = 0;
  for (const line of r.stdout.split("\n")) {
    const [name, size] = line.trim().split(/\s+/);
    if (/^\.dram0\.(data|bss)$/.test(name ?? "")) ram += Number(size);
  }
  return { appBytes, staticRamBytes: ram };
}

/**
 * An SNTP server on the loopback's port 123, where QEMU's user network sends the firmware's
 * requests to 10.0.2.2 (the firmware sets its clock before TLS, as on a board). Needs root.
 */
export async function startSntp(): Promise<Socket> {
  const socket = createSocket("udp4");
  socket.on("message", (request, peer) => {
    if (request.length < 48) return;
    const reply = Buffer.alloc(48);
    const now = Date.now() / 1000 + 2208988800; // NTP counts from 1900
    const seconds = Math.floor(now);
    const fraction = Math.floor((now - seconds) * 2 ** 32);
    reply[0] = (0 << 6) | (4 << 3) | 4; // no leap, version 4, server
    reply[1] = 1; // stratum 1
    reply.writeUInt32BE(0x4c4f434c, 12); // reference "LOCL"
    for (const at of [16, 32, 40]) { reply.writeUInt32BE(seconds, at); reply.writeUInt32BE(fraction, at + 4); }
    request.copy(reply, 24, 40, 48); // originate = the client's transmit time
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(123, "127.0.0.1", () => resolve());
  });
  return socket;
}

/** Espressif's QEMU running the firmware from a flash image (writable: NVS persists in it). */
export class Qemu {
  readonly lines: string[] = [];
  private child: ChildProcess;
  private waiters: Array<{ re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(tools: string, flash: string) {
    const qemu = join(tools, "qemu");
    this.child = spawn(join(qemu, "qemu-system-riscv32"), ["-L", join(qemu, "pc-bios"), "-nographic", "-M", "esp32c3",
      "-drive", `file=${flash},if=mtd,format=raw`, "-nic", "user,model=open_eth", "-serial", "mon:stdio",
      // Virtual time from the instruction count (32 ns each), not the host's clock: a host busy
      // elsewhere cannot stretch a 1 us clock pulse into a power-down. 32 ns keeps the simulated
      // chip's own code inside a pulse's high phase (a few hundred instructions) under its 60 us.
      "-icount", "shift=5,sleep=on"],
    { stdio: ["pipe", "pipe", "pipe"] });
    let partial = "";
    const take = (d: Buffer) => {
      partial += d.toString("latin1");
      const parts = partial.split(/\r?\n/);
      partial = parts.pop()!;
      for (const raw of parts) {
        // eslint-disable-next-line no-control-regex
        const line = raw.replace(/\x1b\[[0-9;]*m/g, "");
        this.lines.push(line);
        if (process.env.WASM_SCALE_QEMU_ECHO) process.stderr.write(`qemu| ${line}\n`);
        for (const w of [...this.waiters]) {
          const m = line.match(w.re);
          if (m) { this.waiters.splice(this.waiters.indexOf(w), 1); w.resolve(m); }
        }
      }
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** The first serial line from index `from` on that matches; waits for it (no time limit: the test's). */
  waitFor(re: RegExp, from = 0): Promise<RegExpMatchArray> {
    for (let i = from; i < this.lines.length; i++) {
      const m = this.lines[i].match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve) => this.waiters.push({ re, from, resolve }));
  }

  /** Bytes to the emulated chip's console UART. */
  send(text: string): void {
    this.child.stdin!.write(text);
  }

  log(): string {
    return this.lines.join("\n");
  }

  async stop(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }
}

/** A writable copy of the built flash image (bootloader, partition table, app; NVS empty). */
export function freshFlash(to: string, build = BUILD): string {
  copyFileSync(join(build, "flash.bin"), to);
  return to;
}

/**
 * The figures of the firmware on the emulated ESP32-C3 (npm run bench): the image's sizes, what the
 * core took from the heap, and the least free heap across a TLS handshake with the core running
 * (the firmware's own "mqtt: connected ..." line), against Mosquitto over mutual TLS.
 */
/** The firmware's certificates folder (CONFIG's SCALE_CERTS_DIR): the broker's CA and a device certificate from it. */
export async function deviceCerts(dir: string, ca: Issued, deviceId: string): Promise<string> {
  const { makeDevice } = await import("../host/desktop/certs.js");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const device = await makeDevice(ca, deviceId);
  const certs = join(dir, "certs");
  mkdirSync(certs);
  writeFileSync(join(certs, "ca.pem"), ca.cert);
  writeFileSync(join(certs, "device.der"), device.certDer);
  writeFileSync(join(certs, "device-key.der"), device.keyDer, { mode: 0o600 });
  return certs;
}

export async function measureEsp32c3(): Promise<{ appBytes: number; staticRamBytes: number; coreTookBytes: number; heapFreeMinTls: number; managerTookBytes: number; managerHeapFree: number }> {
  const { makePki, startMosquitto } = await import("./brokers.js");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-c3-bench-"));
  const pki = await makePki();
  const certs = await deviceCerts(dir, pki.ca, "c3-qemu");
  const { generateSigningKey } = await import("../host/desktop/modules/package.js");
  const { writeFileSync, readFileSync } = await import("node:fs");
  writeFileSync(join(certs, "module-signing.pub"), generateSigningKey().publicPem);
  const build = buildEsp32c3(certs);
  const broker = await startMosquitto(pki, { port: 38883 });
  const sntp = await startSntp();
  const qemu = new Qemu(toolsDir(), freshFlash(join(dir, "flash.bin"), build));
  const mqtt = (await import("mqtt")).default;
  let client: import("mqtt").MqttClient | null = null;
  try {
    const took = await qemu.waitFor(/WAMR on the heap: the core took (\d+) bytes/);
    const connected = await qemu.waitFor(/mqtt: connected \(session present: \d\); heap free \d+, least ever (\d+)/);
    // A module transfer begun: the manager is loaded, with TLS up, and says what it took.
    client = await mqtt.connectAsync("mqtts://localhost:38883", {
      ca: pki.ca.cert, cert: readFileSync(pki.file("watcher.pem")), key: readFileSync(pki.file("watcher-key.pem")), clientId: "c3-bench",
    });
    await client.publishAsync("wasm-scale/c3-qemu/module/begin", JSON.stringify({ size: 1000, sha256: "0".repeat(64) }), { qos: 1 });
    const manager = await qemu.waitFor(/module manager loaded: took (\d+) bytes, heap free (\d+)/);
    return {
      ...imageFigures(build), coreTookBytes: Number(took[1]), heapFreeMinTls: Number(connected[1]),
      managerTookBytes: Number(manager[1]), managerHeapFree: Number(manager[2]),
    };
  } finally {
    await client?.endAsync();
    await qemu.stop();
    sntp.close();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
