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
 * handshake, and docs/battery.md's energy figures assume so.
 *
 * What keeps a wake from draining the cells: every sleep powers the HX711 down first (clock high for
 * more than 60 us, then held), whatever path leads to it; the state is saved before the radio
 * starts, so a brown-out under the transmit current loses nothing, and the next boot tells the core
 * (wake_begin's cause), which then publishes less often and flags the readings LOW_SUPPLY; SNTP
 * has 3 s, and without a clock the wake does not try TLS (the core backs off as for any wake that
 * did not get through); and a one-shot timer armed at the start of the wake forces the sleep when
 * something (a DNS lookup, a TLS connect, a stop that waits on esp-mqtt's task) holds the wake past
 * its sample time + CONNECT_BUDGET_MS + a margin.
 */
#include "battery.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "driver/gpio.h"
#include "esp_attr.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "esp_sleep.h"
#include "esp_system.h"
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
#include "settings.h"
#include "wasm_host.h"

static const char *TAG = "battery";

/* RTC slow memory is 8 KB on the ESP32; the state takes at most this much of it. The state is
 * about 1.8 KB plus 24 bytes a queued reading (tests/state.test.ts): about 175 readings, 44 hours
 * of readings every 15 minutes, before it goes to flash. */
#define RTC_STATE_BYTES 6144
#define KEEP_MAGIC 0x31425357u /* "WSB1" */
#define NVS_NAMESPACE "wasm-scale"
#define STATE_PARTITION "state" /* partitions.csv */
#define NVS_STATE_KEY "state"
/* SNTP answers in well under a second when it answers; a wake does not wait longer for it. */
#define SNTP_WAIT_MS 3000
#define SNTP_EVERY_MS ((int64_t)CONFIG_SCALE_SNTP_EVERY_H * 3600 * 1000)
#define SERVE_TASK_STACK 4096
#define SERVE_TASK_PRIORITY 5
/* After a trap, when the core cannot say when to wake. */
#define FALLBACK_SLEEP_MS (15 * 60 * 1000)
/* The HX711 powers down when its clock stays high longer than 60 us (datasheet). */
#define HX711_POWER_DOWN_US 100
/* The wake's watchdog: sample time + connection budget + this, then the sleep is forced. */
#define WAKE_MARGIN_MS 5000
/* How long the end of a connection waits for the broker to close it (the DISCONNECTED event). */
#define DISCONNECT_WAIT_MS 2000
/* MQTT 5: the broker keeps the session (and the commands sent meanwhile) this many publishing
 * periods, at least a day; 3.1.1 brokers keep a persistent session until they are told otherwise. */
#define SESSION_PERIODS 16
#define SESSION_MIN_S (24 * 3600)
/* A scale that cannot weigh: a battery one sleeps this long and tries again; a mains one restarts after this. */
#define FAILURE_SLEEP_MS (60 * 60 * 1000)
#define FAILURE_RESTART_MS (60 * 1000)

typedef struct {
    uint32_t magic;
    uint32_t wakes;
    int64_t clock_us;        /* the core's clock when the sleep began (us: no ms lost to rounding a wake) */
    int64_t rtc_us;          /* gettimeofday then: the RTC keeps counting in deep sleep */
    int64_t sntp_ms;         /* the core's clock at the last SNTP synchronisation; -1: none since the cold boot */
    scale_wifi_ap_t ap;      /* the access point of the last connection (channel 0: none) */
    bool battery;            /* the last sleep was battery mode's (a failure before the core starts sleeps too) */
    bool state_in_flash;
    uint32_t state_len;
    uint8_t state[RTC_STATE_BYTES];
} keep_t;

static RTC_NOINIT_ATTR keep_t s_keep;
static int64_t s_clock_base_us;
/* The state is being written into s_keep: the watchdog waits for it rather than sleep on half. */
static volatile bool s_saving;
/* When the watchdog's sleep ends (battery_now_ms): the core's next slot after the watchdog's
 * deadline, asked when the wake begins (the timer's task must not call into Wasm); 0: not known. */
static int64_t s_watchdog_wake_ms;
static esp_timer_handle_t s_watchdog;
/* The clock pin is configured (after the GPIO set-up): a sleep drives it. Before, a configuration
 * that failed its check may name a pin wired to something else, and nothing is driven. */
static bool s_clk_ours;

static int64_t rtc_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

bool battery_clock_resume(void)
{
    int64_t clock_us = 0;
    const bool warm = s_keep.magic == KEEP_MAGIC;
    if (warm) {
        int64_t slept_us = rtc_now_us() - s_keep.rtc_us;
        clock_us = s_keep.clock_us + (slept_us > 0 ? slept_us : 0);
    } else {
        s_keep = (keep_t){.sntp_ms = -1};
    }
    s_clock_base_us = clock_us - esp_timer_get_time();
    return warm;
}

static int64_t now_us(void)
{
    return s_clock_base_us + esp_timer_get_time();
}

int64_t battery_now_ms(void)
{
    return now_us() / 1000;
}

void battery_release_pins(void)
{
    /* Held high over the sleep (the HX711 powered down); the GPIO set-up has configured it again. */
    gpio_hold_dis((gpio_num_t)CONFIG_SCALE_HX711_CLK_PIN);
    s_clk_ours = true;
}

bool battery_expected(void)
{
    return CONFIG_SCALE_WAKE_INTERVAL_S > 0 || (s_keep.magic == KEEP_MAGIC && s_keep.battery);
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

/* The state and the clock into s_keep, without sleeping: before the radio starts (a brown-out then
 * loses nothing) and before every sleep. */
static void stamp_clock(void)
{
    s_keep.clock_us = now_us();
    s_keep.rtc_us = rtc_now_us();
    s_keep.magic = KEEP_MAGIC;
}

static void keep_state(void)
{
    s_saving = true;
    if (wasm_host_ready()) save_state();
    stamp_clock();
    s_saving = false;
}

/* The HX711 powered down (clock high for longer than 60 us) and the pin held so through the sleep,
 * whatever level a trap or a failure left it at. */
static void hx711_down_and_hold(void)
{
    const gpio_num_t clk = (gpio_num_t)CONFIG_SCALE_HX711_CLK_PIN;
    gpio_hold_dis(clk);
    gpio_set_level(clk, 1);
    esp_rom_delay_us(HX711_POWER_DOWN_US);
    gpio_hold_en(clk);
#if !SOC_GPIO_SUPPORT_HOLD_SINGLE_IO_IN_DSLP
    gpio_deep_sleep_hold_en();
#endif
#if CONFIG_IDF_TARGET_ESP32
    /* GPIO 16 and 17 are powered from VDD_SDIO, which deep sleep switches off with the hold. */
    if (clk == GPIO_NUM_16 || clk == GPIO_NUM_17) esp_sleep_pd_config(ESP_PD_DOMAIN_VDDSDIO, ESP_PD_OPTION_ON);
#endif
}

/* Deep sleep for sleep_ms with what s_keep holds now. */
static void __attribute__((noreturn)) sleep_now(int64_t sleep_ms, bool battery)
{
    if (s_watchdog) esp_timer_stop(s_watchdog);
    stamp_clock();
    s_keep.wakes++;
    s_keep.battery = battery;
    if (s_clk_ours) hx711_down_and_hold();
    esp_sleep_enable_timer_wakeup((uint64_t)(sleep_ms > 0 ? sleep_ms : 1) * 1000u);
    ESP_LOGI(TAG, "sleeping %" PRId64 " ms", sleep_ms);
    esp_deep_sleep_start();
}

void battery_sleep(int64_t sleep_ms)
{
    keep_state();
    sleep_now(sleep_ms, true);
}

void battery_restart_keeping_state(void)
{
    keep_state();
    ESP_LOGW(TAG, "restarting with the state kept (%u bytes)", (unsigned)s_keep.state_len); /* a provisioning session shows warnings only */
    esp_restart();
}

void battery_rest(int64_t sleep_ms)
{
    /* The state kept over the last sleep stays as it was: the next wake starts again from it. */
    sleep_now(sleep_ms, battery_expected());
}

void battery_cannot_weigh(void)
{
    if (battery_expected()) {
        ESP_LOGE(TAG, "battery mode: sleeping %d min, then trying again", FAILURE_SLEEP_MS / 60000);
        battery_rest(FAILURE_SLEEP_MS);
    }
    ESP_LOGE(TAG, "restarting in %d s", FAILURE_RESTART_MS / 1000);
    vTaskDelay(pdMS_TO_TICKS(FAILURE_RESTART_MS));
    esp_restart();
}

/* The wake's watchdog (esp_timer's task): the wake is held past its budget by something that does
 * not return. Sleep with the state as last kept (before the radio), the grid kept. */
static void watchdog_fired(void *arg)
{
    (void)arg;
    if (s_saving) {
        esp_timer_start_once(s_watchdog, 100 * 1000);
        return;
    }
    const int64_t sleep_ms = s_watchdog_wake_ms > 0 ? s_watchdog_wake_ms - battery_now_ms() : FALLBACK_SLEEP_MS;
    ESP_LOGE(TAG, "the wake is over its budget (a DNS lookup, TLS connect or MQTT stop that does not end): sleeping now");
    sleep_now(sleep_ms, true);
}

static void watchdog_arm(int64_t ms)
{
    const esp_timer_create_args_t args = {.callback = watchdog_fired, .name = "wake-watchdog"};
    if (s_watchdog == NULL && esp_timer_create(&args, &s_watchdog) != ESP_OK) {
        ESP_LOGE(TAG, "no wake watchdog: a wake that hangs is ended by the task watchdog only");
        return;
    }
    esp_timer_stop(s_watchdog);
    esp_timer_start_once(s_watchdog, (uint64_t)ms * 1000u);
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

/* Waits up to ms for the broker to close the connection, handing the core what arrives meanwhile. */
static void drain_until_disconnected(publish_state_t *p, int64_t ms)
{
    const int64_t until = esp_timer_get_time() / 1000 + ms;
    do {
        app_handle_events(p);
        if (!app_connected()) return;
        vTaskDelay(pdMS_TO_TICKS(10));
    } while (esp_timer_get_time() / 1000 < until);
}

/* The publishing part of a wake: everything within CONNECT_BUDGET_MS, or given up (the readings
 * stay queued, and the core backs off: it is not told that the broker was reached). */
static void publish(void)
{
    const int64_t deadline = esp_timer_get_time() / 1000 + (int64_t)app_setting(SCALE_CFG_CONNECT_BUDGET_MS);
    const scale_wifi_ap_t *hint = s_keep.ap.channel ? &s_keep.ap : NULL;
    if (!settings()->wifi_ssid[0]) {
        /* Not provisioned: no radio at all. Provision over USB at a cold boot (not a wake). */
        ESP_LOGW(TAG, "no WiFi network is set: the readings wait");
        return;
    }
    if (scale_wifi_start_hinted(settings()->wifi_ssid, settings()->wifi_password, 1000, hint) != ESP_OK) {
        ESP_LOGE(TAG, "WiFi did not start");
        return;
    }
    if (!scale_wifi_wait((uint32_t)left_ms(deadline))) {
        /* The stored access point stays: an attempt that finds it gone scans (wifi.c). */
        ESP_LOGW(TAG, "no WiFi within the budget: the readings wait, publishing backs off");
        scale_wifi_stop();
        return;
    }
    if (!scale_wifi_ap(&s_keep.ap)) s_keep.ap.channel = 0;
    if (s_keep.sntp_ms < 0 || scale_clock_epoch() == 0 || battery_now_ms() - s_keep.sntp_ms >= SNTP_EVERY_MS) {
        int64_t wait = left_ms(deadline) < SNTP_WAIT_MS ? left_ms(deadline) : SNTP_WAIT_MS;
        if (scale_clock_sync(CONFIG_SCALE_NTP_SERVER, (uint32_t)wait) == ESP_OK) s_keep.sntp_ms = battery_now_ms();
        app_sync_time(true, battery_now_ms());
    }
    if (scale_clock_epoch() == 0) {
        /* TLS checks the broker's certificate dates: without a clock it would refuse, after
         * spending the whole budget on the radio. */
        ESP_LOGW(TAG, "no time from %s: not connecting (TLS needs the date); the readings wait, publishing backs off",
                 CONFIG_SCALE_NTP_SERVER);
        scale_wifi_stop();
        return;
    }
    scale_mqtt_config_t mqtt;
    app_mqtt_config(&mqtt);
    mqtt.persistent_session = true; /* commands sent while the scale slept wait at the broker */
    mqtt.will_topic = NULL;         /* it leaves cleanly every time; Home Assistant's expire_after tells when it is gone */
    const int64_t period_s = (int64_t)app_setting(SCALE_CFG_WAKE_INTERVAL_S) * (int64_t)app_setting(SCALE_CFG_PUBLISH_EVERY);
    mqtt.session_expiry_s = (uint32_t)(period_s * SESSION_PERIODS > SESSION_MIN_S ? period_s * SESSION_PERIODS : SESSION_MIN_S);
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
    /* The end of the connection: DISCONNECT, then what arrived before it (esp-mqtt has acknowledged
     * it) reaches the core, then the client stops, then once more whatever was left in the queue.
     * Results of those late commands go out at the next publishing wake, with the state. */
    if (app_connected()) {
        scale_mqtt_disconnect();
        drain_until_disconnected(&p, DISCONNECT_WAIT_MS);
    }
    scale_mqtt_stop();
    app_handle_events(&p);
    app_persist_dirty();
    scale_wifi_stop();
}

void battery_task(void *arg)
{
    (void)arg;
    const bool brownout = esp_reset_reason() == ESP_RST_BROWNOUT;
    if (brownout) {
        ESP_LOGW(TAG, "this boot follows a brown-out (the cells sagged under the radio's current): the reading is kept, publishing backs off");
    }
    /* The watchdog over the whole wake: sampling, connecting, the end of the connection. */
    const int64_t watchdog_ms = (int64_t)app_setting(SCALE_CFG_WAKE_SAMPLE_MS) + (int64_t)app_setting(SCALE_CFG_CONNECT_BUDGET_MS) +
                                DISCONNECT_WAIT_MS + WAKE_MARGIN_MS;
    watchdog_arm(watchdog_ms);
    app_sync_time(false, battery_now_ms()); /* the RTC kept the wall clock over the sleep, once SNTP had set it */
    int64_t now = battery_now_ms();
    int32_t step = wasm_host_call_i(SCALE_EXPORT_WAKE_BEGIN, 2, (int32_t)now, brownout ? SCALE_CAUSE_BROWNOUT : SCALE_CAUSE_TIMER);
    if (step == 0) {
        const int64_t deadline = now + watchdog_ms;
        const int32_t after = wasm_host_call_i(SCALE_EXPORT_WAKE_SLEEP_MS, 1, (int32_t)deadline, 0);
        if (after > 0) s_watchdog_wake_ms = deadline + after;
        for (;;) {
            const uint32_t yields = hx711_gpio_yields();
            now = battery_now_ms();
            app_after_sample(wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now, 0));
            step = wasm_host_call_i(SCALE_EXPORT_WAKE_STEP, 1, (int32_t)now, 0);
            if (step != SCALE_WAKE_SAMPLE) break;
            if (hx711_gpio_yields() == yields) vTaskDelay(1);
        }
    }
    if (!wasm_host_ready() || step < 0) {
        /* Not saved: the next wake starts again from the state this one was given. */
        ESP_LOGE(TAG, "the wake failed (%" PRId32 "): sleeping %d s", step, FALLBACK_SLEEP_MS / 1000);
        battery_rest(FALLBACK_SLEEP_MS);
    }
    if (step == SCALE_WAKE_PUBLISH) {
        /* Saved before the radio: a brown-out under its current, or the watchdog, loses nothing. */
        app_persist_dirty();
        keep_state();
        publish();
    }
    app_persist_dirty();
    int32_t sleep_ms = wasm_host_ready() ? wasm_host_call_i(SCALE_EXPORT_WAKE_SLEEP_MS, 1, (int32_t)battery_now_ms(), 0) : -1;
    if (sleep_ms < 0) {
        ESP_LOGE(TAG, "the core failed while publishing: sleeping %d s from the state kept before the radio", FALLBACK_SLEEP_MS / 1000);
        battery_rest(FALLBACK_SLEEP_MS);
    }
    if (sleep_ms == 0) ESP_LOGI(TAG, "battery mode is off (WAKE_INTERVAL_S 0): awake from the next boot on");
    battery_sleep(sleep_ms > 0 ? sleep_ms : 1);
}
