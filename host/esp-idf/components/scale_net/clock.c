/* SNTP: the wall clock before TLS (certificate dates) and for the readings' timestamps. */
#include "scale_net.h"

#include <inttypes.h>
#include <time.h>
#include "esp_check.h"
#include "esp_log.h"
#include "esp_netif_sntp.h"

static const char *TAG = "clock";
/* Any time before this is an unset clock (the ESP32 starts at 1970). */
#define EPOCH_2024 1704067200

esp_err_t scale_clock_sync(const char *server, uint32_t wait_ms)
{
    esp_sntp_config_t config = ESP_NETIF_SNTP_DEFAULT_CONFIG(server);
    ESP_RETURN_ON_ERROR(esp_netif_sntp_init(&config), TAG, "sntp init");
    esp_err_t err = esp_netif_sntp_sync_wait(pdMS_TO_TICKS(wait_ms));
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "no time from %s within %" PRIu32 " ms: TLS may refuse the broker's certificate", server, wait_ms);
        return ESP_ERR_TIMEOUT;
    }
    ESP_LOGI(TAG, "clock set from %s: %" PRIu32, server, scale_clock_epoch());
    return ESP_OK;
}

uint32_t scale_clock_epoch(void)
{
    time_t now = time(NULL);
    return now >= EPOCH_2024 ? (uint32_t)now : 0;
}
