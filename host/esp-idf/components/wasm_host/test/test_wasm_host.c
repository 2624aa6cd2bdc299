/*
 * The firmware's wasm_host.c, unchanged, on Linux: the release core loaded and run with the
 * Kconfig defaults (pool, stack, instruction limit) and a simulated HX711; a core that traps
 * re-instantiated 200 times with no pool memory lost; a runaway call stopped by metering; a core
 * of another ABI version refused.  Usage: test_wasm_host <case> <release.wasm>
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hx711_gpio.h"
#include "wasm_export.h"
#include "wasm_host.h"

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            exit(1);                                                      \
        }                                                                 \
    } while (0)

/* ---- a simulated HX711 on GPIO 18 (clock) and 4 (data): ready at once, a few counts of noise ---- */

static uint32_t s_noise = 1;
static int s_write_fails;

int32_t hx711_gpio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us)
{
    (void)pins;
    (void)len;
    (void)timeout_us;
    return 0;
}

int32_t hx711_gpio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len)
{
    (void)pins;
    if (clk != 18 || pulses < 25 || pulses > 27 || out_len < 4 * (len + 2)) return -1;
    s_noise = s_noise * 1103515245u + 12345u;
    uint32_t data = 100000u + ((s_noise >> 16) & 63u), extra = (uint32_t)pulses - 24u;
    uint32_t word = (data << extra) | ((1u << extra) - 1u), high = (1u << len) - 1u, longest = 1;
    for (size_t i = 0; i < len; i++) memcpy(out + 4 * i, &word, 4);
    memcpy(out + 4 * len, &high, 4);
    memcpy(out + 4 * (len + 1), &longest, 4);
    return 0;
}

esp_err_t hx711_gpio_write(int pin, int level)
{
    return (s_write_fails || pin != 18 || (level != 0 && level != 1)) ? ESP_ERR_INVALID_ARG : ESP_OK;
}

/* ---- cores ------------------------------------------------------------------------------------ */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s (npm run asbuild)", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len);
    CHECK(buf != NULL && fread(buf, 1, *len, f) == *len, "cannot read %s", path);
    fclose(f);
    return buf;
}

/* A minimal module with the core's start-up exports: scale_init returns `abi`, and `spin` loops for ever. */
static uint8_t s_mod[256];
static size_t s_mod_len;
static void put(const void *p, size_t n) { memcpy(s_mod + s_mod_len, p, n); s_mod_len += n; }
static void byte(uint8_t b) { s_mod[s_mod_len++] = b; }
static void name(const char *s) { byte((uint8_t)strlen(s)); put(s, strlen(s)); }
static size_t section_begin(uint8_t id) { byte(id); byte(0); return s_mod_len; }
static void section_end(size_t at) { s_mod[at - 1] = (uint8_t)(s_mod_len - at); }

static const uint8_t *tiny_core(int32_t abi, size_t *len)
{
    s_mod_len = 0;
    put("\0asm\1\0\0\0", 8);
    size_t at = section_begin(1); /* types: () -> i32, () -> () */
    put("\x02\x60\x00\x01\x7f\x60\x00\x00", 8);
    section_end(at);
    at = section_begin(3); /* functions */
    put("\x05\x00\x00\x00\x00\x01", 6);
    section_end(at);
    at = section_begin(5); /* one page, no growth */
    put("\x01\x01\x01\x01", 4);
    section_end(at);
    at = section_begin(7);
    byte(6);
    name("memory"); byte(2); byte(0);
    name("scale_init"); byte(0); byte(0);
    name("io_ptr"); byte(0); byte(1);
    name("io_cap"); byte(0); byte(2);
    name("reading_ptr"); byte(0); byte(3);
    name("spin"); byte(0); byte(4);
    section_end(at);
    at = section_begin(10);
    byte(5);
    byte(4); byte(0); byte(0x41); byte((uint8_t)(abi & 0x3f)); byte(0x0b); /* i32.const abi (0..63) */
    put("\x04\x00\x41\x00\x0b", 5);                                   /* io_ptr: 0 */
    put("\x05\x00\x41\x80\x08\x0b", 6);                               /* io_cap: 1024 */
    put("\x05\x00\x41\x80\x10\x0b", 6);                               /* reading_ptr: 2048 */
    put("\x07\x00\x03\x40\x0c\x00\x0b\x0b", 8);                       /* spin: loop br 0 end */
    section_end(at);
    *len = s_mod_len;
    return s_mod;
}

static int s_instantiations;
static void on_instantiated(void)
{
    s_instantiations++;
    wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, 18, 4);
}

