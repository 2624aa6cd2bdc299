/* WiFi station that never gives up: every disconnection schedules a reconnection on a one-shot
 * timer with capped exponential backoff (1 s, 2 s, 4 s ... up to the configured cap), so no event
 * handler ever sleeps and an outage of any length ends when the access point is back. */
#include "scale_net.h"

#include <inttypes.h>
#include <string.h>
#include "esp_check.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/event_groups.h"

static const char *TAG = "wifi";
#define GOT_IP_BIT BIT0
#define FIRST_BACKOFF_MS 1000u

static EventGroupHandle_t s_events;
static esp_timer_handle_t s_retry_timer;
static uint32_t s_backoff_max_ms;
static int s_failures; /* consecutive failed attempts; 0 once an address is assigned */
static wifi_config_t s_config; /* bssid_set: the attempts go to a stored access point, no scan */
static bool s_running; /* started, and not stopped since */

static void retry(void *arg)
{
    (void)arg;
    esp_err_t err = esp_wifi_connect();
    if (err != ESP_OK) ESP_LOGW(TAG, "reconnect: %s", esp_err_to_name(err));
}

static void on_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
        esp_wifi_connect();
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        xEventGroupClearBits(s_events, GOT_IP_BIT);
        const wifi_event_sta_disconnected_t *d = data;
        if (s_config.sta.bssid_set) {
            /* The stored access point is gone or moved: scan from the next attempt on. */
            s_config.sta.bssid_set = false;
            s_config.sta.channel = 0;
            esp_wifi_set_config(WIFI_IF_STA, &s_config);
            ESP_LOGW(TAG, "the stored access point did not answer; scanning");
        }
        uint32_t backoff_ms = FIRST_BACKOFF_MS << (s_failures < 16 ? s_failures : 16);
        if (backoff_ms > s_backoff_max_ms) backoff_ms = s_backoff_max_ms;
        s_failures++;
        ESP_LOGW(TAG, "disconnected (reason %d); attempt %d in %" PRIu32 " ms", d ? d->reason : -1, s_failures + 1, backoff_ms);
        esp_timer_stop(s_retry_timer); /* ESP_ERR_INVALID_STATE when not running: fine */
        esp_timer_start_once(s_retry_timer, (uint64_t)backoff_ms * 1000u);
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *got = data;
        ESP_LOGI(TAG, "got IP " IPSTR " after %d failed attempt(s)", IP2STR(&got->ip_info.ip), s_failures);
        s_failures = 0;
        xEventGroupSetBits(s_events, GOT_IP_BIT);
    }
}

esp_err_t scale_wifi_start(const char *ssid, const char *password, uint32_t backoff_max_ms)
{
    return scale_wifi_start_hinted(ssid, password, backoff_max_ms, NULL);
}

/* A station's configuration for a network; ESP_ERR_INVALID_ARG when the driver cannot take it. */
static esp_err_t station(const char *ssid, const char *password, wifi_config_t *config)
{
    size_t ssid_len = ssid ? strlen(ssid) : 0, password_len = password ? strlen(password) : 0;
    memset(config, 0, sizeof *config);
    /* The driver's fields are not NUL-terminated strings: a 32-byte SSID and a 64-digit PSK fit whole. */
    if (ssid_len == 0 || ssid_len > sizeof config->sta.ssid || password_len > sizeof config->sta.password) return ESP_ERR_INVALID_ARG;
    memcpy(config->sta.ssid, ssid, ssid_len);
    memcpy(config->sta.password, password, password_len);
    config->sta.threshold.authmode = password_len ? WIFI_AUTH_WPA2_PSK : WIFI_AUTH_OPEN;
    /* WPA3-SAE by either password element method: an access point that allows only hash-to-element
     * (WPA3-only and WiFi 6E ones) is refused with hunting-and-pecking alone, the driver's default. */
    config->sta.sae_pwe_h2e = WPA3_SAE_PWE_BOTH;
    return ESP_OK;
}

