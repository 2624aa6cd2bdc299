/* RTC memory on Linux: ordinary static memory, which the test's "deep sleep" (a longjmp back to the
 * boot) keeps, as the ESP32's RTC slow memory keeps it over deep sleep. */
#pragma once
#define RTC_NOINIT_ATTR
#define RTC_DATA_ATTR
