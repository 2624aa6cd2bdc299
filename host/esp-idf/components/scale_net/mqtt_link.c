/* esp-mqtt link: TLS with server verification (bundle or CA), SNI kept, optional device
 * certificate (DER), the core's will, fragments reassembled before the core sees a message. */
#include "scale_net.h"

#include <stdio.h>
#include <string.h>
#include "esp_crt_bundle.h"
#include "freertos/semphr.h"
#include "esp_log.h"
#include "esp_system.h"
#include "freertos/task.h"
#include "mqtt_client.h"
#include "scale_portable.h"

static const char *TAG = "mqtt";
#define SLOTS 4
/* esp-mqtt acknowledges a QoS 1 message when its handler returns: a message never finds the slots
 * or the event queue full and is dropped, it waits (in esp-mqtt's task, so the acknowledgement and
 * the next reads wait too) until the core's task has made room, which it does every pass. Only a
 * core that has stopped for this long loses one, and the log says so. */
#define ROOM_WAIT_MS 5000
#define ROOM_POLL_MS 10

static esp_mqtt_client_handle_t s_client;
static QueueHandle_t s_events;
static scale_mqtt_message_t s_slots[SLOTS];
static volatile bool s_slot_busy[SLOTS];
static int s_slot;
static scale_assembler_t s_asm;
static char s_will_topic[128];
static char s_subscriptions[3][128];
static char s_lost_topic[128];
/* The host's own messages (scale_mqtt_notify), waiting for the network task. */
#define NOTES 4
typedef struct {
    char topic[128];
    char text[384];
} note_t;
static QueueHandle_t s_notes;

/* The one frame between the core's task and the network task. */
static struct {
    char topic[128];
    uint8_t payload[SCALE_MQTT_MAX_PAYLOAD];
    size_t len;
    int qos;
    bool retain;
} s_out;
static volatile bool s_out_full;
static SemaphoreHandle_t s_out_ready;

/* The queue is made by the caller with room for every slot's message, the subscriptions and the
 * acknowledgements in flight (main.c: NET_EVENTS); a full one waits for the core's task. */
static bool post(scale_mqtt_event_kind_t kind, int value)
{
    scale_mqtt_event_t e = {.kind = kind, .value = value};
    if (xQueueSend(s_events, &e, pdMS_TO_TICKS(ROOM_WAIT_MS)) == pdTRUE) return true;
    ESP_LOGE(TAG, "the core's task took no event for %d ms: event %d lost", ROOM_WAIT_MS, (int)kind);
    return false;
}

static int free_slot(void)
{
    for (int i = 0; i < SLOTS; i++) {
        int k = (s_slot + i) % SLOTS;
        if (!s_slot_busy[k]) return k;
    }
    return -1;
}

static void on_data(esp_mqtt_event_handle_t e)
{
    if (e->current_data_offset == 0) {
        /* A new message: take a free slot for it, waiting for the core's task to free one. */
        int slot = free_slot();
        for (int waited = 0; slot < 0 && waited < ROOM_WAIT_MS; waited += ROOM_POLL_MS) {
            vTaskDelay(pdMS_TO_TICKS(ROOM_POLL_MS));
            slot = free_slot();
        }
        if (slot < 0) {
            ESP_LOGE(TAG, "the core's task freed no message slot for %d ms: a message on %.*s is lost", ROOM_WAIT_MS,
                     e->topic_len, e->topic ? e->topic : "");
            s_asm.active = false;
            /* esp-mqtt acknowledges it when this returns: the sender is told, by the network task. */
            if (s_lost_topic[0]) {
                char answer[256];
                snprintf(answer, sizeof answer, "{\"status\":\"lost\",\"reason\":\"BUSY\",\"topic\":\"%.*s\"}",
                         e->topic_len > 0 && e->topic_len < 160 ? e->topic_len : 0, e->topic ? e->topic : "");
                if (!scale_mqtt_notify(s_lost_topic, answer)) ESP_LOGE(TAG, "and its answer could not be queued");
            }
            return;
        }
        s_slot = slot;
        scale_asm_init(&s_asm, s_slots[s_slot].payload, sizeof s_slots[s_slot].payload);
    }
    scale_asm_result_t r = scale_asm_feed(&s_asm, e->topic, (size_t)(e->topic_len > 0 ? e->topic_len : 0), (const uint8_t *)e->data,
                                          (size_t)e->data_len, (size_t)e->current_data_offset, (size_t)e->total_data_len);
    if (r == SCALE_ASM_DROPPED) {
        ESP_LOGW(TAG, "fragment out of sequence dropped");
        return;
    }
    if (r != SCALE_ASM_COMPLETE) return;
    scale_mqtt_message_t *m = &s_slots[s_slot];
    memcpy(m->topic, s_asm.topic, s_asm.topic_len + 1);
    m->topic_len = s_asm.topic_len;
    m->payload_len = s_asm.received; /* the full length: the core refuses what did not fit */
    s_slot_busy[s_slot] = true;
    /* Not queued: its slot must not stay taken, or four such losses would deafen the scale. */
    if (!post(SCALE_MQTT_EVT_MESSAGE, s_slot)) s_slot_busy[s_slot] = false;
    s_slot = (s_slot + 1) % SLOTS;
}

