// The ABI definition (assembly/abi.json) as typed data, shared by the desktop host, the code
// generators and the tests. Nothing here knows about a particular host.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export type WasmType = "i32" | "i64" | "f32" | "f64";

export interface AbiParam {
  name: string;
  type: WasmType;
  kind?: "ptr" | "len";
  dir?: "in" | "out";
  unit?: string;
  doc?: string;
}

export interface AbiFunction {
  module?: string;
  name: string;
  kind?: "memory";
  doc?: string;
  calls?: string;
  params?: AbiParam[];
  result?: { type: WasmType; kind?: "ptr"; unit?: string; doc?: string } | null;
}

export interface AbiCode {
  value: number;
  doc: string;
  default?: number;
  min?: number;
  max?: number;
}

export interface AbiField {
  name: string;
  offset: number;
  type: "u32" | "i32" | "f32";
  unit?: string;
  doc: string;
}

export interface Abi {
  version: number;
  memory: { maxPages: number; exported: string; layout: string[] };
  features: string[];
  imports: AbiFunction[];
  exports: AbiFunction[];
  records: Record<string, { size: number; fields: AbiField[] }>;
  codes: Record<"fault" | "error" | "flag" | "blob" | "config" | "topic" | "wake" | "cause", Record<string, AbiCode>>;
  calibration_module: ModuleAbi;
  commands: { names: string[] };
}

/** The calibration module's contract (abi.json, calibration_module). */
export interface ModuleAbi {
  version: number;
  imports: AbiFunction[];
  memory: { maxPages: number; layout: string[] };
  budget: Record<"eval" | "fit" | "other", { instructions: number; steps: number }>;
  exports: AbiFunction[];
  package: { magic: string; format: number; maxWasmBytes: number; maxManifestBytes: number; maxVectors: number };
  transfer: { chunkBytes: number; confirmReadings: number };
  reasons: Record<string, string>;
}

export const abiPath = fileURLToPath(new URL("../assembly/abi.json", import.meta.url));
export const abi: Abi = JSON.parse(readFileSync(abiPath, "utf8")) as Abi;

/** Value of a named code, e.g. code("fault", "TIMEOUT"). Throws on a name the ABI lacks. */
export function code(group: keyof Abi["codes"], name: string): number {
  const c = abi.codes[group][name];
  if (!c) throw new Error(`ABI has no ${group} code ${name}`);
  return c.value;
}

/** Name of a code value, or undefined. */
export function codeName(group: keyof Abi["codes"], value: number): string | undefined {
  for (const [name, c] of Object.entries(abi.codes[group])) if (c.value === value) return name;
  return undefined;
}

/** WAMR native signature of an import: i/I/f/F per param, '*' for a pointer, '~' for its length. */
export function wamrSignature(fn: AbiFunction): string {
  const letters: Record<WasmType, string> = { i32: "i", i64: "I", f32: "f", f64: "F" };
  const params = (fn.params ?? [])
    .map((p) => (p.kind === "ptr" ? "*" : p.kind === "len" ? "~" : letters[p.type]))
    .join("");
  return `(${params})${fn.result ? letters[fn.result.type] : ""}`;
}

/** The Wasm function type as written by wasm2wat-like tools: "(i32,i32)->i32". */
export function wasmType(fn: AbiFunction): string {
  return `(${(fn.params ?? []).map((p) => p.type).join(",")})->${fn.result ? fn.result.type : "void"}`;
}

/** The core's commands by index (abi.json commands.names; recordings and the button name commands by index). */
export const COMMAND_NAMES: readonly string[] = abi.commands.names;
