/*
 * The calibration module slots on the Pico W's flash, for the module manager's host
 * (host/module_host): two slots of STORE_MODULE_SLOT_BYTES below the store's blobs, and two core
 * slots of the same size below the settings (read in place through XIP: a core runs from where it
 * lies), a sector
 * erased when a package first reaches it, written a 256-byte page at a time (a page programmed
 * again only clears the bits of the bytes it adds: the rest of it is written as 0xFF); each slot's
 * parameters and the manager's state as store blobs (old or new after a power cut).
 * Portable: over store_flash_t, tested on Linux against a simulated NOR flash.
 */
#pragma once

#include "module_host.h"
#include "store.h"

/* Fills `out` for the flash store_init was given. */
void store_modules_storage(module_storage_t *out);
