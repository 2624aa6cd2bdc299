/* Calibration modules on the device, the module manager's host: see cal_module.h. */
#include "cal_module.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_heap_caps.h"
#include "esp_log.h"
#include "module_crypto.h"
#include "wasm_export.h"
#include "wasm_host.h"

#ifndef SCALE_WASM_METERING
#error "calibration modules need WAMR's instruction metering (WAMR_BUILD_INSTRUCTION_METERING): a module could loop for ever"
#endif

static const char *TAG = "cal_module";

#define HANDLES 3
#define ACTIVE 0
#define PREVIOUS 1
/* A module's linear memory must have shrunk to its static data (the manager checks its layout). */
#define MAX_LINEAR_BYTES 16384
#define MAX_POINTS 10
#define POINT_BYTES 16
#define MAX_MANIFEST 16384
#define MAX_SIGNATURE 160
#define STATE_CAP 64

/* ---- module instances (the manager's handles) --------------------------------------------------- */

/* mod_call's functions, in the manager's order (assembly/manager/install.ts FN_*). */
static const char *const FUNCTIONS[] = {"cal_abi", "cal_name", "cal_version", "cal_points", "cal_params", "cal_params_save", "cal_params_load", "cal_fit"};
#define N_FUNCTIONS (sizeof FUNCTIONS / sizeof FUNCTIONS[0])

typedef struct {
    uint8_t *copy; /* WAMR loads from (and the classic interpreter runs from) this RAM copy */
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    wasm_function_inst_t eval, fns[N_FUNCTIONS];
    int failure; /* 0 none, 1 trapped, 2 ran past its budget */
    char words[120];
} mod_t;

static mod_t *s_mod[HANDLES];

static void mod_free(mod_t *m)
{
    if (m == NULL) return;
    if (m->env) wasm_runtime_destroy_exec_env(m->env);
    if (m->inst) wasm_runtime_deinstantiate(m->inst);
    if (m->module) wasm_runtime_unload(m->module);
    free(m->copy);
    free(m);
}

/* Calls f on a fresh instruction budget; a trap or an exhausted budget becomes the failure. */
static bool mod_call_wasm(mod_t *m, wasm_function_inst_t f, int budget, uint32_t argc, uint32_t *argv)
{
    if (f == NULL) return false;
    wasm_runtime_set_instruction_count_limit(m->env, budget);
    if (wasm_runtime_call_wasm(m->env, f, argc, argv)) return true;
    const char *e = wasm_runtime_get_exception(m->inst);
    if (!m->failure) {
        bool budget_out = e && strstr(e, "instruction limit") != NULL;
        m->failure = budget_out ? 2 : 1;
        if (budget_out) snprintf(m->words, sizeof m->words, "ran past its budget of %d instructions in one call", budget);
        else snprintf(m->words, sizeof m->words, "trapped: %s", e ? e : "?");
    }
    wasm_runtime_clear_exception(m->inst);
    return false;
}

static double mod_eval(mod_t *m, double x, double c0, double c1, double c2, double c3, double t)
{
    double in[6] = {x, c0, c1, c2, c3, t}, kg = NAN;
    uint32_t argv[12];
    memcpy(argv, in, sizeof in);
    if (mod_call_wasm(m, m->eval, CAL_MODULE_BUDGET_EVAL, 12, argv)) memcpy(&kg, argv, sizeof kg);
    return kg;
}

/* ---- the manager's state here -------------------------------------------------------------------- */

static cal_manager_config_t s_cfg;
static struct {
    uint8_t *copy;
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    uint32_t taken;
} s_mgr;
static bool s_registered;
static uint32_t s_peak;
/* The message being handled. */
static const uint8_t *s_payload;
static size_t s_payload_len;
/* Per sample: good readings since the last link, a failure and what it weighed, when to wake. */
static uint32_t s_good;
static bool s_failed;
static double s_fail_x, s_fail_kg;
static int32_t s_wake;
/* What the manager said last of the module in force. */
static char s_active_name[33];
static bool s_has_active, s_trial;

