/*
 * wasm-scale firmware for the Raspberry Pi Pico W: the same Wasm core as the ESP32's, run by wasm3,
 * reading HX711s clocked by PIO and publishing over MQTT/TLS.
 *
 * Boot: configuration check -> watchdog -> HX711 PIO -> the Wasm core (chips, blobs from flash,
 * device id) -> WiFi. Then one loop on core 0, the only code that calls into Wasm: sample, save
 * what commands changed, and move bytes between the core and the network. WiFi, lwIP, TLS and
 * SNTP run in the CYW43's background interrupt; their callbacks only queue messages and results.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "hardware/watchdog.h"
#include "hardware/irq.h"
#include "hardware/uart.h"
#include "hx711_pio.h"
#include "module_host.h"
#include "modules_wasm3.h"
#include "net.h"
#include "pico/stdlib.h"
#include "scale_abi.h"
#include "scale_portable.h"
#include "settings_pico.h"
#include "store_modules.h"
#include "store_pico.h"
#include "wasm_host.h"

/* A loop (a sample waits at most READY_TIMEOUT_MS) or a Wasm call that does not come back within
 * this reboots the board: wasm3 has no instruction metering, the watchdog bounds every call. */
#define WATCHDOG_MS 8000
/* The console shows a reading at most this often (every fault at once): a line costs the UART's
 * wire time, which at 115,200 baud is more than the rest of an 80 SPS sample. SCALE_CONSOLE_RECORDS
 * (the emulator's build) prints every reading's whole record instead. */
#define CONSOLE_EVERY_MS 1000

extern const uint8_t scale_core_wasm[], scale_manager_wasm[], scale_core_manager_wasm[];
extern const size_t scale_core_wasm_len, scale_manager_wasm_len, scale_core_manager_wasm_len;
#if SCALE_HAS_MODULE_KEY
extern const uint8_t scale_module_key[];
#endif
#if SCALE_NETWORK
extern const uint8_t scale_broker_ca[];
extern const size_t scale_broker_ca_len;
#endif
#if SCALE_HAS_CLIENT_CERT
extern const uint8_t scale_client_cert[], scale_client_key[];
extern const size_t scale_client_cert_len, scale_client_key_len;
#endif

static hx711_pio_config_t s_pins;
/* The clock pin of each chip. */
static int s_chip_clk[HX711_MAX_CHIPS];
static bool s_connected;
static bool s_time_synced;
static char s_will_topic[96], s_will_payload[16];
static char s_cmd_topic[96], s_ha_topic[96], s_result_topic[96], s_module_topic[100];
/* The module manager's answers, published on the result topic before the core's frames (a
 * transfer's steps come one at a time: a few wait at most). */
#define ANSWERS 4
static char s_answers[ANSWERS][512];
static int s_answer_head, s_answer_count;
static unsigned s_answers_dropped;

/* "18,19" -> pins; false when malformed. */
static bool parse_pins(const char *text, int *pins, int max, int *count)
{
    *count = 0;
    const char *p = text;
    while (*p) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || *count == max || v < 0 || v > 29) return false;
        pins[(*count)++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return false;
    }
    return *count > 0;
}

