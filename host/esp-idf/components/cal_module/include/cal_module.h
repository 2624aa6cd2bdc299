/*
 * Calibration modules on the ESP32: WAMR as the engine of the module manager's host
 * (host/module_host: the manager, build/manager.wasm, decides; module_host gives it the slots,
 * mbedTLS and module instances). Here: the manager and module instances in WAMR, every module call
 * on an instruction limit, the manager's imports registered as WAMR natives.
 * Portable C over WAMR: tested on Linux (test/).
 */
#pragma once

#include "module_host.h"

#ifdef __cplusplus
extern "C" {
#endif

/* abi.json calibration_module.budget (instructions); tests/esp-idf.test.ts checks them. */
#define CAL_MODULE_BUDGET_EVAL 20000
#define CAL_MODULE_BUDGET_FIT 2000000
#define CAL_MODULE_BUDGET_OTHER 200000
/* The Wasm stack of a module's execution environment (its frames are a few hundred bytes). */
#define CAL_MODULE_STACK_BYTES 1024
/* What one call into the manager may run (it is the firmware's own code; this bounds a bug). */
#define CAL_MANAGER_BUDGET 50000000
#define CAL_MANAGER_STACK_BYTES 4096

/* The WAMR engine for module_host (registers the manager's imports once). NULL when they could not be. */
const module_engine_t *cal_module_wamr(void);

/* The core's calib imports to module_host (on), or to nothing (off: NaN, the core's own curve). */
void cal_module_link_calibration(bool on);

/* module_host's way to the core for cores sent over the air, over wasm_host; own_wasm is the core
 * the firmware was built with. */
const module_core_host_t *cal_module_core_host(const uint8_t *own_wasm, size_t own_len);

#ifdef __cplusplus
}
#endif
