/* The wall clock: set by SNTP (lwIP's client), then read by mbedTLS (certificate dates) and the core. */
#include <sys/time.h>

#include "lwip/apps/sntp.h"
#include "mbedtls/platform_time.h"
#include "net.h"
#include "pico/cyw43_arch.h"
#include "pico/time.h"

static volatile uint32_t s_epoch_set;

/* SNTP_SET_SYSTEM_TIME_US in lwipopts.h: called from lwIP with the server's time. */
void scale_clock_set(unsigned int sec, unsigned int us)
{
    struct timeval tv = {.tv_sec = (time_t)sec, .tv_usec = (suseconds_t)us};
    settimeofday(&tv, NULL);
    s_epoch_set = sec;
}

void net_clock_start(const char *server)
{
    cyw43_arch_lwip_begin();
    sntp_setoperatingmode(SNTP_OPMODE_POLL);
    sntp_setservername(0, server);
    sntp_init();
    cyw43_arch_lwip_end();
}

uint32_t net_clock_epoch(void)
{
    if (s_epoch_set == 0) return 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint32_t)tv.tv_sec;
}

/* MBEDTLS_PLATFORM_MS_TIME_ALT: mbedTLS's millisecond clock (timeouts), monotonic. */
mbedtls_ms_time_t mbedtls_ms_time(void)
{
    return (mbedtls_ms_time_t)to_ms_since_boot(get_absolute_time());
}
