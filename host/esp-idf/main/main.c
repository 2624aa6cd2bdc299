/*
 * wasm-scale firmware: an ESP32 reads HX711s through the Wasm core and publishes over MQTT/TLS.
 *
 * Boot order: NVS -> the clock resumed across deep sleep -> configuration check -> status LED ->
 * GPIO -> the Wasm core (its runtime and linear memory taken from the heap first, before WiFi and
 * TLS fragment it) -> settings and calibration from NVS -> the state kept over a deep sleep, if
 * any -> then, awake (WAKE_INTERVAL_S 0), two tasks, and app_main returns:
 *  - "core" samples and is the only task that calls into Wasm; it never waits on the network;
 *  - "net" brings WiFi up (and back, for ever), sets the clock by SNTP before TLS (certificate
 *    dates), starts esp-mqtt, then passes the core's frames to esp-mqtt;
 * or, in battery mode, one wake (battery.c) that ends in deep sleep.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/time.h>

#include "driver/gpio.h"
#include "esp_check.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_system.h"
#include "soc/uart_pins.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "cal_module.h"
#include "hx711_gpio.h"
#include "module_store.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "scale_net.h"
#include "scale_portable.h"
#include "status_led.h"
#include "wasm_host.h"
#include "app.h"
#include "battery.h"

static const char *TAG = "wasm-scale";

/* Settings from `idf.py menuconfig`, mapped to local names in one place. */
#define WIFI_SSID CONFIG_SCALE_WIFI_SSID
#define WIFI_PASSWORD CONFIG_SCALE_WIFI_PASSWORD
#define WIFI_BACKOFF_MAX_S CONFIG_SCALE_WIFI_BACKOFF_MAX_S
#define BROKER_URI CONFIG_SCALE_BROKER_URI
#define BROKER_USERNAME CONFIG_SCALE_BROKER_USERNAME
#define BROKER_PASSWORD CONFIG_SCALE_BROKER_PASSWORD
#define DEVICE_ID CONFIG_SCALE_DEVICE_ID
#define NTP_SERVER CONFIG_SCALE_NTP_SERVER
#define CLK_PIN CONFIG_SCALE_HX711_CLK_PIN
#define LED_PIN CONFIG_SCALE_LED_PIN
#define RATE_SPS CONFIG_SCALE_HX711_RATE_SPS
#define WASM_STACK_KB CONFIG_SCALE_WASM_STACK_KB
#define WASM_POOL_KB CONFIG_SCALE_WASM_POOL_KB
#define INSTRUCTION_LIMIT CONFIG_SCALE_WASM_INSTRUCTION_LIMIT
#define CORE_TASK_STACK CONFIG_SCALE_CORE_TASK_STACK
#ifdef CONFIG_SCALE_MQTT5
#define MQTT5 true
#else
#define MQTT5 false
#endif

/* NVS: namespace and keys are at most 15 characters. */
#define NVS_NAMESPACE "wasm-scale"
static const char *const BLOB_KEYS[] = {[SCALE_BLOB_CALIBRATION] = "calibration", [SCALE_BLOB_CONFIG] = "config"};
/* A publish not acknowledged by then is sent again (esp-mqtt's outbox expires after 30 s). */
#define PUBLISH_TIMEOUT_MS 15000
#define SNTP_WAIT_MS 15000
#define MEMORY_LOG_MS (10 * 60 * 1000)
/* The core's task: above esp-mqtt (5) so a read is not late, below lwIP (18) and WiFi (23). */
#define CORE_TASK_PRIORITY 6
#define NET_TASK_STACK 4096
#define NET_TASK_PRIORITY 5
/* Events from the network task: four message slots, three subscriptions, the frame's QUEUED and
 * PUBACK, the host's own answers' PUBACKs, connection changes, with room to spare. A full queue
 * makes esp-mqtt's task wait (mqtt_link.c), it never drops an acknowledged message. */
