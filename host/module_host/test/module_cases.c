/* The firmwares' shared calibration module cases: see module_cases.h. */
#include "module_cases.h"

#include <math.h>
#include <string.h>

#include "module_crypto.h"
#include "module_host.h"

#define MAX_ANSWERS 1024
static char *s_answers[MAX_ANSWERS];
static int s_n;

uint8_t *mc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    MC_CHECK(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(*len + 1);
    MC_CHECK(buf && fread(buf, 1, *len, f) == *len, "cannot read %s", path);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

uint8_t *mc_read_beside(const char *core_path, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", core_path);
    char *slash = strrchr(path, '/');
    snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "%s", name);
    return mc_read_file(path, len);
}

uint8_t *mc_read_manager(const char *core_path, size_t *len)
{
    return mc_read_beside(core_path, "manager.wasm", len);
}

void mc_answer(const char *json)
{
    if (s_n < MAX_ANSWERS) s_answers[s_n++] = strdup(json);
}

const char *mc_newest(void)
{
    return s_n ? s_answers[s_n - 1] : "(none)";
}

bool mc_last(const char *step, char *status, char *reason)
{
    char want[48];
    snprintf(want, sizeof want, "\"step\":\"%s\"", step);
    for (int i = s_n - 1; i >= 0; i--) {
        const char *a = s_answers[i];
        if (!strstr(a, want)) continue;
        const char *s = strstr(a, "\"status\":\""), *r = strstr(a, "\"reason\":\"");
        status[0] = reason[0] = 0;
        if (s) sscanf(s + 10, "%15[^\"]", status);
        if (r) sscanf(r + 10, "%31[^\"]", reason);
        return true;
    }
    return false;
}

void mc_expect(const char *step, const char *want)
{
    char status[16], reason[32];
    MC_CHECK(mc_last(step, status, reason), "no %s answer", step);
    if (strcmp(want, "accepted") == 0) MC_CHECK(strcmp(status, "accepted") == 0, "%s %s (%s), expected accepted: %s", step, status, reason, mc_newest());
    else MC_CHECK(strcmp(status, "rejected") == 0 && strcmp(reason, want) == 0, "%s %s (%s), expected %s: %s", step, status, reason, want, mc_newest());
    printf("%s %s%s%s\n", step, status, reason[0] ? " " : "", reason);
}

void mc_expect_verdict(const char *want)
{
    char status[16], reason[32];
    mc_expect(mc_last("install", status, reason) ? "install" : "end", want);
}

void mc_begin_for(const uint8_t *pkg, size_t len, char *begin, size_t size)
{
    uint8_t hash[32];
    char hex[65];
    MC_CHECK(module_sha256(pkg, len, hash), "sha256");
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    snprintf(begin, size, "{\"size\":%u,\"sha256\":\"%s\"}", (unsigned)len, hex);
}

void mc_send_chunks(const uint8_t *pkg, size_t len, size_t from)
{
    for (size_t at = from; at < len; at += 1024) {
        char sub[32];
        snprintf(sub, sizeof sub, "chunk/%u", (unsigned)at);
        module_host_message(sub, strlen(sub), pkg + at, len - at < 1024 ? len - at : 1024);
    }
}

void mc_send_package(const uint8_t *pkg, size_t len)
{
    char begin[160];
    mc_begin_for(pkg, len, begin, sizeof begin);
    module_host_message("begin", 5, (const uint8_t *)begin, strlen(begin));
    mc_send_chunks(pkg, len, 0);
    module_host_message("end", 3, NULL, 0);
}

void mc_install(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *expect)
{
    float gross = NAN;
    mc_send_package(pkg, len);
    mc_expect_verdict(expect);
    bool trial = false;
    if (strcmp(expect, "accepted") == 0) MC_CHECK(module_host_active(&trial) && trial, "no module on trial after an accepted install");
    else MC_CHECK(module_host_active(NULL) == NULL, "a refused module is active");
    rig->samples(300, &gross);
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost", rig->lost());
    MC_CHECK(isfinite(gross), "the weight is not finite");
}

