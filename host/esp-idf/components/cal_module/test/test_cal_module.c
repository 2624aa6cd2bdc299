/*
 * The firmware's calibration module support (../cal_module.c, WAMR as the engine of the module
 * manager's host, host/module_host, unchanged) running build/manager.wasm beside the core in its Wasm host
 * (../../wasm_host/wasm_host.c) on Linux, against the WAMR the ESP32 runs with the Kconfig
 * defaults, a simulated HX711 and slots in RAM. Packages are made and signed by
 * tests/firmware-modules.test.ts. Every case prints what it checked and exits 1 on a failure.
 *   install KEY PKG EXPECT [CODE KG]  sent in 1 KiB chunks over the module "topic": accepted, or
 *                                     refused with the reason EXPECT; accepted, the weight at chip
 *                                     code CODE is KG (to the division), every reading kept
 *   service KEY PKG REASON            installed, then fails in service: rolled back with REASON at
 *                                     once, no reading lost, none weighed by the failing module
 *   slots KEY PKG_A PKG_B             trial, restart (UNCONFIRMED), confirmation, restart (kept),
 *                                     a second module, rollback over MQTT, NO_PREVIOUS
 *   transfer KEY PKG                  resumed after a break; bad offsets, oversize chunks, end too
 *                                     early and a wrong hash refused
 *   fit KEY PKG                       calibration points through the module's fit, saved
 *   memory KEY PKG                    the pool the core and an installed module need, and the heap
 *                                     the manager takes while loaded (figures)
 *   core KEY PKG EXPECT VERSION       a core package on the core topic: accepted (swapped in with the
 *                                     state on trial as VERSION, hex, confirmed) or refused with
 *                                     EXPECT, the scale weighing on, no reading lost
 *   core-trial KEY TRAPPING GOOD      a core trapping in its trial rolled back with no reading lost;
 *                                     a restart during a trial; a rollback on request
 *   core-kept KEY PKG VERSION         a confirmed core booted again after a restart
 *   core-budget KEY PKG               a core on trial that runs past its instruction budget rolled back
 *   firmware KEY PKG EXPECT           a firmware package on the firmware topic, this image being
 *                                     0.2.0: fetched (its url, size and hash printed), or refused
 *                                     with EXPECT and not fetched
 * Usage: test_cal_module <case> <release.wasm> <args...> (manager.wasm beside release.wasm)
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cal_module.h"
#include "check.h"
#include "module_cases.h"
#include "module_crypto.h"
#include "esp_heap_caps.h"
#include "module_host.h"
#include "sim_hx711.h"
#include "wasm_export.h"
#include "wasm_host.h"


/* ---- slots in RAM, as the partition and NVS keep them ------------------------------------------ */

#define SLOT_BYTES (128 * 1024)
static uint8_t s_slot[4][SLOT_BYTES]; /* a and b: modules; c and d: cores */
static uint8_t s_params[2][300];
static size_t s_params_len[2];
static uint8_t s_state[64];
static size_t s_state_len;

static bool ram_erase(void *ctx, int slot) { (void)ctx; memset(s_slot[slot], 0xff, SLOT_BYTES); s_params_len[slot] = 0; return true; }
static bool ram_write(void *ctx, int slot, uint32_t at, const void *p, size_t n) { (void)ctx; if (at + n > SLOT_BYTES) return false; memcpy(s_slot[slot] + at, p, n); return true; }
static bool ram_read(void *ctx, int slot, uint32_t at, void *p, size_t n) { (void)ctx; if (at + n > SLOT_BYTES) return false; memcpy(p, s_slot[slot] + at, n); return true; }
/* Core slots read in place, as the ESP32 maps its `cores` partition. */
static const uint8_t *ram_map(void *ctx, int slot, uint32_t at, size_t n) { (void)ctx; return slot >= 2 && at + n <= SLOT_BYTES ? s_slot[slot] + at : NULL; }
static bool ram_save_params(void *ctx, int slot, const uint8_t *b, size_t n) { (void)ctx; if (n > sizeof s_params[0]) return false; memcpy(s_params[slot], b, n); s_params_len[slot] = n; return true; }
static size_t ram_load_params(void *ctx, int slot, uint8_t *b, size_t cap) { (void)ctx; if (s_params_len[slot] > cap) return 0; memcpy(b, s_params[slot], s_params_len[slot]); return s_params_len[slot]; }
static bool ram_save_state(void *ctx, const uint8_t *b, size_t n) { (void)ctx; if (n > sizeof s_state) return false; memcpy(s_state, b, n); s_state_len = n; return true; }
static size_t ram_load_state(void *ctx, uint8_t *b, size_t cap) { (void)ctx; if (s_state_len > cap) return 0; memcpy(b, s_state, s_state_len); return s_state_len; }
static size_t free_heap(void) { return heap_caps_get_free_size(MALLOC_CAP_8BIT); }
static double s_clock_ms;
static double now_ms(void) { return s_clock_ms += 1; }

