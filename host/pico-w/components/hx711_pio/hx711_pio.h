/* wasm-scale GPIO capability for the HX711 protocol in the Wasm core, on the RP2040's PIO. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HX711_MAX_CLOCKS 4
#define HX711_MAX_CHIPS 4

typedef struct {
    int clk_pins[HX711_MAX_CLOCKS];
    int clk_count;
    int dout_pins[HX711_MAX_CHIPS];
    int dout_count;
} hx711_pio_config_t;

/* Claims a PIO state machine and a DMA channel, and sets the pins up (DOUT with pull-ups). */
bool hx711_pio_init(const hx711_pio_config_t *config);

/* The ABI's gpio.wait_low, gpio.clock_in and gpio.write (assembly/abi.json). */
int32_t hx711_pio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us);
int32_t hx711_pio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len);
bool hx711_pio_write(int pin, int level);

/* A GPIO the HX711s may use: 0..28, less what the board keeps (on a Pico W 23, 24 and 25, the
 * CYW43's) and the console's UART pins (0 and 1) when the console is on the UART. */
bool hx711_pin_usable(int pin);
