/*
 * Provisioning (provision.c) on Linux: the record, each value's rules, the line protocol and Improv
 * serial's packets, against a store in memory that can refuse a write. The certificates' content
 * (mbedTLS) is tested over a pseudo-terminal with real certificates (tests/provision.test.ts).
 */
#include <stdio.h>
#include <string.h>

#include "scale_provision.h"

static int s_failures;
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            s_failures++;                                                      \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                      \
    } while (0)

/* What the device wrote to the port. */
static uint8_t s_out[16384];
static size_t s_out_len;
/* The store: one record, and whether the next save fails. */
static uint8_t s_kept[PROV_RECORD_MAX];
static size_t s_kept_len;
static bool s_fail_save;
static int s_saves;
static char s_tried[100];

static void port_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    if (s_out_len + len <= sizeof s_out) memcpy(s_out + s_out_len, data, len);
    s_out_len += len;
}

static const uint8_t *save(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx;
    s_saves++;
    if (s_fail_save) return NULL;
    memcpy(s_kept, rec, len);
    s_kept_len = len;
    return s_kept;
}

static bool erase(void *ctx)
{
    (void)ctx;
    s_kept_len = 0;
    return true;
}

static void wifi_try(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    snprintf(s_tried, sizeof s_tried, "%s/%s", ssid, password);
}

static const prov_io_t IO = {.write = port_write, .save = save, .erase = erase, .wifi_try = wifi_try, .firmware = "wasm-scale", .version = "0.2.0", .chip = "esp32"};
static prov_session_t s;

static void send(const char *text)
{
    s_out_len = 0;
    prov_session_feed(&s, (const uint8_t *)text, strlen(text));
    s_out[s_out_len < sizeof s_out ? s_out_len : sizeof s_out - 1] = 0;
}

static bool said(const char *text)
{
    const size_t k = strlen(text), n = s_out_len < sizeof s_out ? s_out_len : sizeof s_out;
    for (size_t i = 0; i + k <= n; i++) {
        if (memcmp(s_out + i, text, k) == 0) return true;
    }
    return false;
}

static size_t improv(uint8_t *p, uint8_t type, const uint8_t *data, size_t len)
{
    memcpy(p, "IMPROV", 6);
    p[6] = 1;
    p[7] = type;
    p[8] = (uint8_t)len;
    memcpy(p + 9, data, len);
    uint8_t sum = 0;
    for (size_t i = 0; i < 9 + len; i++) sum = (uint8_t)(sum + p[i]);
    p[9 + len] = sum;
    return 10 + len;
}

static void send_bytes(const uint8_t *p, size_t n)
{
    s_out_len = 0;
    prov_session_feed(&s, p, n);
}

/* The n-th Improv packet the device sent of a type: its data, or NULL. */
static const uint8_t *packet(uint8_t type, int nth, size_t *len)
{
    for (size_t i = 0; i + 10 <= s_out_len; i++) {
        if (memcmp(s_out + i, "IMPROV", 6) != 0 || s_out[i + 6] != 1) continue;
        const size_t n = s_out[i + 8];
        uint8_t sum = 0;
        for (size_t k = 0; k < 9 + n; k++) sum = (uint8_t)(sum + s_out[i + k]);
        if (sum != s_out[i + 9 + n]) return NULL; /* a bad checksum is a failure */
        if (s_out[i + 7] == type && nth-- == 0) {
            *len = n;
            return s_out + i + 9;
        }
    }
    return NULL;
}