static const module_storage_t STORAGE = {NULL, SLOT_BYTES, ram_map, ram_erase, ram_write, ram_read, ram_save_params, ram_load_params, ram_save_state, ram_load_state};

/* ---- the core, as main.c drives it --------------------------------------------------------------- */

static int32_t core_module(bool on)
{
    return wasm_host_call_i(SCALE_EXPORT_CAL_MODULE, 1, on ? 1 : 0, 0);
}

static void on_instantiated(void)
{
    wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, 18, 4);
    size_t cap;
    uint8_t *io = wasm_host_io(&cap);
    memcpy(io, "dev1", 4);
    wasm_host_call_i(SCALE_EXPORT_MQTT_SETUP, 1, 4, 0);
    /* A temperature, as from a sensor: the temperature module's correction applies. */
    double celsius = 30;
    uint32_t argv[2];
    memcpy(argv, &celsius, sizeof celsius);
    wasm_host_call(SCALE_EXPORT_ENV_TEMPERATURE, 2, argv);
}

static const char *s_keys[1];
static uint8_t *s_core, *s_manager, *s_core_manager;
static size_t s_core_len, s_manager_len, s_core_manager_len;

static void start_core(void)
{
    wasm_host_config_t c = {
        .wasm = s_core, .wasm_len = s_core_len, .pool_bytes = CONFIG_SCALE_WASM_POOL_KB * 1024,
        .stack_bytes = CONFIG_SCALE_WASM_STACK_KB * 1024, .instruction_limit = CONFIG_SCALE_WASM_INSTRUCTION_LIMIT,
        .on_instantiated = on_instantiated,
    };
    CHECK(wasm_host_start(&c) == 0, "the core does not start");
}

static uint32_t s_last_seq;

/* The firmware image, as app.c wires it to fw_update: this harness runs image 0.2.0 and records a fetch. */
static char s_fetched[300];
static uint32_t firmware_version(void) { return 0x000200; }
static int32_t firmware_fetch(const char *url, uint32_t size, const uint8_t sha[32])
{
    snprintf(s_fetched, sizeof s_fetched, "fetch %s %u %02x%02x", url, (unsigned)size, sha[0], sha[1]);
    return 0;
}

/* The device restarting: the core it boots (as app.c boots it: the firmware's own, then one
 * installed over the air swapped in before any state), then the manager from what the slots and
 * their state hold. */
static void start_manager(void)
{
    module_host_config_t m = {
        .engine = cal_module_wamr(), .storage = &STORAGE, .keys_pem = s_keys, .n_keys = 1, .chunk_bytes = 1024, .manager_wasm = s_manager, .manager_len = s_manager_len,
        .core_manager_wasm = s_core_manager, .core_manager_len = s_core_manager_len,
        .core_module = core_module, .answer = mc_answer, .now_ms = now_ms, .free_heap = free_heap, .core = cal_module_core_host(s_core, s_core_len),
        .firmware_version = firmware_version, .firmware_fetch = firmware_fetch,
    };
    const uint8_t *wasm = NULL;
    size_t len = 0;
    module_host_core_boot(&m, &wasm, &len);
    if (wasm != s_core) {
        if (wasm_host_replace(wasm, len) != ESP_OK) {
            char why[128];
            snprintf(why, sizeof why, "%s", wasm_host_last_error());
            CHECK(wasm_host_replace(s_core, s_core_len) == ESP_OK, "the firmware's own core does not start again");
            module_host_core_boot_refused(why);
        }
        s_last_seq = 0; /* a fresh instance counts from its start */
    }
    cal_module_link_calibration(true);
    module_host_start(&m);
}