#define NET_EVENTS 32

extern const uint8_t core_wasm_start[] asm("_binary_release_wasm_start");
extern const uint8_t core_wasm_end[] asm("_binary_release_wasm_end");
#ifdef CONFIG_SCALE_CUSTOM_CA
extern const char ca_pem_start[] asm("_binary_ca_pem_start");
#endif
#ifdef CONFIG_SCALE_DEVICE_CERT
extern const uint8_t device_der_start[] asm("_binary_device_der_start");
extern const uint8_t device_der_end[] asm("_binary_device_der_end");
extern const uint8_t device_key_der_start[] asm("_binary_device_key_der_start");
extern const uint8_t device_key_der_end[] asm("_binary_device_key_der_end");
#endif
#ifdef SCALE_MODULE_KEY
/* The public key calibration modules must be signed with (main/certs/module-signing.pub). */
extern const char module_key_start[] asm("_binary_module_signing_pub_start");
#endif

static const int s_dout_pins[] = {CONFIG_SCALE_HX711_DOUT_PIN, CONFIG_SCALE_HX711_DOUT_PIN_2,
                                  CONFIG_SCALE_HX711_DOUT_PIN_3, CONFIG_SCALE_HX711_DOUT_PIN_4};
static int s_dout_count;
static QueueHandle_t s_net_events;
static bool s_time_synced;
static bool s_connected;
static char s_cmd_topic[128];
static char s_ha_status_topic[128];
static char s_module_topic[128]; /* "<module topic>/#": calibration module transfers, for the host */
static char s_result_topic[128];
static char s_will_topic[128];
static uint8_t s_will_payload[32];
static size_t s_will_len;
static int s_will_qos;
static bool s_will_retain;

static esp_err_t nvs_blob_write(int which, const uint8_t *data, size_t len)
{
    nvs_handle_t h;
    ESP_RETURN_ON_ERROR(nvs_open(NVS_NAMESPACE, NVS_READWRITE, &h), TAG, "nvs open");
    esp_err_t err = nvs_set_blob(h, BLOB_KEYS[which], data, len);
    if (err == ESP_OK) err = nvs_commit(h);
    nvs_close(h);
    return err;
}

void app_persist_dirty(void)
{
    int32_t dirty = wasm_host_call_i(SCALE_EXPORT_STATE_DIRTY, 0, 0, 0);
    if (dirty == INT32_MIN || dirty == 0) return;
    for (int which = SCALE_BLOB_CALIBRATION; which <= SCALE_BLOB_CONFIG; which++) {
        if ((dirty & (1 << which)) == 0) continue;
        int32_t len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, which, 0);
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        if (len <= 0 || (size_t)len > cap) continue;
        esp_err_t err = nvs_blob_write(which, io, (size_t)len);
        if (err != ESP_OK) ESP_LOGE(TAG, "saving %s: %s", BLOB_KEYS[which], esp_err_to_name(err));
    }
}

