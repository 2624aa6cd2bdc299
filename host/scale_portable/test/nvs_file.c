/*
 * NVS on files, for provision_store.c on Linux: one file a key in a folder, a write staged until
 * nvs_commit, which replaces the file whole (a temporary file renamed over it, as NVS keeps the
 * old value until the new one is complete). nvs_file_cut(n) makes the next commit stop after n
 * bytes of the temporary file and end the process, as a power cut would.
 */
#include "nvs_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nvs.h"

static const char *s_dir = ".";
static long s_cut = -1;
static char s_key[16];
static uint8_t *s_pending;
static size_t s_pending_len;
static int s_pending_op; /* 0 none, 1 set, 2 erase */

void nvs_file_dir(const char *dir) { s_dir = dir; }
void nvs_file_cut(long bytes) { s_cut = bytes; }

const char *esp_err_to_name(esp_err_t code)
{
    return code == ESP_OK ? "ESP_OK" : code == ESP_ERR_NVS_NOT_FOUND ? "ESP_ERR_NVS_NOT_FOUND" : code == ESP_ERR_NO_MEM ? "ESP_ERR_NO_MEM" : "ESP_FAIL";
}

static void path(char *out, size_t cap, const char *key, const char *suffix)
{
    snprintf(out, cap, "%s/nvs.%s%s", s_dir, key, suffix);
}

esp_err_t nvs_open(const char *ns, nvs_open_mode_t mode, nvs_handle_t *out)
{
    (void)mode;
    *out = strcmp(ns, "wasm-scale") == 0 ? 1 : 0;
    return *out ? ESP_OK : ESP_ERR_NVS_NOT_FOUND;
}

esp_err_t nvs_get_blob(nvs_handle_t h, const char *key, void *out, size_t *len)
{
    (void)h;
    char p[512];
    path(p, sizeof p, key, "");
    FILE *f = fopen(p, "rb");
    if (f == NULL) return ESP_ERR_NVS_NOT_FOUND;
    fseek(f, 0, SEEK_END);
    const size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    esp_err_t err = ESP_OK;
    if (out && *len < n) err = ESP_ERR_INVALID_ARG;
    else if (out && fread(out, 1, n, f) != n) err = ESP_FAIL;
    fclose(f);
    *len = n;
    return err;
}

esp_err_t nvs_set_blob(nvs_handle_t h, const char *key, const void *value, size_t len)
{
    (void)h;
    free(s_pending);
    s_pending = malloc(len ? len : 1);
    if (s_pending == NULL) return ESP_ERR_NO_MEM;
    memcpy(s_pending, value, len);
    s_pending_len = len;
    snprintf(s_key, sizeof s_key, "%s", key);
    s_pending_op = 1;
    return ESP_OK;
}

esp_err_t nvs_erase_key(nvs_handle_t h, const char *key)
{
    (void)h;
    char p[512];
    path(p, sizeof p, key, "");
    if (access(p, F_OK) != 0) return ESP_ERR_NVS_NOT_FOUND;
    snprintf(s_key, sizeof s_key, "%s", key);
    s_pending_op = 2;
    return ESP_OK;
}

esp_err_t nvs_commit(nvs_handle_t h)
{
    (void)h;
    char p[512], tmp[520];
    path(p, sizeof p, s_key, "");
    path(tmp, sizeof tmp, s_key, ".new");
    const int op = s_pending_op;
    s_pending_op = 0;
    if (op == 2) return remove(p) == 0 ? ESP_OK : ESP_FAIL;
    if (op != 1) return ESP_OK;
    FILE *f = fopen(tmp, "wb");
    if (f == NULL) return ESP_FAIL;
    const size_t n = s_cut >= 0 && (size_t)s_cut < s_pending_len ? (size_t)s_cut : s_pending_len;
    const bool written = fwrite(s_pending, 1, n, f) == n;
    fclose(f);
    if (s_cut >= 0) {
        fprintf(stderr, "power cut after %zu of %zu bytes\n", n, s_pending_len);
        _exit(3);
    }
    return written && rename(tmp, p) == 0 ? ESP_OK : ESP_FAIL;
}

void nvs_close(nvs_handle_t h)
{
    (void)h;
}
