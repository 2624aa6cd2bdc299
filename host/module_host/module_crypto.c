/* The module manager's mbedTLS: see module_crypto.h. */
#include "module_crypto.h"

#include <stdio.h>
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/pk.h"

bool module_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    return mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, out) == 0;
}

bool module_sha256_read(module_read_fn read, void *ctx, uint32_t offset, uint32_t len, uint8_t out[32])
{
    /* Through the md layer: its calls are the same in mbedTLS 2 (Debian's) and 3 (ESP-IDF's). */
    mbedtls_md_context_t c;
    uint8_t buf[256];
    mbedtls_md_init(&c);
    bool ok = mbedtls_md_setup(&c, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0) == 0 && mbedtls_md_starts(&c) == 0;
    while (ok && len > 0) {
        size_t n = len < sizeof buf ? len : sizeof buf;
        ok = read(ctx, offset, buf, n) && mbedtls_md_update(&c, buf, n) == 0;
        offset += (uint32_t)n;
        len -= (uint32_t)n;
    }
    ok = ok && mbedtls_md_finish(&c, out) == 0;
    mbedtls_md_free(&c);
    return ok;
}

/* The first 16 hex digits of the SHA-256 of the key's SubjectPublicKeyInfo (DER), as the desktop names keys. */
static bool key_id(mbedtls_pk_context *pk, char out[17])
{
    uint8_t der[160], hash[32];
    int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof der); /* written at the end of the buffer */
    if (n <= 0 || !module_sha256(der + sizeof der - n, (size_t)n, hash)) return false;
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", hash[i]);
    return true;
}

int module_verify(const uint8_t *man, size_t man_len, const uint8_t *sig, size_t sig_len, const char *want,
                  const char *const *keys_pem, size_t n_keys)
{
    uint8_t hash[32];
    if (!module_sha256(man, man_len, hash)) return 2;
    bool candidate = false;
    for (size_t i = 0; i < n_keys; i++) {
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        char id[17] = "";
        bool ok = keys_pem[i] && mbedtls_pk_parse_public_key(&pk, (const unsigned char *)keys_pem[i], strlen(keys_pem[i]) + 1) == 0 &&
                  mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) && key_id(&pk, id);
        if (ok && (want == NULL || strcmp(id, want) == 0)) {
            candidate = true;
            ok = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig, sig_len) == 0;
            mbedtls_pk_free(&pk);
            if (ok) return 0;
            continue;
        }
        mbedtls_pk_free(&pk);
    }
    return candidate ? 2 : 1;
}
