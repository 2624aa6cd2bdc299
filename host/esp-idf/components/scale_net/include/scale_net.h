/*
 * wasm-scale network capability: the link (a WiFi station, implemented by the scale_link component;
 * the QEMU variant's scale_link brings up the emulator's Ethernet behind the same calls), SNTP, and
 * an esp-mqtt link that moves the core's bytes. What is published and what a message means is
 * decided by the core.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the station and returns; it connects, and reconnects after every loss for ever, with
 * backoff doubling from 1 s up to backoff_max_ms. The SSID (1..32 bytes) and password (empty,
 * 8..63 characters or 64 hex digits) are taken whole. */
esp_err_t scale_wifi_start(const char *ssid, const char *password, uint32_t backoff_max_ms);

/* The network to use from now on (provisioning): the station is started on it, or switched to it
 * when it runs on another (nothing changes when it is the same). */
esp_err_t scale_wifi_use(const char *ssid, const char *password, uint32_t backoff_max_ms);

/* The access point of the last connection, kept across deep sleep for a fast reconnection. */
typedef struct {
    uint8_t bssid[6];
    uint8_t channel;
} scale_wifi_ap_t;

/* As scale_wifi_start, first trying the access point `hint` on its channel with no scan (NULL:
 * none); if that fails, the following attempts scan as usual. */
esp_err_t scale_wifi_start_hinted(const char *ssid, const char *password, uint32_t backoff_max_ms, const scale_wifi_ap_t *hint);

/* Waits up to timeout_ms for an IP address; true when the station has one. */
bool scale_wifi_wait(uint32_t timeout_ms);

/* The access point the station is connected to; false when not connected. */
bool scale_wifi_ap(scale_wifi_ap_t *out);

/* Stops the station (before deep sleep: the radio must be off). */
void scale_wifi_stop(void);

/* Starts SNTP and waits up to wait_ms for the first synchronisation. TLS certificate dates need
 * it, so this runs before the broker connection. Returns ESP_ERR_TIMEOUT if the clock is unset. */
esp_err_t scale_clock_sync(const char *server, uint32_t wait_ms);

/* Epoch seconds when the clock has been set, else 0. */
uint32_t scale_clock_epoch(void);

typedef struct {
    const char *uri;              /* mqtts://host:port */
    const char *client_id;
    const char *username;         /* NULL or "" for none */
    const char *password;
    const char *ca_pem;           /* NULL: the ESP-IDF certificate bundle */
    const uint8_t *cert_der;      /* NULL: no client certificate; DER, or PEM with its NUL counted in the length */
    size_t cert_der_len;
    const uint8_t *key_der;
    size_t key_der_len;
    bool mqtt5;
    /* Keep the MQTT session at the broker (clean session off): subscriptions and the QoS 1
     * messages sent while the device was away wait for it (battery mode). */
    bool persistent_session;
    /* MQTT 5 with a persistent session: how long the broker keeps it after a DISCONNECT (s). Without
     * it an MQTT 5 broker ends the session at DISCONNECT and drops what was sent meanwhile. */
    uint32_t session_expiry_s;
    /* Subscribed on every connection, QoS 1 (rendered by the core: mqtt_topic; NULL: none). */
    const char *subscriptions[3];
    /* Where a message is answered as lost when the core's task freed no slot for it for 5 s (after
     * esp-mqtt acknowledged it): the result topic. NULL: the loss is only logged. */
    const char *lost_topic;
    /* The will, framed by the core (mqtt_will): topic ("" or NULL: no will), payload, QoS, retain. */
    const char *will_topic;
    const uint8_t *will_payload;
    size_t will_len;
    int will_qos;
    bool will_retain;
} scale_mqtt_config_t;

/* A received message, reassembled from MQTT_EVENT_DATA fragments. */
typedef struct {
    char topic[128];
    size_t topic_len;
    size_t payload_len;       /* full length; the stored part is at most SCALE_MQTT_MAX_PAYLOAD */
    uint8_t payload[1024];
} scale_mqtt_message_t;
#define SCALE_MQTT_MAX_PAYLOAD 1024

typedef enum {
    SCALE_MQTT_EVT_CONNECTED,
    SCALE_MQTT_EVT_DISCONNECTED,
    SCALE_MQTT_EVT_PUBLISHED,     /* value: msg_id acknowledged (QoS 1 PUBACK) */
    SCALE_MQTT_EVT_QUEUED,        /* the submitted frame was handed to esp-mqtt; value: its msg_id (0 for QoS 0), or -1 */
    SCALE_MQTT_EVT_MESSAGE,       /* the message is in the slot given by value */
    SCALE_MQTT_EVT_SUBSCRIBED,    /* a subscription was acknowledged (SUBACK); value: msg_id */
} scale_mqtt_event_kind_t;

typedef struct {
    scale_mqtt_event_kind_t kind;
    int value;
} scale_mqtt_event_t;

/* Starts the client; events go to `events` (items: scale_mqtt_event_t, made by the caller), read
 * by the task that runs the core. Subscriptions are renewed on every connection. */
esp_err_t scale_mqtt_start(const scale_mqtt_config_t *config, QueueHandle_t events);

/*
 * Hands one frame to the network task, copied, without blocking: the core's task never waits on
 * the network. False if the previous frame has not been handed on yet, or the frame is too large.
 * The outcome arrives as SCALE_MQTT_EVT_QUEUED.
 */
bool scale_mqtt_submit(const char *topic, size_t topic_len, const uint8_t *payload, size_t len, int qos, bool retain);

/*
 * A message of the host's own (a calibration module step's answer, JSON text), QoS 1, not retained,
 * handed to the network task without blocking. Kept in a small queue; false (and dropped) when it
 * is full or too long. It reports no event: the core's outbox is not involved.
 */
bool scale_mqtt_notify(const char *topic, const char *text);

/* The network task's loop: passes submitted frames to esp-mqtt (which may block on its lock and a
 * TLS write) and reports each as SCALE_MQTT_EVT_QUEUED. Never returns. */
void scale_mqtt_serve(void);

/* Asks esp-mqtt for a clean DISCONNECT (no will) and returns; SCALE_MQTT_EVT_DISCONNECTED follows,
 * and no message arrives after it. */
void scale_mqtt_disconnect(void);

/* Disconnects cleanly (DISCONNECT, so no will) and stops the client; from any task but esp-mqtt's.
 * It waits for esp-mqtt's task, which may be in a TLS connect or a DNS lookup: battery mode's
 * watchdog bounds the wake around it. */
void scale_mqtt_stop(void);

/* The message in slot `slot`; call scale_mqtt_message_done(slot) once it has been handled. */
const scale_mqtt_message_t *scale_mqtt_message(int slot);
void scale_mqtt_message_done(int slot);

#ifdef __cplusplus
}
#endif
