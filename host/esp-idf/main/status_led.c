#include "status_led.h"

#include "driver/gpio.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

static int s_pin = -1;
static volatile status_t s_status = STATUS_STARTING;

static void flashes(int n)
{
    for (int i = 0; i < n; i++) {
        gpio_set_level(s_pin, 1);
        vTaskDelay(pdMS_TO_TICKS(120));
        gpio_set_level(s_pin, 0);
        vTaskDelay(pdMS_TO_TICKS(180));
    }
    vTaskDelay(pdMS_TO_TICKS(1000));
}

static void led_task(void *arg)
{
    (void)arg;
    for (;;) {
        switch (s_status) {
        case STATUS_STARTING:
            gpio_set_level(s_pin, 1);
            vTaskDelay(pdMS_TO_TICKS(100));
            gpio_set_level(s_pin, 0);
            vTaskDelay(pdMS_TO_TICKS(100));
            break;
        case STATUS_WIFI_FAILED: flashes(2); break;
        case STATUS_BROKER_DOWN: flashes(3); break;
        case STATUS_FAULT:
            gpio_set_level(s_pin, 1);
            vTaskDelay(pdMS_TO_TICKS(1000));
            gpio_set_level(s_pin, 0);
            vTaskDelay(pdMS_TO_TICKS(1000));
            break;
        case STATUS_DARK:
            gpio_set_level(s_pin, 0);
            vTaskDelay(pdMS_TO_TICKS(250));
            break;
        case STATUS_OK:
        default:
            gpio_set_level(s_pin, 1);
            vTaskDelay(pdMS_TO_TICKS(250));
            break;
        }
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
