/*
 * MQTT over TLS with lwIP's client: DNS, then a TLS connection that verifies the broker's chain
 * against the configured CA and sends SNI (lwIP does not: the host name is set on the mbedTLS
 * context right after the connection is created), then subscriptions. One publish in flight at a
 * time, in the core's order; a publish that gets no acknowledgement within PUBLISH_TIMEOUT_MS
 * drops the connection, and the core frames it again after reconnecting (QoS 1, at least once).
 */
#include <stdio.h>
#include <string.h>

#include "lwip/altcp_tls.h"
#include "lwip/apps/mqtt.h"
#include "lwip/apps/mqtt_priv.h"
#include "lwip/dns.h"
#include "mbedtls/ssl.h"
#include "net.h"
#include "pico/cyw43_arch.h"
#include "scale_portable.h"

#define RETRY_FIRST_MS 2000
#define RETRY_MAX_MS 60000
#define PUBLISH_TIMEOUT_MS 15000
#define KEEPALIVE_S 60
#define INBOX 4

static net_mqtt_config_t s_config;
static mqtt_client_t *s_client;
static struct altcp_tls_config *s_tls;
static ip_addr_t s_address;
static volatile bool s_resolved;
static volatile bool s_connecting;
static volatile bool s_connected;
static volatile bool s_edge_up;
static volatile bool s_edge_down;
static volatile int s_publish_result; /* 0 none/pending, 1 done, -1 failed */
static bool s_in_flight;
static uint32_t s_published_at;
static uint32_t s_retry_at;
static uint32_t s_backoff = RETRY_FIRST_MS;
static char s_topic[128];

/* Received messages, filled in lwIP's context, emptied by the main loop. */
static net_message_t s_inbox[INBOX];
static volatile unsigned s_in_head, s_in_count;
static uint8_t s_assembly_buf[sizeof s_inbox[0].payload];
static scale_assembler_t s_assembler;
static size_t s_offset;
static size_t s_total;
static char s_incoming_topic[128];
static volatile unsigned s_lost;
static char s_lost_topic[128];

bool net_mqtt_init(const net_mqtt_config_t *c)
{
    s_config = *c;
    scale_asm_init(&s_assembler, s_assembly_buf, sizeof s_assembly_buf);
    cyw43_arch_lwip_begin();
    s_tls = c->cert_pem && c->key_pem
        ? altcp_tls_create_config_client_2wayauth(c->ca_pem, c->ca_len, c->key_pem, c->key_len, NULL, 0, c->cert_pem, c->cert_len)
        : altcp_tls_create_config_client(c->ca_pem, c->ca_len);
    s_client = mqtt_client_new();
    cyw43_arch_lwip_end();
    return s_tls != NULL && s_client != NULL;
}

static void incoming_publish(void *arg, const char *topic, u32_t total)
{
    strncpy(s_incoming_topic, topic, sizeof s_incoming_topic - 1);
    s_incoming_topic[sizeof s_incoming_topic - 1] = '\0';
    s_offset = 0;
    s_total = total;
}

static void incoming_data(void *arg, const u8_t *data, u16_t len, u8_t flags)
{
    /* The same reassembly as the ESP32's: fragments in order, truncated beyond the buffer (the
     * core then answers TOO_LONG with the payload's full length). */
    const char *topic = s_offset == 0 ? s_incoming_topic : NULL;
    const scale_asm_result_t r = scale_asm_feed(&s_assembler, topic, topic ? strlen(topic) : 0, data, len, s_offset, s_total);
    s_offset += len;
    if (r != SCALE_ASM_COMPLETE) return;
    if (s_in_count == INBOX) {
        /* lwIP has acknowledged it already: the main loop answers it as lost. */
        s_lost++;
        memcpy(s_lost_topic, s_assembler.topic, sizeof s_lost_topic);
        net_log("wasm-scale: a message on %s found the inbox full: answered as lost", s_lost_topic);
        return;
    }
    net_message_t *m = &s_inbox[(s_in_head + s_in_count) % INBOX];
    memcpy(m->topic, s_assembler.topic, sizeof m->topic);
    m->topic_len = s_assembler.topic_len;
    m->payload_len = s_assembler.total;
    memcpy(m->payload, s_assembly_buf, scale_asm_stored(&s_assembler));
    s_in_count++;
}

bool net_mqtt_take_message(net_message_t *out)
{
    bool got = false;
    cyw43_arch_lwip_begin();
    if (s_in_count > 0) {
        *out = s_inbox[s_in_head];
        s_in_head = (s_in_head + 1) % INBOX;
        s_in_count--;
        got = true;
    }
    cyw43_arch_lwip_end();
    return got;
}

unsigned net_mqtt_take_lost(char *topic, size_t size)
{
    cyw43_arch_lwip_begin();
    const unsigned lost = s_lost;
    s_lost = 0;
    if (lost && size) {
        strncpy(topic, s_lost_topic, size - 1);
        topic[size - 1] = '\0';
    }
    cyw43_arch_lwip_end();
    return lost;
}

