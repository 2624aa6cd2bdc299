/*
 * The host of the calibration module manager (build/manager.wasm, written once in AssemblyScript:
 * assembly/manager), in C both firmwares share: the ESP32 runs it under WAMR
 * (esp-idf/components/cal_module), the Pico W under wasm3 (pico-w/components/modules), each through
 * a small engine interface (module_engine_t). The manager decides everything about modules; this
 * gives it what must be native (the slots through a storage interface, the signature and SHA-256
 * with mbedTLS, module instances through the engine, the link to the core, the answers), loads it
 * while it has something to decide (start-up, a message on the module topic, a failure, enough
 * good readings, a fit) and frees it when it is not busy. Per sample the active module runs here
 * directly; the manager is woken when it failed or enough good readings came.
 * Portable C over mbedTLS: tested on Linux with both engines.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A budget kind: what one call of a module may run (abi.json calibration_module.budget). */
typedef enum { MODULE_BUDGET_EVAL = 0, MODULE_BUDGET_FIT = 1, MODULE_BUDGET_OTHER = 2 } module_budget_t;

/* What a Wasm engine does for the manager and for module instances. */
typedef struct {
    /* Modules are loaded as the manager rewrote them, with a fuel counter (an engine that cannot
     * count instructions, such as wasm3); otherwise as they are (WAMR's instruction limit). */
    bool metered;
    /* The manager, with the "mgr" imports linked to module_host's mh_* functions. */
    bool (*mgr_load)(const uint8_t *wasm, size_t len, char *error, size_t cap);
    void (*mgr_free)(void);
    /* An export: sig gives each argument's type ('i' i32, 'F' f64); the result (i32 or f64) as a double. */
    bool (*mgr_call)(const char *name, const char *sig, const double *args, double *result);
    uint8_t *(*mgr_memory)(uint32_t *size);
    /* A module instance from len bytes; NULL with code 1 (not loadable) or 2 (no memory) and words. */
    void *(*mod_load)(const uint8_t *wasm, size_t len, int *code, char *words, size_t cap);
    void (*mod_free)(void *m);
    /* An i32 export with argc i32 arguments on a budget; false when it trapped or ran out of its
     * budget (*out_of_budget), with the engine's words. */
    bool (*mod_call)(void *m, const char *name, int argc, const int32_t *args, module_budget_t budget, int32_t *result, bool *out_of_budget,
                     char *words, size_t cap);
    /* cal_gain(c0..c3) on the eval budget, as mod_call. */
    bool (*mod_gain)(void *m, const double chips[4], double *gain, bool *out_of_budget, char *words, size_t cap);
    /* cal_curve(temp) on the other budget, as mod_call. */
    bool (*mod_curve)(void *m, double temp_c, int32_t *knots, bool *out_of_budget, char *words, size_t cap);
    uint8_t *(*mod_memory)(void *m, uint32_t *size);
} module_engine_t;

/* Where slots live: 0 and 1 hold calibration modules, 2 and 3 cores. The state is the manager's
 * blob (a few dozen bytes), kept whole. */
typedef struct {
    void *ctx;
    uint32_t slot_bytes;
    /* A slot's bytes where they lie (flash mapped into the address space), valid while the device
     * runs; NULL (or no map) reads them into the heap instead. */
    const uint8_t *(*map)(void *ctx, int slot, uint32_t offset, size_t len);
    bool (*erase)(void *ctx, int slot);
    bool (*write)(void *ctx, int slot, uint32_t offset, const void *data, size_t len);
    bool (*read)(void *ctx, int slot, uint32_t offset, void *data, size_t len);
    bool (*save_params)(void *ctx, int slot, const uint8_t *blob, size_t len);
    size_t (*load_params)(void *ctx, int slot, uint8_t *blob, size_t cap);
    bool (*save_state)(void *ctx, const uint8_t *blob, size_t len);
    size_t (*load_state)(void *ctx, uint8_t *blob, size_t cap);
} module_storage_t;

