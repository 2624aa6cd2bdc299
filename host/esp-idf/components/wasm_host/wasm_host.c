/* wasm-scale Wasm host on WAMR (espressif/wasm-micro-runtime). */
#include "wasm_host.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "hx711_gpio.h"
#if CONFIG_SCALE_HX711_SIMULATED
#include "hx711_sim.h"
#endif
#include "scale_portable.h"
#include "wasm_export.h"

static const char *TAG = "wasm_host";

/* The fast interpreter translates the module into its own code and, loaded as "freeable", copies
 * what else it keeps: the binary is only needed while loading. The classic interpreter rewrites
 * opcodes in the binary and runs from it: its RAM copy lives as long as the module. */
#ifdef CONFIG_WAMR_INTERP_FAST
#define MODULE_COPY_KEPT false
#else
#define MODULE_COPY_KEPT true
#endif

static uint8_t *s_pool;          /* NULL: WAMR allocates from the heap */
static bool s_started;           /* the runtime is initialised (wasm_host_start got that far) */
static size_t s_heap_before;     /* free heap before the runtime started */
static uint32_t s_heap_taken;    /* and how much less there was once the core was ready */
static wasm_host_config_t s_config;
static uint8_t *s_wasm_copy;
static wasm_module_t s_module;
static wasm_module_inst_t s_inst;
static wasm_exec_env_t s_env;
static uint8_t *s_io;
static size_t s_io_cap;
static const uint8_t *s_reading;
static bool s_setting_up;        /* inside on_instantiated */
static bool s_setup_trapped;     /* a call trapped inside on_instantiated */
static int s_failed_attempts;    /* consecutive failed instantiations */
static int64_t s_next_attempt_ms;
static bool s_gave_up;
static wasm_host_calibration_t s_calibration;
static char s_error[160];        /* why the last load, instantiation or call failed */
static scale_rescue_t s_rescued; /* the state of the core that trapped last */
static void rescue_state(void);

/* ---- natives: every import of assembly/abi.json, same semantics as host/desktop/imports.ts ---- */

static int32_t native_wait_low(wasm_exec_env_t env, const uint8_t *pins, uint32_t len, int32_t timeout_us)
{
#if CONFIG_SCALE_HX711_SIMULATED
    if (hx711_sim_fail_due()) {
        /* The QEMU variant's scripted failure: what a native that cannot go on does. */
        wasm_runtime_set_exception(wasm_runtime_get_module_inst(env), "gpio.wait_low: scripted failure of the simulated chip");
        return 0;
    }
#endif
    (void)env;
    return hx711_gpio_wait_low(pins, len, timeout_us);
}

static int32_t native_clock_in(wasm_exec_env_t env, int32_t clk, const uint8_t *pins, uint32_t len, int32_t pulses,
                               uint8_t *out, uint32_t out_len)
{
    (void)env;
    return hx711_gpio_clock_in(clk, pins, len, pulses, out, out_len);
}

static void native_write(wasm_exec_env_t env, int32_t pin, int32_t level)
{
    if (hx711_gpio_write(pin, level) != ESP_OK) {
        /* A bad argument is the core's bug: trap it (the host re-instantiates), never abort. */
        wasm_runtime_set_exception(wasm_runtime_get_module_inst(env), "gpio.write: not the clock pin, or level not 0/1");
    }
}

static void native_panic(wasm_exec_env_t env, int32_t line, int32_t col)
{
    ESP_LOGE(TAG, "core panic at line %" PRId32 ", column %" PRId32, line, col);
    wasm_runtime_set_exception(wasm_runtime_get_module_inst(env), "core panic");
}

/* The calibration module's gain: per sample while one is linked (the third host call). */
static double native_calib_gain(wasm_exec_env_t env, double c0, double c1, double c2, double c3)
{
    (void)env;
    return s_calibration.gain ? s_calibration.gain(s_calibration.context, c0, c1, c2, c3) : NAN;
}

/* Its curve at a temperature, and the knots' values: when it is linked, fitted, or the temperature changes. */
static int32_t native_calib_curve(wasm_exec_env_t env, double temp_c)
{
    (void)env;
    return s_calibration.curve ? s_calibration.curve(s_calibration.context, temp_c) : -1;
}

static double native_calib_knot(wasm_exec_env_t env, int32_t i)
{
    (void)env;
    return s_calibration.knot ? s_calibration.knot(s_calibration.context, i) : NAN;
}

