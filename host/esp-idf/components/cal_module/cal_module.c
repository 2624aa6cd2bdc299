/* WAMR as the module manager's engine: see cal_module.h. */
#include "cal_module.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_heap_caps.h"
#include "esp_log.h"
#include "wasm_export.h"
#include "wasm_host.h"

#ifndef SCALE_WASM_METERING
#error "calibration modules need WAMR's instruction metering (WAMR_BUILD_INSTRUCTION_METERING): a module could loop for ever"
#endif

static const char *TAG = "cal_module";

/* A module's linear memory must have shrunk to its static data (the manager checks its layout). */
#define MAX_LINEAR_BYTES 16384

/* ---- the manager ------------------------------------------------------------------------------------ */

static struct {
    uint8_t *copy;
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
} s_mgr;

static void mgr_free(void)
{
    if (s_mgr.env) wasm_runtime_destroy_exec_env(s_mgr.env);
    if (s_mgr.inst) wasm_runtime_deinstantiate(s_mgr.inst);
    if (s_mgr.module) wasm_runtime_unload(s_mgr.module);
    free(s_mgr.copy);
    memset(&s_mgr, 0, sizeof s_mgr);
}

static bool mgr_load(const uint8_t *wasm, size_t len, char *error, size_t cap)
{
    const size_t before = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    s_mgr.copy = malloc(len);
    if (s_mgr.copy == NULL) {
        snprintf(error, cap, "no %u bytes of heap for it", (unsigned)len);
        return false;
    }
    /* The loader writes into the buffer it is given: a RAM copy of the image. As for the core
     * (wasm_host.c), the fast interpreter keeps its own translation and the copy goes once loaded;
     * the classic interpreter runs from it. */
    memcpy(s_mgr.copy, wasm, len);
    LoadArgs args;
    memset(&args, 0, sizeof args);
    args.name = (char *)"manager";
#ifdef CONFIG_WAMR_INTERP_FAST
    args.wasm_binary_freeable = true;
#endif
    s_mgr.module = wasm_runtime_load_ex(s_mgr.copy, (uint32_t)len, &args, error, (uint32_t)cap);
    if (s_mgr.module && args.wasm_binary_freeable && wasm_runtime_is_underlying_binary_freeable(s_mgr.module)) {
        free(s_mgr.copy);
        s_mgr.copy = NULL;
    }
    if (s_mgr.module) s_mgr.inst = wasm_runtime_instantiate(s_mgr.module, CAL_MANAGER_STACK_BYTES, 0, error, (uint32_t)cap);
    if (s_mgr.inst) s_mgr.env = wasm_runtime_create_exec_env(s_mgr.inst, CAL_MANAGER_STACK_BYTES);
    if (s_mgr.env == NULL) {
        if (s_mgr.inst) snprintf(error, cap, "no memory for its execution environment");
        mgr_free();
        return false;
    }
    const size_t after = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    const char *which = wasm_runtime_lookup_function(s_mgr.inst, "mgr_core_boot") ? "core" : "module"; /* build/core-manager.wasm, or build/manager.wasm */
    ESP_LOGI(TAG, "%s manager loaded: took %u bytes, heap free %u, least ever %u", which, (unsigned)(before > after ? before - after : 0), (unsigned)after,
             (unsigned)heap_caps_get_minimum_free_size(MALLOC_CAP_8BIT));
    return true;
}

static bool mgr_call(const char *name, const char *sig, const double *args, double *result)
{
    wasm_function_inst_t f = s_mgr.inst ? wasm_runtime_lookup_function(s_mgr.inst, name) : NULL;
    if (f == NULL) return false;
    uint32_t argv[16] = {0}, argc = 0;
    for (size_t i = 0; sig[i] && argc < 14; i++) {
        if (sig[i] == 'F') {
            memcpy(argv + argc, &args[i], 8);
            argc += 2;
        } else {
            argv[argc++] = (uint32_t)(int32_t)args[i];
        }
    }
    wasm_runtime_set_instruction_count_limit(s_mgr.env, CAL_MANAGER_BUDGET);
    if (!wasm_runtime_call_wasm(s_mgr.env, f, argc, argv)) {
        const char *e = wasm_runtime_get_exception(s_mgr.inst);
        ESP_LOGE(TAG, "the module manager failed in %s: %s", name, e ? e : "?");
        wasm_runtime_clear_exception(s_mgr.inst);
        return false;
    }
    uint32_t results = wasm_func_get_result_count(f, s_mgr.inst);
    if (results == 1 && result) {
        wasm_valkind_t kind;
        wasm_func_get_result_types(f, s_mgr.inst, &kind);
        if (kind == WASM_F64) memcpy(result, argv, 8);
        else *result = (double)(int32_t)argv[0];
    }
    return true;
}

