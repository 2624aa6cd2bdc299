/*
 * A firmware's provisioning code served over a pseudo-terminal on Linux, as the device serves it
 * over its USB serial port: what `wasm-scale provision` is tested against (tests/provision.test.ts).
 * The storage is the firmware's own code over a file (the ESP32's NVS, the Pico W's flash); the
 * radio is simulated (--network SSID=PASSWORD: the networks in reach).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *chip;
    /* The firmware's storage: the record at boot, a save, an erase (the build's values again). */
    const uint8_t *(*load)(size_t *len);
    const uint8_t *(*save)(const uint8_t *record, size_t len);
    bool (*erase)(void);
    /* The next save stops after this many bytes and ends the process (a power cut). */
    void (*cut)(long bytes);
} prov_serve_store_t;

/* Serves until stdin closes. argv: [--network SSID=PASSWORD]... [--cut BYTES] [--device-id ID].
 * Prints "pty <path>" first, then "boot ...", "wifi <ssid> <connected|failed>" and "restart" lines. */
int prov_serve(int argc, char **argv, const prov_serve_store_t *store);