static void test_rules(void)
{
    CHECK(prov_check(PROV_WIFI_SSID, "hive", 4) == NULL);
    CHECK(prov_check(PROV_WIFI_SSID, "", 0) != NULL);
    CHECK(prov_check(PROV_WIFI_SSID, "a\tb", 3) != NULL);
    CHECK(prov_check(PROV_WIFI_SSID, "0123456789012345678901234567890123", 33) != NULL);
    CHECK(prov_check(PROV_WIFI_PASSWORD, "", 0) == NULL);
    CHECK(prov_check(PROV_WIFI_PASSWORD, "short", 5) != NULL);
    CHECK(prov_check(PROV_WIFI_PASSWORD, "long enough", 11) == NULL);
    CHECK(prov_check(PROV_WIFI_PASSWORD, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 64) == NULL);
    CHECK(prov_check(PROV_WIFI_PASSWORD, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", 64) != NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://broker.example:8883", 27) == NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://127.0.0.1", 17) == NULL);
    CHECK(prov_check(PROV_BROKER, "wss://h.example:443/mqtt", 24) == NULL);
    CHECK(prov_check(PROV_BROKER, "mqtt://broker.example", 21) != NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://", 8) != NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://h:0", 11) != NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://h:65536", 15) != NULL);
    CHECK(prov_check(PROV_BROKER, "mqtts://h/x", 11) != NULL);
    CHECK(prov_check(PROV_DEVICE_ID, "hive-7", 6) == NULL);
    CHECK(prov_check(PROV_DEVICE_ID, "hive/7", 6) != NULL);
    CHECK(prov_check(PROV_USERNAME, "a\nb", 3) != NULL);
    CHECK(prov_check(PROV_CA, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 59) == NULL);
    CHECK(prov_check(PROV_CA, "-----BEGIN CERTIFICATE-----\nAAAA\n", 33) != NULL);
    CHECK(prov_check(PROV_KEY, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", 81) != NULL);
    CHECK(prov_field_by_name("broker", 6) == PROV_BROKER);
    CHECK(prov_field_by_name("brokers", 7) == -1);
}

static void test_record(void)
{
    prov_settings_t a = {0}, b;
    a.v[PROV_WIFI_SSID] = (prov_value_t){"hive", 4};
    a.v[PROV_DEVICE_ID] = (prov_value_t){"scale7", 6};
    uint8_t rec[256];
    const size_t n = prov_record_write(&a, rec, sizeof rec);
    CHECK(n > 0);
    CHECK(prov_record_read(rec, n, &b));
    CHECK(b.v[PROV_WIFI_SSID].len == 4 && strcmp(b.v[PROV_WIFI_SSID].p, "hive") == 0);
    CHECK(b.v[PROV_BROKER].p == NULL);
    /* Every single flipped bit and every truncation is refused whole. */
    int accepted = 0;
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (uint8_t)(1 << bit);
            accepted += prov_record_read(rec, n, &b);
            rec[i] ^= (uint8_t)(1 << bit);
        }
        accepted += prov_record_read(rec, i, &b);
    }
    CHECK(accepted == 0);
    CHECK(b.v[PROV_WIFI_SSID].p == NULL);
    CHECK(prov_record_write(&a, rec, 20) == 0);
}

static void test_lines(void)
{
    prov_session_init(&s, &IO, NULL, 0, "scale1");
    send("hello\n");
    CHECK(said("prov ok {\"firmware\":\"wasm-scale\",\"version\":\"0.2.0\",\"chip\":\"esp32\",\"protocol\":1}"));
    send("set wifi_ssid My Hive Net\r\n");
    CHECK(said("prov ok wifi_ssid staged"));
    send("set wifi_password secret-pass\n");
    send("set broker mqtt://plain.example\n");
    CHECK(said("prov err BAD_VALUE broker: "));
    send("set device_id hive/7\n");
    CHECK(said("prov err BAD_VALUE device_id"));
    send("set colour blue\n");
    CHECK(said("prov err UNKNOWN_FIELD"));
    send("format c:\n");
    CHECK(said("prov err UNKNOWN_COMMAND"));
    send("get\n");
    CHECK(said("\"stored\":false") && said("\"wifi_ssid\":null") && said("\"staged\":[\"wifi_ssid\",\"wifi_password\"]"));
    /* A write that fails keeps nothing and says so; the staged values wait. */
    s_fail_save = true;
    send("commit\n");
    CHECK(said("prov err NOT_SAVED"));
    CHECK(s_kept_len == 0);
    s_fail_save = false;
    send("set device_id hive-7\ncommit\n");
    CHECK(said("prov ok saved"));
    send("get\n");
    CHECK(said("\"stored\":true,\"wifi_ssid\":\"My Hive Net\",\"wifi_password\":true,\"broker\":null"));
    send("set username Jos\xc3\xa9 \"the keeper\"\ncommit\nget\n");
    CHECK(said("\"username\":\"Jos\xc3\xa9 \\\"the keeper\\\"\""));
    CHECK(said("\"device_id\":\"hive-7\""));
    CHECK(!said("secret-pass")); /* a secret is never printed back */
    CHECK(said("\"staged\":[]"));
    /* A certificate without its key is refused at commit, and nothing is written. */
    const int saves = s_saves;
    send("set cert\n-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    CHECK(said("prov err BAD_VALUE cert: "));
    send("set ca now\n");
    CHECK(said("prov err BAD_VALUE ca"));
    send("set key\n-----BEGIN PRIVATE KEY-----\nabort\n");
    CHECK(said("prov err ABORTED key"));
    CHECK(s_saves == saves);
    /* unset goes back to the build's value; abort drops what is staged. */
    send("unset device_id\nabort\nget\n");
    CHECK(said("\"device_id\":\"hive-7\""));
    send("unset device_id\ncommit\nget\n");
    CHECK(said("\"device_id\":null"));
    /* A line too long is refused, and the next one is read. */
    char longline[400];
    memset(longline, 'x', sizeof longline);
    memcpy(longline, "set username ", 13);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = 0;
    send(longline);
    CHECK(said("prov err TOO_LONG"));
    send("restart\n");
    CHECK(said("prov err UNSUPPORTED"));
    /* A long silence with something staged: dropped, and said; with nothing staged, nothing said. */
    send("set username later\n");
    s_out_len = 0;
    prov_session_end(&s);
    CHECK(said("prov err TIMEOUT"));
    CHECK(prov_session_idle(&s) && s.staged == 0);
    s_out_len = 0;
    prov_session_end(&s);
    CHECK(s_out_len == 0);
    send("factory-reset\nget\n");
    CHECK(said("\"stored\":false"));
}

static void test_improv(void)
{
    prov_session_init(&s, &IO, NULL, 0, "scale1");
    uint8_t p[300];
    size_t len;
    /* Device information: four strings. */
    const uint8_t info[] = {0x03, 0x00};
    send_bytes(p, improv(p, 0x03, info, sizeof info));
    const uint8_t *d = packet(0x04, 0, &len);
    CHECK(d && d[0] == 0x03 && len == 2u + d[1]);
    CHECK(d && memcmp(d + 2, "\x0awasm-scale\x05" "0.2.0\x05" "esp32\x06scale1", 30) == 0);
    /* Current state: ready. */
    const uint8_t state[] = {0x02, 0x00};
    send_bytes(p, improv(p, 0x03, state, sizeof state));
    d = packet(0x01, 0, &len);
    CHECK(d && len == 1 && d[0] == PROV_IMPROV_READY);
    /* A bad checksum: invalid packet. */
    const size_t n = improv(p, 0x03, state, sizeof state);
    p[n - 1] ^= 0x55;
    send_bytes(p, n);
    d = packet(0x02, 0, &len);
    CHECK(d && d[0] == PROV_IMPROV_INVALID_RPC);
    /* An unknown command. */
    const uint8_t hostname[] = {0x05, 0x00};
    send_bytes(p, improv(p, 0x03, hostname, sizeof hostname));
    d = packet(0x02, 1, &len);
    CHECK(d && d[0] == PROV_IMPROV_UNKNOWN_RPC);
    /* WiFi that does not connect: unable to connect, nothing kept. */
    const uint8_t wifi[] = {0x01, 0x12, 0x04, 'h', 'i', 'v', 'e', 0x0c, 'p', 'a', 's', 's', 'w', 'o', 'r', 'd', '-', '1', '2', '3'};
    send_bytes(p, improv(p, 0x03, wifi, sizeof wifi));
    CHECK(strcmp(s_tried, "hive/password-123") == 0);
    d = packet(0x01, 0, &len);
    CHECK(d && d[0] == PROV_IMPROV_PROVISIONING);
    s_out_len = 0;
    prov_wifi_result(&s, false);
    d = packet(0x02, 0, &len);
    CHECK(d && d[0] == PROV_IMPROV_UNABLE_TO_CONNECT);
    CHECK(s_kept_len == 0);
    /* A password the driver cannot take (5 characters): invalid, nothing tried. */
    s_tried[0] = 0;
    const uint8_t weak[] = {0x01, 0x0b, 0x04, 'h', 'i', 'v', 'e', 0x05, 'p', 'a', 's', 's', 'w'};
    send_bytes(p, improv(p, 0x03, weak, sizeof weak));
    CHECK(s_tried[0] == 0);
    d = packet(0x02, 1, &len);
    CHECK(d && d[0] == PROV_IMPROV_INVALID_RPC);
    /* Mixed with a line: both are answered. */
    const size_t m = improv(p, 0x03, wifi, sizeof wifi);
    memcpy(p + m, "hello\n", 6);
    send_bytes(p, m + 6);
    CHECK(said("prov ok {\"firmware\""));
    s_out_len = 0;
    prov_wifi_result(&s, true);
    d = packet(0x01, 0, &len);
    CHECK(d && d[0] == PROV_IMPROV_PROVISIONED);
    d = packet(0x04, 0, &len);
    CHECK(d && d[0] == 0x01 && d[1] == 0);
    prov_settings_t kept;
    CHECK(prov_record_read(s_kept, s_kept_len, &kept) && strcmp(kept.v[PROV_WIFI_SSID].p, "hive") == 0 &&
          strcmp(kept.v[PROV_WIFI_PASSWORD].p, "password-123") == 0);
    send_bytes(p, improv(p, 0x03, state, sizeof state));
    d = packet(0x01, 0, &len);
    CHECK(d && d[0] == PROV_IMPROV_PROVISIONED);
    CHECK(prov_session_idle(&s));
}

int main(void)
{
    test_rules();
    test_record();
    test_lines();
    test_improv();
    if (s_failures) {
        fprintf(stderr, "%d check(s) failed\n", s_failures);
        return 1;
    }
    printf("provisioning: all checks passed; a session takes %zu bytes\n", sizeof(prov_session_t));
    return 0;
}
