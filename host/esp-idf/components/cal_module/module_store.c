/* Module slots in the `modules` partition, core slots in the `cores` partition (mapped into the
 * address space: a core runs from where it lies), and NVS (each module slot's parameters, and the
 * module manager's state blob, which NVS replaces whole): see module_store.h. */
#include "module_store.h"

#include <string.h>
#include "esp_log.h"
#include "esp_partition.h"
#include "nvs.h"

static const char *TAG = "module_store";
#define NAMESPACE "modules"
#define SECTOR 4096u

static const esp_partition_t *s_part, *s_cores;
static uint32_t s_slot_bytes;
/* Sectors of each slot erased since its transfer began: erased as chunks arrive, one sector
 * (about 45 ms of flash time) at a time, rather than the whole slot at once. */
static uint32_t s_erased[4];
/* The `cores` partition mapped into the data address space, once, for as long as the device runs. */
static const uint8_t *s_cores_mapped;
static esp_partition_mmap_handle_t s_cores_map;

/* The partition and the offset in it of a slot: 0 and 1 in `modules`, 2 and 3 in `cores`. */
static const esp_partition_t *where(int slot, uint32_t *base)
{
    if (slot < 0 || slot > 3) return NULL;
    *base = (uint32_t)(slot & 1) * s_slot_bytes;
    return slot < 2 ? s_part : s_cores;
}

static bool slot_erase(void *ctx, int slot)
{
    (void)ctx;
    uint32_t base;
    if (where(slot, &base) == NULL) return false;
    s_erased[slot] = 0;
    return true;
}

static bool slot_write(void *ctx, int slot, uint32_t offset, const void *data, size_t len)
{
    (void)ctx;
    uint32_t base;
    const esp_partition_t *part = where(slot, &base);
    if (part == NULL || offset + len > s_slot_bytes) return false;
    while (s_erased[slot] < offset + len) {
        if (esp_partition_erase_range(part, base + s_erased[slot], SECTOR) != ESP_OK) return false;
        s_erased[slot] += SECTOR;
    }
    return esp_partition_write(part, base + offset, data, len) == ESP_OK;
}

static bool slot_read(void *ctx, int slot, uint32_t offset, void *data, size_t len)
{
    (void)ctx;
    uint32_t base;
    const esp_partition_t *part = where(slot, &base);
    return part != NULL && offset + len <= s_slot_bytes && esp_partition_read(part, base + offset, data, len) == ESP_OK;
}

/* A core slot's bytes where they lie in flash (the data cache maps them; no heap copy). */
static const uint8_t *slot_map(void *ctx, int slot, uint32_t offset, size_t len)
{
    (void)ctx;
    if (slot < 2 || slot > 3 || s_cores == NULL || offset + len > s_slot_bytes) return NULL;
    if (s_cores_mapped == NULL) {
        const void *p = NULL;
        if (esp_partition_mmap(s_cores, 0, s_cores->size, ESP_PARTITION_MMAP_DATA, &p, &s_cores_map) != ESP_OK) return NULL;
        s_cores_mapped = p;
    }
    return s_cores_mapped + (uint32_t)(slot & 1) * s_slot_bytes + offset;
}

static bool nvs_put(const char *key, const void *data, size_t len)
{
    nvs_handle_t h;
    if (nvs_open(NAMESPACE, NVS_READWRITE, &h) != ESP_OK) return false;
    esp_err_t err = nvs_set_blob(h, key, data, len);
    if (err == ESP_OK) err = nvs_commit(h);
    nvs_close(h);
    return err == ESP_OK;
}

static size_t nvs_get(const char *key, void *data, size_t cap)
{
    nvs_handle_t h;
    size_t len = cap;
    if (nvs_open(NAMESPACE, NVS_READONLY, &h) != ESP_OK) return 0;
    esp_err_t err = nvs_get_blob(h, key, data, &len);
    nvs_close(h);
    return err == ESP_OK ? len : 0;
}

static bool params_save(void *ctx, int slot, const uint8_t *blob, size_t len)
{
    (void)ctx;
    return nvs_put(slot ? "params1" : "params0", blob, len);
}

static size_t params_load(void *ctx, int slot, uint8_t *blob, size_t cap)
{
    (void)ctx;
    return nvs_get(slot ? "params1" : "params0", blob, cap);
}

static bool state_save(void *ctx, const uint8_t *blob, size_t len)
{
    (void)ctx;
    return nvs_put("state", blob, len);
}

static size_t state_load(void *ctx, uint8_t *blob, size_t cap)
{
    (void)ctx;
    return nvs_get("state", blob, cap);
}

esp_err_t module_store_init(module_storage_t *out)
{
    s_part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, (esp_partition_subtype_t)0x40, "modules");
    if (s_part == NULL) {
        ESP_LOGE(TAG, "no `modules` partition (partitions.csv): calibration modules cannot be installed");
        return ESP_ERR_NOT_FOUND;
    }
    s_slot_bytes = (uint32_t)(s_part->size / 2) & ~(SECTOR - 1);
    s_cores = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, (esp_partition_subtype_t)0x41, "cores");
    if (s_cores == NULL) ESP_LOGW(TAG, "no `cores` partition (partitions.csv): cores sent over the air will be refused");
    else if (s_cores->size < 2 * s_slot_bytes) s_cores = NULL;
    *out = (module_storage_t){
        .ctx = NULL, .slot_bytes = s_slot_bytes, .map = slot_map, .erase = slot_erase, .write = slot_write, .read = slot_read,
        .save_params = params_save, .load_params = params_load, .save_state = state_save, .load_state = state_load,
    };
    return ESP_OK;
}
