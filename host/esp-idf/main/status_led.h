/* Status LED patterns, as the prototypes blinked theirs: start-up, WiFi failure, broker failure;
 * and over them, what a press of the button did (scale_portable.h, scale_button_led). */
#pragma once

#include <stdint.h>

typedef enum {
    STATUS_STARTING,     /* fast blink */
    STATUS_WIFI_FAILED,  /* two short flashes, pause */
    STATUS_BROKER_DOWN,  /* three short flashes, pause */
    STATUS_FAULT,        /* HX711 fault: slow blink */
    STATUS_OK,           /* steady on */
    STATUS_DARK,         /* off: battery mode, where every milliamp counts */
    STATUS_UNPROVISIONED, /* no WiFi network set: two slow blinks a second, then a second dark (waiting for USB provisioning) */
} status_t;

void status_led_start(int pin);
void status_led_set(status_t status);

/* What the core's button export answered (its bits), after each sample while a button is fitted. */
void status_led_button(int32_t bits);
