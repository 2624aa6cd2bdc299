/* The store's flash on the RP2040: the QSPI flash, mapped at XIP_BASE, written with the other core
 * and interrupts kept out of it (pico_flash). */
#include "store_pico.h"

#include "hardware/flash.h"
#include "pico/flash.h"

/* Longest a write may wait for the flash to be free (ms). */
#define WRITE_TIMEOUT_MS 500

typedef struct {
    uint32_t offset;
    const uint8_t *data;
    size_t n;
    int32_t erase;
} job_t;

static void run(void *arg)
{
    const job_t *j = arg;
    if (j->erase >= 0) flash_range_erase((uint32_t)j->erase, FLASH_SECTOR_SIZE);
    flash_range_program(j->offset, j->data, j->n);
}

/* Between samples, so an erase (about 50 ms, once in 16 writes) delays a conversion, never a
 * read in progress (the PIO and DMA would finish it anyway). */
static bool write_flash(uint32_t offset, const uint8_t *data, size_t n, int32_t erase)
{
    job_t j = {offset, data, n, erase};
    return flash_safe_execute(run, &j, WRITE_TIMEOUT_MS) == PICO_OK;
}

static const store_flash_t FLASH = {
    .base = (const uint8_t *)XIP_BASE,
    .size = PICO_FLASH_SIZE_BYTES,
    .write = write_flash,
};

void store_pico_init(void)
{
    _Static_assert(FLASH_SECTOR_SIZE == STORE_SECTOR, "the store's sector is the flash's");
    store_init(&FLASH);
}
