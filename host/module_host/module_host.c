/* The module manager's host, in C both firmwares share: see module_host.h. */
#include "module_host.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module_crypto.h"
#include "scale_portable.h"

#define HANDLES 3
#define ACTIVE 0
#define PREVIOUS 1
#define MAX_POINTS 10
#define POINT_BYTES 16
#define MAX_MANIFEST 16384
#define MAX_SIGNATURE 160
#define STATE_CAP 64
/* The largest module the manager passes (abi.json maxWasmBytes) and its metered copy's growth room. */
#define MAX_CODE (65536 + 32768)

/* mod_call's functions, in the manager's order (assembly/manager/install.ts FN_*). */
static const char *const FUNCTIONS[] = {"cal_abi", "cal_name", "cal_version", "cal_points", "cal_params", "cal_params_save", "cal_params_load", "cal_fit", "cal_knots"};
#define FN_KNOTS 8
#define N_FUNCTIONS (int32_t)(sizeof FUNCTIONS / sizeof FUNCTIONS[0])

typedef struct {
    void *m;     /* the engine's instance */
    int failure; /* 0 none, 1 trapped, 2 ran past its budget */
    char words[120];
} handle_t;

static module_host_config_t s_cfg;
static const module_engine_t *s_engine;
static handle_t s_mod[HANDLES];
/* Which manager is loaded: none, the module manager (build/manager.wasm) or the core manager
 * (build/core-manager.wasm). One at a time. */
#define MODULES 1
#define CORES 2
static int s_loaded;
static uint32_t s_taken, s_core_taken;
/* The message being handled. */
static const uint8_t *s_payload;
static size_t s_payload_len;
/* A metering engine's copy of the module being loaded, as the manager wrote it out. */
static uint8_t *s_code;
static size_t s_code_len, s_code_cap;
/* Per sample: good readings since the last link, a failure (mgr_after_sample's kind: 1 a curve,
 * 2 a gain the core refused, 3 a gain that is not finite) with its figures, when to wake. */
static uint32_t s_good;
static int32_t s_failed;
static double s_fail_x, s_fail_kg;
/* Where the active module's knots lie in its memory, and how many it declared last. */
static uint32_t s_knots_at;
static int32_t s_knot_count;
static int32_t s_wake;
/* What the manager said last of the module in force. */
static char s_active_name[33];
static bool s_has_active, s_trial;
/* The core in force: the bytes it runs from (slot -1: the firmware's own; a heap copy when the
 * storage maps nothing), what the manager says of it, and its readings since it went in. */
static int32_t s_core_from = -1;
static uint32_t s_core_off, s_core_len;
static uint8_t *s_core_copy;
static uint32_t s_core_good;
static int32_t s_core_wake, s_core_slot = -1;
static uint32_t s_core_version;
static bool s_core_trial, s_core_swapped;

/* ---- module instances ------------------------------------------------------------------------------ */

static void note_failure(handle_t *h, bool out_of_budget, const char *words)
{
    if (h->failure) return;
    h->failure = out_of_budget ? 2 : 1;
    if (out_of_budget) snprintf(h->words, sizeof h->words, "%s", words);
    else snprintf(h->words, sizeof h->words, "trapped: %s", words);
}

static double gain_handle(handle_t *h, const double chips[4])
{
    double gain = NAN;
    bool out = false;
    char words[100] = "";
    if (!s_engine->mod_gain(h->m, chips, &gain, &out, words, sizeof words)) {
        note_failure(h, out, words);
        return NAN;
    }
    return gain;
}

static int32_t curve_handle(handle_t *h, double temp_c)
{
    int32_t n = INT32_MIN;
    bool out = false;
    char words[100] = "";
    if (!s_engine->mod_curve(h->m, temp_c, &n, &out, words, sizeof words)) {
        note_failure(h, out, words);
        return INT32_MIN;
    }
    return n;
}

static void free_handle(int h)
{
    if (s_mod[h].m) s_engine->mod_free(s_mod[h].m);
    memset(&s_mod[h], 0, sizeof s_mod[h]);
}

/* ---- the manager's imports ----------------------------------------------------------------------- */

