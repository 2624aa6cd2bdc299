/*
 * What the two ways of running share (app.h): main.c's awake loop and battery.c's wake both use
 * these, and neither calls the other through here: the core's set-up and persistence in NVS, the
 * clock, the broker's configuration rendered from the core's topics and will, the calibration
 * modules' hooks, and the network's events and frames.
 */
#include "app.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include "esp_check.h"
#include "esp_heap_caps.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "cal_module.h"
#include "fw_update.h"
#include "module_store.h"
#include "nvs.h"
#include "scale_portable.h"
#include "settings.h"
#include "status_led.h"
#include "wasm_host.h"

static const char *TAG = "wasm-scale";

#define CLK_PIN CONFIG_SCALE_HX711_CLK_PIN
#define RATE_SPS CONFIG_SCALE_HX711_RATE_SPS
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
/* Events from the network task: four message slots, three subscriptions, the frame's QUEUED and
 * PUBACK, the host's own answers' PUBACKs, connection changes, with room to spare. A full queue
 * makes esp-mqtt's task wait (mqtt_link.c), it never drops an acknowledged message. */
#define NET_EVENTS 32

#ifdef SCALE_MODULE_KEY
/* The public key calibration modules must be signed with (main/certs/module-signing.pub). */
extern const char module_key_start[] asm("_binary_module_signing_pub_start");
#endif

static int s_dout_pins[4];
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

void app_set_chips(const int *dout_pins, int count)
{
    s_dout_count = count < 4 ? count : 4;
    memcpy(s_dout_pins, dout_pins, (size_t)s_dout_count * sizeof s_dout_pins[0]);
}

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
    const char *device_id = settings()->device_id;
    size_t id_len = strlen(device_id);
    memcpy(io, device_id, id_len < cap ? id_len : cap);
    if (wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, (int32_t)id_len, 0) != 0) ESP_LOGE(TAG, "device id \"%s\" refused", device_id);
    if (s_connected) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0); /* after a re-instantiation */
    s_time_synced = false; /* told again on the next loop */
    module_host_relink(); /* a calibration module in use is linked to the new instance */
}

void app_sync_time(bool again, int64_t now_ms)
{
    if (s_time_synced && !again) return;
    uint32_t epoch = scale_clock_epoch();
    if (epoch == 0) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, (int32_t)(uint32_t)tv.tv_sec, (int32_t)now_ms - (int32_t)(tv.tv_usec / 1000));
    s_time_synced = true;
}

void app_mqtt_config(scale_mqtt_config_t *c)
{
    static char client_id[48];
    const settings_t *set = settings();
    snprintf(client_id, sizeof client_id, "wasm-scale-%s", set->device_id);
    scale_mqtt_config_t mqtt = {
        .uri = set->broker_uri,
        .client_id = client_id,
        .username = set->username,
        .password = set->password,
        .ca_pem = set->ca_pem,
        .cert_der = set->cert,
        .cert_der_len = set->cert_len,
        .key_der = set->key,
        .key_der_len = set->key_len,
        .mqtt5 = MQTT5,
        .subscriptions = {s_cmd_topic, s_ha_status_topic, s_module_topic[0] ? s_module_topic : NULL},
        .lost_topic = s_result_topic,
        .will_topic = s_will_topic,
        .will_payload = s_will_payload,
        .will_len = s_will_len,
        .will_qos = s_will_qos,
        .will_retain = s_will_retain,
    };
    *c = mqtt;
}

int app_subscription_count(void)
{
    return s_module_topic[0] ? 3 : 2;
}