static void restart(void)
{
    module_host_stop();
    core_module(false);
    int slot = -1;
    module_host_core_version(&slot, NULL);
    if (slot >= 0) {
        /* A power cycle: the firmware's own core first, as at every boot. */
        CHECK(wasm_host_replace(s_core, s_core_len) == ESP_OK, "the core does not start again");
        s_last_seq = 0;
    }
    start_manager();
}

typedef struct {
    uint32_t seq;
    float kg;
    float gross;
    uint32_t flags;
} reading_t;

static int s_lost;

/* n samples; the last reading in *last. Counts readings whose sequence number skips one. */
static int samples(int n, reading_t *last)
{
    static int32_t t;
    int readings = 0;
    for (int i = 0; i < n; i++) {
        int32_t r = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, t += 13, 0);
        if (module_host_sampled(r)) continue; /* a core on trial trapped, and was rolled back */
        CHECK(r != INT32_MIN, "sample trapped: %s", wasm_host_last_error());
        if (r == 0) continue;
        const uint8_t *rec = wasm_host_reading();
        reading_t x;
        memcpy(&x.seq, rec + 0, 4);
        memcpy(&x.kg, rec + 8, 4);
        memcpy(&x.gross, rec + 12, 4);
        memcpy(&x.flags, rec + 24, 4);
        if (s_last_seq && x.seq != s_last_seq + 1) s_lost++;
        s_last_seq = x.seq;
        if (last) *last = x;
        readings++;
    }
    return readings;
}

/* A command to the core on its command topic, as main.c hands one over. */
static void command(const char *json)
{
    static const char topic[] = "wasm-scale/dev1/cmd";
    size_t cap, t = strlen(topic), p = strlen(json);
    uint8_t *io = wasm_host_io(&cap);
    memcpy(io, topic, t);
    memcpy(io + t, json, p);
    CHECK(wasm_host_call_i(SCALE_EXPORT_MQTT_MESSAGE, 2, (int32_t)t, (int32_t)p) >= 0, "%s refused", json);
}

static int lost(void) { return s_lost; }

/* The shared cases' view of samples: the last reading's gross weight. */
static int samples_gross(int n, float *gross)
{
    reading_t r = {0};
    const int readings = samples(n, &r);
    if (gross && readings) *gross = r.gross;
    return readings;
}

static const module_rig_t RIG = {.samples = samples_gross, .lost = lost, .restart = restart};

/* core-memory: the heap a core swap takes beyond the running scale's, seen at each step of the swap
 * (the state saved, the old core unloaded and the new one instantiated, the state given to it). */
static module_core_host_t s_measured;
static const module_core_host_t *s_measuring;
static size_t s_least_free, s_state_bytes;

static void seen(void)
{
    size_t f = free_heap();
    if (f < s_least_free) s_least_free = f;
}

static uint8_t *measured_copy(size_t *len)
{
    uint8_t *state = s_measuring->state_copy(len);
    if (state) s_state_bytes = *len;
    seen();
    return state;
}

static int measured_replace(const uint8_t *wasm, size_t len)
{
    seen();
    int r = s_measuring->replace(wasm, len);
    seen();
    return r;
}

static bool measured_load(const uint8_t *state, size_t len)
{
    bool ok = s_measuring->state_load(state, len);
    seen();
    return ok;
}

