/*
 * The firmware's battery mode (../battery.c, unchanged) on Linux with its Wasm host (wasm_host.c)
 * and the release core under the WAMR the ESP32 runs, a simulated HX711, and the smallest stand-ins
 * for what ESP-IDF gives it (shim/): deep sleep returns to this file's boot loop (RTC memory is
 * static memory, which that keeps), the clock is the test's, NVS is in memory, and the network is
 * up or down by schedule (when up, the broker acknowledges at once; the real network path is
 * tests/battery.test.ts's, against aedes). Every boot is a fresh core instance, as on the device.
 *
 * 300 wakes, 15 minutes apart, publishing every 4th: a 40-hour outage makes the state outgrow RTC
 * memory and go to flash and back; one wake traps and is started again from the state before it;
 * every reading is delivered once, in order, with its own time; the HX711's clock pin is held
 * high through every sleep and released at every boot; the stored access point is tried first.
 * Usage: test_battery <release.wasm>
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include "app.h"
#include "battery.h"
#include "cal_module.h"
#include "check.h"
#include "driver/gpio.h"
#include "esp_sleep.h"
#include "esp_timer.h"
#include "freertos/task.h"
#include "hx711_gpio.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "scale_portable.h"
#include "sim_hx711.h"
#include "wasm_host.h"

enum { WAKES = 300, OUTAGE_FROM = 40, OUTAGE_TO = 200, TRAP_AT = 250, INTERVAL_S = 900, RTC_STATE_BYTES = 6144 };

/* ---- the board: clocks, deep sleep, GPIO hold ----------------------------------------------- */

static jmp_buf s_boot;
static int64_t s_timer_us;                          /* esp_timer: since this boot */
static int64_t s_rtc_us = 1795000000LL * 1000000;   /* the RTC's wall clock: runs on in deep sleep */
static uint64_t s_sleep_us;
static bool s_clk_held, s_deep_hold;

int64_t esp_timer_get_time(void) { return s_timer_us; }

int test_gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    tv->tv_sec = (time_t)(s_rtc_us / 1000000);
    tv->tv_usec = (suseconds_t)(s_rtc_us % 1000000);
    return 0;
}

static void elapse(int64_t us)
{
    s_timer_us += us;
    s_rtc_us += us;
}

/* Ticks of 1 ms, as the firmware's CONFIG_FREERTOS_HZ. */
void vTaskDelay(TickType_t ticks) { elapse((int64_t)ticks * 1000); }

BaseType_t xTaskCreate(void (*fn)(void *), const char *name, uint32_t stack, void *arg, unsigned prio, TaskHandle_t *out)
{
    (void)fn, (void)name, (void)stack, (void)arg, (void)prio, (void)out;
    return pdPASS; /* the network task: its work is done by app_publish_next here */
}

esp_err_t esp_sleep_enable_timer_wakeup(uint64_t us)
{
    s_sleep_us = us;
    return ESP_OK;
}

void esp_deep_sleep_start(void)
{
    CHECK(s_clk_held && s_deep_hold, "deep sleep with the HX711's clock pin not held");
    longjmp(s_boot, 1);
}

esp_err_t gpio_hold_en(gpio_num_t pin)
{
    CHECK(pin == CONFIG_SCALE_HX711_CLK_PIN, "hold on pin %d", pin);
    s_clk_held = true;
    return ESP_OK;
}

esp_err_t gpio_hold_dis(gpio_num_t pin)
{
    CHECK(pin == CONFIG_SCALE_HX711_CLK_PIN, "hold released on pin %d", pin);
    s_clk_held = false;
    return ESP_OK;
}

void gpio_deep_sleep_hold_en(void) { s_deep_hold = true; }

/* The wait for the simulated chip's next conversion, at 10 SPS: the task reads this count before and
 * after each sample, so a sample is 100 ms, spent waiting (the task yields meanwhile). */
uint32_t hx711_gpio_yields(void)
{
    static uint32_t waits;
    elapse(50000);
    return ++waits;
}

const char *esp_err_to_name(esp_err_t code)
{
    static char text[16];
    snprintf(text, sizeof text, "0x%x", (unsigned)code);
    return text;
}

void cal_manager_after_sample(void) {}

/* ---- NVS: the `state` partition, in memory -------------------------------------------------- */

