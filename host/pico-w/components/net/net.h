/*
 * wasm-scale network capability on the Pico W: WiFi (CYW43) reconnected for ever, the clock set
 * by SNTP before TLS, and lwIP's MQTT client over altcp_tls (mbedTLS) verifying the broker against
 * one CA with SNI set. It moves bytes only: what is published and what a message means are the
 * core's. lwIP runs in the CYW43's background interrupt; its callbacks never call the core, they
 * hand messages and acknowledgements to the main loop.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    NET_WIFI_DOWN = 0,  /* connecting to WiFi (it keeps trying) */
    NET_NO_TIME = 1,    /* WiFi up, waiting for SNTP */
    NET_BROKER_DOWN = 2, /* clock set, connecting to the broker */
    NET_UP = 3,         /* MQTT connected */
} net_state_t;

/* --- wifi.c (none.c in a build without a network) ------------------------------------------ */
/* Starts the CYW43 and joins the network; false when the chip did not come up (it is tried
 * again by net_wifi_poll, less often each time: a failed bring-up blocks for about 70 ms). */
bool net_wifi_start(const char *ssid, const char *password);
/* The chip started with no network to join (waiting for provisioning): its LED works. */
bool net_wifi_prepare(void);
/* The network to use from now on (provisioning): joined now, or switched to (nothing changes when it
 * is the one in use); an empty SSID: none, the link is left. The strings must outlive the link. */
void net_wifi_use(const char *ssid, const char *password);
/* Polls the link, reconnecting with a backoff (1 s doubling to 60 s) when it drops or fails. */
bool net_wifi_poll(uint32_t now_ms);
/* The on-board LED (the CYW43's on a Pico W: left alone while the chip is down). */
void net_led(bool on);

/* --- log.c ----------------------------------------------------------------------------------- */
/* A line from the network's callbacks, which run in interrupt context where printf must not: kept
 * (the last few) and printed by the main loop's net_log_flush. */
void net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void net_log_flush(void);

/* --- clock.c --------------------------------------------------------------------------------- */
void net_clock_start(const char *server);
/* Seconds since 1970 when SNTP has answered, else 0. */
uint32_t net_clock_epoch(void);

/* --- mqtt_link.c ----------------------------------------------------------------------------- */
typedef struct {
    const char *host;  /* DNS name: also the SNI and the name checked in the certificate */
    uint16_t port;
    const char *client_id;
    const char *username; /* NULL or "" for none */
    const char *password;
    const uint8_t *ca_pem; /* NUL-terminated PEM; its length includes the NUL */
    size_t ca_len;
    const uint8_t *cert_pem; /* optional client certificate and key */
    size_t cert_len;
    const uint8_t *key_pem;
    size_t key_len;
    const char *will_topic;
    const char *will_payload;
    const char *subscriptions[3];
} net_mqtt_config_t;

bool net_mqtt_init(const net_mqtt_config_t *config);
/* Connects when the clock is set and the link is down (bounded retries with a backoff). */
void net_mqtt_poll(uint32_t now_ms, bool wifi_up);
/* True once per new connection (the core is told, and sends online and discovery). */
bool net_mqtt_take_connected_edge(void);
bool net_mqtt_take_disconnected_edge(void);

/* True when a message may be published now: connected, and none in flight. */
bool net_mqtt_can_publish(void);
/* Publishes one message; false when one is still in flight or the link is down. */
bool net_mqtt_publish(const char *topic, size_t topic_len, const uint8_t *payload, size_t len, int qos, bool retain);
/* 1: the last publish was acknowledged (QoS 1) or sent (QoS 0); -1: it failed; 0: pending or none. */
int net_mqtt_take_publish_result(void);

/* A received message, whole: its topic, payload (at most cap bytes stored) and full length. */
typedef struct {
    char topic[128];
    size_t topic_len;
    uint8_t payload[1024];
    size_t payload_len;
} net_message_t;
/* Takes the oldest received message; false when none waits. */
bool net_mqtt_take_message(net_message_t *out);
/* Messages lwIP acknowledged that found the inbox full, since the last call (their topic in
 * `topic`): the main loop answers them as lost on the result topic. */
unsigned net_mqtt_take_lost(char *topic, size_t size);
