/* Unit tests of the portable host C. Each CHECK names what it expects; the exit code is the failure count. */
#include <stdio.h>
#include <string.h>

#include "scale_abi.h"
#include "scale_portable.h"

static int s_failures;
static int s_checks;
#define CHECK(cond)                                                       \
    do {                                                                  \
        s_checks++;                                                       \
        if (!(cond)) {                                                    \
            s_failures++;                                                 \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                 \
    } while (0)

static void test_whole_message(void)
{
    uint8_t buf[64];
    scale_assembler_t a;
    scale_asm_init(&a, buf, sizeof buf);
    const char *t = "wasm-scale/dev1/cmd";
    CHECK(scale_asm_feed(&a, t, strlen(t), (const uint8_t *)"{\"cmd\":\"tare\"}", 14, 0, 14) == SCALE_ASM_COMPLETE);
    CHECK(strcmp(a.topic, t) == 0);
    CHECK(scale_asm_stored(&a) == 14 && memcmp(buf, "{\"cmd\":\"tare\"}", 14) == 0);
    CHECK(!a.truncated);
}

static void test_fragments(void)
{
    uint8_t buf[64];
    scale_assembler_t a;
    scale_asm_init(&a, buf, sizeof buf);
    const char *msg = "{\"cmd\":\"calibrate\",\"kg\":2.5}";
    size_t n = strlen(msg);
    CHECK(scale_asm_feed(&a, "t", 1, (const uint8_t *)msg, 10, 0, n) == SCALE_ASM_PENDING);
    /* esp-mqtt sends no topic with later fragments */
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)msg + 10, 10, 10, n) == SCALE_ASM_PENDING);
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)msg + 20, n - 20, 20, n) == SCALE_ASM_COMPLETE);
    CHECK(scale_asm_stored(&a) == n && memcmp(buf, msg, n) == 0);
    CHECK(strcmp(a.topic, "t") == 0);
}

static void test_bad_sequences(void)
{
    uint8_t buf[64];
    scale_assembler_t a;
    scale_asm_init(&a, buf, sizeof buf);
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)"xx", 2, 4, 10) == SCALE_ASM_DROPPED); /* no first part */
    CHECK(scale_asm_feed(&a, "t", 1, (const uint8_t *)"abcd", 4, 0, 10) == SCALE_ASM_PENDING);
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)"ef", 2, 6, 10) == SCALE_ASM_DROPPED); /* a gap */
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)"ef", 2, 4, 10) == SCALE_ASM_DROPPED); /* abandoned */
    CHECK(scale_asm_feed(&a, "t", 1, (const uint8_t *)"abcd", 4, 0, 10) == SCALE_ASM_PENDING);
    CHECK(scale_asm_feed(&a, NULL, 0, (const uint8_t *)"efghijklmn", 10, 4, 10) == SCALE_ASM_DROPPED); /* overrun */
    CHECK(scale_asm_feed(&a, "", 0, (const uint8_t *)"x", 1, 0, 1) == SCALE_ASM_DROPPED); /* no topic */
    /* a new first fragment abandons an unfinished message */
    CHECK(scale_asm_feed(&a, "t", 1, (const uint8_t *)"abcd", 4, 0, 10) == SCALE_ASM_PENDING);
    CHECK(scale_asm_feed(&a, "u", 1, (const uint8_t *)"zz", 2, 0, 2) == SCALE_ASM_COMPLETE);
    CHECK(strcmp(a.topic, "u") == 0 && scale_asm_stored(&a) == 2);
}

static void test_oversize(void)
{
    uint8_t buf[8];
    scale_assembler_t a;
    scale_asm_init(&a, buf, sizeof buf);
    uint8_t big[20];
    memset(big, 'x', sizeof big);
    CHECK(scale_asm_feed(&a, "t", 1, big, 12, 0, 20) == SCALE_ASM_PENDING);
    CHECK(scale_asm_feed(&a, NULL, 0, big, 8, 12, 20) == SCALE_ASM_COMPLETE);
    CHECK(a.truncated && a.received == 20 && scale_asm_stored(&a) == 8);
    char topic[300];
    memset(topic, 'a', sizeof topic);
    CHECK(scale_asm_feed(&a, topic, sizeof topic, big, 1, 0, 1) == SCALE_ASM_COMPLETE);
    CHECK(a.truncated && a.topic_len == sizeof a.topic - 1);
}

