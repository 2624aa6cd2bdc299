/* The ESP-IDF error codes provision_store.c uses, with ESP-IDF's values. */
#pragma once
typedef int esp_err_t;
#define ESP_OK 0
#define ESP_FAIL -1
#define ESP_ERR_NO_MEM 0x101
#define ESP_ERR_INVALID_ARG 0x102
const char *esp_err_to_name(esp_err_t code);