static void on_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    (void)base;
    esp_mqtt_event_handle_t e = data;
    switch ((esp_mqtt_event_id_t)id) {
    case MQTT_EVENT_CONNECTED:
        /* The least free heap ever, after the TLS handshake's peak: docs/esp32.md's memory budget. */
        ESP_LOGI(TAG, "connected (session present: %d); heap free %u, least ever %u", e->session_present,
                 (unsigned)esp_get_free_heap_size(), (unsigned)esp_get_minimum_free_heap_size());
        /* In esp-mqtt's task, as its examples do: never in the core's task. */
        for (int i = 0; i < 3; i++) {
            if (s_subscriptions[i][0] && esp_mqtt_client_subscribe(s_client, s_subscriptions[i], 1) < 0) {
                ESP_LOGE(TAG, "subscribing to %s failed", s_subscriptions[i]);
            }
        }
        post(SCALE_MQTT_EVT_CONNECTED, 0);
        break;
    case MQTT_EVENT_DISCONNECTED:
        ESP_LOGW(TAG, "disconnected; readings are kept by the core and sent on reconnect");
        post(SCALE_MQTT_EVT_DISCONNECTED, 0);
        break;
    case MQTT_EVENT_SUBSCRIBED:
        post(SCALE_MQTT_EVT_SUBSCRIBED, e->msg_id);
        break;
    case MQTT_EVENT_PUBLISHED:
        post(SCALE_MQTT_EVT_PUBLISHED, e->msg_id);
        break;
    case MQTT_EVENT_DATA:
        on_data(e);
        break;
    case MQTT_EVENT_ERROR:
        if (e->error_handle == NULL) break;
        if (e->error_handle->error_type == MQTT_ERROR_TYPE_TCP_TRANSPORT) {
            ESP_LOGE(TAG, "TLS/TCP failure: esp-tls 0x%x, mbedTLS -0x%x, errno %d (check the clock, the CA and SNI)",
                     e->error_handle->esp_tls_last_esp_err, -e->error_handle->esp_tls_stack_err,
                     e->error_handle->esp_transport_sock_errno);
        } else if (e->error_handle->error_type == MQTT_ERROR_TYPE_CONNECTION_REFUSED) {
            ESP_LOGE(TAG, "broker refused the connection: code 0x%x (credentials or client id)", e->error_handle->connect_return_code);
        }
        break;
    default:
        break;
    }
}

esp_err_t scale_mqtt_start(const scale_mqtt_config_t *c, QueueHandle_t events)
{
    if (c == NULL || c->uri == NULL || strncmp(c->uri, "mqtts://", 8) != 0 || events == NULL) return ESP_ERR_INVALID_ARG;
    size_t will_len = c->will_topic ? strlen(c->will_topic) : 0;
    if (will_len >= sizeof s_will_topic) return ESP_ERR_INVALID_ARG;
    for (int i = 0; i < 3; i++) {
        const char *t = c->subscriptions[i];
        if (t && strlen(t) >= sizeof s_subscriptions[i]) return ESP_ERR_INVALID_ARG;
        strlcpy(s_subscriptions[i], t ? t : "", sizeof s_subscriptions[i]);
    }
    if (c->lost_topic && strlen(c->lost_topic) >= sizeof s_lost_topic) return ESP_ERR_INVALID_ARG;
    strlcpy(s_lost_topic, c->lost_topic ? c->lost_topic : "", sizeof s_lost_topic);
    if (s_out_ready == NULL) s_out_ready = xSemaphoreCreateBinary();
    if (s_notes == NULL) s_notes = xQueueCreate(NOTES, sizeof(note_t));
    if (s_out_ready == NULL || s_notes == NULL) return ESP_ERR_NO_MEM;
    s_events = events;
    memcpy(s_will_topic, c->will_topic ? c->will_topic : "", will_len + 1);
    esp_mqtt_client_config_t config = {
        .broker.address.uri = c->uri,
        /* The host name in the URI is both verified and sent as SNI (HiveMQ Cloud needs it):
         * skip_cert_common_name_check stays false. */
        .credentials.client_id = c->client_id,
        .session.keepalive = 60,
        .session.protocol_ver = c->mqtt5 ? MQTT_PROTOCOL_V_5 : MQTT_PROTOCOL_V_3_1_1,
        .session.disable_clean_session = c->persistent_session,
        .network.reconnect_timeout_ms = 5000,
        .network.timeout_ms = 10000,
        .buffer.size = 2048,
    };
    if (will_len > 0) { /* no will at all rather than one with an empty topic */
        config.session.last_will.topic = s_will_topic;
        config.session.last_will.msg = (const char *)c->will_payload;
        config.session.last_will.msg_len = (int)c->will_len;
        config.session.last_will.qos = c->will_qos;
        config.session.last_will.retain = c->will_retain;
    }
    if (c->ca_pem) {
        config.broker.verification.certificate = c->ca_pem; /* PEM, NUL-terminated: length 0 */
    } else {
        config.broker.verification.crt_bundle_attach = esp_crt_bundle_attach;
    }
    if (c->username && c->username[0]) {
        config.credentials.username = c->username;
        config.credentials.authentication.password = c->password;
    }
    if (c->cert_der) {
        /* DER (built in), or PEM with its NUL counted (provisioned): mbedTLS tells them apart. */
        config.credentials.authentication.certificate = (const char *)c->cert_der;
        config.credentials.authentication.certificate_len = c->cert_der_len;
        config.credentials.authentication.key = (const char *)c->key_der;
        config.credentials.authentication.key_len = c->key_der_len;
    }
    s_client = esp_mqtt_client_init(&config);
    if (s_client == NULL) return ESP_FAIL;
    esp_err_t err = ESP_OK;
#ifdef CONFIG_MQTT_PROTOCOL_5
    if (c->mqtt5 && c->persistent_session) {
        /* MQTT 5 ends a session at DISCONNECT unless it is given an expiry. */
        esp_mqtt5_connection_property_config_t props = {.session_expiry_interval = c->session_expiry_s};
        err = esp_mqtt5_client_set_connect_property(s_client, &props);
    }
#endif
    if (err == ESP_OK) err = esp_mqtt_client_register_event(s_client, ESP_EVENT_ANY_ID, on_event, NULL);
    if (err == ESP_OK) err = esp_mqtt_client_start(s_client);
    return err;
}