static void subscribed(void *arg, err_t err)
{
    if (err != ERR_OK) net_log("wasm-scale: subscribe refused (%d)", err);
}

static void connection(mqtt_client_t *client, void *arg, mqtt_connection_status_t status)
{
    s_connecting = false;
    if (status == MQTT_CONNECT_ACCEPTED) {
        net_log("wasm-scale: connected to %s", s_config.host);
        s_connected = true;
        s_edge_up = true;
        s_backoff = RETRY_FIRST_MS;
        for (size_t i = 0; i < sizeof s_config.subscriptions / sizeof s_config.subscriptions[0]; i++) {
            if (s_config.subscriptions[i]) mqtt_subscribe(client, s_config.subscriptions[i], 1, subscribed, NULL);
        }
        return;
    }
    net_log("wasm-scale: broker %s: %s (%d)", s_config.host,
           status == MQTT_CONNECT_REFUSED_USERNAME_PASS || status == MQTT_CONNECT_REFUSED_NOT_AUTHORIZED_ ? "credentials refused"
           : status == MQTT_CONNECT_TIMEOUT ? "no answer" : "disconnected or TLS refused", status);
    if (s_connected) s_edge_down = true;
    s_connected = false;
    s_in_flight = false;
    s_resolved = false; /* the broker's address is looked up again: it may have moved */
}

static void resolved(const char *name, const ip_addr_t *address, void *arg)
{
    if (address) {
        s_address = *address;
        s_resolved = true;
    } else {
        net_log("wasm-scale: cannot resolve %s", name);
    }
    s_connecting = false;
}

static void start_connect(void)
{
    const struct mqtt_connect_client_info_t info = {
        .client_id = s_config.client_id,
        .client_user = s_config.username && *s_config.username ? s_config.username : NULL,
        .client_pass = s_config.password && *s_config.password ? s_config.password : NULL,
        .keep_alive = KEEPALIVE_S,
        .will_topic = s_config.will_topic,
        .will_msg = s_config.will_payload,
        .will_qos = 1,
        .will_retain = 1,
        .tls_config = s_tls,
    };
    mqtt_set_inpub_callback(s_client, incoming_publish, incoming_data, NULL);
    if (mqtt_client_connect(s_client, &s_address, s_config.port, connection, NULL, &info) != ERR_OK) {
        s_connecting = false;
        return;
    }
    /* SNI, and the name the certificate is checked against. */
    mbedtls_ssl_set_hostname(altcp_tls_context(s_client->conn), s_config.host);
}

void net_mqtt_poll(uint32_t now_ms, bool wifi_up)
{
    if (s_connected && s_in_flight && now_ms - s_published_at > PUBLISH_TIMEOUT_MS) {
        printf("wasm-scale: no acknowledgement in %d s; connecting again\n", PUBLISH_TIMEOUT_MS / 1000);
        cyw43_arch_lwip_begin();
        mqtt_disconnect(s_client);
        cyw43_arch_lwip_end();
        s_connected = false;
        s_edge_down = true;
        s_in_flight = false;
    }
    if (s_connected || s_connecting || !wifi_up || net_clock_epoch() == 0) return;
    if ((int32_t)(now_ms - s_retry_at) < 0) return;
    s_retry_at = now_ms + s_backoff;
    if (s_backoff < RETRY_MAX_MS) s_backoff *= 2;
    s_connecting = true;
    cyw43_arch_lwip_begin();
    if (!s_resolved) {
        const err_t err = dns_gethostbyname(s_config.host, &s_address, resolved, NULL);
        if (err == ERR_OK) s_resolved = true;
        else if (err != ERR_INPROGRESS) s_connecting = false;
    }
    if (s_resolved) start_connect();
    cyw43_arch_lwip_end();
}

bool net_mqtt_take_connected_edge(void)
{
    const bool e = s_edge_up;
    s_edge_up = false;
    return e;
}

bool net_mqtt_take_disconnected_edge(void)
{
    const bool e = s_edge_down;
    s_edge_down = false;
    return e;
}

static void published(void *arg, err_t err)
{
    s_publish_result = err == ERR_OK ? 1 : -1;
}

bool net_mqtt_can_publish(void)
{
    return s_connected && !s_in_flight;
}

bool net_mqtt_publish(const char *topic, size_t topic_len, const uint8_t *payload, size_t len, int qos, bool retain)
{
    if (!s_connected || s_in_flight || topic_len >= sizeof s_topic || len > 0xffff) return false;
    memcpy(s_topic, topic, topic_len);
    s_topic[topic_len] = '\0';
    s_publish_result = 0;
    cyw43_arch_lwip_begin();
    const err_t err = mqtt_publish(s_client, s_topic, payload, (u16_t)len, (u8_t)qos, retain ? 1 : 0, published, NULL);
    cyw43_arch_lwip_end();
    if (err != ERR_OK) return false;
    s_in_flight = true;
    s_published_at = to_ms_since_boot(get_absolute_time());
    return true;
}

int net_mqtt_take_publish_result(void)
{
    const int r = s_publish_result;
    if (r != 0) {
        s_publish_result = 0;
        s_in_flight = false;
    }
    return r;
}