/* NULL when the build's settings can work, else what to change (and where). */
static const char *config_error(void)
{
    if (!parse_pins(SCALE_HX711_CLK_PINS, s_pins.clk_pins, HX711_MAX_CLOCKS, &s_pins.clk_count)) return "SCALE_HX711_CLK_PINS must be 1..4 GPIO numbers, comma-separated";
    if (!parse_pins(SCALE_HX711_DOUT_PINS, s_pins.dout_pins, HX711_MAX_CHIPS, &s_pins.dout_count)) return "SCALE_HX711_DOUT_PINS must be 1..4 GPIO numbers, comma-separated";
    if (s_pins.clk_count != 1 && s_pins.clk_count != s_pins.dout_count) return "give one clock pin for all chips, or one per DOUT pin";
    for (int i = 0; i < s_pins.clk_count; i++) {
        if (!hx711_pin_usable(s_pins.clk_pins[i])) return "a clock pin is not a free GPIO of the Pico W (0..22, 26..28)";
    }
    for (int i = 0; i < s_pins.dout_count; i++) {
        if (!hx711_pin_usable(s_pins.dout_pins[i])) return "a DOUT pin is not a free GPIO of the Pico W (0..22, 26..28)";
        s_chip_clk[i] = s_pins.clk_pins[s_pins.clk_count == 1 ? 0 : i];
    }
    if (SCALE_HX711_RATE_SPS != 10 && SCALE_HX711_RATE_SPS != 80) return "SCALE_HX711_RATE_SPS must be 10 or 80";
    if (SCALE_BUTTON_PIN != -1) {
        if (SCALE_BUTTON_PIN < -1 || !hx711_pin_usable(SCALE_BUTTON_PIN)) return "SCALE_BUTTON_PIN is not a free GPIO of the Pico W (0..22, 26..28), or -1";
        for (int i = 0; i < s_pins.clk_count; i++) {
            if (s_pins.clk_pins[i] == SCALE_BUTTON_PIN) return "SCALE_BUTTON_PIN is an HX711 clock pin";
        }
        for (int i = 0; i < s_pins.dout_count; i++) {
            if (s_pins.dout_pins[i] == SCALE_BUTTON_PIN) return "SCALE_BUTTON_PIN is an HX711 DOUT pin";
        }
    }
    return NULL;
}

static uint32_t now_ms(void)
{
    return to_ms_since_boot(get_absolute_time());
}

/* Saves the blobs the core changed (tare, zero, calibration, settings). */
static void persist_dirty(void)
{
    const int32_t dirty = wasm_host_call_i(SCALE_EXPORT_STATE_DIRTY, 0, NULL);
    if (dirty == INT32_MIN || dirty == 0) return;
    for (int32_t which = SCALE_BLOB_CALIBRATION; which <= SCALE_BLOB_CONFIG; which++) {
        if ((dirty & (1 << which)) == 0) continue;
        const int32_t len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, &which);
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        if (io == NULL || len <= 0 || (size_t)len > cap || !store_set(which, io, (size_t)len)) printf("wasm-scale: blob %ld not saved\n", (long)which);
    }
}

/* Renders a topic of the core into `out` (NUL-terminated). */
static void core_topic(int32_t which, char *out, size_t size)
{
    size_t cap;
    const int32_t n = wasm_host_call_i(SCALE_EXPORT_MQTT_TOPIC, 1, &which);
    const uint8_t *io = wasm_host_io(&cap);
    out[0] = '\0';
    if (io && n > 0 && (size_t)n < size) {
        memcpy(out, io, (size_t)n);
        out[n] = '\0';
    }
}

