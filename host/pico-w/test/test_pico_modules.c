/*
 * Calibration modules on the Pico W's host on the desktop: the release core in the firmware's
 * wasm3 host (../components/wasm_host), the module manager (build/manager.wasm) hosted by
 * host/module_host with wasm3 as its engine (../components/modules) and the module slots in a
 * simulated NOR flash through the firmware's own store (../components/store), all unchanged.
 * Packages are made and signed by tests/pico-w.test.ts. Every case prints what it checked and
 * exits 1 on a failure.
 *   install KEY PKG EXPECT     sent in 1 KiB chunks: accepted (on trial, weighing, nothing lost)
 *                              or refused with the reason EXPECT, weighing unchanged
 *   service KEY PKG REASON     installed, then fails in service: rolled back with REASON at once
 *   slots KEY PKG_A PKG_B      trial, restart (UNCONFIRMED), confirmation, restart (kept, read
 *                              back from flash), a second module, rollback, NO_PREVIOUS
 *   core KEY PKG EXPECT VER    a core package on the core topic: accepted (swapped in with the
 *                              state on trial as VER, hex, confirmed) or refused with EXPECT
 *   core-trial KEY TRAP GOOD   a core trapping in its trial rolled back with no reading lost; a
 *                              restart during a trial; a rollback on request
 *   core-kept KEY PKG VER      a confirmed core booted again from its flash slot after a restart
 * Usage: test_pico_modules <case> <release.wasm> <key.pub> <package> [...] (manager.wasm beside release.wasm)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module_cases.h"
#include "module_host.h"
#include "modules_wasm3.h"
#include "scale_abi.h"
#include "store.h"
#include "store_modules.h"
#include "wasm_host.h"

extern int32_t sim_code;


/* ---- a 512 KiB NOR flash: erasing sets 0xFF, programming only clears bits, whole pages ---------- */

#define FLASH_BYTES (512 * 1024)
static uint8_t s_flash[FLASH_BYTES];
static int s_erases;

static bool nor_write(uint32_t offset, const uint8_t *data, size_t n, int32_t erase)
{
    if (erase >= 0) {
        MC_CHECK(erase % STORE_SECTOR == 0, "an erase at %ld, not a sector boundary", (long)erase);
        memset(s_flash + erase, 0xff, STORE_SECTOR);
        s_erases++;
    }
    MC_CHECK(offset % STORE_PAGE == 0 && n % STORE_PAGE == 0 && offset + n <= FLASH_BYTES, "a program of %zu bytes at %lu: not whole pages", n, (unsigned long)offset);
    for (size_t i = 0; i < n; i++) s_flash[offset + i] &= data[i];
    return true;
}

static const store_flash_t FLASH = {.base = s_flash, .size = FLASH_BYTES, .write = nor_write};

/* ---- the core, as main.c drives it ------------------------------------------------------------ */

static int32_t core_module(bool on)
{
    const int32_t args[1] = {on ? 1 : 0};
    return wasm_host_call_i(SCALE_EXPORT_CAL_MODULE, 1, args);
}

static void on_instantiated(void)
{
    const int32_t chip[2] = {18, 19};
    wasm_host_call_i(SCALE_EXPORT_HX_ADD_CHIP, 2, chip);
}

static double s_clock_ms;
static double now_ms(void) { return s_clock_ms += 1; }

static const char *s_keys[1];
static uint8_t *s_manager, *s_core_manager;
static size_t s_manager_len, s_core_manager_len;
static const uint8_t *s_core;
static size_t s_core_len;
static module_storage_t s_storage;
static uint32_t s_last_seq;

/* The board restarting: the host starts again from what the flash holds, the core it boots first
 * (as main.c boots it). */
static void start_modules(void)
{
    store_modules_storage(&s_storage);
    const module_host_config_t c = {
        .engine = modules_wasm3(), .storage = &s_storage, .keys_pem = s_keys, .n_keys = 1, .chunk_bytes = 1024,
        .manager_wasm = s_manager, .manager_len = s_manager_len, .core_module = core_module,
        .core_manager_wasm = s_core_manager, .core_manager_len = s_core_manager_len,
        .answer = mc_answer, .now_ms = now_ms, .core = modules_core_host(s_core, s_core_len),
    };
    const wasm_host_calibration_t calibration = {
        .gain = module_host_gain, .curve = module_host_curve, .knot = module_host_knot, .fault = module_host_fault, .fit = module_host_fit};
    wasm_host_set_calibration(&calibration);
    const uint8_t *wasm = NULL;
    size_t len = 0;
    module_host_core_boot(&c, &wasm, &len);
    if (wasm != s_core) {
        if (wasm_host_replace(wasm, len) != 0) {
            char why[160];
            snprintf(why, sizeof why, "%s", wasm_host_last_error());
            MC_CHECK(wasm_host_replace(s_core, s_core_len) == 0, "the firmware's own core does not start again");
            module_host_core_boot_refused(why);
        }
        s_last_seq = 0; /* a fresh instance counts from its start */
    }
    module_host_start(&c);
}

