/*
 * The firmware's battery mode (../battery.c, unchanged) on Linux with its Wasm host (wasm_host.c)
 * and the release core under the WAMR the ESP32 runs, a simulated HX711, and the smallest stand-ins
 * for what ESP-IDF gives it (shim/): deep sleep returns to this file's boot loop (RTC memory is
 * static memory, which that keeps), the clock is the test's, NVS is in memory, and the network is
 * up or down by schedule (when up, the broker acknowledges at once; the real network path is
 * tests/battery.test.ts's, against aedes). Every boot is a fresh core instance, as on the device.
 *
 * 300 wakes, 15 minutes apart, publishing every 4th: a 49-hour outage makes the state outgrow RTC
 * memory and go to flash and back; one wake traps mid-sample with the HX711's clock low and is
 * started again from the state before it; every reading is delivered once, in order, with its own
 * time; the clock pin is driven high for more than 60 us and held through every sleep, and released
 * at every boot; the stored access point is tried first. Every case runs that schedule, plus:
 *   sleep-cycle   nothing more;
 *   brownout      from boot 5 to 35 every radio start browns the chip out (a reset, no sleep): the
 *                 wakes after it keep their readings, flag them LOW_SUPPLY and seldom try again;
 *   connect-hang  from wake 20 to 40 the broker never answers and stopping the client never returns:
 *                 the wake's watchdog ends every such wake within its budget;
 *   no-ntp        no NTP server answers for the first 30 wakes: no TLS is tried without a clock,
 *                 each attempt costs at most the SNTP wait, and the attempts back off;
 *   late-command  on some publishing wakes a command arrives while the connection closes: it reaches
 *                 the core, and its result goes out at the next publishing wake;
 *   core-fails    the core does not start: awake (before battery mode) the scale restarts after a
 *                 minute; at wake 20 it sleeps an hour with the HX711 powered down and tries again,
 *                 and the wakes after it go on from the state kept before.
 * Usage: test_battery <case> <release.wasm>
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include "app.h"
#include "battery.h"
#include "cal_module.h"
#include "check.h"
#include "driver/gpio.h"
#include "esp_rom_sys.h"
#include "esp_sleep.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/task.h"
#include "hx711_gpio.h"
#include "nvs.h"
#include "nvs_flash.h"
#include "scale_portable.h"
#include "settings.h"
#include "sim_hx711.h"
#include "wasm_host.h"

enum { WAKES = 300, OUTAGE_FROM = 40, OUTAGE_TO = 235, TRAP_AT = 250, INTERVAL_S = 900, RTC_STATE_BYTES = 6144 };
enum { BROWN_FROM = 5, BROWN_TO = 35, HANG_FROM = 20, HANG_TO = 40, NTP_FROM = 1, NTP_TO = 30, CORE_FAIL_AT = 20 };
/* A wake's longest: WAKE_SAMPLE_MS + CONNECT_BUDGET_MS (defaults) + battery.c's disconnect wait and margin. */
enum { WAKE_LIMIT_MS = 5000 + 20000 + 2000 + 5000 };

static const char *s_case;
static bool is_case(const char *name) { return strcmp(s_case, name) == 0; }

/* ---- the board: clocks, deep sleep, GPIO hold ----------------------------------------------- */

static jmp_buf s_boot;
static jmp_buf s_restart;
static int s_restarts;
static int64_t s_timer_us;                          /* esp_timer: since this boot */
static int64_t s_rtc_us = 1795000000LL * 1000000;   /* the RTC's wall clock: runs on in deep sleep */
static uint64_t s_sleep_us;
static bool s_clk_held, s_deep_hold;
static int64_t s_clk_high_since = -1;               /* s_timer_us when the clock pin went high */
static esp_reset_reason_t s_reset = ESP_RST_DEEPSLEEP;
static int s_boot_no;
static int64_t s_longest_wake_ms;

/* One timer is all battery.c makes: the wake's watchdog. */
struct esp_timer {
    esp_timer_create_args_t args;
    int64_t due_us; /* -1: stopped */
};
static struct esp_timer s_timer = {.due_us = -1};
static int s_watchdog_fired;

int64_t esp_timer_get_time(void) { return s_timer_us; }
esp_reset_reason_t esp_reset_reason(void) { return s_reset; }

esp_err_t esp_timer_create(const esp_timer_create_args_t *args, esp_timer_handle_t *out)
{
    s_timer.args = *args;
    s_timer.due_us = -1;
    *out = &s_timer;
    return ESP_OK;
}

