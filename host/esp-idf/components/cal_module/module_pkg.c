/* Calibration module packages: see module_pkg.h. */
#include "module_pkg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "mbedtls/md.h"
#include "mbedtls/pk.h"

static const char MAGIC[8] = {'W', 'S', 'C', 'A', 'L', 'M', 'O', 'D'};
#define PACKAGE_FORMAT 1

bool module_refuse(module_refusal_t *why, const char *reason, const char *fmt, ...)
{
    snprintf(why->reason, sizeof why->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->detail, sizeof why->detail, fmt, ap);
    va_end(ap);
    return false;
}

bool module_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    return mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, out) == 0;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool module_sha256_from_hex(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64) return false;
    for (int i = 0; i < 32; i++) {
        int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool finite_number(const cJSON *item, double *out)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble)) return false;
    *out = item->valuedouble;
    return true;
}

/* A number, or NaN for null / absent. */
static bool number_or_nan(const cJSON *item, double *out)
{
    if (item == NULL || cJSON_IsNull(item)) {
        *out = NAN;
        return true;
    }
    return finite_number(item, out);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
    }
    return true;
}

static bool read_vectors(const cJSON *list, module_pkg_t *out, module_refusal_t *why)
{
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > MODULE_MAX_VECTORS) return module_refuse(why, "BAD_PACKAGE", "manifest: vectors must be 1..%d", MODULE_MAX_VECTORS);
    out->n_vectors = n;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(list, i);
        module_vector_t *d = &out->vectors[i];
        const cJSON *chips = cJSON_GetObjectItemCaseSensitive(v, "chips");
        int k = chips ? cJSON_GetArraySize(chips) : 0;
        if (!finite_number(cJSON_GetObjectItemCaseSensitive(v, "x"), &d->x) || !finite_number(cJSON_GetObjectItemCaseSensitive(v, "kg"), &d->kg) ||
            !number_or_nan(cJSON_GetObjectItemCaseSensitive(v, "temp"), &d->temp) || (chips && !cJSON_IsArray(chips)) || k > 4) {
            return module_refuse(why, "BAD_PACKAGE", "manifest: vector %d is not {x, chips, temp, kg}", i + 1);
        }
        for (int c = 0; c < 4; c++) {
            if (!number_or_nan(c < k ? cJSON_GetArrayItem(chips, c) : NULL, &d->chips[c])) {
                return module_refuse(why, "BAD_PACKAGE", "manifest: vector %d has a chip code that is not a number", i + 1);
            }
        }
    }
    return true;
}