/* The core refused the module's curve or gain. */
static void native_calib_fault(wasm_exec_env_t env, int32_t kind, double x, double value)
{
    (void)env;
    if (s_calibration.fault) s_calibration.fault(s_calibration.context, kind, x, value);
}

/* The module's fit from the core's points: n records of 16 bytes, checked against the core's memory. */
static int32_t native_calib_fit(wasm_exec_env_t env, int32_t order, const uint8_t *points, int32_t n, double zero_counts)
{
    if (n < 1 || n > 10 || !wasm_runtime_validate_native_addr(wasm_runtime_get_module_inst(env), (void *)points, (uint64_t)n * 16u)) {
        return SCALE_ERR_BAD_VALUE;
    }
    return s_calibration.fit ? s_calibration.fit(s_calibration.context, order, points, n, zero_counts) : SCALE_ERR_DEGENERATE;
}

void wasm_host_set_calibration(const wasm_host_calibration_t *calibration)
{
    if (calibration) s_calibration = *calibration;
    else memset(&s_calibration, 0, sizeof s_calibration);
}

/* WAMR keeps pointers into these tables: they live as long as the program. The signatures come
 * from the generated scale_abi.h; tests/esp-idf.test.ts checks this table against the ABI. */
static NativeSymbol s_gpio_natives[] = {
    {"wait_low", (void *)native_wait_low, SCALE_ABI_SIG_GPIO_WAIT_LOW, NULL},
    {"clock_in", (void *)native_clock_in, SCALE_ABI_SIG_GPIO_CLOCK_IN, NULL},
    {"write", (void *)native_write, SCALE_ABI_SIG_GPIO_WRITE, NULL},
};
static NativeSymbol s_calib_natives[] = {
    {"gain", (void *)native_calib_gain, SCALE_ABI_SIG_CALIB_GAIN, NULL},
    {"curve", (void *)native_calib_curve, SCALE_ABI_SIG_CALIB_CURVE, NULL},
    {"knot", (void *)native_calib_knot, SCALE_ABI_SIG_CALIB_KNOT, NULL},
    {"fault", (void *)native_calib_fault, SCALE_ABI_SIG_CALIB_FAULT, NULL},
    {"fit", (void *)native_calib_fit, SCALE_ABI_SIG_CALIB_FIT, NULL},
};
static NativeSymbol s_sys_natives[] = {
    {"panic", (void *)native_panic, SCALE_ABI_SIG_SYS_PANIC, NULL},
};

/* ---- load, instantiate, recover ---------------------------------------------------------------- */

static void unload(void)
{
    if (s_env) wasm_runtime_destroy_exec_env(s_env);
    if (s_inst) wasm_runtime_deinstantiate(s_inst);
    if (s_module) wasm_runtime_unload(s_module);
    s_env = NULL;
    s_inst = NULL;
    s_module = NULL;
    s_io = NULL;
    s_io_cap = 0;
    s_reading = NULL;
}

/* Every entry into Wasm goes through here: bounded by the instruction limit, when built in. */
static bool call_bounded(wasm_function_inst_t fn, uint32_t argc, uint32_t *argv)
{
#ifdef SCALE_WASM_METERING
    wasm_runtime_set_instruction_count_limit(s_env, (int)s_config.instruction_limit);
#endif
    return wasm_runtime_call_wasm(s_env, fn, argc, argv);
}

static esp_err_t lookup_buffers(void)
{
    uint32_t argv[1];
    const char *names[] = {SCALE_EXPORT_SCALE_INIT, SCALE_EXPORT_IO_PTR, SCALE_EXPORT_IO_CAP, SCALE_EXPORT_READING_PTR};
    uint32_t results[4];
    for (int i = 0; i < 4; i++) {
        wasm_function_inst_t fn = wasm_runtime_lookup_function(s_inst, names[i]);
        if (fn == NULL || !call_bounded(fn, 0, argv)) {
            const char *exception = fn ? wasm_runtime_get_exception(s_inst) : NULL;
            snprintf(s_error, sizeof s_error, "core export %s %s%s", names[i], fn ? "trapped: " : "missing", exception ? exception : "");
            ESP_LOGE(TAG, "%s", s_error);
            return ESP_FAIL;
        }
        results[i] = argv[0];
    }
    if (results[0] != SCALE_ABI_VERSION) {
        snprintf(s_error, sizeof s_error, "core speaks ABI %" PRIu32 ", this firmware %d", results[0], SCALE_ABI_VERSION);
        ESP_LOGE(TAG, "%s", s_error);
        return ESP_ERR_NOT_SUPPORTED;
    }
    if (!wasm_runtime_validate_app_addr(s_inst, results[1], results[2]) ||
        !wasm_runtime_validate_app_addr(s_inst, results[3], SCALE_ABI_READING_SIZE)) {
        ESP_LOGE(TAG, "core buffers lie outside its memory");
        return ESP_FAIL;
    }
    s_io = wasm_runtime_addr_app_to_native(s_inst, results[1]);
    s_io_cap = results[2];
    s_reading = wasm_runtime_addr_app_to_native(s_inst, results[3]);
    return ESP_OK;
}

