/*
 * wasm-scale: the parts of the ESP-IDF host that do not depend on ESP-IDF, built and unit-tested
 * on any machine (CMake + CTest, run by `npm test`):
 *  - reassembly of MQTT_EVENT_DATA fragments into whole messages before the core sees them;
 *  - validation of the user's configuration (Kconfig values) with a readable reason;
 *  - the byte-level glue of the ABI: pin lists, clock_in output words, out_next framing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- MQTT fragment reassembly -------------------------------------------------------------- */

typedef enum {
    SCALE_ASM_PENDING = 0,  /* a fragment was stored; more are due */
    SCALE_ASM_COMPLETE = 1, /* a whole message is ready (message may be truncated: see truncated) */
    SCALE_ASM_DROPPED = -1, /* a fragment out of order or without its first part: discarded */
} scale_asm_result_t;

typedef struct {
    char topic[128];
    size_t topic_len;
    uint8_t *buf;        /* caller-owned payload buffer */
    size_t cap;          /* its size */
    size_t total;        /* full payload length announced by the first fragment */
    size_t received;     /* bytes seen so far (including any beyond cap) */
    bool active;
    bool truncated;      /* the payload (or topic) did not fit; the core rejects it as TOO_LONG */
} scale_assembler_t;

void scale_asm_init(scale_assembler_t *a, uint8_t *buf, size_t cap);

/*
 * Feeds one MQTT_EVENT_DATA: esp-mqtt gives the topic on the first fragment only, with
 * current_data_offset 0 and total_data_len for the whole payload.
 */
scale_asm_result_t scale_asm_feed(scale_assembler_t *a, const char *topic, size_t topic_len,
                                  const uint8_t *data, size_t data_len, size_t offset, size_t total_len);

/* Stored payload bytes (at most cap) of a complete message. */
size_t scale_asm_stored(const scale_assembler_t *a);

/* ---- integrity ------------------------------------------------------------------------------- */

/* CRC-32 (IEEE 802.3, reflected), bitwise: what the flash store's and the settings' records carry. */
uint32_t scale_crc32(const uint8_t *p, size_t n);

/* ---- configuration ----------------------------------------------------------------------------- */

typedef struct {
    const char *broker_uri;
    const char *device_id;
    const char *wifi_ssid;
    const char *wifi_password;
    int clk_pin;
    int dout_pins[4];
    int dout_count;
    int led_pin;          /* -1 for none */
    int button_pin;       /* -1 for none: the button (active low, to ground, with the pull-up) */
    int rate_sps;         /* the HX711 RATE pin: 10 or 80 */
    int wasm_stack_kb;
    int wasm_pool_kb;
    int task_stack_bytes; /* the task that runs the core */
} scale_config_t;

/* NULL when the configuration can work, else a sentence saying what to change. */
const char *scale_config_check(const scale_config_t *c);

/* NULL, or what the configuration needs that software cannot check (e.g. an external pull-up). */
const char *scale_config_warning(const scale_config_t *c);

/* ---- the button --------------------------------------------------------------------------------- */

/*
 * Edges of the button from its GPIO interrupt to the core's task: a ring one interrupt handler
 * fills and one task drains (no lock: each index has one writer). The core debounces and decides
 * (the button export); this only carries every edge with the time it happened. A burst of bounces
 * that overflows the ring loses edges, counted; the drain then ends on the level the pin has now.
 */
#define SCALE_BUTTON_EDGES 32
typedef struct {
    volatile uint32_t head, tail;
    volatile uint32_t lost;
    struct {
        int64_t t_us;
        uint8_t down;
    } edge[SCALE_BUTTON_EDGES];
    bool last_down; /* the last level handed to the core */
} scale_button_t;

void scale_button_init(scale_button_t *b);
/* From the interrupt: the pin's level now (down: pressed) at t_us on the host's microsecond clock. */
void scale_button_edge(scale_button_t *b, bool down, int64_t t_us);

/* The core's button export: edge (1) or poll (0), down, t_ms; its result bits. */
typedef int32_t (*scale_button_call_t)(int32_t edge, int32_t down, int32_t t_ms, void *ctx);

/*
 * From the core's task after each sample: every queued edge to the core, at its time on the
 * core's millisecond clock (t_ms = (t_us + base_us) / 1000), then a poll at now_ms. `down_now` is
 * the pin's level now: when edges were lost and the last one handed over is not it, an edge at
 * now_ms brings the core back to the pin. Returns the result bits of the calls OR-ed (the LED's).
 */
int32_t scale_button_feed(scale_button_t *b, int64_t base_us, int32_t now_ms, bool down_now, scale_button_call_t call, void *ctx);