static bool read_manifest(const cJSON *m, module_pkg_t *out, module_refusal_t *why)
{
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(m, "format"), *name = cJSON_GetObjectItemCaseSensitive(m, "name");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(m, "version"), *abi = cJSON_GetObjectItemCaseSensitive(m, "abi");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(m, "size"), *sha = cJSON_GetObjectItemCaseSensitive(m, "sha256");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params"), *tol = cJSON_GetObjectItemCaseSensitive(m, "tolerance");
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(m, "key");
    unsigned a, b, c;
    char tail;
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "wasm-scale-module") != 0) return module_refuse(why, "BAD_PACKAGE", "manifest: not a wasm-scale-module");
    if (!cJSON_IsString(name) || !name_ok(name->valuestring)) return module_refuse(why, "BAD_PACKAGE", "manifest: name is not 1..32 of a-z 0-9 _ -");
    if (!cJSON_IsString(version) || sscanf(version->valuestring, "%3u.%3u.%3u%c", &a, &b, &c, &tail) != 3) {
        return module_refuse(why, "BAD_PACKAGE", "manifest: version is not major.minor.patch");
    }
    if (!cJSON_IsNumber(abi) || !cJSON_IsNumber(size) || size->valuedouble < 1 || size->valuedouble > MODULE_MAX_WASM_BYTES) {
        return module_refuse(why, "BAD_PACKAGE", "manifest: abi and size (1..%d) must be numbers", MODULE_MAX_WASM_BYTES);
    }
    if (!cJSON_IsString(sha) || !module_sha256_from_hex(sha->valuestring, out->sha256)) return module_refuse(why, "BAD_PACKAGE", "manifest: sha256 is not 64 hex digits");
    if (key && (!cJSON_IsString(key) || strlen(key->valuestring) != 16)) return module_refuse(why, "BAD_PACKAGE", "manifest: key is not 16 hex digits");
    snprintf(out->name, sizeof out->name, "%s", name->valuestring);
    snprintf(out->version, sizeof out->version, "%u.%u.%u", a, b, c);
    snprintf(out->key_id, sizeof out->key_id, "%s", key ? key->valuestring : "");
    out->abi = abi->valueint;
    out->size = (uint32_t)size->valuedouble;
    out->n_params = params ? cJSON_GetArraySize(params) : 0;
    if ((params && !cJSON_IsArray(params)) || out->n_params > MODULE_MAX_PARAMS) return module_refuse(why, "BAD_PACKAGE", "manifest: params must be at most %d numbers", MODULE_MAX_PARAMS);
    for (int i = 0; i < out->n_params; i++) {
        if (!finite_number(cJSON_GetArrayItem(params, i), &out->params[i])) return module_refuse(why, "BAD_PACKAGE", "manifest: param %d is not a finite number", i + 1);
    }
    out->tolerance = 0;
    if (tol && (!finite_number(tol, &out->tolerance) || out->tolerance < 0 || out->tolerance > 0.001)) {
        return module_refuse(why, "BAD_PACKAGE", "manifest: tolerance must be 0 .. 0.001 kg");
    }
    return read_vectors(cJSON_GetObjectItemCaseSensitive(m, "vectors"), out, why);
}

bool module_pkg_parse(const uint8_t *bytes, size_t len, module_pkg_t *out, module_refusal_t *why)
{
    memset(out, 0, sizeof *out);
    const size_t head = sizeof MAGIC + 1 + 4;
    if (len < head || memcmp(bytes, MAGIC, sizeof MAGIC) != 0) return module_refuse(why, "BAD_PACKAGE", "not a wasm-scale module package");
    if (bytes[sizeof MAGIC] != PACKAGE_FORMAT) return module_refuse(why, "BAD_PACKAGE", "package format %u; this firmware reads %d", bytes[sizeof MAGIC], PACKAGE_FORMAT);
    uint32_t manifest_len = le32(bytes + sizeof MAGIC + 1);
    if (manifest_len > MODULE_MAX_MANIFEST_BYTES) return module_refuse(why, "BAD_PACKAGE", "manifest of %u bytes, over %d", (unsigned)manifest_len, MODULE_MAX_MANIFEST_BYTES);
    if (head + manifest_len + 2 > len) return module_refuse(why, "TRUNCATED", "the package ends inside its manifest");
    size_t sig_at = head + manifest_len + 2;
    size_t sig_len = (size_t)bytes[head + manifest_len] | (size_t)bytes[head + manifest_len + 1] << 8;
    if (sig_at + sig_len > len) return module_refuse(why, "TRUNCATED", "the package ends inside its signature");
    out->manifest = bytes + head;
    out->manifest_len = manifest_len;
    out->signature = bytes + sig_at;
    out->signature_len = sig_len;
    out->wasm = bytes + sig_at + sig_len;
    out->wasm_len = len - sig_at - sig_len;
    cJSON *m = cJSON_ParseWithLength((const char *)out->manifest, manifest_len);
    if (m == NULL) return module_refuse(why, "BAD_PACKAGE", "the manifest is not JSON");
    bool ok = read_manifest(m, out, why);
    cJSON_Delete(m);
    if (!ok) return false;
    if (out->wasm_len < out->size) return module_refuse(why, "TRUNCATED", "the module has %u of its %u bytes", (unsigned)out->wasm_len, (unsigned)out->size);
    if (out->wasm_len > out->size) return module_refuse(why, "BAD_PACKAGE", "the module has %u bytes; the manifest says %u", (unsigned)out->wasm_len, (unsigned)out->size);
    uint8_t hash[32];
    if (!module_sha256(out->wasm, out->wasm_len, hash) || memcmp(hash, out->sha256, 32) != 0) {
        return module_refuse(why, "BAD_HASH", "the module's SHA-256 differs from the manifest's");
    }
    return true;
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

bool module_pkg_verify(const module_pkg_t *pkg, const char *const *keys_pem, size_t n_keys, module_refusal_t *why)
{
    if (pkg->signature_len == 0) return module_refuse(why, "UNSIGNED", "the package is not signed (wasm-scale module sign)");
    uint8_t hash[32];
    if (!module_sha256(pkg->manifest, pkg->manifest_len, hash)) return module_refuse(why, "BAD_SIGNATURE", "cannot hash the manifest");
    bool candidate = false;
    for (size_t i = 0; i < n_keys; i++) {
        mbedtls_pk_context pk;
        mbedtls_pk_init(&pk);
        char id[17] = "";
        bool ok = mbedtls_pk_parse_public_key(&pk, (const unsigned char *)keys_pem[i], strlen(keys_pem[i]) + 1) == 0 &&
                  mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) && key_id(&pk, id);
        if (ok && (pkg->key_id[0] == '\0' || strcmp(id, pkg->key_id) == 0)) {
            candidate = true;
            ok = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof hash, pkg->signature, pkg->signature_len) == 0;
            mbedtls_pk_free(&pk);
            if (ok) return true;
            continue;
        }
        mbedtls_pk_free(&pk);
    }
    if (!candidate) return module_refuse(why, "UNTRUSTED_KEY", "signed by key %s, which this device does not trust", pkg->key_id[0] ? pkg->key_id : "(unnamed)");
    return module_refuse(why, "BAD_SIGNATURE", "the signature does not verify against the manifest");
}