/* After every (re)instantiation: chips, persisted state, device id, clock. */
void app_core_setup(void)
{
    for (int i = 0; i < s_dout_count; i++) {
        int32_t r = wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, CLK_PIN, s_dout_pins[i]);
        if (r <= 0) ESP_LOGE(TAG, "core refused HX711 on clk %d / dout %d: %" PRId32, CLK_PIN, s_dout_pins[i], r);
    }
    nvs_handle_t h;
    bool settings_stored = false;
    if (nvs_open(NVS_NAMESPACE, NVS_READONLY, &h) == ESP_OK) {
        for (int which = SCALE_BLOB_CONFIG; which >= SCALE_BLOB_CALIBRATION; which--) {
            size_t cap;
            uint8_t *io = wasm_host_io(&cap);
            size_t len = cap;
            if (nvs_get_blob(h, BLOB_KEYS[which], io, &len) != ESP_OK) continue;
            int32_t r = wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, which, (int32_t)len);
            ESP_LOGI(TAG, "%s from NVS: %s", BLOB_KEYS[which], r == 0 ? "restored" : "refused (damaged or old), defaults kept");
            if (which == SCALE_BLOB_CONFIG && r == 0) settings_stored = true;
        }
        nvs_close(h);
    }
    /* Battery mode from the first boot, when menuconfig asks for it and nothing is stored yet. */
    if (!settings_stored && CONFIG_SCALE_WAKE_INTERVAL_S > 0 &&
        wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_WAKE_INTERVAL_S, (float)CONFIG_SCALE_WAKE_INTERVAL_S) != 0) {
        ESP_LOGE(TAG, "core refused WAKE_INTERVAL_S %d", CONFIG_SCALE_WAKE_INTERVAL_S);
    }
    /* The RATE pin's setting, whatever a stored settings blob says: the core times reads by it.
     * Set only when it differs, so that a boot does not rewrite the settings in NVS. */
    uint32_t argv[1] = {SCALE_CFG_RATE_SPS};
    float rate = 0;
    if (wasm_host_call(SCALE_EXPORT_CONFIG_GET, 1, argv) == ESP_OK) memcpy(&rate, &argv[0], sizeof rate);
    if (rate != (float)RATE_SPS && wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_RATE_SPS, (float)RATE_SPS) != 0) {
        ESP_LOGE(TAG, "core refused rate %d", RATE_SPS);
    }
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    size_t id_len = strlen(DEVICE_ID);
    memcpy(io, DEVICE_ID, id_len < cap ? id_len : cap);
    if (wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, (int32_t)id_len, 0) != 0) ESP_LOGE(TAG, "device id \"%s\" refused", DEVICE_ID);
    if (s_connected) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0); /* after a re-instantiation */
    s_time_synced = false; /* told again on the next loop */
    cal_manager_relink(); /* a calibration module in use is linked to the new instance */
}

void app_sync_time(bool again)
{
    if (s_time_synced && !again) return;
    uint32_t epoch = scale_clock_epoch();
    if (epoch == 0) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int32_t now_ms = (int32_t)battery_now_ms();
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, (int32_t)(uint32_t)tv.tv_sec, now_ms - (int32_t)(tv.tv_usec / 1000));
    s_time_synced = true;
}

static void net_task(void *arg)
{
    (void)arg;
    status_led_set(STATUS_STARTING);
    esp_err_t err;
    while ((err = scale_wifi_start(WIFI_SSID, WIFI_PASSWORD, WIFI_BACKOFF_MAX_S * 1000u)) != ESP_OK) {
        /* Only a lack of memory or a driver fault gets here: say so, and try again. */
        ESP_LOGE(TAG, "WiFi not started: %s; again in 10 s", esp_err_to_name(err));
        status_led_set(STATUS_WIFI_FAILED);
        vTaskDelay(pdMS_TO_TICKS(10000));
    }
    while (!scale_wifi_wait(60000)) {
        ESP_LOGW(TAG, "no IP address from \"%s\" yet; sampling continues offline, still trying", WIFI_SSID);
        status_led_set(STATUS_WIFI_FAILED);
    }
    /* The clock before TLS: certificate validity is checked against it. */
    scale_clock_sync(NTP_SERVER, SNTP_WAIT_MS);
    scale_mqtt_config_t mqtt;
    app_mqtt_config(&mqtt);
    while ((err = scale_mqtt_start(&mqtt, s_net_events)) != ESP_OK) {
        ESP_LOGE(TAG, "MQTT client not started: %s; again in 10 s", esp_err_to_name(err));
        status_led_set(STATUS_BROKER_DOWN);
        vTaskDelay(pdMS_TO_TICKS(10000));
    }
    /* esp-mqtt reconnects by itself; from here this task only hands the core's frames to it. */
    scale_mqtt_serve();
}