/* After every (re)instantiation: chips, stored blobs, the RATE pin, device id, topics, will. */
static void on_instantiated(void)
{
    for (int i = 0; i < s_pins.dout_count; i++) {
        const int32_t args[2] = {s_chip_clk[i], s_pins.dout_pins[i]};
        if (wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, args) <= 0) printf("wasm-scale: the core refused HX711 clk %ld / dout %ld\n", (long)args[0], (long)args[1]);
    }
    for (int32_t which = SCALE_BLOB_CONFIG; which >= SCALE_BLOB_CALIBRATION; which--) {
        size_t len, cap;
        const uint8_t *blob = store_get(which, &len);
        uint8_t *io = wasm_host_io(&cap);
        if (blob == NULL || io == NULL || len > cap) continue;
        memcpy(io, blob, len);
        const int32_t args[2] = {which, (int32_t)len};
        printf("wasm-scale: %s from flash: %s\n", which == SCALE_BLOB_CONFIG ? "settings" : "calibration",
               wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, args) == 0 ? "restored" : "refused (damaged or old), defaults kept");
    }
    /* The RATE pin's setting, set only when it differs (a boot does not rewrite the flash). */
    if (wasm_host_config_get(SCALE_CFG_RATE_SPS) != (float)SCALE_HX711_RATE_SPS && wasm_host_config_set(SCALE_CFG_RATE_SPS, (float)SCALE_HX711_RATE_SPS) != 0) {
        printf("wasm-scale: the core refused rate %d\n", SCALE_HX711_RATE_SPS);
    }
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    const char *device_id = pico_settings()->device_id;
    const int32_t id_len = (int32_t)strlen(device_id);
    if (io && (size_t)id_len <= cap) memcpy(io, device_id, (size_t)id_len);
    if (wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, &id_len) != 0) printf("wasm-scale: device id \"%s\" refused\n", device_id);
    core_topic(SCALE_TOPIC_CMD, s_cmd_topic, sizeof s_cmd_topic);
    core_topic(SCALE_TOPIC_HA_STATUS, s_ha_topic, sizeof s_ha_topic);
    core_topic(SCALE_TOPIC_RESULT, s_result_topic, sizeof s_result_topic);
    char module[sizeof s_module_topic - 2];
    core_topic(SCALE_TOPIC_MODULE, module, sizeof module);
    snprintf(s_module_topic, sizeof s_module_topic, "%s/#", module);
    module_host_relink(); /* after a re-instantiation: the module in force is linked to the new core */
    const int32_t n = wasm_host_call_i(SCALE_EXPORT_MQTT_WILL, 0, NULL);
    io = wasm_host_io(&cap);
    scale_frame_t f;
    if (io && n > 0 && scale_unframe(io, (size_t)n, &f) && f.topic_len < sizeof s_will_topic && f.payload_len < sizeof s_will_payload) {
        memcpy(s_will_topic, f.topic, f.topic_len);
        s_will_topic[f.topic_len] = '\0';
        memcpy(s_will_payload, f.payload, f.payload_len);
        s_will_payload[f.payload_len] = '\0';
    }
    const int32_t up = s_connected ? 1 : 0;
    if (up) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, &up); /* after a re-instantiation */
    s_time_synced = false;
}

static void sync_time_if_known(void)
{
    if (s_time_synced || net_clock_epoch() == 0) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    const int32_t args[2] = {(int32_t)(uint32_t)tv.tv_sec, (int32_t)now_ms() - (int32_t)(tv.tv_usec / 1000)};
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, args);
    s_time_synced = true;
}

/* The heap as newlib sees it: in use, and free (returned blocks plus what sbrk has not handed out
 * yet, up to the end of RAM). Printed at the first connection and every 10 minutes: the RAM with
 * wasm3, lwIP and a TLS session up, which only a board can measure. */
static void print_heap(void)
{
    extern char __StackLimit;
    const struct mallinfo m = mallinfo();
    const long never = (long)(&__StackLimit - (char *)sbrk(0));
    printf("wasm-scale: heap %ld bytes in use, %ld free\n", (long)m.uordblks, (long)m.fordblks + never);
}

/* Prints a reading (or fault report) on the UART console: at most every CONSOLE_EVERY_MS (every
 * fault at once), or with SCALE_CONSOLE_RECORDS every record whole, for tests/pico-emulator.ts. */
