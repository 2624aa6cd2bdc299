/*
 * What the firmwares' calibration module harnesses share (the ESP32's with WAMR,
 * esp-idf/components/cal_module/test; the Pico W's with wasm3, pico-w/test): the manager's answers
 * kept and read back, a package sent as `wasm-scale module install` sends it (1 KiB chunks), and
 * the cases both run through module_host. A failed check says where and why, and exits 1.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MC_CHECK(cond, ...)                                               \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stdout, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stdout, __VA_ARGS__);                                 \
            fputc('\n', stdout);                                          \
            exit(1);                                                      \
        }                                                                 \
    } while (0)

/* What a harness gives the cases: n samples (readings made, the last one's gross weight, readings
 * lost so far), and the board restarting (module_host stopped and started again on the same slots). */
typedef struct {
    int (*samples)(int n, float *gross);
    int (*lost)(void);
    void (*restart)(void);
} module_rig_t;

/* A file's bytes (NUL-terminated after them, for PEM keys), or a failed check. */
uint8_t *mc_read_file(const char *path, size_t *len);
/* build/manager.wasm (or another file of build/), beside the core a harness was given. */
uint8_t *mc_read_manager(const char *core_path, size_t *len);
uint8_t *mc_read_beside(const char *core_path, const char *name, size_t *len);

/* module_host's answer hook: keeps every answer. */
void mc_answer(const char *json);
/* The newest answer of `step`: its status and reason ("" when none); false when there is none. */
bool mc_last(const char *step, char *status, char *reason);
/* The newest answer, whole. */
const char *mc_newest(void);
/* The newest `step` answer is `want` ("accepted", or the reason of a refusal); prints it. */
void mc_expect(const char *step, const char *want);
/* The verdict of a whole transfer: install's answer, or end's when it never got that far. */
void mc_expect_verdict(const char *want);

/* {"size":...,"sha256":...} of a package. */
void mc_begin_for(const uint8_t *pkg, size_t len, char *begin, size_t size);
void mc_send_chunks(const uint8_t *pkg, size_t len, size_t from);
void mc_send_package(const uint8_t *pkg, size_t len);

/* The cases both firmwares run: a package accepted (on trial) or refused with a reason, weighing on;
 * a module that fails in service rolled back with a reason; slots across restarts and rollbacks. */
void mc_install(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *expect);
void mc_service(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *reason);
void mc_slots(const module_rig_t *rig, const uint8_t *pkg, size_t len, const uint8_t *pkg_b, size_t len_b);

/* Cores over the air, on the core topic: a package accepted (swapped in on trial as `version`,
 * confirmed) or refused with `expect` while the scale weighs on, no reading lost either way; a
 * core that traps in its trial rolled back at once with no reading lost, a restart during a trial
 * (UNCONFIRMED), a rollback on request and NO_PREVIOUS; a confirmed core kept across a restart. The
 * rig's restart boots the device's core as the firmware does (module_host_core_boot). */
void mc_send_core(const uint8_t *pkg, size_t len);
/* begin and every chunk, not end. */
void mc_send_core_chunks(const uint8_t *pkg, size_t len);
void mc_core_install(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *expect, uint32_t version);
void mc_core_trial(const module_rig_t *rig, const uint8_t *trapping, size_t trapping_len, const uint8_t *good, size_t good_len);
void mc_core_kept(const module_rig_t *rig, const uint8_t *good, size_t good_len, uint32_t version);