void app_mqtt_config(scale_mqtt_config_t *c)
{
    scale_mqtt_config_t mqtt = {
        .uri = BROKER_URI,
        .client_id = "wasm-scale-" DEVICE_ID,
        .username = BROKER_USERNAME,
        .password = BROKER_PASSWORD,
        .mqtt5 = MQTT5,
        .subscriptions = {s_cmd_topic, s_ha_status_topic, s_module_topic[0] ? s_module_topic : NULL},
        .lost_topic = s_result_topic,
        .will_topic = s_will_topic,
        .will_payload = s_will_payload,
        .will_len = s_will_len,
        .will_qos = s_will_qos,
        .will_retain = s_will_retain,
    };
#ifdef CONFIG_SCALE_CUSTOM_CA
    mqtt.ca_pem = ca_pem_start;
#endif
#ifdef CONFIG_SCALE_DEVICE_CERT
    mqtt.cert_der = device_der_start;
    mqtt.cert_der_len = (size_t)(device_der_end - device_der_start);
    mqtt.key_der = device_key_der_start;
    mqtt.key_der_len = (size_t)(device_key_der_end - device_key_der_start);
#endif
    *c = mqtt;
}

int app_subscription_count(void)
{
    return s_module_topic[0] ? 3 : 2;
}

QueueHandle_t app_net_events(void)
{
    return s_net_events;
}

bool app_connected(void)
{
    return s_connected;
}

/* ---- calibration modules (components/cal_module) ---------------------------------------------- */

static bool core_topic(int which, char *buf, size_t size);

static int32_t core_module(bool on)
{
    return wasm_host_call_i(SCALE_EXPORT_CAL_MODULE, 1, on ? 1 : 0, 0);
}

float app_setting(int key)
{
    uint32_t argv[1] = {(uint32_t)key};
    float v = 0;
    if (wasm_host_call(SCALE_EXPORT_CONFIG_GET, 1, argv) == ESP_OK) memcpy(&v, &argv[0], sizeof v);
    return v;
}

static void core_range(double *capacity_kg, double *division_kg)
{
    *capacity_kg = app_setting(SCALE_CFG_CAPACITY_KG);
    *division_kg = app_setting(SCALE_CFG_DIVISION_KG);
}

static void module_answer(const char *json)
{
    if (!scale_mqtt_notify(s_result_topic, json)) ESP_LOGW(TAG, "a module answer was dropped (the network is behind)");
}

/* Slots in the `modules` partition, the key the firmware was built with, the module topic. */
static void start_modules(void)
{
    static cal_storage_t storage;
#ifdef SCALE_MODULE_KEY
    static const char *keys[] = {module_key_start};
    const size_t n_keys = 1;
#else
    static const char *keys[] = {NULL};
    const size_t n_keys = 0;
    ESP_LOGW(TAG, "no main/certs/module-signing.pub: calibration modules will be refused (wasm-scale module keygen)");
#endif
    if (module_store_init(&storage) != ESP_OK) return;
    char topic[128];
    if (!core_topic(SCALE_TOPIC_MODULE, topic, sizeof topic - 2)) return;
    snprintf(s_module_topic, sizeof s_module_topic, "%s/#", topic);
    cal_manager_config_t c = {
        .storage = &storage, .keys_pem = keys, .n_keys = n_keys, .chunk_bytes = SCALE_MQTT_MAX_PAYLOAD,
        .core_module = core_module, .core_range = core_range, .answer = module_answer,
    };
    cal_manager_start(&c);
}

/* Copies a topic rendered by the core (mqtt_topic) into buf. */
static bool core_topic(int which, char *buf, size_t size)
{
    int32_t n = wasm_host_call_i(SCALE_EXPORT_MQTT_TOPIC, 1, which, 0);
    size_t cap;
    const uint8_t *io = wasm_host_io(&cap);
    if (n <= 0 || (size_t)n >= size) return false;
    memcpy(buf, io, (size_t)n);
    buf[n] = '\0';
    return true;
}

