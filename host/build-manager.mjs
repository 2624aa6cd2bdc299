// npm run asbuild:manager: the calibration module manager (assembly/manager/index.ts) to
// build/manager.wasm, and the core manager (assembly/manager/cores.ts) to build/core-manager.wasm.
//
// AssemblyScript keeps a string literal as UTF-16 behind a 20-byte object header, and the manager's
// sentences (its refusals say why) were most of its size: on the ESP32 the classic interpreter runs
// from a RAM copy of the binary and the data is copied again into linear memory, so each byte
// counted twice in the heap an installation needs. Here each `d("...")` of the manager's sources
// becomes `dBytes(memory.data<u8>([...]), n)` (and each `wStr("...")`, `wBytes(...)`): the text as
// ASCII bytes, no header. The
// sources stay as they read; only the compiler sees the bytes. Then the data segments are joined
// (pack-data.mjs), as for the core.
import asc from "assemblyscript/asc";
import { fileURLToPath } from "node:url";
import { packData } from "./pack-data.mjs";
import { readFileSync, writeFileSync } from "node:fs";

const root = fileURLToPath(new URL("..", import.meta.url));
const SENTENCE = /\b(d|wStr)\("((?:[^"\\]|\\.)*)"\)/g;

/** The manager's source with its sentences as bytes. */
export function asBytes(source) {
  let changed = false;
  let json = false;
  const out = source.replace(SENTENCE, (_, fn, text) => {
    changed = true;
    json ||= fn === "wStr";
    const value = JSON.parse(`"${text}"`);
    const bytes = [...Buffer.from(value, "latin1")];
    if ([...value].some((c) => c.charCodeAt(0) > 0x7e || c.charCodeAt(0) < 0x20)) throw new Error(`not plain ASCII: ${text}`);
    return `${fn === "d" ? "dBytes" : "wBytes"}(memory.data<u8>([${bytes.join(",")}]), ${bytes.length})`;
  });
  // dBytes from out.ts and wBytes from the core's json.ts, beside the d and wStr they stand in for.
  if (!changed) return out;
  const add = (text, from, name) => text.replace(new RegExp(`import \\{([^}]*)\\} from "${from.replace(/[./]/g, (c) => `\\${c}`)}";`), (all, names) => (new RegExp(`\\b${name}\\b`).test(names) ? all : `import {${names}, ${name} } from "${from}";`));
  const withD = add(out, "./out", "dBytes");
  return json ? add(withD, "../json", "wBytes") : withD;
}

/** One of the two programs built from assembly/manager: its entry and the .wasm it becomes. */
async function build(entry, name) {
  const { error, stderr } = await asc.main([
    entry, "--config", "assembly/manager/asconfig.json", "--target", "release", "--transform", "./host/align-heap-base.mjs",
    "--outFile", `build/${name}.wasm`, "--textFile", `build/${name}.wat`,
  ], {
    readFile(file, baseDir) {
      let text;
      try {
        text = readFileSync(baseDir ? `${baseDir}/${file}` : file, "utf8");
      } catch {
        return null;
      }
      return /assembly[\\/]manager[\\/][^\\/]+\.ts$/.test(file) ? asBytes(text) : text;
    },
  });
  if (error) {
    process.stderr.write(stderr.toString());
    process.exit(1);
  }
  const wasm = `${root}build/${name}.wasm`;
  const { binary, text, before, after } = packData(readFileSync(wasm));
  writeFileSync(wasm, binary);
  writeFileSync(`${root}build/${name}.wat`, text);
  console.log(`build/${name}.wasm: ${binary.length} bytes (data segments ${before} joined into ${after})`);
}

// The calibration module manager, and the core manager (the core itself and the firmware image):
// the same sources, two programs, so that a host loads only the one it decides with.
await build("assembly/manager/index.ts", "manager");
await build("assembly/manager/cores.ts", "core-manager");