static void print_reading(int32_t status)
{
    const uint8_t *r = wasm_host_reading();
    if (r == NULL) return;
#if SCALE_CONSOLE_RECORDS
    char hex[2 * SCALE_ABI_READING_SIZE + 1];
    for (int i = 0; i < SCALE_ABI_READING_SIZE; i++) {
        hex[2 * i] = "0123456789abcdef"[r[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[r[i] & 15];
    }
    hex[sizeof hex - 1] = '\0';
    printf("R %ld %s\n", (long)status, hex);
#else
    static uint32_t shown_at;
    static bool shown;
    uint32_t seq, t, flags;
    float kg;
    memcpy(&seq, r + SCALE_ABI_READING_SEQ, 4);
    memcpy(&t, r + SCALE_ABI_READING_T_MS, 4);
    memcpy(&kg, r + SCALE_ABI_READING_KG, 4);
    memcpy(&flags, r + SCALE_ABI_READING_FLAGS, 4);
    if (status > 0 && shown && t - shown_at < CONSOLE_EVERY_MS) return;
    shown = true;
    shown_at = t;
    if (status < 0) printf("%8lu ms  #%lu  fault %ld\n", (unsigned long)t, (unsigned long)seq, (long)-status);
    else printf("%8lu ms  #%lu  %.3f kg  flags 0x%02lx\n", (unsigned long)t, (unsigned long)seq, (double)kg, (unsigned long)flags);
#endif
}

/* ---- calibration modules: the manager's host (host/module_host) with wasm3 as its engine ---------- */

static int32_t core_module(bool on)
{
    const int32_t args[1] = {on ? 1 : 0};
    return wasm_host_call_i(SCALE_EXPORT_CAL_MODULE, 1, args);
}

static void module_answer(const char *json)
{
    printf("wasm-scale: module %s\n", json);
    if (s_answer_count == ANSWERS || strlen(json) >= sizeof s_answers[0]) {
        s_answers_dropped++;
        return;
    }
    snprintf(s_answers[(s_answer_head + s_answer_count) % ANSWERS], sizeof s_answers[0], "%s", json);
    s_answer_count++;
}

static double module_now_ms(void)
{
    return (double)to_ms_since_boot(get_absolute_time());
}

static size_t free_heap(void)
{
    extern char __StackLimit;
    const struct mallinfo m = mallinfo();
    return (size_t)m.fordblks + (size_t)(&__StackLimit - (char *)sbrk(0));
}

/* The slots in flash, the key the firmware was built with; the core's calib imports to the host. */
static void start_modules(void)
{
    static module_storage_t storage;
#if SCALE_HAS_MODULE_KEY
    static const char *keys[] = {(const char *)scale_module_key};
    const size_t n_keys = 1;
#else
    static const char *keys[] = {NULL};
    const size_t n_keys = 0;
    printf("wasm-scale: no module signing key (certs/module-signing.pub): calibration modules will be refused\n");
#endif
    store_modules_storage(&storage);
    const module_core_host_t *own = modules_core_host(scale_core_wasm, scale_core_wasm_len);
    const module_host_config_t c = {
        .engine = modules_wasm3(), .storage = &storage, .keys_pem = keys, .n_keys = n_keys, .chunk_bytes = sizeof ((net_message_t *)0)->payload,
        .manager_wasm = scale_manager_wasm, .manager_len = scale_manager_wasm_len, .core_module = core_module,
        .core_manager_wasm = scale_core_manager_wasm, .core_manager_len = scale_core_manager_wasm_len,
        .answer = module_answer, .now_ms = module_now_ms, .free_heap = free_heap, .core = own,
    };
    /* The core to weigh with: the firmware's own (running now), or one installed over the air and
     * confirmed, swapped in before any state is given to it. */
    const uint8_t *wasm = NULL;
    size_t len = 0;
    module_host_core_boot(&c, &wasm, &len);
    if (wasm != NULL && wasm != own->own_wasm) {
        if (wasm_host_replace(wasm, len) == 0) {
            int slot = -1;
            const uint32_t v = module_host_core_version(&slot, NULL);
            printf("wasm-scale: core %lu.%lu.%lu from slot %c\n", (unsigned long)(v >> 16), (unsigned long)(v >> 8) & 0xff, (unsigned long)v & 0xff, 'a' + slot);
        } else {
            char why[160];
            snprintf(why, sizeof why, "%s", wasm_host_last_error());
            printf("wasm-scale: the core installed over the air does not start (%s): the firmware's own\n", why);
            if (wasm_host_replace(own->own_wasm, own->own_len) != 0) printf("wasm-scale: the firmware's own core does not start again\n");
            module_host_core_boot_refused(why);
        }
    }
    module_host_start(&c);
    printf("wasm-scale: the module manager took %lu bytes of heap while loaded\n", (unsigned long)module_host_manager_bytes());
}

/* A message on <module topic>/...: to the manager (a payload too large to be kept is refused unread). */
static bool module_message(const net_message_t *m)
{
    const size_t prefix = strlen(s_module_topic) - 1; /* "<module topic>/" */
    if (prefix == 0 || m->topic_len <= prefix || memcmp(m->topic, s_module_topic, prefix) != 0) return false;
    const bool whole = m->payload_len <= sizeof m->payload;
    module_host_message(m->topic + prefix, m->topic_len - prefix, whole ? m->payload : NULL, m->payload_len);
    return true;
}

/* ---- the console: its receive interrupt keeps what arrives while the loop waits for a conversion
 * (the UART's FIFO holds 32 bytes). With a network it carries provisioning (settings_pico.h);
 * without one, calibration modules: a line "module <step> <payload as hex>" is a message on the
 * module topic (begin, chunk/<offset>, end, rollback), answered as "wasm-scale: module {...}". */
static uint8_t s_rx[4096];
static volatile uint32_t s_rx_head, s_rx_tail;
static bool s_rx_overflow;

static void on_console_rx(void)
{
    while (uart_is_readable(uart0)) {
        const uint8_t c = (uint8_t)uart_getc(uart0);
        const uint32_t next = (s_rx_head + 1) % sizeof s_rx;
        if (next == s_rx_tail) {
            s_rx_overflow = true;
            continue;
        }
        s_rx[s_rx_head] = c;
        s_rx_head = next;
    }
}

static void console_start(void)
{
    irq_set_exclusive_handler(UART0_IRQ, on_console_rx);
    irq_set_enabled(UART0_IRQ, true);
    uart_set_irq_enables(uart0, true, false);
}

#if SCALE_NETWORK
/* Provisioning: what arrived goes to the session. */
static void console_poll(uint32_t now_ms)
{
    if (s_rx_overflow) {
        s_rx_overflow = false;
        printf("prov err LOST the console lost bytes: send less at a time\n");
    }
    uint8_t chunk[128];
    size_t n = 0;
    while (s_rx_tail != s_rx_head) {
        chunk[n++] = s_rx[s_rx_tail];
        s_rx_tail = (s_rx_tail + 1) % sizeof s_rx;
        if (n == sizeof chunk) {
            pico_provision_feed(chunk, n, now_ms);
            n = 0;
        }
    }
    pico_provision_feed(chunk, n, now_ms);
}
#else
#define CONSOLE_LINE 2300 /* "module chunk/<offset> " and 1 KiB as hex */

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* One console line: a module message, or nothing this firmware reads. */
static void console_line(char *line, size_t len)
{
    static uint8_t payload[1024];
    if (len < 7 || memcmp(line, "module ", 7) != 0) return;
    char *sub = line + 7, *hex = memchr(sub, ' ', len - 7);
    const size_t sub_len = hex ? (size_t)(hex - sub) : len - 7;
    size_t n = 0;
    if (hex) {
        hex++;
        const size_t digits = len - (size_t)(hex - line);
        if (digits % 2 != 0 || digits / 2 > sizeof payload) {
            printf("wasm-scale: module line refused: its payload is not 1..%u bytes of hex\n", (unsigned)sizeof payload);
            return;
        }
        for (; n < digits / 2; n++) {
            const int hi = hex_value(hex[2 * n]), lo = hex_value(hex[2 * n + 1]);
            if (hi < 0 || lo < 0) {
                printf("wasm-scale: module line refused: its payload is not hex\n");
                return;
            }
            payload[n] = (uint8_t)(hi << 4 | lo);
        }
    }
    module_host_message(sub, sub_len, payload, n);
}

static void console_poll(uint32_t now_ms)
{
    (void)now_ms;
    static char line[CONSOLE_LINE];
    static size_t len;
    static bool too_long;
    if (s_rx_overflow) {
        s_rx_overflow = false;
        printf("wasm-scale: the console lost bytes: send a line at a time\n");
    }
    while (s_rx_tail != s_rx_head) {
        const char c = (char)s_rx[s_rx_tail];
        s_rx_tail = (s_rx_tail + 1) % sizeof s_rx;
        if (c == '\r') continue;
        if (c != '\n') {
            if (len < sizeof line) line[len++] = c;
            else too_long = true;
            continue;
        }
        if (too_long) printf("wasm-scale: a console line over %u characters was dropped\n", (unsigned)sizeof line);
        else console_line(line, len);
        len = 0;
        too_long = false;
    }
}
#endif

/* Messages in, one frame out per loop (in the core's order, one in flight), acknowledgements back. */
static void move_bytes(void)
{
    if (net_mqtt_take_connected_edge()) {
        s_connected = true;
        print_heap();
        const int32_t up = 1;
        wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, &up);
    }
    if (net_mqtt_take_disconnected_edge()) {
        s_connected = false;
        const int32_t down = 0;
        wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, &down);
    }
    /* Messages lwIP acknowledged that found no room: the sender hears they were lost. */
    static unsigned lost;
    static char lost_topic[128];
    lost += net_mqtt_take_lost(lost_topic, sizeof lost_topic);
    static net_message_t m;
    while (net_mqtt_take_message(&m)) {
        if (module_message(&m)) continue;
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        if (io == NULL || m.topic_len > cap) continue;
        const size_t stored = m.payload_len < sizeof m.payload ? m.payload_len : sizeof m.payload;
        memcpy(io, m.topic, m.topic_len);
        memcpy(io + m.topic_len, m.payload, stored < cap - m.topic_len ? stored : cap - m.topic_len);
        const int32_t args[2] = {(int32_t)m.topic_len, (int32_t)m.payload_len};
        wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, args);
        persist_dirty(); /* before the result that says "accepted" is published */
    }
    const int done = net_mqtt_take_publish_result();
    if (done == 1) wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, NULL);
    if (!net_mqtt_can_publish()) return; /* framing costs the core: only when it can go out */
    if (lost > 0 && s_result_topic[0]) {
        char answer[200];
        const int len = snprintf(answer, sizeof answer, "{\"status\":\"lost\",\"reason\":\"BUSY\",\"topic\":\"%.120s\",\"count\":%u}", lost_topic, lost);
        if (len > 0 && (size_t)len < sizeof answer && net_mqtt_publish(s_result_topic, strlen(s_result_topic), (const uint8_t *)answer, (size_t)len, 1, false)) lost = 0;
        return;
    }
    if (s_answer_count > 0 && s_result_topic[0]) {
        const char *a = s_answers[s_answer_head];
        if (net_mqtt_publish(s_result_topic, strlen(s_result_topic), (const uint8_t *)a, strlen(a), 1, false)) {
            s_answer_head = (s_answer_head + 1) % ANSWERS;
            s_answer_count--;
        }
        return;
    }
    if (s_answers_dropped > 0) {
        printf("wasm-scale: %u module answer(s) found no room\n", s_answers_dropped);
        s_answers_dropped = 0;
    }
    const int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, NULL);
    size_t cap;
    const uint8_t *io = wasm_host_io(&cap);
    scale_frame_t f;
    if (n > 0 && io && scale_unframe(io, (size_t)n, &f)) net_mqtt_publish(f.topic, f.topic_len, f.payload, f.payload_len, f.qos, f.retain);
}