static scale_config_t good(void)
{
    scale_config_t c = {
        .broker_uri = "mqtts://abc.s1.eu.hivemq.cloud:8883", .device_id = "scale1", .wifi_ssid = "home", .wifi_password = "secret-psk",
        .clk_pin = 18, .dout_pins = {4, 16, 17, 5}, .dout_count = 1, .led_pin = 2, .button_pin = -1, .rate_sps = 10,
        .wasm_stack_kb = 2, .wasm_pool_kb = 48, .task_stack_bytes = 10240,
    };
    return c;
}

static void test_config(void)
{
    scale_config_t c = good();
    CHECK(scale_config_check(&c) == NULL);
    c.button_pin = 0;
    CHECK(scale_config_check(&c) == NULL);
    c.button_pin = 18;
    CHECK(strstr(scale_config_check(&c), "button pin") != NULL);
    c.button_pin = 2;
    CHECK(strstr(scale_config_check(&c), "button pin") != NULL);
    c.button_pin = 4;
    CHECK(strstr(scale_config_check(&c), "button pin") != NULL);
    c.button_pin = 35;
    CHECK(scale_config_check(&c) == NULL);
    CHECK(strstr(scale_config_warning(&c), "button") != NULL);
    c = good();
    c.dout_count = 4;
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.broker_uri = "mqtt://broker:1883";
    CHECK(strstr(scale_config_check(&c), "plaintext") != NULL);
    c = good(); c.broker_uri = "mqtts://";
    CHECK(strstr(scale_config_check(&c), "no host") != NULL);
    c = good(); c.device_id = "scale/1";
    CHECK(strstr(scale_config_check(&c), "A-Z") != NULL);
    c = good(); c.device_id = "";
    CHECK(scale_config_check(&c) != NULL);
    c = good(); c.clk_pin = 34;
    CHECK(strstr(scale_config_check(&c), "clock") != NULL);
    c = good(); c.clk_pin = 7;
    CHECK(scale_config_check(&c) != NULL);
    c = good(); c.dout_pins[0] = 18;
    CHECK(strstr(scale_config_check(&c), "clock") != NULL);
    c = good(); c.dout_count = 2; c.dout_pins[1] = 4;
    CHECK(strstr(scale_config_check(&c), "own data pin") != NULL);
    c = good(); c.rate_sps = 20;
    CHECK(strstr(scale_config_check(&c), "10 or 80") != NULL);
    c = good(); c.wasm_pool_kb = 8;
    CHECK(strstr(scale_config_check(&c), "pool") != NULL);
    c = good(); c.wasm_pool_kb = 0; /* the heap */
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.led_pin = 18;
    CHECK(strstr(scale_config_check(&c), "LED") != NULL);
    c = good(); c.dout_pins[0] = 39;
    CHECK(scale_config_check(&c) == NULL); /* input-only pins are fine for DOUT, with an external pull-up */
    CHECK(strstr(scale_config_warning(&c), "pull-up") != NULL);
    c = good();
    CHECK(scale_config_warning(&c) == NULL);
    /* GPIO 24 and 28..31 do not exist on an ESP32; 20 does (ESP-IDF's valid mask). */
    int absent[] = {24, 28, 29, 30, 31, 40, -1};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        c = good(); c.clk_pin = absent[i];
        CHECK(strstr(scale_config_check(&c), "clock") != NULL);
        c = good(); c.dout_pins[0] = absent[i];
        CHECK(strstr(scale_config_check(&c), "data pins") != NULL);
    }
    c = good(); c.clk_pin = 20; c.dout_pins[0] = 25;
    CHECK(scale_config_check(&c) == NULL);
    /* WiFi: a 32-byte SSID and a 64-hex-digit PSK are whole values, not too long. */
    c = good(); c.wifi_ssid = "abcdefghijklmnopqrstuvwxyz012345";
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.wifi_ssid = "abcdefghijklmnopqrstuvwxyz0123456";
    CHECK(strstr(scale_config_check(&c), "SSID") != NULL);
    c = good(); c.wifi_ssid = ""; /* not provisioned yet: the scale waits for a network */
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.wifi_password = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.wifi_password = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEG";
    CHECK(strstr(scale_config_check(&c), "hex") != NULL);
    c = good(); c.wifi_password = "short";
    CHECK(strstr(scale_config_check(&c), "password") != NULL);
    c = good(); c.wifi_password = "";
    CHECK(scale_config_check(&c) == NULL);
    c = good(); c.task_stack_bytes = 4096;
    CHECK(strstr(scale_config_check(&c), "stack") != NULL);
}

