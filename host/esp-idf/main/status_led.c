#include "status_led.h"

#include "driver/gpio.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "scale_portable.h"

/* The LED is worked out every TICK_MS from the status and the time, so a press of the button shows
 * at once, whatever the status pattern is doing. */
#define TICK_MS 25

static int s_pin = -1;
static volatile status_t s_status = STATUS_STARTING;
/* What the button last did (scale_portable decides how it looks); the core's task writes it. */
static scale_button_led_t s_button;
static portMUX_TYPE s_button_lock = portMUX_INITIALIZER_UNLOCKED;

static int32_t now_ms(void)
{
    return (int32_t)(esp_timer_get_time() / 1000);
}

/* n flashes of 120 ms, 180 ms apart, then a second's pause. */
static bool flashes(int n, int32_t t)
{
    const int32_t p = t % (n * 300 + 1000);
    return p < n * 300 && p % 300 < 120;
}

static bool pattern(status_t status, int32_t t)
{
    switch (status) {
    case STATUS_STARTING: return (t / 100) % 2 == 0;
    case STATUS_WIFI_FAILED: return flashes(2, t);
    case STATUS_BROKER_DOWN: return flashes(3, t);
    case STATUS_FAULT: return (t / 1000) % 2 == 0;
    case STATUS_UNPROVISIONED: return (t % 2000) < 1000 ? (t / 250) % 2 == 0 : false; /* two slow blinks, pause */
    case STATUS_DARK: return false;
    case STATUS_OK:
    default: return true;
    }
}

static void led_task(void *arg)
{
    (void)arg;
    for (;;) {
        const int32_t t = now_ms();
        taskENTER_CRITICAL(&s_button_lock);
        const scale_button_led_t button = s_button;
        taskEXIT_CRITICAL(&s_button_lock);
        const int shown = s_status == STATUS_DARK ? -1 : scale_button_led(&button, t);
        gpio_set_level(s_pin, shown >= 0 ? shown : pattern(s_status, t));
        vTaskDelay(pdMS_TO_TICKS(TICK_MS));
    }
}

void status_led_start(int pin)
{
    if (pin < 0) return;
    s_pin = pin;
    gpio_reset_pin(pin);
    gpio_set_direction(pin, GPIO_MODE_OUTPUT);
    xTaskCreate(led_task, "status_led", 2048, NULL, 1, NULL);
}

void status_led_set(status_t status)
{
    s_status = status;
}

void status_led_button(int32_t bits)
{
    const int32_t t = now_ms();
    taskENTER_CRITICAL(&s_button_lock);
    scale_button_led_note(&s_button, bits, t);
    taskEXIT_CRITICAL(&s_button_lock);
}
