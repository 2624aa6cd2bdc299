// Real brokers and real certificates for the MQTT tests: a PKI made per run, Mosquitto started on a
// free loopback port with mutual TLS, MQTT 5 and a per-device ACL, aedes in-process.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { makeCa, makeServer, makeDevice, type Issued } from "../host/desktop/certs.js";

export interface Pki {
  dir: string;
  file(name: string): string;
  ca: Issued;
  server: Issued;
}

/** CA, broker and device certificates, and the bad ones the refusal tests need, in a temp dir. */
export async function makePki(): Promise<Pki> {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-pki-"));
  const write = (name: string, data: string | Buffer) => writeFileSync(join(dir, name), data, { mode: 0o600 });
  const ca = await makeCa("wasm-scale test CA");
  // 10.0.2.2: the machine as the ESP32-C3 in QEMU's user network sees it (tests/esp32c3-qemu.test.ts).
  const server = await makeServer(ca, ["localhost", "127.0.0.1", "10.0.2.2"]);
  write("ca.pem", ca.cert);
  write("server.pem", server.cert);
  write("server-key.pem", server.key);
  for (const id of ["dev1", "dev2", "watcher"]) {
    const d = await makeDevice(ca, id);
    write(`${id}.pem`, d.cert);
    write(`${id}-key.pem`, d.key);
    write(`${id}.der`, d.certDer);
    write(`${id}-key.der`, d.keyDer);
  }
  const other = await makeCa("some other CA");
  write("other-ca.pem", other.cert);
  const wrongHost = await makeServer(ca, ["elsewhere.example"]);
  write("wrong-host.pem", wrongHost.cert);
  write("wrong-host-key.pem", wrongHost.key);
  const expired = await makeServer(ca, ["localhost", "127.0.0.1"], { fromDays: -30, toDays: -1 });
  write("expired.pem", expired.cert);
  write("expired-key.pem", expired.key);
  return { dir, file: (name) => join(dir, name), ca, server };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, up: boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => { c.destroy(); resolve(true); });
      c.once("error", () => resolve(false));
    });
    if (open === up) return;
    await sleep(25);
  }
  throw new Error(`port ${port} did not become ${up ? "open" : "closed"}`);
}

export const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find((p) => existsSync(p));

export interface Mosquitto {
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(downMs: number): Promise<void>;
  log(): string;
}

/**
 * Mosquitto with mutual TLS: the certificate's CN is the username, and the ACL lets device %u
 * use only wasm-scale/%u/# and its own Home Assistant discovery topics; "watcher" may read all, and
 * send commands and calibration modules.
 * Persistence is on so queued QoS 1 messages survive restarts.
 */
export async function startMosquitto(pki: Pki, options: { port?: number } = {}): Promise<Mosquitto> {
  if (!MOSQUITTO) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const port = options.port ?? await freePort();
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-mosquitto-"));
  writeFileSync(join(dir, "acl"), [
    "pattern readwrite wasm-scale/%u/#",
    "pattern write homeassistant/+/%u/+/config",
    "pattern read homeassistant/status",
    "user watcher",
    "topic read wasm-scale/#",
    "topic read homeassistant/#",
    "topic write wasm-scale/+/cmd",
    "topic write wasm-scale/+/module/#",
    "topic write homeassistant/status",
    "",
  ].join("\n"));
  writeFileSync(join(dir, "mosquitto.conf"), [
    `listener ${port} 127.0.0.1`,
    `cafile ${pki.file("ca.pem")}`,
    `certfile ${pki.file("server.pem")}`,
    `keyfile ${pki.file("server-key.pem")}`,
    "tls_version tlsv1.2",
    "require_certificate true",
    "use_identity_as_username true",
    `acl_file ${join(dir, "acl")}`,
    "persistence true",
    `persistence_location ${dir}/`,
    "max_queued_messages 100000",
    "max_inflight_messages 0",
    // Started as root (CI), mosquitto would switch to its own user, which cannot read the test's
    // key files or write its persistence folder: stay the user that started it.
    ...(process.getuid?.() === 0 ? ["user root"] : []),
    "log_dest stderr",
    "log_type error",
    "log_type warning",
    "",
  ].join("\n"));
  let child: ChildProcess | null = null;
  let output = "";
  const m: Mosquitto = {
    port,
    url: `mqtts://localhost:${port}`,
    async start() {
      child = spawn(MOSQUITTO!, ["-c", join(dir, "mosquitto.conf")], { stdio: ["ignore", "pipe", "pipe"] });
      child.stderr!.on("data", (d) => { output += d; });
      await waitForPort(port, true);
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = null;
      const exited = new Promise((resolve) => c.once("exit", resolve));
      c.kill("SIGTERM"); // a clean stop writes the persistence file
      await exited;
      await waitForPort(port, false);
    },
    async restart(downMs: number) {
      await m.stop();
      await sleep(downMs);
      await m.start();
    },
    log: () => output,
  };
  await m.start();
  process.once("exit", () => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return m;
}
