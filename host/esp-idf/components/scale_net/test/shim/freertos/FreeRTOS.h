/* The FreeRTOS types mqtt_link.c uses; queues, semaphores and delays are real, on pthreads
 * (../test_mqtt_link.c), so esp-mqtt's task and the core's task run concurrently as on the chip. */
#pragma once
#include <stdint.h>
typedef uint32_t TickType_t;
typedef int BaseType_t;
typedef void *TaskHandle_t;
#define pdPASS 1
#define pdTRUE 1
#define pdFALSE 0
#define portMAX_DELAY 0xffffffffu
#define pdMS_TO_TICKS(ms) ((TickType_t)(ms))
