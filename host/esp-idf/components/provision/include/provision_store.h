/*
 * The provisioning settings record (scale_provision.h) in NVS: one blob, replaced whole by
 * nvs_set_blob and nvs_commit (NVS keeps the old value until the new one is complete, so a power
 * cut leaves one or the other). Compiled on Linux too, against a file-backed NVS
 * (host/scale_portable/test), for the provisioning tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The record kept in NVS, read into the heap once (the settings in use point into it for the life
 * of the firmware); NULL when there is none. */
const uint8_t *provision_store_load(size_t *len);
/* Keeps a record: its copy in the heap (the one loaded at boot stays, in use), or NULL when NVS
 * could not be written. */
const uint8_t *provision_store_save(const uint8_t *record, size_t len);
/* Erases the record: the build's values apply from the next boot. */
bool provision_store_erase(void);
