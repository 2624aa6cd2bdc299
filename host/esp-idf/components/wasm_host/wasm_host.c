/* wasm-scale Wasm host on WAMR (espressif/wasm-micro-runtime). */
#include "wasm_host.h"

#include <inttypes.h>
#include <string.h>
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "hx711_gpio.h"
#include "scale_portable.h"
#include "wasm_export.h"

static const char *TAG = "wasm_host";

static uint8_t s_pool[CONFIG_SCALE_WASM_POOL_KB * 1024] __attribute__((aligned(8)));
static wasm_host_config_t s_config;
static uint8_t *s_wasm_copy;
static wasm_module_t s_module;
static wasm_module_inst_t s_inst;
static wasm_exec_env_t s_env;
static uint8_t *s_io;
static size_t s_io_cap;
static const uint8_t *s_reading;

/* ---- natives: every import of assembly/abi.json, same semantics as host/desktop/imports.ts ---- */

static int32_t native_wait_low(wasm_exec_env_t env, const uint8_t *pins, uint32_t len, int32_t timeout_us)
{
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

/* WAMR keeps pointers into these tables: they live as long as the program. The signatures come
 * from the generated scale_abi.h; tests/esp-idf.test.ts checks this table against the ABI. */
static NativeSymbol s_gpio_natives[] = {
    {"wait_low", (void *)native_wait_low, SCALE_ABI_SIG_GPIO_WAIT_LOW, NULL},
    {"clock_in", (void *)native_clock_in, SCALE_ABI_SIG_GPIO_CLOCK_IN, NULL},
    {"write", (void *)native_write, SCALE_ABI_SIG_GPIO_WRITE, NULL},
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
}

static esp_err_t lookup_buffers(void)
{
    uint32_t argv[1];
    const char *names[] = {SCALE_EXPORT_SCALE_INIT, SCALE_EXPORT_IO_PTR, SCALE_EXPORT_IO_CAP, SCALE_EXPORT_READING_PTR};
    uint32_t results[4];
    for (int i = 0; i < 4; i++) {
        wasm_function_inst_t fn = wasm_runtime_lookup_function(s_inst, names[i]);
        if (fn == NULL || !wasm_runtime_call_wasm(s_env, fn, 0, argv)) {
            ESP_LOGE(TAG, "core export %s missing or trapped", names[i]);
            return ESP_FAIL;
        }
        results[i] = argv[0];
    }
    if (results[0] != SCALE_ABI_VERSION) {
        ESP_LOGE(TAG, "core speaks ABI %" PRIu32 ", this firmware %d", results[0], SCALE_ABI_VERSION);
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

static esp_err_t instantiate(void)
{
    char error[128];
    esp_err_t err = ESP_FAIL;
    /* wasm_runtime_load rewrites the buffer in place: load from a fresh RAM copy every time. */
    memcpy(s_wasm_copy, s_config.wasm, s_config.wasm_len);
    s_module = wasm_runtime_load(s_wasm_copy, s_config.wasm_len, error, sizeof error);
    if (s_module == NULL) {
        ESP_LOGE(TAG, "load: %s", error);
        goto fail;
    }
    /* heap 0: the core allocates nothing at run time; linear memory is its one page. */
    s_inst = wasm_runtime_instantiate(s_module, s_config.stack_bytes, 0, error, sizeof error);
    if (s_inst == NULL) {
        ESP_LOGE(TAG, "instantiate: %s", error);
        goto fail;
    }
    s_env = wasm_runtime_create_exec_env(s_inst, s_config.stack_bytes);
    if (s_env == NULL) {
        ESP_LOGE(TAG, "no memory for the execution environment");
        err = ESP_ERR_NO_MEM;
        goto fail;
    }
    err = lookup_buffers();
    if (err != ESP_OK) goto fail;
    if (s_config.on_instantiated) s_config.on_instantiated();
    return ESP_OK;
fail:
    unload();
    return err;
}

esp_err_t wasm_host_start(const wasm_host_config_t *config)
{
    if (config == NULL || config->wasm == NULL || config->wasm_len < 8) return ESP_ERR_INVALID_ARG;
    s_config = *config;
    RuntimeInitArgs init;
    memset(&init, 0, sizeof init);
    init.mem_alloc_type = Alloc_With_Pool;
    init.mem_alloc_option.pool.heap_buf = s_pool;
    init.mem_alloc_option.pool.heap_size = sizeof s_pool;
    if (!wasm_runtime_full_init(&init)) {
        ESP_LOGE(TAG, "WAMR init failed (pool %u bytes)", (unsigned)sizeof s_pool);
        return ESP_FAIL;
    }
    /* Natives are registered before any module is loaded. */
    if (!wasm_runtime_register_natives(SCALE_ABI_MODULE_GPIO_WAIT_LOW, s_gpio_natives, sizeof s_gpio_natives / sizeof s_gpio_natives[0]) ||
        !wasm_runtime_register_natives(SCALE_ABI_MODULE_SYS_PANIC, s_sys_natives, sizeof s_sys_natives / sizeof s_sys_natives[0])) {
        ESP_LOGE(TAG, "registering natives failed");
        wasm_runtime_destroy();
        return ESP_FAIL;
    }
    s_wasm_copy = heap_caps_malloc(config->wasm_len, MALLOC_CAP_8BIT);
    if (s_wasm_copy == NULL) {
        wasm_runtime_destroy();
        return ESP_ERR_NO_MEM;
    }
    esp_err_t err = instantiate();
    if (err == ESP_OK) {
        ESP_LOGI(TAG, "core loaded: %u bytes, ABI %d", (unsigned)config->wasm_len, SCALE_ABI_VERSION);
        wasm_host_log_memory();
    }
    return err;
}

esp_err_t wasm_host_call(const char *name, uint32_t argc, uint32_t *argv)
{
    if (s_inst == NULL && instantiate() != ESP_OK) return ESP_ERR_INVALID_STATE;
    wasm_function_inst_t fn = wasm_runtime_lookup_function(s_inst, name);
    if (fn == NULL) {
        ESP_LOGE(TAG, "core has no export %s", name);
        return ESP_ERR_NOT_FOUND;
    }
#ifdef SCALE_WASM_METERING
    /* Bound the call: a runaway core traps here instead of starving the task watchdog. */
    wasm_runtime_set_instruction_count_limit(s_env, (int)s_config.instruction_limit);
#endif
    if (wasm_runtime_call_wasm(s_env, fn, argc, argv)) return ESP_OK;
    const char *exception = wasm_runtime_get_exception(s_inst);
    ESP_LOGE(TAG, "core trapped in %s: %s; instantiating it again", name, exception ? exception : "?");
    unload();
    if (instantiate() != ESP_OK) ESP_LOGE(TAG, "re-instantiation failed; will retry on the next call");
    return ESP_FAIL;
}

int32_t wasm_host_call_i(const char *name, uint32_t argc, int32_t a, int32_t b)
{
    uint32_t argv[2] = {(uint32_t)a, (uint32_t)b};
    return wasm_host_call(name, argc, argv) == ESP_OK ? (int32_t)argv[0] : INT32_MIN;
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

void wasm_host_log_memory(void)
{
    mem_alloc_info_t info;
    if (wasm_runtime_get_mem_alloc_info(&info)) {
        ESP_LOGI(TAG, "runtime pool: %" PRIu32 " of %" PRIu32 " bytes free, high-water %" PRIu32,
                 (uint32_t)info.total_free_size, (uint32_t)info.total_size, (uint32_t)info.highmark_size);
    }
}
