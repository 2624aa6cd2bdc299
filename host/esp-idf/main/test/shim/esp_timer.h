/* Microseconds since boot (esp_timer.h), from the test's clock. */
#pragma once
#include <stdint.h>
int64_t esp_timer_get_time(void);
