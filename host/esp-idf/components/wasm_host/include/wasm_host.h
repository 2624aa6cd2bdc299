/*
 * wasm-scale Wasm host: loads the core into WAMR with the natives of assembly/abi.json, calls its
 * exports with every call bounded, and recovers from a trap by instantiating it again, with a
 * bounded number of attempts and a backoff, without rebooting.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"
#include "scale_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const uint8_t *wasm;        /* the core, e.g. embedded in flash; never written */
    size_t wasm_len;
    uint32_t pool_bytes;        /* 0: WAMR allocates from the heap as it needs; else a pool of this size, taken at start */
    uint32_t stack_bytes;       /* the interpreter's stack for Wasm frames and operands */
    uint32_t instruction_limit; /* most instructions per call (when metering is built in) */
    /* Called after every instantiation, before the core is handed out: add chips, restore blobs.
     * A trap in it fails that instantiation (no recursion). */
    void (*on_instantiated)(void);
} wasm_host_config_t;

/* Consecutive failed instantiations before wasm_host_recover gives up, and its backoff. */
#define WASM_HOST_MAX_ATTEMPTS 5
#define WASM_HOST_BACKOFF_FIRST_MS 1000
#define WASM_HOST_BACKOFF_MAX_MS 16000

/* Initialises the runtime (with its pool, if one is configured) and instantiates the core: called at
 * boot, before WiFi and TLS fragment the heap. */
esp_err_t wasm_host_start(const wasm_host_config_t *config);

/* Unloads the core and shuts the runtime down, giving back all it took (after wasm_host_start, also
 * one that failed); wasm_host_start may then be called again, e.g. with another core. */
void wasm_host_stop(void);

/* True while a core is instantiated and callable. */
bool wasm_host_ready(void);

/*
 * After a trap the core is unloaded; this instantiates it again when the backoff allows.
 * ESP_OK: ready. ESP_ERR_NOT_FINISHED: waiting for the backoff. ESP_FAIL: this attempt failed.
 * ESP_ERR_INVALID_STATE: WASM_HOST_MAX_ATTEMPTS attempts in a row failed; the host has given up.
 */
esp_err_t wasm_host_recover(int64_t now_ms);

/*
 * Calls an export with 32-bit arguments, bounded by the instruction limit; results come back in
 * argv[0]. On a trap the exception is logged, the core unloaded (wasm_host_recover brings it
 * back) and ESP_FAIL returned; ESP_ERR_INVALID_STATE when no core is instantiated.
 */
esp_err_t wasm_host_call(const char *name, uint32_t argc, uint32_t *argv);

/* Typed conveniences over wasm_host_call; each returns the export's i32 result, or INT32_MIN if
 * the call did not complete. */
int32_t wasm_host_call_i(const char *name, uint32_t argc, int32_t a, int32_t b);
int32_t wasm_host_call_if(const char *name, int32_t key, float value);

/* The core's io buffer and its size (valid until the next instantiation). */
uint8_t *wasm_host_io(size_t *cap);

/*
 * The core's volatile state (state_save, for deep sleep): its length in bytes, copied to dst when
 * it fits in cap (call again with a buffer that large when it does not); 0 when the core gave none.
 */
size_t wasm_host_state_save(uint8_t *dst, size_t cap);

/* Gives a saved state back to the core, after its chips, blobs and device id. ESP_OK, or
 * ESP_ERR_INVALID_STATE when the core refused it (damaged, another version): the core is then to
 * be started clean (scale_init and its set-up again). */
esp_err_t wasm_host_state_load(const uint8_t *src, size_t len);

/*
 * Another core in place of the running one (a core sent over the air): the instance unloaded and
 * `wasm` instantiated and set up (on_instantiated), the runtime kept (the module manager may be
 * running in it). The bytes stay the caller's and must outlive the core: a recovery after a trap
 * loads them again. ESP_OK, or the failure with nothing instantiated (wasm_host_last_error says
 * why): replace again with the core before.
 */
esp_err_t wasm_host_replace(const uint8_t *wasm, size_t len);

/* Why the last load, instantiation or call failed. */
const char *wasm_host_last_error(void);

/* The core's state stream in a buffer of its own (the caller frees it), NULL when there is none.
 * After a trap, the state the trapped core held: a call that traps saves it before the instance
 * goes, and this hands it over once (a core on trial that traps is rolled back with it);
 * wasm_host_recover drops it: a plain recovery starts from the blobs. */
uint8_t *wasm_host_state_copy(size_t *len);

/* The reading record (SCALE_ABI_READING_SIZE bytes). */
const uint8_t *wasm_host_reading(void);

/* What the core costs in RAM: the pool (size, peak, free; 0 without one), the linear memory, the
 * RAM copy of the module that the classic interpreter runs from (0 for the fast interpreter), and
 * how much the free heap fell while the runtime started and the core was instantiated. */
typedef struct {
    uint32_t pool_bytes;
    uint32_t pool_peak_bytes;
    uint32_t pool_free_bytes;
    uint32_t linear_bytes;
    uint32_t module_copy_bytes;
    uint32_t heap_taken_bytes;
} wasm_host_memory_t;
void wasm_host_memory(wasm_host_memory_t *out);

/*
 * Where the core's calib imports go (assembly/abi.json): the calibration module's gain, curve,
 * knots and fit, and the core's refusal of what it gave, installed by the cal_module component.
 * Without one, calib.gain answers NaN, calib.curve -1 (the core then weighs with its built-in
 * calibration) and calib.fit DEGENERATE. NULL removes it.
 */
typedef struct {
    void *context;
    double (*gain)(void *context, double c0, double c1, double c2, double c3);
    int32_t (*curve)(void *context, double temp_c);
    double (*knot)(void *context, int32_t i);
    void (*fault)(void *context, int32_t kind, double x, double value);
    int32_t (*fit)(void *context, int32_t order, const uint8_t *points, int32_t n, double zero_counts);
} wasm_host_calibration_t;
void wasm_host_set_calibration(const wasm_host_calibration_t *calibration);

/* Logs wasm_host_memory. */
void wasm_host_log_memory(void);

#ifdef __cplusplus
}
#endif
