/*
 * Battery mode: one reading a wake, deep sleep between. A wake is a boot: app_main sets the core up
 * as always (chips, settings and calibration from NVS), battery_restore gives it back its state
 * (filters' zero tracking, tare, sequence numbers, the queued readings and results, the duty
 * cycle's own), and battery_task runs the wake:
 *
 *   wake_begin -> scale_sample / wake_step until the reading is done (the core powers the HX711
 *   up and down) -> if the core says so: WiFi to the stored access point, SNTP when due, MQTT with
 *   the session kept at the broker, everything the core has published and the commands waiting
 *   answered, all within CONNECT_BUDGET_MS -> the state saved -> deep sleep for wake_sleep_ms.
 *
 * What survives the sleep is in RTC slow memory (s_keep): the state (when it fits; otherwise it
 * goes to NVS, which only a long outage causes), the clock, the access point, when SNTP last ran.
 * It is not initialised at boot (RTC_NOINIT), so a software reset or a panic keeps it too; a
 * power-on leaves garbage that the magic and the state's own CRC refuse. In battery mode a wake
 * that fails (a trap) sleeps without saving, and the next starts again from the state before it:
 * readings already published may go out again (QoS 1 is at least once; seq tells), none is lost.
 * Awake, a restored state is marked spent, so a crash hours later never brings it back. A cold
 * boot or a damaged state starts the core clean, and the log says which.
 * esp-mqtt cannot resume a TLS session yet (espressif/esp-mqtt#331): every connection is a full
 * handshake, and the README's energy figures assume so.
 */
#include "battery.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "driver/gpio.h"
#include "esp_attr.h"
#include "esp_log.h"
#include "esp_sleep.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "soc/soc_caps.h"
#include "app.h"
#include "cal_module.h"
#include "hx711_gpio.h"
#include "scale_net.h"
#include "wasm_host.h"

static const char *TAG = "battery";

/* RTC slow memory is 8 KB on the ESP32; the state takes at most this much of it. The state is
 * about 1.7 KB plus 32 bytes a queued reading (tests/state.test.ts): 140 readings, 35 hours of
 * readings every 15 minutes, before it goes to flash. */
#define RTC_STATE_BYTES 6144
#define KEEP_MAGIC 0x31425357u /* "WSB1" */
#define NVS_NAMESPACE "wasm-scale"
#define STATE_PARTITION "state" /* partitions.csv */
#define NVS_STATE_KEY "state"
#define SNTP_WAIT_MS 15000
#define SNTP_EVERY_MS ((int64_t)CONFIG_SCALE_SNTP_EVERY_H * 3600 * 1000)
#define SERVE_TASK_STACK 4096
#define SERVE_TASK_PRIORITY 5
/* After a trap, when the core cannot say when to wake. */
#define FALLBACK_SLEEP_MS (15 * 60 * 1000)

typedef struct {
    uint32_t magic;
    uint32_t wakes;
    int64_t clock_ms;        /* the core's clock when the sleep began */
    int64_t rtc_us;          /* gettimeofday then: the RTC keeps counting in deep sleep */
    int64_t sntp_ms;         /* the core's clock at the last SNTP synchronisation; -1: none since the cold boot */
    scale_wifi_ap_t ap;      /* the access point of the last connection (channel 0: none) */
    bool state_in_flash;
    uint32_t state_len;
    uint8_t state[RTC_STATE_BYTES];
} keep_t;

static RTC_NOINIT_ATTR keep_t s_keep;
static int64_t s_clock_base_ms;

static int64_t rtc_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

void battery_clock_resume(void)
{
    int64_t clock_ms = 0;
    if (s_keep.magic == KEEP_MAGIC) {
        int64_t slept_ms = (rtc_now_us() - s_keep.rtc_us) / 1000;
        clock_ms = s_keep.clock_ms + (slept_ms > 0 ? slept_ms : 0);
    } else {
        s_keep = (keep_t){.sntp_ms = -1};
    }
    s_clock_base_ms = clock_ms - esp_timer_get_time() / 1000;
}

int64_t battery_now_ms(void)
{
    return s_clock_base_ms + esp_timer_get_time() / 1000;
}

void battery_release_pins(void)
{
    /* Held high over the sleep (the HX711 powered down); the GPIO set-up has configured it again. */
    gpio_hold_dis((gpio_num_t)CONFIG_SCALE_HX711_CLK_PIN);
}

/* The NVS partition for states too large for RTC memory, initialised on first use. */
static esp_err_t open_state_nvs(nvs_open_mode_t mode, nvs_handle_t *h)
{
    static bool ready;
    if (!ready) {
        esp_err_t err = nvs_flash_init_partition(STATE_PARTITION);
        if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
            nvs_flash_erase_partition(STATE_PARTITION);
            err = nvs_flash_init_partition(STATE_PARTITION);
        }
        if (err != ESP_OK) {
            ESP_LOGE(TAG, "the %s partition: %s (partitions.csv)", STATE_PARTITION, esp_err_to_name(err));
            return err;
        }
        ready = true;
    }
    return nvs_open_from_partition(STATE_PARTITION, NVS_NAMESPACE, mode, h);
}

