/* The configuration checks for the ESP32-C3: GPIO 0..21, 12..17 refused (SPI flash), every pin
 * with a pull-up and output-capable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scale_portable.h"

static int failures;
#define CHECK(cond, ...)                                 \
    do {                                                 \
        if (!(cond)) {                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                \
            fputc('\n', stderr);                         \
            failures++;                                  \
        }                                                \
    } while (0)

int main(void)
{
    for (int pin = -1; pin <= 40; pin++) {
        const int exists = pin >= 0 && pin <= 21;
        const int flash = pin >= 12 && pin <= 17;
        CHECK(scale_pin_exists(pin) == exists, "GPIO %d exists: %d", pin, scale_pin_exists(pin));
        CHECK(scale_pin_is_input(pin) == (exists && !flash), "GPIO %d input: %d", pin, scale_pin_is_input(pin));
        CHECK(scale_pin_is_output(pin) == (exists && !flash), "GPIO %d output: %d", pin, scale_pin_is_output(pin));
        CHECK(scale_pin_has_pullup(pin) == (exists && !flash), "GPIO %d pull-up: %d", pin, scale_pin_has_pullup(pin));
    }
    scale_config_t c = {.broker_uri = "mqtts://broker:8883", .device_id = "scale1", .wifi_ssid = "net", .wifi_password = "",
                        .clk_pin = 4, .dout_pins = {5}, .dout_count = 1, .led_pin = 8, .button_pin = -1, .rate_sps = 10,
                        .wasm_stack_kb = 3, .wasm_pool_kb = 0, .task_stack_bytes = 10240};
    const char *problem = scale_config_check(&c);
    CHECK(problem == NULL, "the ESP32-C3 defaults are refused: %s", problem);
    c.clk_pin = 25;
    problem = scale_config_check(&c);
    CHECK(problem && strstr(problem, "0..21"), "clock on GPIO 25: %s", problem ? problem : "accepted");
    c.clk_pin = 4;
    c.dout_pins[0] = 14;
    problem = scale_config_check(&c);
    CHECK(problem && strstr(problem, "12..17"), "data on GPIO 14 (flash): %s", problem ? problem : "accepted");
    c.dout_pins[0] = 21;
    CHECK(scale_config_warning(&c) == NULL || strstr(scale_config_warning(&c), "pull-up") == NULL, "GPIO 21 has a pull-up on the C3");
    if (failures) return 1;
    puts("ESP32-C3 pin checks: ok");
    return 0;
}
