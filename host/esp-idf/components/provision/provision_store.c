/* The settings record in NVS: see provision_store.h. */
#include "provision_store.h"

#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "nvs.h"
#include "scale_provision.h"

static const char *TAG = "provision";
/* NVS: namespace and key are at most 15 characters; the namespace is the core's blobs'. */
#define NAMESPACE "wasm-scale"
#define KEY "provision"

/* The copy saved since boot (the boot's copy is in use and stays). */
static uint8_t *s_saved;

const uint8_t *provision_store_load(size_t *len)
{
    nvs_handle_t h;
    if (nvs_open(NAMESPACE, NVS_READONLY, &h) != ESP_OK) return NULL;
    size_t n = 0;
    uint8_t *copy = NULL;
    if (nvs_get_blob(h, KEY, NULL, &n) == ESP_OK && n > 0 && n <= PROV_RECORD_MAX && (copy = malloc(n)) != NULL &&
        nvs_get_blob(h, KEY, copy, &n) != ESP_OK) {
        free(copy);
        copy = NULL;
    }
    nvs_close(h);
    if (copy) *len = n;
    return copy;
}

const uint8_t *provision_store_save(const uint8_t *record, size_t len)
{
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        ESP_LOGE(TAG, "no memory for a copy of the settings (%u bytes)", (unsigned)len);
        return NULL;
    }
    memcpy(copy, record, len);
    nvs_handle_t h;
    esp_err_t err = nvs_open(NAMESPACE, NVS_READWRITE, &h);
    if (err == ESP_OK) {
        err = nvs_set_blob(h, KEY, record, len);
        if (err == ESP_OK) err = nvs_commit(h);
        nvs_close(h);
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "settings not saved: %s", esp_err_to_name(err));
        free(copy);
        return NULL;
    }
    free(s_saved);
    s_saved = copy;
    return copy;
}

bool provision_store_erase(void)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(NAMESPACE, NVS_READWRITE, &h);
    if (err == ESP_OK) {
        err = nvs_erase_key(h, KEY);
        if (err == ESP_ERR_NVS_NOT_FOUND) err = ESP_OK;
        if (err == ESP_OK) err = nvs_commit(h);
        nvs_close(h);
    }
    if (err != ESP_OK) ESP_LOGE(TAG, "settings not erased: %s", esp_err_to_name(err));
    return err == ESP_OK;
}
