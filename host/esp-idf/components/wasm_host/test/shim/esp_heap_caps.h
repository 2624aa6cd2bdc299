/* heap_caps_malloc as plain malloc: the host has one kind of RAM. */
#pragma once
#include <stdlib.h>
#define MALLOC_CAP_8BIT (1 << 2)
#define MALLOC_CAP_INTERNAL (1 << 11)
static inline void *heap_caps_malloc(size_t size, unsigned caps) { (void)caps; return malloc(size); }
