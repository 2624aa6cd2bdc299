/*
 * wasm-scale provisioning: the settings a scale needs to reach its broker (WiFi, broker, credentials,
 * device id, CA, its own certificate and key), kept on the device instead of in the build, and the
 * two ways they arrive over a serial port. Portable C shared by the ESP32 and Pico W firmwares and
 * unit-tested on Linux (host/scale_portable/test):
 *  - the settings record: one blob, written whole (a host keeps it atomically: NVS on the ESP32,
 *    two flash copies on the Pico W), read in place without copying;
 *  - Improv Wi-Fi serial (https://www.improv-wifi.com/serial/): WiFi network and password from
 *    esp-web-tools or any Improv client;
 *  - a line protocol of the project's own for the rest (docs/provisioning.md), spoken by
 *    `wasm-scale provision`. Every value is checked on arrival; changes are staged and written in
 *    one record on "commit", so a power cut leaves the old settings or the new ones, never half.
 *
 * The host owns the serial port, the storage and the radio: it feeds bytes in, and gives the
 * session a few callbacks (prov_io_t).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The settings, in record order. Secrets (the WiFi and broker passwords, the key) are never read back. */
typedef enum {
    PROV_WIFI_SSID = 0,
    PROV_WIFI_PASSWORD,
    PROV_BROKER,      /* mqtts://host[:port] (or wss://host[:port]/path) */
    PROV_USERNAME,
    PROV_PASSWORD,
    PROV_DEVICE_ID,
    PROV_CA,          /* PEM: the certificate(s) that verify the broker */
    PROV_CERT,        /* PEM: this device's certificate */
    PROV_KEY,         /* PEM: its private key (unencrypted PKCS#8, SEC1 or PKCS#1) */
    PROV_FIELDS
} prov_field_t;

/* The largest value of each field (bytes, without the NUL every stored value carries). */
#define PROV_MAX_CA 3072u
#define PROV_MAX_PEM 2048u
/* The largest record: every field at its largest, with its header, and the record's own. */
#define PROV_RECORD_MAX 7936u
#define PROV_RECORD_VERSION 1u

/* A field as stored: NUL-terminated text (a string or PEM), len without the NUL; p NULL when unset. */
typedef struct {
    const char *p;
    uint16_t len;
} prov_value_t;

typedef struct {
    prov_value_t v[PROV_FIELDS];
} prov_settings_t;

/* The field's name in the line protocol and in `get` ("wifi_ssid", ... "key"); NULL out of range. */
const char *prov_field_name(prov_field_t f);
/* The field named, or -1. */
int prov_field_by_name(const char *name, size_t len);
/* Whether a field is a secret (never printed back). */
bool prov_field_secret(prov_field_t f);

/* NULL when value (len bytes, no NUL needed) is acceptable for f, else why not. PEM fields are
 * checked for their form here and by prov_check_pem (mbedTLS) for their content. */
const char *prov_check(prov_field_t f, const char *value, size_t len);
/* The cross-field rules of a whole set (a certificate needs its key, and the key must be its). */
const char *prov_check_set(const prov_settings_t *s);

/*
 * Reads a stored record in place: true when it is whole (magic, version, length, CRC-32) and every
 * field in it passes prov_check; out's values then point into rec. False (out all unset) otherwise.
 */
bool prov_record_read(const uint8_t *rec, size_t len, prov_settings_t *out);
/* Writes s as a record into out; its length, or 0 when it does not fit in cap. */
size_t prov_record_write(const prov_settings_t *s, uint8_t *out, size_t cap);

/* ---- TLS material (provision_tls.c, mbedTLS) ------------------------------------------------- */

/* NULL when the PEM text (len bytes, with a NUL after them) holds what f needs: one or more
 * certificates (ca, cert) or an unencrypted private key (key). */
const char *prov_check_pem(prov_field_t f, const char *pem, size_t len);
/* The subject of the first certificate in a PEM text (NUL after it) into out; its length (0: none). */
size_t prov_pem_subject(const char *pem, size_t len, char *out, size_t cap);
/* NULL when the key is the certificate's. */
const char *prov_check_pair(const char *cert, size_t cert_len, const char *key, size_t key_len);