static uint8_t *mgr_memory(uint32_t *size)
{
    wasm_memory_inst_t memory = s_mgr.inst ? wasm_runtime_get_default_memory(s_mgr.inst) : NULL;
    if (memory == NULL) return NULL;
    *size = (uint32_t)(wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory));
    return wasm_memory_get_base_address(memory);
}

/* ---- module instances -------------------------------------------------------------------------- */

typedef struct {
    uint8_t *copy; /* the classic interpreter runs from this RAM copy */
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
} mod_t;

static void mod_free(void *p)
{
    mod_t *m = p;
    if (m == NULL) return;
    if (m->env) wasm_runtime_destroy_exec_env(m->env);
    if (m->inst) wasm_runtime_deinstantiate(m->inst);
    if (m->module) wasm_runtime_unload(m->module);
    free(m->copy);
    free(m);
}

static void *mod_load(const uint8_t *wasm, size_t len, int *code, char *error, size_t cap)
{
    mod_t *m = calloc(1, sizeof *m);
    if (m) m->copy = malloc(len);
    if (m == NULL || m->copy == NULL) {
        free(m);
        *code = 2;
        snprintf(error, cap, "no %u bytes of heap for the module", (unsigned)len);
        return NULL;
    }
    memcpy(m->copy, wasm, len);
    *code = 0;
    if ((m->module = wasm_runtime_load(m->copy, (uint32_t)len, error, (uint32_t)cap)) == NULL) {
        *code = 1;
    } else if ((m->inst = wasm_runtime_instantiate(m->module, CAL_MODULE_STACK_BYTES, 0, error, (uint32_t)cap)) == NULL) {
        *code = 2;
    } else {
        wasm_memory_inst_t memory = wasm_runtime_get_default_memory(m->inst);
        uint64_t bytes = memory ? wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory) : 0;
        if (memory == NULL || bytes > MAX_LINEAR_BYTES) {
            *code = 2;
            snprintf(error, cap, "its linear memory is %u bytes (a module keeps to its static data)", (unsigned)bytes);
        } else if ((m->env = wasm_runtime_create_exec_env(m->inst, CAL_MODULE_STACK_BYTES)) == NULL) {
            *code = 2;
            snprintf(error, cap, "no memory for its execution environment");
        }
    }
    if (*code != 0) {
        mod_free(m);
        return NULL;
    }
    return m;
}

static const int BUDGETS[] = {CAL_MODULE_BUDGET_EVAL, CAL_MODULE_BUDGET_FIT, CAL_MODULE_BUDGET_OTHER};

/* Calls f on a fresh instruction budget; false with the words when it trapped or ran out. */
static bool run(mod_t *m, wasm_function_inst_t f, module_budget_t budget, uint32_t argc, uint32_t *argv, bool *out, char *words, size_t cap)
{
    if (f == NULL) {
        *out = false;
        snprintf(words, cap, "it has no such export");
        return false;
    }
    wasm_runtime_set_instruction_count_limit(m->env, BUDGETS[budget]);
    if (wasm_runtime_call_wasm(m->env, f, argc, argv)) return true;
    const char *e = wasm_runtime_get_exception(m->inst);
    *out = e && strstr(e, "instruction limit") != NULL;
    if (*out) snprintf(words, cap, "ran past its budget of %d instructions in one call", BUDGETS[budget]);
    else snprintf(words, cap, "%s", e ? e : "?");
    wasm_runtime_clear_exception(m->inst);
    return false;
}

static bool mod_call(void *p, const char *name, int argc, const int32_t *args, module_budget_t budget, int32_t *result, bool *out, char *words, size_t cap)
{
    mod_t *m = p;
    uint32_t argv[2] = {0};
    for (int i = 0; i < argc && i < 2; i++) argv[i] = (uint32_t)args[i];
    if (!run(m, wasm_runtime_lookup_function(m->inst, name), budget, (uint32_t)argc, argv, out, words, cap)) return false;
    *result = (int32_t)argv[0];
    return true;
}

