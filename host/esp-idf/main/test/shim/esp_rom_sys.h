/* A busy wait (esp_rom_sys.h): advances the test's clock. */
#pragma once
#include <stdint.h>
void esp_rom_delay_us(uint32_t us);
