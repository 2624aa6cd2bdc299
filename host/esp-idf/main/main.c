/*
 * wasm-scale firmware: an ESP32 reads HX711s through the Wasm core and publishes over MQTT/TLS.
 *
 * Boot order: NVS -> status LED -> GPIO -> the Wasm core (instantiated early, before WiFi and TLS
 * fragment the heap; linear memory needs 64 KiB in one piece) -> settings and calibration from NVS
 * -> the network task (WiFi, then SNTP, then TLS/MQTT: certificate dates need the clock) while
 * this task samples. Only this task calls into Wasm.
 */
#include <inttypes.h>
#include <string.h>
#include <sys/time.h>

#include "esp_check.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "hx711_gpio.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "scale_net.h"
#include "scale_portable.h"
#include "status_led.h"
#include "wasm_host.h"

static const char *TAG = "wasm-scale";

/* Settings from `idf.py menuconfig`, mapped to local names in one place. */
#define WIFI_SSID CONFIG_SCALE_WIFI_SSID
#define WIFI_PASSWORD CONFIG_SCALE_WIFI_PASSWORD
#define WIFI_RETRIES CONFIG_SCALE_WIFI_MAX_RETRIES
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

static const int s_dout_pins[] = {CONFIG_SCALE_HX711_DOUT_PIN, CONFIG_SCALE_HX711_DOUT_PIN_2,
                                  CONFIG_SCALE_HX711_DOUT_PIN_3, CONFIG_SCALE_HX711_DOUT_PIN_4};
static int s_dout_count;
static QueueHandle_t s_net_events;
static bool s_time_synced;
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

/* Saves the blobs the core changed (tare, zero, calibration, settings). */
static void persist_dirty(void)
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
static void on_instantiated(void)
{
    for (int i = 0; i < s_dout_count; i++) {
        int32_t r = wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, CLK_PIN, s_dout_pins[i]);
        if (r <= 0) ESP_LOGE(TAG, "core refused HX711 on clk %d / dout %d: %" PRId32, CLK_PIN, s_dout_pins[i], r);
    }
    nvs_handle_t h;
    if (nvs_open(NVS_NAMESPACE, NVS_READONLY, &h) == ESP_OK) {
        for (int which = SCALE_BLOB_CONFIG; which >= SCALE_BLOB_CALIBRATION; which--) {
            size_t cap;
            uint8_t *io = wasm_host_io(&cap);
            size_t len = cap;
            if (nvs_get_blob(h, BLOB_KEYS[which], io, &len) != ESP_OK) continue;
            int32_t r = wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, which, (int32_t)len);
            ESP_LOGI(TAG, "%s from NVS: %s", BLOB_KEYS[which], r == 0 ? "restored" : "refused (damaged or old), defaults kept");
        }
        nvs_close(h);
    }
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    size_t id_len = strlen(DEVICE_ID);
    memcpy(io, DEVICE_ID, id_len < cap ? id_len : cap);
    if (wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, (int32_t)id_len, 0) != 0) ESP_LOGE(TAG, "device id \"%s\" refused", DEVICE_ID);
    s_time_synced = false; /* told again below, on the next loop */
}

static void sync_time_if_known(void)
{
    if (s_time_synced) return;
    uint32_t epoch = scale_clock_epoch();
    if (epoch == 0) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int32_t now_ms = (int32_t)(esp_timer_get_time() / 1000);
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, (int32_t)(uint32_t)tv.tv_sec, now_ms - (int32_t)(tv.tv_usec / 1000));
    s_time_synced = true;
}

