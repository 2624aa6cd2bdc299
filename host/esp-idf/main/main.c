/*
 * wasm-scale firmware: an ESP32 reads HX711s through the Wasm core and publishes over MQTT/TLS.
 *
 * Boot order: NVS -> the clock resumed across deep sleep -> configuration check -> status LED ->
 * GPIO -> the Wasm core (its runtime and linear memory taken from the heap first, before WiFi and
 * TLS fragment it) -> settings and calibration from NVS -> the state kept over a deep sleep, if
 * any -> then, awake (WAKE_INTERVAL_S 0), two tasks, and app_main returns:
 *  - "core" (a POSIX thread, as WAMR requires) starts the core, samples, and is the only task that
 *    calls into Wasm; it never waits on the network;
 *  - "net" brings WiFi up (and back, for ever), sets the clock by SNTP before TLS (certificate
 *    dates), starts esp-mqtt, then passes the core's frames to esp-mqtt;
 * or, in battery mode, one wake (battery.c) that ends in deep sleep.
 */
#include <pthread.h>
#include <string.h>

#include "driver/gpio.h"
#include "esp_app_desc.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_pthread.h"
#include "esp_system.h"
#include "soc/uart_pins.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "cal_module.h"
#include "hx711_gpio.h"
#include "nvs_flash.h"
#include "provision_console.h"
#include "scale_net.h"
#include "scale_portable.h"
#include "status_led.h"
#include "wasm_host.h"
#include "app.h"
#include "fw_update.h"
#include "battery.h"
#include "button.h"
#include "settings.h"

static const char *TAG = "wasm-scale";

/* Settings from `idf.py menuconfig`, mapped to local names in one place. The network's (WiFi,
 * broker, credentials, device id, certificates) are the provisioned ones where set (settings.h). */
#define WIFI_BACKOFF_MAX_S CONFIG_SCALE_WIFI_BACKOFF_MAX_S
#define NTP_SERVER CONFIG_SCALE_NTP_SERVER
#define CLK_PIN CONFIG_SCALE_HX711_CLK_PIN
#define LED_PIN CONFIG_SCALE_LED_PIN
#define BUTTON_PIN CONFIG_SCALE_BUTTON_PIN
#define RATE_SPS CONFIG_SCALE_HX711_RATE_SPS
#define WASM_STACK_KB CONFIG_SCALE_WASM_STACK_KB
#define WASM_POOL_KB CONFIG_SCALE_WASM_POOL_KB
#define INSTRUCTION_LIMIT CONFIG_SCALE_WASM_INSTRUCTION_LIMIT
#define CORE_TASK_STACK CONFIG_SCALE_CORE_TASK_STACK

#define SNTP_WAIT_MS 15000
#define MEMORY_LOG_MS (10 * 60 * 1000)
/* The core's task: above esp-mqtt (5) so a read is not late, below lwIP (18) and WiFi (23). */
#define CORE_TASK_PRIORITY 6
#define NET_TASK_STACK 4096
#define NET_TASK_PRIORITY 5
/* How long a network given by Improv may take to give an address before it is refused. */
#define PROVISION_WIFI_WAIT_MS 30000
#define PROVISIONED_BIT BIT0

extern const uint8_t core_wasm_start[] asm("_binary_release_wasm_start");
extern const uint8_t core_wasm_end[] asm("_binary_release_wasm_end");

static const int s_dout_pins[] = {CONFIG_SCALE_HX711_DOUT_PIN, CONFIG_SCALE_HX711_DOUT_PIN_2,
                                  CONFIG_SCALE_HX711_DOUT_PIN_3, CONFIG_SCALE_HX711_DOUT_PIN_4};

/* A restart asked for over USB (provisioning): made by the core's thread, which keeps the state. */
static volatile bool s_restart_asked;

static void provision_restart(void)
{
    s_restart_asked = true;
}

/* Set once a WiFi network is known (built in, stored, or given by Improv). */
static EventGroupHandle_t s_provisioned;

/* A network from Improv (the provisioning task): joined now, and kept only if it gives an address;
 * otherwise the network in use before is used again. */
