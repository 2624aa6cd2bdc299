/* The button on the scale: one GPIO to ground, with the internal pull-up (CONFIG_SCALE_BUTTON_PIN).
 * Its interrupt queues every edge with its time (scale_portable's ring); after each sample the core's
 * task hands them to the core, which debounces and decides (tare, zero, calibration: the button
 * export), and shows the outcome on the status LED. Not in battery mode: the chip sleeps there. */
#pragma once

#include <stdint.h>

#include "esp_err.h"

/* Configures the pin and its interrupt; -1: no button. */
esp_err_t button_start(int pin);

/* In the core's task, after each sample: the edges since, then a poll (the core's clock). */
void button_after_sample(int64_t now_ms);
