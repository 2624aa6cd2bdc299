/* wasm3 as the module manager's engine: see modules_wasm3.h. */
#include "modules_wasm3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scale_portable.h"
#include "wasm_host.h"
#include "wasm3.h"
#include "m3_env.h" /* the runtime's memoryLimit, as wasm_host.c sets it for the core */

/* abi.json calibration_module.budget, in steps (function entries and loop iterations): tests/pico-w.test.ts checks them. */
#define BUDGET_EVAL_STEPS 2000
#define BUDGET_FIT_STEPS 200000
#define BUDGET_OTHER_STEPS 20000
static const int32_t STEPS[] = {BUDGET_EVAL_STEPS, BUDGET_FIT_STEPS, BUDGET_OTHER_STEPS};

typedef struct {
    IM3Environment env;
    IM3Runtime runtime;
    IM3Module module;
    IM3Global fuel;
    uint8_t *bytes; /* wasm3 compiles functions from these bytes on their first call: kept */
} instance_t;

static void instance_free(instance_t *i)
{
    if (i == NULL) return;
    if (i->runtime) m3_FreeRuntime(i->runtime); /* frees the modules loaded into it */
    else if (i->module) m3_FreeModule(i->module);
    if (i->env) m3_FreeEnvironment(i->env);
    free(i->bytes);
    free(i);
}

/* Parses and loads bytes into a runtime of their own, memory limited to their __heap_base. */
static instance_t *instance_load(const uint8_t *wasm, size_t len, bool keep, uint32_t stack, char *error, size_t cap)
{
    instance_t *i = calloc(1, sizeof *i);
    int32_t heap_base = scale_wasm_heap_base(wasm, len);
    if (i == NULL) {
        snprintf(error, cap, "no memory");
        return NULL;
    }
    if (heap_base <= 0) {
        snprintf(error, cap, "it exports no __heap_base");
        free(i);
        return NULL;
    }
    if (keep) {
        i->bytes = malloc(len);
        if (i->bytes) memcpy(i->bytes, wasm, len);
    }
    M3Result r = keep && i->bytes == NULL ? m3Err_mallocFailed : m3Err_none;
    if (r == m3Err_none) i->env = m3_NewEnvironment();
    if (r == m3Err_none && i->env) i->runtime = m3_NewRuntime(i->env, stack, NULL);
    if (r == m3Err_none && (i->env == NULL || i->runtime == NULL)) r = m3Err_mallocFailed;
    if (r == m3Err_none) {
        i->runtime->memoryLimit = (uint32_t)heap_base;
        r = m3_ParseModule(i->env, &i->module, keep ? i->bytes : wasm, (uint32_t)len);
    }
    if (r == m3Err_none) {
        r = m3_LoadModule(i->runtime, i->module);
        if (r != m3Err_none) {
            m3_FreeModule(i->module);
            i->module = NULL;
        }
    }
    if (r != m3Err_none) {
        snprintf(error, cap, "%s", r);
        instance_free(i);
        return NULL;
    }
    return i;
}

static uint8_t *instance_memory(instance_t *i, uint32_t *size)
{
    return i ? m3_GetMemory(i->runtime, size, 0) : NULL;
}

/* ---- the manager ------------------------------------------------------------------------------------- */

static instance_t *s_mgr;

#define RAW(name) static const void *name(IM3Runtime runtime, IM3ImportContext ctx, uint64_t *_sp, void *_mem)
#define ARG_I(k) ((int32_t)_sp[1 + (k)])
#define ARG_U(k) ((uint32_t)_sp[1 + (k)])
#define ARG_F(k) (*(double *)&_sp[1 + (k)])
#define RET_I(v) (*(int32_t *)&_sp[0] = (v))
#define RET_F(v) (*(double *)&_sp[0] = (v))
#define VOID_ARG(k) ((int32_t)_sp[(k)])
#define UNUSED (void)runtime, (void)ctx, (void)_mem

