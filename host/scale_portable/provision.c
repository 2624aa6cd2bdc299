/*
 * Provisioning (scale_provision.h): the settings record, each value's rules, and the session that
 * speaks Improv serial and the line protocol (docs/provisioning.md) over one serial port.
 *
 * The record: "WSPV", version (u16), length of the fields (u16), then each field set as tag (u8),
 * length (u16, little-endian), the bytes and a NUL, then a CRC-32 of everything before it.
 */
#include "scale_provision.h"
#include "scale_portable.h"

#include <stdio.h>
#include <string.h>

#define MAGIC "WSPV"
#define HEADER 8u
#define FIELD_HEADER 3u
#define CRC_BYTES 4u

static const char *const NAMES[PROV_FIELDS] = {
    [PROV_WIFI_SSID] = "wifi_ssid", [PROV_WIFI_PASSWORD] = "wifi_password", [PROV_BROKER] = "broker",
    [PROV_USERNAME] = "username",   [PROV_PASSWORD] = "password",           [PROV_DEVICE_ID] = "device_id",
    [PROV_CA] = "ca",               [PROV_CERT] = "cert",                   [PROV_KEY] = "key",
};
static const uint16_t MAX_LEN[PROV_FIELDS] = {
    [PROV_WIFI_SSID] = 32, [PROV_WIFI_PASSWORD] = 64, [PROV_BROKER] = 200,          [PROV_USERNAME] = 64, [PROV_PASSWORD] = 128,
    [PROV_DEVICE_ID] = 32, [PROV_CA] = PROV_MAX_CA,   [PROV_CERT] = PROV_MAX_PEM, [PROV_KEY] = PROV_MAX_PEM,
};

const char *prov_field_name(prov_field_t f)
{
    return (unsigned)f < PROV_FIELDS ? NAMES[f] : NULL;
}

int prov_field_by_name(const char *name, size_t len)
{
    for (int f = 0; f < PROV_FIELDS; f++) {
        if (strlen(NAMES[f]) == len && memcmp(NAMES[f], name, len) == 0) return f;
    }
    return -1;
}

bool prov_field_secret(prov_field_t f)
{
    return f == PROV_WIFI_PASSWORD || f == PROV_PASSWORD || f == PROV_KEY;
}

static bool is_pem(prov_field_t f)
{
    return f == PROV_CA || f == PROV_CERT || f == PROV_KEY;
}

/* ---- the rules of each value ------------------------------------------------------------------ */

static bool printable(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) return false;
    }
    return true;
}

/* UTF-8 text: no control characters (MQTT's user name and password are UTF-8 strings). */
static bool text(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f) return false;
    }
    return true;
}

static bool hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

static bool host_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == '-';
}

static const char *check_broker(const char *v, size_t len)
{
    size_t at;
    if (len >= 8 && memcmp(v, "mqtts://", 8) == 0) at = 8;
    else if (len >= 6 && memcmp(v, "wss://", 6) == 0) at = 6;
    else return "the broker must be mqtts://host[:port] or wss://host[:port]/path: plaintext MQTT is refused";
    const size_t host = at;
    while (at < len && host_char(v[at])) at++;
    if (at == host) return "the broker URL has no host name";
    if (at < len && v[at] == ':') {
        unsigned long port = 0;
        const size_t digits = ++at;
        while (at < len && v[at] >= '0' && v[at] <= '9' && at - digits < 5) port = port * 10 + (unsigned long)(v[at++] - '0');
        if (at == digits || port < 1 || port > 65535) return "the broker's port must be 1..65535";
    }
    if (at < len && (v[0] == 'm' || v[at] != '/')) return "the broker URL has something after its host and port that is not a path (wss:// only)";
    return printable(v + at, len - at) && memchr(v + at, ' ', len - at) == NULL ? NULL : "the broker URL's path has a space or a control character";
}

static bool contains(const char *v, size_t len, const char *needle)
{
    const size_t k = strlen(needle);
    for (size_t i = 0; i + k <= len; i++) {
        if (memcmp(v + i, needle, k) == 0) return true;
    }
    return false;
}