/* The core itself, for cores sent over the air (assembly/manager/core.ts): the firmware's Wasm host. */
typedef struct {
    const uint8_t *own_wasm; /* the core the firmware was built with */
    size_t own_len;
    /* A core is instantiated (false after a trap, until it is again). */
    bool (*ready)(void);
    /* The running core's state stream in a malloc'd buffer (after a trap: the state the host rescued
     * before the instance went, once); NULL when there is none. */
    uint8_t *(*state_copy)(size_t *len);
    /* A state stream given to the core; false when it refused it. */
    bool (*state_load)(const uint8_t *state, size_t len);
    /* The running core unloaded and `wasm` instantiated in its place, set up as at a boot (chips,
     * blobs, device id, link): 0, 1 not loadable or 2 no memory. The bytes outlive the core. */
    int (*replace)(const uint8_t *wasm, size_t len);
    /* Why the last instantiation or call failed (the engine's words). */
    const char *(*last_error)(void);
} module_core_host_t;

typedef struct {
    const module_engine_t *engine;
    const module_storage_t *storage;
    const char *const *keys_pem; /* the public keys the firmware trusts */
    size_t n_keys;
    uint32_t chunk_bytes;        /* the largest chunk this device receives (its MQTT buffer) */
    const uint8_t *manager_wasm; /* build/manager.wasm, embedded in the image */
    size_t manager_len;
    /* build/core-manager.wasm: the core itself and the firmware image (NULL: they are refused). */
    const uint8_t *core_manager_wasm;
    size_t core_manager_len;
    /* The core: link its calib imports to a module (cal_module export). */
    int32_t (*core_module)(bool on);
    /* An answer for the result topic: JSON, NUL-terminated. */
    void (*answer)(const char *json);
    /* Milliseconds on a clock that only goes forward (a transfer's idle time). */
    double (*now_ms)(void);
    /* Free heap (bytes), for the figure of what the manager takes while loaded; NULL: not measured. */
    size_t (*free_heap)(void);
    /* Cores over the air; NULL: core packages are refused. */
    const module_core_host_t *core;
    /* The firmware image over the air (the ESP32's OTA slots): the running image's version
     * (major << 16 | minor << 8 | patch), and a fetch of a checked package's image (its https://
     * url, size and SHA-256) into the next slot, answered by the host as it goes: 0 started, 1 one
     * is under way, 2 too large for the slot, 3 cannot. NULL: firmware packages are refused. */
    uint32_t (*firmware_version)(void);
    int32_t (*firmware_fetch)(const char *url, uint32_t size, const uint8_t sha256[32]);
} module_host_config_t;

/* At start-up, before the core is instantiated: the core to boot, in *wasm and *len. The firmware's
 * own, or one installed over the air and confirmed (a trial the restart cut short is rolled back
 * first, and a slot that no longer reads is given up, and said). The manager is loaded only when the
 * slots' state names a core. module_host_start follows once the core runs. */
void module_host_core_boot(const module_host_config_t *config, const uint8_t **wasm, size_t *len);

/* The core module_host_core_boot named did not instantiate (words: why): the firmware's own is to
 * boot instead, and the manager gives the slot up and says so. */
void module_host_core_boot_refused(const char *words);

/* After every sample of the core (status: scale_sample's, INT32_MIN when the call did not complete),
 * before the next: a core on trial that trapped is rolled back at once with its rescued state
 * (true: the core before it weighs on; otherwise the host recovers as it always has), one that made
 * enough readings is confirmed, and a calibration module that failed is rolled back. */
bool module_host_sampled(int32_t status);

/* The core in force: its version (major << 16 | minor << 8 | patch), its slot (-1: the firmware's
 * own), on trial or not. */
uint32_t module_host_core_version(int *slot, bool *trial);

/* Restores the active slot (or rolls back a trial the device restarted during). Call after the
 * core is instantiated, with the core's calib imports going to the module_host_ functions below. */
