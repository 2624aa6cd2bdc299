/* The Pico W's settings and its provisioning session: see settings_pico.h. */
#include "settings_pico.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardware/watchdog.h"
#include "pico/stdlib.h"
#include "scale_provision.h"
#include "store_settings.h"

/* A network given by Improv may take this long to come up before it is refused. */
#define WIFI_TRY_MS 30000
/* A session that hears nothing for this long gives its memory back (staged changes are dropped, and said). */
#define IDLE_MS 300000

static pico_settings_build_t s_build;
static pico_settings_t s_settings;
static prov_session_t *s_session;
static uint32_t s_last_ms;
static bool s_try_started, s_reboot;
static uint32_t s_try_until;
static char s_ssid[33], s_password[65];
/* The network Improv asked to try: the session's own strings, valid until prov_wifi_result. */
static const char *s_try_ssid, *s_try_password;

/* "mqtts://host[:port]" into the settings; false for anything else (wss:// is the ESP32's only). */
static bool broker(const char *uri, pico_settings_t *s)
{
    if (strncmp(uri, "mqtts://", 8) != 0) return false;
    const char *host = uri + 8, *colon = strchr(host, ':');
    const size_t n = colon ? (size_t)(colon - host) : strlen(host);
    if (n == 0 || n >= sizeof s->broker_host) return false;
    memcpy(s->broker_host, host, n);
    s->broker_host[n] = '\0';
    s->broker_port = colon ? (uint16_t)strtoul(colon + 1, NULL, 10) : 8883;
    return true;
}

static const char *pick(const prov_settings_t *p, prov_field_t f, const char *build)
{
    return p->v[f].p ? p->v[f].p : build;
}

const pico_settings_t *pico_settings_load(const pico_settings_build_t *build)
{
    s_build = *build;
    prov_settings_t p = {0};
    size_t len = 0;
    const uint8_t *record = store_settings_get(&len);
    const bool stored = record != NULL && prov_record_read(record, len, &p);
    if (record != NULL && !stored) printf("wasm-scale: the stored settings are damaged: the build's are used (provision the scale again)\n");
    pico_settings_t *s = &s_settings;
    memset(s, 0, sizeof *s);
    s->stored = stored;
    s->wifi_ssid = pick(&p, PROV_WIFI_SSID, build->wifi_ssid);
    s->wifi_password = pick(&p, PROV_WIFI_PASSWORD, build->wifi_password);
    s->username = pick(&p, PROV_USERNAME, build->username);
    s->password = pick(&p, PROV_PASSWORD, build->password);
    s->device_id = pick(&p, PROV_DEVICE_ID, build->device_id);
    snprintf(s->broker_host, sizeof s->broker_host, "%s", build->broker_host);
    s->broker_port = build->broker_port;
    if (p.v[PROV_BROKER].p && !broker(p.v[PROV_BROKER].p, s)) {
        printf("wasm-scale: the stored broker %s is not mqtts://host[:port]: the build's is used\n", p.v[PROV_BROKER].p);
        snprintf(s->broker_host, sizeof s->broker_host, "%s", build->broker_host);
        s->broker_port = build->broker_port;
    }
    s->ca_pem = p.v[PROV_CA].p ? (const uint8_t *)p.v[PROV_CA].p : build->ca_pem;
    s->ca_len = p.v[PROV_CA].p ? p.v[PROV_CA].len + 1u : build->ca_len;
    s->cert_pem = p.v[PROV_CERT].p ? (const uint8_t *)p.v[PROV_CERT].p : build->cert_pem;
    s->cert_len = p.v[PROV_CERT].p ? p.v[PROV_CERT].len + 1u : build->cert_len;
    s->key_pem = p.v[PROV_KEY].p ? (const uint8_t *)p.v[PROV_KEY].p : build->key_pem;
    s->key_len = p.v[PROV_KEY].p ? p.v[PROV_KEY].len + 1u : build->key_len;
    printf("wasm-scale: device %s, broker %s:%u, WiFi \"%s\" (%s settings)\n", s->device_id, s->broker_host, (unsigned)s->broker_port,
           s->wifi_ssid, stored ? "stored" : "build");
    return s;
}

const pico_settings_t *pico_settings(void)
{
    return &s_settings;
}

/* ---- the session ------------------------------------------------------------------------------- */

static const uint8_t *save(void *ctx, const uint8_t *record, size_t len)
{
    (void)ctx;
    return store_settings_put(record, len);
}

static void wifi_try(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    s_try_ssid = ssid;
    s_try_password = password;
    s_try_started = false;
}

static void restart(void *ctx)
{
    (void)ctx;
    s_reboot = true;
}

void pico_provision_feed(const uint8_t *data, size_t len, uint32_t now_ms)
{
    if (len == 0) return;
    if (s_session == NULL) {
        s_session = malloc(sizeof *s_session);
        if (s_session == NULL) {
            printf("prov err MEMORY no room for a provisioning session (%u bytes)\n", (unsigned)sizeof *s_session);
            return;
        }
        /* A factory reset on flash writes a record that sets nothing (erase NULL). */
        const prov_io_t io = {.write = prov_write_stdout, .save = save, .erase = NULL, .wifi_try = wifi_try, .restart = restart,
                              .firmware = "wasm-scale", .version = "0.2.0", .chip = "rp2040"};
        size_t stored_len = 0;
        const uint8_t *stored = store_settings_get(&stored_len);
        prov_session_init(s_session, &io, stored, stored_len, s_build.device_id);
    }
    s_last_ms = now_ms;
    prov_session_feed(s_session, data, len);
}

void pico_provision_poll(uint32_t now_ms, bool wifi_up)
{
    if (s_session == NULL) return;
    if (s_try_ssid) {
        if (!s_try_started) {
            s_try_started = true;
            s_try_until = now_ms + WIFI_TRY_MS;
            s_build.wifi_use(s_try_ssid, s_try_password);
            return; /* the link is the old network's until the next poll */
        }
        const bool late = (int32_t)(now_ms - s_try_until) >= 0;
        if (wifi_up || late) {
            if (wifi_up) {
                snprintf(s_ssid, sizeof s_ssid, "%s", s_try_ssid);
                snprintf(s_password, sizeof s_password, "%s", s_try_password);
                s_settings.wifi_ssid = s_ssid;
                s_settings.wifi_password = s_password;
                s_build.wifi_use(s_ssid, s_password); /* the same network: the link keeps these copies */
            } else {
                /* The network before it, or none (the link lets go of the session's strings). */
                s_build.wifi_use(s_settings.wifi_ssid, s_settings.wifi_password);
            }
            s_try_ssid = s_try_password = NULL;
            prov_wifi_result(s_session, wifi_up); /* which wipes the password */
            s_last_ms = now_ms;
        }
        return;
    }
    if (s_reboot) {
        watchdog_reboot(0, 0, 50);
        for (;;) tight_loop_contents();
    }
    prov_session_online(s_session, wifi_up);
    if ((int32_t)(now_ms - s_last_ms) >= IDLE_MS) {
        prov_session_end(s_session);
        free(s_session);
        s_session = NULL;
    }
}
