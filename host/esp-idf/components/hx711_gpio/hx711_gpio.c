/* wasm-scale GPIO capability for the HX711 protocol in the Wasm core. */
#include "hx711_gpio.h"

#include "sdkconfig.h"
#include "driver/gpio.h"
#include "esp_attr.h"
#include "esp_cpu.h"
#include "esp_log.h"
#include "esp_rom_sys.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "hal/gpio_ll.h"
#include "scale_portable.h"
#include "soc/gpio_struct.h"

static const char *TAG = "hx711_gpio";

/* The pins: the GPIO registers (the LL layer, inlined into IRAM), or, in the QEMU variant, the
 * simulated chip of hx711_sim.h bit by bit, with everything else in this file unchanged. */
#if CONFIG_SCALE_HX711_SIMULATED
#include "hx711_sim.h"
#define CLK_SET(pin, level) hx711_sim_clock(level)
#define DOUT_GET(pin) hx711_sim_dout()
#else
#define CLK_SET(pin, level) gpio_ll_set_level(&GPIO, (uint32_t)(pin), (level))
#define DOUT_GET(pin) gpio_ll_get_level(&GPIO, (pin))
#endif

/* Datasheet T3/T4 typical: 1 us high, 1 us low (min 0.2 us each, high at most 50 us). */
#define PULSE_HIGH_US 1
#define PULSE_LOW_US 1

static portMUX_TYPE s_mux = portMUX_INITIALIZER_UNLOCKED;
static int s_clk_pin = -1;
static uint64_t s_input_mask;
static volatile uint32_t s_yields;
/* When each DOUT pin last fell (esp_timer us), recorded between reads by a falling-edge interrupt:
 * the core tells from it whether a conversion could have completed during a read. */
static volatile int64_t s_fell_us[GPIO_NUM_MAX];
/* A read is clocking: DOUT's edges are data bits then, not conversions. */
static volatile bool s_reading;

#if CONFIG_SCALE_HX711_SIMULATED
#define DOUT_INTR GPIO_INTR_DISABLE
/* The simulated chip knows when its DOUT fell; its pins raise no interrupt. */
static void note_fall(int pin) { s_fell_us[pin] = hx711_sim_fell_us(); }
#else
#define DOUT_INTR GPIO_INTR_NEGEDGE
static void IRAM_ATTR dout_fell(void *arg)
{
    if (!s_reading) s_fell_us[(intptr_t)arg] = esp_timer_get_time();
}
static void note_fall(int pin) { (void)pin; }
#endif

esp_err_t hx711_gpio_init(const hx711_gpio_config_t *config)
{
    if (config == NULL || !scale_pin_is_output(config->clk_pin) || config->dout_count < 1 || config->dout_count > 4) {
        return ESP_ERR_INVALID_ARG;
    }
    uint64_t inputs = 0;
    for (int i = 0; i < config->dout_count; i++) {
        if (!scale_pin_is_input(config->dout_pins[i]) || config->dout_pins[i] == config->clk_pin) return ESP_ERR_INVALID_ARG;
        inputs |= 1ULL << config->dout_pins[i];
    }
    gpio_config_t out = {
        .pin_bit_mask = 1ULL << config->clk_pin,
        .mode = GPIO_MODE_OUTPUT,
        .pull_up_en = GPIO_PULLUP_DISABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = GPIO_INTR_DISABLE,
    };
    esp_err_t err = gpio_config(&out);
    if (err != ESP_OK) return err;
    gpio_set_level(config->clk_pin, 0);
    CLK_SET(config->clk_pin, 0);
    gpio_config_t in = {
        .pin_bit_mask = inputs,
        .mode = GPIO_MODE_INPUT,
        /* A missing chip then reads high (not ready) and times out, instead of floating. GPIO 34..39
         * have no pull-up: the configuration check asks for an external one there. */
        .pull_up_en = GPIO_PULLUP_ENABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = DOUT_INTR,
    };
    err = gpio_config(&in);
    if (err != ESP_OK) return err;
    for (int i = 0; i < config->dout_count; i++) s_fell_us[config->dout_pins[i]] = esp_timer_get_time();
#if !CONFIG_SCALE_HX711_SIMULATED
    /* The edge's time, to a few microseconds: the handler runs from IRAM, also while flash is busy.
     * Another component may have installed the service already. */
    err = gpio_install_isr_service(ESP_INTR_FLAG_IRAM);
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) return err;
    for (int i = 0; i < config->dout_count; i++) {
        err = gpio_isr_handler_add(config->dout_pins[i], dout_fell, (void *)(intptr_t)config->dout_pins[i]);
        if (err != ESP_OK) return err;
    }
