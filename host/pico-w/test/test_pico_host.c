/*
 * The Pico W's wasm3 host on the desktop: the release core loaded by ../components/wasm_host, run
 * against a simulated HX711, with every allocation counted; and a hostile module whose pointer
 * the natives must refuse, and whose memory ends at its __heap_base. Exit code: failures.
 *   test_pico_host core <release.wasm>
 *   test_pico_host hostile <release.wasm> <hostile.wasm>
 *   test_pico_host button <release.wasm>     the button as main.c hands it over (scale_portable's
 *                                             edge ring): bounces, a glitch, tare, clear, zero
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "button_case.h"
#include "scale_portable.h"
#include "wasm_host.h"

extern int sim_wait_calls, sim_clock_calls;
extern int32_t sim_code;

static int s_failures;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            s_failures++;                                                          \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                          \
    } while (0)

/* --- what wasm3 allocates ----------------------------------------------------------------- */
void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
static size_t s_now, s_peak;
#define HEAD 16 /* keeps the caller's alignment */

static void *account(unsigned char *p, size_t n)
{
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    s_now += n;
    if (s_now > s_peak) s_peak = s_now;
    return p + HEAD;
}
void *__wrap_malloc(size_t n) { return account(__real_malloc(n + HEAD), n); }
void *__wrap_calloc(size_t k, size_t n) { return account(__real_calloc(1, k * n + HEAD), k * n); }
void __wrap_free(void *p)
{
    if (!p) return;
    unsigned char *h = (unsigned char *)p - HEAD;
    size_t n;
    memcpy(&n, h, sizeof n);
    s_now -= n;
    __real_free(h);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (!p) return __wrap_malloc(n);
    unsigned char *h = (unsigned char *)p - HEAD;
    size_t old;
    memcpy(&old, h, sizeof old);
    unsigned char *q = __real_realloc(h, n + HEAD);
    if (!q) return NULL;
    s_now -= old;
    return account(q, n);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static uint8_t buf[2][1 << 17];
    static int which;
    uint8_t *b = buf[which++ & 1];
    *len = fread(b, 1, sizeof buf[0], f);
    fclose(f);
    return b;
}

static void add_chip(void)
{
    const int32_t args[2] = {18, 19};
    CHECK(wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, args) > 0);
}

static int core_case(const char *path)
{
    size_t len;
    const uint8_t *wasm = read_file(path, &len);
    CHECK(wasm != NULL);
    if (!wasm) return 1;
    const size_t before = s_now;
    const wasm_host_config_t config = {.wasm = wasm, .wasm_len = len, .stack_bytes = 8 * 1024, .on_instantiated = add_chip};
    CHECK(wasm_host_start(&config) == WASM_HOST_OK);
    if (!wasm_host_ready()) return s_failures;
    const int32_t heap_base = scale_wasm_heap_base(wasm, len);
    CHECK(wasm_host_linear_bytes() == (uint32_t)heap_base); /* not a 64 KiB page */
    /* The device id first: the core queues readings for MQTT only once it has one. */
    size_t cap;
    memcpy(wasm_host_io(&cap), "scale1", 6);
    const int32_t id_len = 6, up = 1;
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, &id_len) == 0);
    CHECK(wasm_host_config_set(SCALE_CFG_PUBLISH_MS, 0.0f) == 0);
    CHECK(wasm_host_config_get(SCALE_CFG_PUBLISH_MS) == 0.0f);
    int readings = 0;
    int32_t t = 0;
    for (int i = 0; i < 400; i++) {
        t += 13;
        const int32_t r = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &t);
        CHECK(r != INT32_MIN);
        if (r == 1) readings++;
    }
    CHECK(readings > 300);
    CHECK(sim_wait_calls == 400 && sim_clock_calls == 400); /* two host calls a sample */
    CHECK(s_now - before < 120 * 1024);
    int32_t raw;
    memcpy(&raw, wasm_host_reading() + SCALE_ABI_READING_RAW, 4);
    CHECK(raw >= sim_code - 2 && raw <= sim_code + 2);
    /* Commands over MQTT, blobs saved and restored, the clock: the rest of the core's code is
     * compiled (wasm3 compiles a function when it is first called), so the peak is the real one. */
    const char *commands[] = {"{\"cmd\":\"cal_point\",\"kg\":0}", "{\"cmd\":\"tare\"}", "{\"cmd\":\"config\",\"key\":\"PUBLISH_MS\",\"value\":0}",
                              "{\"cmd\":\"cal_fit\",\"order\":1}", "{\"cmd\":\"zero\"}", "{\"cmd\":\"record\",\"seconds\":1}", "not json"};
    const char *topic = "wasm-scale/scale1/cmd";
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        uint8_t *io = wasm_host_io(&cap);
        const int32_t lens[2] = {(int32_t)strlen(topic), (int32_t)strlen(commands[k])};
        memcpy(io, topic, (size_t)lens[0]);
        memcpy(io + lens[0], commands[k], (size_t)lens[1]);
        CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, lens) != INT32_MIN);
    }
    for (int32_t which = 0; which <= 1; which++) {
        const int32_t n = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, &which);
        CHECK(n > 0);
        const int32_t args[2] = {which, n};
        CHECK(wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, args) == 0);
    }
    const int32_t clock[2] = {1790000000, t};
    CHECK(wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, clock) != INT32_MIN);
    for (int i = 0; i < 100; i++) {
        t += 13;
        CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &t) != INT32_MIN);
    }
    /* The readings framed for MQTT, as main.c publishes them. */
    wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, &up);
    scale_frame_t f;
    int frames = 0;
    for (int32_t n; (n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, NULL)) > 0 && frames < 400; frames++) {
        CHECK(scale_unframe(wasm_host_io(&cap), (size_t)n, &f));
        wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, NULL);
    }
    CHECK(frames > 100);
    printf("wasm3 RAM for the core: %zu bytes now, %zu at the peak (linear memory %lu, stack %d); %d readings, %d frames\n",
           s_now - before, s_peak - before, (unsigned long)wasm_host_linear_bytes(), 8 * 1024, readings, frames);
    return s_failures;
}