/* ---- natives: what the manager imports ("mgr", assembly/manager/host.ts) ------------------------ */

/* Manager memory at app address `at`, n bytes; NULL when out of bounds. */
static void *app(wasm_exec_env_t env, uint32_t at, uint32_t n)
{
    wasm_module_inst_t inst = wasm_runtime_get_module_inst(env);
    if (!wasm_runtime_validate_app_addr(inst, at, n == 0 ? 1 : n)) return NULL;
    return wasm_runtime_addr_app_to_native(inst, at);
}

static bool storage_read(void *ctx, uint32_t offset, void *data, size_t len)
{
    int slot = (int)(intptr_t)ctx;
    return s_cfg.storage->read(s_cfg.storage->ctx, slot, offset, data, len);
}

static int32_t n_slot_read(wasm_exec_env_t env, int32_t slot, uint32_t offset, uint32_t at, uint32_t len)
{
    void *p = app(env, at, len);
    if (p == NULL || (slot != 0 && slot != 1) || (uint64_t)offset + len > s_cfg.storage->slot_bytes) return -1;
    return s_cfg.storage->read(s_cfg.storage->ctx, slot, offset, p, len) ? (int32_t)len : -1;
}

static int32_t n_slot_erase(wasm_exec_env_t env, int32_t slot)
{
    (void)env;
    return (slot == 0 || slot == 1) && s_cfg.storage->erase(s_cfg.storage->ctx, slot);
}

static int32_t n_slot_write_message(wasm_exec_env_t env, int32_t slot, uint32_t offset)
{
    (void)env;
    return s_payload != NULL && (slot == 0 || slot == 1) && s_cfg.storage->write(s_cfg.storage->ctx, slot, offset, s_payload, s_payload_len);
}

static int32_t n_slot_sha256(wasm_exec_env_t env, int32_t slot, uint32_t offset, uint32_t len, uint32_t out)
{
    uint8_t *p = app(env, out, 32);
    if (p == NULL || (slot != 0 && slot != 1) || (uint64_t)offset + len > s_cfg.storage->slot_bytes) return 0;
    return module_sha256_read(storage_read, (void *)(intptr_t)slot, offset, len, p);
}

static uint32_t n_slot_capacity(wasm_exec_env_t env)
{
    (void)env;
    return s_cfg.storage->slot_bytes;
}

static int32_t n_params_put(wasm_exec_env_t env, int32_t slot, uint32_t at, uint32_t len)
{
    void *p = app(env, at, len);
    return p != NULL && (slot == 0 || slot == 1) && s_cfg.storage->save_params(s_cfg.storage->ctx, slot, p, len);
}

static int32_t n_params_get(wasm_exec_env_t env, int32_t slot, uint32_t at, uint32_t cap)
{
    void *p = app(env, at, cap);
    if (p == NULL || (slot != 0 && slot != 1)) return 0;
    return (int32_t)s_cfg.storage->load_params(s_cfg.storage->ctx, slot, p, cap);
}

static int32_t n_state_put(wasm_exec_env_t env, uint32_t at, uint32_t len)
{
    void *p = app(env, at, len);
    bool ok = p != NULL && s_cfg.storage->save_state(s_cfg.storage->ctx, p, len);
    if (!ok) ESP_LOGE(TAG, "saving the module slots' state failed");
    return ok;
}

static int32_t n_message_read(wasm_exec_env_t env, uint32_t at, uint32_t cap)
{
    void *p = app(env, at, cap);
    if (p && s_payload) memcpy(p, s_payload, s_payload_len < cap ? s_payload_len : cap);
    return (int32_t)s_payload_len;
}