/* Manager memory at `at`, n bytes; NULL when out of bounds. */
static uint8_t *app(uint32_t at, uint32_t n)
{
    uint32_t size = 0;
    uint8_t *base = s_engine->mgr_memory(&size);
    if (base == NULL || (uint64_t)at + n > size) return NULL;
    return base + at;
}

/* Slots 0..3 are the storage's; slot 4 is the message being handled (a firmware package). */
#define MESSAGE_SLOT 4

static bool slot_ok(int32_t slot, uint32_t offset, uint32_t len)
{
    if (slot == MESSAGE_SLOT) return s_payload != NULL && (uint64_t)offset + len <= s_payload_len;
    return slot >= 0 && slot <= 3 && (uint64_t)offset + len <= s_cfg.storage->slot_bytes;
}

static bool storage_read(void *ctx, uint32_t offset, void *data, size_t len)
{
    const int slot = (int)(intptr_t)ctx;
    if (slot == MESSAGE_SLOT) {
        if (!slot_ok(slot, offset, (uint32_t)len)) return false;
        memcpy(data, s_payload + offset, len);
        return true;
    }
    return s_cfg.storage->read(s_cfg.storage->ctx, slot, offset, data, len);
}

int32_t mh_slot_read(int32_t slot, uint32_t offset, uint32_t at, uint32_t len)
{
    uint8_t *p = app(at, len);
    if (p == NULL || !slot_ok(slot, offset, len)) return -1;
    return storage_read((void *)(intptr_t)slot, offset, p, len) ? (int32_t)len : -1;
}

int32_t mh_slot_erase(int32_t slot)
{
    return slot >= 0 && slot <= 3 && s_cfg.storage->erase(s_cfg.storage->ctx, slot);
}

int32_t mh_slot_write_message(int32_t slot, uint32_t offset)
{
    return s_payload != NULL && slot_ok(slot, offset, (uint32_t)s_payload_len) &&
           s_cfg.storage->write(s_cfg.storage->ctx, slot, offset, s_payload, s_payload_len);
}

int32_t mh_slot_sha256(int32_t slot, uint32_t offset, uint32_t len, uint32_t out)
{
    uint8_t *p = app(out, 32);
    return p != NULL && slot_ok(slot, offset, len) && module_sha256_read(storage_read, (void *)(intptr_t)slot, offset, len, p);
}

uint32_t mh_slot_capacity(void)
{
    return s_cfg.storage->slot_bytes;
}

int32_t mh_params_put(int32_t slot, uint32_t at, uint32_t len)
{
    uint8_t *p = app(at, len);
    return p != NULL && (slot == 0 || slot == 1) && s_cfg.storage->save_params(s_cfg.storage->ctx, slot, p, len);
}

int32_t mh_params_get(int32_t slot, uint32_t at, uint32_t cap)
{
    uint8_t *p = app(at, cap);
    if (p == NULL || (slot != 0 && slot != 1)) return 0;
    return (int32_t)s_cfg.storage->load_params(s_cfg.storage->ctx, slot, p, cap);
}

int32_t mh_state_put(uint32_t at, uint32_t len)
{
    uint8_t *p = app(at, len);
    bool ok = p != NULL && s_cfg.storage->save_state(s_cfg.storage->ctx, p, len);
    if (!ok) fprintf(stderr, "module_host: saving the module slots' state failed\n");
    return ok;
}

int32_t mh_message_read(uint32_t at, uint32_t cap)
{
    uint8_t *p = app(at, cap);
    if (p && s_payload) memcpy(p, s_payload, s_payload_len < cap ? s_payload_len : cap);
    return (int32_t)s_payload_len;
}

int32_t mh_verify(int32_t slot, uint32_t man_at, uint32_t man_len, uint32_t sig_at, uint32_t sig_len, uint32_t key, int32_t key_len)
{
    char id[17] = "";
    const char *want = NULL;
    if (key_len == 16) {
        const uint8_t *k = app(key, 16);
        if (k == NULL) return 1;
        memcpy(id, k, 16);
        want = id;
    }
    if (!slot_ok(slot, man_at, man_len) || !slot_ok(slot, sig_at, sig_len) || man_len > MAX_MANIFEST || sig_len > MAX_SIGNATURE) return 2;
    uint8_t *man = malloc(man_len + 1), sig[MAX_SIGNATURE];
    int r = 2;
    if (man && storage_read((void *)(intptr_t)slot, man_at, man, man_len) && storage_read((void *)(intptr_t)slot, sig_at, sig, sig_len)) {
        r = module_verify(man, man_len, sig, sig_len, want, s_cfg.keys_pem, s_cfg.n_keys);
    }
    free(man);
    return r;
}

