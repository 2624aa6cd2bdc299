/*
 * Battery mode (the core's WAKE_INTERVAL_S > 0): every wake is a boot from deep sleep that takes
 * one reading, connects when the core says so, saves the core's state and sleeps again. The
 * decisions (when a reading is done, when to publish, when to wake) are the core's (wake_begin,
 * wake_step, wake_sleep_ms); this file powers things, keeps the state and sleeps.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* At boot, first: the millisecond clock the core's times are in resumes where it stopped before
 * the deep sleep (or a restart of this firmware), plus the time slept. False on a cold boot. */
bool battery_clock_resume(void);

/* The core's clock in ms: continuous across deep sleeps. */
int64_t battery_now_ms(void);

/* After the GPIO set-up: the hold on the HX711 clock pin over the sleep is released, and from now on
 * every sleep powers the HX711 down (clock high for more than 60 us) and holds the pin so. */
void battery_release_pins(void);

/* Whether this scale runs on batteries, before the core can say: menuconfig's WAKE_INTERVAL_S, or
 * a last sleep that was battery mode's. A failure then sleeps (battery_rest) instead of staying
 * awake or restarting in a loop. */
bool battery_expected(void);

/* Restores the core's state kept over the sleep (RTC memory, or flash when it outgrew it).
 * False on a cold boot or a damaged state: the core then starts clean, and the log says which.
 * In battery mode the kept state stays until the next sleep replaces it (a wake that traps
 * starts again from it: its own reading is lost, none before it); awake, it is used once. */
bool battery_restore(bool battery_mode);

/* Saves the core's state and deep-sleeps for sleep_ms (at least 1 ms), the HX711 powered down.
 * Does not return. */
void battery_sleep(int64_t sleep_ms) __attribute__((noreturn));

/* Restarts the chip keeping the core's state, as a sleep keeps it (provisioning's restart: new
 * broker settings take effect, the readings queued offline stay). The next boot's battery_restore
 * gives it back once. Call from the core's thread. Does not return. */
void battery_restart_keeping_state(void) __attribute__((noreturn));

/* Deep-sleeps for sleep_ms without saving (after a failure: the state kept before stays, and the
 * next wake starts again from it), the HX711 powered down once its pin is configured. */
void battery_rest(int64_t sleep_ms) __attribute__((noreturn));

/* A scale that cannot weigh (its configuration, GPIO or core did not start, or the core could not
 * be instantiated again) never stays awake for ever: in battery mode it sleeps an hour, the HX711
 * powered down, and tries again; on mains it restarts after a minute (the log readable meanwhile). */
void battery_cannot_weigh(void) __attribute__((noreturn));

/* One wake, in the task that runs the core; ends in deep sleep. */
void battery_task(void *arg);
