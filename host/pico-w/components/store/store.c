/*
 * Blobs in flash, as a log of 512-byte records in two sectors per blob (see store.h). Portable: the
 * flash is reached through store_flash_t (store_pico.c on the board; a simulated NOR flash in
 * host/pico-w/test, which cuts the power mid-write).
 */
#include "store.h"

#include <string.h>

#include "scale_portable.h"

#include "scale_abi.h"

#define MAGIC 0x32425357u /* "WSB2" */
#define SLOT 512
#define HEADER 16
#define MAX_BLOB (SLOT - HEADER)
#define SLOTS_PER_SECTOR ((int)(STORE_SECTOR / SLOT))

static const store_flash_t *s_flash;

void store_init(const store_flash_t *flash)
{
    s_flash = flash;
}

const store_flash_t *store_flash(void)
{
    return s_flash;
}

typedef struct {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t crc;
} record_t;

/* Flash offset of sector s (0 or 1) of a blob's region: two sectors a blob from the end of flash,
 * calibration last, then the settings, then the module manager's state and each module slot's
 * parameters (store_modules.c). */
static uint32_t sector_offset(int which, int s)
{
    const uint32_t nth = which == SCALE_BLOB_CALIBRATION ? 1 : which == SCALE_BLOB_CONFIG ? 2 : (uint32_t)(which - STORE_MODULE_STATE) + 3;
    const uint32_t region = s_flash->size - nth * 2 * STORE_SECTOR;
    return region + (uint32_t)s * STORE_SECTOR;
}

static const uint8_t *flash_at(uint32_t offset)
{
    return s_flash->base + offset;
}

static bool valid(const uint8_t *slot, record_t *r)
{
    memcpy(r, slot, sizeof *r);
    return r->magic == MAGIC && r->len > 0 && r->len <= MAX_BLOB && scale_crc32(slot + HEADER, r->len) == r->crc;
}

static bool erased(const uint8_t *slot)
{
    for (int i = 0; i < SLOT; i++) {
        if (slot[i] != 0xff) return false;
    }
    return true;
}

/* The newest valid record of a blob: its sector and slot, or false. */
static bool newest(int which, int *sector, int *slot, record_t *best)
{
    bool found = false;
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < SLOTS_PER_SECTOR; i++) {
            record_t r;
            if (!valid(flash_at(sector_offset(which, s) + (uint32_t)(i * SLOT)), &r)) continue;
            if (!found || (int32_t)(r.seq - best->seq) > 0) {
                *best = r;
                *sector = s;
                *slot = i;
                found = true;
            }
        }
    }
    return found;
}

static bool known(int which)
{
    return which == SCALE_BLOB_CALIBRATION || which == SCALE_BLOB_CONFIG || (which >= STORE_MODULE_STATE && which <= STORE_MODULE_PARAMS_1);
}

const uint8_t *store_get(int which, size_t *len)
{
    if (!known(which)) return NULL;
    int s, i;
    record_t r;
    if (!newest(which, &s, &i, &r)) return NULL;
    *len = r.len;
    return flash_at(sector_offset(which, s) + (uint32_t)(i * SLOT)) + HEADER;
}

static uint8_t s_slot[SLOT];

bool store_set(int which, const uint8_t *blob, size_t len)
{
    if (len == 0 || len > MAX_BLOB || !known(which)) return false;
    int s = 0, i = -1;
    record_t last = {0};
    const bool any = newest(which, &s, &i, &last);
    if (any && last.len == len && memcmp(flash_at(sector_offset(which, s) + (uint32_t)(i * SLOT)) + HEADER, blob, len) == 0) return true;
    /* The next erased slot after the newest record in its sector; else the other sector, erased
     * (it holds only older records: the newest stays readable until the new one is written). */
    int32_t erase = -1;
    int slot = -1;
    for (int k = any ? i + 1 : 0; k < SLOTS_PER_SECTOR; k++) {
        if (erased(flash_at(sector_offset(which, s) + (uint32_t)(k * SLOT)))) {
            slot = k;
            break;
        }
    }
    if (slot < 0) {
        s = any ? 1 - s : 0;
        slot = 0;
        erase = (int32_t)sector_offset(which, s);
    }
    const record_t r = {.magic = MAGIC, .seq = any ? last.seq + 1 : 1, .len = (uint32_t)len, .crc = scale_crc32(blob, len)};
    memset(s_slot, 0xff, sizeof s_slot);
    memcpy(s_slot, &r, sizeof r);
    memcpy(s_slot + HEADER, blob, len);
    return s_flash->write(sector_offset(which, s) + (uint32_t)(slot * SLOT), s_slot, SLOT, erase);
}
