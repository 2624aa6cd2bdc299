/* The simulated HX711 of sim_hx711.h, in place of components/hx711_gpio. */
#include "sim_hx711.h"

#include <string.h>
#include "hx711_gpio.h"
#include "scale_portable.h"

int32_t sim_hx711_code = 100000;
int sim_hx711_write_fails;
int sim_hx711_clk_level;
static uint32_t s_noise = 1;

int32_t hx711_gpio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us)
{
    (void)pins;
    (void)len;
    (void)timeout_us;
    return 0;
}

int32_t hx711_gpio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len)
{
    (void)pins;
    if (clk != 18 || pulses < 25 || pulses > 27 || out_len < scale_clock_out_len(len)) return -1;
    s_noise = s_noise * 1103515245u + 12345u;
    uint32_t data = ((uint32_t)sim_hx711_code + ((s_noise >> 16) & 63u)) & 0xFFFFFFu, extra = (uint32_t)pulses - 24u;
    uint32_t word = (data << extra) | ((1u << extra) - 1u), high = (1u << len) - 1u, longest = 1;
    sim_hx711_clk_level = 0; /* every pulse ends low */
    for (size_t i = 0; i < len; i++) memcpy(out + 4 * i, &word, 4);
    memcpy(out + 4 * len, &high, 4);
    memcpy(out + 4 * (len + 1), &longest, 4);
    /* Each read begins 10 us after every DOUT fell and lasts 50 us, a second after the last. */
    static int64_t s_us = 1000;
    s_us += 1000000;
    const int64_t fell[8] = {s_us, s_us, s_us, s_us, s_us, s_us, s_us, s_us};
    scale_put_read_times(out, len, s_us + 10, s_us + 60, fell);
    return 0;
}

esp_err_t hx711_gpio_write(int pin, int level)
{
    if (sim_hx711_write_fails || pin != 18 || (level != 0 && level != 1)) return ESP_ERR_INVALID_ARG;
    sim_hx711_clk_level = level;
    return ESP_OK;
}
