;; A module that passes the Pico host's start-up checks and then misbehaves: a pointer past its
;; linear memory handed to gpio.wait_low, and a load beyond its __heap_base. ABI_VERSION is filled
;; in by tests/pico-w.test.ts from assembly/abi.json.
(module
  (import "gpio" "wait_low" (func $wait_low (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "scale_init") (result i32) (i32.const ABI_VERSION))
  (func (export "io_ptr") (result i32) (i32.const 0))
  (func (export "io_cap") (result i32) (i32.const 512))
  (func (export "reading_ptr") (result i32) (i32.const 512))
  (func (export "scale_sample") (param i32) (result i32)
    (call $wait_low (i32.const 0x7fff0000) (i32.const 4) (i32.const 0)))
  (func (export "poke") (result i32) (i32.load (i32.const 2000))))
