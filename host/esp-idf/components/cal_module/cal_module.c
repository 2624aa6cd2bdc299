/* Calibration modules on the device: see cal_module.h. */
#include "cal_module.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "esp_log.h"
#include "wasm_export.h"
#include "wasm_host.h"

#ifndef SCALE_WASM_METERING
#error "calibration modules need WAMR's instruction metering (WAMR_BUILD_INSTRUCTION_METERING): a module could loop for ever"
#endif

static const char *TAG = "cal_module";

/* Points of the monotonicity sweep, and counts either side of zero for the slope (as the core). */
#define SWEEP 256
#define SLOPE_COUNTS 4096.0
#define MAX_PARAMS_BYTES (8 + MODULE_MAX_PARAMS * 8)
#define POINT_BYTES 16
#define MAX_POINTS 10
/* A module's linear memory must have shrunk to its static data (module_wasm_scan): at most this. */
#define MAX_LINEAR_BYTES 16384

/* ---- one module instance ---------------------------------------------------------------------- */

typedef struct {
    uint8_t *copy; /* WAMR loads from (and the classic interpreter runs from) this RAM copy */
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    wasm_function_inst_t f_eval, f_fit, f_points, f_params, f_save, f_load;
    char name[33];
    char version[12];
    int slot;
    bool failed;
    module_refusal_t failure;
} cal_module_t;

static void mod_free(cal_module_t *m)
{
    if (m == NULL) return;
    if (m->env) wasm_runtime_destroy_exec_env(m->env);
    if (m->inst) wasm_runtime_deinstantiate(m->inst);
    if (m->module) wasm_runtime_unload(m->module);
    free(m->copy);
    free(m);
}

/* Calls f on a fresh instruction budget; a trap or an exhausted budget becomes the failure. */
static bool call(cal_module_t *m, wasm_function_inst_t f, int budget, uint32_t argc, uint32_t *argv)
{
    wasm_runtime_set_instruction_count_limit(m->env, budget);
    if (wasm_runtime_call_wasm(m->env, f, argc, argv)) return true;
    const char *e = wasm_runtime_get_exception(m->inst);
    if (!m->failed) {
        m->failed = true;
        if (e && strstr(e, "instruction limit") != NULL) module_refuse(&m->failure, "BUDGET", "ran past its budget of %d instructions in one call", budget);
        else module_refuse(&m->failure, "TRAPPED", "trapped: %s", e ? e : "?");
    }
    wasm_runtime_clear_exception(m->inst);
    return false;
}

static int32_t call_i(cal_module_t *m, wasm_function_inst_t f, int budget, uint32_t argc, uint32_t *argv)
{
    return call(m, f, budget, argc, argv) ? (int32_t)argv[0] : INT32_MIN;
}

static wasm_function_inst_t lookup(cal_module_t *m, const char *name, bool *missing)
{
    wasm_function_inst_t f = wasm_runtime_lookup_function(m->inst, name);
    if (f == NULL) *missing = true;
    return f;
}