static uint8_t s_nvs_state[16384];
static size_t s_nvs_len;
static int s_nvs_writes;

esp_err_t nvs_flash_init_partition(const char *label) { return strcmp(label, "state") == 0 ? ESP_OK : ESP_ERR_NOT_FOUND; }
esp_err_t nvs_flash_erase_partition(const char *label) { (void)label; s_nvs_len = 0; return ESP_OK; }

esp_err_t nvs_open_from_partition(const char *part, const char *ns, nvs_open_mode_t mode, nvs_handle_t *out)
{
    (void)ns, (void)mode;
    CHECK(strcmp(part, "state") == 0, "NVS partition %s", part);
    *out = 1;
    return ESP_OK;
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *len)
{
    (void)h;
    if (strcmp(key, "state") != 0 || s_nvs_len == 0) return ESP_ERR_NVS_NOT_FOUND;
    if (out && *len < s_nvs_len) return ESP_ERR_INVALID_ARG;
    if (out) memcpy(out, s_nvs_state, s_nvs_len);
    *len = s_nvs_len;
    return ESP_OK;
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t len)
{
    (void)h;
    CHECK(strcmp(key, "state") == 0 && len <= sizeof s_nvs_state, "NVS key %s, %zu bytes", key, len);
    memcpy(s_nvs_state, value, len);
    s_nvs_len = len;
    s_nvs_writes++;
    return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t h) { (void)h; return ESP_OK; }
void nvs_close(nvs_handle_t h) { (void)h; }

/* ---- the network, by schedule ---------------------------------------------------------------- */

static bool s_network_up, s_mqtt_started, s_core_told, s_time_set;
static int s_boot_no, s_wifi_starts, s_hinted_connects, s_connects;

esp_err_t scale_wifi_start_hinted(const char *ssid, const char *password, uint32_t backoff_max_ms, const scale_wifi_ap_t *hint)
{
    (void)ssid, (void)password, (void)backoff_max_ms;
    s_wifi_starts++;
    if (hint && hint->channel == 6 && hint->bssid[0] == 0x24) s_hinted_connects++;
    return ESP_OK;
}

bool scale_wifi_wait(uint32_t timeout_ms)
{
    if (!s_network_up) vTaskDelay(timeout_ms); /* the budget goes by */
    return s_network_up;
}

bool scale_wifi_ap(scale_wifi_ap_t *out)
{
    static const uint8_t bssid[6] = {0x24, 0x0a, 0xc4, 0x01, 0x02, 0x03};
    memcpy(out->bssid, bssid, sizeof bssid);
    out->channel = 6;
    return true;
}

void scale_wifi_stop(void) {}
esp_err_t scale_clock_sync(const char *server, uint32_t wait_ms) { (void)server, (void)wait_ms; s_time_set = true; return ESP_OK; }
uint32_t scale_clock_epoch(void) { return s_time_set ? (uint32_t)(s_rtc_us / 1000000) : 0; }

esp_err_t scale_mqtt_start(const scale_mqtt_config_t *config, QueueHandle_t events)
{
    (void)events;
    CHECK(config->persistent_session && config->will_topic == NULL, "battery mode connects with a persistent session and no will");
    s_mqtt_started = true;
    s_core_told = false;
    s_connects++;
    return ESP_OK;
}

void scale_mqtt_stop(void)
{
    if (s_core_told) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0);
    s_mqtt_started = s_core_told = false;
}
void scale_mqtt_serve(void) {}

/* ---- what main.c gives battery.c (app.h), over the same core ---------------------------------- */

static uint8_t s_config[512];
static int32_t s_config_len;
static bool s_core_time_synced;

typedef struct {
    uint32_t seq;
    int64_t t_ms;
    int64_t ts;
} delivered_t;
static delivered_t s_delivered[WAKES];
static int s_n_delivered;

float app_setting(int key)
{
    uint32_t argv[1] = {(uint32_t)key};
    float v = 0;
    if (wasm_host_call(SCALE_EXPORT_CONFIG_GET, 1, argv) == ESP_OK) memcpy(&v, &argv[0], sizeof v);
    return v;
}