RAW(n_slot_read) { UNUSED; RET_I(mh_slot_read(ARG_I(0), ARG_U(1), ARG_U(2), ARG_U(3))); return m3Err_none; }
RAW(n_slot_erase) { UNUSED; RET_I(mh_slot_erase(ARG_I(0))); return m3Err_none; }
RAW(n_slot_write_message) { UNUSED; RET_I(mh_slot_write_message(ARG_I(0), ARG_U(1))); return m3Err_none; }
RAW(n_slot_sha256) { UNUSED; RET_I(mh_slot_sha256(ARG_I(0), ARG_U(1), ARG_U(2), ARG_U(3))); return m3Err_none; }
RAW(n_slot_capacity) { UNUSED; RET_I((int32_t)mh_slot_capacity()); return m3Err_none; }
RAW(n_params_put) { UNUSED; RET_I(mh_params_put(ARG_I(0), ARG_U(1), ARG_U(2))); return m3Err_none; }
RAW(n_params_get) { UNUSED; RET_I(mh_params_get(ARG_I(0), ARG_U(1), ARG_U(2))); return m3Err_none; }
RAW(n_state_put) { UNUSED; RET_I(mh_state_put(ARG_U(0), ARG_U(1))); return m3Err_none; }
RAW(n_message_read) { UNUSED; RET_I(mh_message_read(ARG_U(0), ARG_U(1))); return m3Err_none; }
RAW(n_verify) { UNUSED; RET_I(mh_verify(ARG_I(0), ARG_U(1), ARG_U(2), ARG_U(3), ARG_U(4), ARG_U(5), ARG_I(6))); return m3Err_none; }
RAW(n_code_out) { UNUSED; mh_code_out((uint32_t)VOID_ARG(0), (uint32_t)VOID_ARG(1)); return m3Err_none; }
RAW(n_mod_load) { UNUSED; RET_I(mh_mod_load(ARG_I(0), ARG_I(1), ARG_U(2), ARG_U(3), ARG_U(4), ARG_I(5))); return m3Err_none; }
RAW(n_mod_free) { UNUSED; mh_mod_free(VOID_ARG(0)); return m3Err_none; }
RAW(n_mod_swap) { UNUSED; mh_mod_swap(VOID_ARG(0), VOID_ARG(1)); return m3Err_none; }
RAW(n_mod_call) { UNUSED; RET_I(mh_mod_call(ARG_I(0), ARG_I(1), ARG_I(2), ARG_I(3))); return m3Err_none; }
RAW(n_mod_gain) { UNUSED; RET_F(mh_mod_gain(ARG_I(0), ARG_F(1), ARG_F(2), ARG_F(3), ARG_F(4))); return m3Err_none; }
RAW(n_mod_curve) { UNUSED; RET_I(mh_mod_curve(ARG_I(0), ARG_F(1))); return m3Err_none; }
RAW(n_mod_failure) { UNUSED; RET_I(mh_mod_failure(ARG_I(0), ARG_U(1), ARG_I(2))); return m3Err_none; }
RAW(n_mod_clear) { UNUSED; mh_mod_clear(VOID_ARG(0)); return m3Err_none; }
RAW(n_mod_memory) { UNUSED; RET_I(mh_mod_memory(ARG_I(0), ARG_U(1), ARG_U(2), ARG_U(3), ARG_I(4))); return m3Err_none; }
RAW(n_core_link) { UNUSED; RET_I(mh_core_link(ARG_I(0))); return m3Err_none; }
RAW(n_answer) { UNUSED; mh_answer((uint32_t)VOID_ARG(0), (uint32_t)VOID_ARG(1)); return m3Err_none; }
RAW(n_now_ms) { UNUSED; RET_F(mh_now_ms()); return m3Err_none; }
RAW(n_firmware_version) { UNUSED; RET_I((int32_t)mh_firmware_version()); return m3Err_none; }
RAW(n_firmware_fetch) { UNUSED; RET_I(mh_firmware_fetch(ARG_U(0), ARG_I(1), ARG_U(2), ARG_U(3))); return m3Err_none; }
RAW(n_core_swap) { UNUSED; RET_I(mh_core_swap(ARG_I(0), ARG_U(1), ARG_U(2), ARG_I(3), ARG_U(4), ARG_I(5))); return m3Err_none; }

