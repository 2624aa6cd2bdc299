/*
 * What the module manager asks of mbedTLS: the SHA-256 of bytes in a slot and the ECDSA P-256 /
 * SHA-256 signature of a package's manifest against the public keys the firmware trusts, named as
 * the desktop names them (the first 16 hex digits of the SHA-256 of the key's SubjectPublicKeyInfo).
 * Portable C: tested on Linux (test/).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef bool (*module_read_fn)(void *ctx, uint32_t offset, void *data, size_t len);

bool module_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* The SHA-256 of len bytes read through `read` from offset. */
bool module_sha256_read(module_read_fn read, void *ctx, uint32_t offset, uint32_t len, uint8_t out[32]);

/*
 * The signature (sig, sig_len) of the manifest (man, man_len) against the trusted keys (PEM,
 * NUL-terminated) whose id is key_id (16 hex digits; NULL: any). 0 verified, 1 no trusted key of
 * that id, 2 it does not verify.
 */
int module_verify(const uint8_t *man, size_t man_len, const uint8_t *sig, size_t sig_len, const char *key_id,
                  const char *const *keys_pem, size_t n_keys);

#ifdef __cplusplus
}
#endif