static void prepare_will(void)
{
    int32_t n = wasm_host_call_i(SCALE_EXPORT_MQTT_WILL, 0, 0, 0);
    size_t cap;
    const uint8_t *io = wasm_host_io(&cap);
    scale_frame_t f;
    if (n <= 0 || !scale_unframe(io, (size_t)n, &f) || f.topic_len >= sizeof s_will_topic || f.payload_len > sizeof s_will_payload) {
        ESP_LOGE(TAG, "core gave no usable will");
        return;
    }
    memcpy(s_will_topic, f.topic, f.topic_len);
    s_will_topic[f.topic_len] = '\0';
    memcpy(s_will_payload, f.payload, f.payload_len);
    s_will_len = f.payload_len;
    s_will_qos = f.qos;
    s_will_retain = f.retain;
}

/* Memory, logged at start and every 10 minutes: docs/esp32.md's memory table comes from these lines. */
static void log_memory(void)
{
    wasm_host_log_memory();
    ESP_LOGI(TAG, "heap free %u (least ever %u, largest block %u); core task stack unused %u bytes", (unsigned)esp_get_free_heap_size(),
             (unsigned)esp_get_minimum_free_heap_size(), (unsigned)heap_caps_get_largest_free_block(MALLOC_CAP_8BIT),
             (unsigned)uxTaskGetStackHighWaterMark(NULL));
}

int app_handle_events(publish_state_t *p)
{
    int messages = 0;
    scale_mqtt_event_t ev;
    while (xQueueReceive(s_net_events, &ev, 0) == pdTRUE) {
        if (ev.kind == SCALE_MQTT_EVT_CONNECTED) {
            s_connected = true;
            p->in_flight = -1;
            p->subscribed = 0;
            wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0);
        } else if (ev.kind == SCALE_MQTT_EVT_DISCONNECTED) {
            s_connected = false;
            p->in_flight = -1;
            wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0);
            status_led_set(STATUS_BROKER_DOWN);
        } else if (ev.kind == SCALE_MQTT_EVT_SUBSCRIBED) {
            p->subscribed++;
        } else if (ev.kind == SCALE_MQTT_EVT_QUEUED) {
            p->submitted = false;
            if (ev.value == 0) {
                wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0); /* QoS 0: nothing to wait for */
            } else if (ev.value > 0 && ev.value == p->early_ack) {
                wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0);
            } else if (ev.value > 0) {
                p->in_flight = ev.value;
            } /* -1: not accepted; framed again on the next loop */
            p->early_ack = -1;
        } else if (ev.kind == SCALE_MQTT_EVT_PUBLISHED) {
            if (ev.value == p->in_flight) {
                wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0);
                p->in_flight = -1;
            } else if (p->submitted) {
                p->early_ack = ev.value;
            }
        } else if (ev.kind == SCALE_MQTT_EVT_MESSAGE) {
            const scale_mqtt_message_t *m = scale_mqtt_message(ev.value);
            size_t cap, prefix = strlen(s_module_topic) - 1; /* "<module topic>/" */
            uint8_t *io = wasm_host_io(&cap);
            if (m && prefix > 0 && m->topic_len > prefix && memcmp(m->topic, s_module_topic, prefix) == 0) {
                /* A calibration module transfer: the host's. A payload larger than the buffer is
                 * passed without its bytes and with its full length: refused as TOO_LARGE (a
                 * chunk) or BAD_PACKAGE (a begin), never read past the buffer. */
                bool whole = m->payload_len <= SCALE_MQTT_MAX_PAYLOAD;
                cal_manager_message(m->topic + prefix, m->topic_len - prefix, whole ? m->payload : NULL, m->payload_len);
            } else if (m && io && m->topic_len < cap) {
                size_t stored = m->payload_len < SCALE_MQTT_MAX_PAYLOAD ? m->payload_len : SCALE_MQTT_MAX_PAYLOAD;
                size_t room = cap - m->topic_len;
                memcpy(io, m->topic, m->topic_len);
                memcpy(io + m->topic_len, m->payload, stored < room ? stored : room);
                /* The full length: a payload that did not fit is refused as TOO_LONG by the core. */
                wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)m->topic_len, (int32_t)m->payload_len);
            }
            scale_mqtt_message_done(ev.value);
            app_persist_dirty(); /* before anything the command caused is published */
            messages++;
        }
    }
    return messages;
}

