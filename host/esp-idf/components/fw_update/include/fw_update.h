/*
 * The ESP32's firmware image over the air. The module manager checks a signed firmware package
 * (wasm-scale firmware sign: the image's version, size, SHA-256 and https:// address, signed with
 * the module signing key) sent on <module topic>/firmware; this fetches the image it describes into
 * the next OTA slot with esp_https_ota, checks its size and SHA-256 against the package, sets the
 * next boot to it and asks for a restart. ESP-IDF's app rollback keeps the new image only once it
 * has weighed and reached the broker (main.c); otherwise its next reset returns to this one.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* The CA the image's server is checked against (NUL-terminated PEM, the broker's); NULL: the
     * ESP-IDF certificate bundle. */
    const char *ca_pem;
    /* The fetch's answers for the result topic ({"cmd":"firmware","step":"fetch",...}). */
    void (*answer)(const char *json);
    /* Asks for the restart into the new image (the core's thread makes it, keeping the state). */
    void (*restart)(void);
} fw_update_config_t;

void fw_update_init(const fw_update_config_t *config);
void fw_update_set_restart(void (*restart)(void));

/* The running image's version (its PROJECT_VER, package.json's) as major << 16 | minor << 8 | patch;
 * 0 when it is not major.minor.patch. */
uint32_t fw_update_running_version(void);

/* Starts fetching (a task of its own): 0 started, 1 a fetch is under way, 2 the image is larger than
 * the next OTA slot, 3 no OTA slot or no memory. The fetch answers how it goes. */
int32_t fw_update_fetch(const char *url, uint32_t size, const uint8_t sha256[32]);

/* Parses "major.minor.patch" (a leading 'v' and anything after the patch are ignored); 0 otherwise. */
uint32_t fw_update_parse_version(const char *text);

#ifdef __cplusplus
}
#endif