int main(int argc, char **argv)
{
    CHECK(argc >= 5, "usage: test_cal_module <case> <release.wasm> <key.pub> <package> [...]");
    const char *name = argv[1];
    s_core = mc_read_file(argv[2], &s_core_len);
    s_manager = mc_read_manager(argv[2], &s_manager_len);
    s_core_manager = mc_read_beside(argv[2], "core-manager.wasm", &s_core_manager_len);
    size_t key_len;
    s_keys[0] = (const char *)mc_read_file(argv[3], &key_len);
    size_t len;
    uint8_t *pkg = mc_read_file(argv[4], &len);
    start_core();
    start_manager();
    reading_t r = {0};
    samples(50, &r);

    if (strcmp(name, "install") == 0) {
        CHECK(argc >= 6, "install: EXPECT");
        mc_install(&RIG, pkg, len, argv[5]);
        if (strcmp(argv[5], "accepted") == 0 && argc >= 8) {
            sim_hx711_code = atoi(argv[6]);
            samples(400, &r);
            double want = atof(argv[7]);
            CHECK(fabs(r.gross - want) <= 0.011, "%.4f kg weighed at code %s; the module says %.4f", r.gross, argv[6], want);
            printf("weighs %.3f kg at code %s (the module: %.4f)\n", r.gross, argv[6], want);
        }
    } else if (strcmp(name, "service") == 0) {
        CHECK(argc >= 6, "service: REASON");
        mc_service(&RIG, pkg, len, argv[5]);
        samples(10, &r);
        CHECK(isfinite(r.gross) && fabs(r.gross - 1.16) < 0.02, "after the rollback the built-in curve weighs %.4f", r.gross);
    } else if (strcmp(name, "core") == 0) {
        CHECK(argc >= 7, "core: EXPECT VERSION");
        mc_core_install(&RIG, pkg, len, argv[5], (uint32_t)strtoul(argv[6], NULL, 16));
        samples(10, &r);
        CHECK(fabs(r.gross - 1.16) < 0.02, "after the core's install the calibration weighs %.4f", r.gross);
    } else if (strcmp(name, "core-trial") == 0) {
        CHECK(argc >= 6, "core-trial: GOOD_PACKAGE");
        size_t good_len;
        uint8_t *good = mc_read_file(argv[5], &good_len);
        mc_core_trial(&RIG, pkg, len, good, good_len);
    } else if (strcmp(name, "core-budget") == 0) {
        /* A core on trial that runs past its instruction budget: rolled back as BUDGET, nothing lost. */
        mc_send_core(pkg, len);
        mc_expect_verdict("accepted");
        samples(300, &r);
        char status[16], why[32];
        CHECK(mc_last("rollback", status, why) && strcmp(why, "BUDGET") == 0, "no rollback for BUDGET: %s", mc_newest());
        CHECK(s_lost == 0, "%d reading(s) lost", s_lost);
        printf("rolled back (BUDGET): %s\n", strstr(mc_newest(), "rolled back"));
    } else if (strcmp(name, "core-kept") == 0) {
        CHECK(argc >= 6, "core-kept: VERSION");
        mc_core_kept(&RIG, pkg, len, (uint32_t)strtoul(argv[5], NULL, 16));
    } else if (strcmp(name, "slots") == 0) {
        CHECK(argc >= 6, "slots: PKG_B");
        size_t len_b;
        uint8_t *pkg_b = mc_read_file(argv[5], &len_b);
        mc_slots(&RIG, pkg, len, pkg_b, len_b);
    } else if (strcmp(name, "transfer") == 0) {
        char begin[160];
        mc_begin_for(pkg, len, begin, sizeof begin);
        module_host_message("chunk/0", 7, pkg, 100);
        mc_expect("chunk", "NO_TRANSFER");
        module_host_message("begin", 5, (const uint8_t *)"{\"size\":999999999,\"sha256\":\"00\"}", 33);
        mc_expect("begin", "BAD_PACKAGE");
        module_host_message("begin", 5, NULL, 4000); /* too large for the MQTT buffer: not kept, not read */
        mc_expect("begin", "BAD_PACKAGE");
        module_host_message("begin", 5, (const uint8_t *)begin, strlen(begin));
        mc_expect("begin", "accepted");
        module_host_message("chunk/0", 7, pkg, 1024);
        module_host_message("chunk/5", 7, pkg, 10);
        mc_expect("chunk", "BAD_OFFSET");
        module_host_message("chunk/1024", 10, pkg + 1024, 2000);
        mc_expect("chunk", "TOO_LARGE");
        module_host_message("chunk/1024", 10, NULL, 5000);
        mc_expect("chunk", "TOO_LARGE");
        module_host_message("end", 3, NULL, 0);
        mc_expect("end", "TRUNCATED");
        module_host_message("begin", 5, (const uint8_t *)begin, strlen(begin)); /* after a break: resumes */
        CHECK(strstr(mc_newest(), "\"offset\":1024") != NULL, "resume at 1024: %s", mc_newest());
        mc_send_chunks(pkg, len, 1024);
        module_host_message("end", 3, NULL, 0);
        mc_expect("install", "accepted");
        char *digit = strstr(begin, "\"sha256\":\"") + 10; /* a package that is not what begin announced */
        *digit = *digit == '0' ? '1' : '0';
        module_host_message("begin", 5, (const uint8_t *)begin, strlen(begin));
        mc_send_chunks(pkg, len, 0);
        module_host_message("end", 3, NULL, 0);
        mc_expect("end", "BAD_HASH");
        CHECK(module_host_active(NULL) != NULL, "the installed module was lost to a bad transfer");
    } else if (strcmp(name, "fit") == 0) {
        mc_send_package(pkg, len);
        mc_expect_verdict("accepted");
        samples(200, &r);
        command("{\"cmd\":\"cal_clear\"}");
        command("{\"cmd\":\"cal_point\",\"kg\":0}");
        sim_hx711_code = 100000 + 1717987; /* 20 kg of a nominal cell */
        samples(300, &r);
        command("{\"cmd\":\"cal_point\",\"kg\":20}");
        command("{\"cmd\":\"cal_fit\",\"order\":1}");
        mc_expect("fit", "accepted");
        samples(300, &r);
        CHECK(fabs(r.gross - 20) <= 0.011, "%.4f kg after the fit, 20 on the platform", r.gross);
        size_t saved = s_params_len[0] > s_params_len[1] ? s_params_len[0] : s_params_len[1];
        CHECK(saved > 8, "the fitted parameters were not saved");
        printf("fitted: 20 kg weighs %.3f; %u bytes of parameters saved\n", r.gross, (unsigned)saved);
    } else if (strcmp(name, "firmware") == 0) {
        CHECK(argc >= 6, "firmware: EXPECT");
        module_host_message("firmware", 8, pkg, len);
        mc_expect("install", argv[5]);
        if (strcmp(argv[5], "accepted") == 0) {
            CHECK(s_fetched[0], "an accepted firmware package was not fetched");
            printf("%s\n", s_fetched);
        } else {
            CHECK(!s_fetched[0], "a refused firmware package was fetched: %s", s_fetched);
        }
        samples(20, &r);
        CHECK(s_lost == 0, "%d reading(s) lost", s_lost);
    } else if (strcmp(name, "core-memory") == 0) {
        CHECK(argc >= 6, "core-memory: VERSION");
        module_host_stop();
        s_measuring = cal_module_core_host(s_core, s_core_len);
        s_measured = *s_measuring;
        s_measured.state_copy = measured_copy;
        s_measured.replace = measured_replace;
        s_measured.state_load = measured_load;
        module_host_config_t m = {
            .engine = cal_module_wamr(), .storage = &STORAGE, .keys_pem = s_keys, .n_keys = 1, .chunk_bytes = 1024, .manager_wasm = s_manager, .manager_len = s_manager_len,
            .core_manager_wasm = s_core_manager, .core_manager_len = s_core_manager_len,
            .core_module = core_module, .answer = mc_answer, .now_ms = now_ms, .free_heap = free_heap, .core = &s_measured,
        };
        module_host_start(&m);
        samples(400, &r); /* readings queued in the outbox, as after an outage */
        /* The package sent, the manager loaded (as for any transfer): then what end, the checks and
         * the swap take beyond that. */
        mc_send_core_chunks(pkg, len);
        const size_t before = free_heap();
        s_least_free = before;
        module_host_message("core/end", 8, NULL, 0);
        mc_expect_verdict("accepted");
        int slot = -1;
        CHECK(module_host_core_version(&slot, NULL) == (uint32_t)strtoul(argv[5], NULL, 16) && slot >= 2, "the core was not swapped in");
        printf("FIGURES {\"swap_bytes\":%u,\"state_bytes\":%u,\"core_manager_heap\":%u}\n", (unsigned)(before - s_least_free), (unsigned)s_state_bytes,
               (unsigned)module_host_core_manager_bytes());
    } else if (strcmp(name, "memory") == 0) {
        wasm_host_memory_t before, after;
        wasm_host_memory(&before);
        mc_send_package(pkg, len);
        mc_expect_verdict("accepted");
        samples(300, &r);
        wasm_host_memory(&after);
        printf("FIGURES {\"pool\":%u,\"pool_peak\":%u,\"pool_free_before\":%u,\"pool_free_after\":%u,\"manager_heap\":%u}\n", (unsigned)after.pool_bytes, (unsigned)after.pool_peak_bytes,
               (unsigned)before.pool_free_bytes, (unsigned)after.pool_free_bytes, (unsigned)module_host_manager_bytes());
    } else {
        CHECK(false, "unknown case %s", name);
    }
    printf("PASS %s\n", name);
    return 0;
}
