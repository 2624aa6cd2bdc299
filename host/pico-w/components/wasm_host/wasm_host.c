/*
 * wasm-scale Wasm host on wasm3. The natives table below is the ABI's imports (assembly/abi.json;
 * tests/pico-w.test.ts checks it), each checking its pointers against linear memory. Linear memory
 * is limited to the core's static data (its exported __heap_base), as WAMR shrinks it on the ESP32:
 * the core never grows memory, and wasm3 then allocates 22 KB instead of a 64 KiB page.
 */
#include "wasm_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hx711_pio.h"
#include "scale_portable.h"
#include "wasm3.h"
#include "m3_env.h"

#define MAX_EXPORTS 24

static wasm_host_config_t s_config;
static IM3Environment s_env;
static IM3Runtime s_runtime;
static bool s_ready;
static int s_failures;
static uint32_t s_retry_at_ms;
static uint32_t s_backoff_ms = WASM_HOST_BACKOFF_FIRST_MS;
static uint32_t s_io;
static uint32_t s_io_cap;
static uint32_t s_reading;
static char s_error[160];   /* why the last load or call failed */
static scale_rescue_t s_rescued; /* the state of the core that trapped last */
static void rescue_state(void);
static struct {
    const char *name;
    IM3Function fn;
} s_exports[MAX_EXPORTS];
static int s_export_count;

/* --- natives ------------------------------------------------------------------------------- */

m3ApiRawFunction(native_wait_low)
{
    m3ApiReturnType(int32_t);
    m3ApiGetArgMem(const uint8_t *, pins);
    m3ApiGetArg(int32_t, len);
    m3ApiGetArg(int32_t, timeout_us);
    if (len < 0) m3ApiReturn(-1000001);
    m3ApiCheckMem(pins, (uint32_t)len);
    m3ApiReturn(hx711_pio_wait_low(pins, (size_t)len, timeout_us));
}

m3ApiRawFunction(native_clock_in)
{
    m3ApiReturnType(int32_t);
    m3ApiGetArg(int32_t, clk);
    m3ApiGetArgMem(const uint8_t *, pins);
    m3ApiGetArg(int32_t, len);
    m3ApiGetArg(int32_t, pulses);
    m3ApiGetArgMem(uint8_t *, out);
    m3ApiGetArg(int32_t, out_len);
    if (len < 0 || out_len < 0) m3ApiReturn(-1);
    m3ApiCheckMem(pins, (uint32_t)len);
    m3ApiCheckMem(out, (uint32_t)out_len);
    m3ApiReturn(hx711_pio_clock_in(clk, pins, (size_t)len, pulses, out, (size_t)out_len));
}

m3ApiRawFunction(native_write)
{
    m3ApiGetArg(int32_t, pin);
    m3ApiGetArg(int32_t, level);
    hx711_pio_write(pin, level);
    m3ApiSuccess();
}

m3ApiRawFunction(native_panic)
{
    m3ApiGetArg(int32_t, line);
    m3ApiGetArg(int32_t, col);
    printf("wasm-scale: the core panicked at line %ld, column %ld\n", (long)line, (long)col);
    m3ApiTrap("core panic");
}

/* The core's calib imports go where wasm_host_set_calibration says (the module manager's host,
 * host/module_host, in main.c): the active calibration module's gain (NaN, and the core weighs
 * with its built-in curve, when there is none or it failed), its curve and knots, the core's
 * refusals, and a fit through it. */
static wasm_host_calibration_t s_calibration;

void wasm_host_set_calibration(const wasm_host_calibration_t *calibration)
{
    s_calibration = calibration ? *calibration : (wasm_host_calibration_t){0};
}

m3ApiRawFunction(native_calib_gain)
{
    m3ApiReturnType(double);
    m3ApiGetArg(double, c0);
    m3ApiGetArg(double, c1);
    m3ApiGetArg(double, c2);
    m3ApiGetArg(double, c3);
    m3ApiReturn(s_calibration.gain ? s_calibration.gain(c0, c1, c2, c3) : __builtin_nan(""));
}

m3ApiRawFunction(native_calib_curve)
{
    m3ApiReturnType(int32_t);
    m3ApiGetArg(double, temp_c);
    m3ApiReturn(s_calibration.curve ? s_calibration.curve(temp_c) : -1);
}

m3ApiRawFunction(native_calib_knot)
{
    m3ApiReturnType(double);
    m3ApiGetArg(int32_t, i);
    m3ApiReturn(s_calibration.knot ? s_calibration.knot(i) : __builtin_nan(""));
}

m3ApiRawFunction(native_calib_fault)
{
    m3ApiGetArg(int32_t, kind);
    m3ApiGetArg(double, x);
    m3ApiGetArg(double, value);
    if (s_calibration.fault) s_calibration.fault(kind, x, value);
    m3ApiSuccess();
}

