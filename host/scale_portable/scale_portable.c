/* Portable parts of the ESP-IDF host; see scale_portable.h. */
#include "scale_portable.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#ifdef ESP_PLATFORM
#include "sdkconfig.h" /* CONFIG_IDF_TARGET_*: which chip's GPIO the checks describe */
#endif

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

#if defined(CONFIG_IDF_TARGET_ESP32C3) || defined(SCALE_TARGET_ESP32C3)
/* ESP32-C3: GPIO 0..21, every one input and output with a pull-up; 12..17 drive the SPI flash. */
#define GPIO_VALID_MASK 0x3FFFFFULL
#define GPIO_LAST 21
#define FIRST_WITHOUT_PULLUP 22
static bool pin_is_flash(int pin) { return pin >= 12 && pin <= 17; }
#define CLK_PIN_RULE "HX711 clock pin must be an output-capable GPIO: 0..21, not 12..17 (flash)"
#define DOUT_PIN_RULE "HX711 data pins must be GPIO 0..21, not 12..17 (flash)"
#else
/* ESP32 (original): GPIO 0..39 less 24 and 28..31, which do not exist (ESP-IDF's
 * SOC_GPIO_VALID_GPIO_MASK); 6..11 drive the SPI flash; 34..39 are input only, without pull-ups. */
#define GPIO_VALID_MASK (0xFFFFFFFFFFULL & ~((1ULL << 24) | (1ULL << 28) | (1ULL << 29) | (1ULL << 30) | (1ULL << 31)))
#define GPIO_LAST 39
#define FIRST_WITHOUT_PULLUP 34
static bool pin_is_flash(int pin) { return pin >= 6 && pin <= 11; }
#define CLK_PIN_RULE "HX711 clock pin must be an output-capable GPIO: 0..33, not 6..11 (flash), not 24 or 28..31 (absent)"
#define DOUT_PIN_RULE "HX711 data pins must be GPIO 0..39, not 6..11 (flash), not 24 or 28..31 (absent)"
#endif

bool scale_pin_exists(int pin) { return pin >= 0 && pin <= GPIO_LAST && (GPIO_VALID_MASK >> pin) & 1; }

bool scale_pin_is_input(int pin) { return scale_pin_exists(pin) && !pin_is_flash(pin); }

bool scale_pin_has_pullup(int pin) { return scale_pin_is_input(pin) && pin < FIRST_WITHOUT_PULLUP; }

bool scale_pin_is_output(int pin) { return scale_pin_is_input(pin) && pin < FIRST_WITHOUT_PULLUP; }

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

