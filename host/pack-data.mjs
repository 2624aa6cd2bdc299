// Joins the core's data segments after the optimizer has split them (npm run asbuild:release).
//
// Binaryen's memory packing splits the static data at every run of zeros longer than a segment
// header (each AssemblyScript string's object header has one), which is right for the bytes of
// the binary but not for the RAM of the interpreters that run it: WAMR keeps a record of about 52
// bytes in its pool for every data segment (measured, 32-bit), and the classic interpreter's RAM
// copy of the module holds the binary itself. Segments closer together than MAX_GAP bytes become
// one, the zeros between them written out: that costs a byte of copy per zero and saves a
// segment's record for every segment joined. The memory's contents are byte for byte the same.
import binaryen from "binaryen";
import { readFileSync, writeFileSync } from "node:fs";

/** Zeros between two segments worth writing out instead of keeping them apart (a record is ~52 bytes). */
const MAX_GAP = 48;

export function packData(binary) {
  const module = binaryen.readBinary(binary);
  module.setFeatures(binaryen.Features.MVP | binaryen.Features.SignExt | binaryen.Features.MutableGlobals |
    binaryen.Features.NontrappingFPToInt | binaryen.Features.BulkMemory);
  const count = module.getNumMemorySegments();
  const segments = [];
  for (let i = 0; i < count; i++) {
    const s = module.getMemorySegmentInfoByIndex(i);
    if (s.passive) throw new Error("a passive data segment: pack-data joins active ones only");
    segments.push({ offset: s.offset, data: new Uint8Array(s.data) });
  }
  segments.sort((a, b) => a.offset - b.offset);
  const joined = [];
  for (const s of segments) {
    const last = joined[joined.length - 1];
    const end = last ? last.offset + last.data.length : 0;
    if (last && s.offset < end) throw new Error(`data segments overlap at ${s.offset}`);
    if (last && s.offset - end <= MAX_GAP) {
      const data = new Uint8Array(s.offset + s.data.length - last.offset);
      data.set(last.data, 0);
      data.set(s.data, s.offset - last.offset);
      last.data = data;
    } else {
      joined.push({ offset: s.offset, data: s.data });
    }
  }
  const memory = module.getMemoryInfo("0");
  const exported = [];
  for (let i = 0; i < module.getNumExports(); i++) {
    const e = binaryen.getExportInfo(module.getExportByIndex(i));
    if (e.kind === binaryen.ExternalMemory) exported.push(e.name);
  }
  if (exported.length !== 1 || memory.module) throw new Error("pack-data expects one defined memory, exported once");
  module.removeExport(exported[0]);
  module.setMemory(memory.initial, memory.max, exported[0], joined.map((s) => ({ offset: module.i32.const(s.offset), data: s.data, passive: false })),
    memory.shared, memory.is64, "0");
  if (!module.validate()) throw new Error("the core does not validate after joining its data segments");
  const out = module.emitBinary();
  const text = module.emitText();
  module.dispose();
  return { binary: out, text, before: count, after: joined.length };
}

// node host/pack-data.mjs build/release.wasm [build/release.wat]
if (import.meta.url === `file://${process.argv[1]}`) {
  const [wasm, wat] = process.argv.slice(2);
  const { binary, text, before, after } = packData(readFileSync(wasm));
  writeFileSync(wasm, binary);
  if (wat) writeFileSync(wat, text);
  console.log(`${wasm}: ${before} data segments joined into ${after}, ${binary.length} bytes`);
}
