/* The calibration module slots on the ESP32: the two halves of the `modules` partition hold the
 * packages; NVS holds each slot's parameters and the module manager's state (module_host.h's storage). */
#pragma once

#include "module_host.h"
#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Finds the `modules` partition (partitions.csv) and fills `out`; ESP_ERR_NOT_FOUND without it. */
esp_err_t module_store_init(module_storage_t *out);

#ifdef __cplusplus
}
#endif
