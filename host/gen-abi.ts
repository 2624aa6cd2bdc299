// Generates the constants of assembly/abi.json as AssemblyScript (assembly/abi.ts), so the core
// and the hosts share one definition. `npm run abi` runs it; a test fails when the output is stale.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { abi, wamrSignature } from "./abi.js";

export function generateAssemblyScript(): string {
  const out: string[] = [
    "// Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit.",
    "",
    `export const ABI_VERSION: i32 = ${abi.version};`,
  ];
  const prefix: Record<string, string> = { fault: "FAULT_", error: "ERR_", flag: "FLAG_", blob: "BLOB_", config: "CFG_", topic: "TOPIC_", wake: "WAKE_", cause: "CAUSE_" };
  for (const [group, codes] of Object.entries(abi.codes)) {
    out.push("");
    for (const [name, c] of Object.entries(codes)) {
      out.push(`/** ${c.doc} */`);
      out.push(`export const ${prefix[group]}${name}: i32 = ${c.value};`);
    }
  }
  const cfg = Object.values(abi.codes.config);
  cfg.forEach((c, i) => {
    if (c.value !== i) throw new Error("config keys must be numbered 0, 1, 2, ... in order");
  });
  const list = (pick: (c: (typeof cfg)[number]) => number | undefined): string =>
    cfg.map((c) => { const v = pick(c); if (v === undefined) throw new Error("config needs default, min, max"); return String(v); }).join(", ");
  out.push("", `export const CFG_COUNT: i32 = ${cfg.length};`);
  const names = (group: keyof typeof abi.codes, index: (v: number) => number): string => {
    const list: string[] = [];
    for (const [name, c] of Object.entries(abi.codes[group])) list[index(c.value)] = name;
    return Array.from(list, (n) => n ?? "").join(",");
  };
  out.push(`/** Names by key, comma-separated (JSON payloads and commands). */`);
  out.push(`export const CFG_NAMES = "${names("config", (v) => v)}";`);
  out.push(`/** Names by -code, comma-separated (index 0 is unused). */`);
  out.push(`export const ERR_NAMES = "${names("error", (v) => -v)}";`);
  out.push(`/** Names by code, comma-separated (index 0 is unused). */`);
  out.push(`export const FAULT_NAMES = "${names("fault", (v) => v)}";`);
  out.push(`export const CFG_DEFAULT: StaticArray<f32> = [${list((c) => c.default)}];`);
  out.push(`export const CFG_MIN: StaticArray<f32> = [${list((c) => c.min)}];`);
  out.push(`export const CFG_MAX: StaticArray<f32> = [${list((c) => c.max)}];`);
  out.push("", "/** The commands by index, comma-separated. */", `export const COMMAND_NAMES = "${abi.commands.names.join(",")}";`);
  for (const [name, rec] of Object.entries(abi.records)) {
    out.push("", `export const ${name.toUpperCase()}_SIZE: i32 = ${rec.size};`);
    for (const f of rec.fields) out.push(`export const ${name.toUpperCase()}_${f.name.toUpperCase()}: i32 = ${f.offset};`);
  }
  return out.join("\n") + "\n";
}

/** What a core sent over the air must import at most and export at least, for the module manager
 * (assembly/manager/core.ts): apart from abi.ts, whose strings the core would carry. */