static bool provision_wifi_try(const char *ssid, const char *password)
{
    char old_ssid[33], old_password[65];
    strlcpy(old_ssid, settings()->wifi_ssid, sizeof old_ssid);
    strlcpy(old_password, settings()->wifi_password, sizeof old_password);
    if (scale_wifi_use(ssid, password, WIFI_BACKOFF_MAX_S * 1000u) == ESP_OK && scale_wifi_wait(PROVISION_WIFI_WAIT_MS)) {
        settings_use_wifi(ssid, password);
        xEventGroupSetBits(s_provisioned, PROVISIONED_BIT);
        ESP_LOGI(TAG, "WiFi \"%s\" joined over USB provisioning: kept", ssid);
        return true;
    }
    ESP_LOGW(TAG, "WiFi \"%s\" given over USB gave no address within %d s: not kept", ssid, PROVISION_WIFI_WAIT_MS / 1000);
    if (old_ssid[0]) scale_wifi_use(old_ssid, old_password, WIFI_BACKOFF_MAX_S * 1000u);
    else scale_wifi_stop();
    return false;
}

static bool provision_wifi_up(void)
{
    return settings()->wifi_ssid[0] && scale_wifi_wait(0);
}

static void net_task(void *arg)
{
    (void)arg;
    status_led_set(STATUS_STARTING);
    if ((xEventGroupGetBits(s_provisioned) & PROVISIONED_BIT) == 0) {
        ESP_LOGW(TAG, "no WiFi network is set: waiting for one over USB (wasm-scale provision, or an Improv client); sampling goes on");
        status_led_set(STATUS_UNPROVISIONED);
        xEventGroupWaitBits(s_provisioned, PROVISIONED_BIT, pdFALSE, pdFALSE, portMAX_DELAY);
    }
    esp_err_t err;
    while ((err = scale_wifi_use(settings()->wifi_ssid, settings()->wifi_password, WIFI_BACKOFF_MAX_S * 1000u)) != ESP_OK) {
        /* Only a lack of memory or a driver fault gets here: say so, and try again. */
        ESP_LOGE(TAG, "WiFi not started: %s; again in 10 s", esp_err_to_name(err));
        status_led_set(STATUS_WIFI_FAILED);
        vTaskDelay(pdMS_TO_TICKS(10000));
    }
    while (!scale_wifi_wait(60000)) {
        ESP_LOGW(TAG, "no IP address from \"%s\" yet; sampling continues offline, still trying", settings()->wifi_ssid);
        status_led_set(STATUS_WIFI_FAILED);
    }
    /* The clock before TLS: certificate validity is checked against it. */
    scale_clock_sync(NTP_SERVER, SNTP_WAIT_MS);
    scale_mqtt_config_t mqtt;
    app_mqtt_config(&mqtt);
    while ((err = scale_mqtt_start(&mqtt, app_net_events())) != ESP_OK) {
        ESP_LOGE(TAG, "MQTT client not started: %s; again in 10 s", esp_err_to_name(err));
        status_led_set(STATUS_BROKER_DOWN);
        vTaskDelay(pdMS_TO_TICKS(10000));
    }
    /* esp-mqtt reconnects by itself; from here this task only hands the core's frames to it. */
    scale_mqtt_serve();
}

/* Memory, logged at start and every 10 minutes: docs/esp32.md's memory table comes from these lines. */
static void log_memory(void)
{
    wasm_host_log_memory();
    ESP_LOGI(TAG, "heap free %u (least ever %u, largest block %u); core task stack unused %u bytes", (unsigned)esp_get_free_heap_size(),
             (unsigned)esp_get_minimum_free_heap_size(), (unsigned)heap_caps_get_largest_free_block(MALLOC_CAP_8BIT),
             (unsigned)uxTaskGetStackHighWaterMark(NULL));
}

/* A scale that cannot weigh never stays awake for ever (battery_cannot_weigh): it says so first. */
static void __attribute__((noreturn)) cannot_weigh(void)
{
    status_led_set(STATUS_FAULT);
    battery_cannot_weigh();
}

/* A new firmware image is kept (ESP-IDF's app rollback) once it has weighed and reached the broker:
 * one that cannot is rolled back to the previous image at its next reset, or after
 * IMAGE_TRIAL_MS awake without doing so (a battery scale's next wake is such a reset). */
#define IMAGE_TRIAL_MS (10 * 60 * 1000)
static bool s_image_kept;