/* ---- the button: its interrupt queues edges; after each sample the core decides (scale_portable) ---- */

static scale_button_led_t s_button_led;
#if SCALE_BUTTON_PIN >= 0
static scale_button_t s_button;

static void button_edge(void)
{
    const uint32_t events = gpio_get_irq_event_mask(SCALE_BUTTON_PIN);
    if (events == 0) return;
    gpio_acknowledge_irq(SCALE_BUTTON_PIN, events);
    scale_button_edge(&s_button, !gpio_get(SCALE_BUTTON_PIN), (int64_t)time_us_64());
}

static void button_start(void)
{
    scale_button_init(&s_button);
    gpio_init(SCALE_BUTTON_PIN);
    gpio_set_dir(SCALE_BUTTON_PIN, GPIO_IN);
    gpio_pull_up(SCALE_BUTTON_PIN);
    gpio_add_raw_irq_handler_masked(1u << SCALE_BUTTON_PIN, button_edge);
    gpio_set_irq_enabled(SCALE_BUTTON_PIN, GPIO_IRQ_EDGE_FALL | GPIO_IRQ_EDGE_RISE, true);
    irq_set_enabled(IO_IRQ_BANK0, true);
}

static int32_t button_call(int32_t edge, int32_t down, int32_t t_ms, void *ctx)
{
    (void)ctx;
    const int32_t argv[3] = {edge, down, t_ms};
    return wasm_host_call_i(SCALE_EXPORT_BUTTON, 3, argv);
}

