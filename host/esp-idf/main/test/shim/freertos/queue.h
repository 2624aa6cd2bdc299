#pragma once
typedef void *QueueHandle_t;