/* Loads, instantiates and describes a module; NULL with the reason when refused. */
static cal_module_t *mod_load(const uint8_t *wasm, size_t len, module_refusal_t *why)
{
    if (!module_wasm_scan(wasm, len, why)) return NULL;
    cal_module_t *m = calloc(1, sizeof *m);
    if (m) m->copy = malloc(len);
    if (m == NULL || m->copy == NULL) {
        free(m);
        module_refuse(why, "MEMORY", "no %u bytes of heap for the module", (unsigned)len);
        return NULL;
    }
    memcpy(m->copy, wasm, len);
    m->slot = -1;
    char error[128];
    m->module = wasm_runtime_load(m->copy, (uint32_t)len, error, sizeof error);
    if (m->module == NULL) {
        module_refuse(why, "BAD_MODULE", "%s", error);
        goto fail;
    }
    if (wasm_runtime_get_import_count(m->module) != 0) {
        module_refuse(why, "FORBIDDEN_IMPORT", "imports something: a calibration module may import nothing");
        goto fail;
    }
    m->inst = wasm_runtime_instantiate(m->module, CAL_MODULE_STACK_BYTES, 0, error, sizeof error);
    if (m->inst == NULL) {
        module_refuse(why, "MEMORY", "cannot instantiate: %s", error);
        goto fail;
    }
    wasm_memory_inst_t memory = wasm_runtime_get_default_memory(m->inst);
    uint64_t bytes = memory ? wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory) : 0;
    if (memory == NULL || wasm_memory_get_max_page_count(memory) > 1 || bytes > MAX_LINEAR_BYTES) {
        module_refuse(why, "MEMORY", "its linear memory is %u bytes (a module keeps to its static data)", (unsigned)bytes);
        goto fail;
    }
    m->env = wasm_runtime_create_exec_env(m->inst, CAL_MODULE_STACK_BYTES);
    if (m->env == NULL) {
        module_refuse(why, "MEMORY", "no memory for its execution environment");
        goto fail;
    }
    bool missing = false;
    wasm_function_inst_t f_abi = lookup(m, "cal_abi", &missing), f_name = lookup(m, "cal_name", &missing), f_version = lookup(m, "cal_version", &missing);
    m->f_eval = lookup(m, "cal_eval", &missing);
    m->f_fit = lookup(m, "cal_fit", &missing);
    m->f_points = lookup(m, "cal_points", &missing);
    m->f_params = lookup(m, "cal_params", &missing);
    m->f_save = lookup(m, "cal_params_save", &missing);
    m->f_load = lookup(m, "cal_params_load", &missing);
    if (missing) {
        module_refuse(why, "BAD_MODULE", "missing one of the module ABI's exports (cal_abi, cal_name, cal_version, cal_eval, cal_fit, cal_points, cal_params, cal_params_save, cal_params_load)");
        goto fail;
    }
    uint32_t argv[12] = {0};
    int32_t abi = call_i(m, f_abi, CAL_MODULE_BUDGET_OTHER, 0, argv);
    if (abi != MODULE_ABI_VERSION) {
        if (m->failed) *why = m->failure;
        else module_refuse(why, "WRONG_ABI", "built for module ABI %" PRId32 "; this firmware runs %d", abi, MODULE_ABI_VERSION);
        goto fail;
    }
    int32_t at = call_i(m, f_name, CAL_MODULE_BUDGET_OTHER, 0, argv);
    const char *name = (at >= 0 && wasm_runtime_validate_app_addr(m->inst, (uint64_t)at, 33)) ? wasm_runtime_addr_app_to_native(m->inst, (uint64_t)at) : NULL;
    size_t n = name ? strnlen(name, 33) : 0;
    if (name == NULL || n < 1 || n > 32) {
        module_refuse(why, "BAD_MODULE", "cal_name does not point to a name of 1..32 characters");
        goto fail;
    }
    memcpy(m->name, name, n);
    int32_t v = call_i(m, f_version, CAL_MODULE_BUDGET_OTHER, 0, argv);
    snprintf(m->version, sizeof m->version, "%d.%d.%d", (int)((v >> 16) & 0xff), (int)((v >> 8) & 0xff), (int)(v & 0xff));
    if (m->failed) {
        *why = m->failure;
        goto fail;
    }
    return m;
fail:
    mod_free(m);
    return NULL;
}

/* Gross kg; NaN when the call failed or gave no finite weight (then `failed`). Per sample. */
static double mod_eval(cal_module_t *m, double x, double c0, double c1, double c2, double c3, double temp_c)
{
    double in[6] = {x, c0, c1, c2, c3, temp_c}, kg = NAN;
    uint32_t argv[12];
    memcpy(argv, in, sizeof in);
    if (call(m, m->f_eval, CAL_MODULE_BUDGET_EVAL, 12, argv)) memcpy(&kg, argv, sizeof kg);
    if (!isfinite(kg) && !m->failed) {
        m->failed = true;
        module_refuse(&m->failure, "NOT_FINITE", "weighed %g kg for %.0f counts", kg, x);
    }
    return kg;
}