static wasm_host_config_t config_for(const uint8_t *wasm, size_t len)
{
    wasm_host_config_t c = {
        .wasm = wasm, .wasm_len = len,
        .stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024,
        .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT,
        .on_instantiated = on_instantiated,
    };
    return c;
}

static mem_alloc_info_t pool(void)
{
    mem_alloc_info_t info;
    CHECK(wasm_runtime_get_mem_alloc_info(&info), "no pool information");
    return info;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3, "usage: test_wasm_host <load-and-run|trap-recovery|runaway|wrong-abi> <release.wasm>");
    const char *what = argv[1];
    printf("%u-bit, Kconfig defaults: pool %d KiB, stack %d KiB, instruction limit %d\n", (unsigned)(8 * sizeof(void *)),
           CONFIG_SCALE_WASM_POOL_KB, CONFIG_SCALE_WASM_STACK_KB, CONFIG_SCALE_WASM_INSTRUCTION_LIMIT);
    size_t len;
    if (strcmp(what, "wrong-abi") == 0) {
        const uint8_t *wasm = tiny_core(SCALE_ABI_VERSION + 1, &len);
        wasm_host_config_t c = config_for(wasm, len);
        CHECK(wasm_host_start(&c) == ESP_ERR_NOT_SUPPORTED, "a core of ABI %d was not refused", SCALE_ABI_VERSION + 1);
        CHECK(s_instantiations == 0, "on_instantiated ran for a refused core");
        return 0;
    }
    if (strcmp(what, "runaway") == 0) {
        const uint8_t *wasm = tiny_core(SCALE_ABI_VERSION, &len);
        wasm_host_config_t c = config_for(wasm, len);
        CHECK(wasm_host_start(&c) == ESP_OK, "the tiny core did not load");
        uint32_t args[1] = {0};
        CHECK(wasm_host_call("spin", 0, args) == ESP_FAIL, "an endless loop returned");
        CHECK(s_instantiations == 2, "not instantiated again after the runaway call (%d)", s_instantiations);
        printf("an endless loop was stopped after %d instructions and the core instantiated again\n", CONFIG_SCALE_WASM_INSTRUCTION_LIMIT);
        return 0;
    }
    uint8_t *core = read_file(argv[2], &len);
    wasm_host_config_t c = config_for(core, len);
    esp_err_t err = wasm_host_start(&c);
    CHECK(err == ESP_OK, "the release core (%zu bytes) does not load with the Kconfig defaults: error 0x%x", len, (unsigned)err);
    if (strcmp(what, "load-and-run") == 0) {
        int readings = 0;
        int32_t t = 0;
        for (int i = 0; i < 10000; i++) {
            int32_t r = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, t += 13, 0);
            CHECK(r != INT32_MIN, "sample %d trapped", i);
            if (r > 0) readings++;
        }
        CHECK(readings > 9900, "only %d readings from 10,000 samples", readings);
        mem_alloc_info_t p = pool();
        printf("release core %zu bytes: 10,000 samples, %d readings; pool peak %" PRIu32 " of %" PRIu32 " bytes (%" PRIu32 " free)\n",
               len, readings, p.highmark_size, p.total_size, p.total_free_size);
        return 0;
    }
    if (strcmp(what, "trap-recovery") == 0) {
        mem_alloc_info_t before = pool();
        s_write_fails = 1; /* gpio.write refuses: the native traps the core */
        for (int i = 0; i < 200; i++) {
            CHECK(wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0) == INT32_MIN, "call %d did not trap", i);
            if (getenv("WASM_HOST_TRACE")) {
                mem_alloc_info_t p = pool();
                fprintf(stderr, "after trap %d: free %" PRIu32 " high-water %" PRIu32 "\n", i + 1, p.total_free_size, p.highmark_size);
            }
        }
        s_write_fails = 0;
        CHECK(s_instantiations == 201, "%d instantiations after 200 traps", s_instantiations);
        CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, 5, 0) != INT32_MIN, "the core does not run after the traps");
        mem_alloc_info_t after = pool();
        /* A leak would push the high-water mark up with every re-instantiation. */
        CHECK(after.highmark_size <= before.highmark_size + 1024, "pool high-water %" PRIu32 " before, %" PRIu32 " after 200 traps",
              before.highmark_size, after.highmark_size);
        printf("200 traps, 200 re-instantiations: pool high-water %" PRIu32 " bytes before, %" PRIu32 " after\n",
               before.highmark_size, after.highmark_size);
        return 0;
    }
    CHECK(0, "unknown case %s", what);
}
