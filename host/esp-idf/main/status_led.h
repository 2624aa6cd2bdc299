/* Status LED patterns, as the prototypes blinked theirs: start-up, WiFi failure, broker failure. */
#pragma once

typedef enum {
    STATUS_STARTING,     /* fast blink */
    STATUS_WIFI_FAILED,  /* two short flashes, pause */
    STATUS_BROKER_DOWN,  /* three short flashes, pause */
    STATUS_FAULT,        /* HX711 fault: slow blink */
    STATUS_OK,           /* steady on */
    STATUS_DARK,         /* off: battery mode, where every milliamp counts */
} status_t;

void status_led_start(int pin);
void status_led_set(status_t status);