void mh_code_out(uint32_t at, uint32_t len)
{
    const uint8_t *p = app(at, len);
    if (!s_engine->metered || p == NULL || s_code_len > MAX_CODE) return; /* an engine that counts instructions loads the module as it is */
    if (s_code_len + len > s_code_cap) {
        /* As it grows (a module is a few KB; the most the manager passes is MAX_CODE). */
        size_t cap = s_code_cap ? s_code_cap : 4096;
        while (cap < s_code_len + len) cap *= 2;
        if (cap > MAX_CODE) cap = MAX_CODE;
        uint8_t *grown = cap >= s_code_len + len ? realloc(s_code, cap) : NULL;
        if (grown == NULL) {
            s_code_len = MAX_CODE + 1; /* too large, or no memory: mod_load says so */
            return;
        }
        s_code = grown;
        s_code_cap = cap;
    }
    memcpy(s_code + s_code_len, p, len);
    s_code_len += len;
}

int32_t mh_mod_load(int32_t h, int32_t slot, uint32_t offset, uint32_t len, uint32_t err, int32_t cap)
{
    char *words = (char *)app(err, (uint32_t)cap);
    if (h < 0 || h >= HANDLES || words == NULL || cap < 1) return 1;
    free_handle(h);
    char error[128] = "";
    int code = 0;
    uint8_t *bytes = NULL;
    size_t n = len;
    if (s_engine->metered) {
        bytes = s_code;
        n = s_code_len;
        if (bytes == NULL || n > MAX_CODE) {
            code = 2;
            snprintf(error, sizeof error, "no room for the module's metered copy");
        }
    } else if (!slot_ok(slot, offset, len) || (bytes = malloc(len)) == NULL) {
        code = 2;
        snprintf(error, sizeof error, "no %u bytes of heap for the module", (unsigned)len);
    } else if (!storage_read((void *)(intptr_t)slot, offset, bytes, len)) {
        code = 1;
        snprintf(error, sizeof error, "its slot cannot be read");
    }
    if (code == 0) s_mod[h].m = s_engine->mod_load(bytes, n, &code, error, sizeof error);
    if (s_engine->metered) {
        free(s_code);
        s_code = NULL;
        s_code_len = s_code_cap = 0;
    } else {
        free(bytes);
    }
    if (s_mod[h].m == NULL) {
        if (code == 0) code = 1;
        size_t k = strnlen(error, (size_t)cap);
        memcpy(words, error, k);
        return code | (int32_t)(k << 16);
    }
    return 0;
}

void mh_mod_free(int32_t h)
{
    if (h >= 0 && h < HANDLES) free_handle(h);
}

void mh_mod_swap(int32_t a, int32_t b)
{
    if (a < 0 || a >= HANDLES || b < 0 || b >= HANDLES) return;
    handle_t t = s_mod[a];
    s_mod[a] = s_mod[b];
    s_mod[b] = t;
}

int32_t mh_mod_call(int32_t h, int32_t fn, int32_t a, int32_t b)
{
    if (h < 0 || h >= HANDLES || s_mod[h].m == NULL || fn < 0 || fn >= N_FUNCTIONS) return INT32_MIN;
    int32_t args[2] = {a, b}, r = INT32_MIN;
    bool out = false;
    char words[100] = "";
    int argc = fn == 6 ? 1 : fn == 7 ? 2 : 0;
    if (!s_engine->mod_call(s_mod[h].m, FUNCTIONS[fn], argc, args, fn == 7 ? MODULE_BUDGET_FIT : MODULE_BUDGET_OTHER, &r, &out, words, sizeof words)) {
        note_failure(&s_mod[h], out, words);
        return INT32_MIN;
    }
    return r;
}