m3ApiRawFunction(native_calib_fit)
{
    m3ApiReturnType(int32_t);
    m3ApiGetArg(int32_t, order);
    m3ApiGetArgMem(const uint8_t *, points);
    m3ApiGetArg(int32_t, n);
    m3ApiGetArg(double, zero_counts);
    if (n < 0 || n > 10) m3ApiReturn(-2);
    m3ApiCheckMem(points, (uint32_t)n * 16u);
    m3ApiReturn(s_calibration.fit ? s_calibration.fit(order, points, n, zero_counts) : -6); /* DEGENERATE: no module to fit */
}

/* The ABI's imports: module, name, wasm3 signature, function. */
static const struct {
    const char *module;
    const char *name;
    const char *signature;
    M3RawCall fn;
} NATIVES[] = {
    {"gpio", "wait_low", "i(*ii)", native_wait_low},
    {"gpio", "clock_in", "i(i*ii*i)", native_clock_in},
    {"gpio", "write", "v(ii)", native_write},
    {"calib", "gain", "F(FFFF)", native_calib_gain},
    {"calib", "curve", "i(F)", native_calib_curve},
    {"calib", "knot", "F(i)", native_calib_knot},
    {"calib", "fault", "v(iFF)", native_calib_fault},
    {"calib", "fit", "i(i*iF)", native_calib_fit},
    {"sys", "panic", "v(ii)", native_panic},
};

/* --- instantiation -------------------------------------------------------------------------- */

static void unload(void)
{
    s_ready = false;
    s_export_count = 0;
    if (s_runtime) m3_FreeRuntime(s_runtime); /* frees the loaded module too */
    s_runtime = NULL;
}

static IM3Function find(const char *name)
{
    for (int i = 0; i < s_export_count; i++) {
        if (s_exports[i].name == name || strcmp(s_exports[i].name, name) == 0) return s_exports[i].fn;
    }
    IM3Function f = NULL;
    if (m3_FindFunction(&f, s_runtime, name) != m3Err_none) return NULL;
    if (s_export_count < MAX_EXPORTS) s_exports[s_export_count++] = (typeof(s_exports[0])){name, f};
    return f;
}

static int32_t call(const char *name, uint32_t argc, const void **args)
{
    if (!s_ready) return INT32_MIN;
    IM3Function f = find(name);
    if (f == NULL || m3_GetArgCount(f) != argc) {
        printf("wasm-scale: the core has no export %s/%lu\n", name, (unsigned long)argc);
        return INT32_MIN;
    }
    M3Result r = m3_Call(f, argc, args);
    if (r != m3Err_none) {
        M3ErrorInfo info;
        m3_GetErrorInfo(s_runtime, &info);
        snprintf(s_error, sizeof s_error, "%s: %s%s%s", name, r, info.message && info.message[0] ? " " : "", info.message ? info.message : "");
        printf("wasm-scale: %s trapped; the core is loaded again\n", s_error);
        rescue_state(); /* for a core on trial rolled back (wasm_host_state_copy) */
        unload();
        return INT32_MIN;
    }
    int32_t result = 0;
    if (m3_GetRetCount(f) > 0) {
        const void *out[1] = {&result};
        if (m3_GetResults(f, 1, out) != m3Err_none) return INT32_MIN;
    }
    return result;
}

int32_t wasm_host_call_i(const char *name, uint32_t argc, const int32_t *argv)
{
    const void *args[4];
    for (uint32_t i = 0; i < argc && i < 4; i++) args[i] = &argv[i];
    return call(name, argc, args);
}

int32_t wasm_host_config_set(int32_t key, float value)
{
    const void *args[2] = {&key, &value};
    return call("config_set", 2, args);
}

float wasm_host_config_get(int32_t key)
{
    const void *args[1] = {&key};
    const int32_t bits = call("config_get", 1, args);
    float value = __builtin_nanf("");
    if (bits != INT32_MIN) memcpy(&value, &bits, sizeof value);
    return value;
}

