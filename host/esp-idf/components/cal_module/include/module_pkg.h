/*
 * Calibration module packages on the device (assembly/abi.json, calibration_module.package): the
 * manifest read with cJSON, the module's SHA-256 and the ECDSA P-256 / SHA-256 signature checked
 * with mbedTLS against the public keys the firmware was built with, and the .wasm scanned for what
 * the module ABI forbids before WAMR sees it. Portable C: tested on Linux (test/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MODULE_ABI_VERSION 1
#define MODULE_MAX_PARAMS 32
#define MODULE_MAX_VECTORS 64
#define MODULE_MAX_WASM_BYTES 65536
#define MODULE_MAX_MANIFEST_BYTES 16384
/* The largest package: manifest, signature and module (calibration_module.package). */
#define MODULE_MAX_PACKAGE_BYTES (MODULE_MAX_WASM_BYTES + MODULE_MAX_MANIFEST_BYTES + 1024)

/* Why something was refused: a reason of calibration_module.reasons, and a sentence. */
typedef struct {
    char reason[20];
    char detail[160];
} module_refusal_t;

typedef struct {
    double x;
    double chips[4]; /* NaN when absent */
    double temp;     /* NaN when unknown */
    double kg;
} module_vector_t;

typedef struct {
    char name[33];
    char version[12];
    int abi;
    uint32_t size;
    uint8_t sha256[32];
    char key_id[17]; /* "" when the manifest names no key */
    double params[MODULE_MAX_PARAMS];
    int n_params;
    module_vector_t vectors[MODULE_MAX_VECTORS];
    int n_vectors;
    double tolerance;
    /* Views into the package bytes given to module_pkg_parse. */
    const uint8_t *manifest;
    size_t manifest_len;
    const uint8_t *signature;
    size_t signature_len;
    const uint8_t *wasm;
    size_t wasm_len;
} module_pkg_t;

/* Fills `why` and returns false: for one-line refusals. */
bool module_refuse(module_refusal_t *why, const char *reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Splits a package and reads its manifest; checks the module's size and SHA-256 (not the signature). */
bool module_pkg_parse(const uint8_t *bytes, size_t len, module_pkg_t *out, module_refusal_t *why);

/* Checks the signature against the trusted public keys (PEM, NUL-terminated). */
bool module_pkg_verify(const module_pkg_t *pkg, const char *const *keys_pem, size_t n_keys, module_refusal_t *why);

/*
 * What the module ABI asks of the .wasm before it is loaded: no imports, one memory with a maximum
 * of at most one page, no start function, __data_end <= __heap_base exported as constants (WAMR
 * then gives it only its static data) and no mutable i32 global WAMR would take for a stack pointer.
 */
bool module_wasm_scan(const uint8_t *wasm, size_t len, module_refusal_t *why);

bool module_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* 64 lower-case hex digits as a SHA-256; false for anything else. */
bool module_sha256_from_hex(const char *hex, uint8_t out[32]);

#ifdef __cplusplus
}
#endif
