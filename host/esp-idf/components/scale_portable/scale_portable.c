/* Portable parts of the ESP-IDF host; see scale_portable.h. */
#include "scale_portable.h"

#include <ctype.h>
#include <string.h>

void scale_asm_init(scale_assembler_t *a, uint8_t *buf, size_t cap)
{
    memset(a, 0, sizeof(*a));
    a->buf = buf;
    a->cap = cap;
}

scale_asm_result_t scale_asm_feed(scale_assembler_t *a, const char *topic, size_t topic_len,
                                  const uint8_t *data, size_t data_len, size_t offset, size_t total_len)
{
    if (offset == 0) {
        /* A first fragment starts a new message, abandoning an unfinished one. */
        a->active = true;
        a->truncated = false;
        a->total = total_len;
        a->received = 0;
        a->topic_len = 0;
        if (topic == NULL || topic_len == 0) {
            a->active = false;
            return SCALE_ASM_DROPPED;
        }
        if (topic_len >= sizeof(a->topic)) {
            a->truncated = true;
            topic_len = sizeof(a->topic) - 1;
        }
        memcpy(a->topic, topic, topic_len);
        a->topic[topic_len] = '\0';
        a->topic_len = topic_len;
    } else if (!a->active || offset != a->received || total_len != a->total) {
        a->active = false;
        return SCALE_ASM_DROPPED;
    }
    if (data_len > a->total - a->received) {
        a->active = false;
        return SCALE_ASM_DROPPED;
    }
    if (a->received < a->cap) {
        size_t room = a->cap - a->received;
        size_t n = data_len < room ? data_len : room;
        if (n > 0) memcpy(a->buf + a->received, data, n);
        if (n < data_len) a->truncated = true;
    } else if (data_len > 0) {
        a->truncated = true;
    }
    a->received += data_len;
    if (a->received < a->total) return SCALE_ASM_PENDING;
    a->active = false;
    return SCALE_ASM_COMPLETE;
}

size_t scale_asm_stored(const scale_assembler_t *a)
{
    return a->received < a->cap ? a->received : a->cap;
}

/* ESP32 (original): GPIO 0..39 less 24 and 28..31, which do not exist (ESP-IDF's
 * SOC_GPIO_VALID_GPIO_MASK); 6..11 drive the SPI flash; 34..39 are input only, without pull-ups. */
#define ESP32_GPIO_VALID_MASK (0xFFFFFFFFFFULL & ~((1ULL << 24) | (1ULL << 28) | (1ULL << 29) | (1ULL << 30) | (1ULL << 31)))

static bool pin_is_flash(int pin) { return pin >= 6 && pin <= 11; }

bool scale_pin_exists(int pin) { return pin >= 0 && pin <= 39 && (ESP32_GPIO_VALID_MASK >> pin) & 1; }

bool scale_pin_is_input(int pin) { return scale_pin_exists(pin) && !pin_is_flash(pin); }

bool scale_pin_has_pullup(int pin) { return scale_pin_is_input(pin) && pin < 34; }

bool scale_pin_is_output(int pin) { return scale_pin_is_input(pin) && pin < 34; }

bool scale_pins_valid(const uint8_t *pins, size_t len)
{
    if (pins == NULL || len < 1 || len > 8) return false;
    for (size_t i = 0; i < len; i++) {
        if (!scale_pin_is_input(pins[i])) return false;
        for (size_t j = 0; j < i; j++) {
            if (pins[i] == pins[j]) return false;
        }
    }
    return true;
}

void scale_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

bool scale_unframe(const uint8_t *buf, size_t len, scale_frame_t *out)
{
    if (buf == NULL || len < 3) return false;
    size_t topic_len = (size_t)buf[1] | ((size_t)buf[2] << 8);
    if (topic_len == 0 || 3 + topic_len > len || (buf[0] & ~0x07u) != 0 || (buf[0] & 3) == 3) return false;
    out->qos = buf[0] & 3;
    out->retain = (buf[0] & 4) != 0;
    out->topic = (const char *)buf + 3;
    out->topic_len = topic_len;
    out->payload = buf + 3 + topic_len;
    out->payload_len = len - 3 - topic_len;
    return true;
}

