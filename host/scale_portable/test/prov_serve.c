/* A firmware's provisioning code over a pseudo-terminal: see prov_serve.h. */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 600
#include "prov_serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "scale_provision.h"

#define MAX_NETWORKS 8

static int s_master = -1;
static const prov_serve_store_t *s_store;
static const char *s_networks[MAX_NETWORKS];
static int s_network_count;
static prov_session_t s_session;
static bool s_try_pending, s_restart_pending;
static char s_try[100];
static const uint8_t *s_boot_record;
static size_t s_boot_len;

static void port_write(void *ctx, const uint8_t *data, size_t len)
{
    (void)ctx;
    while (len > 0) {
        const ssize_t n = write(s_master, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

static const uint8_t *port_save(void *ctx, const uint8_t *record, size_t len)
{
    (void)ctx;
    return s_store->save(record, len);
}

static bool port_erase(void *ctx)
{
    (void)ctx;
    return s_store->erase();
}

static void port_wifi_try(void *ctx, const char *ssid, const char *password)
{
    (void)ctx;
    snprintf(s_try, sizeof s_try, "%s=%s", ssid, password);
    s_try_pending = true;
}

static void port_restart(void *ctx)
{
    (void)ctx;
    s_restart_pending = true;
}

/* The simulated radio: a network in reach with that password. */
static bool reachable(const char *ssid_eq_password)
{
    for (int i = 0; i < s_network_count; i++) {
        if (strcmp(s_networks[i], ssid_eq_password) == 0) return true;
    }
    return false;
}

/* A boot: the settings read as the firmware reads them, and said on stdout. */
static void boot(const char *default_id)
{
    const prov_io_t io = {.write = port_write, .save = port_save, .erase = s_store->erase ? port_erase : NULL, .wifi_try = port_wifi_try,
                          .restart = port_restart, .firmware = "wasm-scale", .version = "0.2.0", .chip = s_store->chip};
    s_boot_len = 0;
    s_boot_record = s_store->load(&s_boot_len);
    prov_settings_t in_use;
    const bool stored = prov_record_read(s_boot_record, s_boot_len, &in_use);
    prov_session_init(&s_session, &io, s_boot_record, s_boot_len, default_id);
    bool online = false;
    if (in_use.v[PROV_WIFI_SSID].p) {
        char pair[100];
        snprintf(pair, sizeof pair, "%s=%s", in_use.v[PROV_WIFI_SSID].p, in_use.v[PROV_WIFI_PASSWORD].p ? in_use.v[PROV_WIFI_PASSWORD].p : "");
        online = reachable(pair);
    }
    prov_session_online(&s_session, online);
    printf("boot stored=%d wifi=%s online=%d device_id=%s\n", stored, in_use.v[PROV_WIFI_SSID].p ? in_use.v[PROV_WIFI_SSID].p : "-", online,
           in_use.v[PROV_DEVICE_ID].p ? in_use.v[PROV_DEVICE_ID].p : default_id);
    fflush(stdout);
}

int prov_serve(int argc, char **argv, const prov_serve_store_t *store)
{
    s_store = store;
    const char *device_id = "scale1";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--network") == 0 && s_network_count < MAX_NETWORKS) s_networks[s_network_count++] = argv[i + 1];
        else if (strcmp(argv[i], "--cut") == 0) store->cut(strtol(argv[i + 1], NULL, 10));
        else if (strcmp(argv[i], "--device-id") == 0) device_id = argv[i + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    s_master = posix_openpt(O_RDWR | O_NOCTTY);
    if (s_master < 0 || grantpt(s_master) != 0 || unlockpt(s_master) != 0) {
        perror("posix_openpt");
        return 1;
    }
    const char *name = ptsname(s_master);
    /* The server holds the terminal's other end open too, raw, so that a client closing it is not
     * an end of input here (as a USB serial port outlives the programs that open it). */
    const int slave = open(name, O_RDWR | O_NOCTTY);
    struct termios t;
    if (slave < 0 || tcgetattr(slave, &t) != 0) {
        perror(name);
        return 1;
    }
    cfmakeraw(&t);
    tcsetattr(slave, TCSANOW, &t);
    printf("pty %s\n", name);
    boot(device_id);
    struct pollfd fds[2] = {{.fd = s_master, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            return 1;
        }
        if (fds[1].revents & (POLLIN | POLLHUP)) {
            char b[64];
            if (read(STDIN_FILENO, b, sizeof b) <= 0) return 0; /* the test ended the device */
        }
        if (fds[0].revents & POLLIN) {
            uint8_t buf[512];
            const ssize_t n = read(s_master, buf, sizeof buf);
            if (n > 0) prov_session_feed(&s_session, buf, (size_t)n);
        }
        if (s_try_pending) {
            s_try_pending = false;
            const bool ok = reachable(s_try);
            *strchr(s_try, '=') = '\0';
            printf("wifi %s %s\n", s_try, ok ? "connected" : "failed");
            fflush(stdout);
            prov_wifi_result(&s_session, ok);
        }
        if (s_restart_pending) {
            s_restart_pending = false;
            printf("restart\n");
            boot(device_id);
        }
    }
}