/* The PEM's form: BEGIN and END lines of the kind the field needs, printable lines between them. */
static const char *check_pem_form(prov_field_t f, const char *v, size_t len)
{
    const char *begin = f == PROV_KEY ? "-----BEGIN " : "-----BEGIN CERTIFICATE-----\n";
    if (len < strlen(begin) || memcmp(v, begin, strlen(begin)) != 0) {
        return f == PROV_KEY ? "a key must be PEM (-----BEGIN ... PRIVATE KEY-----)" : "a certificate must be PEM (-----BEGIN CERTIFICATE-----)";
    }
    for (size_t i = 0; i < len; i++) {
        if (v[i] != '\n' && ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)) return "the PEM text has a byte that is not printable";
    }
    if (v[len - 1] != '\n' || len < 12) return "the PEM text must end with its -----END ...----- line";
    size_t last = len - 1;
    while (last > 0 && v[last - 1] != '\n') last--;
    if (len - last < 10 || memcmp(v + last, "-----END ", 9) != 0) return "the PEM text must end with its -----END ...----- line";
    if (f == PROV_KEY && (contains(v, len, "ENCRYPTED") || contains(v, len, "Proc-Type"))) return "the key is encrypted: give it without a passphrase";
    return NULL;
}

const char *prov_check(prov_field_t f, const char *v, size_t len)
{
    if ((unsigned)f >= PROV_FIELDS) return "no such setting";
    if (len > MAX_LEN[f]) {
        switch (f) {
        case PROV_WIFI_SSID: return "the WiFi SSID must be 1..32 bytes";
        case PROV_CA: return "the CA is longer than 3072 bytes of PEM";
        case PROV_CERT: case PROV_KEY: return "longer than 2048 bytes of PEM";
        default: return "too long";
        }
    }
    if (memchr(v, '\0', len) != NULL) return "a value cannot hold a NUL byte";
    switch (f) {
    case PROV_WIFI_SSID:
        if (len == 0) return "the WiFi SSID must be 1..32 bytes";
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f) return "the WiFi SSID has a control character";
        }
        return NULL;
    case PROV_WIFI_PASSWORD:
        if (len == 64) {
            for (size_t i = 0; i < len; i++) {
                if (!hex(v[i])) return "a 64-character WiFi password must be a raw PSK of 64 hex digits";
            }
            return NULL;
        }
        if (len != 0 && (len < 8 || len > 63)) return "the WiFi password must be empty (an open network), 8..63 characters, or 64 hex digits";
        return printable(v, len) ? NULL : "the WiFi password must be printable ASCII";
    case PROV_BROKER:
        return check_broker(v, len);
    case PROV_USERNAME:
        return text(v, len) ? NULL : "the user name cannot hold a control character (at most 64 bytes)";
    case PROV_PASSWORD:
        return text(v, len) ? NULL : "the password cannot hold a control character (at most 128 bytes)";
    case PROV_DEVICE_ID:
        if (len == 0) return "the device id must be 1..32 of A-Z a-z 0-9 _ -";
        for (size_t i = 0; i < len; i++) {
            if (!id_char(v[i])) return "the device id may use only A-Z a-z 0-9 _ -";
        }
        return NULL;
    default:
        return check_pem_form(f, v, len);
    }
}

const char *prov_check_set(const prov_settings_t *s)
{
    const prov_value_t *cert = &s->v[PROV_CERT], *key = &s->v[PROV_KEY];
    if ((cert->p != NULL) != (key->p != NULL)) return cert->p ? "the certificate has no key: set key too" : "the key has no certificate: set cert too";
    if (cert->p) return prov_check_pair(cert->p, cert->len, key->p, key->len);
    return NULL;
}