static bool mod_gain(void *p, const double chips[4], double *gain, bool *out, char *words, size_t cap)
{
    mod_t *m = p;
    uint32_t argv[8];
    memcpy(argv, chips, 4 * sizeof(double));
    if (!run(m, wasm_runtime_lookup_function(m->inst, "cal_gain"), MODULE_BUDGET_EVAL, 8, argv, out, words, cap)) return false;
    memcpy(gain, argv, sizeof *gain);
    return true;
}

static bool mod_curve(void *p, double temp_c, int32_t *knots, bool *out, char *words, size_t cap)
{
    mod_t *m = p;
    uint32_t argv[2];
    memcpy(argv, &temp_c, sizeof temp_c);
    if (!run(m, wasm_runtime_lookup_function(m->inst, "cal_curve"), MODULE_BUDGET_OTHER, 2, argv, out, words, cap)) return false;
    *knots = (int32_t)argv[0];
    return true;
}

static uint8_t *mod_memory(void *p, uint32_t *size)
{
    mod_t *m = p;
    wasm_memory_inst_t memory = wasm_runtime_get_default_memory(m->inst);
    if (memory == NULL) return NULL;
    *size = (uint32_t)(wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory));
    return wasm_memory_get_base_address(memory);
}

/* ---- the manager's imports as WAMR natives ----------------------------------------------------- */

static int32_t n_slot_read(wasm_exec_env_t e, int32_t s, uint32_t o, uint32_t at, uint32_t n) { (void)e; return mh_slot_read(s, o, at, n); }
static int32_t n_slot_erase(wasm_exec_env_t e, int32_t s) { (void)e; return mh_slot_erase(s); }
static int32_t n_slot_write_message(wasm_exec_env_t e, int32_t s, uint32_t o) { (void)e; return mh_slot_write_message(s, o); }
static int32_t n_slot_sha256(wasm_exec_env_t e, int32_t s, uint32_t o, uint32_t n, uint32_t out) { (void)e; return mh_slot_sha256(s, o, n, out); }
static uint32_t n_slot_capacity(wasm_exec_env_t e) { (void)e; return mh_slot_capacity(); }
static int32_t n_params_put(wasm_exec_env_t e, int32_t s, uint32_t at, uint32_t n) { (void)e; return mh_params_put(s, at, n); }
static int32_t n_params_get(wasm_exec_env_t e, int32_t s, uint32_t at, uint32_t cap) { (void)e; return mh_params_get(s, at, cap); }
static int32_t n_state_put(wasm_exec_env_t e, uint32_t at, uint32_t n) { (void)e; return mh_state_put(at, n); }
static int32_t n_message_read(wasm_exec_env_t e, uint32_t at, uint32_t cap) { (void)e; return mh_message_read(at, cap); }
static int32_t n_verify(wasm_exec_env_t e, int32_t s, uint32_t ma, uint32_t ml, uint32_t sa, uint32_t sl, uint32_t k, int32_t kl) { (void)e; return mh_verify(s, ma, ml, sa, sl, k, kl); }
static void n_code_out(wasm_exec_env_t e, uint32_t at, uint32_t n) { (void)e; mh_code_out(at, n); }
static int32_t n_mod_load(wasm_exec_env_t e, int32_t h, int32_t s, uint32_t o, uint32_t n, uint32_t err, int32_t cap) { (void)e; return mh_mod_load(h, s, o, n, err, cap); }
static void n_mod_free(wasm_exec_env_t e, int32_t h) { (void)e; mh_mod_free(h); }
static void n_mod_swap(wasm_exec_env_t e, int32_t a, int32_t b) { (void)e; mh_mod_swap(a, b); }
static int32_t n_mod_call(wasm_exec_env_t e, int32_t h, int32_t fn, int32_t a, int32_t b) { (void)e; return mh_mod_call(h, fn, a, b); }
static double n_mod_gain(wasm_exec_env_t e, int32_t h, double c0, double c1, double c2, double c3) { (void)e; return mh_mod_gain(h, c0, c1, c2, c3); }
static int32_t n_mod_curve(wasm_exec_env_t e, int32_t h, double t) { (void)e; return mh_mod_curve(h, t); }
static int32_t n_mod_failure(wasm_exec_env_t e, int32_t h, uint32_t at, int32_t cap) { (void)e; return mh_mod_failure(h, at, cap); }
static void n_mod_clear(wasm_exec_env_t e, int32_t h) { (void)e; mh_mod_clear(h); }
static int32_t n_mod_memory(wasm_exec_env_t e, int32_t h, uint32_t a, uint32_t at, uint32_t n, int32_t to) { (void)e; return mh_mod_memory(h, a, at, n, to); }
static int32_t n_core_link(wasm_exec_env_t e, int32_t on) { (void)e; return mh_core_link(on); }
static void n_answer(wasm_exec_env_t e, uint32_t at, uint32_t n) { (void)e; mh_answer(at, n); }
static double n_now_ms(wasm_exec_env_t e) { (void)e; return mh_now_ms(); }
static uint32_t n_firmware_version(wasm_exec_env_t e) { (void)e; return mh_firmware_version(); }
static int32_t n_firmware_fetch(wasm_exec_env_t e, uint32_t u, int32_t n, uint32_t size, uint32_t sha) { (void)e; return mh_firmware_fetch(u, n, size, sha); }
static int32_t n_core_swap(wasm_exec_env_t e, int32_t s, uint32_t o, uint32_t n, int32_t v, uint32_t err, int32_t cap) { (void)e; return mh_core_swap(s, o, n, v, err, cap); }

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
    {"mod_gain", (void *)n_mod_gain, "(iFFFF)F", NULL},
    {"mod_curve", (void *)n_mod_curve, "(iF)i", NULL},
    {"mod_failure", (void *)n_mod_failure, "(iii)i", NULL},
    {"mod_clear", (void *)n_mod_clear, "(i)", NULL},
    {"mod_memory", (void *)n_mod_memory, "(iiiii)i", NULL},
    {"core_link", (void *)n_core_link, "(i)i", NULL},
    {"answer", (void *)n_answer, "(ii)", NULL},
    {"now_ms", (void *)n_now_ms, "()F", NULL},
    {"core_swap", (void *)n_core_swap, "(iiiiii)i", NULL},
    {"firmware_version", (void *)n_firmware_version, "()i", NULL},
    {"firmware_fetch", (void *)n_firmware_fetch, "(iiii)i", NULL},
};