static void keep_this_image(void)
{
    static bool kept;
    if (kept) return;
    kept = true;
    s_image_kept = true;
    esp_ota_img_states_t state;
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (running && esp_ota_get_state_partition(running, &state) == ESP_OK && state == ESP_OTA_IMG_PENDING_VERIFY) {
        esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
        if (err == ESP_OK) ESP_LOGI(TAG, "this firmware image weighed and reached the broker: kept");
        else ESP_LOGE(TAG, "this firmware image could not be marked valid: %s", esp_err_to_name(err));
    }
}

/* An image on trial that has not weighed and reached the broker in IMAGE_TRIAL_MS goes back now. */
static void image_trial(int64_t now_ms)
{
    static bool checked;
    if (checked || s_image_kept || now_ms < IMAGE_TRIAL_MS) return;
    checked = true;
    esp_ota_img_states_t state;
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (running && esp_ota_get_state_partition(running, &state) == ESP_OK && state == ESP_OTA_IMG_PENDING_VERIFY) {
        ESP_LOGE(TAG, "this firmware image did not weigh and reach the broker in %d minutes: back to the image before it", IMAGE_TRIAL_MS / 60000);
        esp_ota_mark_app_invalid_rollback_and_reboot();
    }
}

static void core_task(void *arg)
{
    (void)arg;
    publish_state_t publish = PUBLISH_STATE_INIT;
    int64_t next_memory_log_ms = battery_now_ms() + MEMORY_LOG_MS;
    for (;;) {
        if (s_restart_asked) battery_restart_keeping_state(); /* the queued readings survive it */
        const uint32_t yields = hx711_gpio_yields();
        const int64_t now_ms = battery_now_ms();
        if (!wasm_host_ready()) {
            esp_err_t r = wasm_host_recover(now_ms);
            if (r == ESP_ERR_INVALID_STATE) {
                /* Five re-instantiations failed: a restart starts the chip, the heap and the core afresh. */
                ESP_LOGE(TAG, "the Wasm core cannot run after repeated re-instantiations");
                cannot_weigh();
            }
            if (r != ESP_OK) {
                status_led_set(STATUS_FAULT);
                vTaskDelay(pdMS_TO_TICKS(100));
                continue;
            }
            app_publish_reset(&publish);
        }
        app_sync_time(false, now_ms);
        /* Two host calls inside: wait_low (yields until DOUT is low) and clock_in. */
        int32_t status = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now_ms, 0);
        app_after_sample(status); /* a core on trial or a calibration module that failed is rolled back before the next */
        button_after_sample(now_ms);
        if (status < 0 && status != INT32_MIN) status_led_set(STATUS_FAULT);
        else if (status == 1) status_led_set(app_connected() ? STATUS_OK : settings()->wifi_ssid[0] ? STATUS_BROKER_DOWN : STATUS_UNPROVISIONED);
        if (status == 1 && app_connected()) keep_this_image();
        else image_trial(now_ms);
        int messages = app_handle_events(&publish);
        app_persist_dirty();
        /* While the chip converts the next sample, frames go to the network as fast as their
         * acknowledgements come back (one QoS 1 frame in flight at a time), for at most half a
         * conversion period: a backlog after an outage, or a recording beside every reading,
         * drains at the network's pace, not at one frame a sample (found on the ESP32-C3 in
         * QEMU: at 10 readings a second a recording never got out). */
        const float rate = app_setting(SCALE_CFG_RATE_SPS);
        const int64_t until_ms = battery_now_ms() + (rate >= 1 ? (int64_t)(500 / rate) : 50);
        while (app_publish_next(&publish, battery_now_ms()) && app_connected() && wasm_host_ready()) {
            const int64_t left_ms = until_ms - battery_now_ms();
            if (left_ms <= 0 || !app_wait_event((uint32_t)left_ms)) break;
            messages += app_handle_events(&publish);
            app_persist_dirty();
        }
        if (messages > 0 && app_setting(SCALE_CFG_WAKE_INTERVAL_S) > 0) {
            /* Battery mode was switched on (a command): the state is kept, and the next boot
             * is the first wake (the result of the command goes out with its reading). */
            ESP_LOGI(TAG, "battery mode: sleeping between readings from now on");
            battery_sleep(1);
        }
        if (now_ms >= next_memory_log_ms) {
            log_memory();
            next_memory_log_ms = now_ms + MEMORY_LOG_MS;
        }
        /* Every path yields: when the sample did not wait (DOUT stuck low, no chip, powered down,
         * a trap), give lower priorities a tick. */
        if (hx711_gpio_yields() == yields) vTaskDelay(1);
    }
}

