/*
 * wasm-scale Wasm host: loads the core into WAMR with the natives of assembly/abi.json, calls its
 * exports, and recovers from a trap by instantiating it again without rebooting.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"
#include "scale_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const uint8_t *wasm;        /* the core, e.g. embedded in flash; copied into RAM */
    size_t wasm_len;
    uint32_t stack_bytes;       /* Wasm operand stack */
    uint32_t instruction_limit; /* most instructions per call (when metering is built in) */
    /* Called after every (re)instantiation, before sampling resumes: add chips, restore blobs. */
    void (*on_instantiated)(void);
} wasm_host_config_t;

/* Initialises the runtime on its static pool and instantiates the core. */
esp_err_t wasm_host_start(const wasm_host_config_t *config);

/*
 * Calls an export with 32-bit arguments; results come back in argv[0]. On a trap the exception
 * is logged, the core is instantiated again and ESP_FAIL is returned.
 */
esp_err_t wasm_host_call(const char *name, uint32_t argc, uint32_t *argv);

/* Typed conveniences over wasm_host_call; each returns the export's i32 result, or INT32_MIN if it trapped. */
int32_t wasm_host_call_i(const char *name, uint32_t argc, int32_t a, int32_t b);
int32_t wasm_host_call_if(const char *name, int32_t key, float value);

/* The core's io buffer and its size (valid until the next re-instantiation). */
uint8_t *wasm_host_io(size_t *cap);

/* The reading record (SCALE_ABI_READING_SIZE bytes). */
const uint8_t *wasm_host_reading(void);

/* Logs the runtime pool's high-water mark. */
void wasm_host_log_memory(void);

#ifdef __cplusplus
}
#endif