bool app_wait_event(uint32_t timeout_ms)
{
    scale_mqtt_event_t ev;
    return s_net_events && xQueuePeek(s_net_events, &ev, pdMS_TO_TICKS(timeout_ms)) == pdTRUE;
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

/* The module manager (build/manager.wasm) and the core manager (build/core-manager.wasm), embedded
 * beside the core (build/release.wasm). */
extern const uint8_t manager_wasm_start[] asm("_binary_manager_wasm_start");
extern const uint8_t manager_wasm_end[] asm("_binary_manager_wasm_end");
extern const uint8_t core_manager_wasm_start[] asm("_binary_core_manager_wasm_start");
extern const uint8_t core_manager_wasm_end[] asm("_binary_core_manager_wasm_end");
extern const uint8_t own_core_start[] asm("_binary_release_wasm_start");
extern const uint8_t own_core_end[] asm("_binary_release_wasm_end");

void app_after_sample(int32_t status)
{
    if (module_host_sampled(status)) ESP_LOGW(TAG, "the core on trial trapped: rolled back, its state moved into the core before it");
}

static double module_now_ms(void)
{
    return (double)esp_timer_get_time() / 1000.0;
}

static size_t module_free_heap(void)
{
    return heap_caps_get_free_size(MALLOC_CAP_8BIT);
}

static void module_answer(const char *json)
{
    if (!scale_mqtt_notify(s_result_topic, json)) ESP_LOGW(TAG, "a module answer was dropped (the network is behind)");
}

/* Slots in the `modules` partition, the key the firmware was built with, the module topic. */
static void start_modules(void)
{
    static module_storage_t storage;
#ifdef SCALE_MODULE_KEY
    static const char *keys[] = {module_key_start};
    const size_t n_keys = 1;
#else
    static const char *keys[] = {NULL};
    const size_t n_keys = 0;
    ESP_LOGW(TAG, "no main/certs/module-signing.pub: calibration modules will be refused (wasm-scale module keygen)");
#endif
    if (module_store_init(&storage) != ESP_OK) return;
    char topic[sizeof s_module_topic - 2]; /* room for the "/#" after it, as the compiler can see */
    if (!core_topic(SCALE_TOPIC_MODULE, topic, sizeof topic)) return;
    snprintf(s_module_topic, sizeof s_module_topic, "%s/#", topic);
    const module_engine_t *engine = cal_module_wamr();
    if (engine == NULL) return;
    const module_core_host_t *core_host = cal_module_core_host(own_core_start, (size_t)(own_core_end - own_core_start));
    module_host_config_t c = {
        .engine = engine, .storage = &storage, .keys_pem = keys, .n_keys = n_keys, .chunk_bytes = SCALE_MQTT_MAX_PAYLOAD,
        .manager_wasm = manager_wasm_start, .manager_len = (size_t)(manager_wasm_end - manager_wasm_start),
        .core_manager_wasm = core_manager_wasm_start, .core_manager_len = (size_t)(core_manager_wasm_end - core_manager_wasm_start),
        .core_module = core_module, .answer = module_answer, .now_ms = module_now_ms,
        .free_heap = module_free_heap, .core = core_host,
        .firmware_version = fw_update_running_version, .firmware_fetch = fw_update_fetch,
    };
    const fw_update_config_t firmware = {.ca_pem = settings()->ca_pem, .answer = module_answer};
    fw_update_init(&firmware);
    /* The core to weigh with: the firmware's own (running now), or one installed over the air
     * and confirmed, swapped in before any state is given to it. */
    const uint8_t *wasm = NULL;
    size_t len = 0;
    module_host_core_boot(&c, &wasm, &len);
    if (wasm != NULL && wasm != core_host->own_wasm) {
        if (wasm_host_replace(wasm, len) == ESP_OK) {
            int slot = -1;
            const uint32_t v = module_host_core_version(&slot, NULL);
            ESP_LOGI(TAG, "core %u.%u.%u from slot %c", (unsigned)(v >> 16), (unsigned)(v >> 8) & 0xff, (unsigned)v & 0xff, 'a' + slot);
        } else {
            char why[128];
            snprintf(why, sizeof why, "%s", wasm_host_last_error());
            ESP_LOGE(TAG, "the core installed over the air does not start (%s): the firmware's own", why);
            if (wasm_host_replace(core_host->own_wasm, core_host->own_len) != ESP_OK) ESP_LOGE(TAG, "the firmware's own core does not start again");
            module_host_core_boot_refused(why);
        }
    }
    cal_module_link_calibration(true);
    module_host_start(&c);
    ESP_LOGI(TAG, "the module manager took %u bytes of heap while loaded", (unsigned)module_host_manager_bytes());
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

bool app_start(void)
{
    prepare_will();
    if (!core_topic(SCALE_TOPIC_CMD, s_cmd_topic, sizeof s_cmd_topic)) ESP_LOGE(TAG, "core gave no command topic");
    if (!core_topic(SCALE_TOPIC_HA_STATUS, s_ha_status_topic, sizeof s_ha_status_topic)) ESP_LOGE(TAG, "core gave no HA status topic");
    if (!core_topic(SCALE_TOPIC_RESULT, s_result_topic, sizeof s_result_topic)) ESP_LOGE(TAG, "core gave no result topic");
    start_modules();
    s_net_events = xQueueCreate(NET_EVENTS, sizeof(scale_mqtt_event_t));
    return s_net_events != NULL;
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
        } else if (ev.kind == SCALE_MQTT_EVT_QUEUED && p->orphan_submitted) {
            p->orphan_submitted = false; /* the trapped core's frame: its own events, not the new core's */
            if (ev.value > 0 && ev.value == p->early_ack) p->early_ack = -1;
            else p->orphan_id = ev.value;
        } else if (ev.kind == SCALE_MQTT_EVT_PUBLISHED && ev.value == p->orphan_id) {
            p->orphan_id = -1;
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
                module_host_message(m->topic + prefix, m->topic_len - prefix, whole ? m->payload : NULL, m->payload_len);
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

void app_publish_reset(publish_state_t *p)
{
    publish_state_t fresh = PUBLISH_STATE_INIT;
    fresh.orphan_submitted = p->submitted;
    fresh.orphan_id = p->in_flight;
    fresh.subscribed = p->subscribed;
    *p = fresh;
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