esp_err_t scale_wifi_use(const char *ssid, const char *password, uint32_t backoff_max_ms)
{
    if (s_events == NULL) return scale_wifi_start(ssid, password, backoff_max_ms);
    wifi_config_t config;
    ESP_RETURN_ON_ERROR(station(ssid, password, &config), TAG, "network");
    if (s_running && memcmp(config.sta.ssid, s_config.sta.ssid, sizeof config.sta.ssid) == 0 &&
        memcmp(config.sta.password, s_config.sta.password, sizeof config.sta.password) == 0) {
        return ESP_OK;
    }
    esp_timer_stop(s_retry_timer);
    s_config = config;
    s_failures = 0;
    xEventGroupClearBits(s_events, GOT_IP_BIT);
    ESP_RETURN_ON_ERROR(esp_wifi_set_config(WIFI_IF_STA, &s_config), TAG, "config");
    ESP_LOGI(TAG, "switching to \"%s\"", ssid);
    if (!s_running) {
        /* Stopped (a network that failed to join before): started again, which connects. */
        s_running = esp_wifi_start() == ESP_OK;
        return s_running ? ESP_OK : ESP_FAIL;
    }
    esp_wifi_disconnect();
    /* The next attempt, on the new network, whether or not a disconnection is reported. */
    return esp_timer_start_once(s_retry_timer, 100000);
}

esp_err_t scale_wifi_start_hinted(const char *ssid, const char *password, uint32_t backoff_max_ms, const scale_wifi_ap_t *hint)
{
    wifi_config_t config;
    ESP_RETURN_ON_ERROR(station(ssid, password, &config), TAG, "network");
    if (hint && hint->channel >= 1 && hint->channel <= 14) {
        config.sta.bssid_set = true;
        memcpy(config.sta.bssid, hint->bssid, sizeof config.sta.bssid);
        config.sta.channel = hint->channel;
        config.sta.scan_method = WIFI_FAST_SCAN;
    }
    s_config = config;
    s_backoff_max_ms = backoff_max_ms < FIRST_BACKOFF_MS ? FIRST_BACKOFF_MS : backoff_max_ms;
    s_events = xEventGroupCreate();
    if (s_events == NULL) return ESP_ERR_NO_MEM;
    const esp_timer_create_args_t timer = {.callback = retry, .name = "wifi-retry"};
    ESP_RETURN_ON_ERROR(esp_timer_create(&timer, &s_retry_timer), TAG, "retry timer");
    ESP_RETURN_ON_ERROR(esp_netif_init(), TAG, "netif");
    esp_err_t err = esp_event_loop_create_default();
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) return err; /* INVALID_STATE: it exists already */
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_RETURN_ON_ERROR(esp_wifi_init(&init), TAG, "init");
    /* The project keeps its own settings: the driver's copy in NVS would be rewritten on every start
     * (every battery wake), wearing the flash for nothing. */
    ESP_RETURN_ON_ERROR(esp_wifi_set_storage(WIFI_STORAGE_RAM), TAG, "storage");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event, NULL, NULL), TAG, "wifi events");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_event, NULL, NULL), TAG, "ip events");
    ESP_RETURN_ON_ERROR(esp_wifi_set_mode(WIFI_MODE_STA), TAG, "mode");
    ESP_RETURN_ON_ERROR(esp_wifi_set_config(WIFI_IF_STA, &config), TAG, "config");
    ESP_RETURN_ON_ERROR(esp_wifi_start(), TAG, "start");
    s_running = true;
    return ESP_OK;
}

bool scale_wifi_wait(uint32_t timeout_ms)
{
    EventBits_t bits = xEventGroupWaitBits(s_events, GOT_IP_BIT, pdFALSE, pdFALSE, pdMS_TO_TICKS(timeout_ms));
    return (bits & GOT_IP_BIT) != 0;
}

bool scale_wifi_ap(scale_wifi_ap_t *out)
{
    wifi_ap_record_t ap;
    if (esp_wifi_sta_get_ap_info(&ap) != ESP_OK) return false;
    memcpy(out->bssid, ap.bssid, sizeof out->bssid);
    out->channel = ap.primary;
    return true;
}

void scale_wifi_stop(void)
{
    esp_timer_stop(s_retry_timer);
    esp_wifi_stop();
    s_running = false;
}
