/*
 * Calibration modules on the ESP32: the host of the module manager (build/manager.wasm, written
 * once in AssemblyScript for every host: assembly/manager), run by WAMR beside the core while it
 * has something to decide (start-up, a message on the module topic, a failure, a confirmation, a
 * fit) and freed when it is not busy. This gives it what must be native: the slots (a storage
 * interface: the `modules` partition and NVS on the ESP32, RAM in the tests), the signature check
 * and SHA-256 (mbedTLS, module_crypto.h), module instances in WAMR with an instruction limit on
 * every call, the link to the core, and the way out for its answers. Per sample the active module
 * runs here directly; the manager is woken when it failed or enough good readings came.
 * Portable C over WAMR and the storage interface: tested on Linux (test/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* abi.json calibration_module: budgets (instructions); tests/esp-idf.test.ts checks them. */
#define CAL_MODULE_BUDGET_EVAL 20000
#define CAL_MODULE_BUDGET_FIT 2000000
#define CAL_MODULE_BUDGET_OTHER 200000
#define CAL_MODULE_CONFIRM_READINGS 200
/* The Wasm stack of a module's execution environment (its frames are a few hundred bytes). */
#define CAL_MODULE_STACK_BYTES 1024
/* What one call into the manager may run (it is the firmware's own code; this bounds a bug). */
#define CAL_MANAGER_BUDGET 50000000
#define CAL_MANAGER_STACK_BYTES 8192

/* Where slots live. The state is the manager's blob (a few dozen bytes), kept whole. */
typedef struct {
    void *ctx;
    uint32_t slot_bytes;
    bool (*erase)(void *ctx, int slot);
    bool (*write)(void *ctx, int slot, uint32_t offset, const void *data, size_t len);
    bool (*read)(void *ctx, int slot, uint32_t offset, void *data, size_t len);
    bool (*save_params)(void *ctx, int slot, const uint8_t *blob, size_t len);
    size_t (*load_params)(void *ctx, int slot, uint8_t *blob, size_t cap);
    bool (*save_state)(void *ctx, const uint8_t *blob, size_t len);
    size_t (*load_state)(void *ctx, uint8_t *blob, size_t cap);
} cal_storage_t;

typedef struct {
    const cal_storage_t *storage;
    const char *const *keys_pem; /* the public keys the firmware trusts (main/certs) */
    size_t n_keys;
    uint32_t chunk_bytes;        /* the largest chunk this device receives (its MQTT buffer) */
    const uint8_t *manager_wasm; /* build/manager.wasm, embedded in the image */
    size_t manager_len;
    /* The core: link its calib imports to a module (cal_module export), and its range. */
    int32_t (*core_module)(bool on);
    void (*core_range)(double *capacity_kg, double *division_kg);
    /* An answer for the result topic: JSON, NUL-terminated. */
    void (*answer)(const char *json);
    /* Milliseconds on a clock that only goes forward (a transfer's idle time). */
    double (*now_ms)(void);
} cal_manager_config_t;

/* Registers the calib callbacks with wasm_host and restores the active slot (or rolls back a
 * trial the device restarted during). Call after the core is instantiated. */
void cal_manager_start(const cal_manager_config_t *config);

/* After the core was instantiated again (its link to the module is gone): link it again. */
void cal_manager_relink(void);

/* After every sample: a failure, or enough good readings, wakes the manager to decide. */
void cal_manager_after_sample(void);

/* A message on the module topic: `sub` is what follows "<module topic>/" (begin, chunk/<offset>,
 * end, rollback). `payload` may be NULL for a message too large to have been kept (len is then its
 * full length): it is refused without being read. */
void cal_manager_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len);

/* Back to the previous module, or the built-in calibration (the manager answers either way). */
void cal_manager_rollback(void);

/* The active module's name, or NULL for the built-in calibration; whether it is on trial. */
const char *cal_manager_active(bool *trial);

/* The heap the manager took while it was loaded last (bytes), for the figures. */
uint32_t cal_manager_peak_bytes(void);

/* Frees the manager and every module instance (before the core's runtime goes). */
void cal_manager_stop(void);

#ifdef __cplusplus
}
#endif
