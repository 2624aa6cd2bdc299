/* WiFi station with bounded retries and backoff (the pattern of ESP-IDF's station example). */
#include "scale_net.h"

#include <inttypes.h>
#include <string.h>
#include "esp_check.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "freertos/event_groups.h"

static const char *TAG = "wifi";
#define GOT_IP_BIT BIT0
#define FAILED_BIT BIT1

static EventGroupHandle_t s_events;
static int s_attempts;
static int s_max_attempts;

static void on_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
        esp_wifi_connect();
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        if (++s_attempts >= s_max_attempts) {
            xEventGroupSetBits(s_events, FAILED_BIT);
            return;
        }
        int shift = s_attempts < 5 ? s_attempts : 5;
        uint32_t backoff_ms = 1000u << shift;
        if (backoff_ms > 30000) backoff_ms = 30000;
        ESP_LOGW(TAG, "disconnected; attempt %d of %d in %" PRIu32 " ms", s_attempts + 1, s_max_attempts, backoff_ms);
        vTaskDelay(pdMS_TO_TICKS(backoff_ms));
        esp_wifi_connect();
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *got = data;
        ESP_LOGI(TAG, "got IP " IPSTR, IP2STR(&got->ip_info.ip));
        s_attempts = 0; /* later drops get the full retry budget again */
        xEventGroupSetBits(s_events, GOT_IP_BIT);
    }
}

esp_err_t scale_wifi_connect(const char *ssid, const char *password, int max_retries)
{
    if (ssid == NULL || strlen(ssid) == 0 || strlen(ssid) > 32 || password == NULL || strlen(password) > 64) {
        return ESP_ERR_INVALID_ARG;
    }
    s_events = xEventGroupCreate();
    s_max_attempts = max_retries;
    ESP_RETURN_ON_ERROR(esp_netif_init(), TAG, "netif");
    esp_err_t err = esp_event_loop_create_default();
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) return err; /* INVALID_STATE: it exists already */
    esp_netif_create_default_wifi_sta();
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_RETURN_ON_ERROR(esp_wifi_init(&init), TAG, "init");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event, NULL, NULL), TAG, "wifi events");
    ESP_RETURN_ON_ERROR(esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_event, NULL, NULL), TAG, "ip events");
    wifi_config_t config = {0};
    strlcpy((char *)config.sta.ssid, ssid, sizeof config.sta.ssid);
    strlcpy((char *)config.sta.password, password, sizeof config.sta.password);
    config.sta.threshold.authmode = strlen(password) ? WIFI_AUTH_WPA2_PSK : WIFI_AUTH_OPEN;
    ESP_RETURN_ON_ERROR(esp_wifi_set_mode(WIFI_MODE_STA), TAG, "mode");
    ESP_RETURN_ON_ERROR(esp_wifi_set_config(WIFI_IF_STA, &config), TAG, "config");
    ESP_RETURN_ON_ERROR(esp_wifi_start(), TAG, "start");
    EventBits_t bits = xEventGroupWaitBits(s_events, GOT_IP_BIT | FAILED_BIT, pdFALSE, pdFALSE, portMAX_DELAY);
    return (bits & GOT_IP_BIT) ? ESP_OK : ESP_ERR_TIMEOUT;
}