/* After each sample: the edges since (on the microsecond clock now_ms counts from boot on), a poll. */
static void button_after_sample(uint32_t t)
{
    const int32_t bits = scale_button_feed(&s_button, 0, (int32_t)t, !gpio_get(SCALE_BUTTON_PIN), button_call, NULL);
    scale_button_led_note(&s_button_led, bits, (int32_t)t);
}
#else
static void button_start(void) {}
static void button_after_sample(uint32_t t) { (void)t; }
#endif

/* The on-board LED (through the CYW43): two blinks every two seconds while no network is set, slow blink without WiFi, fast without the broker, on when up;
 * over that, what a press of the button did. */
static void show_status(uint32_t t, bool wifi_up)
{
    const int button = scale_button_led(&s_button_led, (int32_t)t);
    const bool on = button >= 0       ? button == 1
                  : !wasm_host_ready() ? (t / 100) % 10 == 0
                  : !pico_settings()->wifi_ssid[0] ? (t % 2000) < 1000 && (t / 250) % 2 == 0 /* waiting for provisioning */
                  : !wifi_up          ? (t / 500) % 2 == 0
                  : !s_connected      ? (t / 125) % 2 == 0
                                      : true;
    net_led(on);
}

int main(void)
{
    stdio_init_all();
    const char *error = config_error();
    while (error) {
        printf("wasm-scale: configuration: %s\n", error); /* no boot loop: say it, and wait */
        sleep_ms(5000);
    }
    if (watchdog_caused_reboot()) printf("wasm-scale: restarted by the watchdog\n");
    watchdog_enable(WATCHDOG_MS, true);
    store_pico_init();
    const pico_settings_build_t build = {
        .wifi_ssid = WIFI_SSID, .wifi_password = WIFI_PASSWORD, .broker_host = SCALE_BROKER_HOST, .broker_port = SCALE_BROKER_PORT,
        .username = SCALE_MQTT_USERNAME, .password = SCALE_MQTT_PASSWORD, .device_id = SCALE_DEVICE_ID,
#if SCALE_NETWORK
        .ca_pem = scale_broker_ca, .ca_len = scale_broker_ca_len,
#endif
#if SCALE_HAS_CLIENT_CERT
        .cert_pem = scale_client_cert, .cert_len = scale_client_cert_len, .key_pem = scale_client_key, .key_len = scale_client_key_len,
#endif
        .wifi_use = net_wifi_use,
    };
    pico_settings_load(&build);
    if (!hx711_pio_init(&s_pins)) printf("wasm-scale: HX711 pins could not be set up\n");
    button_start();
    const wasm_host_calibration_t calibration = {
        .gain = module_host_gain, .curve = module_host_curve, .knot = module_host_knot, .fault = module_host_fault, .fit = module_host_fit};
    wasm_host_set_calibration(&calibration);
    const wasm_host_config_t core = {
        .wasm = scale_core_wasm, .wasm_len = scale_core_wasm_len,
        .stack_bytes = SCALE_WASM_STACK_KB * 1024, .on_instantiated = on_instantiated,
    };
    if (wasm_host_start(&core) != WASM_HOST_OK) printf("wasm-scale: the Wasm core did not start; retrying\n");
    printf("wasm-scale: core linear memory %lu bytes\n", (unsigned long)wasm_host_linear_bytes());
    if (wasm_host_ready()) start_modules();
    print_heap(); /* the core loaded and compiled: what is left for lwIP and TLS */
#if SCALE_NETWORK
    const pico_settings_t *set = pico_settings();
    console_start();
    if (set->wifi_ssid[0]) net_wifi_start(set->wifi_ssid, set->wifi_password); /* a chip that does not start says so, and is tried again later */
    else {
        printf("wasm-scale: no WiFi network is set: waiting for one on the console (wasm-scale provision, or an Improv client); sampling goes on\n");
        net_wifi_prepare();
    }
    static char client_id[48];
    snprintf(client_id, sizeof client_id, "wasm-scale-%s", set->device_id);
    const net_mqtt_config_t mqtt = {
        .host = set->broker_host, .port = set->broker_port, .client_id = client_id,
        .username = set->username, .password = set->password,
        .ca_pem = set->ca_pem, .ca_len = set->ca_len,
        .cert_pem = set->cert_pem, .cert_len = set->cert_len, .key_pem = set->key_pem, .key_len = set->key_len,
        .will_topic = s_will_topic, .will_payload = s_will_payload, .subscriptions = {s_cmd_topic, s_ha_topic, s_module_topic},
    };
    if (!set->broker_host[0]) printf("wasm-scale: no broker is set: provision one, then restart the scale\n");
    else if (!net_mqtt_init(&mqtt)) printf("wasm-scale: TLS could not be set up (is the CA a PEM file?)\n");
#else
    net_wifi_start("", "");
    console_start();
    printf("wasm-scale: built without a network (SCALE_NETWORK=OFF): calibration modules on the console\n");
#endif
    bool sntp_started = false;
    for (;;) {
        watchdog_update();
        const uint32_t t = now_ms();
        if (!wasm_host_ready()) {
            if (wasm_host_recover(t) == WASM_HOST_GAVE_UP) {
                printf("wasm-scale: the core keeps failing; rebooting\n");
                for (;;) tight_loop_contents(); /* the watchdog reboots */
            }
        } else {
            const int32_t now = (int32_t)t;
            const int32_t status = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &now);
            if (status != 0 && status != INT32_MIN) print_reading(status);
            /* A core on trial or a calibration module that failed is rolled back before the next. */
            if (module_host_sampled(status)) printf("wasm-scale: the core on trial trapped: rolled back, its state moved into the core before it\n");
            button_after_sample(t);
            persist_dirty();
        }
        const bool wifi_up = net_wifi_poll(t);
        if (wifi_up && !sntp_started) {
            net_clock_start(SCALE_NTP_SERVER);
            sntp_started = true;
        }
        if (wasm_host_ready()) sync_time_if_known();
        net_mqtt_poll(t, wifi_up);
        if (wasm_host_ready()) move_bytes();
#if SCALE_NETWORK
        console_poll(t);
        pico_provision_poll(t, wifi_up);
#else
        if (wasm_host_ready()) console_poll(t);
#endif
        show_status(t, wifi_up);
        net_log_flush();
        static uint32_t heap_at = 600000;
        if ((int32_t)(t - heap_at) >= 0) {
            print_heap();
            heap_at = t + 600000;
        }
    }
}