static int32_t n_verify(wasm_exec_env_t env, int32_t slot, uint32_t man_at, uint32_t man_len, uint32_t sig_at, uint32_t sig_len, uint32_t key, int32_t key_len)
{
    char id[17] = "";
    const char *want = NULL;
    if (key_len == 16) {
        const char *k = app(env, key, 16);
        if (k == NULL) return 1;
        memcpy(id, k, 16);
        want = id;
    }
    if ((slot != 0 && slot != 1) || man_len > MAX_MANIFEST || sig_len > MAX_SIGNATURE) return 2;
    uint8_t *man = malloc(man_len + 1), sig[MAX_SIGNATURE];
    int r = 2;
    if (man && storage_read((void *)(intptr_t)slot, man_at, man, man_len) && storage_read((void *)(intptr_t)slot, sig_at, sig, sig_len)) {
        r = module_verify(man, man_len, sig, sig_len, want, s_cfg.keys_pem, s_cfg.n_keys);
    }
    free(man);
    return r;
}

static void n_code_out(wasm_exec_env_t env, uint32_t at, uint32_t len)
{
    /* WAMR bounds every call by counting instructions: the module is loaded as it is. */
    (void)env, (void)at, (void)len;
}

/* Loads handle h from len bytes of slot at offset: 0, or 1 not loadable / 2 no memory, with the engine's words. */
static int32_t n_mod_load(wasm_exec_env_t env, int32_t h, int32_t slot, uint32_t offset, uint32_t len, uint32_t err, int32_t cap)
{
    char *words = app(env, err, (uint32_t)cap);
    if (h < 0 || h >= HANDLES || words == NULL || cap < 1) return 1;
    mod_free(s_mod[h]);
    s_mod[h] = NULL;
    mod_t *m = calloc(1, sizeof *m);
    if (m) m->copy = malloc(len);
    int code = 0;
    char error[128] = "";
    if (m == NULL || m->copy == NULL) {
        code = 2;
        snprintf(error, sizeof error, "no %u bytes of heap for the module", (unsigned)len);
    } else if (!storage_read((void *)(intptr_t)slot, offset, m->copy, len)) {
        code = 1;
        snprintf(error, sizeof error, "its slot cannot be read");
    } else if ((m->module = wasm_runtime_load(m->copy, len, error, sizeof error)) == NULL) {
        code = 1;
    } else if ((m->inst = wasm_runtime_instantiate(m->module, CAL_MODULE_STACK_BYTES, 0, error, sizeof error)) == NULL) {
        code = 2;
    } else {
        wasm_memory_inst_t memory = wasm_runtime_get_default_memory(m->inst);
        uint64_t bytes = memory ? wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory) : 0;
        if (memory == NULL || bytes > MAX_LINEAR_BYTES) {
            code = 2;
            snprintf(error, sizeof error, "its linear memory is %u bytes (a module keeps to its static data)", (unsigned)bytes);
        } else if ((m->env = wasm_runtime_create_exec_env(m->inst, CAL_MODULE_STACK_BYTES)) == NULL) {
            code = 2;
            snprintf(error, sizeof error, "no memory for its execution environment");
        } else {
            m->eval = wasm_runtime_lookup_function(m->inst, "cal_eval");
            for (size_t i = 0; i < N_FUNCTIONS; i++) m->fns[i] = wasm_runtime_lookup_function(m->inst, FUNCTIONS[i]);
        }
    }
    if (code != 0) {
        mod_free(m);
        size_t n = strnlen(error, (size_t)cap);
        memcpy(words, error, n);
        return code | (int32_t)(n << 16);
    }
    s_mod[h] = m;
    return 0;
}

static void n_mod_free(wasm_exec_env_t env, int32_t h)
{
    (void)env;
    if (h < 0 || h >= HANDLES) return;
    mod_free(s_mod[h]);
    s_mod[h] = NULL;
}

static void n_mod_swap(wasm_exec_env_t env, int32_t a, int32_t b)
{
    (void)env;
    if (a < 0 || a >= HANDLES || b < 0 || b >= HANDLES) return;
    mod_t *t = s_mod[a];
    s_mod[a] = s_mod[b];
    s_mod[b] = t;
}