/* The "core" thread: the Wasm core started (its runtime and linear memory taken from the heap
 * first, before the network and TLS fragment it), then a battery wake, or sampling for ever with
 * the network task beside it. */
static void *core_thread(void *arg)
{
    (void)arg;
    wasm_host_config_t host = {
        .wasm = core_wasm_start,
        .wasm_len = (size_t)(core_wasm_end - core_wasm_start),
        .pool_bytes = WASM_POOL_KB * 1024,
        .stack_bytes = WASM_STACK_KB * 1024,
        .instruction_limit = INSTRUCTION_LIMIT,
        .on_instantiated = app_core_setup,
    };
    esp_err_t err = wasm_host_start(&host);
    if (err != ESP_OK) {
        /* No fast boot loop: the log says why, the LED shows a fault, then a sleep or a restart a minute later. */
        ESP_LOGE(TAG, "the Wasm core did not start: %s (pool %d KiB, heap free %u)", esp_err_to_name(err), WASM_POOL_KB,
                 (unsigned)esp_get_free_heap_size());
        cannot_weigh();
    }
    fw_update_set_restart(provision_restart); /* into a new firmware image, the state kept */
    const bool queue = app_start();
    const bool battery = app_setting(SCALE_CFG_WAKE_INTERVAL_S) > 0;
    battery_restore(battery);

    if (queue && battery) {
        status_led_set(STATUS_DARK);
        battery_task(NULL); /* ends in deep sleep */
    }
    if (!queue || xTaskCreate(net_task, "net", NET_TASK_STACK, NULL, NET_TASK_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "no memory for the tasks (heap free %u)", (unsigned)esp_get_free_heap_size());
        cannot_weigh();
    }
    ESP_LOGI(TAG, "heap free %u after the core (largest block %u)", (unsigned)esp_get_free_heap_size(),
             (unsigned)heap_caps_get_largest_free_block(MALLOC_CAP_8BIT));
    core_task(NULL);
    return NULL;
}

