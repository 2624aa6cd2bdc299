/* WiFi on the CYW43: station mode, connected for ever with a backoff, the LED saying how it goes. */
#include <stdio.h>

#include "net.h"
#include "pico/cyw43_arch.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000

static const char *s_ssid;
static const char *s_password;
static uint32_t s_retry_at;
static uint32_t s_backoff = BACKOFF_FIRST_MS;
static bool s_up;

static void connect_now(void)
{
    if (cyw43_arch_wifi_connect_async(s_ssid, s_password, CYW43_AUTH_WPA2_AES_PSK) != 0) printf("wasm-scale: WiFi connect refused\n");
}

bool net_wifi_start(const char *ssid, const char *password)
{
    if (cyw43_arch_init() != 0) return false;
    cyw43_arch_enable_sta_mode();
    s_ssid = ssid;
    s_password = password;
    connect_now();
    return true;
}

bool net_wifi_poll(uint32_t now_ms)
{
    const int status = cyw43_tcpip_link_status(&cyw43_state, CYW43_ITF_STA);
    const bool up = status == CYW43_LINK_UP;
    if (up != s_up) {
        printf("wasm-scale: WiFi %s\n", up ? "up" : "down");
        s_up = up;
        s_backoff = BACKOFF_FIRST_MS;
        s_retry_at = now_ms + s_backoff;
    }
    if (up) return true;
    /* Failed, refused, no network or dropped: try again, less often each time. */
    const bool failed = status == CYW43_LINK_FAIL || status == CYW43_LINK_NONET || status == CYW43_LINK_BADAUTH || status == CYW43_LINK_DOWN;
    if (failed && (int32_t)(now_ms - s_retry_at) >= 0) {
        if (status == CYW43_LINK_BADAUTH) printf("wasm-scale: WiFi refused the password\n");
        connect_now();
        s_retry_at = now_ms + s_backoff;
        if (s_backoff < BACKOFF_MAX_MS) s_backoff *= 2;
    }
    return false;
}