/* ---- the record ------------------------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* The fields of a record (header, then fields_len bytes of fields): true when each is well formed. */
static bool read_fields(const uint8_t *rec, size_t fields_len, prov_settings_t *out)
{
    memset(out, 0, sizeof *out);
    size_t at = HEADER;
    const size_t end = HEADER + fields_len;
    while (at < end) {
        if (end - at < FIELD_HEADER + 1) return false;
        const unsigned tag = rec[at];
        const size_t len = get16(rec + at + 1);
        if (tag >= PROV_FIELDS || out->v[tag].p != NULL || end - at - FIELD_HEADER < len + 1) return false;
        const char *v = (const char *)rec + at + FIELD_HEADER;
        if (v[len] != '\0' || prov_check((prov_field_t)tag, v, len) != NULL) return false;
        out->v[tag].p = v;
        out->v[tag].len = (uint16_t)len;
        at += FIELD_HEADER + len + 1;
    }
    return true;
}

bool prov_record_read(const uint8_t *rec, size_t len, prov_settings_t *out)
{
    memset(out, 0, sizeof *out);
    if (rec == NULL || len < HEADER + CRC_BYTES || len > PROV_RECORD_MAX || memcmp(rec, MAGIC, 4) != 0) return false;
    if (get16(rec + 4) != PROV_RECORD_VERSION || HEADER + get16(rec + 6) + CRC_BYTES != len) return false;
    const uint32_t crc = (uint32_t)rec[len - 4] | (uint32_t)rec[len - 3] << 8 | (uint32_t)rec[len - 2] << 16 | (uint32_t)rec[len - 1] << 24;
    if (scale_crc32(rec, len - CRC_BYTES) != crc) return false;
    if (read_fields(rec, get16(rec + 6), out)) return true;
    memset(out, 0, sizeof *out);
    return false;
}

