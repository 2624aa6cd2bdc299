# wasm3 as the Pico W runs it, for the firmware and its desktop test alike: the embedder's files
# (no WASI: its files need uvwasi), and wasm3's microcontroller settings, which its own headers
# give only to the boards they know (Arduino, ESP32, ...): 1 KiB code pages instead of 32 KiB, a
# bounded compiler stack, no cascaded opcodes. Expects wasm3_SOURCE_DIR.
set(M3 ${wasm3_SOURCE_DIR}/source)
add_library(m3 STATIC ${M3}/m3_bind.c ${M3}/m3_code.c ${M3}/m3_compile.c ${M3}/m3_core.c ${M3}/m3_env.c ${M3}/m3_exec.c
  ${M3}/m3_function.c ${M3}/m3_info.c ${M3}/m3_module.c ${M3}/m3_parse.c ${M3}/m3_validate.c)
target_include_directories(m3 PUBLIC ${M3})
target_compile_options(m3 PRIVATE -O2 -w)
target_compile_definitions(m3 PUBLIC d_m3HasWASI=0 d_m3LogOutput=0 d_m3CodePageAlignSize=1024 d_m3MaxFunctionStackHeight=256
  d_m3CascadedOpcodes=1 d_m3VerboseErrorMessages=0 d_m3MaxConstantTableSize=64)
