/* A simulated HX711 for the firmware's C on Linux: one chip on GPIO 18 (clock) and 4 (data), ready
 * at once, a code of `sim_hx711_code` plus a few counts of deterministic noise. */
#pragma once
#include <stdint.h>

/* The code the chip converts (before noise); 100000 until set. */
extern int32_t sim_hx711_code;
/* Non-zero: gpio.write refuses, so the native traps the core. */
extern int sim_hx711_write_fails;
/* The level the clock pin was last driven to (gpio.write, and low after every clock_in). */
extern int sim_hx711_clk_level;