static void seal(uint8_t *out, size_t fields_len)
{
    memcpy(out, MAGIC, 4);
    put16(out + 4, PROV_RECORD_VERSION);
    put16(out + 6, fields_len);
    const uint32_t crc = scale_crc32(out, HEADER + fields_len);
    for (int i = 0; i < 4; i++) out[HEADER + fields_len + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

size_t prov_record_write(const prov_settings_t *s, uint8_t *out, size_t cap)
{
    size_t at = HEADER;
    for (int f = 0; f < PROV_FIELDS; f++) {
        const prov_value_t *v = &s->v[f];
        if (v->p == NULL) continue;
        if (at + FIELD_HEADER + v->len + 1 + CRC_BYTES > cap) return 0;
        out[at] = (uint8_t)f;
        put16(out + at + 1, v->len);
        memcpy(out + at + FIELD_HEADER, v->p, v->len);
        out[at + FIELD_HEADER + v->len] = '\0';
        at += FIELD_HEADER + v->len + 1;
    }
    seal(out, at - HEADER);
    return at + CRC_BYTES;
}

/* ---- the record being edited: header and fields in s->edit, sealed on commit ------------------ */

static void edit_begin(prov_session_t *s)
{
    if (s->staged) return;
    prov_settings_t cur;
    if (prov_record_read(s->stored, s->stored_len, &cur)) {
        memcpy(s->edit, s->stored, s->stored_len - CRC_BYTES);
        s->edit_len = s->stored_len - CRC_BYTES;
    } else {
        s->edit_len = HEADER;
    }
}

/* Where field f lies in the edit (its header), or 0. */
static size_t edit_find(const prov_session_t *s, int f)
{
    for (size_t at = HEADER; at < s->edit_len; at += FIELD_HEADER + get16(s->edit + at + 1) + 1) {
        if (s->edit[at] == f) return at;
    }
    return 0;
}

static void edit_remove(prov_session_t *s, int f)
{
    const size_t at = edit_find(s, f);
    if (at == 0) return;
    const size_t n = FIELD_HEADER + get16(s->edit + at + 1) + 1;
    memmove(s->edit + at, s->edit + at + n, s->edit_len - at - n);
    s->edit_len -= n;
}

/* Replaces field f; false when the record would not fit. */
static bool edit_set(prov_session_t *s, int f, const char *v, size_t len)
{
    edit_remove(s, f);
    if (s->edit_len + FIELD_HEADER + len + 1 + CRC_BYTES > PROV_RECORD_MAX) return false;
    uint8_t *p = s->edit + s->edit_len;
    p[0] = (uint8_t)f;
    put16(p + 1, len);
    memcpy(p + FIELD_HEADER, v, len);
    p[FIELD_HEADER + len] = '\0';
    s->edit_len += FIELD_HEADER + len + 1;
    return true;
}

/* ---- output ------------------------------------------------------------------------------------ */

void prov_write_stdout(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}

static void out(prov_session_t *s, const char *text)
{
    s->io.write(s->io.ctx, (const uint8_t *)text, strlen(text));
}

static void out_bytes(prov_session_t *s, const char *p, size_t n)
{
    s->io.write(s->io.ctx, (const uint8_t *)p, n);
}

static void ok(prov_session_t *s, const char *text)
{
    out(s, "prov ok ");
    out(s, text);
    out(s, "\n");
}

static void err(prov_session_t *s, const char *code, const char *field, const char *why)
{
    out(s, "prov err ");
    out(s, code);
    out(s, " ");
    if (field) {
        out(s, field);
        out(s, ": ");
    }
    out(s, why);
    out(s, "\n");
}

/* A JSON string (escaped), or null. */
static void out_json(prov_session_t *s, const char *p, size_t n)
{
    if (p == NULL) {
        out(s, "null");
        return;
    }
    out(s, "\"");
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue; /* UTF-8 passes whole */
        out_bytes(s, p + from, i - from);
        char esc[8];
        snprintf(esc, sizeof esc, c == '"' || c == '\\' ? "\\%c" : "\\u%04x", c);
        out(s, esc);
        from = i + 1;
    }
    out_bytes(s, p + from, n - from);
    out(s, "\"");
}

/* ---- the line protocol -------------------------------------------------------------------------- */

static void cmd_get(prov_session_t *s)
{
    prov_settings_t cur;
    const bool stored = prov_record_read(s->stored, s->stored_len, &cur);
    out(s, "prov ok {\"stored\":");
    out(s, stored ? "true" : "false");
    for (int f = 0; f < PROV_FIELDS; f++) {
        out(s, ",\"");
        out(s, NAMES[f]);
        out(s, "\":");
        const prov_value_t *v = &cur.v[f];
        if (prov_field_secret((prov_field_t)f)) {
            out(s, v->p ? "true" : "false");
        } else if (is_pem((prov_field_t)f) && v->p) {
            /* A certificate is named by its subject, its bytes never printed back whole. */
            char subject[160];
            const size_t n = prov_pem_subject(v->p, v->len, subject, sizeof subject);
            out_json(s, subject, n);
        } else {
            out_json(s, v->p, v->len);
        }
    }
    out(s, ",\"staged\":[");
    bool first = true;
    for (int f = 0; f < PROV_FIELDS; f++) {
        if ((s->staged & (1u << f)) == 0) continue;
        out(s, first ? "\"" : ",\"");
        out(s, NAMES[f]);
        out(s, "\"");
        first = false;
    }
    out(s, "]}\n");
}

/* The staged record, sealed and checked as a whole, handed to the host; true when kept. */
static bool commit(prov_session_t *s, const char **why)
{
    prov_settings_t next;
    if (!read_fields(s->edit, s->edit_len - HEADER, &next)) {
        *why = "the staged record is damaged";
        return false;
    }
    if ((*why = prov_check_set(&next)) != NULL) return false;
    seal(s->edit, s->edit_len - HEADER);
    const uint8_t *kept = s->io.save(s->io.ctx, s->edit, s->edit_len + CRC_BYTES);
    if (kept == NULL) {
        *why = "the settings could not be written: the old ones are kept";
        return false;
    }
    s->stored = kept;
    s->stored_len = s->edit_len + CRC_BYTES;
    s->staged = 0;
    return true;
}

static void cmd_set(prov_session_t *s, const char *args, size_t n)
{
    const char *sp = memchr(args, ' ', n);
    const size_t name_len = sp ? (size_t)(sp - args) : n;
    const int f = prov_field_by_name(args, name_len);
    if (f < 0) {
        err(s, "UNKNOWN_FIELD", NULL, "the settings are wifi_ssid wifi_password broker username password device_id ca cert key");
        return;
    }
    const char *v = sp ? sp + 1 : args + n;
    const size_t len = sp ? n - name_len - 1 : 0;
    if (is_pem((prov_field_t)f)) {
        if (len) {
            err(s, "BAD_VALUE", NAMES[f], "give the PEM on the lines after the set line, ending with its -----END ...----- line");
            return;
        }
        s->block = f;
        s->block_bad = false;
        s->value_len = 0;
        return; /* answered at its END line */
    }
    const char *why = prov_check((prov_field_t)f, v, len);
    if (why) {
        err(s, "BAD_VALUE", NAMES[f], why);
        return;
    }
    edit_begin(s);
    if (!edit_set(s, f, v, len)) {
        err(s, "TOO_LONG", NAMES[f], "the settings would not fit in their record");
        return;
    }
    s->staged |= 1u << f;
    out(s, "prov ok ");
    out(s, NAMES[f]);
    out(s, " staged\n");
}

static void block_line(prov_session_t *s, const char *line, size_t n)
{
    const int f = s->block;
    if (n == 5 && memcmp(line, "abort", 5) == 0) {
        /* No PEM line is five characters long: the value is given up. */
        s->block = -1;
        err(s, "ABORTED", NAMES[f], "the value was given up; nothing staged");
        return;
    }
    if (!s->block_bad && s->value_len + n + 1 <= MAX_LEN[f]) {
        memcpy(s->value + s->value_len, line, n);
        s->value[s->value_len + n] = '\n';
        s->value_len += n + 1;
    } else {
        s->block_bad = true;
    }
    if (n < 9 || memcmp(line, "-----END ", 9) != 0) return;
    s->block = -1;
    if (s->block_bad) {
        err(s, "TOO_LONG", NAMES[f], f == PROV_CA ? "the CA is longer than 3072 bytes of PEM" : "longer than 2048 bytes of PEM");
        return;
    }
    s->value[s->value_len] = '\0'; /* mbedTLS reads PEM up to a NUL */
    const char *why = prov_check((prov_field_t)f, (const char *)s->value, s->value_len);
    if (why == NULL) why = prov_check_pem((prov_field_t)f, (const char *)s->value, s->value_len);
    if (why) {
        err(s, "BAD_VALUE", NAMES[f], why);
        return;
    }
    edit_begin(s);
    if (!edit_set(s, f, (const char *)s->value, s->value_len)) {
        err(s, "TOO_LONG", NAMES[f], "the settings would not fit in their record");
        return;
    }
    s->staged |= 1u << f;
    char text[48];
    snprintf(text, sizeof text, "%s staged (%u bytes)", NAMES[f], (unsigned)s->value_len);
    ok(s, text);
}

static bool word(const char *line, size_t n, const char *w, const char **rest, size_t *rest_len)
{
    const size_t k = strlen(w);
    if (n < k || memcmp(line, w, k) != 0 || (n > k && line[k] != ' ')) return false;
    *rest = n > k ? line + k + 1 : line + n;
    *rest_len = n > k ? n - k - 1 : 0;
    return true;
}

static void handle_line(prov_session_t *s, const char *line, size_t n)
{
    if (s->block >= 0) {
        block_line(s, line, n);
        return;
    }
    if (n == 0) return;
    const char *rest;
    size_t rest_len;
    if (word(line, n, "hello", &rest, &rest_len)) {
        out(s, "prov ok {\"firmware\":");
        out_json(s, s->io.firmware, strlen(s->io.firmware));
        out(s, ",\"version\":");
        out_json(s, s->io.version, strlen(s->io.version));
        out(s, ",\"chip\":");
        out_json(s, s->io.chip, strlen(s->io.chip));
        out(s, ",\"protocol\":1}\n");
    } else if (word(line, n, "get", &rest, &rest_len)) {
        cmd_get(s);
    } else if (word(line, n, "set", &rest, &rest_len)) {
        cmd_set(s, rest, rest_len);
    } else if (word(line, n, "unset", &rest, &rest_len)) {
        const int f = prov_field_by_name(rest, rest_len);
        if (f < 0) {
            err(s, "UNKNOWN_FIELD", NULL, "the settings are wifi_ssid wifi_password broker username password device_id ca cert key");
            return;
        }
        edit_begin(s);
        edit_remove(s, f);
        s->staged |= 1u << f;
        out(s, "prov ok ");
        out(s, NAMES[f]);
        out(s, " staged: the build's value\n");
    } else if (word(line, n, "commit", &rest, &rest_len)) {
        if (!s->staged) {
            ok(s, "nothing staged");
            return;
        }
        const char *why;
        if (!commit(s, &why)) {
            err(s, "NOT_SAVED", NULL, why);
            return;
        }
        char text[64];
        snprintf(text, sizeof text, "saved (%u bytes): in use from the next restart", (unsigned)s->stored_len);
        ok(s, text);
    } else if (word(line, n, "abort", &rest, &rest_len)) {
        s->staged = 0;
        ok(s, "staged changes dropped");
    } else if (word(line, n, "factory-reset", &rest, &rest_len)) {
        /* Erased, or (a host without erase) replaced by a record that sets nothing. */
        uint8_t empty[HEADER + CRC_BYTES];
        const prov_settings_t none = {0};
        const size_t n = prov_record_write(&none, empty, sizeof empty);
        const uint8_t *kept = s->io.erase ? (s->io.erase(s->io.ctx) ? empty : NULL) : s->io.save(s->io.ctx, empty, n);
        if (kept == NULL) {
            err(s, "NOT_SAVED", NULL, "the settings could not be erased: the old ones are kept");
            return;
        }
        s->stored = s->io.erase ? NULL : kept;
        s->stored_len = s->io.erase ? 0 : n;
        s->staged = 0;
        ok(s, "settings erased: the build's values apply from the next restart");
    } else if (word(line, n, "restart", &rest, &rest_len)) {
        if (s->io.restart == NULL) {
            err(s, "UNSUPPORTED", NULL, "this host cannot restart");
            return;
        }
        if (s->staged) {
            err(s, "STAGED", NULL, "changes are staged: commit or abort them first");
            return;
        }
        ok(s, "restarting");
        s->io.restart(s->io.ctx);
    } else {
        err(s, "UNKNOWN_COMMAND", NULL, "commands: hello, get, set <name> [value], unset <name>, commit, abort, factory-reset, restart");
    }
}

/* ---- Improv serial -------------------------------------------------------------------------------- */

static const char IMPROV[6] = {'I', 'M', 'P', 'R', 'O', 'V'};
enum { TYPE_STATE = 0x01, TYPE_ERROR = 0x02, TYPE_RPC = 0x03, TYPE_RESULT = 0x04 };
enum { RPC_WIFI = 0x01, RPC_STATE = 0x02, RPC_INFO = 0x03, RPC_SCAN = 0x04 };

static void improv_send(prov_session_t *s, uint8_t type, const uint8_t *data, size_t len)
{
    uint8_t p[9 + 256 + 1];
    memcpy(p, IMPROV, 6);
    p[6] = 1;
    p[7] = type;
    p[8] = (uint8_t)len;
    memcpy(p + 9, data, len);
    uint8_t sum = 0;
    for (size_t i = 0; i < 9 + len; i++) sum = (uint8_t)(sum + p[i]);
    p[9 + len] = sum;
    p[10 + len] = '\n'; /* a terminal between packets stays readable; clients skip to the next header */
    s->io.write(s->io.ctx, p, 11 + len);
}

static void improv_byte(prov_session_t *s, uint8_t type, uint8_t value)
{
    improv_send(s, type, &value, 1);
}

/* An RPC result: the command answered and up to four strings. */
static void improv_result(prov_session_t *s, uint8_t cmd, const char *const *strings, int count)
{
    uint8_t d[256];
    size_t at = 2;
    for (int i = 0; i < count; i++) {
        size_t n = strlen(strings[i]);
        if (n > 60) n = 60;
        d[at++] = (uint8_t)n;
        memcpy(d + at, strings[i], n);
        at += n;
    }
    d[0] = cmd;
    d[1] = (uint8_t)(at - 2);
    improv_send(s, TYPE_RESULT, d, at);
}

static const char *device_name(prov_session_t *s)
{
    prov_settings_t cur;
    if (prov_record_read(s->stored, s->stored_len, &cur) && cur.v[PROV_DEVICE_ID].p) return cur.v[PROV_DEVICE_ID].p;
    return s->default_device_id ? s->default_device_id : "";
}

static void improv_rpc(prov_session_t *s, const uint8_t *d, size_t n)
{
    if (n < 2 || d[1] != n - 2) {
        improv_byte(s, TYPE_ERROR, PROV_IMPROV_INVALID_RPC);
        return;
    }
    improv_byte(s, TYPE_ERROR, PROV_IMPROV_OK);
    switch (d[0]) {
    case RPC_WIFI: {
        const size_t ssid_len = n > 2 ? d[2] : 0;
        const size_t pw_at = 3 + ssid_len;
        if (n < pw_at + 1 || n != pw_at + 1 + d[pw_at] || s->improv_state == PROV_IMPROV_PROVISIONING ||
            prov_check(PROV_WIFI_SSID, (const char *)d + 3, ssid_len) != NULL ||
            prov_check(PROV_WIFI_PASSWORD, (const char *)d + pw_at + 1, d[pw_at]) != NULL || s->staged) {
            /* Malformed, a network the driver cannot take, an attempt under way, or changes staged by
             * the line protocol (commit or abort them first). */
            improv_byte(s, TYPE_ERROR, PROV_IMPROV_INVALID_RPC);
            return;
        }
        memcpy(s->try_ssid, d + 3, ssid_len);
        s->try_ssid[ssid_len] = '\0';
        memcpy(s->try_password, d + pw_at + 1, d[pw_at]);
        s->try_password[d[pw_at]] = '\0';
        s->improv_state = PROV_IMPROV_PROVISIONING;
        improv_byte(s, TYPE_STATE, PROV_IMPROV_PROVISIONING);
        s->io.wifi_try(s->io.ctx, s->try_ssid, s->try_password);
        return;
    }
    case RPC_STATE:
        improv_byte(s, TYPE_STATE, s->improv_state);
        if (s->improv_state == PROV_IMPROV_PROVISIONED) improv_result(s, RPC_WIFI, NULL, 0);
        return;
    case RPC_INFO: {
        const char *info[4] = {s->io.firmware, s->io.version, s->io.chip, device_name(s)};
        improv_result(s, RPC_INFO, info, 4);
        return;
    }
    case RPC_SCAN:
        /* The scale does not scan for networks: the final (here the only) answer has no strings. */
        improv_result(s, RPC_SCAN, NULL, 0);
        return;
    default:
        improv_byte(s, TYPE_ERROR, PROV_IMPROV_UNKNOWN_RPC);
        return;
    }
}

void prov_wifi_result(prov_session_t *s, bool connected)
{
    if (s->improv_state != PROV_IMPROV_PROVISIONING) return;
    if (connected) {
        edit_begin(s); /* nothing is staged: Improv refuses while something is */
        const char *why = NULL;
        if (!edit_set(s, PROV_WIFI_SSID, s->try_ssid, strlen(s->try_ssid)) || !edit_set(s, PROV_WIFI_PASSWORD, s->try_password, strlen(s->try_password)) ||
            !commit(s, &why)) {
            s->staged = 0;
            s->improv_state = PROV_IMPROV_READY;
            improv_byte(s, TYPE_ERROR, PROV_IMPROV_UNKNOWN_ERROR);
            improv_byte(s, TYPE_STATE, PROV_IMPROV_READY);
            return;
        }
        s->improv_state = PROV_IMPROV_PROVISIONED;
        improv_byte(s, TYPE_STATE, PROV_IMPROV_PROVISIONED);
        improv_result(s, RPC_WIFI, NULL, 0);
    } else {
        s->improv_state = PROV_IMPROV_READY;
        improv_byte(s, TYPE_ERROR, PROV_IMPROV_UNABLE_TO_CONNECT);
        improv_byte(s, TYPE_STATE, PROV_IMPROV_READY);
    }
    memset(s->try_password, 0, sizeof s->try_password);
}

void prov_session_online(prov_session_t *s, bool online)
{
    if (s->improv_state == PROV_IMPROV_PROVISIONING) return;
    s->improv_state = online ? PROV_IMPROV_PROVISIONED : PROV_IMPROV_READY;
}

static void improv_packet(prov_session_t *s)
{
    const uint8_t *p = s->frame;
    const size_t len = p[8];
    uint8_t sum = 0;
    for (size_t i = 0; i < 9 + len; i++) sum = (uint8_t)(sum + p[i]);
    if (p[6] != 1 || sum != p[9 + len]) {
        improv_byte(s, TYPE_ERROR, PROV_IMPROV_INVALID_RPC);
        return;
    }
    if (p[7] == TYPE_RPC) improv_rpc(s, p + 9, len);
}

/* ---- the byte stream ------------------------------------------------------------------------------ */

static void line_byte(prov_session_t *s, uint8_t c)
{
    if (c == '\n') {
        size_t n = s->line_len;
        if (n > 0 && s->line[n - 1] == '\r') n--;
        if (s->line_long) {
            if (s->block >= 0) s->block_bad = true;
            else err(s, "TOO_LONG", NULL, "a line is at most 318 bytes (PEM: 64 a line)");
        } else {
            handle_line(s, s->line, n);
        }
        s->line_len = 0;
        s->line_long = false;
        return;
    }
    if (s->line_len < sizeof s->line - 1) s->line[s->line_len++] = (char)c;
    else s->line_long = true;
}

void prov_session_feed(prov_session_t *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const uint8_t c = data[i];
        if (s->frame_len == 0 && s->line_len == 0 && !s->line_long && c == 'I') {
            s->frame[s->frame_len++] = c;
            continue;
        }
        if (s->frame_len > 0 && s->frame_len < 6) {
            if (c == (uint8_t)IMPROV[s->frame_len]) {
                s->frame[s->frame_len++] = c;
                continue;
            }
            /* Not a packet after all: those bytes begin a line. */
            const size_t n = s->frame_len;
            s->frame_len = 0;
            for (size_t k = 0; k < n; k++) line_byte(s, s->frame[k]);
            line_byte(s, c);
            continue;
        }
        if (s->frame_len >= 6) {
            s->frame[s->frame_len++] = c;
            if (s->frame_len >= 9 && s->frame_len == 10u + s->frame[8]) {
                improv_packet(s);
                s->frame_len = 0;
            }
            continue;
        }
        line_byte(s, c);
    }
}

void prov_session_init(prov_session_t *s, const prov_io_t *io, const uint8_t *stored, size_t stored_len, const char *default_device_id)
{
    memset(s, 0, sizeof *s);
    s->io = *io;
    s->stored = stored;
    s->stored_len = stored_len;
    s->default_device_id = default_device_id;
    s->block = -1;
    s->improv_state = PROV_IMPROV_READY;
}

void prov_session_end(prov_session_t *s)
{
    if (s->staged || s->block >= 0 || s->line_len > 0 || s->frame_len > 0) {
        err(s, "TIMEOUT", NULL, "nothing arrived for a long time: what was staged or half-sent is dropped");
    }
    s->staged = 0;
    s->block = -1;
    s->line_len = 0;
    s->line_long = false;
    s->frame_len = 0;
}

bool prov_session_idle(const prov_session_t *s)
{
    return s->staged == 0 && s->block < 0 && s->frame_len == 0 && s->line_len == 0 && s->improv_state != PROV_IMPROV_PROVISIONING;
}
