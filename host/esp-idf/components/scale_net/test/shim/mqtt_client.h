/* The part of esp-mqtt's API (components/mqtt/esp-mqtt/include/mqtt_client.h, ESP-IDF 5.x) that
 * mqtt_link.c uses, with the same names and fields; ../test_mqtt_link.c plays esp-mqtt's task. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "esp_err.h"

typedef const char *esp_event_base_t;
#define ESP_EVENT_ANY_ID -1
typedef void (*esp_event_handler_t)(void *arg, esp_event_base_t base, int32_t id, void *data);

typedef enum {
    MQTT_EVENT_ANY = -1,
    MQTT_EVENT_ERROR = 0,
    MQTT_EVENT_CONNECTED,
    MQTT_EVENT_DISCONNECTED,
    MQTT_EVENT_SUBSCRIBED,
    MQTT_EVENT_UNSUBSCRIBED,
    MQTT_EVENT_PUBLISHED,
    MQTT_EVENT_DATA,
    MQTT_EVENT_BEFORE_CONNECT,
    MQTT_EVENT_DELETED,
} esp_mqtt_event_id_t;

typedef enum { MQTT_ERROR_TYPE_NONE = 0, MQTT_ERROR_TYPE_TCP_TRANSPORT, MQTT_ERROR_TYPE_CONNECTION_REFUSED } esp_mqtt_error_type_t;
typedef struct {
    esp_err_t esp_tls_last_esp_err;
    int esp_tls_stack_err;
    int esp_tls_cert_verify_flags;
    esp_mqtt_error_type_t error_type;
    int connect_return_code;
    int esp_transport_sock_errno;
} esp_mqtt_error_codes_t;

typedef struct esp_mqtt_client *esp_mqtt_client_handle_t;
typedef struct {
    esp_mqtt_event_id_t event_id;
    esp_mqtt_client_handle_t client;
    char *data;
    int data_len;
    int total_data_len;
    int current_data_offset;
    char *topic;
    int topic_len;
    int msg_id;
    int session_present;
    esp_mqtt_error_codes_t *error_handle;
    bool retain;
    int qos;
    bool dup;
} esp_mqtt_event_t;
typedef esp_mqtt_event_t *esp_mqtt_event_handle_t;

typedef enum { MQTT_PROTOCOL_UNDEFINED = 0, MQTT_PROTOCOL_V_3_1, MQTT_PROTOCOL_V_3_1_1, MQTT_PROTOCOL_V_5 } esp_mqtt_protocol_ver_t;

typedef struct {
    struct {
        struct { const char *uri; } address;
        struct {
            const char *certificate;
            size_t certificate_len;
            esp_err_t (*crt_bundle_attach)(void *conf);
        } verification;
    } broker;
    struct {
        const char *username;
        const char *client_id;
        struct {
            const char *password;
            const char *certificate;
            size_t certificate_len;
            const char *key;
            size_t key_len;
        } authentication;
    } credentials;
    struct {
        struct {
            const char *topic;
            const char *msg;
            int msg_len;
            int qos;
            int retain;
        } last_will;
        bool disable_clean_session;
        int keepalive;
        esp_mqtt_protocol_ver_t protocol_ver;
    } session;
    struct {
        int reconnect_timeout_ms;
        int timeout_ms;
    } network;
    struct {
        int size;
    } buffer;
} esp_mqtt_client_config_t;

esp_mqtt_client_handle_t esp_mqtt_client_init(const esp_mqtt_client_config_t *config);
esp_err_t esp_mqtt_client_register_event(esp_mqtt_client_handle_t client, esp_mqtt_event_id_t event, esp_event_handler_t handler, void *arg);
esp_err_t esp_mqtt_client_start(esp_mqtt_client_handle_t client);
esp_err_t esp_mqtt_client_stop(esp_mqtt_client_handle_t client);
esp_err_t esp_mqtt_client_disconnect(esp_mqtt_client_handle_t client);
int esp_mqtt_client_subscribe(esp_mqtt_client_handle_t client, const char *topic, int qos);
int esp_mqtt_client_publish(esp_mqtt_client_handle_t client, const char *topic, const char *data, int len, int qos, int retain);