double mh_mod_gain(int32_t h, double c0, double c1, double c2, double c3)
{
    if (h < 0 || h >= HANDLES || s_mod[h].m == NULL) return NAN;
    const double chips[4] = {c0, c1, c2, c3};
    return gain_handle(&s_mod[h], chips);
}

int32_t mh_mod_curve(int32_t h, double t)
{
    if (h < 0 || h >= HANDLES || s_mod[h].m == NULL) return INT32_MIN;
    return curve_handle(&s_mod[h], t);
}

int32_t mh_mod_failure(int32_t h, uint32_t at, int32_t cap)
{
    char *p = (char *)app(at, (uint32_t)cap);
    if (h < 0 || h >= HANDLES || !s_mod[h].failure || p == NULL) return 0;
    size_t n = strnlen(s_mod[h].words, (size_t)cap);
    memcpy(p, s_mod[h].words, n);
    return s_mod[h].failure | (int32_t)(n << 16);
}

void mh_mod_clear(int32_t h)
{
    if (h >= 0 && h < HANDLES) s_mod[h].failure = 0;
}

int32_t mh_mod_memory(int32_t h, uint32_t addr, uint32_t at, uint32_t len, int32_t to)
{
    uint8_t *p = app(at, len);
    uint32_t size = 0;
    uint8_t *base = h >= 0 && h < HANDLES && s_mod[h].m ? s_engine->mod_memory(s_mod[h].m, &size) : NULL;
    if (p == NULL || base == NULL || (uint64_t)addr + len > size) return 0;
    if (to) memcpy(base + addr, p, len);
    else memcpy(p, base + addr, len);
    return 1;
}

int32_t mh_core_link(int32_t on)
{
    int32_t r = s_cfg.core_module(on != 0);
    s_good = 0;
    s_failed = 0;
    s_mod[ACTIVE].failure = 0;
    return r;
}

void mh_answer(uint32_t at, uint32_t len)
{
    const uint8_t *p = app(at, len);
    char *text = p ? malloc(len + 1) : NULL;
    if (text == NULL) return;
    memcpy(text, p, len);
    text[len] = 0;
    if (s_cfg.answer) s_cfg.answer(text);
    free(text);
}

double mh_now_ms(void)
{
    return s_cfg.now_ms ? s_cfg.now_ms() : 0;
}

uint32_t mh_firmware_version(void)
{
    return s_cfg.firmware_version ? s_cfg.firmware_version() : 0;
}

int32_t mh_firmware_fetch(uint32_t url, int32_t url_len, uint32_t size, uint32_t sha)
{
    const char *u = (const char *)app(url, (uint32_t)url_len + 1);
    const uint8_t *h = app(sha, 32);
    if (s_cfg.firmware_fetch == NULL) return 3;
    if (u == NULL || h == NULL || url_len < 1 || u[url_len] != 0) return 3;
    return s_cfg.firmware_fetch(u, size, h);
}

/* ---- the core itself --------------------------------------------------------------------------- */

/* The bytes of a core: the firmware's own (slot -1), or len bytes of a core slot from offset, where
 * they lie or in a heap copy (*copy, the caller's). NULL when they cannot be had. */
static const uint8_t *core_bytes(int32_t slot, uint32_t offset, uint32_t len, uint8_t **copy)
{
    *copy = NULL;
    if (slot < 0) return s_cfg.core->own_wasm;
    if ((slot != 2 && slot != 3) || !slot_ok(slot, offset, len)) return NULL;
    const uint8_t *p = s_cfg.storage->map ? s_cfg.storage->map(s_cfg.storage->ctx, slot, offset, len) : NULL;
    if (p) return p;
    *copy = malloc(len);
    if (*copy && !s_cfg.storage->read(s_cfg.storage->ctx, slot, offset, *copy, len)) {
        free(*copy);
        *copy = NULL;
    }
    return *copy;
}

/* The core now runs from these bytes (a heap copy lives as long as it does). */
static void core_runs(int32_t slot, uint32_t offset, uint32_t len, uint8_t *copy)
{
    if (s_core_copy != copy) free(s_core_copy);
    s_core_copy = copy;
    s_core_from = slot;
    s_core_off = offset;
    s_core_len = len;
    s_core_good = 0;
}

