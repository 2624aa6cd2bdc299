// npm run bench's figures for cores sent over the air: the seconds a rebuilt core takes to reach a
// running desktop scale over MQTT (aedes, TLS) in 1 KiB chunks, as an ESP32 takes them, until it
// weighs; and the heap a swap takes on the firmware's host beyond the transfer (WAMR, the ESP32's
// module host on Linux: tests/firmware-modules.test.ts builds it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { scaleFor, CAL_10KG } from "./helpers.js";
import { makePki } from "./brokers.js";
import { trusted } from "./module-fixtures.js";
import { corePackage, rebuilt } from "./core-fixtures.js";
import { startBroker } from "../host/desktop/mqtt/broker.js";
import { MqttLink } from "../host/desktop/mqtt/link.js";
import { resolveConnection } from "../host/desktop/mqtt/config.js";
import { Device } from "../host/desktop/device.js";
import { ModuleManager } from "../host/desktop/modules/manager.js";
import { ModuleTransfer, answerOf } from "../host/desktop/modules/transfer.js";
import { sendModule } from "../host/desktop/modules/send.js";
import { CORE } from "./firmware-host.js";

/** A rebuilt core sent to a running scale in 1 KiB chunks: seconds until it weighs, chunks, bytes. */
export async function coreUpdateOverMqtt(): Promise<{ seconds: number; chunks: number; bytes: number; verdict: string }> {
  const pki = await makePki();
  const broker = await startBroker({ ca: pki.ca.cert, cert: pki.server.cert, key: readFileSync(pki.file("server-key.pem"), "utf8") });
  const connection = (id: string) => resolveConnection(undefined, {}, {
    url: broker.url, deviceId: "dev1", ca: pki.file("ca.pem"), cert: pki.file(`${id}.pem`), key: pki.file(`${id}-key.pem`), reconnectMs: 100,
  });
  const scale = await scaleFor({ rate: 10, events: [...CAL_10KG] }, 1);
  const manager = new ModuleManager(scale.core, scale.host.calibration, null, [trusted.pub], { chunkBytes: 1024, cores: scale });
  scale.modules = manager;
  const link = new MqttLink(scale.core, connection("dev1")).start();
  scale.coreListeners.push((core) => {
    link.replaceCore(core);
    manager.setCore(core);
  });
  const answer = (e: Parameters<typeof answerOf>[0]) => link.notify(scale.core.topic("RESULT"), JSON.stringify(answerOf(e)));
  const transfer = new ModuleTransfer(manager, (a) => link.notify(scale.core.topic("RESULT"), JSON.stringify(a)));
  manager.onEvent = answer;
  manager.restore();
  const device = new Device(scale, link, { speed: 1, transfer });
  const running = device.run(1e9);
  try {
    while (!link.connected) await new Promise((resolve) => setTimeout(resolve, 20));
    const pkg = corePackage(rebuilt(), "0.2.1");
    const start = performance.now();
    let chunks = 0;
    const verdict = await sendModule(connection("watcher"), pkg, { kind: "core", onAnswer: (a) => { if (a.step === "chunk") chunks++; } });
    const seconds = (performance.now() - start) / 1000;
    if (verdict.status !== "accepted") throw new Error(`the core was refused: ${verdict.detail}`);
    return { seconds: Number(seconds.toFixed(2)), chunks, bytes: pkg.length, verdict: verdict.detail };
  } finally {
    device.stop();
    await running;
    await link.stop();
    await broker.close();
    rmSync(pki.dir, { recursive: true, force: true });
  }
}

/** The heap a swap takes beyond a transfer's on the firmware's module host (WAMR classic, 64-bit). */
export function coreSwapHeap(binary: string): { swap: number; state: number } | null {
  const dir = mkdtempSync(join(tmpdir(), "wasm-scale-bench-core-"));
  try {
    const key = join(dir, "key.pub");
    const pkg = join(dir, "core.wsc");
    writeFileSync(key, trusted.pub.export({ type: "spki", format: "pem" }) as string);
    writeFileSync(pkg, corePackage(rebuilt(), "0.2.1"));
    const r = spawnSync(binary, ["core-memory", CORE, key, pkg, "000201"], { encoding: "utf8" });
    const m = /FIGURES (\{.*\})/.exec(r.stdout ?? "");
    if (r.status !== 0 || !m) throw new Error(`core-memory failed:\n${r.stdout}${r.stderr}`);
    const f = JSON.parse(m[1]) as { swap_bytes: number; state_bytes: number };
    return { swap: f.swap_bytes, state: f.state_bytes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
