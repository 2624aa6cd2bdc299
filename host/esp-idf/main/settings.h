/*
 * What this scale connects with: the settings provisioned over USB (components/provision, kept in
 * NVS) where they are set, the build's (menuconfig) where they are not. Read once at boot; a
 * network joined by Improv is taken at once, every other change at the next boot.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *wifi_ssid;     /* "": not provisioned, the scale waits for it */
    const char *wifi_password;
    const char *broker_uri;
    const char *username;
    const char *password;
    const char *device_id;
    const char *ca_pem;        /* NUL-terminated PEM; NULL: the ESP-IDF certificate bundle */
    const uint8_t *cert;       /* the device's certificate and key: PEM with its NUL counted, or DER; NULL: none */
    size_t cert_len;
    const uint8_t *key;
    size_t key_len;
    const char *source;        /* "stored" or "build" */
} settings_t;

/* Reads the stored record once; the settings in use from then on. */
const settings_t *settings_load(void);
const settings_t *settings(void);
/* The record kept in NVS (NULL when none), for the provisioning session. */
const uint8_t *settings_record(size_t *len);
/* A network Improv joined: in use from now on (copied). */
void settings_use_wifi(const char *ssid, const char *password);