static bool instantiate(void)
{
    int32_t heap_base = scale_wasm_heap_base(s_config.wasm, s_config.wasm_len);
    if (heap_base <= 0) {
        snprintf(s_error, sizeof s_error, "the core exports no __heap_base");
        printf("wasm-scale: %s\n", s_error);
        return false;
    }
    s_runtime = m3_NewRuntime(s_env, s_config.stack_bytes, NULL);
    M3Result r = s_runtime ? m3Err_none : m3Err_mallocFailed;
    IM3Module module = NULL;
    if (r == m3Err_none) {
        s_runtime->memoryLimit = (uint32_t)heap_base;
        r = m3_ParseModule(s_env, &module, s_config.wasm, (uint32_t)s_config.wasm_len);
    }
    if (r == m3Err_none) {
        r = m3_LoadModule(s_runtime, module);
        if (r != m3Err_none) m3_FreeModule(module);
    }
    for (size_t i = 0; r == m3Err_none && i < sizeof NATIVES / sizeof NATIVES[0]; i++) {
        r = m3_LinkRawFunction(module, NATIVES[i].module, NATIVES[i].name, NATIVES[i].signature, NATIVES[i].fn);
        if (r == m3Err_functionLookupFailed) r = m3Err_none; /* the release core may not import sys.panic */
    }
    if (r != m3Err_none) {
        snprintf(s_error, sizeof s_error, "the core did not load: %s", r);
        printf("wasm-scale: %s\n", s_error);
        unload();
        return false;
    }
    s_ready = true;
    const int32_t abi = wasm_host_call_i("scale_init", 0, NULL);
    if (abi != SCALE_ABI_VERSION) {
        snprintf(s_error, sizeof s_error, "the core speaks ABI %ld, this firmware %d", (long)abi, SCALE_ABI_VERSION);
        printf("wasm-scale: %s\n", s_error);
        unload();
        return false;
    }
    s_io = (uint32_t)wasm_host_call_i("io_ptr", 0, NULL);
    s_io_cap = (uint32_t)wasm_host_call_i("io_cap", 0, NULL);
    s_reading = (uint32_t)wasm_host_call_i("reading_ptr", 0, NULL);
    if (s_config.on_instantiated) s_config.on_instantiated();
    return s_ready;
}

wasm_host_status_t wasm_host_start(const wasm_host_config_t *config)
{
    s_config = *config;
    s_env = m3_NewEnvironment();
    if (s_env == NULL) return WASM_HOST_FAIL;
    return instantiate() ? WASM_HOST_OK : WASM_HOST_FAIL;
}

bool wasm_host_ready(void)
{
    return s_ready;
}

wasm_host_status_t wasm_host_recover(uint32_t now_ms)
{
    if (s_ready) return WASM_HOST_OK;
    scale_rescue_drop(&s_rescued); /* a plain recovery starts from the blobs, as it always has */
    if (s_failures >= WASM_HOST_MAX_ATTEMPTS) return WASM_HOST_GAVE_UP;
    if ((int32_t)(now_ms - s_retry_at_ms) < 0) return WASM_HOST_WAIT;
    if (instantiate()) {
        s_failures = 0;
        s_backoff_ms = WASM_HOST_BACKOFF_FIRST_MS;
        return WASM_HOST_OK;
    }
    s_failures++;
    s_retry_at_ms = now_ms + s_backoff_ms;
    if (s_backoff_ms < WASM_HOST_BACKOFF_MAX_MS) s_backoff_ms *= 2;
    return s_failures >= WASM_HOST_MAX_ATTEMPTS ? WASM_HOST_GAVE_UP : WASM_HOST_FAIL;
}

static uint8_t *memory(uint32_t *size)
{
    *size = 0;
    return s_runtime ? m3_GetMemory(s_runtime, size, 0) : NULL;
}

uint8_t *wasm_host_io(size_t *cap)
{
    uint32_t size;
    uint8_t *base = memory(&size);
    if (base == NULL || s_io + s_io_cap > size) return NULL;
    *cap = s_io_cap;
    return base + s_io;
}

const uint8_t *wasm_host_reading(void)
{
    uint32_t size;
    uint8_t *base = memory(&size);
    if (base == NULL || s_reading + SCALE_ABI_READING_SIZE > size) return NULL;
    return base + s_reading;
}

uint32_t wasm_host_linear_bytes(void)
{
    uint32_t size;
    memory(&size);
    return size;
}

/* --- the core's state, and another core in its place (cores over the air) ---------------------- */

static int32_t call_two(const char *name, uint32_t argc, int32_t a, int32_t b)
{
    const int32_t argv[2] = {a, b};
    return wasm_host_call_i(name, argc, argv);
}

static const scale_core_calls_t CORE_CALLS = {call_two, wasm_host_io};

size_t wasm_host_state_save(uint8_t *dst, size_t cap)
{
    return scale_state_save(&CORE_CALLS, dst, cap);
}

bool wasm_host_state_load(const uint8_t *src, size_t len)
{
    return scale_state_load(&CORE_CALLS, src, len);
}

static void rescue_state(void)
{
    if (s_ready) scale_rescue_save(&s_rescued, &CORE_CALLS);
}

uint8_t *wasm_host_state_copy(size_t *len)
{
    return scale_rescue_take(&s_rescued, &CORE_CALLS, s_ready, len);
}

const char *wasm_host_last_error(void)
{
    return s_error;
}

int wasm_host_replace(const uint8_t *wasm, size_t len)
{
    if (s_env == NULL || wasm == NULL || len < 8) return 1;
    unload();
    s_config.wasm = wasm;
    s_config.wasm_len = len;
    s_failures = 0;
    s_backoff_ms = WASM_HOST_BACKOFF_FIRST_MS;
    if (instantiate()) return 0;
    return strstr(s_error, m3Err_mallocFailed) != NULL ? 2 : 1;
}