/* ---- the .wasm, before WAMR sees it ----------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} reader_t;

static uint32_t u32(reader_t *r)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (r->p >= r->end) break;
        uint8_t b = *r->p++;
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = true;
    return 0;
}

static int32_t s32(reader_t *r)
{
    int32_t v = 0;
    int shift = 0;
    uint8_t b = 0x80;
    while ((b & 0x80) && shift < 35) {
        if (r->p >= r->end) {
            r->bad = true;
            return 0;
        }
        b = *r->p++;
        v |= (int32_t)((uint32_t)(b & 0x7f) << shift);
        shift += 7;
    }
    if (b & 0x80) r->bad = true;
    if (shift < 32 && (b & 0x40)) v |= (int32_t)(~0u << shift);
    return v;
}

#define MAX_GLOBALS 64

bool module_wasm_scan(const uint8_t *wasm, size_t len, module_refusal_t *why)
{
    if (len < 8 || memcmp(wasm, "\0asm\1\0\0\0", 8) != 0) return module_refuse(why, "BAD_MODULE", "not a WebAssembly module");
    reader_t r = {wasm + 8, wasm + len, false};
    struct {
        bool mutable_i32;
        bool constant;
        int32_t value;
    } globals[MAX_GLOBALS];
    uint32_t n_globals = 0, memories = 0, max_pages = 0, heap_base_at = UINT32_MAX, data_end_at = UINT32_MAX;
    bool has_max = false;
    while (r.p < r.end && !r.bad) {
        uint8_t id = *r.p++;
        uint32_t size = u32(&r);
        if (r.bad || size > (size_t)(r.end - r.p)) return module_refuse(why, "BAD_MODULE", "a section runs past the end of the module");
        reader_t s = {r.p, r.p + size, false};
        r.p += size;
        if (id == 2 && u32(&s) > 0) return module_refuse(why, "FORBIDDEN_IMPORT", "imports something: a calibration module may import nothing");
        if (id == 8) return module_refuse(why, "BAD_MODULE", "has a start function (it would run before any budget applies)");
        if (id == 5) {
            memories = u32(&s);
            if (memories == 1 && s.p < s.end) {
                uint8_t flags = *s.p++;
                (void)u32(&s);
                has_max = flags & 1;
                if (has_max) max_pages = u32(&s);
            }
        } else if (id == 6) {
            n_globals = u32(&s);
            if (n_globals > MAX_GLOBALS) return module_refuse(why, "BAD_MODULE", "more than %d globals", MAX_GLOBALS);
            for (uint32_t i = 0; i < n_globals && !s.bad && s.p + 3 <= s.end; i++) {
                uint8_t type = *s.p++, mut = *s.p++, op = *s.p++;
                globals[i].mutable_i32 = type == 0x7f && mut == 1;
                globals[i].constant = type == 0x7f && op == 0x41;
                globals[i].value = 0;
                if (op == 0x41) globals[i].value = s32(&s);
                else if (op == 0x42) { (void)s32(&s); /* i64: not the stack pointer WAMR looks for */ }
                else if (op == 0x43) s.p += 4;
                else if (op == 0x44) s.p += 8;
                else return module_refuse(why, "BAD_MODULE", "global %u has no constant initial value", (unsigned)i);
                if (s.p >= s.end || *s.p++ != 0x0b) s.bad = true;
            }
        } else if (id == 7) {
            uint32_t n = u32(&s);
            for (uint32_t i = 0; i < n && !s.bad; i++) {
                uint32_t name_len = u32(&s);
                if (name_len > (size_t)(s.end - s.p) || s.p + name_len + 1 > s.end) {
                    s.bad = true;
                    break;
                }
                const uint8_t *name = s.p;
                s.p += name_len;
                uint8_t kind = *s.p++;
                uint32_t index = u32(&s);
                if (kind == 3 && name_len == 11 && memcmp(name, "__heap_base", 11) == 0) heap_base_at = index;
                if (kind == 3 && name_len == 10 && memcmp(name, "__data_end", 10) == 0) data_end_at = index;
            }
        }
        if (s.bad) return module_refuse(why, "BAD_MODULE", "section %u is malformed", id);
    }
    if (r.bad) return module_refuse(why, "BAD_MODULE", "the module is malformed");
    if (memories != 1) return module_refuse(why, "MEMORY", "declares %u memories; a calibration module has one", (unsigned)memories);
    if (!has_max || max_pages > 1) return module_refuse(why, "MEMORY", "its memory may grow past one page");
    if (heap_base_at >= n_globals || data_end_at >= n_globals || !globals[heap_base_at].constant || !globals[data_end_at].constant ||
        globals[heap_base_at].mutable_i32 || globals[data_end_at].mutable_i32) {
        return module_refuse(why, "MEMORY", "exports no constant __heap_base and __data_end: it would take a whole 64 KiB page");
    }
    uint32_t heap_base = (uint32_t)globals[heap_base_at].value, data_end = (uint32_t)globals[data_end_at].value;
    if (data_end > heap_base || heap_base > 65536 || ((data_end + 15) & ~15u) > heap_base) {
        return module_refuse(why, "MEMORY", "__data_end %u and __heap_base %u do not let WAMR shrink its memory", (unsigned)data_end, (unsigned)heap_base);
    }
    for (uint32_t i = 0; i < n_globals; i++) {
        if (globals[i].mutable_i32 && globals[i].constant && (uint32_t)globals[i].value <= heap_base) {
            if (globals[i].value != 0) {
                return module_refuse(why, "BAD_MODULE", "mutable i32 global %u starts at %d: WAMR would take it for a stack pointer", (unsigned)i, (int)globals[i].value);
            }
            break;
        }
    }
    return true;
}
