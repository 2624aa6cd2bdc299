/*
 * A simulated HX711 behind the pins of the HX711 primitive (CONFIG_SCALE_HX711_SIMULATED: the QEMU
 * variant, whose GPIO cannot be driven from outside). hx711_gpio.c runs unchanged; only its pin
 * reads and writes come here. The chip behaves as the datasheet says, in esp_timer time:
 * conversions every period from power-up (after 4 periods of settling), DOUT low when one is ready,
 * a bit presented on each rising clock edge (24 bits, MSB first), DOUT high after the 25th, the data
 * register overwritten by the next conversion if nobody reads it, powered down by a clock held high
 * for more than 60 us. Its code follows CONFIG_SCALE_HX711_SIM_LOAD with a little seeded noise.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The simulated chip's offset and sensitivity (counts at 0 kg, counts per kg), for the tests. */
#define HX711_SIM_OFFSET 84000
#define HX711_SIM_COUNTS_PER_KG 41000

void hx711_sim_clock(int level);
int hx711_sim_dout(void);
/* When DOUT last fell (esp_timer us): the first conversion after the last one read. */
int64_t hx711_sim_fell_us(void);
/* True once for each time of CONFIG_SCALE_HX711_SIM_FAIL_AT_S that has passed: the host call in
 * progress then fails (the Wasm host traps the core, as for a failing native). */
bool hx711_sim_fail_due(void);

#ifdef __cplusplus
}
#endif
