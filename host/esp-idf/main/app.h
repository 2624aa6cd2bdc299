/*
 * What the two ways of running share (main.c: awake, sampling continuously; battery.c: one
 * reading a wake, deep sleep between), in app.c: the core's set-up, persistence, clock and MQTT
 * plumbing. main.c uses battery.c and app.c; battery.c uses app.c; app.c neither.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "scale_net.h"

/* A frame handed to the network and what became of it. */
typedef struct {
    int in_flight;           /* msg_id awaiting its PUBACK, -1 for none */
    bool submitted;          /* a frame is with the network task, its msg_id not known yet */
    int early_ack;           /* a PUBACK that arrived before the msg_id was known */
    int64_t since_ms;
    int subscribed;          /* subscriptions acknowledged on this connection */
    /* A frame of a core that trapped, still with the network: its events are not the new core's. */
    bool orphan_submitted;   /* its msg_id not known yet (the next QUEUED event is its) */
    int orphan_id;           /* its msg_id awaiting a PUBACK, -1 for none */
} publish_state_t;

#define PUBLISH_STATE_INIT {.in_flight = -1, .early_ack = -1, .orphan_id = -1}

/* After the core was instantiated again: nothing the old core handed on is acknowledged to the new
 * one (it would take the acknowledgement for its own first frame, never sent, and drop it). */
void app_publish_reset(publish_state_t *p);

/* The core's setting `key` (codes.config). */
float app_setting(int key);

/* Chips, stored settings and calibration, device id: what a fresh (or reset) core is given. */
void app_core_setup(void);

/* Saves the blobs the core changed (tare, zero, calibration, settings) to NVS. */
void app_persist_dirty(void);

/* After every sample (status: scale_sample's, INT32_MIN when it did not complete): a core on trial
 * that trapped is rolled back, one that weighs is confirmed, a calibration module that failed is
 * rolled back, before the next sample. */
void app_after_sample(int32_t status);

/* Tells the core the wall clock when it is known (SNTP, or the RTC after a deep sleep); `again`
 * after the clock was set anew. now_ms: the host's monotonic clock (battery_now_ms). */
void app_sync_time(bool again, int64_t now_ms);

/* The chips' DOUT pins (all on CONFIG_SCALE_HX711_CLK_PIN), before the core starts. */
void app_set_chips(const int *dout_pins, int count);

/* Once the core runs: the topics and will it renders, the calibration modules, the network's event
 * queue. False when there was no memory for the queue. */
bool app_start(void);

/* Handles what the network said since the last call (connection, acknowledgements, messages);
 * returns the number of messages handed to the core. */
int app_handle_events(publish_state_t *p);

/* Hands the core's next frame to the network when the last is through. True while something is
 * queued or in flight; false when connected and the core has nothing more to send. */
bool app_publish_next(publish_state_t *p, int64_t now_ms);

bool app_connected(void);

/* The broker, its certificates, the subscriptions and the will, as configured. */
void app_mqtt_config(scale_mqtt_config_t *c);
int app_subscription_count(void);

QueueHandle_t app_net_events(void);

/* Waits up to timeout_ms for an event from the network task (left in the queue); true if one is there. */
bool app_wait_event(uint32_t timeout_ms);
