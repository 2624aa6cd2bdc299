/* The network component of a build without one (SCALE_NETWORK=OFF: a plain Pico, or the emulated
 * RP2040 of tests/pico-emulator.ts): no WiFi, no clock, no broker; the LED on its GPIO. The rest of
 * the firmware is the Pico W's, unchanged. */
#include "hardware/gpio.h"
#include "net.h"

bool net_wifi_start(const char *ssid, const char *password)
{
    (void)ssid, (void)password;
#ifdef PICO_DEFAULT_LED_PIN
    gpio_init(PICO_DEFAULT_LED_PIN);
    gpio_set_dir(PICO_DEFAULT_LED_PIN, GPIO_OUT);
#endif
    return false;
}

bool net_wifi_prepare(void)
{
    return true;
}

void net_wifi_use(const char *ssid, const char *password)
{
    (void)ssid, (void)password;
}

bool net_wifi_poll(uint32_t now_ms)
{
    (void)now_ms;
    return false;
}

void net_led(bool on)
{
#ifdef PICO_DEFAULT_LED_PIN
    gpio_put(PICO_DEFAULT_LED_PIN, on);
#else
    (void)on;
#endif
}

void net_clock_start(const char *server) { (void)server; }
uint32_t net_clock_epoch(void) { return 0; }

bool net_mqtt_init(const net_mqtt_config_t *config)
{
    (void)config;
    return true;
}

void net_mqtt_poll(uint32_t now_ms, bool wifi_up) { (void)now_ms, (void)wifi_up; }
bool net_mqtt_take_connected_edge(void) { return false; }
bool net_mqtt_take_disconnected_edge(void) { return false; }
bool net_mqtt_can_publish(void) { return false; }

bool net_mqtt_publish(const char *topic, size_t topic_len, const uint8_t *payload, size_t len, int qos, bool retain)
{
    (void)topic, (void)topic_len, (void)payload, (void)len, (void)qos, (void)retain;
    return false;
}

int net_mqtt_take_publish_result(void) { return 0; }
bool net_mqtt_take_message(net_message_t *out) { (void)out; return false; }
unsigned net_mqtt_take_lost(char *topic, size_t size) { (void)topic, (void)size; return 0; }
