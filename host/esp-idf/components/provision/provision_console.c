/* Provisioning over the console's serial port: see provision_console.h. */
#include "provision_console.h"

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
#include "driver/usb_serial_jtag.h"
#else
#include "driver/uart.h"
#endif

static const char *TAG = "provision";

/* The port is looked at this often for a first byte (by an esp_timer callback: no task of its
 * own); only then is a task made, with room for mbedTLS parsing a key. */
#define POLL_US 200000
#define SESSION_STACK 8192
#define SESSION_PRIORITY 3
/* A session that hears nothing for this long gives its memory back (staged changes are dropped). */
#define IDLE_MS 60000
#define READ_MS 500
/* The UART driver's receive buffer (more than the 128-byte FIFO; a line protocol request is at most 320). */
#define RX_BUFFER 512

static provision_console_config_t s_config;
static volatile bool s_session_on;
static esp_timer_handle_t s_poll;
static uint8_t s_first;

static int port_read(uint8_t *buf, size_t len, uint32_t ms)
{
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    return usb_serial_jtag_read_bytes(buf, len, pdMS_TO_TICKS(ms));
#else
    return uart_read_bytes(CONFIG_ESP_CONSOLE_UART_NUM, buf, len, pdMS_TO_TICKS(ms));
#endif
}

static void port_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    usb_serial_jtag_write_bytes(data, len, pdMS_TO_TICKS(1000));
#else
    uart_write_bytes(CONFIG_ESP_CONSOLE_UART_NUM, data, len);
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

static bool s_try_pending;
static char s_try_ssid[33], s_try_password[65];

static void wifi_try(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    /* Tried after the session has answered "provisioning", from the loop below. */
    strlcpy(s_try_ssid, ssid, sizeof s_try_ssid);
    strlcpy(s_try_password, password, sizeof s_try_password);
    s_try_pending = true;
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
    const prov_io_t io = {.write = port_write, .save = save, .erase = erase, .wifi_try = wifi_try, .restart = restart,
                          .firmware = "wasm-scale", .version = s_config.version, .chip = s_config.chip};
    prov_session_init(s, &io, s_config.stored, s_config.stored_len, s_config.default_device_id);
    prov_session_online(s, s_config.wifi_up && s_config.wifi_up());
    /* The log would break into the answers: warnings and errors only while the session lasts. */
    esp_log_level_set("*", ESP_LOG_WARN);
    prov_session_feed(s, &s_first, 1);
    TickType_t last = xTaskGetTickCount();
    while (!s_restart && (xTaskGetTickCount() - last < pdMS_TO_TICKS(IDLE_MS) || !prov_session_idle(s))) {
        const int n = port_read(buf, 256, READ_MS);
        if (n > 0) {
            prov_session_feed(s, buf, (size_t)n);
            last = xTaskGetTickCount();
        }
        if (s_try_pending) {
            s_try_pending = false;
            const bool ok = s_config.wifi_try(s_try_ssid, s_try_password);
            memset(s_try_password, 0, sizeof s_try_password);
            prov_wifi_result(s, ok);
            last = xTaskGetTickCount();
        }
    }
    if (s_restart) {
        vTaskDelay(pdMS_TO_TICKS(100)); /* the answer leaves the port */
        esp_restart();
    }
    /* The record kept now is where later sessions start. */
    s_config.stored = s->stored;
    s_config.stored_len = s->stored_len;
    esp_log_level_set("*", ESP_LOG_INFO);
    free(buf);
    free(s);
    s_session_on = false;
    vTaskDelete(NULL);
}

/* Every POLL_US: a byte on the port begins a session (which reads the port until it ends). */
static void poll(void *arg)
{
    (void)arg;
    if (s_session_on || port_read(&s_first, 1, 0) != 1) return;
    s_session_on = true;
    if (xTaskCreate(session_task, "provision", SESSION_STACK, NULL, SESSION_PRIORITY, NULL) != pdPASS) {
        ESP_LOGE(TAG, "no memory for the provisioning task");
        s_session_on = false;
    }
}

esp_err_t provision_console_start(const provision_console_config_t *config)
{
    s_config = *config;
#if CONFIG_ESP_CONSOLE_USB_SERIAL_JTAG
    usb_serial_jtag_driver_config_t usb = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
    esp_err_t err = usb_serial_jtag_driver_install(&usb);
#elif CONFIG_ESP_CONSOLE_UART
    /* Receive only through the driver; the log keeps writing to the port as before. */
    esp_err_t err = uart_driver_install(CONFIG_ESP_CONSOLE_UART_NUM, RX_BUFFER, 0, 0, NULL, 0);
#else
    esp_err_t err = ESP_ERR_NOT_SUPPORTED;
#endif
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "no provisioning over the console: %s", esp_err_to_name(err));
        return err;
    }
    const esp_timer_create_args_t timer = {.callback = poll, .name = "provision"};
    err = esp_timer_create(&timer, &s_poll);
    if (err == ESP_OK) err = esp_timer_start_periodic(s_poll, POLL_US);
    return err;
}