static esp_err_t load(void)
{
    char error[128];
    if (s_wasm_copy == NULL) s_wasm_copy = heap_caps_malloc(s_config.wasm_len, MALLOC_CAP_8BIT);
    if (s_wasm_copy == NULL) {
        snprintf(s_error, sizeof s_error, "no %u bytes of heap to load the core from", (unsigned)s_config.wasm_len);
        ESP_LOGE(TAG, "%s", s_error);
        return ESP_ERR_NO_MEM;
    }
    /* The loader writes into the buffer it is given: always a fresh RAM copy of the image. */
    memcpy(s_wasm_copy, s_config.wasm, s_config.wasm_len);
    LoadArgs args;
    memset(&args, 0, sizeof args);
    args.name = (char *)"core";
    args.wasm_binary_freeable = !MODULE_COPY_KEPT;
    s_module = wasm_runtime_load_ex(s_wasm_copy, (uint32_t)s_config.wasm_len, &args, error, sizeof error);
    if (s_module != NULL && !MODULE_COPY_KEPT && wasm_runtime_is_underlying_binary_freeable(s_module)) {
        free(s_wasm_copy);
        s_wasm_copy = NULL;
    }
    if (s_module == NULL) {
        snprintf(s_error, sizeof s_error, "load: %.128s", error);
        ESP_LOGE(TAG, "%s", s_error);
        return ESP_FAIL;
    }
    return ESP_OK;
}

static esp_err_t instantiate(void)
{
    char error[128];
    esp_err_t err = load();
    if (err != ESP_OK) goto fail;
    /* The core has no start function (tests/abi.test.ts), so nothing runs here unbounded. Heap 0:
     * the core allocates nothing; its linear memory is its static data (__heap_base). */
    s_inst = wasm_runtime_instantiate(s_module, s_config.stack_bytes, 0, error, sizeof error);
    if (s_inst == NULL) {
        snprintf(s_error, sizeof s_error, "instantiate: %.128s", error);
        ESP_LOGE(TAG, "%s", s_error);
        err = ESP_FAIL;
        goto fail;
    }
    s_env = wasm_runtime_create_exec_env(s_inst, s_config.stack_bytes);
    if (s_env == NULL) {
        snprintf(s_error, sizeof s_error, "no memory for the execution environment");
        ESP_LOGE(TAG, "%s", s_error);
        err = ESP_ERR_NO_MEM;
        goto fail;
    }
    err = lookup_buffers();
    if (err != ESP_OK) goto fail;
    if (s_config.on_instantiated) {
        s_setting_up = true;
        s_setup_trapped = false;
        s_config.on_instantiated();
        s_setting_up = false;
        if (s_setup_trapped) {
            snprintf(s_error, sizeof s_error, "the core trapped while being set up");
            ESP_LOGE(TAG, "%s", s_error);
            err = ESP_FAIL;
            goto fail;
        }
    }
    return ESP_OK;
fail:
    unload();
    return err;
}