/* The manager's imports ("mgr", assembly/manager/host.ts) with wasm3's signatures. */
static const struct {
    const char *name;
    const char *signature;
    M3RawCall fn;
} NATIVES[] = {
    {"slot_read", "i(iiii)", n_slot_read}, {"slot_erase", "i(i)", n_slot_erase}, {"slot_write_message", "i(ii)", n_slot_write_message},
    {"slot_sha256", "i(iiii)", n_slot_sha256}, {"slot_capacity", "i()", n_slot_capacity}, {"params_put", "i(iii)", n_params_put},
    {"params_get", "i(iii)", n_params_get}, {"state_put", "i(ii)", n_state_put}, {"message_read", "i(ii)", n_message_read},
    {"verify", "i(iiiiiii)", n_verify}, {"code_out", "v(ii)", n_code_out}, {"mod_load", "i(iiiiii)", n_mod_load},
    {"mod_free", "v(i)", n_mod_free}, {"mod_swap", "v(ii)", n_mod_swap}, {"mod_call", "i(iiii)", n_mod_call},
    {"mod_gain", "F(iFFFF)", n_mod_gain}, {"mod_curve", "i(iF)", n_mod_curve}, {"mod_failure", "i(iii)", n_mod_failure},
    {"mod_clear", "v(i)", n_mod_clear},
    {"mod_memory", "i(iiiii)", n_mod_memory}, {"core_link", "i(i)", n_core_link}, {"answer", "v(ii)", n_answer},
    {"now_ms", "F()", n_now_ms}, {"core_swap", "i(iiiiii)", n_core_swap},
    {"firmware_version", "i()", n_firmware_version}, {"firmware_fetch", "i(iiii)", n_firmware_fetch},
};

static void mgr_free(void)
{
    instance_free(s_mgr);
    s_mgr = NULL;
}

static bool mgr_load(const uint8_t *wasm, size_t len, char *error, size_t cap)
{
    /* The manager is in flash for the life of the firmware: wasm3 compiles from it there. */
    s_mgr = instance_load(wasm, len, false, MODULES_MANAGER_STACK_BYTES, error, cap);
    if (s_mgr == NULL) return false;
    for (size_t k = 0; k < sizeof NATIVES / sizeof NATIVES[0]; k++) {
        M3Result r = m3_LinkRawFunction(s_mgr->module, "mgr", NATIVES[k].name, NATIVES[k].signature, NATIVES[k].fn);
        if (r != m3Err_none && r != m3Err_functionLookupFailed) {
            snprintf(error, cap, "linking %s: %s", NATIVES[k].name, r);
            mgr_free();
            return false;
        }
    }
    return true;
}

/* Calls an export with arguments of the types sig gives; results read back by type. */
static bool call(IM3Runtime runtime, const char *name, const char *sig, const double *args, double *result, M3Result *error)
{
    IM3Function f;
    M3Result r = m3_FindFunction(&f, runtime, name);
    int32_t ints[8];
    const void *ptrs[8];
    size_t n = 0;
    for (; r == m3Err_none && sig[n] && n < 8; n++) {
        if (sig[n] == 'F') {
            ptrs[n] = &args[n];
        } else {
            ints[n] = (int32_t)args[n];
            ptrs[n] = &ints[n];
        }
    }
    if (r == m3Err_none) r = m3_Call(f, (uint32_t)n, ptrs);
    if (r == m3Err_none && m3_GetRetCount(f) == 1 && result) {
        if (m3_GetRetType(f, 0) == c_m3Type_f64) {
            const void *out[1] = {result};
            r = m3_GetResults(f, 1, out);
        } else {
            int32_t v = 0;
            const void *out[1] = {&v};
            r = m3_GetResults(f, 1, out);
            *result = v;
        }
    }
    if (error) *error = r;
    return r == m3Err_none;
}

static bool mgr_call(const char *name, const char *sig, const double *args, double *result)
{
    M3Result r = m3Err_none;
    if (s_mgr && call(s_mgr->runtime, name, sig, args, result, &r)) return true;
    printf("wasm-scale: the module manager failed in %s: %s\n", name, s_mgr ? r : "not loaded");
    return false;
}