static int32_t n_mod_call(wasm_exec_env_t env, int32_t h, int32_t fn, int32_t a, int32_t b)
{
    (void)env;
    mod_t *m = h >= 0 && h < HANDLES ? s_mod[h] : NULL;
    if (m == NULL || fn < 0 || fn >= (int32_t)N_FUNCTIONS) return INT32_MIN;
    uint32_t argv[2] = {(uint32_t)a, (uint32_t)b};
    uint32_t argc = fn == 6 ? 1 : fn == 7 ? 2 : 0;
    return mod_call_wasm(m, m->fns[fn], fn == 7 ? CAL_MODULE_BUDGET_FIT : CAL_MODULE_BUDGET_OTHER, argc, argv) ? (int32_t)argv[0] : INT32_MIN;
}

static double n_mod_eval(wasm_exec_env_t env, int32_t h, double x, double c0, double c1, double c2, double c3, double t)
{
    (void)env;
    mod_t *m = h >= 0 && h < HANDLES ? s_mod[h] : NULL;
    return m ? mod_eval(m, x, c0, c1, c2, c3, t) : NAN;
}

static int32_t n_mod_failure(wasm_exec_env_t env, int32_t h, uint32_t at, int32_t cap)
{
    mod_t *m = h >= 0 && h < HANDLES ? s_mod[h] : NULL;
    char *p = app(env, at, (uint32_t)cap);
    if (m == NULL || !m->failure || p == NULL) return 0;
    size_t n = strnlen(m->words, (size_t)cap);
    memcpy(p, m->words, n);
    return m->failure | (int32_t)(n << 16);
}

static void n_mod_clear(wasm_exec_env_t env, int32_t h)
{
    (void)env;
    if (h >= 0 && h < HANDLES && s_mod[h]) s_mod[h]->failure = 0;
}

static int32_t n_mod_memory(wasm_exec_env_t env, int32_t h, uint32_t addr, uint32_t at, uint32_t len, int32_t to)
{
    mod_t *m = h >= 0 && h < HANDLES ? s_mod[h] : NULL;
    uint8_t *p = app(env, at, len);
    if (m == NULL || p == NULL || !wasm_runtime_validate_app_addr(m->inst, addr, len == 0 ? 1 : len)) return 0;
    uint8_t *q = wasm_runtime_addr_app_to_native(m->inst, addr);
    if (to) memcpy(q, p, len);
    else memcpy(p, q, len);
    return 1;
}

static int32_t n_core_link(wasm_exec_env_t env, int32_t on)
{
    (void)env;
    int32_t r = s_cfg.core_module(on != 0);
    s_good = 0;
    s_failed = false;
    if (s_mod[ACTIVE]) s_mod[ACTIVE]->failure = 0;
    return r;
}

static void n_answer(wasm_exec_env_t env, uint32_t at, uint32_t len)
{
    const char *p = app(env, at, len);
    char *text = p ? malloc(len + 1) : NULL;
    if (text == NULL) return;
    memcpy(text, p, len);
    text[len] = 0;
    ESP_LOGI(TAG, "%s", text);
    if (s_cfg.answer) s_cfg.answer(text);
    free(text);
}

static double n_now_ms(wasm_exec_env_t env)
{
    (void)env;
    return s_cfg.now_ms ? s_cfg.now_ms() : 0;
}

