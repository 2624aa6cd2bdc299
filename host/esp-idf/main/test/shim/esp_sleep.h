/* Deep sleep (esp_sleep.h): the test's esp_deep_sleep_start returns to its boot loop. */
#pragma once
#include <stdint.h>
#include "esp_err.h"
esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us);
void esp_deep_sleep_start(void) __attribute__((noreturn));