void app_core_setup(void)
{
    CHECK(wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, CONFIG_SCALE_HX711_CLK_PIN, 4) == 1, "chip refused");
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    if (s_config_len > 0) {
        memcpy(io, s_config, (size_t)s_config_len);
        CHECK(wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, SCALE_BLOB_CONFIG, s_config_len) == 0, "settings refused");
    }
    memcpy(io, "hive", 4);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 4, 0) == 0, "device id refused");
    s_core_time_synced = false;
}

void app_persist_dirty(void)
{
    int32_t dirty = wasm_host_call_i(SCALE_EXPORT_STATE_DIRTY, 0, 0, 0);
    if (dirty == INT32_MIN || (dirty & (1 << SCALE_BLOB_CONFIG)) == 0) return;
    s_config_len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, SCALE_BLOB_CONFIG, 0);
    size_t cap;
    memcpy(s_config, wasm_host_io(&cap), (size_t)s_config_len);
}

void app_sync_time(bool again)
{
    if ((s_core_time_synced && !again) || scale_clock_epoch() == 0) return;
    const int32_t now = (int32_t)battery_now_ms();
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, (int32_t)(uint32_t)(s_rtc_us / 1000000), now - (int32_t)((s_rtc_us % 1000000) / 1000));
    s_core_time_synced = true;
}

bool app_connected(void) { return s_network_up && s_mqtt_started; }
int app_subscription_count(void) { return 2; }
QueueHandle_t app_net_events(void) { return NULL; }
void app_mqtt_config(scale_mqtt_config_t *c) { memset(c, 0, sizeof *c); }

int app_handle_events(publish_state_t *p)
{
    if (app_connected()) p->subscribed = 2;
    return 0;
}

/* The broker takes each frame at once; a reading's seq, t_ms and ts are noted. */
bool app_publish_next(publish_state_t *p, int64_t now_ms)
{
    (void)p, (void)now_ms;
    if (!app_connected()) return true;
    if (!s_core_told) {
        wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0); /* the CONNECTED event */
        s_core_told = true;
    }
    int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
    if (n <= 0) return false;
    size_t cap;
    scale_frame_t f;
    CHECK(scale_unframe(wasm_host_io(&cap), (size_t)n, &f), "a frame the core made does not parse");
    if (f.topic_len > 6 && memcmp(f.topic + f.topic_len - 6, "/state", 6) == 0) {
        char text[512];
        size_t len = f.payload_len < sizeof text - 1 ? f.payload_len : sizeof text - 1;
        memcpy(text, f.payload, len);
        text[len] = '\0';
        delivered_t d = {0};
        const char *seq = strstr(text, "\"seq\":"), *t = strstr(text, "\"t_ms\":"), *ts = strstr(text, "\"ts\":");
        CHECK(seq && t && ts && s_n_delivered < WAKES, "reading %s", text);
        d.seq = (uint32_t)strtoul(seq + 6, NULL, 10);
        d.t_ms = strtoll(t + 7, NULL, 10);
        d.ts = strtoll(ts + 5, NULL, 10);
        s_delivered[s_n_delivered++] = d;
    }
    CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0) == 0, "out_done");
    return true;
}

/* ---- the boots ------------------------------------------------------------------------------- */

static const uint8_t *read_only_image(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    static uint8_t buf[65536];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    void *image = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(image != MAP_FAILED, "mmap");
    memcpy(image, buf, *len);
    CHECK(mprotect(image, *len, PROT_READ) == 0, "mprotect");
    return image;
}

