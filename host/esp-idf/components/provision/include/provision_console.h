/*
 * Provisioning over the console's serial port (the USB port of a dev board): Improv serial and the
 * line protocol (scale_provision.h) on the port the log goes to. A timer looks for a first byte five
 * times a second; only then are the session's memory (about 11 KB) and a task with room for
 * mbedTLS's checks taken from the heap, and both are given back after five minutes without input
 * (changes staged and not committed by then are dropped, and the port is told so).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"

typedef struct {
    /* The record kept (provision_store_load), and the build's device id. */
    const uint8_t *stored;
    size_t stored_len;
    const char *default_device_id;
    const char *chip;
    const char *version;
    /* Tries a WiFi network (blocking, up to about 30 s); true when it got an address. The network
     * in use before is used again when it did not. */
    bool (*wifi_try)(const char *ssid, const char *password);
    /* Whether WiFi is up now (Improv's "provisioned"). */
    bool (*wifi_up)(void);
    /* Asks for a restart that keeps the scale's state (the core's thread makes it); NULL: a plain
     * esp_restart. Either way the chip restarts within 5 s. */
    void (*restart)(void);
} provision_console_config_t;

/* Starts listening on the console port. ESP_ERR_NOT_SUPPORTED when the console is neither a UART
 * nor the USB Serial/JTAG port (a USB CDC console). */
esp_err_t provision_console_start(const provision_console_config_t *config);
