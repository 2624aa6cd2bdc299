/*
 * Persistence of the core's blobs (calibration, settings) and the module manager's (its state, each
 * slot's parameters) in the last ten sectors of flash, two per blob, as a log of records (sequence number, length, CRC-32). A write goes to an erased slot
 * and the newest valid record wins, so a power cut during a write or an erase leaves the previous
 * value readable; a sector is erased only when both of its blob's sectors' slots are used up, so a
 * tare costs an eighth of an erase (years of tares within the flash's 100,000 cycles).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sector size of the flash (the RP2040's QSPI flash erases 4 KiB). */
#define STORE_SECTOR 4096u
/* What the flash programs at once (the RP2040's QSPI flash: a 256-byte page, at a page boundary). */
#define STORE_PAGE 256u

/* Blobs beside the core's (SCALE_BLOB_*): the module manager's state and each slot's parameters. */
#define STORE_MODULE_STATE 8
#define STORE_MODULE_PARAMS_0 9
#define STORE_MODULE_PARAMS_1 10
/* Sectors at the end of flash the blobs take (two each). */
#define STORE_BLOB_SECTORS 10u
/* A module slot: the largest package (abi.json calibration_module.package), in whole sectors. */
#define STORE_MODULE_SLOT_BYTES (21u * STORE_SECTOR)

/* The flash: memory-mapped for reading, and a write that erases a sector first when asked. */
typedef struct {
    const uint8_t *base; /* where offset 0 is mapped (XIP_BASE on the RP2040) */
    uint32_t size;       /* bytes of flash: the store uses its last sectors */
    /* Erases the sector at `erase` (when >= 0), then programs n bytes at offset (whole pages at a
     * page boundary); false on failure. */
    bool (*write)(uint32_t offset, const uint8_t *data, size_t n, int32_t erase);
} store_flash_t;

void store_init(const store_flash_t *flash);
/* The flash store_init was given (the module slots share it). */
const store_flash_t *store_flash(void);

/* The newest valid copy of a blob (a pointer into flash) and its length, or NULL. */
const uint8_t *store_get(int which, size_t *len);
/* Saves a blob (nothing when it is the stored one); false when flash could not be written. */
bool store_set(int which, const uint8_t *blob, size_t len);