/* The state kept in NVS when it outgrew RTC memory; malloc'd, NULL when absent. */
static uint8_t *flash_state(size_t *len)
{
    nvs_handle_t h;
    if (open_state_nvs(NVS_READONLY, &h) != ESP_OK) return NULL;
    uint8_t *buf = NULL;
    if (nvs_get_blob(h, NVS_STATE_KEY, NULL, len) == ESP_OK && *len > 0 && (buf = malloc(*len)) != NULL &&
        nvs_get_blob(h, NVS_STATE_KEY, buf, len) != ESP_OK) {
        free(buf);
        buf = NULL;
    }
    nvs_close(h);
    return buf;
}

bool battery_restore(bool battery_mode)
{
    if (s_keep.magic != KEEP_MAGIC || (!s_keep.state_in_flash && s_keep.state_len == 0)) {
        ESP_LOGI(TAG, "cold boot: the scale starts with no queued readings");
        return false;
    }
    size_t len = s_keep.state_len;
    uint8_t *heap = s_keep.state_in_flash ? flash_state(&len) : NULL;
    const uint8_t *src = s_keep.state_in_flash ? heap : s_keep.state;
    esp_err_t r = src && (s_keep.state_in_flash || len <= RTC_STATE_BYTES) ? wasm_host_state_load(src, len) : ESP_ERR_INVALID_STATE;
    free(heap);
    const bool from_flash = s_keep.state_in_flash;
    if (!battery_mode) {
        s_keep.state_len = 0; /* spent: the core holds it from now on */
        s_keep.state_in_flash = false;
    }
    if (r == ESP_OK) {
        ESP_LOGI(TAG, "wake %" PRIu32 ": state restored from %s (%u bytes)", s_keep.wakes, from_flash ? "flash" : "RTC memory",
                 (unsigned)len);
        return true;
    }
    /* Half-applied state is not to be used: the core starts as at a cold boot. */
    ESP_LOGE(TAG, "the state kept over the sleep was refused (damaged or from another core): the scale starts clean, the readings it held are lost");
    wasm_host_call_i(SCALE_EXPORT_SCALE_INIT, 0, 0, 0);
    app_core_setup();
    return false;
}

/* The state into RTC memory, or NVS when it does not fit (a long outage: logged, for wear). */
static void save_state(void)
{
    size_t total = wasm_host_state_save(s_keep.state, RTC_STATE_BYTES);
    if (total == 0) {
        ESP_LOGE(TAG, "the core gave no state: nothing is kept over this sleep");
        s_keep.state_len = 0;
        return;
    }
    if (total <= RTC_STATE_BYTES) {
        s_keep.state_in_flash = false;
        s_keep.state_len = (uint32_t)total;
        return;
    }
    uint8_t *buf = malloc(total);
    esp_err_t err = buf && wasm_host_state_save(buf, total) == total ? ESP_OK : ESP_ERR_NO_MEM;
    nvs_handle_t h;
    if (err == ESP_OK) err = open_state_nvs(NVS_READWRITE, &h);
    if (err == ESP_OK) {
        err = nvs_set_blob(h, NVS_STATE_KEY, buf, total);
        if (err == ESP_OK) err = nvs_commit(h);
        nvs_close(h);
    }
    free(buf);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "the %u-byte state did not go to flash: %s", (unsigned)total, esp_err_to_name(err));
        s_keep.state_len = 0;
        return;
    }
    ESP_LOGW(TAG, "%u-byte state (readings piling up offline) written to flash", (unsigned)total);
    s_keep.state_in_flash = true;
    s_keep.state_len = (uint32_t)total;
}

void battery_sleep(int64_t sleep_ms)
{
    if (wasm_host_ready()) save_state();
    s_keep.clock_ms = battery_now_ms();
    s_keep.rtc_us = rtc_now_us();
    s_keep.wakes++;
    s_keep.magic = KEEP_MAGIC;
    /* The core left the HX711's clock high (powered down): keep it so while the chip sleeps. */
    gpio_hold_en((gpio_num_t)CONFIG_SCALE_HX711_CLK_PIN);
#if !SOC_GPIO_SUPPORT_HOLD_SINGLE_IO_IN_DSLP
    gpio_deep_sleep_hold_en();
#endif
    esp_sleep_enable_timer_wakeup((uint64_t)(sleep_ms > 0 ? sleep_ms : 1) * 1000u);
    ESP_LOGI(TAG, "sleeping %" PRId64 " ms", sleep_ms);
    esp_deep_sleep_start();
}

