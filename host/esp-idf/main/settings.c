/* The settings in use: see settings.h. */
#include "settings.h"

#include <string.h>

#include "esp_log.h"
#include "provision_store.h"
#include "scale_provision.h"

static const char *TAG = "settings";

#ifdef CONFIG_SCALE_CUSTOM_CA
extern const char ca_pem_start[] asm("_binary_ca_pem_start");
#endif
#ifdef CONFIG_SCALE_DEVICE_CERT
extern const uint8_t device_der_start[] asm("_binary_device_der_start");
extern const uint8_t device_der_end[] asm("_binary_device_der_end");
extern const uint8_t device_key_der_start[] asm("_binary_device_key_der_start");
extern const uint8_t device_key_der_end[] asm("_binary_device_key_der_end");
#endif

static settings_t s_settings;
static const uint8_t *s_record;
static size_t s_record_len;
static char s_ssid[33], s_password[65];

static const char *pick(const prov_settings_t *p, prov_field_t f, const char *build)
{
    return p->v[f].p ? p->v[f].p : build;
}

const settings_t *settings_load(void)
{
    prov_settings_t p = {0};
    s_record = provision_store_load(&s_record_len);
    const bool stored = s_record != NULL && prov_record_read(s_record, s_record_len, &p);
    if (s_record != NULL && !stored) ESP_LOGE(TAG, "the stored settings are damaged: the build's are used (provision the scale again)");
    settings_t s = {
        .wifi_ssid = pick(&p, PROV_WIFI_SSID, CONFIG_SCALE_WIFI_SSID),
        .wifi_password = pick(&p, PROV_WIFI_PASSWORD, CONFIG_SCALE_WIFI_PASSWORD),
        .broker_uri = pick(&p, PROV_BROKER, CONFIG_SCALE_BROKER_URI),
        .username = pick(&p, PROV_USERNAME, CONFIG_SCALE_BROKER_USERNAME),
        .password = pick(&p, PROV_PASSWORD, CONFIG_SCALE_BROKER_PASSWORD),
        .device_id = pick(&p, PROV_DEVICE_ID, CONFIG_SCALE_DEVICE_ID),
        .source = stored ? "stored" : "build",
    };
#ifdef CONFIG_SCALE_CUSTOM_CA
    s.ca_pem = ca_pem_start;
#endif
    if (p.v[PROV_CA].p) s.ca_pem = p.v[PROV_CA].p;
#ifdef CONFIG_SCALE_DEVICE_CERT
    s.cert = device_der_start;
    s.cert_len = (size_t)(device_der_end - device_der_start);
    s.key = device_key_der_start;
    s.key_len = (size_t)(device_key_der_end - device_key_der_start);
#endif
    if (p.v[PROV_CERT].p) {
        /* PEM for mbedTLS: the NUL counted in the length. */
        s.cert = (const uint8_t *)p.v[PROV_CERT].p;
        s.cert_len = p.v[PROV_CERT].len + 1u;
        s.key = (const uint8_t *)p.v[PROV_KEY].p;
        s.key_len = p.v[PROV_KEY].len + 1u;
    }
    s_settings = s;
    ESP_LOGI(TAG, "device %s, broker %s, WiFi \"%s\" (%s settings)", s.device_id, s.broker_uri, s.wifi_ssid, s.source);
    return &s_settings;
}

const settings_t *settings(void)
{
    return &s_settings;
}

const uint8_t *settings_record(size_t *len)
{
    *len = s_record_len;
    return s_record;
}

void settings_use_wifi(const char *ssid, const char *password)
{
    strlcpy(s_ssid, ssid, sizeof s_ssid);
    strlcpy(s_password, password, sizeof s_password);
    s_settings.wifi_ssid = s_ssid;
    s_settings.wifi_password = s_password;
}
