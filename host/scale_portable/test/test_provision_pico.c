/* The Pico W firmware's provisioning (provision.c, its settings in flash by store_settings.c) over a
 * pseudo-terminal: host/scale_portable/test/prov_serve.h. argv[1]: a file standing for the flash
 * (made on first use), mapped and written with NOR's rules: an erase sets 0xFF, a program clears bits. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "prov_serve.h"
#include "scale_provision.h"
#include "store.h"
#include "store_settings.h"

#define FLASH_BYTES (512u * 1024u)
static uint8_t *s_flash;
static long s_cut = -1;

static bool nor_write(uint32_t offset, const uint8_t *data, size_t n, int32_t erase)
{
    if (erase >= 0) memset(s_flash + erase, 0xff, STORE_SECTOR);
    size_t upto = n;
    if (s_cut >= 0 && (size_t)s_cut < n) upto = (size_t)s_cut;
    for (size_t i = 0; i < upto; i++) s_flash[offset + i] &= data[i];
    if (s_cut >= 0) {
        if ((size_t)s_cut <= n) {
            msync(s_flash, FLASH_BYTES, MS_SYNC);
            fprintf(stderr, "power cut in a flash write\n");
            _exit(3);
        }
        s_cut -= (long)n;
    }
    return true;
}

static const uint8_t *load(size_t *len)
{
    return store_settings_get(len);
}

static const uint8_t *save(const uint8_t *record, size_t len)
{
    const uint8_t *at = store_settings_put(record, len);
    msync(s_flash, FLASH_BYTES, MS_SYNC);
    return at;
}

static void cut(long bytes)
{
    s_cut = bytes;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <flash file> [--network SSID=PASSWORD]... [--cut BYTES] [--device-id ID]\n", argv[0]);
        return 2;
    }
    const int fd = open(argv[1], O_RDWR | O_CREAT, 0600);
    if (fd < 0 || ftruncate(fd, FLASH_BYTES) != 0) {
        perror(argv[1]);
        return 1;
    }
    s_flash = mmap(NULL, FLASH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (s_flash == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    static store_flash_t flash;
    flash = (store_flash_t){.base = s_flash, .size = FLASH_BYTES, .write = nor_write};
    store_init(&flash);
    const prov_serve_store_t store = {.chip = "rp2040", .load = load, .save = save, .erase = NULL, .cut = cut};
    return prov_serve(argc - 1, argv + 1, &store);
}