static int32_t swap_failed(int code, const char *why, char *words, int32_t cap)
{
    size_t k = strnlen(why, (size_t)cap);
    memcpy(words, why, k);
    return code | (int32_t)(k << 16);
}

int32_t mh_core_swap(int32_t slot, uint32_t offset, uint32_t len, int32_t state_version, uint32_t err, int32_t cap)
{
    char *words = (char *)app(err, (uint32_t)cap);
    if (words == NULL || cap < 1) return 1;
    const module_core_host_t *core = s_cfg.core;
    if (core == NULL) return swap_failed(1, "this firmware does not swap cores", words, cap);
    uint8_t *copy = NULL;
    const uint8_t *wasm = core_bytes(slot, offset, len, &copy);
    size_t n = slot < 0 ? core->own_len : len;
    if (wasm == NULL) return swap_failed(2, "no heap for the core's bytes, or its slot does not read", words, cap);
    /* The running state, then the running core's bytes, for the way back. */
    size_t state_len = 0;
    uint8_t *state = core->state_copy(&state_len);
    const bool have = state != NULL;
    const int32_t running = have ? scale_state_version(state, state_len) : -1;
    char why[128] = "";
    int code = core->replace(wasm, n);
    if (code != 0) snprintf(why, sizeof why, "%s", core->last_error());
    if (code == 0 && running >= 0 && running == state_version) {
        if (!core->state_load(state, state_len)) {
            code = 3;
            snprintf(why, sizeof why, "state_load refused the running core's stream (version %d, %u bytes)", (int)running, (unsigned)state_len);
        }
    } else if (code == 0) {
        code = 4; /* another stream, or none: it started from the blobs */
    }
    if (code == 1 || code == 2 || code == 3) {
        /* The running core back, as it was, with its state. */
        free(copy);
        uint8_t *back_copy = NULL;
        const uint8_t *back = s_core_from < 0 ? core->own_wasm : (s_core_copy ? s_core_copy : core_bytes(s_core_from, s_core_off, s_core_len, &back_copy));
        if (back == NULL || core->replace(back, s_core_from < 0 ? core->own_len : s_core_len) != 0 || (have && !core->state_load(state, state_len))) {
            fprintf(stderr, "module_host: the core before did not come back: %s\n", core->last_error());
        }
        free(back_copy);
        free(state);
        return swap_failed(code, why, words, cap);
    }
    free(state);
    core_runs(slot, offset, len, copy);
    s_core_swapped = true;
    return code;
}

/* ---- the manager: loaded while it has something to decide ----------------------------------------- */

static bool call(const char *name, const char *sig, const double *args, double *result)
{
    double r = 0;
    bool ok = s_engine->mgr_call(name, sig, args, &r);
    if (!ok) fprintf(stderr, "module_host: the module manager failed in %s\n", name);
    if (result) *result = r;
    return ok;
}

static int32_t call_i(const char *name)
{
    double r = 0;
    return call(name, "", NULL, &r) ? (int32_t)r : 0;
}

/* Copies n bytes to the manager's io buffer; false when they do not fit. */
static bool to_io(const void *data, size_t n)
{
    uint32_t io = (uint32_t)call_i("mgr_io");
    uint8_t *p = app(io, (uint32_t)n);
    if (p == NULL) return false;
    memcpy(p, data, n);
    return true;
}

/* What the manager says of the module (or the core) in force, kept for module_host_active,
 * module_host_core_version and the per-sample path. */
static void note(void)
{
    if (s_loaded == CORES) {
        s_core_wake = call_i("mgr_core_wake");
        s_core_slot = call_i("mgr_core_slot");
        s_core_version = (uint32_t)call_i("mgr_core_version");
        s_core_trial = call_i("mgr_core_trial") == 1;
        return;
    }
    s_wake = call_i("mgr_wake");
    int32_t name = call_i("mgr_active");
    const uint8_t *p = name ? app((uint32_t)name, 33) : NULL;
    s_has_active = p != NULL;
    if (s_has_active) snprintf(s_active_name, sizeof s_active_name, "%.32s", (const char *)p);
    s_trial = s_has_active && call_i("mgr_trial") == 1;
}