static bool start_core_thread(void)
{
    esp_pthread_cfg_t cfg = esp_pthread_get_default_config();
    cfg.stack_size = CORE_TASK_STACK;
    cfg.prio = CORE_TASK_PRIORITY;
    cfg.thread_name = "core";
    cfg.pin_to_core = portNUM_PROCESSORS > 1 ? 1 : tskNO_AFFINITY;
    cfg.inherit_cfg = false;
    if (esp_pthread_set_cfg(&cfg) != ESP_OK) return false;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setstacksize(&attr, CORE_TASK_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    const bool started = pthread_create(&thread, &attr, core_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
    return started;
}

static bool is_console_pin(int pin)
{
#if CONFIG_ESP_CONSOLE_UART_DEFAULT
    return pin == U0TXD_GPIO_NUM || pin == U0RXD_GPIO_NUM;
#else
    (void)pin;
    return false;
#endif
}

/* Pins the portable check cannot know: what this chip (ESP32, S2, S3, C3 ...) really has. */
static const char *pins_exist_on_this_chip(const scale_config_t *c)
{
    if (!GPIO_IS_VALID_OUTPUT_GPIO(c->clk_pin)) return "the HX711 clock pin is not an output GPIO of this chip";
    if (c->led_pin >= 0 && !GPIO_IS_VALID_OUTPUT_GPIO(c->led_pin)) return "the LED pin is not an output GPIO of this chip";
    for (int i = 0; i < c->dout_count; i++) {
        if (!GPIO_IS_VALID_GPIO(c->dout_pins[i])) return "an HX711 data pin is not a GPIO of this chip";
        if (is_console_pin(c->dout_pins[i])) return "an HX711 data pin is the console UART's (TX/RX)";
    }
    if (is_console_pin(c->clk_pin)) return "the HX711 clock pin is the console UART's (TX/RX)";
    if (c->led_pin >= 0 && is_console_pin(c->led_pin)) return "the LED pin is the console UART's (TX/RX)";
    if (c->button_pin >= 0 && !GPIO_IS_VALID_GPIO(c->button_pin)) return "the button pin is not a GPIO of this chip";
    if (c->button_pin >= 0 && is_console_pin(c->button_pin)) return "the button pin is the console UART's (TX/RX)";
    return NULL;
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_LOGW(TAG, "NVS reformatted: stored calibration is lost");
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    const bool waking = battery_clock_resume() && battery_expected();
    if (waking) {
        /* A battery wake after the first: the UART at 115200 baud costs milliseconds of awake time
         * per line, so only warnings and errors are printed. A cold boot prints everything. */
        esp_log_level_set("*", ESP_LOG_WARN);
    }
    if (esp_reset_reason() == ESP_RST_BROWNOUT) ESP_LOGW(TAG, "this boot follows a brown-out reset: the supply is too weak");
    const esp_partition_t *image = esp_ota_get_running_partition();
    ESP_LOGI(TAG, "firmware %s from %s", esp_app_get_description()->version, image ? image->label : "?");
    const settings_t *net = settings_load();
    s_provisioned = xEventGroupCreate();
    if (s_provisioned == NULL) {
        ESP_LOGE(TAG, "no memory at boot");
        cannot_weigh();
    }
    if (net->wifi_ssid[0]) xEventGroupSetBits(s_provisioned, PROVISIONED_BIT);

    /* Every pin is checked before any is configured, the LED's included. */
    scale_config_t config = {
        .broker_uri = net->broker_uri, .device_id = net->device_id, .wifi_ssid = net->wifi_ssid, .wifi_password = net->wifi_password,
        .clk_pin = CLK_PIN, .led_pin = LED_PIN, .button_pin = BUTTON_PIN, .rate_sps = RATE_SPS, .wasm_stack_kb = WASM_STACK_KB,
        .wasm_pool_kb = WASM_POOL_KB, .task_stack_bytes = CORE_TASK_STACK,
    };
    for (int i = 0; i < 4; i++) {
        if (s_dout_pins[i] >= 0) config.dout_pins[config.dout_count++] = s_dout_pins[i];
    }
    app_set_chips(config.dout_pins, config.dout_count);
    const char *problem = scale_config_check(&config);
    if (problem == NULL) problem = pins_exist_on_this_chip(&config);
    if (problem) {
        /* Nothing is driven: a wrong pin could be wired to something else. */
        ESP_LOGE(TAG, "configuration: %s (%s)", problem, strcmp(net->source, "stored") == 0 ? "the settings given over USB, or idf.py menuconfig -> wasm-scale" : "idf.py menuconfig -> wasm-scale");
        cannot_weigh();
    }
    const char *warning = scale_config_warning(&config);
    if (warning) ESP_LOGW(TAG, "configuration: %s", warning);
    status_led_start(LED_PIN);
    status_led_set(STATUS_STARTING);
    if (!waking) {
        /* Settings over the USB port: not on a battery wake, which is over before anyone could type. */
        size_t record_len = 0;
        const uint8_t *record = settings_record(&record_len);
        const provision_console_config_t console = {
            .stored = record, .stored_len = record_len, .default_device_id = CONFIG_SCALE_DEVICE_ID, .chip = CONFIG_IDF_TARGET,
            .version = esp_app_get_description()->version, .wifi_try = provision_wifi_try, .wifi_up = provision_wifi_up,
            .restart = provision_restart,
        };
        provision_console_start(&console);
    }
    hx711_gpio_config_t gpio = {.clk_pin = CLK_PIN, .dout_count = config.dout_count};
    memcpy(gpio.dout_pins, config.dout_pins, sizeof gpio.dout_pins);
    err = hx711_gpio_init(&gpio);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "GPIO setup failed: %s", esp_err_to_name(err));
        cannot_weigh();
    }
    err = button_start(BUTTON_PIN);
    if (err != ESP_OK) ESP_LOGE(TAG, "the button on GPIO %d could not be set up: %s", BUTTON_PIN, esp_err_to_name(err));
    battery_release_pins();
    /* WAMR on ESP-IDF runs only on POSIX threads: its os_self_thread() is pthread_self(), which
     * asserts on a task made by xTaskCreate (app_main's included). Everything that calls into Wasm
     * therefore runs on the "core" thread; app_main returns and its stack is freed. */
    if (!start_core_thread()) {
        ESP_LOGE(TAG, "no memory for the core's thread (heap free %u)", (unsigned)esp_get_free_heap_size());
        cannot_weigh();
    }
}