static uint8_t *params_area(cal_module_t *m)
{
    uint32_t argv[1] = {0};
    int32_t at = call_i(m, m->f_params, CAL_MODULE_BUDGET_OTHER, 0, argv);
    if (at < 0 || !wasm_runtime_validate_app_addr(m->inst, (uint64_t)at, MAX_PARAMS_BYTES)) return NULL;
    return wasm_runtime_addr_app_to_native(m->inst, (uint64_t)at);
}

static size_t params_save(cal_module_t *m, uint8_t *out)
{
    uint8_t *area = params_area(m);
    uint32_t argv[1] = {0};
    int32_t len = area ? call_i(m, m->f_save, CAL_MODULE_BUDGET_OTHER, 0, argv) : -1;
    if (len < 8 || len > MAX_PARAMS_BYTES) return 0;
    memcpy(out, area, (size_t)len);
    return (size_t)len;
}

static int32_t params_load(cal_module_t *m, const uint8_t *blob, size_t len)
{
    uint8_t *area = params_area(m);
    if (area == NULL || len > MAX_PARAMS_BYTES) return -8;
    memcpy(area, blob, len);
    uint32_t argv[1] = {(uint32_t)len};
    return call_i(m, m->f_load, CAL_MODULE_BUDGET_OTHER, 1, argv);
}

/* The manifest's parameter values, in the blob version the module writes itself. */
static int32_t params_from_manifest(cal_module_t *m, const module_pkg_t *pkg)
{
    uint8_t blob[MAX_PARAMS_BYTES];
    if (pkg->n_params == 0) return 0;
    if (params_save(m, blob) < 8) return -8;
    uint32_t count = (uint32_t)pkg->n_params;
    memcpy(blob + 4, &count, 4);
    memcpy(blob + 8, pkg->params, 8 * count);
    return params_load(m, blob, 8 + 8 * count);
}

static int32_t mod_fit(cal_module_t *m, int32_t order, const double *xs, const double *kgs, int n)
{
    uint32_t argv[2] = {0};
    int32_t at = call_i(m, m->f_points, CAL_MODULE_BUDGET_OTHER, 0, argv);
    if (at < 0 || !wasm_runtime_validate_app_addr(m->inst, (uint64_t)at, (uint64_t)n * POINT_BYTES)) return -6;
    uint8_t *p = wasm_runtime_addr_app_to_native(m->inst, (uint64_t)at);
    for (int i = 0; i < n; i++) {
        memcpy(p + i * POINT_BYTES, &xs[i], 8);
        memcpy(p + i * POINT_BYTES + 8, &kgs[i], 8);
    }
    argv[0] = (uint32_t)n;
    argv[1] = (uint32_t)order;
    int32_t r = call_i(m, m->f_fit, CAL_MODULE_BUDGET_FIT, 2, argv);
    return (r == INT32_MIN || r > 0) ? -6 : r;
}

static bool run_vectors(cal_module_t *m, const module_pkg_t *pkg, module_refusal_t *why)
{
    for (int i = 0; i < pkg->n_vectors; i++) {
        const module_vector_t *v = &pkg->vectors[i];
        double kg = mod_eval(m, v->x, v->chips[0], v->chips[1], v->chips[2], v->chips[3], v->temp);
        if (m->failed) return module_refuse(why, m->failure.reason, "vector %d: %s", i + 1, m->failure.detail);
        if (!(fabs(kg - v->kg) <= pkg->tolerance)) {
            return module_refuse(why, "VECTORS_FAILED", "vector %d: %.6g counts weighed %.17g kg, the manifest says %.17g kg", i + 1, v->x, kg, v->kg);
        }
    }
    return true;
}