static uint8_t *mgr_memory(uint32_t *size)
{
    return instance_memory(s_mgr, size);
}

/* ---- module instances -------------------------------------------------------------------------- */

static void *mod_load(const uint8_t *wasm, size_t len, int *code, char *words, size_t cap)
{
    instance_t *i = instance_load(wasm, len, true, MODULES_MODULE_STACK_BYTES, words, cap);
    if (i == NULL) {
        *code = strstr(words, "malloc") || strstr(words, "memory") ? 2 : 1;
        return NULL;
    }
    i->fuel = m3_FindGlobal(i->module, "__fuel");
    if (i->fuel == NULL) {
        *code = 1;
        snprintf(words, cap, "it has no fuel counter: it was not written out by the manager");
        instance_free(i);
        return NULL;
    }
    *code = 0;
    return i;
}

static void mod_free(void *m)
{
    instance_free(m);
}

/* Runs a call on budget's steps; false with the words when it trapped or ran out of fuel. */
static bool run(instance_t *i, const char *name, const char *sig, const double *args, module_budget_t budget, double *result, bool *out, char *words, size_t cap)
{
    M3TaggedValue fuel = {.type = c_m3Type_i32, .value.i32 = (uint32_t)STEPS[budget]};
    m3_SetGlobal(i->fuel, &fuel);
    M3Result r = m3Err_none;
    if (call(i->runtime, name, sig, args, result, &r)) return true;
    M3TaggedValue left = {.type = c_m3Type_i32};
    *out = m3_GetGlobal(i->fuel, &left) == m3Err_none && (int32_t)left.value.i32 < 0;
    if (*out) snprintf(words, cap, "ran past its budget of %ld steps in one call", (long)STEPS[budget]);
    else snprintf(words, cap, "%s", r);
    return false;
}

static bool mod_call(void *m, const char *name, int argc, const int32_t *args, module_budget_t budget, int32_t *result, bool *out, char *words, size_t cap)
{
    double a[2] = {argc > 0 ? args[0] : 0, argc > 1 ? args[1] : 0}, r = 0;
    const char *sig = argc == 0 ? "" : argc == 1 ? "i" : "ii";
    if (!run(m, name, sig, a, budget, &r, out, words, cap)) return false;
    *result = (int32_t)r;
    return true;
}

static bool mod_gain(void *m, const double chips[4], double *gain, bool *out, char *words, size_t cap)
{
    return run(m, "cal_gain", "FFFF", chips, MODULE_BUDGET_EVAL, gain, out, words, cap);
}

static bool mod_curve(void *m, double temp_c, int32_t *knots, bool *out, char *words, size_t cap)
{
    double r = 0;
    if (!run(m, "cal_curve", "F", &temp_c, MODULE_BUDGET_OTHER, &r, out, words, cap)) return false;
    *knots = (int32_t)r;
    return true;
}

static uint8_t *mod_memory(void *m, uint32_t *size)
{
    return instance_memory(m, size);
}

static const module_engine_t ENGINE = {
    .metered = true,
    .mgr_load = mgr_load, .mgr_free = mgr_free, .mgr_call = mgr_call, .mgr_memory = mgr_memory,
    .mod_load = mod_load, .mod_free = mod_free, .mod_call = mod_call, .mod_gain = mod_gain, .mod_curve = mod_curve,
    .mod_memory = mod_memory,
};

const module_engine_t *modules_wasm3(void)
{
    return &ENGINE;
}

/* ---- the core itself over the air: module_host's core host over the firmware's wasm_host ---------- */

const module_core_host_t *modules_core_host(const uint8_t *own_wasm, size_t own_len)
{
    static module_core_host_t host;
    host = (module_core_host_t){.own_wasm = own_wasm, .own_len = own_len, .ready = wasm_host_ready, .state_copy = wasm_host_state_copy,
                                .state_load = wasm_host_state_load, .replace = wasm_host_replace, .last_error = wasm_host_last_error};
    return &host;
}
