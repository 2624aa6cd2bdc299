/* Module slots in flash: see store_modules.h. */
#include "store_modules.h"

#include <string.h>

#include "store_settings.h"

static const store_flash_t *s_flash;
/* Bytes of each slot erased since its package began (a sector at a time, as chunks arrive). */
static uint32_t s_erased[4];
static uint8_t s_page[STORE_PAGE];

/* Flash offset of a slot: below the blobs, slot 1 then slot 0 going down; the core slots 3 then 2
 * below the settings' two copies. */
static uint32_t slot_base(int slot)
{
    const uint32_t modules = s_flash->size - STORE_BLOB_SECTORS * STORE_SECTOR - 2u * STORE_MODULE_SLOT_BYTES;
    if (slot < 2) return modules + (uint32_t)slot * STORE_MODULE_SLOT_BYTES;
    return modules - STORE_SETTINGS_BYTES - (uint32_t)(4 - slot) * STORE_MODULE_SLOT_BYTES;
}

static bool slot_ok(int slot)
{
    return slot >= 0 && slot <= 3;
}

static bool slot_erase(void *ctx, int slot)
{
    (void)ctx;
    if (!slot_ok(slot)) return false;
    s_erased[slot] = 0;
    return true;
}

static bool slot_write(void *ctx, int slot, uint32_t offset, const void *data, size_t len)
{
    (void)ctx;
    if (!slot_ok(slot) || (uint64_t)offset + len > STORE_MODULE_SLOT_BYTES) return false;
    const uint8_t *bytes = data;
    const uint32_t base = slot_base(slot);
    while (len > 0) {
        const uint32_t page = offset & ~(STORE_PAGE - 1), at = offset - page;
        const size_t n = len < STORE_PAGE - at ? len : STORE_PAGE - at;
        int32_t erase = -1;
        if (page >= s_erased[slot]) { /* the first write into a sector not erased for this package */
            erase = (int32_t)(base + (page & ~(STORE_SECTOR - 1)));
            s_erased[slot] = (page & ~(STORE_SECTOR - 1)) + STORE_SECTOR;
        }
        memset(s_page, 0xff, sizeof s_page);
        memcpy(s_page + at, bytes, n);
        if (!s_flash->write(base + page, s_page, STORE_PAGE, erase)) return false;
        offset += (uint32_t)n;
        bytes += n;
        len -= n;
    }
    return true;
}

static bool slot_read(void *ctx, int slot, uint32_t offset, void *data, size_t len)
{
    (void)ctx;
    if (!slot_ok(slot) || (uint64_t)offset + len > STORE_MODULE_SLOT_BYTES) return false;
    memcpy(data, s_flash->base + slot_base(slot) + offset, len);
    return true;
}

/* A core slot's bytes where they lie (XIP flash). */
static const uint8_t *slot_map(void *ctx, int slot, uint32_t offset, size_t len)
{
    (void)ctx;
    if (slot < 2 || slot > 3 || (uint64_t)offset + len > STORE_MODULE_SLOT_BYTES) return NULL;
    return s_flash->base + slot_base(slot) + offset;
}

static bool put(int which, const uint8_t *blob, size_t len)
{
    return store_set(which, blob, len);
}

static size_t get(int which, uint8_t *blob, size_t cap)
{
    size_t len = 0;
    const uint8_t *p = store_get(which, &len);
    if (p == NULL || len > cap) return 0;
    memcpy(blob, p, len);
    return len;
}

static bool params_save(void *ctx, int slot, const uint8_t *blob, size_t len)
{
    (void)ctx;
    return (slot == 0 || slot == 1) && put(STORE_MODULE_PARAMS_0 + slot, blob, len);
}

static size_t params_load(void *ctx, int slot, uint8_t *blob, size_t cap)
{
    (void)ctx;
    return slot == 0 || slot == 1 ? get(STORE_MODULE_PARAMS_0 + slot, blob, cap) : 0;
}

static bool state_save(void *ctx, const uint8_t *blob, size_t len)
{
    (void)ctx;
    return put(STORE_MODULE_STATE, blob, len);
}

static size_t state_load(void *ctx, uint8_t *blob, size_t cap)
{
    (void)ctx;
    return get(STORE_MODULE_STATE, blob, cap);
}

void store_modules_storage(module_storage_t *out)
{
    s_flash = store_flash();
    *out = (module_storage_t){
        .ctx = NULL, .slot_bytes = STORE_MODULE_SLOT_BYTES, .map = slot_map, .erase = slot_erase, .write = slot_write, .read = slot_read,
        .save_params = params_save, .load_params = params_load, .save_state = state_save, .load_state = state_load,
    };
}