static bool id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

const char *scale_config_check(const scale_config_t *c)
{
    if (c->broker_uri == NULL || (strncmp(c->broker_uri, "mqtts://", 8) != 0 && strncmp(c->broker_uri, "wss://", 6) != 0)) {
        return "broker URI must start with mqtts:// (or wss://): plaintext MQTT is refused";
    }
    const char *host = c->broker_uri + (c->broker_uri[0] == 'm' ? 8 : 6);
    if (*host == '\0' || *host == ':' || *host == '/') return "broker URI has no host name";
    size_t id_len = c->device_id ? strlen(c->device_id) : 0;
    if (id_len < 1 || id_len > 32) return "device id must be 1..32 characters";
    for (size_t i = 0; i < id_len; i++) {
        if (!id_char(c->device_id[i])) return "device id may use only A-Z a-z 0-9 _ -";
    }
    if (c->wifi_ssid == NULL || c->wifi_ssid[0] == '\0' || strlen(c->wifi_ssid) > 32) return "WiFi SSID must be 1..32 bytes";
    if (!scale_pin_is_output(c->clk_pin)) {
        return "HX711 clock pin must be an output-capable GPIO: 0..33, not 6..11 (flash), not 24 or 28..31 (absent)";
    }
    if (c->dout_count < 1 || c->dout_count > 4) return "between 1 and 4 HX711 data pins are needed";
    for (int i = 0; i < c->dout_count; i++) {
        if (!scale_pin_is_input(c->dout_pins[i])) return "HX711 data pins must be GPIO 0..39, not 6..11 (flash), not 24 or 28..31 (absent)";
        if (c->dout_pins[i] == c->clk_pin) return "an HX711 data pin cannot also be the clock pin";
        if (c->dout_pins[i] == c->led_pin) return "an HX711 data pin cannot also be the LED pin";
        for (int j = 0; j < i; j++) {
            if (c->dout_pins[i] == c->dout_pins[j]) return "each HX711 needs its own data pin";
        }
    }
    if (c->led_pin != -1 && (!scale_pin_is_output(c->led_pin) || c->led_pin == c->clk_pin)) {
        return "LED pin must be -1 (none) or a free output-capable GPIO";
    }
    if (c->wifi_password == NULL || strlen(c->wifi_password) > 64 || (strlen(c->wifi_password) > 0 && strlen(c->wifi_password) < 8)) {
        return "WiFi password must be empty (open network), 8..63 characters, or 64 hex digits";
    }
    if (strlen(c->wifi_password) == 64) {
        for (size_t i = 0; i < 64; i++) {
            if (!isxdigit((unsigned char)c->wifi_password[i])) return "a 64-character WiFi password is a raw PSK: hex digits only";
        }
    }
    if (c->rate_sps != 10 && c->rate_sps != 80) return "HX711 rate must be 10 or 80 (the RATE pin)";
    if (c->wasm_stack_kb < 2 || c->wasm_stack_kb > 64) return "Wasm stack must be 2..64 KiB";
    if (c->wasm_pool_kb < 16 || c->wasm_pool_kb > 192) return "Wasm runtime pool must be 16..192 KiB";
    if (c->task_stack_bytes < 6144 || c->task_stack_bytes > 65536) return "the core task's stack must be 6144..65536 bytes";
    return NULL;
}

const char *scale_config_warning(const scale_config_t *c)
{
    for (int i = 0; i < c->dout_count; i++) {
        if (!scale_pin_has_pullup(c->dout_pins[i])) {
            return "an HX711 data pin is on GPIO 34..39, which have no internal pull-up: fit an external one (10 kOhm to 3.3 V), "
                   "or a missing or unpowered HX711 floats instead of reading not-ready";
        }
    }
    return NULL;
}
