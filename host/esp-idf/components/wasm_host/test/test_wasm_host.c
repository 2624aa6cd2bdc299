/*
 * The firmware's wasm_host.c, unchanged, on Linux against the WAMR the ESP32 runs, with the
 * Kconfig defaults (interpreter, pool, stack, instruction limit) and a simulated HX711:
 *   load-and-run   the release core does everything the firmware asks of it (samples, commands,
 *                  publishing, blobs) within the defaults, from a read-only image; prints the
 *                  figures (pool peak, linear memory, module copy, native stack) for the bench
 *   trap-recovery  a core that traps is instantiated again, 200 times, with no pool memory lost
 *   setup-trap     a core that traps while being set up fails that instantiation (no recursion),
 *                  is retried with backoff and given up after WASM_HOST_MAX_ATTEMPTS
 *   runaway        an endless loop in a start-up export (scale_init) is stopped by metering
 *   spin           so is one in a later call, and the core is instantiated again
 *   wrong-abi      a core of another ABI version is refused
 *   button         the button as main/button.c hands it over (scale_portable's edge ring, the
 *                  core's button export): a press through bouncing contacts tares once, a glitch
 *                  does nothing, a long press zeroes, each answered with "source":"button"
 *   battery        battery mode as main/battery.c runs it: 96 wakes, each a fresh instance given
 *                  its settings, device id and the state saved at the last sleep (the helpers
 *                  battery.c uses); one reading a wake, published every 4th, none lost
 *   probe S P      the workload with a Wasm stack of S bytes and a pool of P bytes (the tests and
 *                  the bench search the least that work: WAMR's own pool statistics drift, see
 *                  largest_block)
 * Usage: test_wasm_host <case> <release.wasm> [S P]
 */
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "hx711_gpio.h"
#include "check.h"
#include "button_case.h"
#include "scale_portable.h"
#include "sim_hx711.h"
#include "wasm_export.h"
#include "wasm_host.h"

#ifdef CONFIG_WAMR_INTERP_FAST
#define INTERPRETER "fast"
#else
#define INTERPRETER "classic"
#endif


/* ---- cores ------------------------------------------------------------------------------------ */

/* The image as the ESP32 has it in flash: mapped read-only, so a write into it crashes the test. */
static const uint8_t *read_only_image(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s (npm run asbuild)", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(buf != MAP_FAILED && fread(buf, 1, *len, f) == *len, "cannot read %s", path);
    fclose(f);
    CHECK(mprotect(buf, *len, PROT_READ) == 0, "mprotect");
    return buf;
}

/* A minimal module with the core's start-up exports: scale_init returns `abi` (or loops for ever
 * when `abi` is 0), and `spin` loops for ever. */
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
    if (abi == 0) {
        put("\x07\x00\x03\x40\x0c\x00\x0b\x00\x0b", 9); /* scale_init: loop br 0 end; unreachable */
    } else {
        byte(4); byte(0); byte(0x41); byte((uint8_t)(abi & 0x3f)); byte(0x0b); /* i32.const abi (1..63) */
    }
    put("\x04\x00\x41\x00\x0b", 5);                                   /* io_ptr: 0 */
    put("\x05\x00\x41\x80\x08\x0b", 6);                               /* io_cap: 1024 */
    put("\x05\x00\x41\x80\x10\x0b", 6);                               /* reading_ptr: 2048 */
    put("\x07\x00\x03\x40\x0c\x00\x0b\x0b", 8);                       /* spin: loop br 0 end */
    section_end(at);
    *len = s_mod_len;
    return s_mod;
}

static int s_instantiations;
static int s_trap_in_setup;
static void on_instantiated(void)
{
    s_instantiations++;
    wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, 18, 4);
    if (s_trap_in_setup) {
        sim_hx711_write_fails = 1; /* gpio.write refuses: the native traps the core */
        wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0);
        sim_hx711_write_fails = 0;
    }
}

static uint32_t s_pool_bytes = CONFIG_SCALE_WASM_POOL_KB * 1024;