esp_err_t esp_timer_start_once(esp_timer_handle_t t, uint64_t us)
{
    t->due_us = s_timer_us + (int64_t)us;
    return ESP_OK;
}

esp_err_t esp_timer_stop(esp_timer_handle_t t)
{
    t->due_us = -1;
    return ESP_OK;
}

int test_gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    tv->tv_sec = (time_t)(s_rtc_us / 1000000);
    tv->tv_usec = (suseconds_t)(s_rtc_us % 1000000);
    return 0;
}

static void elapse(int64_t us)
{
    s_timer_us += us;
    s_rtc_us += us;
    if (s_timer.due_us >= 0 && s_timer_us >= s_timer.due_us) {
        s_timer.due_us = -1;
        s_watchdog_fired++;
        s_timer.args.callback(s_timer.args.arg); /* esp_timer's task preempts the wake */
    }
}

void esp_rom_delay_us(uint32_t us) { elapse(us); }

void esp_restart(void)
{
    s_restarts++;
    longjmp(s_restart, 1);
}

/* Ticks of 1 ms, as the firmware's CONFIG_FREERTOS_HZ. */
void vTaskDelay(TickType_t ticks) { elapse((int64_t)ticks * 1000); }

BaseType_t xTaskCreate(void (*fn)(void *), const char *name, uint32_t stack, void *arg, unsigned prio, TaskHandle_t *out)
{
    (void)fn, (void)name, (void)stack, (void)arg, (void)prio, (void)out;
    return pdPASS; /* the network task: its work is done by app_publish_next here */
}

esp_err_t esp_sleep_enable_timer_wakeup(uint64_t us)
{
    s_sleep_us = us;
    return ESP_OK;
}

void esp_deep_sleep_start(void)
{
    CHECK(s_clk_held && s_deep_hold, "boot %d: deep sleep with the HX711's clock pin not held", s_boot_no);
    CHECK(sim_hx711_clk_level == 1 && s_clk_high_since >= 0, "boot %d: deep sleep with the HX711's clock low (powered)", s_boot_no);
    const int64_t wake_ms = s_timer_us / 1000;
    if (wake_ms > s_longest_wake_ms) s_longest_wake_ms = wake_ms;
    CHECK(wake_ms <= WAKE_LIMIT_MS, "boot %d: the wake lasted %" PRId64 " ms", s_boot_no, wake_ms);
    longjmp(s_boot, 1);
}

/* A brown-out: the chip resets where it is, RTC memory kept, no sleep. */
static void brown_out(void)
{
    s_reset = ESP_RST_BROWNOUT;
    s_sleep_us = 0;
    longjmp(s_boot, 2);
}

esp_err_t gpio_set_level(gpio_num_t pin, uint32_t level)
{
    CHECK(pin == CONFIG_SCALE_HX711_CLK_PIN && !s_clk_held, "level set on pin %d (held: %d)", pin, s_clk_held);
    /* High since the core drove it (gpio.write) this boot counts from now: the firmware must wait. */
    if (level && (sim_hx711_clk_level == 0 || s_clk_high_since < 0)) s_clk_high_since = s_timer_us;
    sim_hx711_clk_level = (int)level;
    return ESP_OK;
}

esp_err_t gpio_hold_en(gpio_num_t pin)
{
    CHECK(pin == CONFIG_SCALE_HX711_CLK_PIN, "hold on pin %d", pin);
    /* The HX711 powers down after 60 us of clock high: only then may the level be frozen. */
    CHECK(sim_hx711_clk_level == 1 && s_timer_us - s_clk_high_since > 60, "boot %d: held %s", s_boot_no,
          sim_hx711_clk_level ? "less than 60 us after the clock went high" : "low");
    s_clk_held = true;
    return ESP_OK;
}

esp_err_t gpio_hold_dis(gpio_num_t pin)
{
    CHECK(pin == CONFIG_SCALE_HX711_CLK_PIN, "hold released on pin %d", pin);
    s_clk_held = false;
    return ESP_OK;
}

void gpio_deep_sleep_hold_en(void) { s_deep_hold = true; }

/* The wait for the simulated chip's next conversion, at 10 SPS: the task reads this count before and
 * after each sample, so a sample is 100 ms, spent waiting (the task yields meanwhile). */
