/*
 * Persistence of the core's blobs (calibration, configuration) in the last two sectors of flash,
 * one each. A blob is written only when the core marks it changed (commands are rare), so wear is
 * a write per command; the core's own checksum tells a damaged blob, which it then refuses.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The stored blob (a pointer into flash) and its length, or NULL. */
const uint8_t *store_get(int which, size_t *len);
/* Saves a blob; false when flash could not be written. */
bool store_set(int which, const uint8_t *blob, size_t len);