/* What the status LED shows of the button: an accepted press (on for 600 ms), a refused one (three
 * 100 ms flashes), a calibration waiting for its weight (a 50 ms flash every 500 ms). */
typedef struct {
    int32_t since_ms; /* when the last accepted or refused press was shown from */
    int32_t bits;     /* its bits, and whether a calibration waits */
} scale_button_led_t;

/* After each feed: the bits it returned, at now_ms. */
void scale_button_led_note(scale_button_led_t *l, int32_t bits, int32_t now_ms);
/* -1: nothing of the button to show (the status pattern goes on); else the LED off (0) or on (1). */
int scale_button_led(const scale_button_led_t *l, int32_t now_ms);

/* ---- ABI glue ------------------------------------------------------------------------------------- */

/* Bytes clock_in writes for n data pins: a word per pin, the high-after mask, the longest high
 * phase, the read's first rising and last falling edge, and each pin's DOUT fall. */
static inline size_t scale_clock_out_len(size_t n) { return 4 * (2 * n + 4); }

/* Writes the read's times into clock_in's output for n pins (after the words, the mask and the
 * longest high phase): the first rising and last falling edge and each pin's DOUT fall, on the
 * host's microsecond clock (its low 32 bits: the core subtracts them, wrapping). */
void scale_put_read_times(uint8_t *out, size_t n, int64_t start_us, int64_t end_us, const int64_t *fell_us);

/* Pin list from the core: 1..8 distinct GPIO numbers, each valid for input on an ESP32. */
bool scale_pins_valid(const uint8_t *pins, size_t len);

/* GPIO that exists on an ESP32 (0..39 less 24 and 28..31). */
bool scale_pin_exists(int pin);

/* GPIO with an internal pull-up (all inputs but 34..39). */
bool scale_pin_has_pullup(int pin);

/* GPIO usable as an output (the HX711 clock): not input-only, not flash. */
bool scale_pin_is_output(int pin);

/* GPIO usable as an input (DOUT): exists, not flash. */
bool scale_pin_is_input(int pin);

/* Little-endian u32 store, whatever the host's alignment rules. */
void scale_put_u32(uint8_t *p, uint32_t v);

typedef struct {
    int qos;
    bool retain;
    const char *topic;   /* not NUL-terminated: topic_len bytes */
    size_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
} scale_frame_t;

/* Parses out_next / mqtt_will framing; false if it is malformed. */
bool scale_unframe(const uint8_t *buf, size_t len, scale_frame_t *out);

/* The value of the module's exported immutable i32 global `__heap_base` (the end of its static
 * data: all the linear memory the core uses), read from the binary; -1 when it has none or the
 * binary is malformed. A runtime without WAMR's memory shrinking (wasm3) limits memory to it. */
int32_t scale_wasm_heap_base(const uint8_t *wasm, size_t len);

/* ---- the core's state stream (state_save / state_load, assembly/state.ts) ---------------------- */

/* A host's way into its core: an export with argc (at most 2) i32 arguments (INT32_MIN when the
 * call did not complete), and the core's io buffer (NULL without a core). */
typedef struct {
    int32_t (*call)(const char *name, uint32_t argc, int32_t a, int32_t b);
    uint8_t *(*io)(size_t *cap);
} scale_core_calls_t;

/* The state stream's length, copied to dst when it fits in cap (call again with a buffer that large
 * when it does not); 0 when the core gave none. */
size_t scale_state_save(const scale_core_calls_t *core, uint8_t *dst, size_t cap);
/* The whole stream in a buffer of its own (malloc: the caller frees it); NULL when the core gave none. */
uint8_t *scale_state_copy(const scale_core_calls_t *core, size_t *len);
/* Gives a saved stream back, after chips, blobs and device id; false when the core refused it. */
bool scale_state_load(const scale_core_calls_t *core, const uint8_t *src, size_t len);
/* The state a trapped core held, saved before its instance goes (a Wasm host's), handed over once. */
typedef struct {
    uint8_t *state;
    size_t len;
    bool saving;
} scale_rescue_t;
/* Saves the core's state into r, replacing what it held (the host clears the trap first). */
void scale_rescue_save(scale_rescue_t *r, const scale_core_calls_t *core);
/* The state for a swap: the running core's copy when one is instantiated (ready), else what r holds,
 * handed over once (the caller frees it); NULL when there is none. */
uint8_t *scale_rescue_take(scale_rescue_t *r, const scale_core_calls_t *core, bool ready, size_t *len);
/* Forgets what r holds (a plain recovery starts from the blobs). */
void scale_rescue_drop(scale_rescue_t *r);
/* The version a stream was written in (its header), -1 when it is not a stream. */
int32_t scale_state_version(const uint8_t *state, size_t len);

#ifdef __cplusplus
}
#endif