static void test_pins_and_words(void)
{
    uint8_t ok[] = {4, 16, 39};
    uint8_t flash[] = {4, 7};
    uint8_t dup[] = {4, 4};
    CHECK(scale_pins_valid(ok, 3));
    CHECK(!scale_pins_valid(ok, 0));
    CHECK(!scale_pins_valid(flash, 2));
    CHECK(!scale_pins_valid(dup, 2));
    CHECK(scale_clock_out_len(1) == 24 && scale_clock_out_len(4) == 48);
    uint8_t w[4];
    scale_put_u32(w, 0x01020304u);
    CHECK(w[0] == 4 && w[1] == 3 && w[2] == 2 && w[3] == 1);
    /* The times after two pins' words, mask and longest high phase; the low 32 bits of the clock. */
    uint8_t out[4 * 8] = {0};
    const int64_t fell[2] = {0x100000005LL, 7};
    scale_put_read_times(out, 2, 0x1FFFFFFFFLL, 0x200000030LL, fell);
    CHECK(out[16] == 0xFF && out[19] == 0xFF && out[20] == 0x30 && out[23] == 0 && out[24] == 5 && out[28] == 7);
}

static void test_unframe(void)
{
    const uint8_t frame[] = {1 | 4, 3, 0, 'a', '/', 'b', 'o', 'n'};
    scale_frame_t f;
    CHECK(scale_unframe(frame, sizeof frame, &f));
    CHECK(f.qos == 1 && f.retain && f.topic_len == 3 && memcmp(f.topic, "a/b", 3) == 0);
    CHECK(f.payload_len == 2 && memcmp(f.payload, "on", 2) == 0);
    CHECK(!scale_unframe(frame, 5, &f));         /* topic longer than the frame */
    const uint8_t bad_flags[] = {0x08, 1, 0, 'a'};
    CHECK(!scale_unframe(bad_flags, sizeof bad_flags, &f));
    const uint8_t no_topic[] = {1, 0, 0, 'x'};
    CHECK(!scale_unframe(no_topic, sizeof no_topic, &f));
}

static void test_abi_header(void)
{
    /* The generated header agrees with what the portable glue assumes. */
    CHECK(SCALE_ABI_READING_SIZE == 36);
    CHECK(SCALE_ABI_IMPORT_COUNT == 9);
    CHECK(strcmp(SCALE_ABI_SIG_CALIB_GAIN, "(FFFF)F") == 0);
    CHECK(strcmp(SCALE_ABI_SIG_CALIB_FAULT, "(iFF)") == 0);
    CHECK(strcmp(SCALE_ABI_SIG_GPIO_CLOCK_IN, "(i*~i*~)i") == 0);
    CHECK(SCALE_FAULT_POWER_DOWN == 7);
}

/* The release core's __heap_base, read from the binary, is what its own export says (given by
 * CMake from build/release.wasm when it exists); malformed binaries give -1. */
static void test_heap_base(void)
{
    static const uint8_t tiny[] = {
        0, 'a', 's', 'm', 1, 0, 0, 0,
        6, 13, 2, 0x7f, 1, 0x41, 0, 0x0b, 0x7f, 0, 0x41, 0xa0, 0x9c, 0x01, 0x0b, /* mut i32 0; const i32 20000 */
        7, 15, 1, 11, '_', '_', 'h', 'e', 'a', 'p', '_', 'b', 'a', 's', 'e', 3, 1,
    };
    CHECK(scale_wasm_heap_base(tiny, sizeof tiny) == 20000);
    CHECK(scale_wasm_heap_base(tiny, sizeof tiny - 1) == -1);
    CHECK(scale_wasm_heap_base(tiny, 8) == -1);
    uint8_t mutable_export[sizeof tiny];
    memcpy(mutable_export, tiny, sizeof tiny);
    mutable_export[sizeof tiny - 1] = 0; /* exports the mutable global */
    CHECK(scale_wasm_heap_base(mutable_export, sizeof tiny) == -1);
#ifdef RELEASE_WASM
    FILE *f = fopen(RELEASE_WASM, "rb");
    CHECK(f != NULL);
    if (f) {
        static uint8_t core[65536];
        const size_t n = fread(core, 1, sizeof core, f);
        fclose(f);
        const int32_t base = scale_wasm_heap_base(core, n);
        CHECK(base == RELEASE_HEAP_BASE);
        for (size_t cut = 0; cut < n; cut += 97) (void)scale_wasm_heap_base(core, cut); /* never reads past the end (ASan) */
    }
#endif
}