export function generateCoreLists(): string {
  const exportNames = abi.exports.map((e) => e.name);
  if (exportNames.length > 64) throw new Error("the manager checks at most 64 core exports");
  // As ASCII bytes in static data (a string literal would be UTF-16 behind a header: twice the RAM).
  const bytes = (list: string) => `memory.data<u8>([${[...Buffer.from(list, "latin1")].join(",")}])`;
  const imports = abi.imports.map((i) => `${i.module}.${i.name}`).join(",");
  const exports = exportNames.join(",");
  return [
    "// Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit.",
    "",
    `/** The core's imports as module.name, comma-separated ASCII: ${imports.length} bytes. */`,
    `export const CORE_IMPORTS: usize = ${bytes(imports)};`,
    `export const CORE_IMPORTS_LENGTH: i32 = ${imports.length};`,
    `/** The core's exports (memory first), comma-separated ASCII. */`,
    `export const CORE_EXPORTS: usize = ${bytes(exports)};`,
    `export const CORE_EXPORTS_LENGTH: i32 = ${exports.length};`,
    `export const CORE_EXPORT_COUNT: i32 = ${exportNames.length};`,
  ].join("\n") + "\n";
}

/** The same definition as a C header for the ESP-IDF host: codes, layout, native signatures. */
export function generateC(): string {
  const macro = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  const out: string[] = [
    "/* Generated from assembly/abi.json by host/gen-abi.ts (npm run abi). Do not edit. */",
    "#pragma once",
    "",
    `#define SCALE_ABI_VERSION ${abi.version}`,
    `#define SCALE_ABI_MAX_PAGES ${abi.memory.maxPages}`,
    `#define SCALE_ABI_IMPORT_COUNT ${abi.imports.length}`,
    "",
    "/* Imports: WAMR native signatures ('*' pointer, '~' its length). */",
  ];
  for (const fn of abi.imports) {
    out.push(`/* ${fn.module}.${fn.name}: ${fn.doc} Called ${fn.calls}. */`);
    out.push(`#define SCALE_ABI_MODULE_${macro(fn.module!)}_${macro(fn.name)} "${fn.module}"`);
    out.push(`#define SCALE_ABI_SIG_${macro(fn.module!)}_${macro(fn.name)} "${wamrSignature(fn)}"`);
  }
  out.push("", "/* Exports the host calls. */");
  for (const fn of abi.exports) if (fn.kind !== "memory") out.push(`#define SCALE_EXPORT_${macro(fn.name)} "${fn.name}"`);
  const prefix: Record<string, string> = { fault: "SCALE_FAULT_", error: "SCALE_ERR_", flag: "SCALE_FLAG_", blob: "SCALE_BLOB_", config: "SCALE_CFG_", topic: "SCALE_TOPIC_", wake: "SCALE_WAKE_", cause: "SCALE_CAUSE_" };
  for (const [group, codes] of Object.entries(abi.codes)) {
    out.push("");
    for (const [name, c] of Object.entries(codes)) out.push(`#define ${prefix[group]}${name} (${c.value}) /* ${c.doc} */`);
  }
  out.push("", "/* The commands by index (a recording's 'X' records, the button export's result). */");
  out.push(`#define SCALE_COMMAND_NAMES {${abi.commands.names.map((n) => `"${n}"`).join(", ")}}`);
  out.push(`#define SCALE_COMMAND_COUNT ${abi.commands.names.length}`);
  for (const [name, rec] of Object.entries(abi.records)) {
    out.push("", `#define SCALE_ABI_${name.toUpperCase()}_SIZE ${rec.size}`);
    for (const f of rec.fields) out.push(`#define SCALE_ABI_${name.toUpperCase()}_${f.name.toUpperCase()} ${f.offset} /* ${f.type} ${f.doc} */`);
  }
  return out.join("\n") + "\n";
}

export const generatedPath = fileURLToPath(new URL("../assembly/abi.ts", import.meta.url));
export const generatedCoreListsPath = fileURLToPath(new URL("../assembly/manager/core-abi.ts", import.meta.url));
export const generatedCPath = fileURLToPath(new URL("./scale_portable/include/scale_abi.h", import.meta.url));

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(generatedPath, generateAssemblyScript());
  writeFileSync(generatedCPath, generateC());
  writeFileSync(generatedCoreListsPath, generateCoreLists());
  console.log(`wrote ${generatedPath}, ${generatedCoreListsPath} and ${generatedCPath}`);
}