uint32_t hx711_gpio_yields(void)
{
    static uint32_t waits;
    static int samples_this_boot, boot_seen;
    if (boot_seen != s_boot_no) {
        boot_seen = s_boot_no;
        samples_this_boot = 0;
    }
    /* The trapped wake: after a few samples every gpio.write fails, so the core traps when it
     * powers the chip down at the end of the wake, with the clock low after its last read. */
    if (s_boot_no == TRAP_AT && ++samples_this_boot == 6) sim_hx711_write_fails = 1;
    elapse(50000);
    return ++waits;
}

const char *esp_err_to_name(esp_err_t code)
{
    static char text[16];
    snprintf(text, sizeof text, "0x%x", (unsigned)code);
    return text;
}

/* No calibration modules or cores over the air in these cases (their own harness: components/cal_module/test). */
void app_after_sample(int32_t status) { (void)status; }

/* ---- NVS: the `state` partition, in memory -------------------------------------------------- */

static uint8_t s_nvs_state[16384];
static size_t s_nvs_len;
static int s_nvs_writes;

esp_err_t nvs_flash_init_partition(const char *label) { return strcmp(label, "state") == 0 ? ESP_OK : ESP_ERR_NOT_FOUND; }
esp_err_t nvs_flash_erase_partition(const char *label) { (void)label; s_nvs_len = 0; return ESP_OK; }

esp_err_t nvs_open_from_partition(const char *part, const char *ns, nvs_open_mode_t mode, nvs_handle_t *out)
{
    (void)ns, (void)mode;
    CHECK(strcmp(part, "state") == 0, "NVS partition %s", part);
    *out = 1;
    return ESP_OK;
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *len)
{
    (void)h;
    if (strcmp(key, "state") != 0 || s_nvs_len == 0) return ESP_ERR_NVS_NOT_FOUND;
    if (out && *len < s_nvs_len) return ESP_ERR_INVALID_ARG;
    if (out) memcpy(out, s_nvs_state, s_nvs_len);
    *len = s_nvs_len;
    return ESP_OK;
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t len)
{
    (void)h;
    CHECK(strcmp(key, "state") == 0 && len <= sizeof s_nvs_state, "NVS key %s, %zu bytes", key, len);
    memcpy(s_nvs_state, value, len);
    s_nvs_len = len;
    s_nvs_writes++;
    return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t h) { (void)h; return ESP_OK; }
void nvs_close(nvs_handle_t h) { (void)h; }

/* ---- the network, by schedule ---------------------------------------------------------------- */

static bool s_network_up, s_mqtt_started, s_core_told, s_time_set, s_disconnecting;
static int s_wifi_starts, s_hinted_connects, s_connects, s_sntp_tries, s_late_sent, s_brownouts, s_hung_wakes;
static int64_t s_radio_ms; /* time with the radio on, over all wakes */
static int64_t s_radio_on_at = -1;

static bool brown_now(void) { return is_case("brownout") && s_boot_no >= BROWN_FROM && s_boot_no < BROWN_TO; }
static bool hang_now(void) { return is_case("connect-hang") && s_boot_no >= HANG_FROM && s_boot_no < HANG_TO; }
static bool ntp_down(void) { return is_case("no-ntp") && s_boot_no >= NTP_FROM && s_boot_no < NTP_TO; }

esp_err_t scale_wifi_start_hinted(const char *ssid, const char *password, uint32_t backoff_max_ms, const scale_wifi_ap_t *hint)
{
    (void)ssid, (void)password, (void)backoff_max_ms;
    s_wifi_starts++;
    if (hint && hint->channel == 6 && hint->bssid[0] == 0x24) s_hinted_connects++;
    if (brown_now()) {
        s_brownouts++;
        brown_out(); /* the transmit current's peak: the cells sag under 2.43 V */
    }
    s_radio_on_at = s_timer_us;
    return ESP_OK;
}

bool scale_wifi_wait(uint32_t timeout_ms)
{
    if (!s_network_up) vTaskDelay(timeout_ms); /* the budget goes by */
    return s_network_up;
}

bool scale_wifi_ap(scale_wifi_ap_t *out)
{
    static const uint8_t bssid[6] = {0x24, 0x0a, 0xc4, 0x01, 0x02, 0x03};
    memcpy(out->bssid, bssid, sizeof bssid);
    out->channel = 6;
    return true;
}

