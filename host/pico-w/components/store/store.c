/* Blobs in flash: a sector per blob at the end of flash, written with the other core locked out. */
#include "store.h"

#include <string.h>

#include "hardware/flash.h"
#include "pico/flash.h"
#include "scale_abi.h"

#define MAGIC 0x31425357u /* "WSB1" */
#define HEADER 8
#define MAX_BLOB (FLASH_SECTOR_SIZE - HEADER)
/* Longest a write may wait for the flash to be free (ms). */
#define WRITE_TIMEOUT_MS 500

static uint32_t sector_offset(int which)
{
    return PICO_FLASH_SIZE_BYTES - (uint32_t)(which == SCALE_BLOB_CALIBRATION ? 1 : 2) * FLASH_SECTOR_SIZE;
}

const uint8_t *store_get(int which, size_t *len)
{
    const uint8_t *p = (const uint8_t *)(XIP_BASE + sector_offset(which));
    uint32_t magic, n;
    memcpy(&magic, p, 4);
    memcpy(&n, p + 4, 4);
    if (magic != MAGIC || n == 0 || n > MAX_BLOB) return NULL;
    *len = n;
    return p + HEADER;
}

typedef struct {
    uint32_t offset;
    uint8_t page[FLASH_SECTOR_SIZE];
    size_t len;
} write_t;

static write_t s_write;

static void write_sector(void *arg)
{
    const write_t *w = arg;
    flash_range_erase(w->offset, FLASH_SECTOR_SIZE);
    flash_range_program(w->offset, w->page, (w->len + FLASH_PAGE_SIZE - 1) / FLASH_PAGE_SIZE * FLASH_PAGE_SIZE);
}

bool store_set(int which, const uint8_t *blob, size_t len)
{
    if (len == 0 || len > MAX_BLOB) return false;
    size_t old_len;
    const uint8_t *old = store_get(which, &old_len);
    if (old && old_len == len && memcmp(old, blob, len) == 0) return true; /* unchanged: no wear */
    memset(s_write.page, 0xff, sizeof s_write.page);
    const uint32_t magic = MAGIC, n = (uint32_t)len;
    memcpy(s_write.page, &magic, 4);
    memcpy(s_write.page + 4, &n, 4);
    memcpy(s_write.page + HEADER, blob, len);
    s_write.offset = sector_offset(which);
    s_write.len = HEADER + len;
    /* Interrupts off and the other core out of flash while it is erased and written. */
    return flash_safe_execute(write_sector, &s_write, WRITE_TIMEOUT_MS) == PICO_OK;
}
