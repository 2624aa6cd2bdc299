#include "button.h"

#include <stdbool.h>

#include "driver/gpio.h"
#include "esp_attr.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "scale_portable.h"
#include "status_led.h"
#include "wasm_host.h"

static const char *TAG = "button";
/* The core's commands by index, for the log. */
static const char *const COMMANDS[] = SCALE_COMMAND_NAMES;
static int s_pin = -1;
static scale_button_t s_edges;

static void IRAM_ATTR edge(void *arg)
{
    (void)arg;
    scale_button_edge(&s_edges, gpio_get_level((gpio_num_t)s_pin) == 0, esp_timer_get_time());
}

esp_err_t button_start(int pin)
{
    if (pin < 0) return ESP_OK;
    scale_button_init(&s_edges);
    s_edges.last_down = false;
    const gpio_config_t in = {
        .pin_bit_mask = 1ULL << pin,
        .mode = GPIO_MODE_INPUT,
        .pull_up_en = GPIO_PULLUP_ENABLE,
        .pull_down_en = GPIO_PULLDOWN_DISABLE,
        .intr_type = GPIO_INTR_ANYEDGE,
    };
    esp_err_t err = gpio_config(&in);
    if (err != ESP_OK) return err;
    /* The HX711's DOUT interrupts may have installed the service already. */
    err = gpio_install_isr_service(ESP_INTR_FLAG_IRAM);
    if (err != ESP_OK && err != ESP_ERR_INVALID_STATE) return err;
    err = gpio_isr_handler_add((gpio_num_t)pin, edge, NULL);
    if (err == ESP_OK) s_pin = pin;
    return err;
}

static int32_t call_core(int32_t is_edge, int32_t down, int32_t t_ms, void *ctx)
{
    (void)ctx;
    uint32_t argv[3] = {(uint32_t)is_edge, (uint32_t)down, (uint32_t)t_ms};
    return wasm_host_call(SCALE_EXPORT_BUTTON, 3, argv) == ESP_OK ? (int32_t)argv[0] : INT32_MIN;
}

void button_after_sample(int64_t now_ms)
{
    if (s_pin < 0) return;
    /* The interrupt's times are esp_timer's; the core's clock is now_ms (battery_now_ms). */
    const int64_t base_us = now_ms * 1000 - esp_timer_get_time();
    const int32_t bits = scale_button_feed(&s_edges, base_us, (int32_t)now_ms, gpio_get_level((gpio_num_t)s_pin) == 0, call_core, NULL);
    status_led_button(bits);
    const int cmd = ((bits >> 8) & 0xff) - 1;
    if ((bits & 3) && cmd >= 0 && cmd < SCALE_COMMAND_COUNT) {
        if (bits & 1) ESP_LOGI(TAG, "%s: accepted", COMMANDS[cmd]);
        else ESP_LOGW(TAG, "%s: rejected (error %d)", COMMANDS[cmd], (int)-((bits >> 16) & 0xff));
    }
}
