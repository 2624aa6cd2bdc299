/*
 * The heap, shared by the main loop and an interrupt. newlib calls __malloc_lock and
 * __malloc_unlock around every malloc, free and realloc; these replace its defaults (linked from
 * here, before libc's). With interrupts off for those few microseconds, the CYW43's background
 * interrupt (lwIP, mbedTLS) and the main loop (wasm3, which compiles a function on its first call
 * and loads the core again after a trap) never change the heap at once. The SDK's own lock (a
 * mutex, with pico_multicore only) could not be taken in an interrupt.
 */
#include <reent.h>

#include "hardware/sync.h"

static uint32_t s_saved;
static unsigned s_depth; /* malloc's own calls nest (realloc, and newlib's internals) */

void __malloc_lock(struct _reent *reent)
{
    (void)reent;
    const uint32_t saved = save_and_disable_interrupts();
    if (s_depth++ == 0) s_saved = saved;
}

void __malloc_unlock(struct _reent *reent)
{
    (void)reent;
    if (--s_depth == 0) restore_interrupts(s_saved);
}
