/*
 * What the Pico W connects with, and its provisioning over the console UART: the settings given
 * over USB serial (scale_provision.h; kept in flash by store_settings.c) where set, the build's
 * (-D options) where not. A network Improv joins is taken at once; every other change at the next
 * boot (the "restart" request reboots through the watchdog).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *wifi_ssid; /* "": not provisioned, the scale waits for it */
    const char *wifi_password;
    char broker_host[201];
    uint16_t broker_port;
    const char *username;
    const char *password;
    const char *device_id;
    const uint8_t *ca_pem; /* PEM, its NUL counted in the length */
    size_t ca_len;
    const uint8_t *cert_pem; /* NULL: no client certificate */
    size_t cert_len;
    const uint8_t *key_pem;
    size_t key_len;
    bool stored;
} pico_settings_t;

typedef struct {
    /* The build's values (the -D options, the embedded CA and client certificate). */
    const char *wifi_ssid, *wifi_password, *broker_host, *username, *password, *device_id;
    uint16_t broker_port;
    const uint8_t *ca_pem, *cert_pem, *key_pem;
    size_t ca_len, cert_len, key_len;
    /* The radio: start or switch to a network (net_wifi_use). */
    void (*wifi_use)(const char *ssid, const char *password);
} pico_settings_build_t;

/* Reads the stored record (flash) over the build's values; NULL when a stored broker cannot be used
 * by this firmware (not mqtts://host[:port]): the reason is printed, the build's broker is used. */
const pico_settings_t *pico_settings_load(const pico_settings_build_t *build);
const pico_settings_t *pico_settings(void);
/* Bytes from the console: the provisioning session (allocated on the first byte, freed five
 * minutes after the last; what was staged and not committed by then is dropped, and said). */
void pico_provision_feed(const uint8_t *data, size_t len, uint32_t now_ms);
/* Once a loop: a network being tried by Improv (wifi_up: the link now), idle sessions ended. */
void pico_provision_poll(uint32_t now_ms, bool wifi_up);