/* ---- the button --------------------------------------------------------------------------- */

static int32_t button_call(int32_t edge, int32_t down, int32_t t_ms, void *ctx)
{
    (void)ctx;
    const int32_t argv[3] = {edge, down, t_ms};
    return wasm_host_call_i(SCALE_EXPORT_BUTTON, 3, argv);
}

static bool sample_at(int32_t t_ms)
{
    return wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &t_ms) != INT32_MIN;
}

static void set_code(int32_t code)
{
    sim_code = code;
}

static void command(const char *json)
{
    size_t cap;
    const char *topic = "wasm-scale/scale1/cmd";
    uint8_t *io = wasm_host_io(&cap);
    const int32_t lens[2] = {(int32_t)strlen(topic), (int32_t)strlen(json)};
    memcpy(io, topic, (size_t)lens[0]);
    memcpy(io + lens[0], json, (size_t)lens[1]);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, lens) != INT32_MIN);
}

/* The results the core has to publish, one a line; their number. */
static int results(char *out, size_t cap)
{
    size_t used = 0, io_cap;
    int n = 0;
    out[0] = 0;
    scale_frame_t f;
    for (int32_t len; (len = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, NULL)) > 0;) {
        CHECK(scale_unframe(wasm_host_io(&io_cap), (size_t)len, &f));
        if (f.topic_len >= 7 && memcmp(f.topic + f.topic_len - 7, "/result", 7) == 0 && used + f.payload_len + 2 < cap) {
            memcpy(out + used, f.payload, f.payload_len);
            used += f.payload_len;
            out[used++] = '\n';
            out[used] = 0;
            n++;
        }
        wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, NULL);
    }
    return n;
}

/* The button's case shared with the ESP32's harness (scale_portable/test/button_case.c). */
static int button_case(const char *path)
{
    size_t len, cap;
    const uint8_t *wasm = read_file(path, &len);
    CHECK(wasm != NULL);
    if (!wasm) return 1;
    const wasm_host_config_t config = {.wasm = wasm, .wasm_len = len, .stack_bytes = 8 * 1024, .on_instantiated = add_chip};
    CHECK(wasm_host_start(&config) == WASM_HOST_OK);
    if (!wasm_host_ready()) return s_failures;
    memcpy(wasm_host_io(&cap), "scale1", 6);
    const int32_t id_len = 6, up = 1;
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, &id_len) == 0);
    wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, &up);
    const button_case_host_t host = {.sample = sample_at, .command = command, .button = button_call, .set_code = set_code, .results = results};
    return s_failures + button_case_run(&host);
}

static void nothing(void) {}

static int hostile_case(const char *core_path, const char *hostile_path)
{
    size_t len;
    const uint8_t *wasm = read_file(hostile_path, &len);
    CHECK(wasm != NULL);
    if (!wasm) return 1;
    const wasm_host_config_t config = {.wasm = wasm, .wasm_len = len, .stack_bytes = 4096, .on_instantiated = nothing};
    CHECK(wasm_host_start(&config) == WASM_HOST_OK);
    CHECK(wasm_host_linear_bytes() == 1024);
    /* Its pointer lies past linear memory: the native traps instead of reading it. */
    const int32_t t = 0;
    CHECK(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &t) == INT32_MIN);
    CHECK(sim_wait_calls == 0);
    CHECK(!wasm_host_ready());
    /* Loaded again after the trap, when the backoff allows. */
    CHECK(wasm_host_recover(0) == WASM_HOST_OK);
    CHECK(wasm_host_ready());
    /* Memory past __heap_base is not there: a load beyond it traps. */
    CHECK(wasm_host_call_i("poke", 0, NULL) == INT32_MIN);
    (void)core_path;
    return s_failures;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "core") == 0) return core_case(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "hostile") == 0) return hostile_case(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "button") == 0) return button_case(argv[2]);
    fprintf(stderr, "usage: test_pico_host core <core.wasm> | hostile <core.wasm> <hostile.wasm>\n");
    return 2;
}