static void close_manager(void)
{
    if (!s_loaded) return;
    s_engine->mgr_free();
    s_loaded = 0;
}

/* Why open_manager failed: 0 no memory (or not loadable), 1 the other manager has a transfer under way. */
static int s_open_failure;

/* Loads the module manager (MODULES) or the core manager (CORES), freeing the other unless it is
 * busy; `resume`: it learns the slots' state (and the module manager the live instances) again. */
static bool open_manager(int which, bool resume)
{
    if (s_loaded == which) return true;
    if (s_loaded) {
        if (call_i("mgr_busy")) {
            s_open_failure = 1;
            return false;
        }
        close_manager();
    }
    s_open_failure = 0;
    const bool cores = which == CORES;
    if (cores && s_cfg.core_manager_wasm == NULL) return false;
    size_t before = s_cfg.free_heap ? s_cfg.free_heap() : 0;
    char error[128] = "";
    if (!s_engine->mgr_load(cores ? s_cfg.core_manager_wasm : s_cfg.manager_wasm, cores ? s_cfg.core_manager_len : s_cfg.manager_len, error, sizeof error)) {
        fprintf(stderr, "module_host: the %s manager does not load: %s\n", cores ? "core" : "module", error);
        return false;
    }
    s_loaded = which;
    size_t after = s_cfg.free_heap ? s_cfg.free_heap() : 0;
    uint32_t *taken = cores ? &s_core_taken : &s_taken;
    if (before > after && before - after > *taken) *taken = (uint32_t)(before - after);
    const double configure[2] = {s_cfg.chunk_bytes, s_engine->metered ? 1 : 0};
    if (!call("mgr_configure", "ii", configure, NULL)) return false;
    if (!resume) return true;
    uint8_t state[STATE_CAP];
    size_t n = s_cfg.storage->load_state(s_cfg.storage->ctx, state, sizeof state);
    const double args[2] = {(double)(to_io(state, n) ? n : 0), (s_mod[ACTIVE].m ? 1 : 0) | (s_mod[PREVIOUS].m ? 2 : 0)};
    return call("mgr_resume", cores ? "i" : "ii", args, NULL);
}

/* Frees the manager unless a transfer (or something to decide at the next sample) keeps it. */
static void release(void)
{
    if (!s_loaded) return;
    note();
    if (call_i("mgr_busy")) return;
    close_manager();
}

void module_host_start(const module_host_config_t *config)
{
    s_cfg = *config;
    s_engine = config->engine;
    uint8_t state[STATE_CAP];
    size_t n = s_cfg.storage->load_state(s_cfg.storage->ctx, state, sizeof state);
    /* Nothing kept: no module was ever installed, nothing to restore, and the manager (tens of KB
     * of heap while loaded) is not loaded until a message on the module topic comes. */
    if (n == 0) return;
    if (!open_manager(MODULES, false)) return;
    const double args[1] = {(double)(to_io(state, n) ? n : 0)};
    call("mgr_start", "i", args, NULL);
    release();
}

void module_host_core_boot(const module_host_config_t *config, const uint8_t **wasm, size_t *len)
{
    s_cfg = *config;
    s_engine = config->engine;
    *wasm = config->core ? config->core->own_wasm : NULL;
    *len = config->core ? config->core->own_len : 0;
    if (config->core == NULL) return;
    s_core_from = -1;
    uint8_t state[STATE_CAP];
    size_t n = s_cfg.storage->load_state(s_cfg.storage->ctx, state, sizeof state);
    if (n == 0 || !open_manager(CORES, false)) return;
    double slot = -1;
    const double args[1] = {(double)(to_io(state, n) ? n : 0)};
    if (call("mgr_core_boot", "i", args, &slot) && slot >= 0) {
        uint32_t at[2] = {0, 0};
        const uint8_t *io = app((uint32_t)call_i("mgr_io"), sizeof at);
        if (io) memcpy(at, io, sizeof at);
        uint8_t *copy = NULL;
        const uint8_t *p = core_bytes((int32_t)slot, at[0], at[1], &copy);
        if (p) {
            *wasm = p;
            *len = at[1];
            core_runs((int32_t)slot, at[0], at[1], copy);
        }
    }
    release();
}

