/* The settings record in flash: see store_settings.h. */
#include "store_settings.h"

#include <string.h>

#include "scale_portable.h"

#include "store.h"

#define MAGIC 0x53505357u /* "WSPS" */

typedef struct {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t crc;
} header_t;

static uint8_t s_page[STORE_PAGE];

/* Flash offset of copy c (0 or 1): below the module slots (store_modules.c), copy 1 the lower. */
static uint32_t copy_offset(int c)
{
    const store_flash_t *f = store_flash();
    return f->size - STORE_BLOB_SECTORS * STORE_SECTOR - 2u * STORE_MODULE_SLOT_BYTES - (uint32_t)(c + 1) * STORE_SETTINGS_COPY_BYTES;
}

/* Copy c's header when the copy is whole. */
static bool whole(int c, header_t *h)
{
    const uint8_t *at = store_flash()->base + copy_offset(c);
    memcpy(h, at, sizeof *h);
    return h->magic == MAGIC && h->len > 0 && h->len <= STORE_SETTINGS_COPY_BYTES - STORE_PAGE && scale_crc32(at + STORE_PAGE, h->len) == h->crc;
}

/* The copy holding the newest whole record, or -1. */
static int newest(header_t *out)
{
    header_t h[2];
    const bool ok0 = whole(0, &h[0]), ok1 = whole(1, &h[1]);
    const int c = ok0 && ok1 ? ((int32_t)(h[1].seq - h[0].seq) > 0 ? 1 : 0) : ok0 ? 0 : ok1 ? 1 : -1;
    if (c >= 0) *out = h[c];
    return c;
}

const uint8_t *store_settings_get(size_t *len)
{
    header_t h;
    const int c = newest(&h);
    if (c < 0) return NULL;
    *len = h.len;
    return store_flash()->base + copy_offset(c) + STORE_PAGE;
}

const uint8_t *store_settings_put(const uint8_t *record, size_t len)
{
    const store_flash_t *f = store_flash();
    if (len == 0 || len > STORE_SETTINGS_COPY_BYTES - STORE_PAGE) return NULL;
    header_t last;
    const int c = newest(&last);
    const int to = c == 0 ? 1 : 0;
    const uint32_t base = copy_offset(to);
    /* The body, page by page, each sector erased as it is first reached (the header page with the first). */
    for (uint32_t at = 0; at < len; at += STORE_PAGE) {
        const uint32_t off = STORE_PAGE + at;
        const size_t n = len - at < STORE_PAGE ? len - at : STORE_PAGE;
        memset(s_page, 0xff, sizeof s_page);
        memcpy(s_page, record + at, n);
        const int32_t erase = at == 0 ? (int32_t)base : off % STORE_SECTOR == 0 ? (int32_t)(base + off) : -1;
        if (!f->write(base + off, s_page, STORE_PAGE, erase)) return NULL;
    }
    /* Then the header, which makes the copy whole. */
    const header_t h = {.magic = MAGIC, .seq = c >= 0 ? last.seq + 1 : 1, .len = (uint32_t)len, .crc = scale_crc32(record, len)};
    memset(s_page, 0xff, sizeof s_page);
    memcpy(s_page, &h, sizeof h);
    if (!f->write(base, s_page, STORE_PAGE, -1)) return NULL;
    header_t check;
    return whole(to, &check) && check.seq == h.seq ? f->base + base + STORE_PAGE : NULL;
}