void module_host_start(const module_host_config_t *config);

/* The core's calib imports (abi.json): the active module's gain per sample (NaN when it failed:
 * the core weighs that reading with its built-in curve), its curve at a temperature (the knot
 * count, negative when it failed) and the knots' values, the core's refusal of either, and a fit. */
double module_host_gain(double c0, double c1, double c2, double c3);
int32_t module_host_curve(double temp_c);
double module_host_knot(int32_t i);
void module_host_fault(int32_t kind, double x, double value);
int32_t module_host_fit(int32_t order, const uint8_t *points, int32_t n, double zero_counts);

/* After the core was instantiated again (its link to the module is gone): link it again. */
void module_host_relink(void);

/* After every sample: a failure, or enough good readings, wakes the manager to decide. */
void module_host_after_sample(void);

/* A message on the module topic: `sub` is what follows "<module topic>/" (begin, chunk/<offset>,
 * end, rollback). `payload` may be NULL for a message too large to have been kept (len is then its
 * full length): it is refused without being read. */
void module_host_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len);

/* Back to the previous module, or the built-in calibration (the manager answers either way). */
void module_host_rollback(void);

/* The active module's name, or NULL for the built-in calibration; whether it is on trial. */
const char *module_host_active(bool *trial);

/* The heap the module manager (and the core manager) took while loaded (bytes, the most seen), 0
 * when not measured. */
uint32_t module_host_manager_bytes(void);
uint32_t module_host_core_manager_bytes(void);

/* Frees the manager and every module instance (before the engine's runtime goes). */
void module_host_stop(void);

/* ---- the manager's imports ("mgr", assembly/manager/host.ts), for the engines to link --------- */
/* Addresses are the manager's; each is checked against its memory here. */
int32_t mh_slot_read(int32_t slot, uint32_t offset, uint32_t at, uint32_t len);
int32_t mh_slot_erase(int32_t slot);
int32_t mh_slot_write_message(int32_t slot, uint32_t offset);
int32_t mh_slot_sha256(int32_t slot, uint32_t offset, uint32_t len, uint32_t out);
uint32_t mh_slot_capacity(void);
int32_t mh_params_put(int32_t slot, uint32_t at, uint32_t len);
int32_t mh_params_get(int32_t slot, uint32_t at, uint32_t cap);
int32_t mh_state_put(uint32_t at, uint32_t len);
int32_t mh_message_read(uint32_t at, uint32_t cap);
int32_t mh_verify(int32_t slot, uint32_t man_at, uint32_t man_len, uint32_t sig_at, uint32_t sig_len, uint32_t key, int32_t key_len);
void mh_code_out(uint32_t at, uint32_t len);
int32_t mh_mod_load(int32_t h, int32_t slot, uint32_t offset, uint32_t len, uint32_t err, int32_t cap);
void mh_mod_free(int32_t h);
void mh_mod_swap(int32_t a, int32_t b);
int32_t mh_mod_call(int32_t h, int32_t fn, int32_t a, int32_t b);
double mh_mod_gain(int32_t h, double c0, double c1, double c2, double c3);
int32_t mh_mod_curve(int32_t h, double t);
int32_t mh_mod_failure(int32_t h, uint32_t at, int32_t cap);
void mh_mod_clear(int32_t h);
int32_t mh_mod_memory(int32_t h, uint32_t addr, uint32_t at, uint32_t len, int32_t to);
int32_t mh_core_link(int32_t on);
void mh_answer(uint32_t at, uint32_t len);
double mh_now_ms(void);
uint32_t mh_firmware_version(void);
int32_t mh_firmware_fetch(uint32_t url, int32_t url_len, uint32_t size, uint32_t sha);
int32_t mh_core_swap(int32_t slot, uint32_t offset, uint32_t len, int32_t state_version, uint32_t err, int32_t cap);

#ifdef __cplusplus
}
#endif
