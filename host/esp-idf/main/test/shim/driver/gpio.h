/* The GPIO hold calls battery.c makes (driver/gpio.h); the test records them. */
#pragma once
#include "esp_err.h"
typedef int gpio_num_t;
esp_err_t gpio_hold_en(gpio_num_t gpio_num);
esp_err_t gpio_hold_dis(gpio_num_t gpio_num);
void gpio_deep_sleep_hold_en(void);