static wasm_host_config_t config_for(const uint8_t *wasm, size_t len, uint32_t stack_bytes)
{
    wasm_host_config_t c = {
        .wasm = wasm, .wasm_len = len,
        .pool_bytes = s_pool_bytes,
        .stack_bytes = stack_bytes,
        .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT,
        .on_instantiated = on_instantiated,
    };
    return c;
}

static wasm_host_memory_t memory(void)
{
    wasm_host_memory_t m;
    wasm_host_memory(&m);
    return m;
}

/*
 * The largest block the pool can still give. WAMR 2.4.0's pool statistics cannot be trusted across
 * a re-instantiation: gc_realloc_vo_internal (mem-alloc/ems/ems_alloc.c) grows a block in place
 * without taking the bytes off total_free_size, so "free" creeps up by the grown bytes each time
 * the block is freed (512 bytes per load/unload of the release core) and the high-water mark
 * stops rising. What the pool can really allocate is measured here instead.
 */
static uint32_t largest_block(void)
{
    CHECK(s_pool_bytes > 0, "largest_block: no pool");
    uint32_t lo = 0, hi = s_pool_bytes; /* lo can be allocated, hi cannot */
    while (hi - lo > 8) {
        uint32_t mid = lo + (hi - lo) / 2;
        void *p = wasm_runtime_malloc(mid);
        if (p) {
            wasm_runtime_free(p);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* The heap in use (glibc counts each block with its header and rounding, at least what the
 * ESP32's TLSF does): with WAMR on the heap, what it holds is the change in this. glibc's
 * per-thread cache keeps freed blocks that mallinfo2 still counts as in use, so the harness runs
 * with it off (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, set by CMakeLists.txt and the tests). */
static size_t heap_in_use(void)
{
    const char *tunables = getenv("GLIBC_TUNABLES");
    CHECK(tunables != NULL && strstr(tunables, "glibc.malloc.tcache_count=0") != NULL,
          "heap figures need GLIBC_TUNABLES=glibc.malloc.tcache_count=0");
    return mallinfo2().uordblks;
}

/* ---- the firmware's workload ------------------------------------------------------------------ */

static void message(const char *topic, const char *payload)
{
    size_t cap, t = strlen(topic), p = strlen(payload);
    uint8_t *io = wasm_host_io(&cap);
    CHECK(t + p <= cap, "message too long for io");
    memcpy(io, topic, t);
    memcpy(io + t, payload, p);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)t, (int32_t)p) != INT32_MIN, "mqtt_message trapped on %s", payload);
}

/* Drains what the core has to publish into `out` (results only, NUL-separated); their number. */
static int drain_results(char *out, size_t cap)
{
    int n = 0;
    size_t used = 0;
    out[0] = 0;
    for (;;) {
        int32_t len = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
        CHECK(len != INT32_MIN, "out_next trapped");
        if (len <= 0) return n;
        size_t io_cap;
        const uint8_t *io = wasm_host_io(&io_cap);
        scale_frame_t f;
        CHECK(scale_unframe(io, (size_t)len, &f), "a frame that does not unframe");
        if (f.topic_len >= 7 && memcmp(f.topic + f.topic_len - 7, "/result", 7) == 0 && used + f.payload_len + 2 < cap) {
            memcpy(out + used, f.payload, f.payload_len);
            used += f.payload_len;
            out[used++] = '\n';
            out[used] = 0;
            n++;
        }
        CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0) != INT32_MIN, "out_done trapped");
    }
}

static int32_t button_call(int32_t edge, int32_t down, int32_t t_ms, void *ctx)
{
    (void)ctx;
    uint32_t argv[3] = {(uint32_t)edge, (uint32_t)down, (uint32_t)t_ms};
    return wasm_host_call(SCALE_EXPORT_BUTTON, 3, argv) == ESP_OK ? (int32_t)argv[0] : INT32_MIN;
}

static bool button_sample(int32_t t_ms)
{
    return wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, t_ms, 0) != INT32_MIN;
}

