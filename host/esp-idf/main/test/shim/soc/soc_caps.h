/* The ESP32's: digital pads are held in deep sleep through gpio_deep_sleep_hold_en. */
#pragma once
#define SOC_GPIO_SUPPORT_HOLD_SINGLE_IO_IN_DSLP 0