static void net_task(void *arg)
{
    (void)arg;
    if (scale_wifi_connect(WIFI_SSID, WIFI_PASSWORD, WIFI_RETRIES) != ESP_OK) {
        ESP_LOGE(TAG, "WiFi \"%s\" unreachable after %d attempts; sampling continues offline", WIFI_SSID, WIFI_RETRIES);
        status_led_set(STATUS_WIFI_FAILED);
        vTaskDelete(NULL);
        return;
    }
    /* The clock before TLS: certificate validity is checked against it. */
    scale_clock_sync(NTP_SERVER, SNTP_WAIT_MS);
    scale_mqtt_config_t mqtt = {
        .uri = BROKER_URI,
        .client_id = "wasm-scale-" DEVICE_ID,
        .username = BROKER_USERNAME,
        .password = BROKER_PASSWORD,
        .mqtt5 = MQTT5,
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
    esp_err_t err = scale_mqtt_start(&mqtt, s_net_events);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "MQTT client not started: %s", esp_err_to_name(err));
        status_led_set(STATUS_BROKER_DOWN);
    }
    vTaskDelete(NULL);
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

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_LOGW(TAG, "NVS reformatted: stored calibration is lost");
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    status_led_start(LED_PIN);

    scale_config_t config = {
        .broker_uri = BROKER_URI, .device_id = DEVICE_ID, .wifi_ssid = WIFI_SSID, .clk_pin = CLK_PIN,
        .led_pin = LED_PIN, .rate_sps = RATE_SPS, .wasm_stack_kb = WASM_STACK_KB, .wasm_pool_kb = WASM_POOL_KB,
    };
    for (int i = 0; i < 4; i++) {
        if (s_dout_pins[i] >= 0) config.dout_pins[config.dout_count++] = s_dout_pins[i];
    }
    s_dout_count = config.dout_count;
    const char *problem = scale_config_check(&config);
    if (problem) {
        ESP_LOGE(TAG, "configuration: %s (idf.py menuconfig -> wasm-scale)", problem);
        status_led_set(STATUS_FAULT);
        return;
    }
    hx711_gpio_config_t gpio = {.clk_pin = CLK_PIN, .dout_count = config.dout_count};
    memcpy(gpio.dout_pins, config.dout_pins, sizeof gpio.dout_pins);
    ESP_ERROR_CHECK(hx711_gpio_init(&gpio));

    wasm_host_config_t host = {
        .wasm = core_wasm_start,
        .wasm_len = (size_t)(core_wasm_end - core_wasm_start),
        .stack_bytes = WASM_STACK_KB * 1024,
        .instruction_limit = INSTRUCTION_LIMIT,
        .on_instantiated = on_instantiated,
    };
    ESP_ERROR_CHECK(wasm_host_start(&host));
    prepare_will();

    s_net_events = xQueueCreate(16, sizeof(scale_mqtt_event_t));
    ESP_ERROR_CHECK(s_net_events ? ESP_OK : ESP_ERR_NO_MEM);
    xTaskCreate(net_task, "net", 6144, NULL, 5, NULL);

    bool connected = false;
    int in_flight = -1;
    int64_t in_flight_since = 0;
    uint32_t samples = 0;
    for (;;) {
        const int64_t now_ms = esp_timer_get_time() / 1000;
        sync_time_if_known();
        /* Two host calls inside: wait_low (yields until DOUT is low) and clock_in. */
        int32_t status = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)now_ms, 0);
        if (status < 0 && status != INT32_MIN) status_led_set(STATUS_FAULT);
        else if (status == 1) status_led_set(connected ? STATUS_OK : STATUS_BROKER_DOWN);
        if (++samples % (RATE_SPS * 600) == 0) wasm_host_log_memory();

        scale_mqtt_event_t ev;
        while (xQueueReceive(s_net_events, &ev, 0) == pdTRUE) {
            if (ev.kind == SCALE_MQTT_EVT_CONNECTED) {
                connected = true;
                in_flight = -1;
                wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0);
                char topic[128];
                if (core_topic(SCALE_TOPIC_CMD, topic, sizeof topic)) scale_mqtt_subscribe(topic);
                if (core_topic(SCALE_TOPIC_HA_STATUS, topic, sizeof topic)) scale_mqtt_subscribe(topic);
            } else if (ev.kind == SCALE_MQTT_EVT_DISCONNECTED) {
                connected = false;
                in_flight = -1;
                wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0);
                status_led_set(STATUS_BROKER_DOWN);
            } else if (ev.kind == SCALE_MQTT_EVT_PUBLISHED) {
                if (ev.value == in_flight) {
                    wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0);
                    in_flight = -1;
                }
            } else if (ev.kind == SCALE_MQTT_EVT_MESSAGE) {
                const scale_mqtt_message_t *m = scale_mqtt_message(ev.value);
                size_t cap;
                uint8_t *io = wasm_host_io(&cap);
                if (m && m->topic_len < cap) {
                    size_t stored = m->payload_len < SCALE_MQTT_MAX_PAYLOAD ? m->payload_len : SCALE_MQTT_MAX_PAYLOAD;
                    size_t room = cap - m->topic_len;
                    memcpy(io, m->topic, m->topic_len);
                    memcpy(io + m->topic_len, m->payload, stored < room ? stored : room);
                    /* The full length: a payload that did not fit is refused as TOO_LONG by the core. */
                    wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)m->topic_len, (int32_t)m->payload_len);
                }
                scale_mqtt_message_done(ev.value);
                persist_dirty();
            }
        }
        persist_dirty();

        if (in_flight >= 0 && now_ms - in_flight_since > PUBLISH_TIMEOUT_MS) in_flight = -1; /* send it again */
        if (connected && in_flight < 0) {
            int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
            size_t cap;
            const uint8_t *io = wasm_host_io(&cap);
            scale_frame_t f;
            if (n > 0 && scale_unframe(io, (size_t)n, &f)) {
                int id = scale_mqtt_publish(f.topic, f.topic_len, f.payload, f.payload_len, f.qos, f.retain);
                if (id >= 0 && f.qos == 0) {
                    wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0);
                } else if (id >= 0) {
                    in_flight = id;
                    in_flight_since = now_ms;
                }
            }
        }
    }
}