static NativeSymbol s_natives[] = {
    {"slot_read", (void *)n_slot_read, "(iiii)i", NULL},
    {"slot_erase", (void *)n_slot_erase, "(i)i", NULL},
    {"slot_write_message", (void *)n_slot_write_message, "(ii)i", NULL},
    {"slot_sha256", (void *)n_slot_sha256, "(iiii)i", NULL},
    {"slot_capacity", (void *)n_slot_capacity, "()i", NULL},
    {"params_put", (void *)n_params_put, "(iii)i", NULL},
    {"params_get", (void *)n_params_get, "(iii)i", NULL},
    {"state_put", (void *)n_state_put, "(ii)i", NULL},
    {"message_read", (void *)n_message_read, "(ii)i", NULL},
    {"verify", (void *)n_verify, "(iiiiiii)i", NULL},
    {"code_out", (void *)n_code_out, "(ii)", NULL},
    {"mod_load", (void *)n_mod_load, "(iiiiii)i", NULL},
    {"mod_free", (void *)n_mod_free, "(i)", NULL},
    {"mod_swap", (void *)n_mod_swap, "(ii)", NULL},
    {"mod_call", (void *)n_mod_call, "(iiii)i", NULL},
    {"mod_eval", (void *)n_mod_eval, "(iFFFFFF)F", NULL},
    {"mod_failure", (void *)n_mod_failure, "(iii)i", NULL},
    {"mod_clear", (void *)n_mod_clear, "(i)", NULL},
    {"mod_memory", (void *)n_mod_memory, "(iiiii)i", NULL},
    {"core_link", (void *)n_core_link, "(i)i", NULL},
    {"answer", (void *)n_answer, "(ii)", NULL},
    {"now_ms", (void *)n_now_ms, "()F", NULL},
};

/* ---- the manager: loaded while it has something to decide --------------------------------------- */

static void mgr_close(void)
{
    if (s_mgr.env) wasm_runtime_destroy_exec_env(s_mgr.env);
    if (s_mgr.inst) wasm_runtime_deinstantiate(s_mgr.inst);
    if (s_mgr.module) wasm_runtime_unload(s_mgr.module);
    free(s_mgr.copy);
    memset(&s_mgr, 0, sizeof s_mgr);
}

static bool mgr_call(const char *name, uint32_t argc, uint32_t *argv)
{
    wasm_function_inst_t f = wasm_runtime_lookup_function(s_mgr.inst, name);
    if (f == NULL) {
        ESP_LOGE(TAG, "the module manager has no %s", name);
        return false;
    }
    wasm_runtime_set_instruction_count_limit(s_mgr.env, CAL_MANAGER_BUDGET);
    if (wasm_runtime_call_wasm(s_mgr.env, f, argc, argv)) return true;
    const char *e = wasm_runtime_get_exception(s_mgr.inst);
    ESP_LOGE(TAG, "the module manager failed in %s: %s", name, e ? e : "?");
    wasm_runtime_clear_exception(s_mgr.inst);
    return false;
}

static int32_t mgr_i(const char *name)
{
    uint32_t argv[1] = {0};
    return mgr_call(name, 0, argv) ? (int32_t)argv[0] : 0;
}

/* What the manager says of the module in force, kept for cal_manager_active and the per-sample path. */
static void mgr_note(void)
{
    s_wake = mgr_i("mgr_wake");
    int32_t name = mgr_i("mgr_active");
    const char *p = name ? wasm_runtime_addr_app_to_native(s_mgr.inst, (uint64_t)name) : NULL;
    s_has_active = p != NULL && wasm_runtime_validate_app_addr(s_mgr.inst, (uint64_t)name, 33);
    if (s_has_active) snprintf(s_active_name, sizeof s_active_name, "%s", p);
    s_trial = s_has_active && mgr_i("mgr_trial") == 1;
}

