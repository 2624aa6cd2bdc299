#pragma once
#include <stddef.h>
#include "freertos/FreeRTOS.h"
typedef struct shim_queue *QueueHandle_t;
QueueHandle_t xQueueCreate(unsigned length, size_t item_size);
/* Waits up to ticks (ms) for room; pdTRUE when the item was queued. */
BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t ticks);
BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t ticks);
