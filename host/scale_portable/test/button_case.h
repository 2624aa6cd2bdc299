/* The button's case both firmware harnesses run (the ESP32's under WAMR, the Pico W's under wasm3),
 * through their own Wasm host: the edges as an interrupt queues them (scale_portable's ring), the
 * core deciding. Each harness gives the calls below; the case returns its failures. */
#pragma once
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    /* One sample at t_ms; false when it trapped. */
    bool (*sample)(int32_t t_ms);
    /* A command on the command topic. */
    void (*command)(const char *json);
    /* The core's button export (as scale_button_call_t). */
    int32_t (*button)(int32_t edge, int32_t down, int32_t t_ms, void *ctx);
    /* The simulated HX711's code. */
    void (*set_code)(int32_t code);
    /* The results the core has to publish, one a line, into out; their number. */
    int (*results)(char *out, size_t cap);
} button_case_host_t;

/* Calibrates, then: a 300 ms press through contacts that bounce three times at each end tares once;
 * a 10 ms glitch does nothing; a short press clears the tare; a 3 s press on the empty platform sets
 * zero; each answered with "source":"button". Prints what failed; returns the number of failures. */
int button_case_run(const button_case_host_t *h);