static void serve_task(void *arg)
{
    (void)arg;
    scale_mqtt_serve();
}

static int64_t left_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - esp_timer_get_time() / 1000;
    return left > 0 ? left : 0;
}

/* The publishing part of a wake: everything within CONNECT_BUDGET_MS, or given up (the readings
 * stay queued for the next publishing wake). */
static void publish(void)
{
    const int64_t deadline = esp_timer_get_time() / 1000 + (int64_t)app_setting(SCALE_CFG_CONNECT_BUDGET_MS);
    const scale_wifi_ap_t *hint = s_keep.ap.channel ? &s_keep.ap : NULL;
    if (scale_wifi_start_hinted(CONFIG_SCALE_WIFI_SSID, CONFIG_SCALE_WIFI_PASSWORD, 1000, hint) != ESP_OK) {
        ESP_LOGE(TAG, "WiFi did not start");
        return;
    }
    if (!scale_wifi_wait((uint32_t)left_ms(deadline))) {
        /* The stored access point stays: an attempt that finds it gone scans (wifi.c). */
        ESP_LOGW(TAG, "no WiFi within the budget: the readings wait for the next publishing wake");
        scale_wifi_stop();
        return;
    }
    if (!scale_wifi_ap(&s_keep.ap)) s_keep.ap.channel = 0;
    if (s_keep.sntp_ms < 0 || scale_clock_epoch() == 0 || battery_now_ms() - s_keep.sntp_ms >= SNTP_EVERY_MS) {
        int64_t wait = left_ms(deadline) < SNTP_WAIT_MS ? left_ms(deadline) : SNTP_WAIT_MS;
        if (scale_clock_sync(CONFIG_SCALE_NTP_SERVER, (uint32_t)wait) == ESP_OK) s_keep.sntp_ms = battery_now_ms();
        app_sync_time(true);
    }
    scale_mqtt_config_t mqtt;
    app_mqtt_config(&mqtt);
    mqtt.persistent_session = true; /* commands sent while the scale slept wait at the broker */
    mqtt.will_topic = NULL;         /* it leaves cleanly every time; Home Assistant's expire_after tells when it is gone */
    if (scale_mqtt_start(&mqtt, app_net_events()) != ESP_OK ||
        xTaskCreate(serve_task, "net", SERVE_TASK_STACK, NULL, SERVE_TASK_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "MQTT client not started");
        scale_wifi_stop();
        return;
    }
    publish_state_t p = PUBLISH_STATE_INIT;
    bool done = false;
    while (!done && left_ms(deadline) > 0) {
        app_handle_events(&p);
        app_persist_dirty();
        /* Done when connected, the subscriptions acknowledged (the commands kept for us arrive
         * before that) and nothing is left to send or in flight. */
        bool busy = app_publish_next(&p, esp_timer_get_time() / 1000);
        done = app_connected() && p.subscribed >= app_subscription_count() && !busy;
        if (!done) vTaskDelay(pdMS_TO_TICKS(10));
    }
    if (!done) ESP_LOGW(TAG, "over the connection budget: what was not acknowledged waits for the next publishing wake");
    scale_mqtt_stop();
    scale_wifi_stop();
}

void battery_task(void *arg)
{
    (void)arg;
    app_sync_time(false); /* the RTC kept the wall clock over the sleep, once SNTP had set it */
    int64_t now = battery_now_ms();
    int32_t step = wasm_host_call_i(SCALE_EXPORT_WAKE_BEGIN, 1, (int32_t)now, 0);
    if (step == 0) {
        for (;;) {
            const uint32_t yields = hx711_gpio_yields();
            now = battery_now_ms();
            wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now, 0);
            cal_manager_after_sample();
            step = wasm_host_call_i(SCALE_EXPORT_WAKE_STEP, 1, (int32_t)now, 0);
            if (step != SCALE_WAKE_SAMPLE) break;
            if (hx711_gpio_yields() == yields) vTaskDelay(1);
        }
    }
    if (!wasm_host_ready() || step < 0) {
        /* Not saved: the next wake starts again from the state this one was given. */
        ESP_LOGE(TAG, "the wake failed (%" PRId32 "): sleeping %d s", step, FALLBACK_SLEEP_MS / 1000);
        battery_sleep(FALLBACK_SLEEP_MS);
    }
    if (step == SCALE_WAKE_PUBLISH) publish();
    app_persist_dirty();
    int32_t sleep_ms = wasm_host_call_i(SCALE_EXPORT_WAKE_SLEEP_MS, 1, (int32_t)battery_now_ms(), 0);
    if (sleep_ms <= 0) ESP_LOGI(TAG, "battery mode is off (WAKE_INTERVAL_S 0): awake from the next boot on");
    battery_sleep(sleep_ms > 0 ? sleep_ms : 1);
}