/* The core's button export as the ring hands it over: every call recorded. */
static int32_t s_calls[64][3];
static int s_ncalls;
static int32_t record_call(int32_t edge, int32_t down, int32_t t_ms, void *ctx)
{
    (void)ctx;
    if (s_ncalls < 64) {
        s_calls[s_ncalls][0] = edge;
        s_calls[s_ncalls][1] = down;
        s_calls[s_ncalls][2] = t_ms;
    }
    s_ncalls++;
    return edge ? 0 : 4; /* a calibration waits, say */
}

static void test_button(void)
{
    scale_button_t b;
    scale_button_init(&b);
    /* A press with bounces, on a clock 1,000,000 us behind the core's. */
    scale_button_edge(&b, true, 5000);
    scale_button_edge(&b, false, 6000);
    scale_button_edge(&b, true, 7000);
    s_ncalls = 0;
    CHECK(scale_button_feed(&b, 1000000, 1010, true, record_call, NULL) == 4);
    CHECK(s_ncalls == 4);
    CHECK(s_calls[0][0] == 1 && s_calls[0][1] == 1 && s_calls[0][2] == 1005);
    CHECK(s_calls[1][1] == 0 && s_calls[1][2] == 1006);
    CHECK(s_calls[2][1] == 1 && s_calls[2][2] == 1007);
    CHECK(s_calls[3][0] == 0 && s_calls[3][2] == 1010);
    /* Nothing new: a poll only. */
    s_ncalls = 0;
    scale_button_feed(&b, 1000000, 1020, true, record_call, NULL);
    CHECK(s_ncalls == 1 && s_calls[0][0] == 0);
    /* A storm of bounces overflows the ring: edges are lost, counted, and the pin's level now ends it. */
    for (int i = 0; i < 40; i++) scale_button_edge(&b, i % 2 == 1, 10000 + i * 100);
    CHECK(b.lost == 8);
    s_ncalls = 0;
    scale_button_feed(&b, 1000000, 1100, false, record_call, NULL);
    CHECK(s_calls[s_ncalls - 2][0] == 1 && s_calls[s_ncalls - 2][1] == 0 && s_calls[s_ncalls - 2][2] == 1100);
    /* A repeated level is not an edge. */
    scale_button_edge(&b, false, 20000);
    s_ncalls = 0;
    scale_button_feed(&b, 1000000, 1200, false, record_call, NULL);
    CHECK(s_ncalls == 1);

    /* The LED: accepted on for 600 ms; refused flashes; a waiting calibration blinks; else nothing. */
    scale_button_led_t led = {0, 0};
    CHECK(scale_button_led(&led, 100) == -1);
    scale_button_led_note(&led, 1 | (1 << 8), 1000);
    CHECK(scale_button_led(&led, 1000) == 1 && scale_button_led(&led, 1599) == 1 && scale_button_led(&led, 1600) == -1);
    scale_button_led_note(&led, 2 | 4, 2000);
    CHECK(scale_button_led(&led, 2050) == 1 && scale_button_led(&led, 2150) == 0 && scale_button_led(&led, 2250) == 1);
    scale_button_led_note(&led, 4, 2700);
    CHECK(scale_button_led(&led, 3000) == 1 && scale_button_led(&led, 3100) == 0);
    scale_button_led_note(&led, 0, 3200);
    CHECK(scale_button_led(&led, 3500) == -1);
}

int main(void)
{
    test_heap_base();
    test_whole_message();
    test_fragments();
    test_bad_sequences();
    test_oversize();
    test_config();
    test_pins_and_words();
    test_unframe();
    test_abi_header();
    test_button();
    printf("%d passed, %d failed\n", s_checks - s_failures, s_failures);
    return s_failures;
}
