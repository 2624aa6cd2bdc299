/*
 * wasm-scale Wasm host for the Pico W: loads the core into wasm3 with the natives of
 * assembly/abi.json, calls its exports, and after a trap instantiates it again (bounded attempts,
 * with a backoff) without rebooting. wasm3 has no instruction metering: a call that never returns
 * is ended by the hardware watchdog (main.c), which reboots. wasm3 compiles a function on its first
 * call: allocations on the main loop, which heap_lock.c keeps apart from the interrupt's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "scale_abi.h"

typedef struct {
    const uint8_t *wasm; /* the core, in flash */
    size_t wasm_len;
    uint32_t stack_bytes; /* wasm3's stack for Wasm frames and operands */
    /* Called after every instantiation: add chips, restore blobs. */
    void (*on_instantiated)(void);
} wasm_host_config_t;

#define WASM_HOST_MAX_ATTEMPTS 5
#define WASM_HOST_BACKOFF_FIRST_MS 1000
#define WASM_HOST_BACKOFF_MAX_MS 16000

typedef enum { WASM_HOST_OK = 0, WASM_HOST_FAIL = -1, WASM_HOST_WAIT = -2, WASM_HOST_GAVE_UP = -3 } wasm_host_status_t;

wasm_host_status_t wasm_host_start(const wasm_host_config_t *config);
bool wasm_host_ready(void);
/* After a trap: instantiate again when the backoff allows (WAIT until then; GAVE_UP after
 * WASM_HOST_MAX_ATTEMPTS failures in a row). */
wasm_host_status_t wasm_host_recover(uint32_t now_ms);

/* An export with i32 arguments (at most 4); INT32_MIN when the call did not complete. */
int32_t wasm_host_call_i(const char *name, uint32_t argc, const int32_t *argv);
/* config_set(key, value), and config_get(key) (NaN when the call did not complete). */
int32_t wasm_host_config_set(int32_t key, float value);
float wasm_host_config_get(int32_t key);

uint8_t *wasm_host_io(size_t *cap);

/* The core's volatile state (state_save): its length, copied to dst when it fits in cap; 0 when
 * the core gave none. And back (after chips, blobs, device id): false when the core refused it. */
size_t wasm_host_state_save(uint8_t *dst, size_t cap);
bool wasm_host_state_load(const uint8_t *src, size_t len);

/* Another core in place of the running one (a core sent over the air): unloaded, `wasm` (which
 * must outlive it: wasm3 reads its functions from it as they are first called) instantiated and
 * set up (on_instantiated). 0, or 1 not loadable, 2 no memory, with nothing instantiated
 * (wasm_host_last_error says why). */
int wasm_host_replace(const uint8_t *wasm, size_t len);
const char *wasm_host_last_error(void);

/* The core's state stream in a buffer of its own (the caller frees it), NULL when there is none.
 * After a trap, the state the trapped core held: a call that traps saves it before the runtime
 * goes, and this hands it over once; wasm_host_recover drops it (a plain recovery starts from the
 * blobs). */
uint8_t *wasm_host_state_copy(size_t *len);
const uint8_t *wasm_host_reading(void);
/* Bytes of linear memory wasm3 allocated (the core's static data, not a 64 KiB page). */
uint32_t wasm_host_linear_bytes(void);

/* Where the core's calib imports go (assembly/abi.json): a calibration module's gain, curve, knots
 * and fit, and the core's refusal of what it gave (module_host_gain ... module_host_fit). Without
 * one, calib.gain answers NaN and calib.curve -1 (the core weighs with its built-in calibration)
 * and calib.fit DEGENERATE. NULL removes it. */
typedef struct {
    double (*gain)(double c0, double c1, double c2, double c3);
    int32_t (*curve)(double temp_c);
    double (*knot)(int32_t i);
    void (*fault)(int32_t kind, double x, double value);
    int32_t (*fit)(int32_t order, const uint8_t *points, int32_t n, double zero_counts);
} wasm_host_calibration_t;
void wasm_host_set_calibration(const wasm_host_calibration_t *calibration);