/* Loads the manager (and restores the slots when `start`); false when it cannot run. */
static bool mgr_open(bool start)
{
    if (s_mgr.inst) return true;
    size_t before = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    char error[128];
    s_mgr.copy = malloc(s_cfg.manager_len);
    if (s_mgr.copy == NULL) {
        ESP_LOGE(TAG, "no %u bytes of heap for the module manager", (unsigned)s_cfg.manager_len);
        return false;
    }
    memcpy(s_mgr.copy, s_cfg.manager_wasm, s_cfg.manager_len);
    /* As the core (wasm_host.c): the fast interpreter keeps its own translation, so the copy goes
     * once loaded; the classic interpreter runs from it. */
    LoadArgs args;
    memset(&args, 0, sizeof args);
    args.name = (char *)"manager";
#ifdef CONFIG_WAMR_INTERP_FAST
    args.wasm_binary_freeable = true;
#endif
    s_mgr.module = wasm_runtime_load_ex(s_mgr.copy, (uint32_t)s_cfg.manager_len, &args, error, sizeof error);
    if (s_mgr.module && args.wasm_binary_freeable && wasm_runtime_is_underlying_binary_freeable(s_mgr.module)) {
        free(s_mgr.copy);
        s_mgr.copy = NULL;
    }
    if (s_mgr.module) s_mgr.inst = wasm_runtime_instantiate(s_mgr.module, CAL_MANAGER_STACK_BYTES, 0, error, sizeof error);
    if (s_mgr.inst) s_mgr.env = wasm_runtime_create_exec_env(s_mgr.inst, CAL_MANAGER_STACK_BYTES);
    if (s_mgr.env == NULL) {
        ESP_LOGE(TAG, "the module manager does not load: %s", s_mgr.module ? error : "no memory");
        mgr_close();
        return false;
    }
    size_t after = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    s_mgr.taken = before > after ? (uint32_t)(before - after) : 0;
    if (s_mgr.taken > s_peak) s_peak = s_mgr.taken;
    uint32_t argv[2] = {s_cfg.chunk_bytes, 0};
    if (!mgr_call("mgr_configure", 2, argv)) return false;
    if (!start) {
        /* The slots' state as the manager wrote it: it decides nothing from memory of an earlier load. */
        uint32_t io = (uint32_t)mgr_i("mgr_io");
        uint8_t *p = wasm_runtime_addr_app_to_native(s_mgr.inst, io);
        argv[0] = (uint32_t)s_cfg.storage->load_state(s_cfg.storage->ctx, p, STATE_CAP);
        argv[1] = (s_mod[ACTIVE] ? 1u : 0u) | (s_mod[PREVIOUS] ? 2u : 0u);
        return mgr_call("mgr_resume", 2, argv);
    }
    return true;
}

/* Frees the manager unless a transfer (or something to decide at the next sample) keeps it. */
static void mgr_release(void)
{
    if (!s_mgr.inst) return;
    mgr_note();
    if (mgr_i("mgr_busy")) return;
    mgr_close();
}

static void f64_args(uint32_t *argv, double a, double b)
{
    memcpy(argv, &a, 8);
    memcpy(argv + 2, &b, 8);
}

static void range(double *capacity, double *division)
{
    *capacity = 50;
    *division = 0.01;
    if (s_cfg.core_range) s_cfg.core_range(capacity, division);
}

/* ---- per sample: the core's calib imports ------------------------------------------------------- */

static double eval_cb(void *context, double x, double c0, double c1, double c2, double c3, double temp_c)
{
    (void)context;
    mod_t *a = s_mod[ACTIVE];
    if (a == NULL) return NAN;
    double kg = mod_eval(a, x, c0, c1, c2, c3, temp_c);
    if (isfinite(kg)) {
        s_good++;
        return kg;
    }
    if (!s_failed) {
        s_failed = true;
        s_fail_x = x;
        s_fail_kg = kg;
    }
    /* This reading is weighed by the previous calibration: the failing module's weight never goes out. */
    return s_mod[PREVIOUS] ? mod_eval(s_mod[PREVIOUS], x, c0, c1, c2, c3, temp_c) : NAN;
}

