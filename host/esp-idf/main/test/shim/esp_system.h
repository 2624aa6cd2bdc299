/* The reset reason (esp_system.h), from the test: a deep-sleep wake, or a brown-out it injects. */
#pragma once
typedef enum { ESP_RST_UNKNOWN, ESP_RST_POWERON, ESP_RST_BROWNOUT = 9, ESP_RST_DEEPSLEEP = 8 } esp_reset_reason_t;
esp_reset_reason_t esp_reset_reason(void);
/* A software restart: the test's boot loop again. */
void esp_restart(void) __attribute__((noreturn));