void mc_service(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *reason)
{
    float gross = NAN;
    mc_send_package(pkg, len);
    mc_expect_verdict("accepted");
    const int readings = rig->samples(3000, &gross);
    char status[16], why[32];
    MC_CHECK(mc_last("rollback", status, why), "no rollback answer");
    MC_CHECK(strcmp(status, "accepted") == 0 && strcmp(why, reason) == 0, "rolled back %s for %s, expected %s", status, why, reason);
    MC_CHECK(module_host_active(NULL) == NULL, "the module is still active");
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost", rig->lost());
    MC_CHECK(isfinite(gross), "the weight is not finite after the rollback");
    printf("rolled back (%s) with %d readings, none lost; then %.4f kg\n", why, readings, (double)gross);
}

void mc_slots(const module_rig_t *rig, const uint8_t *pkg, size_t len, const uint8_t *pkg_b, size_t len_b)
{
    float gross = NAN;
    mc_send_package(pkg, len);
    mc_expect_verdict("accepted");
    rig->samples(50, &gross);
    rig->restart();
    mc_expect("rollback", "accepted");
    MC_CHECK(module_host_active(NULL) == NULL, "a module on trial survived a restart");
    mc_send_package(pkg, len);
    mc_expect_verdict("accepted");
    rig->samples(250, &gross); /* past the manager's 200 good readings (abi.json confirmReadings) */
    mc_expect("confirm", "accepted");
    rig->restart();
    bool trial = true;
    const char *active = module_host_active(&trial);
    MC_CHECK(active && !trial, "the confirmed module did not come back after a restart");
    printf("restored %s after a restart\n", active);
    char first[33];
    snprintf(first, sizeof first, "%s", active);
    mc_send_package(pkg_b, len_b);
    mc_expect_verdict("accepted");
    module_host_message("rollback", 8, NULL, 0);
    mc_expect("rollback", "accepted");
    active = module_host_active(NULL);
    MC_CHECK(active && strcmp(active, first) == 0, "rollback went to %s, not %s", active ? active : "none", first);
    module_host_message("rollback", 8, NULL, 0);
    MC_CHECK(module_host_active(NULL) == NULL, "a second rollback left a module");
    module_host_message("rollback", 8, NULL, 0);
    mc_expect("rollback", "NO_PREVIOUS");
    rig->samples(100, &gross);
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost", rig->lost());
}

/* ---- the core itself over the air ----------------------------------------------------------------- */

void mc_send_core_chunks(const uint8_t *pkg, size_t len)
{
    char begin[160];
    mc_begin_for(pkg, len, begin, sizeof begin);
    module_host_message("core/begin", 10, (const uint8_t *)begin, strlen(begin));
    for (size_t at = 0; at < len; at += 1024) {
        char sub[40];
        snprintf(sub, sizeof sub, "core/chunk/%u", (unsigned)at);
        module_host_message(sub, strlen(sub), pkg + at, len - at < 1024 ? len - at : 1024);
    }
}

void mc_send_core(const uint8_t *pkg, size_t len)
{
    mc_send_core_chunks(pkg, len);
    module_host_message("core/end", 8, NULL, 0);
}