/* The curve over every weight the scale can show (20 d below zero to 9 d over capacity, with margin). */
static bool sweep(cal_module_t *m, double capacity, double division, module_refusal_t *why)
{
    double slope = (mod_eval(m, SLOPE_COUNTS, NAN, NAN, NAN, NAN, NAN) - mod_eval(m, -SLOPE_COUNTS, NAN, NAN, NAN, NAN, NAN)) / (2 * SLOPE_COUNTS);
    if (m->failed) return module_refuse(why, m->failure.reason, "near zero: %s", m->failure.detail);
    if (!(fabs(slope) > 0)) return module_refuse(why, "NOT_MONOTONIC", "its curve is flat near zero");
    double lo = -1.5 * 20 * division / fabs(slope), hi = 1.1 * (capacity + 9 * division) / fabs(slope), dir = slope > 0 ? 1 : -1;
    double last = mod_eval(m, dir * lo, NAN, NAN, NAN, NAN, NAN);
    for (int i = 1; i <= SWEEP; i++) {
        double x = dir * (lo + (hi - lo) * i / SWEEP), kg = mod_eval(m, x, NAN, NAN, NAN, NAN, NAN);
        if (m->failed) return module_refuse(why, m->failure.reason, "at %.0f counts: %s", x, m->failure.detail);
        if (!(kg > last)) return module_refuse(why, "NOT_MONOTONIC", "its weight falls from %.6g to %.6g kg near %.0f counts", last, kg, x);
        last = kg;
    }
    return true;
}

/* ---- the manager: slots, trial, rollback --------------------------------------------------------- */

static cal_manager_config_t s_cfg;
static cal_module_t *s_active, *s_previous;
static cal_slots_state_t s_state = {-1, -1, false};
static uint32_t s_lengths[2];
static uint32_t s_good;
static bool s_failing;
static module_refusal_t s_failure;
static struct {
    bool on;
    uint8_t sha256[32];
    uint32_t size, received;
    int slot;
} s_transfer;

/* Writes {"cmd":"module","step":...} with the detail escaped, and hands it to the answer hook. */
static void answer(const char *step, bool accepted, const char *reason, const char *detail, const cal_module_t *m, long offset)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "cmd", "module");
    cJSON_AddStringToObject(o, "step", step);
    cJSON_AddStringToObject(o, "status", accepted ? "accepted" : "rejected");
    if (reason) cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddStringToObject(o, "detail", detail);
    if (offset >= 0) cJSON_AddNumberToObject(o, "offset", (double)offset);
    if (offset >= 0 && strcmp(step, "begin") == 0) cJSON_AddNumberToObject(o, "chunk", (double)s_cfg.chunk_bytes);
    if (m) {
        cJSON *mod = cJSON_AddObjectToObject(o, "module");
        cJSON_AddStringToObject(mod, "name", m->name);
        cJSON_AddStringToObject(mod, "version", m->version);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text) {
        ESP_LOGI(TAG, "%s", text);
        if (s_cfg.answer) s_cfg.answer(text);
        cJSON_free(text);
    }
}

static void save_state(void)
{
    if (!s_cfg.storage->save_state(s_cfg.storage->ctx, &s_state, s_lengths)) ESP_LOGE(TAG, "saving the module slots' state failed");
}

/* Links a module to the core; false when the core finds its curve flat. */
static bool link_core(cal_module_t *m)
{
    m->failed = false;
    s_failing = false;
    s_good = 0;
    cal_module_t *was = s_active;
    s_active = m; /* the core measures the slope through the callbacks: they must answer already */
    if (s_cfg.core_module(true) == 0) return true;
    s_active = was;
    return false;
}

static double eval_cb(void *context, double x, double c0, double c1, double c2, double c3, double temp_c)
{
    (void)context;
    cal_module_t *a = s_active;
    if (a == NULL) return NAN;
    double kg = mod_eval(a, x, c0, c1, c2, c3, temp_c);
    if (isfinite(kg)) {
        s_good++;
        return kg;
    }
    if (!s_failing) {
        s_failing = true;
        s_failure = a->failure;
    }
    /* This reading is weighed by the previous calibration: the failing module's weight never goes out. */
    return s_previous ? mod_eval(s_previous, x, c0, c1, c2, c3, temp_c) : NAN;
}