void module_host_core_boot_refused(const char *words)
{
    core_runs(-1, 0, 0, NULL);
    if (!open_manager(CORES, true)) return;
    size_t n = strlen(words) < 160 ? strlen(words) : 160;
    const double args[1] = {(double)(1 | (int32_t)((to_io(words, n) ? n : 0) << 16))};
    call("mgr_core_boot_refused", "i", args, NULL);
    release();
}

static bool core_sampled(bool trapped, const char *words, bool reading)
{
    if (trapped) {
        if (!s_core_trial || !open_manager(CORES, true)) return false;
        s_core_swapped = false;
        const char *w = words ? words : "";
        size_t n = strlen(w) < 200 ? strlen(w) : 200;
        const bool budget = strstr(w, "instruction") != NULL; /* WAMR: "instruction limit exceeded" */
        const double args[2] = {budget ? 2 : 1, (double)(to_io(w, n) ? n : 0)};
        call("mgr_core_failed", "ii", args, NULL);
        release();
        return s_core_swapped;
    }
    if (!reading) return false;
    s_core_good++;
    if (s_core_wake > 0 && s_core_good >= (uint32_t)s_core_wake && open_manager(CORES, true)) {
        const double args[1] = {s_core_good};
        call("mgr_core_readings", "i", args, NULL);
        release();
    }
    return false;
}

bool module_host_sampled(int32_t status)
{
    const module_core_host_t *core = s_cfg.core;
    const bool trapped = core != NULL && status == INT32_MIN && !core->ready();
    const bool rolled_back = core != NULL && core_sampled(trapped, trapped ? core->last_error() : NULL, status == 1);
    module_host_after_sample();
    return rolled_back;
}

uint32_t module_host_core_version(int *slot, bool *trial)
{
    if (slot) *slot = s_core_slot;
    if (trial) *trial = s_core_trial;
    return s_core_version;
}

/* The failure since the last sample, when there is none yet. */
static void fail(int32_t kind, double x, double value)
{
    if (s_failed) return;
    s_failed = kind;
    s_fail_x = x;
    s_fail_kg = value;
}

double module_host_gain(double c0, double c1, double c2, double c3)
{
    if (s_mod[ACTIVE].m == NULL) return NAN;
    const double chips[4] = {c0, c1, c2, c3};
    double gain = gain_handle(&s_mod[ACTIVE], chips);
    if (isfinite(gain)) {
        s_good++;
        return gain;
    }
    fail(3, NAN, gain);
    return NAN;
}

int32_t module_host_curve(double temp_c)
{
    s_knot_count = 0;
    if (s_mod[ACTIVE].m == NULL) return -1;
    int32_t n = curve_handle(&s_mod[ACTIVE], temp_c), at = INT32_MIN;
    if (n != INT32_MIN) at = mh_mod_call(ACTIVE, FN_KNOTS, 0, 0);
    if (at == INT32_MIN) {
        fail(1, NAN, NAN); /* trapped or out of budget: mod_failure says which */
        return -1;
    }
    s_knots_at = (uint32_t)at;
    s_knot_count = n;
    return n;
}

double module_host_knot(int32_t i)
{
    uint32_t size = 0;
    uint8_t *base = s_mod[ACTIVE].m ? s_engine->mod_memory(s_mod[ACTIVE].m, &size) : NULL;
    uint64_t at = (uint64_t)s_knots_at + (uint64_t)i * 8u;
    double v;
    if (base == NULL || i < 0 || i >= 2 * s_knot_count || at + 8 > size) return NAN;
    memcpy(&v, base + at, 8);
    return v;
}

void module_host_fault(int32_t kind, double x, double value)
{
    fail(kind, x, value);
}

int32_t module_host_fit(int32_t order, const uint8_t *points, int32_t n, double zero_counts)
{
    if (s_mod[ACTIVE].m == NULL || n < 1 || n > MAX_POINTS || !open_manager(MODULES, true)) return -6;
    uint8_t pairs[MAX_POINTS * 16];
    for (int i = 0; i < n; i++) {
        double x, kg;
        float kg32;
        memcpy(&x, points + i * POINT_BYTES, 8);
        memcpy(&kg32, points + i * POINT_BYTES + 8, 4);
        x -= zero_counts;
        kg = kg32;
        memcpy(pairs + i * 16, &x, 8);
        memcpy(pairs + i * 16 + 8, &kg, 8);
    }
    double r = -6;
    const double args[2] = {order, n};
    if (!to_io(pairs, (size_t)n * 16) || !call("mgr_fit", "ii", args, &r)) r = -6;
    release();
    return (int32_t)r;
}

