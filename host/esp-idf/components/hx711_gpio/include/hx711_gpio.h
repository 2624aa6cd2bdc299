/*
 * wasm-scale GPIO capability: the pulse-clocking primitive the core's HX711 protocol runs on.
 * The protocol itself (pulse counts, decoding, checks) is in the Wasm core; this only moves pins.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "esp_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int clk_pin;        /* PD_SCK, output */
    int dout_pins[4];   /* DOUT of each HX711, inputs */
    int dout_count;
} hx711_gpio_config_t;

/*
 * Configures the pins: clock as output driven low (chips powered up), data pins as inputs.
 * Returns ESP_ERR_INVALID_ARG for a pin that cannot serve, or the gpio_config error.
 */
esp_err_t hx711_gpio_init(const hx711_gpio_config_t *config);

/* gpio.wait_low: microseconds waited until every pin is low, or minus the mask of pins still
 * high at the timeout. Yields 1 tick between polls. Pins must have been configured. */
int32_t hx711_gpio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us);

/* gpio.clock_in: see assembly/abi.json. Each high phase is a critical section of about 1 us;
 * preemption can only stretch the low phases. Returns 0, or a negative value for bad arguments. */
int32_t hx711_gpio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len);

/* How many times wait_low has yielded so far: the sampling loop yields itself when a sample
 * took none (DOUT stuck low, no chips, powered down), so it never starves lower priorities. */
uint32_t hx711_gpio_yields(void);

/* gpio.write on the clock pin (power down / up); other pins are refused. */
esp_err_t hx711_gpio_write(int pin, int level);

#ifdef __cplusplus
}
#endif