esp_err_t wasm_host_start(const wasm_host_config_t *config)
{
    if (config == NULL || config->wasm == NULL || config->wasm_len < 8 || (config->pool_bytes != 0 && config->pool_bytes < 4096) ||
        config->stack_bytes < 512) {
        return ESP_ERR_INVALID_ARG;
    }
    if (s_started) return ESP_ERR_INVALID_STATE; /* wasm_host_stop first */
    s_config = *config;
    s_heap_before = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    RuntimeInitArgs init;
    memset(&init, 0, sizeof init);
    if (config->pool_bytes == 0) {
        /* The runtime takes from the heap what the core needs, and what a calibration module needs
         * only while one is loaded (docs/esp32.md, "Memory"). */
        init.mem_alloc_type = Alloc_With_System_Allocator;
    } else {
        s_pool = heap_caps_malloc(config->pool_bytes, MALLOC_CAP_8BIT | MALLOC_CAP_INTERNAL);
        if (s_pool == NULL) {
            ESP_LOGE(TAG, "no %" PRIu32 " bytes of heap for the WAMR pool", config->pool_bytes);
            return ESP_ERR_NO_MEM;
        }
        init.mem_alloc_type = Alloc_With_Pool;
        init.mem_alloc_option.pool.heap_buf = s_pool;
        init.mem_alloc_option.pool.heap_size = config->pool_bytes;
    }
    if (!wasm_runtime_full_init(&init)) {
        ESP_LOGE(TAG, "WAMR init failed (pool %" PRIu32 " bytes)", config->pool_bytes);
        free(s_pool);
        s_pool = NULL;
        return ESP_FAIL;
    }
    s_started = true;
    /* Natives are registered before any module is loaded. */
    if (!wasm_runtime_register_natives(SCALE_ABI_MODULE_GPIO_WAIT_LOW, s_gpio_natives, sizeof s_gpio_natives / sizeof s_gpio_natives[0]) ||
        !wasm_runtime_register_natives(SCALE_ABI_MODULE_CALIB_GAIN, s_calib_natives, sizeof s_calib_natives / sizeof s_calib_natives[0]) ||
        !wasm_runtime_register_natives(SCALE_ABI_MODULE_SYS_PANIC, s_sys_natives, sizeof s_sys_natives / sizeof s_sys_natives[0])) {
        ESP_LOGE(TAG, "registering natives failed");
        wasm_host_stop();
        return ESP_FAIL;
    }
    esp_err_t err = instantiate();
    size_t after = heap_caps_get_free_size(MALLOC_CAP_8BIT);
    s_heap_taken = after < s_heap_before ? (uint32_t)(s_heap_before - after) : 0;
    if (err == ESP_OK) {
        ESP_LOGI(TAG, "core loaded: %u bytes, ABI %d", (unsigned)config->wasm_len, SCALE_ABI_VERSION);
        wasm_host_log_memory();
    }
    return err;
}

void wasm_host_stop(void)
{
    if (!s_started) return;
    unload();
    wasm_runtime_destroy();
    free(s_pool);
    free(s_wasm_copy);
    scale_rescue_drop(&s_rescued);
    s_pool = NULL;
    s_wasm_copy = NULL;
    s_started = false;
    s_failed_attempts = 0;
    s_next_attempt_ms = 0;
    s_gave_up = false;
    s_heap_taken = 0;
    memset(&s_calibration, 0, sizeof s_calibration);
}

bool wasm_host_ready(void)
{
    return s_inst != NULL && !s_setup_trapped;
}

esp_err_t wasm_host_recover(int64_t now_ms)
{
    if (wasm_host_ready()) return ESP_OK;
    scale_rescue_drop(&s_rescued); /* a plain recovery starts from the blobs, as it always has */
    if (s_gave_up) return ESP_ERR_INVALID_STATE;
    if (now_ms < s_next_attempt_ms) return ESP_ERR_NOT_FINISHED;
    if (instantiate() == ESP_OK) {
        ESP_LOGI(TAG, "core instantiated again after %d failed attempt(s)", s_failed_attempts);
        s_failed_attempts = 0;
        return ESP_OK;
    }
    if (++s_failed_attempts >= WASM_HOST_MAX_ATTEMPTS) {
        ESP_LOGE(TAG, "the core failed to instantiate %d times in a row: giving up", s_failed_attempts);
        s_gave_up = true;
        return ESP_ERR_INVALID_STATE;
    }
    int64_t backoff = (int64_t)WASM_HOST_BACKOFF_FIRST_MS << (s_failed_attempts - 1);
    if (backoff > WASM_HOST_BACKOFF_MAX_MS) backoff = WASM_HOST_BACKOFF_MAX_MS;
    s_next_attempt_ms = now_ms + backoff;
    ESP_LOGW(TAG, "instantiation %d of %d failed; next in %" PRId64 " ms", s_failed_attempts, WASM_HOST_MAX_ATTEMPTS, backoff);
    return ESP_FAIL;
}

