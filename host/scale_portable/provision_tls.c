/*
 * The TLS material a scale is given (scale_provision.h), checked with the mbedTLS its firmware
 * already carries (ESP-IDF's 3.x, the Pico SDK's 2.28, Debian's on Linux): certificates that
 * parse, a private key that parses, and a key that is the certificate's.
 */
#include "scale_provision.h"

#include <string.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/pk.h"
#include "mbedtls/version.h"
#include "mbedtls/x509_crt.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define NEW_API 1
#endif

/* Certificates in a PEM text (NUL after len): how many parsed, or -1 when any did not. */
static int parse_certs(mbedtls_x509_crt *crt, const char *pem, size_t len)
{
    mbedtls_x509_crt_init(crt);
    if (mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, len + 1) != 0) return -1;
    int n = 0;
    for (const mbedtls_x509_crt *c = crt; c != NULL && c->raw.len > 0; c = c->next) n++;
    return n;
}

#ifdef NEW_API
/* mbedTLS 3 blinds private-key operations with a random generator: a seeded CTR-DRBG. */
typedef struct {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} rng_t;

static bool rng_start(rng_t *r)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    static const unsigned char who[] = "wasm-scale provisioning";
    return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, who, sizeof who - 1) == 0;
}

static void rng_end(rng_t *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}
#endif

static int parse_key(mbedtls_pk_context *pk, const char *pem, size_t len)
{
    mbedtls_pk_init(pk);
#ifdef NEW_API
    rng_t r;
    if (!rng_start(&r)) {
        rng_end(&r);
        return -1;
    }
    const int ret = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len + 1, NULL, 0, mbedtls_ctr_drbg_random, &r.drbg);
    rng_end(&r);
    return ret;
#else
    return mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len + 1, NULL, 0);
#endif
}

const char *prov_check_pem(prov_field_t f, const char *pem, size_t len)
{
    if (f == PROV_KEY) {
        mbedtls_pk_context pk;
        const int ret = parse_key(&pk, pem, len);
        mbedtls_pk_free(&pk);
        return ret == 0 ? NULL : "the key does not parse (an unencrypted EC or RSA private key in PEM is needed)";
    }
    mbedtls_x509_crt crt;
    const int n = parse_certs(&crt, pem, len);
    mbedtls_x509_crt_free(&crt);
    if (n < 1) return "a certificate in it does not parse";
    if (f == PROV_CERT && n != 1) return "give the device's certificate alone (its CA goes in ca)";
    return NULL;
}

const char *prov_check_pair(const char *cert, size_t cert_len, const char *key, size_t key_len)
{
    mbedtls_x509_crt crt;
    mbedtls_pk_context pk;
    const char *why = NULL;
    mbedtls_pk_init(&pk);
    if (parse_certs(&crt, cert, cert_len) < 1) why = "the certificate does not parse";
    else if (parse_key(&pk, key, key_len) != 0) why = "the key does not parse";
    if (why == NULL) {
#ifdef NEW_API
        rng_t r;
        const int ret = rng_start(&r) ? mbedtls_pk_check_pair(&crt.pk, &pk, mbedtls_ctr_drbg_random, &r.drbg) : -1;
        rng_end(&r);
#else
        const int ret = mbedtls_pk_check_pair(&crt.pk, &pk);
#endif
        if (ret != 0) why = "the key is not the certificate's";
    }
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&crt);
    return why;
}

size_t prov_pem_subject(const char *pem, size_t len, char *out, size_t cap)
{
    mbedtls_x509_crt crt;
    size_t n = 0;
    if (parse_certs(&crt, pem, len) >= 1 && cap > 0) {
        const int r = mbedtls_x509_dn_gets(out, cap, &crt.subject);
        n = r > 0 ? (size_t)r : 0;
    }
    mbedtls_x509_crt_free(&crt);
    return n;
}
