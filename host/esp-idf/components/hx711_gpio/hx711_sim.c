/* The simulated HX711 of hx711_sim.h. Compiled empty unless CONFIG_SCALE_HX711_SIMULATED. */
#include "sdkconfig.h"
#if CONFIG_SCALE_HX711_SIMULATED
#include "hx711_sim.h"

#include <stdlib.h>
#include "esp_log.h"
#include "esp_timer.h"

static const char *TAG = "hx711_sim";

#define MAX_POINTS 32
#define MAX_FAILS 8
#define POWER_DOWN_US 60
#define SETTLING_PERIODS 4

static float s_t[MAX_POINTS], s_kg[MAX_POINTS];
static int s_points = -1; /* -1: not parsed yet */
static int64_t s_fail_us[MAX_FAILS];
static int s_fails;

static int64_t s_power_up_us;  /* when the chip last came out of power-down (or boot) */
static int64_t s_high_since_us = -1;
static bool s_clk;
static int s_pulses;           /* rising edges of the read in progress */
static int64_t s_read_conv = -1; /* index of the conversion being read, or last read */
static uint32_t s_data;
static int64_t s_ready_conv = -1; /* the conversion whose code is in the data register */
static uint32_t s_ready_data;
static uint32_t s_noise = 12345u;

static void parse(void)
{
    s_points = 0;
    const char *p = CONFIG_SCALE_HX711_SIM_LOAD;
    char *end;
    while (*p && s_points < MAX_POINTS) {
        float t = strtof(p, &end);
        if (end == p || *end != ':') break;
        p = end + 1;
        float kg = strtof(p, &end);
        if (end == p) break;
        s_t[s_points] = t;
        s_kg[s_points] = kg;
        s_points++;
        p = end;
        while (*p == ' ') p++;
    }
    p = CONFIG_SCALE_HX711_SIM_FAIL_AT_S;
    while (*p && s_fails < MAX_FAILS) {
        float t = strtof(p, &end);
        if (end == p) break;
        s_fail_us[s_fails++] = (int64_t)(t * 1e6f);
        p = end;
    }
    ESP_LOGI(TAG, "simulated HX711: %d load points (\"%s\"), %d failure(s), offset %d, %d counts/kg", s_points,
             CONFIG_SCALE_HX711_SIM_LOAD, s_fails, HX711_SIM_OFFSET, HX711_SIM_COUNTS_PER_KG);
}

/* The scripted load at time t (s since boot): linear between points, the script repeated. */
static float load_kg(double t)
{
    if (s_points < 0) parse();
    if (s_points == 0) return 0;
    if (s_points == 1) return s_kg[0];
    const double span = s_t[s_points - 1];
    if (span > 0 && t > span) t -= span * (double)(int64_t)(t / span);
    for (int i = 1; i < s_points; i++) {
        if (t <= s_t[i]) {
            const double dt = s_t[i] - s_t[i - 1];
            const double f = dt > 0 ? (t - s_t[i - 1]) / dt : 1;
            return (float)(s_kg[i - 1] + f * (s_kg[i] - s_kg[i - 1]));
        }
    }
    return s_kg[s_points - 1];
}

static int64_t period_us(void) { return 1000000 / CONFIG_SCALE_HX711_RATE_SPS; }

/* The index of the latest completed conversion at `now`, or -1 while settling or powered down. */
static int64_t latest_conversion(int64_t now)
{
    const int64_t first = s_power_up_us + SETTLING_PERIODS * period_us();
    if (now < first) return -1;
    return (now - first) / period_us();
}

static uint32_t convert(int64_t conv)
{
    const int64_t at = s_power_up_us + (SETTLING_PERIODS + conv) * period_us();
    s_noise = s_noise * 1103515245u + 12345u;
    const int32_t noise = (int32_t)((s_noise >> 16) & 15u) - 8; /* +-8 counts */
    const float kg = load_kg((double)at / 1e6);
    const int32_t code = HX711_SIM_OFFSET + (int32_t)(kg * HX711_SIM_COUNTS_PER_KG) + noise;
    return (uint32_t)code & 0xFFFFFFu;
}

static bool powered_down(int64_t now)
{
    return s_clk && s_high_since_us >= 0 && now - s_high_since_us > POWER_DOWN_US;
}

void hx711_sim_clock(int level)
{
    const int64_t now = esp_timer_get_time();
    if (level && !s_clk) {
        s_clk = true;
        s_high_since_us = now;
        const int64_t conv = latest_conversion(now);
        const bool between_reads = s_pulses == 0 || s_pulses >= 25;
        if (between_reads && conv > s_read_conv) {
            /* The first edge of a read: the latest conversion is shifted out. Its code was made
             * when DOUT was seen low (hx711_sim_dout), outside this short high phase. */
            s_read_conv = conv;
            s_data = conv == s_ready_conv ? s_ready_data : convert(conv);
            s_pulses = 1;
        } else if (!between_reads || s_pulses >= 25) {
            s_pulses++; /* a data bit, or a gain pulse (25..27: channel A, 128) */
        }
    } else if (!level && s_clk) {
        if (powered_down(now)) {
            /* Out of power-down: the chip resets, settles, and converts afresh. */
            s_power_up_us = now;
            s_read_conv = -1;
            s_ready_conv = -1;
            s_pulses = 0;
        }
        s_clk = false;
        s_high_since_us = -1;
    }
}

int hx711_sim_dout(void)
{
    const int64_t now = esp_timer_get_time();
    if (powered_down(now)) return 1;
    if (s_pulses >= 1 && s_pulses <= 24) return (int)((s_data >> (24 - s_pulses)) & 1u);
    /* Between reads: low while a conversion newer than the last one read is ready. */
    const int64_t conv = latest_conversion(now);
    if (conv <= s_read_conv) return 1;
    if (conv != s_ready_conv) {
        s_ready_conv = conv;
        s_ready_data = convert(conv);
    }
    return 0;
}

int64_t hx711_sim_fell_us(void)
{
    /* Unread conversions after the first replace its data without an edge. */
    return s_power_up_us + (SETTLING_PERIODS + s_read_conv + 1) * period_us();
}

bool hx711_sim_fail_due(void)
{
    if (s_points < 0) parse();
    const int64_t now = esp_timer_get_time();
    for (int i = 0; i < s_fails; i++) {
        if (s_fail_us[i] >= 0 && now >= s_fail_us[i]) {
            ESP_LOGW(TAG, "scripted failure at %.1f s: this host call fails", (double)s_fail_us[i] / 1e6);
            s_fail_us[i] = -1;
            return true;
        }
    }
    return false;
}
#endif
