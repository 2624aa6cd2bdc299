// An asc transform: rounds the core's __heap_base up to a multiple of 16 bytes.
//
// WAMR allocates only __heap_base bytes of linear memory for a module that exports __data_end and
// __heap_base (assembly/index.ts), but only if __data_end rounded up to 16 is at most __heap_base
// (core/iwasm/interpreter/wasm_loader.c). AssemblyScript ends static data on a 4-byte boundary and
// sets both to that end; the core has no heap, so moving __heap_base up by at most 12 bytes
// changes nothing else. tests/abi.test.ts checks the result.
import { Transform } from "assemblyscript/transform";

const HEAP_BASE = "~lib/memory/__heap_base";

export default class AlignHeapBase extends Transform {
  afterCompile(module) {
    const { binaryen } = this;
    const global = module.getGlobal(HEAP_BASE);
    if (!global) return; // not exported: nothing to align
    const info = binaryen.getGlobalInfo(global);
    const value = binaryen.getExpressionInfo(info.init).value;
    module.removeGlobal(HEAP_BASE);
    module.addGlobal(HEAP_BASE, binaryen.i32, false, module.i32.const((value + 15) & ~15));
  }
}