#endif
    s_clk_pin = config->clk_pin;
    s_input_mask = inputs;
    ESP_LOGI(TAG, "clock GPIO %d, %d data pin(s)", s_clk_pin, config->dout_count);
    return ESP_OK;
}

static bool pins_configured(const uint8_t *pins, size_t len)
{
    if (!scale_pins_valid(pins, len)) return false;
    for (size_t i = 0; i < len; i++) {
        if ((s_input_mask & (1ULL << pins[i])) == 0) return false;
    }
    return true;
}

int32_t hx711_gpio_wait_low(const uint8_t *pins, size_t len, int32_t timeout_us)
{
    if (!pins_configured(pins, len) || timeout_us < 0) return -1000001;
    const int64_t start = esp_timer_get_time();
    for (;;) {
        uint32_t high = 0;
        for (size_t i = 0; i < len; i++) {
            if (DOUT_GET(pins[i])) high |= 1u << i;
        }
        const int64_t now = esp_timer_get_time();
        const int64_t waited = now - start;
        /* Polled once per tick: the read may begin up to a tick after the last pin fell (the edge
         * interrupt keeps each fall's time, so the core judges the read by when it really began). */
        if (high == 0) return (int32_t)waited;
        if (waited >= timeout_us) return -(int32_t)high;
        s_yields++;
        vTaskDelay(1); /* bounded and yielding: never a busy wait that starves the watchdog */
    }
}

int32_t IRAM_ATTR hx711_gpio_clock_in(int clk, const uint8_t *pins, size_t len, int pulses, uint8_t *out, size_t out_len)
{
    if (clk != s_clk_pin || !pins_configured(pins, len)) return -1;
    if (pulses < 1 || pulses > 32) return -2;
    if (out == NULL || out_len < scale_clock_out_len(len)) return -3;
    uint32_t words[8] = {0};
    int64_t fell[8];
    uint32_t longest = 0;
    const uint32_t ticks_per_us = esp_rom_get_cpu_ticks_per_us();
    s_reading = true; /* from here the edge interrupt leaves the times alone */
    for (size_t i = 0; i < len; i++) {
        note_fall(pins[i]);
        fell[i] = s_fell_us[pins[i]];
    }
    const int64_t read_start = esp_timer_get_time();
    for (int p = 0; p < pulses; p++) {
        /* Only the high phase is protected: the HX711 powers down if it lasts over 60 us, while
         * the low phase has no maximum. Interrupts stay enabled between pulses. */
        /* Register access only (the LL layer, inlined into IRAM): gpio_get_level is not in IRAM on
         * ESP-IDF 5.1/5.2, and a flash cache miss here could stretch the pulse. */
        portENTER_CRITICAL(&s_mux);
        const uint32_t t0 = esp_cpu_get_cycle_count();
        CLK_SET(clk, 1);
        esp_rom_delay_us(PULSE_HIGH_US);
        for (size_t i = 0; i < len; i++) words[i] = (words[i] << 1) | (uint32_t)DOUT_GET(pins[i]);
        CLK_SET(clk, 0);
        const uint32_t high = esp_cpu_get_cycle_count() - t0;
        portEXIT_CRITICAL(&s_mux);
        if (high > longest) longest = high;
        esp_rom_delay_us(PULSE_LOW_US);
    }
    const int64_t read_end = esp_timer_get_time();
    s_reading = false;
    uint32_t after = 0;
    for (size_t i = 0; i < len; i++) {
        if (DOUT_GET(pins[i])) after |= 1u << i;
        else s_fell_us[pins[i]] = read_end; /* low already: a conversion came as the read ended, its edge unseen */
        scale_put_u32(out + 4 * i, words[i]);
    }
    scale_put_u32(out + 4 * len, after);
    scale_put_u32(out + 4 * (len + 1), (longest + ticks_per_us - 1) / ticks_per_us);
    scale_put_read_times(out, len, read_start, read_end, fell);
    return 0;
}

uint32_t hx711_gpio_yields(void)
{
    return s_yields;
}

esp_err_t hx711_gpio_write(int pin, int level)
{
    if (pin != s_clk_pin || (level != 0 && level != 1)) return ESP_ERR_INVALID_ARG;
    CLK_SET(pin, level);
    return gpio_set_level(pin, (uint32_t)level);
}