bool scale_mqtt_submit(const char *topic, size_t topic_len, const uint8_t *payload, size_t len, int qos, bool retain)
{
    if (s_out_ready == NULL || s_out_full || topic_len == 0 || topic_len >= sizeof s_out.topic || len > sizeof s_out.payload) return false;
    memcpy(s_out.topic, topic, topic_len);
    s_out.topic[topic_len] = '\0';
    memcpy(s_out.payload, payload, len);
    s_out.len = len;
    s_out.qos = qos;
    s_out.retain = retain;
    s_out_full = true;
    xSemaphoreGive(s_out_ready);
    return true;
}

bool scale_mqtt_notify(const char *topic, const char *text)
{
    note_t n;
    if (s_notes == NULL || strlen(topic) >= sizeof n.topic || strlen(text) >= sizeof n.text) return false;
    strlcpy(n.topic, topic, sizeof n.topic);
    strlcpy(n.text, text, sizeof n.text);
    if (xQueueSend(s_notes, &n, 0) != pdTRUE) return false;
    xSemaphoreGive(s_out_ready);
    return true;
}

void scale_mqtt_serve(void)
{
    note_t n;
    for (;;) {
        xSemaphoreTake(s_out_ready, portMAX_DELAY);
        while (xQueueReceive(s_notes, &n, 0) == pdTRUE) {
            if (esp_mqtt_client_publish(s_client, n.topic, n.text, 0, 1, 0) < 0) ESP_LOGW(TAG, "an answer on %s was not queued", n.topic);
        }
        if (!s_out_full) continue;
        /* Written now, from this task (esp_mqtt_client_enqueue would leave it in esp-mqtt's outbox
         * until its task next wakes, up to a second later: a backlog then drained at one message a
         * second, found on the ESP32-C3 in QEMU). QoS 1 stays in esp-mqtt's outbox until its PUBACK
         * and is sent again after a reconnect; while disconnected it is stored there and sent then. */
        int id = esp_mqtt_client_publish(s_client, s_out.topic, (const char *)s_out.payload, (int)s_out.len, s_out.qos,
                                         s_out.retain ? 1 : 0);
        s_out_full = false;
        post(SCALE_MQTT_EVT_QUEUED, id < 0 ? -1 : id);
    }
}

void scale_mqtt_disconnect(void)
{
    if (s_client) esp_mqtt_client_disconnect(s_client);
}

void scale_mqtt_stop(void)
{
    if (s_client == NULL) return;
    esp_mqtt_client_disconnect(s_client);
    esp_mqtt_client_stop(s_client);
}

const scale_mqtt_message_t *scale_mqtt_message(int slot)
{
    return (slot >= 0 && slot < SLOTS) ? &s_slots[slot] : NULL;
}

void scale_mqtt_message_done(int slot)
{
    if (slot >= 0 && slot < SLOTS) s_slot_busy[slot] = false;
}
