/* Provisioning over the console's serial port: see provision_console.h. */
#include "provision_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "provision_store.h"
#include "scale_provision.h"
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
#include "hal/usb_serial_jtag_ll.h"
#elif CONFIG_ESP_CONSOLE_UART
#include "hal/uart_ll.h"
#endif

static const char *TAG = "provision";

/* The port is read straight from its hardware FIFO, with no driver: a driver's state, buffers and
 * ring buffer would hold 2 KB of heap and, on chips whose IRAM and DRAM share one SRAM (C3, S3),
 * 3 KB of IRAM for ever (measured on the ESP32-C3 in QEMU: 4.9 KB less heap at a TLS handshake),
 * for a port that is spoken to once in the scale's life. A timer looks for a first byte every
 * POLL_US; a session then empties the FIFO every millisecond (a UART's 128 bytes fill in 11 ms at
 * 115200 baud; the USB Serial/JTAG port holds the host back by itself). Answers go out through
 * stdout, as the log does. */
#define POLL_US 200000
#define SESSION_STACK 8192
#define SESSION_PRIORITY 3
/* How long a restart may wait for the core's thread to keep the state and make it. */
#define RESTART_WAIT_MS 5000
/* A session that hears nothing for this long gives its memory back (staged changes are dropped, and said). */
#define IDLE_MS 300000

static provision_console_config_t s_config;
static volatile bool s_session_on;
static esp_timer_handle_t s_poll;

/* What the port's FIFO holds, at most cap bytes. */
static size_t port_take(uint8_t *buf, size_t cap)
{
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    return usb_serial_jtag_ll_rxfifo_data_available() ? (size_t)usb_serial_jtag_ll_read_rxfifo(buf, (uint32_t)cap) : 0;
#elif CONFIG_ESP_CONSOLE_UART
    uart_dev_t *hw = UART_LL_GET_HW(CONFIG_ESP_CONSOLE_UART_NUM);
    uint32_t n = uart_ll_get_rxfifo_len(hw);
    if (n > cap) n = (uint32_t)cap;
    if (n > 0) uart_ll_read_rxfifo(hw, buf, n);
    return n;
#else
    (void)buf;
    (void)cap;
    return 0;
#endif
}

static const uint8_t *save(void *ctx, const uint8_t *record, size_t len)
{
    (void)ctx;
    return provision_store_save(record, len);
}

static bool erase(void *ctx)
{
    (void)ctx;
    return provision_store_erase();
}

/* The network to try, the session's own strings: tried after the session has answered
 * "provisioning", from the loop below. */
static const char *s_try_ssid, *s_try_password;

static void wifi_try(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    s_try_ssid = ssid;
    s_try_password = password;
}

static bool s_restart;

static void restart(void *ctx)
{
    (void)ctx;
    s_restart = true;
}

static void session_task(void *arg)
{
    (void)arg;
    prov_session_t *s = malloc(sizeof *s);
    uint8_t *buf = malloc(256);
    if (s == NULL || buf == NULL) {
        ESP_LOGE(TAG, "no memory for a provisioning session (%u bytes)", (unsigned)sizeof *s);
        free(s);
        free(buf);
        s_session_on = false;
        vTaskDelete(NULL);
        return;
    }
    const prov_io_t io = {.write = prov_write_stdout, .save = save, .erase = erase, .wifi_try = wifi_try, .restart = restart,
                          .firmware = "wasm-scale", .version = s_config.version, .chip = s_config.chip};
    prov_session_init(s, &io, s_config.stored, s_config.stored_len, s_config.default_device_id);
    prov_session_online(s, s_config.wifi_up && s_config.wifi_up());
    /* The log would break into the answers: warnings and errors only while the session lasts. */
    esp_log_level_set("*", ESP_LOG_WARN);
    TickType_t last = xTaskGetTickCount();
    while (!s_restart && xTaskGetTickCount() - last < pdMS_TO_TICKS(IDLE_MS)) {
        const size_t n = port_take(buf, 256);
        if (n > 0) {
            prov_session_online(s, s_config.wifi_up && s_config.wifi_up());
            prov_session_feed(s, buf, n);
            last = xTaskGetTickCount();
        } else {
            vTaskDelay(1);
        }
        if (s_try_ssid) {
            const bool ok = s_config.wifi_try(s_try_ssid, s_try_password);
            s_try_ssid = s_try_password = NULL;
            prov_wifi_result(s, ok); /* which wipes the password */
            last = xTaskGetTickCount();
        }
    }
    if (s_restart) {
        vTaskDelay(pdMS_TO_TICKS(100)); /* the answer leaves the port */
        if (s_config.restart) {
            s_config.restart();
            vTaskDelay(pdMS_TO_TICKS(RESTART_WAIT_MS)); /* the core's thread restarts the chip at its next sample */
            ESP_LOGW(TAG, "the core did not restart the chip within %d ms: restarting without its state", RESTART_WAIT_MS);
        }
        esp_restart();
    }
    prov_session_end(s);
    /* The record kept now is where later sessions start. */
    s_config.stored = s->stored;
    s_config.stored_len = s->stored_len;
    esp_log_level_set("*", ESP_LOG_INFO);
    free(buf);
    free(s);
    s_session_on = false;
    vTaskDelete(NULL);
}

static bool port_pending(void)
{
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    return usb_serial_jtag_ll_rxfifo_data_available() != 0;
#elif CONFIG_ESP_CONSOLE_UART
    return uart_ll_get_rxfifo_len(UART_LL_GET_HW(CONFIG_ESP_CONSOLE_UART_NUM)) > 0;
#else
    return false;
#endif
}

/* Every POLL_US: bytes on the port begin a session (which reads the port until it ends). */
static void poll(void *arg)
{
    (void)arg;
    if (s_session_on || !port_pending()) return;
    s_session_on = true;
    if (xTaskCreate(session_task, "provision", SESSION_STACK, NULL, SESSION_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "no memory for the provisioning task");
        s_session_on = false;
    }
}

esp_err_t provision_console_start(const provision_console_config_t *config)
{
    s_config = *config;
#if !CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG && !CONFIG_ESP_CONSOLE_UART
    ESP_LOGW(TAG, "no provisioning over this console (USB CDC): use a UART or USB Serial/JTAG console");
    return ESP_ERR_NOT_SUPPORTED;
#else
    const esp_timer_create_args_t timer = {.callback = poll, .name = "provision"};
    esp_err_t err = esp_timer_create(&timer, &s_poll);
    if (err == ESP_OK) err = esp_timer_start_periodic(s_poll, POLL_US);
    return err;
#endif
}