static int32_t fit_cb(void *context, int32_t order, const uint8_t *points, int32_t n, double zero_counts)
{
    (void)context;
    cal_module_t *a = s_active;
    if (a == NULL || n < 1 || n > MAX_POINTS) return -6;
    double xs[MAX_POINTS], kgs[MAX_POINTS];
    for (int i = 0; i < n; i++) {
        float kg;
        memcpy(&xs[i], points + i * POINT_BYTES, 8);
        memcpy(&kg, points + i * POINT_BYTES + 8, 4);
        xs[i] -= zero_counts;
        kgs[i] = kg;
    }
    uint8_t before[MAX_PARAMS_BYTES];
    size_t before_len = params_save(a, before);
    int32_t r = mod_fit(a, order, xs, kgs, n);
    if (a->failed) {
        s_failing = true;
        s_failure = a->failure;
        return -6;
    }
    if (r != 0) return r;
    double capacity, division;
    s_cfg.core_range(&capacity, &division);
    module_refusal_t why;
    if (!sweep(a, capacity, division, &why)) {
        a->failed = false;
        params_load(a, before, before_len);
        answer("fit", false, why.reason, why.detail, a, -1);
        return -6;
    }
    uint8_t blob[MAX_PARAMS_BYTES];
    size_t len = params_save(a, blob);
    if (len && a->slot >= 0) s_cfg.storage->save_params(s_cfg.storage->ctx, a->slot, blob, len);
    answer("fit", true, NULL, "fitted to the calibration points", a, -1);
    return 0;
}

