/*
 * The flash store against a simulated NOR flash: erasing sets a sector to 0xFF, programming can
 * only clear bits, and the power can be cut after the erase or part-way through programming.
 * After any cut the previous value must still be read; wear must stay at an erase per 8 writes.
 */
#include <stdio.h>
#include <string.h>

#include "scale_abi.h"
#include "store.h"

#define FLASH_BYTES (64 * 1024)
static uint8_t s_flash[FLASH_BYTES];
static int s_erases, s_writes;
/* -1: no cut; 0: the power goes right after the erase; n > 0: after n bytes are programmed. */
static int s_cut = -1;
static int s_failures;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            s_failures++;                                                      \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

static bool nor_write(uint32_t offset, const uint8_t *data, size_t n, int32_t erase)
{
    s_writes++;
    if (erase >= 0) {
        memset(s_flash + erase, 0xff, STORE_SECTOR);
        s_erases++;
    }
    size_t upto = n;
    if (s_cut == 0) return false;
    if (s_cut > 0 && (size_t)s_cut < n) upto = (size_t)s_cut;
    for (size_t i = 0; i < upto; i++) s_flash[offset + i] &= data[i];
    return s_cut < 0;
}

static const store_flash_t FLASH = {.base = s_flash, .size = FLASH_BYTES, .write = nor_write};

/* A blob whose bytes say which version it is. */
static size_t blob(uint8_t *out, int version, int which)
{
    const size_t n = which == SCALE_BLOB_CALIBRATION ? 236 : 104;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(version * 31 + i + which);
    return n;
}

static bool holds(int which, int version)
{
    uint8_t want[512];
    size_t n = blob(want, version, which), len = 0;
    const uint8_t *got = store_get(which, &len);
    return got && len == n && memcmp(got, want, n) == 0;
}

int main(void)
{
    memset(s_flash, 0x5a, sizeof s_flash); /* never erased: garbage, not a blob */
    store_init(&FLASH);
    size_t len;
    CHECK(store_get(SCALE_BLOB_CALIBRATION, &len) == NULL);
    uint8_t b[512];
    int version = 1;
    for (; version <= 100; version++) {
        CHECK(store_set(SCALE_BLOB_CALIBRATION, b, blob(b, version, SCALE_BLOB_CALIBRATION)));
        CHECK(holds(SCALE_BLOB_CALIBRATION, version));
    }
    /* The settings have their own sectors: the calibration is untouched by them. */
    CHECK(store_set(SCALE_BLOB_CONFIG, b, blob(b, 7, SCALE_BLOB_CONFIG)));
    CHECK(holds(SCALE_BLOB_CONFIG, 7) && holds(SCALE_BLOB_CALIBRATION, 100));
    /* Wear: 100 writes, an erase per 8 slots (plus the first). */
    CHECK(s_erases <= 100 / 8 + 2);
    /* The same blob again: no write at all. */
    const int writes = s_writes;
    CHECK(store_set(SCALE_BLOB_CALIBRATION, b, blob(b, 100, SCALE_BLOB_CALIBRATION)));
    CHECK(s_writes == writes);
    /* A power cut at every point of a write, over a full cycle of both sectors: the new value or,
     * when the write did not finish, the previous one; never garbage, never nothing. */
    int cuts = 0;
    for (int step = 0; step < 20; step++) {
        const int before = version - 1;
        /* Cut before the record's last byte is programmed (the rest of the slot is 0xFF already). */
        const int bytes = 16 + (int)blob(b, version, SCALE_BLOB_CALIBRATION);
        for (int cut = 0; cut < bytes; cut += 37) {
            s_cut = cut;
            CHECK(!store_set(SCALE_BLOB_CALIBRATION, b, blob(b, version, SCALE_BLOB_CALIBRATION)));
            s_cut = -1;
            CHECK(holds(SCALE_BLOB_CALIBRATION, before));
            cuts++;
        }
        CHECK(store_set(SCALE_BLOB_CALIBRATION, b, blob(b, version, SCALE_BLOB_CALIBRATION)));
        CHECK(holds(SCALE_BLOB_CALIBRATION, version));
        version++;
    }
    CHECK(holds(SCALE_BLOB_CONFIG, 7));
    /* A blob too large for a slot is refused, and the stored one kept. */
    uint8_t big[600] = {0};
    CHECK(!store_set(SCALE_BLOB_CALIBRATION, big, sizeof big));
    CHECK(holds(SCALE_BLOB_CALIBRATION, version - 1));
    printf("store: %d writes, %d erases, %d power cuts survived\n", s_writes, s_erases, cuts);
    return s_failures;
}
