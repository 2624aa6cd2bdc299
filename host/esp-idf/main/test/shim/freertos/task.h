/* Tasks: the test runs battery_task itself; a delay advances its clock. */
#pragma once
#include <stdint.h>
#include "freertos/FreeRTOS.h"
void vTaskDelay(TickType_t ticks);
BaseType_t xTaskCreate(void (*fn)(void *), const char *name, uint32_t stack, void *arg, unsigned prio, TaskHandle_t *out);