/* Reads a slot's package into RAM (malloc'd); NULL when the slot is empty or unreadable. */
static uint8_t *read_package(int slot, uint32_t len)
{
    if (slot < 0 || len == 0 || len > MODULE_MAX_PACKAGE_BYTES) return NULL;
    uint8_t *buf = malloc(len);
    if (buf && !s_cfg.storage->read(s_cfg.storage->ctx, slot, 0, buf, len)) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

/* A slot's module, verified again and given its saved parameters (its vectors passed before). */
static cal_module_t *load_slot(int slot, module_refusal_t *why)
{
    uint8_t *bytes = read_package(slot, slot >= 0 ? s_lengths[slot] : 0);
    if (bytes == NULL) {
        module_refuse(why, "TRUNCATED", "slot %d is empty or unreadable", slot);
        return NULL;
    }
    module_pkg_t *pkg = malloc(sizeof *pkg);
    cal_module_t *m = NULL;
    if (pkg && module_pkg_parse(bytes, s_lengths[slot], pkg, why) && module_pkg_verify(pkg, s_cfg.keys_pem, s_cfg.n_keys, why)) {
        m = mod_load(pkg->wasm, pkg->wasm_len, why);
    }
    uint8_t blob[MAX_PARAMS_BYTES];
    size_t len = m ? s_cfg.storage->load_params(s_cfg.storage->ctx, slot, blob, sizeof blob) : 0;
    if (m && len > 0 && params_load(m, blob, len) != 0) {
        module_refuse(why, "BAD_PARAMS", "slot %d: the module refused its saved parameters", slot);
        mod_free(m);
        m = NULL;
    }
    if (m) m->slot = slot;
    free(pkg);
    free(bytes);
    return m;
}

void cal_manager_relink(void)
{
    if (s_active && !link_core(s_active)) ESP_LOGE(TAG, "the core refused %s again after it was instantiated again", s_active->name);
}

void cal_manager_start(const cal_manager_config_t *config)
{
    s_cfg = *config;
    wasm_host_calibration_t cb = {.context = NULL, .eval = eval_cb, .fit = fit_cb};
    wasm_host_set_calibration(&cb);
    if (!s_cfg.storage->load_state(s_cfg.storage->ctx, &s_state, s_lengths)) {
        s_state = (cal_slots_state_t){-1, -1, false};
        s_lengths[0] = s_lengths[1] = 0;
    }
    if (s_state.active >= 0 && s_state.trial) {
        s_state = (cal_slots_state_t){s_state.previous, -1, false};
        save_state();
        answer("rollback", true, "UNCONFIRMED", "restarted before the new module was confirmed: back to the previous calibration", NULL, -1);
    }
    if (s_state.active < 0) return;
    module_refusal_t why;
    cal_module_t *m = load_slot(s_state.active, &why);
    if (m == NULL || !link_core(m)) {
        if (m) module_refuse(&why, "DEGENERATE", "the core found its curve flat near zero");
        mod_free(m);
        s_cfg.core_module(false);
        char detail[sizeof why.detail + 64];
        snprintf(detail, sizeof detail, "slot %d: %s; weighing with the built-in calibration", s_state.active, why.detail);
        answer("restore", false, why.reason, detail, NULL, -1);
        return;
    }
    if (s_state.previous >= 0) s_previous = load_slot(s_state.previous, &why);
    ESP_LOGI(TAG, "calibration module %s %s (slot %d)", m->name, m->version, m->slot);
}

/* Checks the package in `slot` from end to end and switches to it, or says why not. */
static void install_slot(int slot, uint32_t len)
{
    module_refusal_t why;
    uint8_t *bytes = read_package(slot, len);
    module_pkg_t *pkg = malloc(sizeof *pkg);
    cal_module_t *tested = NULL, *fresh = NULL;
    bool ok = bytes && pkg;
    if (!ok) module_refuse(&why, "TOO_LARGE", "no room in RAM to check a package of %u bytes", (unsigned)len);
    ok = ok && module_pkg_parse(bytes, len, pkg, &why) && module_pkg_verify(pkg, s_cfg.keys_pem, s_cfg.n_keys, &why);
    if (ok && pkg->abi != MODULE_ABI_VERSION) ok = module_refuse(&why, "WRONG_ABI", "built for module ABI %d; this firmware runs %d", pkg->abi, MODULE_ABI_VERSION);
    if (ok) ok = (tested = mod_load(pkg->wasm, pkg->wasm_len, &why)) != NULL;
    if (ok && strcmp(tested->name, pkg->name) != 0) ok = module_refuse(&why, "BAD_PACKAGE", "the module calls itself %s; the manifest %s", tested->name, pkg->name);
    if (ok && params_from_manifest(tested, pkg) != 0) ok = module_refuse(&why, tested->failed ? tested->failure.reason : "BAD_PARAMS", "%s", tested->failed ? tested->failure.detail : "the module refused the manifest's parameters");
    if (ok) ok = run_vectors(tested, pkg, &why);
    if (ok) {
        double capacity, division;
        s_cfg.core_range(&capacity, &division);
        ok = sweep(tested, capacity, division, &why);
    }
    mod_free(tested);
    /* What the vectors and the sweep left in the module's state does not go into service. */
    if (ok) ok = (fresh = mod_load(pkg->wasm, pkg->wasm_len, &why)) != NULL && params_from_manifest(fresh, pkg) == 0;
    free(pkg);
    free(bytes);
    if (!ok) {
        mod_free(fresh);
        answer("install", false, why.reason, why.detail, NULL, -1);
        return;
    }
    fresh->slot = slot;
    uint8_t blob[MAX_PARAMS_BYTES];
    size_t blob_len = params_save(fresh, blob);
    if (blob_len) s_cfg.storage->save_params(s_cfg.storage->ctx, slot, blob, blob_len);
    cal_module_t *before = s_active;
    if (!link_core(fresh)) {
        if (!before) s_cfg.core_module(false);
        answer("install", false, "DEGENERATE", "the core found its curve flat or not finite near zero", fresh, -1);
        mod_free(fresh);
        return;
    }
    mod_free(s_previous);
    s_previous = before;
    s_lengths[slot] = len;
    s_state = (cal_slots_state_t){(int8_t)slot, (int8_t)(before ? before->slot : -1), true};
    save_state();
    char detail[96];
    snprintf(detail, sizeof detail, "weighs now, on trial until %d good readings", CAL_MODULE_CONFIRM_READINGS);
    answer("install", true, NULL, detail, fresh, -1);
}

bool cal_manager_rollback(const char *why, const char *reason)
{
    if (s_active == NULL) {
        answer("rollback", false, "NO_PREVIOUS", "no module is installed: the built-in calibration is in force", NULL, -1);
        return false;
    }
    cal_module_t *from = s_active, *to = s_previous;
    s_active = NULL;
    s_previous = NULL;
    if (to && !link_core(to)) {
        mod_free(to);
        to = NULL;
    }
    if (to == NULL) s_cfg.core_module(false);
    s_state = (cal_slots_state_t){(int8_t)(to ? to->slot : -1), -1, false};
    save_state();
    char detail[160];
    snprintf(detail, sizeof detail, "%s %s rolled back (%s): %s%s%s weighs now", from->name, from->version, why, to ? to->name : "the built-in calibration",
             to ? " " : "", to ? to->version : "");
    answer("rollback", true, reason, detail, from, -1);
    mod_free(from);
    return true;
}

void cal_manager_after_sample(void)
{
    if (s_failing) {
        s_failing = false;
        char why[200];
        snprintf(why, sizeof why, "%s: %s", s_failure.reason, s_failure.detail);
        cal_manager_rollback(why, s_failure.reason);
        return;
    }
    if (s_active && s_state.trial && s_good >= CAL_MODULE_CONFIRM_READINGS) {
        s_state.trial = false;
        save_state();
        char detail[96];
        snprintf(detail, sizeof detail, "confirmed after %" PRIu32 " good readings", s_good);
        answer("confirm", true, NULL, detail, s_active, -1);
    }
}

const char *cal_manager_active(bool *trial)
{
    if (trial) *trial = s_active && s_state.trial;
    return s_active ? s_active->name : NULL;
}

void cal_manager_stop(void)
{
    wasm_host_set_calibration(NULL);
    mod_free(s_active);
    mod_free(s_previous);
    s_active = s_previous = NULL;
}

/* ---- the transfer (abi.json calibration_module.transfer) ---------------------------------------- */

static int spare_slot(void)
{
    return s_state.active == 0 ? 1 : 0;
}

static void transfer_begin(const uint8_t *payload, size_t len)
{
    cJSON *j = payload ? cJSON_ParseWithLength((const char *)payload, len) : NULL;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size"), *sha = cJSON_GetObjectItemCaseSensitive(j, "sha256");
    uint8_t hash[32];
    bool ok = cJSON_IsNumber(size) && size->valuedouble >= 1 && size->valuedouble == floor(size->valuedouble) && cJSON_IsString(sha) &&
              module_sha256_from_hex(sha->valuestring, hash);
    double n = ok ? size->valuedouble : 0;
    cJSON_Delete(j);
    if (!ok) { answer("begin", false, "BAD_PACKAGE", "begin needs {\"size\": bytes, \"sha256\": 64 hex digits}", NULL, -1); return; }
    if (n > MODULE_MAX_PACKAGE_BYTES || n > s_cfg.storage->slot_bytes) {
        char detail[80];
        snprintf(detail, sizeof detail, "a package of %.0f bytes; at most %u", n, (unsigned)MODULE_MAX_PACKAGE_BYTES);
        { answer("begin", false, "TOO_LARGE", detail, NULL, -1); return; }
    }
    bool same = s_transfer.on && s_transfer.size == (uint32_t)n && memcmp(s_transfer.sha256, hash, 32) == 0 && s_transfer.slot == spare_slot();
    if (!same) {
        int slot = spare_slot();
        if (!s_cfg.storage->erase(s_cfg.storage->ctx, slot)) { answer("begin", false, "TOO_LARGE", "the module slot cannot be erased", NULL, -1); return; }
        if (s_state.previous == slot) { /* the spare slot held the previous module: it is gone now */
            s_state.previous = -1;
            mod_free(s_previous);
            s_previous = NULL;
        }
        s_lengths[slot] = 0;
        save_state();
        s_transfer.on = true;
        s_transfer.slot = slot;
        s_transfer.size = (uint32_t)n;
        s_transfer.received = 0;
        memcpy(s_transfer.sha256, hash, 32);
    }
    char detail[64];
    snprintf(detail, sizeof detail, same ? "resuming at byte %u" : "ready for %u bytes", (unsigned)(same ? s_transfer.received : s_transfer.size));
    answer("begin", true, NULL, detail, NULL, (long)s_transfer.received);
}

static void transfer_chunk(const char *at, size_t at_len, const uint8_t *payload, size_t len)
{
    if (!s_transfer.on) { answer("chunk", false, "NO_TRANSFER", "no transfer begun (send begin first)", NULL, -1); return; }
    long offset = -1;
    if (at_len >= 1 && at_len <= 9) {
        offset = 0;
        for (size_t i = 0; i < at_len && offset >= 0; i++) offset = (at[i] >= '0' && at[i] <= '9') ? offset * 10 + (at[i] - '0') : -1;
    }
    char detail[96];
    if (offset != (long)s_transfer.received) {
        snprintf(detail, sizeof detail, "expected offset %u", (unsigned)s_transfer.received);
        { answer("chunk", false, "BAD_OFFSET", detail, NULL, (long)s_transfer.received); return; }
    }
    if (payload == NULL || len == 0 || len > s_cfg.chunk_bytes || s_transfer.received + len > s_transfer.size) {
        snprintf(detail, sizeof detail, "a chunk carries 1..%u bytes within the announced %u", (unsigned)s_cfg.chunk_bytes, (unsigned)s_transfer.size);
        { answer("chunk", false, "TOO_LARGE", detail, NULL, (long)s_transfer.received); return; }
    }
    if (!s_cfg.storage->write(s_cfg.storage->ctx, s_transfer.slot, s_transfer.received, payload, len)) {
        { answer("chunk", false, "TOO_LARGE", "writing the module slot failed", NULL, (long)s_transfer.received); return; }
    }
    s_transfer.received += (uint32_t)len;
    snprintf(detail, sizeof detail, "%u of %u bytes", (unsigned)s_transfer.received, (unsigned)s_transfer.size);
    answer("chunk", true, NULL, detail, NULL, (long)s_transfer.received);
}

static void transfer_end(void)
{
    if (!s_transfer.on) { answer("end", false, "NO_TRANSFER", "no transfer begun (send begin first)", NULL, -1); return; }
    if (s_transfer.received < s_transfer.size) {
        char detail[80];
        snprintf(detail, sizeof detail, "only %u of %u bytes arrived; resume with begin", (unsigned)s_transfer.received, (unsigned)s_transfer.size);
        { answer("end", false, "TRUNCATED", detail, NULL, (long)s_transfer.received); return; }
    }
    s_transfer.on = false;
    uint8_t *bytes = read_package(s_transfer.slot, s_transfer.size);
    uint8_t hash[32];
    bool ok = bytes && module_sha256(bytes, s_transfer.size, hash) && memcmp(hash, s_transfer.sha256, 32) == 0;
    free(bytes);
    if (!ok) { answer("end", false, "BAD_HASH", "the package received does not have the SHA-256 announced in begin", NULL, -1); return; }
    install_slot(s_transfer.slot, s_transfer.size);
}

void cal_manager_message(const char *sub, size_t sub_len, const uint8_t *payload, size_t len)
{
    if (sub_len == 5 && memcmp(sub, "begin", 5) == 0) transfer_begin(payload, len);
    else if (sub_len > 6 && memcmp(sub, "chunk/", 6) == 0) transfer_chunk(sub + 6, sub_len - 6, payload, len);
    else if (sub_len == 3 && memcmp(sub, "end", 3) == 0) transfer_end();
    else if (sub_len == 8 && memcmp(sub, "rollback", 8) == 0) cal_manager_rollback("requested over MQTT", NULL);
    else answer("module", false, "BAD_PACKAGE", "no such module step: begin, chunk/<offset>, end or rollback", NULL, -1);
}
