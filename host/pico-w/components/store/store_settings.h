/*
 * The provisioning settings record (host/scale_portable/include/scale_provision.h) in the Pico W's
 * flash: two copies of two sectors each, below the calibration module slots. A record is written
 * to the older copy, its body first and its header page last, so a power cut at any point leaves
 * the previous record whole and the newest whole one is read. Portable: over store_flash_t, tested
 * on Linux against the simulated NOR flash (host/pico-w/test/test_store.c) and served over a
 * pseudo-terminal by host/scale_portable/test/prov_serve.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* One copy: a header page, then the record. */
#define STORE_SETTINGS_COPY_BYTES (2u * STORE_SECTOR)
/* Flash the settings take, below the module slots. */
#define STORE_SETTINGS_BYTES (2u * STORE_SETTINGS_COPY_BYTES)

/* The newest whole record (a pointer into flash) and its length; NULL when none was written. */
const uint8_t *store_settings_get(size_t *len);
/* Writes a record (at most STORE_SETTINGS_COPY_BYTES - STORE_PAGE bytes) to the older copy: where
 * it now lies in flash, or NULL when the flash could not be written (the previous one stays). */
const uint8_t *store_settings_put(const uint8_t *record, size_t len);