/* ---- the session over a serial port ---------------------------------------------------------- */

/* Improv serial's states and errors (its spec's values). */
enum {
    PROV_IMPROV_READY = 0x02,
    PROV_IMPROV_PROVISIONING = 0x03,
    PROV_IMPROV_PROVISIONED = 0x04,
};
enum {
    PROV_IMPROV_OK = 0x00,
    PROV_IMPROV_INVALID_RPC = 0x01,
    PROV_IMPROV_UNKNOWN_RPC = 0x02,
    PROV_IMPROV_UNABLE_TO_CONNECT = 0x03,
    PROV_IMPROV_UNKNOWN_ERROR = 0xff,
};

typedef struct {
    void *ctx;
    /* Bytes to the serial port. */
    void (*write)(void *ctx, const uint8_t *data, size_t len);
    /* Keeps a record whole (old or new after a power cut): where it now lies (the session reads it
     * there from then on), or NULL when it could not be written. */
    const uint8_t *(*save)(void *ctx, const uint8_t *record, size_t len);
    /* Erases the record (the build's values apply again); true when done. NULL: a factory reset
     * saves a record that sets nothing instead. */
    bool (*erase)(void *ctx);
    /* Tries a WiFi network now (Improv): the host answers with prov_wifi_result, at once or later.
     * The strings are the session's (try_ssid, try_password) and stay valid until that answer. */
    void (*wifi_try)(void *ctx, const char *ssid, const char *password);
    /* Restarts the device after the answer went out (NULL: restart is refused). */
    void (*restart)(void *ctx);
    /* Improv's device information: firmware name, version, chip, and a name for the device. */
    const char *firmware;
    const char *version;
    const char *chip;
} prov_io_t;

typedef struct {
    prov_io_t io;
    /* The record the device now keeps (the host's: flash or heap), and its length; NULL: none. */
    const uint8_t *stored;
    size_t stored_len;
    /* The build's device id, named by Improv's device information when none is stored. */
    const char *default_device_id;
    /* Staged values: the record being edited, valid when staged != 0 (a bit per field). */
    uint32_t staged;
    uint8_t edit[PROV_RECORD_MAX];
    size_t edit_len;
    /* A PEM value arriving line by line after "set ca|cert|key". */
    int block;        /* the field, or -1 */
    bool block_bad;
    uint8_t value[PROV_MAX_CA + 1];
    size_t value_len;
    /* The line being received; its length, and whether it overflowed. */
    char line[320];
    size_t line_len;
    bool line_long;
    /* An Improv packet being received. */
    uint8_t frame[9 + 256 + 1];
    size_t frame_len;
    /* Improv's state, and the network being tried. */
    uint8_t improv_state;
    char try_ssid[33];
    char try_password[65];
} prov_session_t;

/* A prov_io_t write for hosts whose port is the console: stdout, flushed. */
void prov_write_stdout(void *ctx, const uint8_t *data, size_t len);

/* Starts a session over the stored record (NULL, 0: none). */
void prov_session_init(prov_session_t *s, const prov_io_t *io, const uint8_t *stored, size_t stored_len, const char *default_device_id);
/* Bytes from the serial port: lines of the line protocol and Improv packets, in any mix. */
void prov_session_feed(prov_session_t *s, const uint8_t *data, size_t len);
/* The outcome of wifi_try: connected (the network is then saved) or not (it is not). */
void prov_wifi_result(prov_session_t *s, bool connected);
/* The host's WiFi link came up or went down (Improv's state follows it when no attempt is under way). */
void prov_session_online(prov_session_t *s, bool online);
/* Nothing staged and no value or packet half-received. */
bool prov_session_idle(const prov_session_t *s);
/* A long silence: the host ends the session; what was staged or half-received is dropped, and the
 * port is told so. The host may then free it. */
void prov_session_end(prov_session_t *s);

#ifdef __cplusplus
}
#endif