static void restart(void)
{
    module_host_stop();
    core_module(false);
    int slot = -1;
    module_host_core_version(&slot, NULL);
    if (slot >= 0) {
        /* A power cycle: the firmware's own core first, as at every boot. */
        MC_CHECK(wasm_host_replace(s_core, s_core_len) == 0, "the core does not start again");
        s_last_seq = 0;
    }
    start_modules();
}

static int s_lost;

/* n samples; the last reading's gross weight in *gross. Counts readings whose sequence number skips one. */
static int samples(int n, float *gross)
{
    static int32_t t;
    int readings = 0;
    for (int i = 0; i < n; i++) {
        t += 13;
        const int32_t r = wasm_host_call_i(SCALE_EXPORT_SCALE_SAMPLE, 1, &t);
        if (module_host_sampled(r)) continue; /* a core on trial trapped, and was rolled back */
        MC_CHECK(r != INT32_MIN, "sample trapped: %s", wasm_host_last_error());
        if (r <= 0) continue;
        const uint8_t *rec = wasm_host_reading();
        uint32_t seq;
        memcpy(&seq, rec + SCALE_ABI_READING_SEQ, 4);
        if (gross) memcpy(gross, rec + SCALE_ABI_READING_GROSS_KG, 4);
        if (s_last_seq && seq != s_last_seq + 1) s_lost++;
        s_last_seq = seq;
        readings++;
    }
    return readings;
}

static int lost(void) { return s_lost; }

static const module_rig_t RIG = {.samples = samples, .lost = lost, .restart = restart};

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    MC_CHECK(argc >= 5, "usage: test_pico_modules <case> <release.wasm> <key.pub> <package> [...]");
    const char *name = argv[1];
    size_t core_len, key_len, len;
    const uint8_t *core = mc_read_file(argv[2], &core_len);
    s_core = core;
    s_core_len = core_len;
    s_manager = mc_read_manager(argv[2], &s_manager_len);
    s_core_manager = mc_read_beside(argv[2], "core-manager.wasm", &s_core_manager_len);
    s_keys[0] = (const char *)mc_read_file(argv[3], &key_len);
    uint8_t *pkg = mc_read_file(argv[4], &len);
    memset(s_flash, 0xff, sizeof s_flash);
    store_init(&FLASH);
    const wasm_host_config_t config = {.wasm = core, .wasm_len = core_len, .stack_bytes = 8 * 1024, .on_instantiated = on_instantiated};
    MC_CHECK(wasm_host_start(&config) == WASM_HOST_OK, "the core does not start");
    start_modules();
    float gross = NAN;
    samples(50, &gross);
    (void)gross;

    if (strcmp(name, "install") == 0) {
        MC_CHECK(argc >= 6, "install: EXPECT");
        mc_install(&RIG, pkg, len, argv[5]);
    } else if (strcmp(name, "service") == 0) {
        MC_CHECK(argc >= 6, "service: REASON");
        mc_service(&RIG, pkg, len, argv[5]);
    } else if (strcmp(name, "slots") == 0) {
        MC_CHECK(argc >= 6, "slots: PKG_B");
        size_t len_b;
        uint8_t *pkg_b = mc_read_file(argv[5], &len_b);
        mc_slots(&RIG, pkg, len, pkg_b, len_b);
        printf("%d sector erases; the slots read back from flash after each restart\n", s_erases);
    } else if (strcmp(name, "core") == 0) {
        MC_CHECK(argc >= 7, "core: EXPECT VERSION");
        mc_core_install(&RIG, pkg, len, argv[5], (uint32_t)strtoul(argv[6], NULL, 16));
    } else if (strcmp(name, "core-trial") == 0) {
        MC_CHECK(argc >= 6, "core-trial: GOOD_PACKAGE");
        size_t good_len;
        uint8_t *good = mc_read_file(argv[5], &good_len);
        mc_core_trial(&RIG, pkg, len, good, good_len);
    } else if (strcmp(name, "core-kept") == 0) {
        MC_CHECK(argc >= 6, "core-kept: VERSION");
        mc_core_kept(&RIG, pkg, len, (uint32_t)strtoul(argv[5], NULL, 16));
    } else {
        MC_CHECK(false, "unknown case %s", name);
    }
    module_host_stop();
    printf("PASS %s\n", name);
    return 0;
}