static const module_engine_t ENGINE = {
    .metered = false,
    .mgr_load = mgr_load, .mgr_free = mgr_free, .mgr_call = mgr_call, .mgr_memory = mgr_memory,
    .mod_load = mod_load, .mod_free = mod_free, .mod_call = mod_call, .mod_gain = mod_gain, .mod_curve = mod_curve,
    .mod_memory = mod_memory,
};

const module_engine_t *cal_module_wamr(void)
{
    static bool registered;
    if (!registered) {
        registered = wasm_runtime_register_natives("mgr", s_natives, sizeof s_natives / sizeof s_natives[0]);
        if (!registered) {
            ESP_LOGE(TAG, "registering the module manager's imports failed");
            return NULL;
        }
    }
    return &ENGINE;
}

/* ---- the core's calib imports --------------------------------------------------------------------- */

static double calib_gain(void *context, double c0, double c1, double c2, double c3)
{
    (void)context;
    return module_host_gain(c0, c1, c2, c3);
}

static int32_t calib_curve(void *context, double temp_c)
{
    (void)context;
    return module_host_curve(temp_c);
}

static double calib_knot(void *context, int32_t i)
{
    (void)context;
    return module_host_knot(i);
}

static void calib_fault(void *context, int32_t kind, double x, double value)
{
    (void)context;
    module_host_fault(kind, x, value);
}

static int32_t calib_fit(void *context, int32_t order, const uint8_t *points, int32_t n, double zero_counts)
{
    (void)context;
    return module_host_fit(order, points, n, zero_counts);
}

void cal_module_link_calibration(bool on)
{
    static const wasm_host_calibration_t calibration = {
        .context = NULL, .gain = calib_gain, .curve = calib_curve, .knot = calib_knot, .fault = calib_fault, .fit = calib_fit};
    wasm_host_set_calibration(on ? &calibration : NULL);
}

/* ---- the core itself over the air: module_host's core host over wasm_host ------------------------ */

static int core_replace(const uint8_t *wasm, size_t len)
{
    const esp_err_t err = wasm_host_replace(wasm, len);
    return err == ESP_OK ? 0 : err == ESP_ERR_NO_MEM ? 2 : 1;
}

static bool core_state_load(const uint8_t *state, size_t len)
{
    return wasm_host_state_load(state, len) == ESP_OK;
}

const module_core_host_t *cal_module_core_host(const uint8_t *own_wasm, size_t own_len)
{
    static module_core_host_t host;
    host = (module_core_host_t){.own_wasm = own_wasm, .own_len = own_len, .ready = wasm_host_ready, .state_copy = wasm_host_state_copy,
                                .state_load = core_state_load, .replace = core_replace, .last_error = wasm_host_last_error};
    return &host;
}
