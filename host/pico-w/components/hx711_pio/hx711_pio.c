/*
 * wasm-scale GPIO capability for the HX711 protocol, on the RP2040: a PIO state machine clocks
 * the pulses (hx711.pio) and a DMA channel takes each pulse's sample of GPIO 0..31 from its FIFO,
 * so the timing is exact and no interrupt (WiFi, lwIP) can stretch a high phase. Waiting for DOUT
 * to go low costs no CPU: a falling edge on a DOUT pin raises an interrupt, and the core sleeps
 * (WFE) until it, a timer alarm at the timeout or any other interrupt (WiFi, lwIP) wakes it.
 */
#include "hx711_pio.h"

#include <string.h>

#include "hardware/clocks.h"
#include "hardware/dma.h"
#include "hardware/gpio.h"
#include "hardware/irq.h"
#include "hardware/pio.h"
#include "hardware/sync.h"
#include "hx711.pio.h"
#include "pico/time.h"
#include "scale_portable.h"

/* The program's high phase, by construction (10 cycles of 0.1 us). */
#define HIGH_PHASE_US 1
/* How long DMA may take for 32 pulses of 2 us, with margin. */
#define READ_TIMEOUT_US 500

static PIO s_pio = pio0;
static uint s_sm;
static uint s_offset;
static int s_dma = -1;
static int s_clk = -1; /* the clock pin the state machine drives now */
static uint32_t s_clk_mask;
static uint32_t s_dout_mask;
/* When each DOUT pin last fell (time_us_64), recorded by the edge interrupt between reads: the
 * core tells from it whether a conversion could have completed during a read. */
static volatile uint64_t s_fell_us[32];
/* A read is clocking: DOUT's edges are data bits then, not conversions. */
static volatile bool s_reading;
static uint32_t s_samples[32];

bool hx711_pin_usable(int pin)
{
#ifdef CYW43_WL_GPIO_LED_PIN
    /* A Pico W (and Pico 2 W): 23, 24, 25 and 29 belong to the CYW43. */
    if (pin == 23 || pin == 24 || pin == 25) return false;
#endif
#if LIB_PICO_STDIO_UART
    /* The console's UART pins. */
    if (pin == PICO_DEFAULT_UART_TX_PIN || pin == PICO_DEFAULT_UART_RX_PIN) return false;
#endif
    return pin >= 0 && pin <= 28;
}

/* A DOUT pin fell: the event wakes hx711_pio_wait_low's WFE (taking and leaving an interrupt sets
 * the event register), and, between reads, the time is the conversion's. */
static void dout_fell(void)
{
    const uint64_t now = time_us_64();
    for (uint p = 0; p < 32; p++) {
        if ((s_dout_mask & (1u << p)) && (gpio_get_irq_event_mask(p) & GPIO_IRQ_EDGE_FALL)) {
            gpio_acknowledge_irq(p, GPIO_IRQ_EDGE_FALL);
            if (!s_reading) s_fell_us[p] = now;
        }
    }
}

static bool pins_configured(const uint8_t *pins, size_t len)
{
    if (!scale_pins_valid(pins, len) || len > HX711_MAX_CHIPS) return false;
    for (size_t i = 0; i < len; i++) {
        if (pins[i] > 31 || (s_dout_mask & (1u << pins[i])) == 0) return false;
    }
    return true;
}

/* The state machine drives `clk`: the side-set pin moves there (all clock pins rest low). */
static void select_clock(int clk)
{
    if (clk == s_clk) return;
    pio_sm_set_enabled(s_pio, s_sm, false);
    hx711_program_init(s_pio, s_sm, s_offset, (uint)clk);
    pio_sm_set_pins_with_mask(s_pio, s_sm, 0, 1u << clk);
    pio_sm_set_pindirs_with_mask(s_pio, s_sm, 1u << clk, 1u << clk);
    pio_sm_set_enabled(s_pio, s_sm, true);
    s_clk = clk;
}

bool hx711_pio_init(const hx711_pio_config_t *c)
{
    if (c == NULL || c->clk_count < 1 || c->clk_count > HX711_MAX_CLOCKS || c->dout_count < 1 || c->dout_count > HX711_MAX_CHIPS) return false;
    for (int i = 0; i < c->clk_count; i++) {
        if (!hx711_pin_usable(c->clk_pins[i])) return false;
        s_clk_mask |= 1u << c->clk_pins[i];
    }
    for (int i = 0; i < c->dout_count; i++) {
        const int p = c->dout_pins[i];
        if (!hx711_pin_usable(p) || (s_clk_mask & (1u << p))) return false;
        s_dout_mask |= 1u << p;
        gpio_init((uint)p);
        gpio_set_dir((uint)p, GPIO_IN);
        gpio_pull_up((uint)p); /* a missing chip reads high (not ready) and times out */
        s_fell_us[p] = time_us_64(); /* low already: its fall is not known to have been earlier */
    }
    gpio_add_raw_irq_handler_masked(s_dout_mask, dout_fell);
    for (int i = 0; i < c->dout_count; i++) gpio_set_irq_enabled((uint)c->dout_pins[i], GPIO_IRQ_EDGE_FALL, true);
    irq_set_enabled(IO_IRQ_BANK0, true);
    if (!pio_can_add_program(s_pio, &hx711_program)) return false;
    s_offset = pio_add_program(s_pio, &hx711_program);
    int sm = pio_claim_unused_sm(s_pio, false);
    s_dma = dma_claim_unused_channel(false);
    if (sm < 0 || s_dma < 0) return false;
    s_sm = (uint)sm;
    for (int i = 0; i < c->clk_count; i++) {
        pio_gpio_init(s_pio, (uint)c->clk_pins[i]);
        pio_sm_set_pins_with_mask(s_pio, s_sm, 0, 1u << c->clk_pins[i]);
        pio_sm_set_pindirs_with_mask(s_pio, s_sm, 1u << c->clk_pins[i], 1u << c->clk_pins[i]);
    }
    select_clock(c->clk_pins[0]);
    return true;
}

