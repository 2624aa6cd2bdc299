/*
 * Calibration modules on the ESP32: a signed package received on the module topic is written to
 * the spare slot of the `modules` partition, verified (module_pkg.h), loaded into WAMR beside the
 * core (a second module instance in the same runtime, its own execution environment and an
 * instruction limit on every call), tested with its golden vectors and a sweep of its curve, and
 * only then linked to the core's calib imports, on trial. It is rolled back when it traps, runs
 * past its budget or weighs NaN (that reading weighed by the previous calibration), and when the
 * device restarts before CAL_MODULE_CONFIRM_READINGS good readings. The same behaviour as the
 * desktop host (host/desktop/modules), the same answers on the result topic.
 * Portable C over WAMR and a storage interface: tested on Linux (test/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "module_pkg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* abi.json calibration_module: budgets (instructions), transfer, confirmation; tests/esp-idf.test.ts checks them. */
#define CAL_MODULE_BUDGET_EVAL 20000
#define CAL_MODULE_BUDGET_FIT 2000000
#define CAL_MODULE_BUDGET_OTHER 200000
#define CAL_MODULE_CONFIRM_READINGS 200
/* The Wasm stack of a module's execution environment (its frames are a few hundred bytes). */
#define CAL_MODULE_STACK_BYTES 1024

/* Which slot is active, which previous (-1: none), and whether the active one is on trial. */
typedef struct {
    int8_t active;
    int8_t previous;
    bool trial;
} cal_slots_state_t;

/* Where slots live: the `modules` partition and NVS on the ESP32 (module_store.c), RAM in tests. */
typedef struct {
    void *ctx;
    uint32_t slot_bytes;
    bool (*erase)(void *ctx, int slot);
    bool (*write)(void *ctx, int slot, uint32_t offset, const void *data, size_t len);
    bool (*read)(void *ctx, int slot, uint32_t offset, void *data, size_t len);
    bool (*save_params)(void *ctx, int slot, const uint8_t *blob, size_t len);
    size_t (*load_params)(void *ctx, int slot, uint8_t *blob, size_t cap);
    /* The state names each slot's package length too: a slot is what the state says it holds. */
    bool (*save_state)(void *ctx, const cal_slots_state_t *s, const uint32_t lengths[2]);
    bool (*load_state)(void *ctx, cal_slots_state_t *s, uint32_t lengths[2]);
} cal_storage_t;

typedef struct {
    const cal_storage_t *storage;
    const char *const *keys_pem; /* the public keys the firmware trusts (main/certs) */
    size_t n_keys;
    uint32_t chunk_bytes;        /* the largest chunk this device receives (its MQTT buffer) */
    /* The core: link its calib imports to a module (cal_module export), and its range. */
    int32_t (*core_module)(bool on);
    void (*core_range)(double *capacity_kg, double *division_kg);
    /* An answer for the result topic: JSON, NUL-terminated. */
    void (*answer)(const char *json);
} cal_manager_config_t;

/* Registers the calib callbacks with wasm_host and restores the active slot (or rolls back a
 * trial the device restarted during). Call after the core is instantiated. */
void cal_manager_start(const cal_manager_config_t *config);

/* After the core was instantiated again (its link to the module is gone): link it again. */
void cal_manager_relink(void);

/* After every sample: a failure rolls back; enough good readings confirm a trial. */
void cal_manager_after_sample(void);

/* A message on the module topic: `sub` is what follows "<module topic>/" (begin, chunk/<offset>,
 * end, rollback). `payload` may be NULL for a message too large to have been kept (len is then its
 * full length): it is refused without being read. */
void cal_manager_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len);

/* Back to the previous module, or the built-in calibration; false when nothing was installed. */
bool cal_manager_rollback(const char *why, const char *reason);

/* The active module's name, or NULL for the built-in calibration; whether it is on trial. */
const char *cal_manager_active(bool *trial);

/* Frees every module instance (before the core's runtime goes). */
void cal_manager_stop(void);

#ifdef __cplusplus
}
#endif