void scale_wifi_stop(void)
{
    if (s_radio_on_at >= 0) s_radio_ms += (s_timer_us - s_radio_on_at) / 1000;
    s_radio_on_at = -1;
}

esp_err_t scale_clock_sync(const char *server, uint32_t wait_ms)
{
    (void)server;
    s_sntp_tries++;
    CHECK(wait_ms <= 3000, "SNTP may take %" PRIu32 " ms of the wake", wait_ms);
    if (ntp_down()) {
        vTaskDelay(wait_ms);
        return ESP_ERR_TIMEOUT;
    }
    s_time_set = true;
    return ESP_OK;
}
uint32_t scale_clock_epoch(void) { return s_time_set ? (uint32_t)(s_rtc_us / 1000000) : 0; }

esp_err_t scale_mqtt_start(const scale_mqtt_config_t *config, QueueHandle_t events)
{
    (void)events;
    CHECK(config->persistent_session && config->will_topic == NULL, "battery mode connects with a persistent session and no will");
    CHECK(config->session_expiry_s >= 24 * 3600, "an MQTT 5 session expiry of %" PRIu32 " s", config->session_expiry_s);
    CHECK(scale_clock_epoch() != 0, "boot %d: TLS tried without a clock", s_boot_no);
    s_mqtt_started = true;
    s_core_told = s_disconnecting = false;
    s_connects++;
    return ESP_OK;
}

void scale_mqtt_disconnect(void) { s_disconnecting = true; }

void scale_mqtt_stop(void)
{
    if (hang_now()) {
        /* esp-mqtt's task is in a TLS connect (or a DNS lookup) that does not end: stop waits for it. */
        s_hung_wakes++;
        for (;;) vTaskDelay(10);
    }
    if (s_core_told) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0);
    s_mqtt_started = s_core_told = false;
}
void scale_mqtt_serve(void) {}

/* ---- what main.c gives battery.c (app.h), over the same core ---------------------------------- */

static uint8_t s_config[512];
static int32_t s_config_len;
static bool s_core_time_synced;

typedef struct {
    uint32_t seq;
    int64_t t_ms;
    int64_t ts;
    uint32_t flags;
} delivered_t;
static delivered_t s_delivered[2 * WAKES];
static int s_n_delivered, s_late_answered;

float app_setting(int key)
{
    uint32_t argv[1] = {(uint32_t)key};
    float v = 0;
    if (wasm_host_call(SCALE_EXPORT_CONFIG_GET, 1, argv) == ESP_OK) memcpy(&v, &argv[0], sizeof v);
    return v;
}

void app_core_setup(void)
{
    CHECK(wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, CONFIG_SCALE_HX711_CLK_PIN, 4) == 1, "chip refused");
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    if (s_config_len > 0) {
        memcpy(io, s_config, (size_t)s_config_len);
        CHECK(wasm_host_call_i(SCALE_EXPORT_BLOB_LOAD, 2, SCALE_BLOB_CONFIG, s_config_len) == 0, "settings refused");
    }
    memcpy(io, "hive", 4);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 4, 0) == 0, "device id refused");
    s_core_time_synced = false;
}

void app_persist_dirty(void)
{
    int32_t dirty = wasm_host_call_i(SCALE_EXPORT_STATE_DIRTY, 0, 0, 0);
    if (dirty == INT32_MIN || (dirty & (1 << SCALE_BLOB_CONFIG)) == 0) return;
    s_config_len = wasm_host_call_i(SCALE_EXPORT_BLOB_SAVE, 1, SCALE_BLOB_CONFIG, 0);
    size_t cap;
    memcpy(s_config, wasm_host_io(&cap), (size_t)s_config_len);
}

void app_sync_time(bool again, int64_t now_ms)
{
    if ((s_core_time_synced && !again) || scale_clock_epoch() == 0) return;
    const int32_t now = (int32_t)now_ms;
    wasm_host_call_i(SCALE_EXPORT_TIME_SYNC, 2, (int32_t)(uint32_t)(s_rtc_us / 1000000), now - (int32_t)((s_rtc_us % 1000000) / 1000));
    s_core_time_synced = true;
}

/* hang: the broker never answers (a TLS connect in progress); otherwise connected once started,
 * until the DISCONNECT has been handled. */
/* The settings in use: the build's (provisioning is tested on its own, tests/provision.test.ts). */
const settings_t *settings(void)
{
    static const settings_t s = {.wifi_ssid = CONFIG_SCALE_WIFI_SSID, .wifi_password = CONFIG_SCALE_WIFI_PASSWORD, .source = "build"};
    return &s;
}