void mc_core_install(const module_rig_t *rig, const uint8_t *pkg, size_t len, const char *expect, uint32_t version)
{
    float gross = NAN;
    int slot = -1, before_slot = -1;
    bool trial = false;
    module_host_core_version(&before_slot, NULL);
    mc_send_core(pkg, len);
    mc_expect_verdict(expect);
    if (strcmp(expect, "accepted") == 0) {
        const uint32_t v = module_host_core_version(&slot, &trial);
        MC_CHECK(v == version && trial && (slot == 2 || slot == 3), "core %06x in slot %d, trial %d after an accepted install; expected %06x on trial", (unsigned)v, slot, trial, (unsigned)version);
        rig->samples(250, &gross); /* past the manager's 200 good readings */
        mc_expect("confirm", "accepted");
        module_host_core_version(&slot, &trial);
        MC_CHECK(!trial, "the core is still on trial after 250 samples");
    } else {
        module_host_core_version(&slot, NULL);
        MC_CHECK(slot == before_slot, "a refused core changed the core in force (slot %d, was %d)", slot, before_slot);
        rig->samples(30, &gross);
    }
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost", rig->lost());
    MC_CHECK(isfinite(gross), "the weight is not finite");
}

void mc_core_trial(const module_rig_t *rig, const uint8_t *trapping, size_t trapping_len, const uint8_t *good, size_t good_len)
{
    float gross = NAN;
    int slot = -1;
    bool trial = false;
    /* A core that traps in its trial: rolled back at once, its state moved into the one before. */
    mc_send_core(trapping, trapping_len);
    mc_expect_verdict("accepted");
    const int readings = rig->samples(300, &gross);
    char status[16], why[32];
    MC_CHECK(mc_last("rollback", status, why) && strcmp(status, "accepted") == 0 && strcmp(why, "TRAPPED") == 0, "no rollback for TRAPPED: %s", mc_newest());
    module_host_core_version(&slot, &trial);
    MC_CHECK(slot == -1 && !trial, "after the rollback slot %d weighs, trial %d", slot, trial);
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost across the trap", rig->lost());
    MC_CHECK(isfinite(gross), "the weight is not finite after the rollback");
    printf("rolled back (TRAPPED) with %d readings, none lost: %s\n", readings, strstr(mc_newest(), "rolled back"));
    /* A restart during a trial: the next boot goes back to the core before. */
    mc_send_core(good, good_len);
    mc_expect_verdict("accepted");
    rig->samples(20, &gross);
    rig->restart();
    MC_CHECK(mc_last("rollback", status, why) && strcmp(status, "accepted") == 0 && strcmp(why, "UNCONFIRMED") == 0, "no rollback for UNCONFIRMED: %s", mc_newest());
    printf("rollback accepted UNCONFIRMED\n");
    module_host_core_version(&slot, &trial);
    MC_CHECK(slot == -1 && !trial, "a core on trial survived a restart (slot %d)", slot);
    /* Requested: back to the one before; then nothing to go back to. */
    mc_send_core(good, good_len);
    mc_expect_verdict("accepted");
    rig->samples(20, &gross);
    module_host_message("core/rollback", 13, NULL, 0);
    mc_expect("rollback", "accepted");
    module_host_core_version(&slot, NULL);
    MC_CHECK(slot == -1, "the rollback left slot %d in force", slot);
    module_host_message("core/rollback", 13, NULL, 0);
    mc_expect("rollback", "NO_PREVIOUS");
    rig->samples(50, &gross);
    MC_CHECK(rig->lost() == 0, "%d reading(s) lost", rig->lost());
}

void mc_core_kept(const module_rig_t *rig, const uint8_t *good, size_t good_len, uint32_t version)
{
    float gross = NAN;
    int slot = -1;
    bool trial = true;
    mc_core_install(rig, good, good_len, "accepted", version);
    rig->restart();
    const uint32_t v = module_host_core_version(&slot, &trial);
    MC_CHECK(v == version && (slot == 2 || slot == 3) && !trial, "after a restart core %06x in slot %d weighs (trial %d)", (unsigned)v, slot, trial);
    rig->samples(50, &gross);
    MC_CHECK(isfinite(gross), "the weight is not finite");
    printf("core %u.%u.%u kept across a restart (slot %c)\n", (unsigned)(v >> 16), (unsigned)(v >> 8) & 0xff, (unsigned)v & 0xff, 'a' + slot);
}