bool app_publish_next(publish_state_t *p, int64_t now_ms)
{
    if ((p->in_flight >= 0 || p->submitted) && now_ms - p->since_ms > PUBLISH_TIMEOUT_MS) {
        p->in_flight = -1; /* framed and sent again: the core keeps it until OUT_DONE */
        p->submitted = false;
    }
    if (!s_connected || p->in_flight >= 0 || p->submitted) return true;
    int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
    if (n == 0) return false;
    size_t cap;
    const uint8_t *io = wasm_host_io(&cap);
    scale_frame_t f;
    if (n > 0 && io && scale_unframe(io, (size_t)n, &f) && scale_mqtt_submit(f.topic, f.topic_len, f.payload, f.payload_len, f.qos, f.retain)) {
        p->submitted = true;
        p->early_ack = -1;
        p->since_ms = now_ms;
    }
    return true;
}

/* A scale that cannot weigh never stays awake for ever (battery_cannot_weigh): it says so first. */
static void __attribute__((noreturn)) cannot_weigh(void)
{
    status_led_set(STATUS_FAULT);
    battery_cannot_weigh();
}

static void core_task(void *arg)
{
    (void)arg;
    publish_state_t publish = PUBLISH_STATE_INIT;
    int64_t next_memory_log_ms = battery_now_ms() + MEMORY_LOG_MS;
    for (;;) {
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
            publish = (publish_state_t)PUBLISH_STATE_INIT;
        }
        app_sync_time(false);
        /* Two host calls inside: wait_low (yields until DOUT is low) and clock_in. */
        int32_t status = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now_ms, 0);
        cal_manager_after_sample(); /* a calibration module that failed is rolled back before the next */
        if (status < 0 && status != INT32_MIN) status_led_set(STATUS_FAULT);
        else if (status == 1) status_led_set(s_connected ? STATUS_OK : STATUS_BROKER_DOWN);
        const int messages = app_handle_events(&publish);
        app_persist_dirty();
        app_publish_next(&publish, now_ms);
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
    if (battery_clock_resume() && battery_expected()) {
        /* A battery wake after the first: the UART at 115200 baud costs milliseconds of awake time
         * per line, so only warnings and errors are printed. A cold boot prints everything. */
        esp_log_level_set("*", ESP_LOG_WARN);
    }
    if (esp_reset_reason() == ESP_RST_BROWNOUT) ESP_LOGW(TAG, "this boot follows a brown-out reset: the supply is too weak");

    /* Every pin is checked before any is configured, the LED's included. */
    scale_config_t config = {
        .broker_uri = BROKER_URI, .device_id = DEVICE_ID, .wifi_ssid = WIFI_SSID, .wifi_password = WIFI_PASSWORD,
        .clk_pin = CLK_PIN, .led_pin = LED_PIN, .rate_sps = RATE_SPS, .wasm_stack_kb = WASM_STACK_KB,
        .wasm_pool_kb = WASM_POOL_KB, .task_stack_bytes = CORE_TASK_STACK,
    };
    for (int i = 0; i < 4; i++) {
        if (s_dout_pins[i] >= 0) config.dout_pins[config.dout_count++] = s_dout_pins[i];
    }
    s_dout_count = config.dout_count;
    const char *problem = scale_config_check(&config);
    if (problem == NULL) problem = pins_exist_on_this_chip(&config);
    if (problem) {
        /* Nothing is driven: a wrong pin could be wired to something else. */
        ESP_LOGE(TAG, "configuration: %s (idf.py menuconfig -> wasm-scale)", problem);
        cannot_weigh();
    }
    const char *warning = scale_config_warning(&config);
    if (warning) ESP_LOGW(TAG, "configuration: %s", warning);
    status_led_start(LED_PIN);
    status_led_set(STATUS_STARTING);
    hx711_gpio_config_t gpio = {.clk_pin = CLK_PIN, .dout_count = config.dout_count};
    memcpy(gpio.dout_pins, config.dout_pins, sizeof gpio.dout_pins);
    err = hx711_gpio_init(&gpio);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "GPIO setup failed: %s", esp_err_to_name(err));
        cannot_weigh();
    }
    battery_release_pins();

    wasm_host_config_t host = {
        .wasm = core_wasm_start,
        .wasm_len = (size_t)(core_wasm_end - core_wasm_start),
        .pool_bytes = WASM_POOL_KB * 1024,
        .stack_bytes = WASM_STACK_KB * 1024,
        .instruction_limit = INSTRUCTION_LIMIT,
        .on_instantiated = app_core_setup,
    };
    err = wasm_host_start(&host);
    if (err != ESP_OK) {
        /* No fast boot loop: the log says why, the LED shows a fault, then a sleep or a restart a minute later. */
        ESP_LOGE(TAG, "the Wasm core did not start: %s (pool %d KiB, heap free %u)", esp_err_to_name(err), WASM_POOL_KB,
                 (unsigned)esp_get_free_heap_size());
        cannot_weigh();
    }
    prepare_will();
    if (!core_topic(SCALE_TOPIC_CMD, s_cmd_topic, sizeof s_cmd_topic)) ESP_LOGE(TAG, "core gave no command topic");
    if (!core_topic(SCALE_TOPIC_HA_STATUS, s_ha_status_topic, sizeof s_ha_status_topic)) ESP_LOGE(TAG, "core gave no HA status topic");
    if (!core_topic(SCALE_TOPIC_RESULT, s_result_topic, sizeof s_result_topic)) ESP_LOGE(TAG, "core gave no result topic");
    start_modules();
    const bool battery = app_setting(SCALE_CFG_WAKE_INTERVAL_S) > 0;
    battery_restore(battery);

    s_net_events = xQueueCreate(NET_EVENTS, sizeof(scale_mqtt_event_t));
    if (s_net_events != NULL && battery) {
        status_led_set(STATUS_DARK);
        if (xTaskCreatePinnedToCore(battery_task, "core", CORE_TASK_STACK, NULL, CORE_TASK_PRIORITY, NULL,
                                    portNUM_PROCESSORS > 1 ? 1 : tskNO_AFFINITY) == pdPASS) {
            return;
        }
        ESP_LOGE(TAG, "no memory for the wake's task (heap free %u)", (unsigned)esp_get_free_heap_size());
        battery_rest(60000); /* try again in a minute rather than drain the battery awake */
    }
    TaskHandle_t core = NULL;
    if (s_net_events == NULL ||
        xTaskCreatePinnedToCore(core_task, "core", CORE_TASK_STACK, NULL, CORE_TASK_PRIORITY, &core, portNUM_PROCESSORS > 1 ? 1 : tskNO_AFFINITY) != pdPASS ||
        xTaskCreate(net_task, "net", NET_TASK_STACK, NULL, NET_TASK_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "no memory for the tasks (heap free %u)", (unsigned)esp_get_free_heap_size());
        if (core) vTaskDelete(core);
        cannot_weigh();
    }
    ESP_LOGI(TAG, "heap free %u after the core (largest block %u)", (unsigned)esp_get_free_heap_size(),
             (unsigned)heap_caps_get_largest_free_block(MALLOC_CAP_8BIT));
    /* app_main returns: its task and its 3.5 KiB stack are freed. */
}
