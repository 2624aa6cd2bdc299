/*
 * Calibration modules on the Pico W: wasm3 as the engine of the module manager's host
 * (host/module_host: the manager, build/manager.wasm, decides). wasm3 cannot count instructions,
 * so a module runs as the manager rewrote it: a `__fuel` global taken down at every function entry
 * and loop iteration, set to abi.json's steps before each call; a call that runs out traps
 * (`unreachable`) with the fuel below zero, which is how a budget overrun is told from a trap. The
 * manager itself is the firmware's own code, bounded by the hardware watchdog as the core is.
 * Each instance has a runtime of its own (wasm3 keeps one linear memory per runtime), its memory
 * limited to its __heap_base. Portable C over wasm3: tested on Linux (test/).
 */
#pragma once

#include "module_host.h"

/* The wasm3 stack of the manager and of each module instance (bytes). */
#define MODULES_MANAGER_STACK_BYTES 8192
#define MODULES_MODULE_STACK_BYTES 2048

/* The wasm3 engine for module_host. */
const module_engine_t *modules_wasm3(void);

/* module_host's way to the core for cores sent over the air, over the firmware's wasm_host;
 * own_wasm is the core the firmware was built with. */
const module_core_host_t *modules_core_host(const uint8_t *own_wasm, size_t own_len);
