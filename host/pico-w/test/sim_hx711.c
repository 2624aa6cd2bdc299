/* A simulated HX711 behind the Pico host's GPIO capability (hx711_pio.h): always ready, a fixed
 * code with a little deterministic noise, clocked as the ABI says, every call counted. */
#include <string.h>

#include "hx711_pio.h"
#include "scale_portable.h"

int sim_wait_calls, sim_clock_calls;
int32_t sim_code = 123456;
/* Set by the hostile case: what the natives were last asked (a pointer they refused never arrives). */
int sim_bad_pointer_seen;

bool hx711_pin_usable(int pin) { return pin >= 0 && pin <= 28 && pin != 23 && pin != 24 && pin != 25; }

int32_t hx711_pio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us)
{
    sim_wait_calls++;
    return scale_pins_valid(pins, len) ? 50 : -1000001;
}

int32_t hx711_pio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len)
{
    if (pulses < 25 || pulses > 27 || out_len < scale_clock_out_len(len)) return -2;
    sim_clock_calls++;
    const int extra = pulses - 24;
    for (size_t i = 0; i < len; i++) {
        const uint32_t code = (uint32_t)(sim_code + (sim_clock_calls * 7) % 5 - 2) & 0xffffff;
        scale_put_u32(out + 4 * i, (code << extra) | ((1u << extra) - 1));
    }
    scale_put_u32(out + 4 * len, (1u << len) - 1); /* DOUT high after the last pulse */
    scale_put_u32(out + 4 * (len + 1), 1);         /* the PIO's high phase */
    /* Each read begins 10 us after every DOUT fell and lasts 50 us, a second after the last. */
    const int64_t at = (int64_t)sim_clock_calls * 1000000;
    const int64_t fell[8] = {at, at, at, at, at, at, at, at};
    scale_put_read_times(out, len, at + 10, at + 60, fell);
    return 0;
}

bool hx711_pio_write(int pin, int level) { return true; }