bool app_connected(void) { return s_network_up && s_mqtt_started && !hang_now(); }
int app_subscription_count(void) { return 2; }
QueueHandle_t app_net_events(void) { return NULL; }
void app_mqtt_config(scale_mqtt_config_t *c) { memset(c, 0, sizeof *c); }

int app_handle_events(publish_state_t *p)
{
    if (app_connected()) p->subscribed = 2;
    if (!s_disconnecting || !s_mqtt_started) return 0;
    /* The connection closes. On every third publishing wake a command was already on its way: it
     * arrives (esp-mqtt acknowledges it) before the DISCONNECTED event. */
    int messages = 0;
    if (is_case("late-command") && s_connects % 3 == 0) {
        static const char topic[] = "wasm-scale/hive/cmd";
        char payload[64];
        const int n = snprintf(payload, sizeof payload, "{\"cmd\":\"zero\",\"id\":\"late%d\"}", s_connects);
        size_t cap;
        uint8_t *io = wasm_host_io(&cap);
        memcpy(io, topic, sizeof topic - 1);
        memcpy(io + sizeof topic - 1, payload, (size_t)n);
        wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)(sizeof topic - 1), n);
        s_late_sent++;
        messages++;
    }
    if (s_core_told) wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 0, 0); /* the DISCONNECTED event */
    s_mqtt_started = s_core_told = s_disconnecting = false;
    return messages;
}

/* The broker takes each frame at once; a reading's seq, t_ms, ts and flags are noted, and the
 * results of the late commands. */
bool app_publish_next(publish_state_t *p, int64_t now_ms)
{
    (void)p, (void)now_ms;
    if (!app_connected()) return true;
    if (!s_core_told) {
        wasm_host_call_i(SCALE_EXPORT_MQTT_CONNECTED, 1, 1, 0); /* the CONNECTED event */
        s_core_told = true;
    }
    int32_t n = wasm_host_call_i(SCALE_EXPORT_OUT_NEXT, 0, 0, 0);
    if (n <= 0) return false;
    size_t cap;
    scale_frame_t f;
    CHECK(scale_unframe(wasm_host_io(&cap), (size_t)n, &f), "a frame the core made does not parse");
    char text[512];
    size_t len = f.payload_len < sizeof text - 1 ? f.payload_len : sizeof text - 1;
    memcpy(text, f.payload, len);
    text[len] = '\0';
    if (f.topic_len > 6 && memcmp(f.topic + f.topic_len - 6, "/state", 6) == 0) {
        delivered_t d = {0};
        const char *seq = strstr(text, "\"seq\":"), *t = strstr(text, "\"t_ms\":"), *ts = strstr(text, "\"ts\":"), *fl = strstr(text, "\"flags\":");
        CHECK(seq && t && ts && fl && s_n_delivered < 2 * WAKES, "reading %s", text);
        d.seq = (uint32_t)strtoul(seq + 6, NULL, 10);
        d.t_ms = strtoll(t + 7, NULL, 10);
        d.ts = strtoll(ts + 5, NULL, 10);
        d.flags = (uint32_t)strtoul(fl + 8, NULL, 10);
        s_delivered[s_n_delivered++] = d;
    } else if (f.topic_len > 7 && memcmp(f.topic + f.topic_len - 7, "/result", 7) == 0 && strstr(text, "\"id\":\"late")) {
        s_late_answered++;
    }
    CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_DONE, 0, 0, 0) == 0, "out_done");
    return true;
}

/* ---- the boots ------------------------------------------------------------------------------- */

static const uint8_t *read_only_image(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    static uint8_t buf[65536];
    *len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    void *image = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(image != MAP_FAILED, "mmap");
    memcpy(image, buf, *len);
    CHECK(mprotect(image, *len, PROT_READ) == 0, "mprotect");
    return image;
}

static size_t state_bytes(void)
{
    static uint8_t buf[16384];
    return wasm_host_state_save(buf, sizeof buf);
}