void scale_put_read_times(uint8_t *out, size_t n, int64_t start_us, int64_t end_us, const int64_t *fell_us)
{
    scale_put_u32(out + 4 * (n + 2), (uint32_t)start_us);
    scale_put_u32(out + 4 * (n + 3), (uint32_t)end_us);
    for (size_t i = 0; i < n; i++) scale_put_u32(out + 4 * (n + 4 + i), (uint32_t)fell_us[i]);
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
    /* Empty: not provisioned yet (the scale samples and waits for a network over USB). */
    if (c->wifi_ssid == NULL || strlen(c->wifi_ssid) > 32) return "WiFi SSID must be 1..32 bytes (or empty: set over USB)";
    if (!scale_pin_is_output(c->clk_pin)) {
        return CLK_PIN_RULE;
    }
    if (c->dout_count < 1 || c->dout_count > 4) return "between 1 and 4 HX711 data pins are needed";
    for (int i = 0; i < c->dout_count; i++) {
        if (!scale_pin_is_input(c->dout_pins[i])) return DOUT_PIN_RULE;
        if (c->dout_pins[i] == c->clk_pin) return "an HX711 data pin cannot also be the clock pin";
        if (c->dout_pins[i] == c->led_pin) return "an HX711 data pin cannot also be the LED pin";
        for (int j = 0; j < i; j++) {
            if (c->dout_pins[i] == c->dout_pins[j]) return "each HX711 needs its own data pin";
        }
    }
    if (c->led_pin != -1 && (!scale_pin_is_output(c->led_pin) || c->led_pin == c->clk_pin)) {
        return "LED pin must be -1 (none) or a free output-capable GPIO";
    }
    if (c->button_pin != -1) {
        if (!scale_pin_is_input(c->button_pin) || c->button_pin == c->clk_pin || c->button_pin == c->led_pin) {
            return "button pin must be -1 (none) or a free input GPIO";
        }
        for (int i = 0; i < c->dout_count; i++) {
            if (c->dout_pins[i] == c->button_pin) return "an HX711 data pin cannot also be the button pin";
        }
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
    if (c->wasm_pool_kb != 0 && (c->wasm_pool_kb < 16 || c->wasm_pool_kb > 192)) return "Wasm runtime pool must be 0 (the heap) or 16..192 KiB";
    if (c->task_stack_bytes < 6144 || c->task_stack_bytes > 65536) return "the core task's stack must be 6144..65536 bytes";
    return NULL;
}

const char *scale_config_warning(const scale_config_t *c)
{
    if (c->button_pin != -1 && !scale_pin_has_pullup(c->button_pin)) {
        return "the button is on GPIO 34..39, which have no internal pull-up: fit an external one (10 kOhm to 3.3 V), or it floats";
    }
    for (int i = 0; i < c->dout_count; i++) {
        if (!scale_pin_has_pullup(c->dout_pins[i])) {
            return "an HX711 data pin is on GPIO 34..39, which have no internal pull-up: fit an external one (10 kOhm to 3.3 V), "
                   "or a missing or unpowered HX711 floats instead of reading not-ready";
        }
    }
    return NULL;
}

/* --- the module's __heap_base ------------------------------------------------------------------ */

/* Unsigned LEB128 at *p (below end); false when it runs past end or over 32 bits. */
static bool leb_u32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    uint32_t v = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (*p >= end) return false;
        const uint8_t b = *(*p)++;
        v |= (uint32_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Signed LEB128 of an i32.const. */
static bool leb_i32(const uint8_t **p, const uint8_t *end, int32_t *out)
{
    uint32_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (*p >= end || shift >= 35) return false;
        b = *(*p)++;
        v |= (uint32_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 32 && (b & 0x40)) v |= ~0u << shift;
    *out = (int32_t)v;
    return true;
}

int32_t scale_wasm_heap_base(const uint8_t *wasm, size_t len)
{
    if (wasm == NULL || len < 8 || memcmp(wasm, "\0asm", 4) != 0) return -1;
    const uint8_t *p = wasm + 8;
    const uint8_t *const end = wasm + len;
    uint32_t imported_globals = 0;
    const uint8_t *globals = NULL, *globals_end = NULL;
    int64_t index = -1;
    while (p < end) {
        const uint8_t id = *p++;
        uint32_t size;
        if (!leb_u32(&p, end, &size) || size > (size_t)(end - p)) return -1;
        const uint8_t *s = p, *const s_end = p + size;
        uint32_t n;
        if (id == 2 && leb_u32(&s, s_end, &n)) { /* imports: count the imported globals */
            for (uint32_t i = 0; i < n; i++) {
                uint32_t k;
                for (int field = 0; field < 2; field++) { /* module and name */
                    if (!leb_u32(&s, s_end, &k) || k > (size_t)(s_end - s)) return -1;
                    s += k;
                }
                if (s >= s_end) return -1;
                const uint8_t kind = *s++;
                if (kind == 0) { if (!leb_u32(&s, s_end, &k)) return -1; }                /* func: type */
                else if (kind == 1) { s++; if (!leb_u32(&s, s_end, &k) || !leb_u32(&s, s_end, &k)) return -1; } /* table (limits flag 0 or 1) */
                else if (kind == 2) { if (s >= s_end) return -1; const uint8_t f = *s++; if (!leb_u32(&s, s_end, &k) || ((f & 1) && !leb_u32(&s, s_end, &k))) return -1; }
                else if (kind == 3) { s += 2; imported_globals++; }
                else return -1;
            }
        } else if (id == 6) {
            globals = s;
            globals_end = s_end;
        } else if (id == 7 && leb_u32(&s, s_end, &n)) { /* exports */
            for (uint32_t i = 0; i < n; i++) {
                uint32_t k, at;
                if (!leb_u32(&s, s_end, &k) || k + 1 > (size_t)(s_end - s)) return -1;
                const bool named = k == 11 && memcmp(s, "__heap_base", 11) == 0;
                s += k;
                const uint8_t kind = *s++;
                if (!leb_u32(&s, s_end, &at)) return -1;
                if (named && kind == 3) index = at;
            }
        }
        p = s_end;
    }
    if (index < 0 || globals == NULL || index < imported_globals) return -1;
    const uint8_t *g = globals;
    uint32_t n;
    if (!leb_u32(&g, globals_end, &n) || index - imported_globals >= n) return -1;
    for (uint32_t i = 0; i <= index - imported_globals; i++) {
        if (globals_end - g < 3) return -1;
        const uint8_t type = g[0], mut = g[1];
        g += 2;
        const uint8_t op = *g++;
        int32_t value = -1;
        uint32_t skip;
        if (op == 0x41) { /* i32.const */
            if (!leb_i32(&g, globals_end, &value)) return -1;
        } else if (op == 0x42) { /* i64.const: skip its LEB128 */
            while (g < globals_end && (*g & 0x80)) g++;
            g++;
        } else if (op == 0x43 || op == 0x44) { /* f32.const, f64.const */
            g += op == 0x43 ? 4 : 8;
        } else if (op == 0x23) { /* global.get */
            if (!leb_u32(&g, globals_end, &skip)) return -1;
        } else {
            return -1;
        }
        if (g >= globals_end || *g++ != 0x0b) return -1;
        if (i == index - imported_globals) return type == 0x7f && mut == 0 && op == 0x41 ? value : -1;
    }
    return -1;
}

/* --- the button ----------------------------------------------------------------------------------- */

void scale_button_init(scale_button_t *b)
{
    memset(b, 0, sizeof *b);
}

void scale_button_edge(scale_button_t *b, bool down, int64_t t_us)
{
    const uint32_t head = b->head;
    if (head - b->tail >= SCALE_BUTTON_EDGES) {
        b->lost++;
        return;
    }
    b->edge[head % SCALE_BUTTON_EDGES].t_us = t_us;
    b->edge[head % SCALE_BUTTON_EDGES].down = down;
    __atomic_store_n(&b->head, head + 1, __ATOMIC_RELEASE); /* the entry before the index that shows it */
}

/* A call's bits; none when the core did not answer (INT32_MIN: trapped, or not instantiated). */
static int32_t answered(int32_t r)
{
    return r == INT32_MIN ? 0 : r;
}

int32_t scale_button_feed(scale_button_t *b, int64_t base_us, int32_t now_ms, bool down_now, scale_button_call_t call, void *ctx)
{
    int32_t bits = 0;
    const uint32_t head = __atomic_load_n(&b->head, __ATOMIC_ACQUIRE);
    for (uint32_t i = b->tail; i != head; i++) {
        const bool down = b->edge[i % SCALE_BUTTON_EDGES].down != 0;
        const int32_t t_ms = (int32_t)((b->edge[i % SCALE_BUTTON_EDGES].t_us + base_us) / 1000);
        if (down != b->last_down) bits |= answered(call(1, down, t_ms, ctx));
        b->last_down = down;
    }
    __atomic_store_n(&b->tail, head, __ATOMIC_RELEASE);
    if (down_now != b->last_down) {
        /* Edges were lost (or the pin moved since the last interrupt ran): the pin has the last word. */
        bits |= answered(call(1, down_now, now_ms, ctx));
        b->last_down = down_now;
    }
    return bits | answered(call(0, 0, now_ms, ctx));
}

#define LED_ACCEPTED 1
#define LED_REFUSED 2
#define LED_ARMED 4

void scale_button_led_note(scale_button_led_t *l, int32_t bits, int32_t now_ms)
{
    if (bits & (LED_ACCEPTED | LED_REFUSED)) {
        l->since_ms = now_ms;
        l->bits = bits & (LED_ACCEPTED | LED_REFUSED | LED_ARMED);
    } else {
        l->bits = (l->bits & (LED_ACCEPTED | LED_REFUSED)) | (bits & LED_ARMED);
    }
}

int scale_button_led(const scale_button_led_t *l, int32_t now_ms)
{
    const int32_t t = now_ms - l->since_ms;
    if ((l->bits & LED_ACCEPTED) && t >= 0 && t < 600) return 1;
    if ((l->bits & LED_REFUSED) && t >= 0 && t < 600) return (t / 100) % 2 == 0;
    if (l->bits & LED_ARMED) return (now_ms % 500) < 50;
    return -1;
}

uint32_t scale_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* ---- the core's state stream ----------------------------------------------------------------- */

/* The stream's header: magic u32, version u16, regions u16, then its whole length (assembly/state.ts). */
#define STATE_VERSION_AT 4
#define STATE_LENGTH_AT 8
#define STATE_HEADER 14

size_t scale_state_save(const scale_core_calls_t *core, uint8_t *dst, size_t cap)
{
    size_t io_cap;
    uint8_t *io = core->io(&io_cap);
    int32_t n = io ? core->call("state_save", 1, 0, 0) : INT32_MIN;
    if (n < STATE_HEADER || (io = core->io(&io_cap)) == NULL) return 0;
    uint32_t total;
    memcpy(&total, io + STATE_LENGTH_AT, sizeof total);
    if (total > cap) return total;
    size_t at = 0;
    for (int32_t k = 1; n > 0; k++) {
        if (at + (size_t)n > total || (io = core->io(&io_cap)) == NULL) return 0;
        memcpy(dst + at, io, (size_t)n);
        at += (size_t)n;
        n = core->call("state_save", 1, k, 0);
    }
    return n == 0 && at == total ? total : 0;
}

uint8_t *scale_state_copy(const scale_core_calls_t *core, size_t *len)
{
    const size_t n = scale_state_save(core, NULL, 0);
    uint8_t *buf = n ? malloc(n) : NULL;
    if (buf == NULL || scale_state_save(core, buf, n) != n) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

bool scale_state_load(const scale_core_calls_t *core, const uint8_t *src, size_t len)
{
    size_t cap;
    if (src == NULL || len == 0 || core->io(&cap) == NULL || cap == 0) return false;
    for (size_t at = 0, k = 0; at < len; at += cap, k++) {
        uint8_t *io = core->io(&cap);
        if (io == NULL) return false;
        size_t n = len - at < cap ? len - at : cap;
        memcpy(io, src + at, n);
        int32_t r = core->call("state_load", 2, (int32_t)k, (int32_t)n);
        if (r < 0 || (r == 0) != (at + n == len)) return false;
    }
    return true;
}

void scale_rescue_save(scale_rescue_t *r, const scale_core_calls_t *core)
{
    if (r->saving) return; /* a state_save that traps in turn */
    r->saving = true;
    scale_rescue_drop(r);
    r->state = scale_state_copy(core, &r->len);
    r->saving = false;
}

uint8_t *scale_rescue_take(scale_rescue_t *r, const scale_core_calls_t *core, bool ready, size_t *len)
{
    if (ready) return scale_state_copy(core, len);
    uint8_t *p = r->state;
    *len = r->len;
    r->state = NULL;
    r->len = 0;
    return p;
}

void scale_rescue_drop(scale_rescue_t *r)
{
    free(r->state);
    r->state = NULL;
    r->len = 0;
}

int32_t scale_state_version(const uint8_t *state, size_t len)
{
    if (state == NULL || len < STATE_HEADER || memcmp(state, "WSS1", 4) != 0) return -1;
    return (int32_t)(state[STATE_VERSION_AT] | (uint32_t)state[STATE_VERSION_AT + 1] << 8);
}