esp_err_t wasm_host_call(const char *name, uint32_t argc, uint32_t *argv)
{
    if (!wasm_host_ready()) return ESP_ERR_INVALID_STATE;
    wasm_function_inst_t fn = wasm_runtime_lookup_function(s_inst, name);
    if (fn == NULL) {
        ESP_LOGE(TAG, "core has no export %s", name);
        return ESP_ERR_NOT_FOUND;
    }
    if (call_bounded(fn, argc, argv)) return ESP_OK;
    const char *exception = wasm_runtime_get_exception(s_inst);
    snprintf(s_error, sizeof s_error, "%s: %s", name, exception ? exception : "?");
    ESP_LOGE(TAG, "core trapped in %s", s_error);
    if (s_setting_up) {
        s_setup_trapped = true; /* instantiate() fails and unloads once on_instantiated returns */
    } else {
        rescue_state(); /* for a core on trial rolled back (wasm_host_state_copy) */
        unload();
        s_next_attempt_ms = 0; /* the first attempt is immediate */
    }
    return ESP_FAIL;
}

int32_t wasm_host_call_i(const char *name, uint32_t argc, int32_t a, int32_t b)
{
    uint32_t argv[2] = {(uint32_t)a, (uint32_t)b};
    return wasm_host_call(name, argc, argv) == ESP_OK ? (int32_t)argv[0] : INT32_MIN;
}

static uint8_t *io_of(size_t *cap)
{
    return wasm_host_io(cap);
}

static const scale_core_calls_t CORE_CALLS = {wasm_host_call_i, io_of};

size_t wasm_host_state_save(uint8_t *dst, size_t cap)
{
    return scale_state_save(&CORE_CALLS, dst, cap);
}

esp_err_t wasm_host_state_load(const uint8_t *src, size_t len)
{
    return scale_state_load(&CORE_CALLS, src, len) ? ESP_OK : ESP_ERR_INVALID_STATE;
}

/* The state of a core that trapped, saved before its instance went. */
static void rescue_state(void)
{
    if (s_inst == NULL) return;
    wasm_runtime_clear_exception(s_inst);
    scale_rescue_save(&s_rescued, &CORE_CALLS);
}

uint8_t *wasm_host_state_copy(size_t *len)
{
    return scale_rescue_take(&s_rescued, &CORE_CALLS, wasm_host_ready(), len);
}

const char *wasm_host_last_error(void)
{
    return s_error;
}

esp_err_t wasm_host_replace(const uint8_t *wasm, size_t len)
{
    if (!s_started || wasm == NULL || len < 8) return ESP_ERR_INVALID_ARG;
    unload();
    free(s_wasm_copy);
    s_wasm_copy = NULL;
    s_config.wasm = wasm;
    s_config.wasm_len = len;
    s_failed_attempts = 0;
    s_gave_up = false;
    return instantiate();
}

int32_t wasm_host_call_if(const char *name, int32_t key, float value)
{
    uint32_t argv[2];
    argv[0] = (uint32_t)key;
    memcpy(&argv[1], &value, sizeof value);
    return wasm_host_call(name, 2, argv) == ESP_OK ? (int32_t)argv[0] : INT32_MIN;
}

uint8_t *wasm_host_io(size_t *cap)
{
    *cap = s_io_cap;
    return s_io;
}

const uint8_t *wasm_host_reading(void)
{
    return s_reading;
}

void wasm_host_memory(wasm_host_memory_t *out)
{
    memset(out, 0, sizeof *out);
    mem_alloc_info_t info;
    if (wasm_runtime_get_mem_alloc_info(&info)) {
        out->pool_bytes = (uint32_t)info.total_size;
        out->pool_peak_bytes = (uint32_t)info.highmark_size;
        out->pool_free_bytes = (uint32_t)info.total_free_size;
    }
    if (s_inst != NULL) {
        wasm_memory_inst_t memory = wasm_runtime_get_default_memory(s_inst);
        if (memory) out->linear_bytes = (uint32_t)(wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory));
    }
    out->module_copy_bytes = s_wasm_copy ? (uint32_t)s_config.wasm_len : 0;
    out->heap_taken_bytes = s_heap_taken;
}

void wasm_host_log_memory(void)
{
    wasm_host_memory_t m;
    wasm_host_memory(&m);
    if (m.pool_bytes == 0) {
        ESP_LOGI(TAG, "WAMR on the heap: the core took %" PRIu32 " bytes at start (linear memory %" PRIu32 ", module copy %" PRIu32 ")",
                 m.heap_taken_bytes, m.linear_bytes, m.module_copy_bytes);
    } else {
        ESP_LOGI(TAG, "WAMR pool %" PRIu32 " bytes, peak %" PRIu32 ", free %" PRIu32 "; linear memory %" PRIu32 "; module copy %" PRIu32,
                 m.pool_bytes, m.pool_peak_bytes, m.pool_free_bytes, m.linear_bytes, m.module_copy_bytes);
    }
}