static void button_command(const char *json)
{
    message("wasm-scale/shelf/cmd", json);
}

static void button_code(int32_t code)
{
    sim_hx711_code = code;
}

/* The button's case shared with the Pico W's harness (scale_portable/test/button_case.c). */
static void button_case(void)
{
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    memcpy(io, "shelf", 5);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 5, 0) == 0, "device id refused");
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0) != INT32_MIN, "mqtt_connected trapped");
    const button_case_host_t host = {
        .sample = button_sample, .command = button_command, .button = button_call, .set_code = button_code, .results = drain_results,
    };
    CHECK(button_case_run(&host) == 0, "the button's case failed");
}

/* Drains what the core has to publish; returns the number of messages. */
static int drain(void)
{
    int n = 0;
    for (;;) {
        int32_t len = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
        CHECK(len != INT32_MIN, "out_next trapped");
        if (len <= 0) return n;
        CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0) != INT32_MIN, "out_done trapped");
        n++;
    }
}

/* What the firmware does with the core: set up, sample, take commands, publish, save blobs. */
static void *workload(void *arg)
{
    int *readings = arg;
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    memcpy(io, "bench", 5);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 5, 0) == 0, "device id refused");
    CHECK(wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, 1795000000, 0) != INT32_MIN, "time_sync trapped");
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0) != INT32_MIN, "mqtt_connected trapped");
    static const char *const commands[] = {
        "{\"cmd\":\"tare\",\"id\":1}", "{\"cmd\":\"zero\"}", "{\"cmd\":\"calibrate\",\"kg\":5,\"id\":\"c\"}",
        "{\"cmd\":\"cal_point\",\"kg\":0}", "{\"cmd\":\"cal_point\",\"kg\":2}", "{\"cmd\":\"cal_fit\",\"order\":2}",
        "{\"cmd\":\"config\",\"key\":\"PUBLISH_MS\",\"value\":0}", "{\"cmd\":\"bogus\",\"x\":[1,{\"y\":[2,3]}]}",
    };
    int messages = 0;
    int32_t t = 0;
    *readings = 0;
    for (int i = 0; i < 10000; i++) {
        int32_t r = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, t += 13, 0);
        CHECK(r != INT32_MIN, "sample %d trapped", i);
        if (r > 0) (*readings)++;
        if (i % 1000 == 500) message("wasm-scale/bench/cmd", commands[(i / 1000) % 8]);
        if (i % 1000 == 900) message("homeassistant/status", "online");
        if (i % 100 == 0) messages += drain();
    }
    for (int which = SCALE_BLOB_CALIBRATION; which <= SCALE_BLOB_CONFIG; which++) {
        int32_t len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, which, 0);
        CHECK(len > 0, "blob %d not saved", which);
        CHECK(wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, which, len) == 0, "blob %d not restored", which);
    }
    CHECK(messages > 100, "only %d messages published", messages);
    return NULL;
}

/* Runs the workload on a thread whose stack is painted, and returns the bytes of it used: the
 * native stack the interpreter and the natives need (x86-32 frames; Xtensa's are larger). */