int main(int argc, char **argv)
{
    CHECK(argc == 3, "usage: test_battery <sleep-cycle|brownout|connect-hang|no-ntp|late-command|core-fails|restart> <release.wasm>");
    s_case = argv[1];
    CHECK(is_case("sleep-cycle") || is_case("brownout") || is_case("connect-hang") || is_case("no-ntp") || is_case("late-command") ||
          is_case("core-fails") || is_case("restart"), "no case %s", s_case);
    size_t len;
    const uint8_t *wasm = read_only_image(argv[2], &len);
    wasm_host_config_t c = {
        .wasm = wasm, .wasm_len = len, .pool_bytes = CONFIG_SCALE_WASM_POOL_KB * 1024, .stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024,
        .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT, .on_instantiated = app_core_setup,
    };
    /* A core that does not start (an image cut short): main.c gives up on it as battery.c says. */
    wasm_host_config_t broken = c;
    broken.wasm_len = len / 2;
    if (is_case("core-fails")) {
        CHECK(!battery_expected(), "battery mode expected at the first power-on");
        if (setjmp(s_restart) == 0) {
            CHECK(wasm_host_start(&broken) != ESP_OK, "half a core started");
            wasm_host_stop();
            battery_cannot_weigh();
        }
        CHECK(s_restarts == 1 && s_sleep_us == 0, "awake, a core that did not start: %d restarts, %" PRIu64 " us of deep sleep", s_restarts, s_sleep_us);
        CHECK(s_timer_us >= 60 * 1000000LL, "restarted after %" PRId64 " ms: the log had no time to be read", s_timer_us / 1000);
        s_timer_us = 0;
    }
    if (is_case("restart")) {
        /* Awake, readings queue while the broker is away; then a restart is asked for over USB
         * (provisioning): the core's thread keeps the state, and the boot after gives it back once. */
        s_reset = ESP_RST_POWERON;
        CHECK(wasm_host_start(&c) == ESP_OK, "the core does not start");
        battery_release_pins();
        CHECK(!battery_restore(false), "a state on a cold boot");
        for (int i = 0; i < 600; i++) {
            wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, (int32_t)battery_now_ms(), 0);
            elapse(100000);
        }
        const int32_t queued = wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0);
        static uint8_t before[16384], after[16384];
        const size_t n = wasm_host_state_save(before, sizeof before);
        CHECK(queued >= 10 && n > 0 && n <= sizeof before, "%" PRId32 " readings queued, a %zu-byte state", queued, n);
        if (setjmp(s_restart) == 0) battery_restart_keeping_state();
        CHECK(s_restarts == 1, "battery_restart_keeping_state did not restart");
        /* The boot: a fresh instance (the old one trapped away), set up, then the state. */
        sim_hx711_write_fails = 1;
        wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0);
        sim_hx711_write_fails = 0;
        CHECK(!wasm_host_ready() && wasm_host_recover(0) == ESP_OK, "no fresh instance");
        CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0) == 0, "a fresh instance with readings queued");
        CHECK(!battery_expected(), "an awake scale restarted as a battery one");
        CHECK(battery_restore(false), "the state kept over the restart was not restored");
        CHECK(wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0) == queued, "%" PRId32 " readings queued after the restart, %" PRId32 " before",
              wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0), queued);
        CHECK(wasm_host_state_save(after, sizeof after) == n && memcmp(before, after, n) == 0, "the state changed across the restart");
        CHECK(!battery_restore(false), "the state was given back twice");
        printf("restart: %" PRId32 " queued readings and the whole %zu-byte state carried across a restart asked for over USB\n", queued, n);
        return 0;
    }
    /* The first boot: awake, the user turns battery mode on (a command, saved as settings). */
    s_reset = ESP_RST_POWERON;
    CHECK(!battery_clock_resume(), "a kept clock at the first power-on");
    CHECK(wasm_host_start(&c) == ESP_OK, "the core does not start");
    battery_release_pins();
    CHECK(!battery_restore(false), "a state on a cold boot");
    CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_WAKE_INTERVAL_S, INTERVAL_S) == 0, "WAKE_INTERVAL_S refused");
    CHECK(wasm_host_call_if(SCALE_EXPORT_CONFIG_SET, SCALE_CFG_PUBLISH_EVERY, 4) == 0, "PUBLISH_EVERY refused");
    app_persist_dirty();
    s_network_up = true;
    static int64_t largest_state, slept_ms, nvs_writes_after_outage = -1, first_brownout_ms = -1;
    static bool restored_from_flash, core_down;
    static int64_t rest_ms = -1;
    static int ntp_down_wifi_starts, flash_boots;
    const int how = setjmp(s_boot);
    if (how == 0) battery_sleep(1); /* as core_task does when battery mode is switched on */

    /* Here after every deep sleep (or brown-out): the RTC ran on, the rest starts again. */
    if (how == 1) {
        CHECK(s_clk_held, "the clock pin was not held over the sleep");
        s_reset = ESP_RST_DEEPSLEEP;
    } else if (first_brownout_ms < 0) {
        first_brownout_ms = battery_now_ms();
    }
    if (ntp_down()) ntp_down_wifi_starts = s_wifi_starts;
    if (core_down) CHECK(s_sleep_us == 3600ULL * 1000000, "boot %d: a core that did not start slept %" PRIu64 " ms, not an hour", s_boot_no, s_sleep_us / 1000);
    s_rtc_us += (int64_t)s_sleep_us;
    slept_ms += (int64_t)(s_sleep_us / 1000);
    s_sleep_us = 0;
    s_timer_us = 0;
    s_timer.due_us = -1;
    s_clk_high_since = -1;
    s_radio_on_at = -1;
    s_mqtt_started = s_core_told = s_disconnecting = false;
    s_boot_no++;
    if (s_boot_no > WAKES) goto done;
    s_network_up = s_boot_no < OUTAGE_FROM || s_boot_no >= OUTAGE_TO;
    if (s_boot_no == OUTAGE_TO) nvs_writes_after_outage = s_nvs_writes;
    if (core_down) {
        /* The boot after a core that did not start: it starts now, from the beginning. */
        rest_ms = slept_ms;
        CHECK(wasm_host_start(&c) == ESP_OK, "boot %d: the core does not start again", s_boot_no);
        core_down = false;
    } else {
        /* A fresh instance, as a boot makes: the old one trapped away, the new one set up. */
        sim_hx711_write_fails = 1;
        wasm_host_call_i(SCALE_EXPORT_HX_POWER, 1, 0, 0);
        sim_hx711_write_fails = 0;
        CHECK(!wasm_host_ready() && wasm_host_recover(0) == ESP_OK, "boot %d: no fresh instance", s_boot_no);
    }
    CHECK(battery_clock_resume(), "boot %d: the clock was not kept", s_boot_no);
    if (is_case("core-fails") && s_boot_no == CORE_FAIL_AT) {
        /* This boot's core does not start: an hour asleep, the HX711 down (esp_deep_sleep_start checks). */
        wasm_host_stop();
        CHECK(wasm_host_start(&broken) != ESP_OK, "half a core started");
        wasm_host_stop();
        core_down = true;
        battery_cannot_weigh();
    }
    CHECK(battery_expected(), "boot %d: battery mode not known before the core starts", s_boot_no);
    battery_release_pins();
    CHECK(!s_clk_held, "boot %d: the clock pin still held", s_boot_no);
    CHECK(battery_restore(true), "boot %d: the state kept over the sleep was not restored", s_boot_no);
    const size_t bytes = state_bytes();
    if ((int64_t)bytes > largest_state) largest_state = (int64_t)bytes;
    if (bytes > RTC_STATE_BYTES) {
        restored_from_flash = true;
        flash_boots++;
    }
    battery_task(NULL);
    CHECK(0, "battery_task returned");