void module_host_relink(void)
{
    if (s_mod[ACTIVE].m && s_cfg.core_module(true) != 0) fprintf(stderr, "module_host: the core refused %s again after it was instantiated again\n", s_active_name);
}

void module_host_after_sample(void)
{
    if (!(s_failed || s_wake < 0 || (s_wake > 0 && s_good >= (uint32_t)s_wake))) return;
    int32_t failed = s_failed;
    s_failed = 0;
    if (!open_manager(MODULES, true)) return;
    const double args[4] = {s_good, failed, s_fail_x, s_fail_kg};
    call("mgr_after_sample", "iiFF", args, NULL);
    release();
}

/* When the manager cannot be loaded, the sender still hears why (the step is what the topic names). */
static void unavailable(const char *sub, size_t sub_len, int which)
{
    const char *cmd = which == MODULES ? "module" : sub_len == 8 && memcmp(sub, "firmware", 8) == 0 ? "firmware" : "core";
    if (which == CORES && sub_len > 5 && memcmp(sub, "core/", 5) == 0) {
        sub += 5;
        sub_len -= 5;
    }
    size_t step = 0;
    while (step < sub_len && step < 16 && sub[step] >= 'a' && sub[step] <= 'z') step++; /* begin, chunk, end, rollback */
    if (strcmp(cmd, "firmware") == 0) sub = "install", step = 7;
    char json[240];
    if (s_open_failure == 1) {
        snprintf(json, sizeof json, "{\"cmd\":\"%s\",\"step\":\"%.*s\",\"status\":\"rejected\",\"reason\":\"BUSY\",\"detail\":\"a %s transfer is under way: send again once it has ended\"}",
                 cmd, (int)step, sub, which == MODULES ? "core" : "module");
    } else {
        snprintf(json, sizeof json, "{\"cmd\":\"%s\",\"step\":\"%.*s\",\"status\":\"rejected\",\"reason\":\"MEMORY\",\"detail\":\"no room to load the %s manager (%u bytes of heap free)\"}",
                 cmd, (int)step, sub, which == MODULES ? "module" : "core", (unsigned)(s_cfg.free_heap ? s_cfg.free_heap() : 0));
    }
    if (s_cfg.answer) s_cfg.answer(json);
}

void module_host_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len)
{
    /* A core's steps and firmware packages are the core manager's; the rest the module manager's. */
    const int which = (sub_len > 5 && memcmp(sub, "core/", 5) == 0) || (sub_len == 8 && memcmp(sub, "firmware", 8) == 0) ? CORES : MODULES;
    if (!open_manager(which, true)) {
        unavailable(sub, sub_len, which);
        return;
    }
    if (sub_len > 200) sub_len = 200;
    s_payload = payload;
    s_payload_len = len;
    const double args[2] = {(double)sub_len, (double)len};
    if (to_io(sub, sub_len)) call("mgr_message", "ii", args, NULL);
    s_payload = NULL;
    s_payload_len = 0;
    release();
}

void module_host_rollback(void)
{
    if (!open_manager(MODULES, true)) return;
    call("mgr_rollback", "", NULL, NULL);
    release();
}

const char *module_host_active(bool *trial)
{
    if (trial) *trial = s_has_active && s_trial;
    return s_has_active ? s_active_name : NULL;
}

uint32_t module_host_manager_bytes(void)
{
    return s_taken;
}

uint32_t module_host_core_manager_bytes(void)
{
    return s_core_taken;
}

void module_host_stop(void)
{
    close_manager();
    for (int h = 0; h < HANDLES; h++) free_handle(h);
    free(s_code);
    s_code = NULL;
    s_code_len = s_code_cap = 0;
    s_has_active = false;
    s_good = 0;
    s_failed = 0;
    s_knot_count = 0;
    s_wake = 0;
}