static size_t state_bytes(void)
{
    static uint8_t buf[16384];
    return wasm_host_state_save(buf, sizeof buf);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, "usage: test_battery <release.wasm>");
    size_t len;
    const uint8_t *wasm = read_only_image(argv[1], &len);
    wasm_host_config_t c = {
        .wasm = wasm, .wasm_len = len, .pool_bytes = CONFIG_SCALE_WASM_POOL_KB * 1024, .stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024,
        .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT, .on_instantiated = app_core_setup,
    };
    /* The first boot: awake, the user turns battery mode on (a command, saved as settings). */
    battery_clock_resume();
    CHECK(wasm_host_start(&c) == ESP_OK, "the core does not start");
    CHECK(!battery_restore(false), "a state on a cold boot");
    CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_WAKE_INTERVAL_S, INTERVAL_S) == 0, "WAKE_INTERVAL_S refused");
    CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_PUBLISH_EVERY, 4) == 0, "PUBLISH_EVERY refused");
    app_persist_dirty();
    s_network_up = true;
    static int64_t largest_state, slept_ms, nvs_writes_after_outage = -1;
    static bool restored_from_flash;
    if (setjmp(s_boot) == 0) battery_sleep(1); /* as core_task does when battery mode is switched on */

    /* Here after every deep sleep: the RTC ran on, the rest starts again. */
    CHECK(s_clk_held, "the clock pin was not held over the sleep");
    s_rtc_us += (int64_t)s_sleep_us;
    slept_ms += (int64_t)(s_sleep_us / 1000);
    s_timer_us = 0;
    s_boot_no++;
    if (s_boot_no > WAKES) goto done;
    s_network_up = s_boot_no < OUTAGE_FROM || s_boot_no >= OUTAGE_TO;
    if (s_boot_no == OUTAGE_TO) nvs_writes_after_outage = s_nvs_writes;
    /* A fresh instance, as a boot makes: the old one trapped away, the new one set up. */
    sim_hx711_write_fails = 1;
    wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0);
    sim_hx711_write_fails = 0;
    CHECK(!wasm_host_ready() && wasm_host_recover(0) == ESP_OK, "boot %d: no fresh instance", s_boot_no);
    battery_clock_resume();
    battery_release_pins();
    CHECK(!s_clk_held, "boot %d: the clock pin still held", s_boot_no);
    CHECK(battery_restore(true), "boot %d: the state kept over the sleep was not restored", s_boot_no);
    const size_t bytes = state_bytes();
    if ((int64_t)bytes > largest_state) largest_state = (int64_t)bytes;
    if (bytes > RTC_STATE_BYTES) restored_from_flash = true;
    /* One wake traps at its start: it sleeps without saving, and the next starts from the state before. */
    if (s_boot_no == TRAP_AT) sim_hx711_write_fails = 1;
    battery_task(NULL);
    CHECK(0, "battery_task returned");

done:
    sim_hx711_write_fails = 0;
    CHECK(restored_from_flash && largest_state > RTC_STATE_BYTES, "the outage never made the state outgrow RTC memory (%" PRId64 " bytes)", largest_state);
    CHECK(s_nvs_writes > 0 && s_nvs_writes <= OUTAGE_TO - OUTAGE_FROM, "%d state writes to flash", s_nvs_writes);
    CHECK(nvs_writes_after_outage >= 0 && s_nvs_writes - nvs_writes_after_outage <= 1, "flash written after the outage: %d writes", s_nvs_writes);
    CHECK(s_hinted_connects > 0 && s_hinted_connects == s_wifi_starts - 1, "%d of %d WiFi starts tried the stored access point", s_hinted_connects, s_wifi_starts);
    /* Every reading once, in order; the trapped wake took none. */
    const int32_t queued = wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0);
    CHECK(s_n_delivered + queued == WAKES - 1, "%d delivered + %" PRId32 " queued of %d readings", s_n_delivered, queued, WAKES - 1);
    for (int i = 0; i < s_n_delivered; i++) {
        const delivered_t *d = &s_delivered[i];
        CHECK(d->seq == (uint32_t)i + 1, "reading %d has seq %" PRIu32, i + 1, d->seq);
        CHECK(d->ts - d->t_ms == s_delivered[0].ts - s_delivered[0].t_ms, "reading %d: ts %" PRId64 " does not follow its t_ms", i + 1, d->ts);
        if (i == 0) continue;
        const int64_t gap = d->t_ms - s_delivered[i - 1].t_ms;
        const int64_t slots = (gap + INTERVAL_S * 500) / (INTERVAL_S * 1000);
        CHECK(slots >= 1 && slots <= 2 && llabs(gap - slots * INTERVAL_S * 1000) < 2000, "readings %d and %d are %" PRId64 " ms apart", i, i + 1, gap);
    }
    printf("%d wakes (one trapped, started again from the state before it): %d readings delivered in order, %" PRId32
           " queued; the state at most %" PRId64 " bytes, %d writes to flash during the %d-wake outage, none after; "
           "%d of %d WiFi starts to the stored access point (%d connections); %" PRId64 " s asleep\n",
           WAKES, s_n_delivered, queued, largest_state, s_nvs_writes, OUTAGE_TO - OUTAGE_FROM, s_hinted_connects, s_wifi_starts, s_connects, slept_ms / 1000);
    return 0;
}
