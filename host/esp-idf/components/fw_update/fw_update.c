/* The firmware image over the air: see fw_update.h. */
#include "fw_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "esp_app_desc.h"
#include "esp_crt_bundle.h"
#include "esp_http_client.h"
#include "esp_https_ota.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "module_crypto.h"

static const char *TAG = "fw_update";
#define FETCH_TASK_STACK 6144
#define FETCH_TASK_PRIORITY 3

static fw_update_config_t s_cfg;
static volatile bool s_busy;
static char *s_url;
static uint32_t s_size;
static uint8_t s_sha[32];
static const esp_partition_t *s_part;

void fw_update_init(const fw_update_config_t *config)
{
    void (*restart)(void) = s_cfg.restart;
    s_cfg = *config;
    if (s_cfg.restart == NULL) s_cfg.restart = restart;
}

void fw_update_set_restart(void (*restart)(void))
{
    s_cfg.restart = restart;
}

uint32_t fw_update_parse_version(const char *text)
{
    unsigned part[3] = {0, 0, 0};
    const char *p = text;
    if (p == NULL) return 0;
    if (*p == 'v') p++;
    for (int i = 0; i < 3; i++) {
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) part[i] = part[i] * 10 + (unsigned)(*p++ - '0'), digits++;
        if (digits == 0 || part[i] > 255 || (i < 2 && *p++ != '.')) return 0;
    }
    return part[0] << 16 | part[1] << 8 | part[2];
}

uint32_t fw_update_running_version(void)
{
    return fw_update_parse_version(esp_app_get_description()->version);
}

static void answer(bool accepted, const char *reason, const char *detail)
{
    char json[400];
    snprintf(json, sizeof json, "{\"cmd\":\"firmware\",\"step\":\"fetch\",\"status\":\"%s\"%s%s%s,\"detail\":\"%s\"}", accepted ? "accepted" : "rejected",
             reason ? ",\"reason\":\"" : "", reason ? reason : "", reason ? "\"" : "", detail);
    ESP_LOGI(TAG, "%s", json);
    if (s_cfg.answer) s_cfg.answer(json);
}

static bool partition_read(void *ctx, uint32_t offset, void *data, size_t len)
{
    return esp_partition_read((const esp_partition_t *)ctx, offset, data, len) == ESP_OK;
}

static void fetch_task(void *arg)
{
    (void)arg;
    char detail[200];
    esp_http_client_config_t http = {.url = s_url, .cert_pem = s_cfg.ca_pem, .timeout_ms = 15000, .keep_alive_enable = true};
    if (s_cfg.ca_pem == NULL) http.crt_bundle_attach = esp_crt_bundle_attach;
    esp_https_ota_config_t ota = {.http_config = &http};
    esp_https_ota_handle_t handle = NULL;
    esp_err_t err = esp_https_ota_begin(&ota, &handle);
    if (err == ESP_OK) {
        do {
            err = esp_https_ota_perform(handle); /* a piece at a time, until the whole image is written */
        } while (err == ESP_ERR_HTTPS_OTA_IN_PROGRESS);
    }
    const int got = handle ? esp_https_ota_get_image_len_read(handle) : 0;
    const char *reason = NULL;
    if (err != ESP_OK) {
        reason = err == ESP_ERR_NO_MEM ? "MEMORY" : "TRUNCATED";
        snprintf(detail, sizeof detail, "fetching %.120s failed: %s after %d bytes", s_url, esp_err_to_name(err), got);
    } else if ((uint32_t)got != s_size) {
        reason = "TRUNCATED";
        snprintf(detail, sizeof detail, "the image has %d bytes; the package says %u", got, (unsigned)s_size);
    } else {
        uint8_t sha[32];
        if (!module_sha256_read(partition_read, (void *)s_part, 0, s_size, sha) || memcmp(sha, s_sha, sizeof sha) != 0) {
            reason = "BAD_HASH";
            snprintf(detail, sizeof detail, "the image fetched does not have the SHA-256 the package was signed with");
        }
    }
    if (reason) {
        if (handle) esp_https_ota_abort(handle);
        answer(false, reason, detail);
    } else if ((err = esp_https_ota_finish(handle)) != ESP_OK) {
        snprintf(detail, sizeof detail, "ESP-IDF refused the image: %s", esp_err_to_name(err));
        answer(false, "BAD_PACKAGE", detail);
    } else {
        snprintf(detail, sizeof detail, "%u bytes into %s, SHA-256 checked: restarting into it; it is kept once it has weighed and reached the broker",
                 (unsigned)s_size, s_part->label);
        answer(true, NULL, detail);
        if (s_cfg.restart) s_cfg.restart();
    }
    free(s_url);
    s_url = NULL;
    s_busy = false;
    vTaskDelete(NULL);
}

int32_t fw_update_fetch(const char *url, uint32_t size, const uint8_t sha256[32])
{
    if (s_busy) return 1;
    s_part = esp_ota_get_next_update_partition(NULL);
    if (s_part == NULL) return 3;
    if (size > s_part->size) return 2;
    s_url = strdup(url);
    if (s_url == NULL) return 3;
    s_size = size;
    memcpy(s_sha, sha256, sizeof s_sha);
    s_busy = true;
    if (xTaskCreate(fetch_task, "fw_update", FETCH_TASK_STACK, NULL, FETCH_TASK_PRIORITY, NULL) != pdPASS) {
        free(s_url);
        s_url = NULL;
        s_busy = false;
        return 3;
    }
    ESP_LOGI(TAG, "fetching %u bytes from %s into %s", (unsigned)size, url, s_part->label);
    return 0;
}