int32_t hx711_pio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us)
{
    if (!pins_configured(pins, len) || timeout_us < 0) return -1000001;
    const uint64_t start = time_us_64();
    const absolute_time_t deadline = from_us_since_boot(start + (uint64_t)timeout_us);
    for (;;) {
        const uint32_t all = gpio_get_all();
        uint32_t high = 0;
        for (size_t i = 0; i < len; i++) {
            if (all & (1u << pins[i])) high |= 1u << i;
        }
        const uint64_t now = time_us_64();
        const uint64_t waited = now - start;
        if (high == 0) return (int32_t)waited;
        if (waited >= (uint64_t)timeout_us) return -(int32_t)high;
        /* Asleep until a DOUT edge, the deadline or another interrupt; a wake for something else
         * only costs this loop's few instructions. */
        best_effort_wfe_or_timeout(deadline);
    }
}

int32_t hx711_pio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len)
{
    if (clk < 0 || clk > 31 || (s_clk_mask & (1u << clk)) == 0 || !pins_configured(pins, len)) return -1;
    if (pulses < 1 || pulses > 32) return -2;
    if (out == NULL || out_len < scale_clock_out_len(len)) return -3;
    select_clock(clk);
    pio_sm_clear_fifos(s_pio, s_sm);
    dma_channel_config dc = dma_channel_get_default_config((uint)s_dma);
    channel_config_set_transfer_data_size(&dc, DMA_SIZE_32);
    channel_config_set_read_increment(&dc, false);
    channel_config_set_write_increment(&dc, true);
    channel_config_set_dreq(&dc, pio_get_dreq(s_pio, s_sm, false));
    dma_channel_configure((uint)s_dma, &dc, s_samples, &s_pio->rxf[s_sm], (uint)pulses, true);
    int64_t fell[HX711_MAX_CHIPS];
    s_reading = true; /* from here the edge interrupt leaves the times alone */
    for (size_t i = 0; i < len; i++) fell[i] = (int64_t)s_fell_us[pins[i]];
    const uint64_t start = time_us_64();
    pio_sm_put(s_pio, s_sm, (uint32_t)(pulses - 1));
    while (dma_channel_is_busy((uint)s_dma)) {
        if (time_us_64() - start > READ_TIMEOUT_US) {
            dma_channel_abort((uint)s_dma);
            s_reading = false;
            return -4; /* the core reports FAULT_HOST */
        }
    }
    /* The last falling edge is one low phase after the last sample. */
    busy_wait_us_32(1);
    const uint64_t end = time_us_64();
    const uint32_t after_all = gpio_get_all();
    s_reading = false;
    uint32_t after = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t word = 0;
        for (int p = 0; p < pulses; p++) word = (word << 1) | ((s_samples[p] >> pins[i]) & 1u);
        scale_put_u32(out + 4 * i, word);
        if (after_all & (1u << pins[i])) after |= 1u << i;
        else s_fell_us[pins[i]] = end; /* low already: a conversion came as the read ended, its edge unseen */
    }
    scale_put_u32(out + 4 * len, after);
    scale_put_u32(out + 4 * (len + 1), HIGH_PHASE_US);
    scale_put_read_times(out, len, (int64_t)start, (int64_t)end, fell);
    return 0;
}

bool hx711_pio_write(int pin, int level)
{
    if (pin < 0 || pin > 31 || (s_clk_mask & (1u << pin)) == 0 || (level != 0 && level != 1)) return false;
    if (level) {
        /* Power down (clock high > 60 us): the pin leaves the state machine, whose waiting `pull`
         * would drive it low again, and is held high by the CPU's GPIO. */
        gpio_put((uint)pin, 1);
        gpio_set_dir((uint)pin, GPIO_OUT);
        gpio_set_function((uint)pin, GPIO_FUNC_SIO);
    } else {
        /* Power up: low, and back to the state machine (its output for the pin rests low). */
        gpio_put((uint)pin, 0);
        pio_gpio_init(s_pio, (uint)pin);
    }
    return true;
}