done:
    sim_hx711_write_fails = 0;
    CHECK(restored_from_flash && largest_state > RTC_STATE_BYTES, "the outage never made the state outgrow RTC memory (%" PRId64 " bytes)", largest_state);
    /* The state goes to flash only while it outgrows RTC memory: once a wake (twice on a publishing
     * one: before the radio and at the sleep). The scale learns that the network is back at its next
     * publishing wake, up to 8 publishing periods (32 wakes) after the last failed one. */
    CHECK(s_nvs_writes > 0 && s_nvs_writes <= 2 * flash_boots, "%d state writes to flash in %d wakes with the state in flash", s_nvs_writes, flash_boots);
    CHECK(nvs_writes_after_outage >= 0 && s_nvs_writes - nvs_writes_after_outage <= 32 + 2, "flash written after the outage: %d writes", s_nvs_writes - (int)nvs_writes_after_outage);
    CHECK(s_hinted_connects > 0 && s_hinted_connects >= s_wifi_starts - 1, "%d of %d WiFi starts tried the stored access point", s_hinted_connects, s_wifi_starts);
    /* Every reading once, in order; the trapped wake took none. */
    const int32_t queued = wasm_host_call_i(SCALE_EXPORT_OUT_PENDING, 0, 0, 0);
    const int readings = WAKES - 1 - (is_case("core-fails") ? 1 : 0); /* the trapped wake, and the one whose core did not start */
    CHECK(s_n_delivered + queued == readings, "%d delivered + %" PRId32 " queued of %d readings", s_n_delivered, queued, readings);
    int low_supply = 0;
    for (int i = 0; i < s_n_delivered; i++) {
        const delivered_t *d = &s_delivered[i];
        CHECK(d->seq == (uint32_t)i + 1, "reading %d has seq %" PRIu32, i + 1, d->seq);
        CHECK(d->ts - d->t_ms == s_delivered[0].ts - s_delivered[0].t_ms, "reading %d: ts %" PRId64 " does not follow its t_ms", i + 1, d->ts);
        if (d->flags & SCALE_FLAG_LOW_SUPPLY) {
            low_supply++;
            CHECK(first_brownout_ms >= 0 && d->t_ms >= first_brownout_ms, "reading %d says LOW_SUPPLY before any brown-out", i + 1);
        }
        if (i == 0) continue;
        const int64_t gap = d->t_ms - s_delivered[i - 1].t_ms;
        const int64_t slots = (gap + INTERVAL_S * 500) / (INTERVAL_S * 1000);
        /* A brown-out restarts the wake in its own slot: its reading follows the one it lost. */
        const int64_t least = is_case("brownout") ? 0 : 1;
        /* An hour asleep for a core that did not start, then the next slot of the grid. */
        const int64_t most = is_case("core-fails") ? 6 : 2;
        CHECK(slots >= least && slots <= most && llabs(gap - slots * INTERVAL_S * 1000) < 2000, "readings %d and %d are %" PRId64 " ms apart", i, i + 1, gap);
    }
    if (is_case("brownout")) {
        /* Each failed publishing wake doubles the wait: 4, 8, 16, 32 wakes over 30 boots. */
        CHECK(s_brownouts >= 3 && s_brownouts <= 6, "%d brown-outs: publishing did not back off", s_brownouts);
        CHECK(low_supply >= 20, "%d readings say LOW_SUPPLY", low_supply);
        CHECK(!(s_delivered[s_n_delivered - 1].flags & SCALE_FLAG_LOW_SUPPLY) || queued > 0, "LOW_SUPPLY after the cells recovered");
    }
    if (is_case("connect-hang")) {
        CHECK(s_hung_wakes >= 2 && s_watchdog_fired == s_hung_wakes, "%d hung wakes, the watchdog ended %d", s_hung_wakes, s_watchdog_fired);
    } else {
        CHECK(s_watchdog_fired == 0, "the watchdog ended %d wakes that were not hung", s_watchdog_fired);
    }
    if (is_case("no-ntp")) {
        /* No TLS without a clock (scale_mqtt_start checks); the attempts back off. */
        CHECK(ntp_down_wifi_starts >= 2 && ntp_down_wifi_starts <= 4, "%d WiFi starts without NTP in %d wakes", ntp_down_wifi_starts, NTP_TO - NTP_FROM);
    }
    if (is_case("core-fails")) {
        CHECK(rest_ms >= 0 && s_restarts == 1, "the core that did not start at wake %d was not slept on (%d restarts)", CORE_FAIL_AT, s_restarts);
    }
    if (is_case("late-command")) {
        CHECK(s_late_sent >= 3 && s_late_answered >= s_late_sent - 1, "%d late commands, %d answered", s_late_sent, s_late_answered);
    }
    printf("%s: %d boots (one trapped mid-sample, started again from the state before it; %d brown-outs; %d hung wakes ended by the "
           "watchdog): %d readings delivered in order (%d say LOW_SUPPLY), %" PRId32 " queued; %d late commands, %d answered; the state at "
           "most %" PRId64 " bytes, %d writes to flash; %d of %d WiFi starts to the stored access point (%d connections, %d SNTP tries); "
           "the longest wake %" PRId64 " ms, radio on %" PRId64 " s in all; %" PRId64 " s asleep\n",
           s_case, WAKES, s_brownouts, s_hung_wakes, s_n_delivered, low_supply, queued, s_late_sent, s_late_answered, largest_state,
           s_nvs_writes, s_hinted_connects, s_wifi_starts, s_connects, s_sntp_tries, s_longest_wake_ms, s_radio_ms / 1000, slept_ms / 1000);
    return 0;
}