static int32_t fit_cb(void *context, int32_t order, const uint8_t *points, int32_t n, double zero_counts)
{
    (void)context;
    if (s_mod[ACTIVE] == NULL || n < 1 || n > MAX_POINTS || !mgr_open(false)) return -6;
    uint8_t *io = wasm_runtime_addr_app_to_native(s_mgr.inst, (uint32_t)mgr_i("mgr_io"));
    for (int i = 0; i < n; i++) {
        double x, kg;
        float kg32;
        memcpy(&x, points + i * POINT_BYTES, 8);
        memcpy(&kg32, points + i * POINT_BYTES + 8, 4);
        x -= zero_counts;
        kg = kg32;
        memcpy(io + i * 16, &x, 8);
        memcpy(io + i * 16 + 8, &kg, 8);
    }
    uint32_t argv[6] = {(uint32_t)order, (uint32_t)n};
    double capacity, division;
    range(&capacity, &division);
    f64_args(argv + 2, capacity, division);
    int32_t r = mgr_call("mgr_fit", 6, argv) ? (int32_t)argv[0] : -6;
    mgr_release();
    return r;
}

void cal_manager_start(const cal_manager_config_t *config)
{
    s_cfg = *config;
    if (!s_registered) {
        s_registered = wasm_runtime_register_natives("mgr", s_natives, sizeof s_natives / sizeof s_natives[0]);
        if (!s_registered) ESP_LOGE(TAG, "registering the module manager's imports failed");
    }
    wasm_host_calibration_t cb = {.context = NULL, .eval = eval_cb, .fit = fit_cb};
    wasm_host_set_calibration(&cb);
    if (!mgr_open(true)) return;
    uint32_t io = (uint32_t)mgr_i("mgr_io");
    uint8_t *p = wasm_runtime_addr_app_to_native(s_mgr.inst, io);
    uint32_t argv[1] = {(uint32_t)s_cfg.storage->load_state(s_cfg.storage->ctx, p, STATE_CAP)};
    mgr_call("mgr_start", 1, argv);
    mgr_note();
    if (s_has_active) ESP_LOGI(TAG, "calibration module %s%s", s_active_name, s_trial ? " (on trial)" : "");
    ESP_LOGI(TAG, "the module manager took %u bytes of heap while loaded", (unsigned)s_mgr.taken);
    mgr_release();
}

void cal_manager_relink(void)
{
    if (s_mod[ACTIVE] && s_cfg.core_module(true) != 0) ESP_LOGE(TAG, "the core refused %s again after it was instantiated again", s_active_name);
}

void cal_manager_after_sample(void)
{
    if (!(s_failed || s_wake < 0 || (s_wake > 0 && s_good >= (uint32_t)s_wake))) return;
    bool failed = s_failed;
    s_failed = false;
    if (!mgr_open(false)) return;
    uint32_t argv[6] = {s_good, failed ? 1u : 0u};
    f64_args(argv + 2, s_fail_x, s_fail_kg);
    mgr_call("mgr_after_sample", 6, argv);
    mgr_release();
}

void cal_manager_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len)
{
    if (!mgr_open(false)) return;
    uint32_t io = (uint32_t)mgr_i("mgr_io");
    if (sub_len > 200) sub_len = 200;
    memcpy(wasm_runtime_addr_app_to_native(s_mgr.inst, io), sub, sub_len);
    s_payload = payload;
    s_payload_len = len;
    uint32_t argv[6] = {(uint32_t)sub_len, (uint32_t)len};
    double capacity, division;
    range(&capacity, &division);
    f64_args(argv + 2, capacity, division);
    mgr_call("mgr_message", 6, argv);
    s_payload = NULL;
    s_payload_len = 0;
    mgr_release();
}

void cal_manager_rollback(void)
{
    if (!mgr_open(false)) return;
    uint32_t argv[1] = {0};
    mgr_call("mgr_rollback", 0, argv);
    mgr_release();
}

const char *cal_manager_active(bool *trial)
{
    if (trial) *trial = s_has_active && s_trial;
    return s_has_active ? s_active_name : NULL;
}

uint32_t cal_manager_peak_bytes(void)
{
    return s_peak;
}

void cal_manager_stop(void)
{
    wasm_host_set_calibration(NULL);
    mgr_close();
    for (int h = 0; h < HANDLES; h++) {
        mod_free(s_mod[h]);
        s_mod[h] = NULL;
    }
    s_has_active = false;
    s_good = 0;
    s_failed = false;
    s_wake = 0;
}
