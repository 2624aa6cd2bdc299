// The ESP32's heap while a TLS handshake is at its peak, with the firmware's defaults: what is
// measured here (the core's share, from the firmware's Wasm host on Linux; the firmware's own task
// stacks and queue, from its sources) and what cannot be (the ESP-IDF components, from the figures
// each row names). tests/firmware.test.ts fails when the estimate falls under LEAST_FREE_BYTES or
// the core's share over CORE_SHARE_BYTES; `npm run bench` prints both; docs/esp32.md, "Memory",
// is this table in prose.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repo } from "../host/vendor.mjs";

/** What a handshake must still leave free: mbedTLS allocates its records and certificates in many blocks. */
export const LEAST_FREE_BYTES = 50 * 1024;
/** The core's own share (runtime + linear memory + the classic interpreter's copy of the module):
 * 80 KiB until the core took over evaluating calibration modules' curves (module ABI 2: about 2 KB
 * of code, imports and knot tables) and gained piece counting and the button (about 5.5 KB: the
 * code, and a count in each of the outbox's 257 slots); the handshake's LEAST_FREE_BYTES is what
 * binds, and still holds. */
export const CORE_SHARE_BYTES = 88 * 1024;

export interface CoreFigures {
  /** Heap WAMR holds for the core (module, instance, Wasm stack), without the next two. */
  runtime: number;
  linear: number;
  module_copy: number;
}

export interface BudgetRow {
  what: string;
  bytes: number;
  source: string;
}

function kconfigDefault(name: string): number {
  const kconfig = readFileSync(join(repo, "host", "esp-idf", "main", "Kconfig.projbuild"), "utf8");
  const entry = new RegExp(`config ${name}\\n[\\s\\S]*?default (\\d+)\\n`).exec(kconfig);
  if (!entry) throw new Error(`no default for ${name} in main/Kconfig.projbuild`);
  return Number(entry[1]);
}

function mainDefine(name: string, file = "main.c"): number {
  const source = readFileSync(join(repo, "host", "esp-idf", "main", file), "utf8");
  const define = new RegExp(`#define ${name} (\\d+)`).exec(source);
  if (!define) throw new Error(`no #define ${name} in main/${file}`);
  return Number(define[1]);
}

/** The rows, top down: the heap at boot, then everything that holds some of it during a handshake. */
export function heapBudget(core: CoreFigures): { rows: BudgetRow[]; coreShare: number; leastFree: number } {
  const coreShare = core.runtime + core.linear + core.module_copy;
  // A FreeRTOS task: its stack and its control block (about 350 bytes on the ESP32).
  const tasks = kconfigDefault("SCALE_CORE_TASK_STACK") + mainDefine("NET_TASK_STACK") + 2 * 350;
  // The event queue: NET_EVENTS items of at most 32 bytes, and the queue's own 80.
  const queue = mainDefine("NET_EVENTS", "app.c") * 32 + 80;
  const rows: BudgetRow[] = [
    { what: "free heap at app_main (ESP32 without PSRAM, ESP-IDF 5.x)", bytes: 280_000,
      source: "typical WROOM-32 figure (the embedded review of issue 22); an ESP32-C3 in QEMU shows 293,836 (notes/esp32-qemu.md)" },
    { what: "the core: WAMR's runtime for it", bytes: -core.runtime, source: "measured: the firmware's wasm_host.c on Linux, 32-bit, glibc's block sizes (tests/firmware-host.ts)" },
    { what: "the core: its linear memory (static data)", bytes: -core.linear, source: "measured: as above" },
    { what: "the core: the classic interpreter's RAM copy of the module", bytes: -core.module_copy, source: "measured: as above (0 with the fast interpreter)" },
    { what: "the firmware's tasks: core and net stacks with their control blocks", bytes: -tasks, source: "main/Kconfig.projbuild SCALE_CORE_TASK_STACK, main/main.c NET_TASK_STACK" },
    { what: "the network events queue", bytes: -queue, source: "main/app.c NET_EVENTS" },
    { what: "provisioning: a timer that looks at the console's FIFO (a session's 12 KB and 8 KB stack only while the port is spoken to)", bytes: -100,
      source: "components/provision/provision_console.c: no driver (measured on the ESP32-C3 in QEMU, esp32c3_heap_free_min_tls)" },
    { what: "the provisioned settings, kept for the connection: WiFi, a HiveMQ Cloud broker, a user name and password", bytes: -300,
      source: "docs/provisioning.md; a provisioned CA, certificate and key add their PEM (about 3 KB with ISRG Root X1 and an EC key)" },
    { what: "WiFi driver and lwIP, connected", bytes: -60_000, source: "typical ESP32 figure (issue 22's review); not measurable here" },
    { what: "esp-mqtt client: task, buffers, outbox", bytes: -12_000, source: "issue 22's review; plain MQTT took about 10 KB on an ESP32-C3 in QEMU (notes/esp32-qemu.md)" },
    { what: "TLS handshake at its peak (mbedTLS, dynamic buffers)", bytes: -45_000, source: "the top of issue 22's 40-45 KB; a session took about 38 KB in QEMU (notes/esp32-qemu.md)" },
  ];
  const leastFree = rows.reduce((sum, r) => sum + r.bytes, 0);
  return { rows, coreShare, leastFree };
}
