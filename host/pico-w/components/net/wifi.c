/* WiFi on the CYW43: station mode, connected for ever with a backoff. The chip itself is brought
 * up by the driver on first use (cyw43_arch_init only prepares it); a chip that does not answer
 * (each try blocks for a few hundred ms) is tried again less and less often, and nothing else
 * touches it meanwhile (the LED is the chip's): sampling never waits for it. */
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "pico/cyw43_arch.h"
#include "pico/time.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* A chip that did not start: tried again after 1 minute, doubling to 1 hour. */
#define CHIP_RETRY_FIRST_MS 60000
#define CHIP_RETRY_MAX_MS 3600000

static const char *s_ssid;
static const char *s_password;
static uint32_t s_retry_at;
static uint32_t s_backoff = BACKOFF_FIRST_MS;
static bool s_up;
static bool s_arch_ready; /* cyw43_arch_init done */
static bool s_chip_up;    /* the chip answered: it took the last connect request */
static uint32_t s_chip_retry_at;
static uint32_t s_chip_backoff = CHIP_RETRY_FIRST_MS;

/* False when the chip did not answer (the driver could not bring it up). */
static bool connect_now(void)
{
    /* An empty password is an open network. */
    return cyw43_arch_wifi_connect_async(s_ssid, s_password[0] ? s_password : NULL, s_password[0] ? CYW43_AUTH_WPA2_AES_PSK : CYW43_AUTH_OPEN) == 0;
}

static bool chip_start(void)
{
    if (!s_arch_ready) {
        if (cyw43_arch_init() != 0) return false;
        s_arch_ready = true;
        cyw43_arch_enable_sta_mode();
    }
    s_chip_up = connect_now();
    return s_chip_up;
}

/* The next try at bringing the chip up, less often each time. */
static void chip_later(uint32_t now_ms)
{
    s_chip_retry_at = now_ms + s_chip_backoff;
    printf("wasm-scale: the CYW43 did not start; again in %lu s\n", (unsigned long)(s_chip_backoff / 1000));
    if (s_chip_backoff < CHIP_RETRY_MAX_MS) s_chip_backoff *= 2;
}

bool net_wifi_start(const char *ssid, const char *password)
{
    s_ssid = ssid;
    s_password = password;
    if (chip_start()) return true;
    chip_later(to_ms_since_boot(get_absolute_time()));
    return false;
}

bool net_wifi_prepare(void)
{
    if (!s_arch_ready && cyw43_arch_init() == 0) {
        s_arch_ready = true;
        cyw43_arch_enable_sta_mode();
    }
    s_chip_up = s_arch_ready; /* its LED answers, though no network is joined */
    return s_arch_ready;
}

void net_wifi_use(const char *ssid, const char *password)
{
    if (!ssid[0]) {
        /* No network: the one being tried is left, and nothing is joined until the next. */
        if (s_ssid != NULL && s_chip_up) cyw43_wifi_leave(&cyw43_state, CYW43_ITF_STA);
        s_ssid = NULL;
        s_up = false;
        return;
    }
    if (!s_arch_ready || s_ssid == NULL) {
        net_wifi_start(ssid, password);
        return;
    }
    const bool same = strcmp(ssid, s_ssid) == 0 && strcmp(password, s_password) == 0;
    s_ssid = ssid; /* the caller's strings from now on, even when they say the same */
    s_password = password;
    if (same) return;
    printf("wasm-scale: WiFi switching to \"%s\"\n", ssid);
    cyw43_wifi_leave(&cyw43_state, CYW43_ITF_STA);
    s_up = false;
    s_backoff = BACKOFF_FIRST_MS;
    s_chip_up = connect_now();
    if (!s_chip_up) chip_later(to_ms_since_boot(get_absolute_time()));
}

bool net_wifi_poll(uint32_t now_ms)
{
    if (s_ssid == NULL) return false; /* no network yet: waiting for provisioning */
    if (!s_chip_up) {
        if ((int32_t)(now_ms - s_chip_retry_at) < 0) return false;
        if (!chip_start()) {
            chip_later(now_ms);
            return false;
        }
        s_chip_backoff = CHIP_RETRY_FIRST_MS;
    }
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
        if (!connect_now()) {
            s_chip_up = false;
            chip_later(now_ms);
            return false;
        }
        s_retry_at = now_ms + s_backoff;
        if (s_backoff < BACKOFF_MAX_MS) s_backoff *= 2;
    }
    return false;
}

void net_led(bool on)
{
    if (s_chip_up) cyw43_arch_gpio_put(CYW43_WL_GPIO_LED_PIN, on);
}