static size_t workload_on_painted_stack(int *readings)
{
    enum { STACK = 256 * 1024 };
    uint8_t *stack = aligned_alloc(4096, STACK);
    CHECK(stack != NULL, "no memory");
    memset(stack, 0xa5, STACK);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, STACK);
    pthread_t thread;
    CHECK(pthread_create(&thread, &attr, workload, readings) == 0, "pthread_create");
    pthread_join(thread, NULL);
    size_t untouched = 0;
    while (untouched < STACK && stack[untouched] == 0xa5) untouched++;
    free(stack);
    return STACK - untouched;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 3, "usage: test_wasm_host <load-and-run|trap-recovery|setup-trap|runaway|spin|wrong-abi|battery|button|probe> <release.wasm> [S P]");
    const char *what = argv[1];
    uint32_t stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024;
    if (strcmp(what, "probe") == 0) {
        CHECK(argc == 5, "probe needs a stack and a pool size");
        stack_bytes = (uint32_t)atoi(argv[3]);
        s_pool_bytes = (uint32_t)atoi(argv[4]);
    } else {
        printf("%u-bit, %s interpreter, Kconfig defaults: pool %d KiB, stack %d KiB, instruction limit %d\n",
               (unsigned)(8 * sizeof(void *)), INTERPRETER, CONFIG_SCALE_WASM_POOL_KB,
               CONFIG_SCALE_WASM_STACK_KB, CONFIG_SCALE_WASM_INSTRUCTION_LIMIT);
    }
    size_t len;
    if (strcmp(what, "wrong-abi") == 0) {
        const uint8_t *wasm = tiny_core(SCALE_ABI_VERSION + 1, &len);
        wasm_host_config_t c = config_for(wasm, len, stack_bytes);
        CHECK(wasm_host_start(&c) == ESP_ERR_NOT_SUPPORTED, "a core of ABI %d was not refused", SCALE_ABI_VERSION + 1);
        CHECK(s_instantiations == 0, "on_instantiated ran for a refused core");
        return 0;
    }
    if (strcmp(what, "runaway") == 0) {
        /* A start-up export that never returns is stopped too: the limit is set before scale_init. */
        const uint8_t *wasm = tiny_core(0, &len);
        wasm_host_config_t c = config_for(wasm, len, stack_bytes);
        CHECK(wasm_host_start(&c) == ESP_FAIL, "an endless scale_init was not stopped");
        CHECK(!wasm_host_ready() && s_instantiations == 0, "a core whose scale_init never returns was handed out");
        CHECK(wasm_host_recover(0) == ESP_FAIL && !wasm_host_ready(), "the endless core came back");
        printf("an endless scale_init was stopped after %d instructions, twice\n", CONFIG_SCALE_WASM_INSTRUCTION_LIMIT);
        return 0;
    }
    if (strcmp(what, "spin") == 0) {
        const uint8_t *wasm = tiny_core(SCALE_ABI_VERSION, &len);
        wasm_host_config_t c = config_for(wasm, len, stack_bytes);
        CHECK(wasm_host_start(&c) == ESP_OK, "the tiny core did not load");
        uint32_t args[1] = {0};
        CHECK(wasm_host_call("spin", 0, args) == ESP_FAIL, "an endless loop returned");
        CHECK(!wasm_host_ready(), "the core that ran away is still handed out");
        CHECK(wasm_host_call("spin", 0, args) == ESP_ERR_INVALID_STATE, "a call reached an unloaded core");
        CHECK(wasm_host_recover(0) == ESP_OK && wasm_host_ready() && s_instantiations == 2, "not instantiated again");
        printf("an endless loop was stopped after %d instructions and the core instantiated again\n", CONFIG_SCALE_WASM_INSTRUCTION_LIMIT);
        return 0;
    }
    const uint8_t *core = read_only_image(argv[2], &len);
    wasm_host_config_t c = config_for(core, len, stack_bytes);
    if (strcmp(what, "setup-trap") == 0) {
        const size_t heap_before = heap_in_use();
        s_trap_in_setup = 1;
        CHECK(wasm_host_start(&c) == ESP_FAIL, "a core that traps in setup was handed out");
        CHECK(s_instantiations == 1 && !wasm_host_ready(), "setup ran %d times", s_instantiations);
        int64_t now = 0, waited = 0;
        esp_err_t r = ESP_FAIL;
        int attempts = 0;
        while ((r = wasm_host_recover(now)) != ESP_ERR_INVALID_STATE) {
            CHECK(r == ESP_FAIL || r == ESP_ERR_NOT_FINISHED, "recover said %d", r);
            if (r == ESP_FAIL) attempts++;
            now += 100;
            waited += 100;
            CHECK(waited < 120000, "still retrying after %" PRId64 " ms", waited);
        }
        /* The failed start, then WASM_HOST_MAX_ATTEMPTS attempts: the last one gives up. */
        CHECK(attempts == WASM_HOST_MAX_ATTEMPTS - 1 && s_instantiations == 1 + WASM_HOST_MAX_ATTEMPTS, "%d attempts, %d instantiations",
              attempts, s_instantiations);
        /* Backoff 1 + 2 + 4 + 8 s between the five attempts. */
        CHECK(waited >= 15000, "gave up after only %" PRId64 " ms", waited);
        CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, 5, 0) == INT32_MIN, "a call reached a core that was given up");
        if (s_pool_bytes > 0) {
            const uint32_t largest = largest_block();
            /* All of it but the runtime's own bookkeeping (under 300 bytes). */
            CHECK(largest + 512 >= s_pool_bytes, "only %" PRIu32 " of %" PRIu32 " pool bytes free after giving up", largest, s_pool_bytes);
        } else {
            /* Nothing held but the RAM copy of the image (classic) and the runtime's bookkeeping. */
            const size_t held = heap_in_use() - heap_before, copy = memory().module_copy_bytes;
            CHECK(held <= copy + 512, "%zu bytes of heap held after giving up (module copy %zu)", held, copy);
        }
        printf("a core that traps in setup: %d instantiations over %" PRId64 " ms, then given up; its memory given back\n", s_instantiations, waited);
        return 0;
    }
    const size_t heap_at_start = heap_in_use();
    esp_err_t err = wasm_host_start(&c);
    const size_t heap_after_start = heap_in_use();
    CHECK(err == ESP_OK, "the release core (%zu bytes) does not load with a pool of %" PRIu32 " bytes and a stack of %" PRIu32 ": error 0x%x", len,
          s_pool_bytes, stack_bytes, (unsigned)err);
    if (strcmp(what, "button") == 0) {
        button_case();
        return 0;
    }
    if (strcmp(what, "load-and-run") == 0 || strcmp(what, "probe") == 0) {
        int readings = 0;
        size_t native_stack = workload_on_painted_stack(&readings);
        CHECK(readings > 9900, "only %d readings from 10,000 samples", readings);
        wasm_host_memory_t m = memory();
        CHECK(m.linear_bytes > 0 && m.linear_bytes < 65536, "linear memory %" PRIu32 " bytes: WAMR did not shrink it", m.linear_bytes);
        CHECK(m.pool_peak_bytes <= m.pool_bytes, "pool");
        /* What WAMR holds for the core besides its linear memory (mapped apart on Linux) and the
         * module copy; with a pool, the pool itself. */
        const size_t runtime = heap_after_start - heap_at_start - m.module_copy_bytes;
        CHECK(m.pool_bytes > 0 || m.heap_taken_bytes == heap_after_start - heap_at_start, "wasm_host says the core took %" PRIu32 " bytes, %zu were",
              m.heap_taken_bytes, heap_after_start - heap_at_start);
        printf("release core %zu bytes: 10,000 samples, %d readings, commands and publishing; runtime %zu bytes (pool %" PRIu32
               ", peak %" PRIu32 "), linear memory %" PRIu32 " bytes, module copy %" PRIu32 " bytes, native stack %zu bytes\n",
               len, readings, runtime, m.pool_bytes, m.pool_peak_bytes, m.linear_bytes, m.module_copy_bytes, native_stack);
        printf("FIGURES {\"interpreter\":\"%s\",\"runtime\":%zu,\"pool_peak\":%" PRIu32 ",\"pool\":%" PRIu32 ",\"linear\":%" PRIu32
               ",\"module_copy\":%" PRIu32 ",\"native_stack\":%zu,\"stack\":%" PRIu32 "}\n",
               INTERPRETER, runtime, m.pool_peak_bytes, m.pool_bytes, m.linear_bytes, m.module_copy_bytes,
               native_stack, stack_bytes);
        return 0;
    }
    if (strcmp(what, "manager") == 0) {
        /* The calibration module manager beside the core, loaded as cal_module.c loads it (a RAM
         * copy, freeable for the fast interpreter, a 4 KiB Wasm stack), built as the ESP32 is: the
         * heap it takes while loaded, and that it gives every byte back. Its imports are left
         * unlinked: nothing is called. */
        CHECK(argc >= 4, "manager needs build/manager.wasm");
        size_t mlen;
        const uint8_t *image = read_only_image(argv[3], &mlen);
        const size_t before = heap_in_use();
        uint8_t *copy = malloc(mlen);
        CHECK(copy != NULL, "no heap for the manager's copy");
        memcpy(copy, image, mlen);
        LoadArgs args;
        memset(&args, 0, sizeof args);
        args.name = (char *)"manager";
#ifdef CONFIG_WAMR_INTERP_FAST
        args.wasm_binary_freeable = true;
#endif
        char error[128];
        wasm_module_t module = wasm_runtime_load_ex(copy, (uint32_t)mlen, &args, error, sizeof error);
        CHECK(module != NULL, "the manager does not load: %s", error);
        if (args.wasm_binary_freeable && wasm_runtime_is_underlying_binary_freeable(module)) {
            free(copy);
            copy = NULL;
        }
        wasm_module_inst_t inst = wasm_runtime_instantiate(module, 4096, 0, error, sizeof error);
        CHECK(inst != NULL, "the manager does not instantiate: %s", error);
        wasm_exec_env_t env = wasm_runtime_create_exec_env(inst, 4096);
        CHECK(env != NULL, "no execution environment for the manager");
        wasm_memory_inst_t memory = wasm_runtime_get_default_memory(inst);
        const uint64_t linear = wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory);
        const size_t taken = heap_in_use() - before;
        wasm_runtime_destroy_exec_env(env);
        wasm_runtime_deinstantiate(inst);
        wasm_runtime_unload(module);
        free(copy);
        CHECK(heap_in_use() == before, "%zu bytes of heap held after the manager was freed", heap_in_use() - before);
        /* Linux maps linear memory apart from the heap; the ESP32 takes it from the heap. */
        printf("the module manager (%zu bytes) took %zu bytes of heap and %" PRIu64 " of linear memory while loaded, all given back\n", mlen, taken, linear);
        printf("FIGURES {\"manager_heap\":%zu,\"manager_linear\":%" PRIu64 "}\n", taken + (size_t)linear, linear);
        return 0;
    }
    if (strcmp(what, "battery") == 0) {
        static uint8_t state[6144], config[512];
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_WAKE_INTERVAL_S, 900) == 0, "WAKE_INTERVAL_S refused");
        CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_PUBLISH_EVERY, 4) == 0, "PUBLISH_EVERY refused");
        int32_t config_len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, SCALE_BLOB_CONFIG, 0);
        CHECK(config_len > 0 && (size_t)config_len <= sizeof config, "settings blob");
        memcpy(config, io, (size_t)config_len);
        int64_t now = 0;
        size_t state_len = 0, largest_state = 0;
        int published = 0, publishing_wakes = 0;
        enum { WAKES = 96 };
        for (int w = 0; w < WAKES; w++) {
            if (w > 0) {
                /* The boot: a fresh instance (a trap unloads the core, recovery instantiates it and
                 * adds the chip), then what battery.c restores. */
                sim_hx711_write_fails = 1;
                CHECK(wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0) == INT32_MIN, "no trap before wake %d", w);
                sim_hx711_write_fails = 0;
                CHECK(wasm_host_recover(now) == ESP_OK, "no fresh instance for wake %d", w);
                io = wasm_host_io(&cap);
                memcpy(io, config, (size_t)config_len);
                CHECK(wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, SCALE_BLOB_CONFIG, config_len) == 0, "settings refused at wake %d", w);
            }
            memcpy(io, "hive", 4);
            CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 4, 0) == 0, "device id refused");
            if (w > 0) CHECK(wasm_host_state_load(state, state_len) == ESP_OK, "the state of wake %d was refused", w - 1);
            CHECK(wasm_host_call_i(SCALE_EXPORT_WAKE_BEGIN, 2, (int32_t)now, SCALE_CAUSE_TIMER) == 0, "wake_begin");
            int32_t step = 0;
            for (int samples = 0; step == 0; samples++) {
                CHECK(samples < 100 && wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now, 0) != INT32_MIN, "wake %d: sample %d", w, samples);
                now += 100;
                step = wasm_host_call_i(SCALE_EXPORT_WAKE_STEP, 1, (int32_t)now, 0);
            }
            CHECK(step == SCALE_WAKE_SLEEP || step == SCALE_WAKE_PUBLISH, "wake_step %" PRId32, step);
            if (step == SCALE_WAKE_PUBLISH) {
                publishing_wakes++;
                wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0);
                published += wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0);
                drain();
                CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0) == 0, "readings left after publishing");
                wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0);
            }
            state_len = wasm_host_state_save(state, sizeof state);
            CHECK(state_len > 0 && state_len <= sizeof state, "wake %d: a state of %zu bytes", w, state_len);
            if (state_len > largest_state) largest_state = state_len;
            int32_t sleep_ms = wasm_host_call_i(SCALE_EXPORT_WAKE_SLEEP_MS, 1, (int32_t)now, 0);
            CHECK(sleep_ms > 890000 && sleep_ms <= 900000, "wake %d: sleep %" PRId32 " ms", w, sleep_ms);
            now += sleep_ms;
        }
        int32_t queued = wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0);
        CHECK(published + queued == WAKES, "%d published and %" PRId32 " queued of %d readings", published, queued, WAKES);
        CHECK(publishing_wakes == WAKES / 4, "%d publishing wakes", publishing_wakes);
        /* A damaged state is refused, for battery.c to start the core clean. */
        state[state_len / 2] ^= 0x08;
        sim_hx711_write_fails = 1;
        wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0);
        sim_hx711_write_fails = 0;
        CHECK(wasm_host_recover(now) == ESP_OK, "no fresh instance");
        CHECK(wasm_host_state_load(state, state_len) == ESP_ERR_INVALID_STATE, "a damaged state was taken");
        printf("battery mode: %d wakes, each a fresh instance restored from its state (at most %zu bytes); %d publishing wakes, %d readings "
               "published, %" PRId32 " queued\n", WAKES, largest_state, publishing_wakes, published, queued);
        return 0;
    }
    if (strcmp(what, "trap-recovery") == 0) {
        CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, 5, 0) != INT32_MIN, "the core does not run");
        const uint32_t largest_before = s_pool_bytes ? largest_block() : 0;
        const size_t heap_before = heap_in_use();
        for (int i = 0; i < 200; i++) {
            sim_hx711_write_fails = 1; /* gpio.write refuses: the native traps the core */
            CHECK(wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0) == INT32_MIN, "call %d did not trap", i);
            sim_hx711_write_fails = 0;
            CHECK(!wasm_host_ready(), "a trapped core is still handed out");
            CHECK(wasm_host_recover(i) == ESP_OK, "re-instantiation %d failed", i + 1);
            CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, 5, 0) != INT32_MIN, "the core does not run after trap %d", i + 1);
        }
        CHECK(s_instantiations == 201, "%d instantiations after 200 traps", s_instantiations);
        if (s_pool_bytes > 0) {
            /* A leak, or fragmentation, would shrink what the pool can still give. */
            const uint32_t largest_after = largest_block();
            CHECK(largest_after == largest_before, "largest free block %" PRIu32 " bytes before, %" PRIu32 " after 200 traps",
                  largest_before, largest_after);
            printf("200 traps, 200 re-instantiations: largest free block %" PRIu32 " bytes before and after\n", largest_before);
        } else {
            /* A leak would leave more of the heap in use. */
            const size_t heap_after = heap_in_use();
            CHECK(heap_after == heap_before, "%zu bytes of heap in use before, %zu after 200 traps", heap_before, heap_after);
            printf("200 traps, 200 re-instantiations: %zu bytes of heap in use before and after\n", heap_before);
        }
        return 0;
    }
    CHECK(0, "unknown case %s", what);
}
