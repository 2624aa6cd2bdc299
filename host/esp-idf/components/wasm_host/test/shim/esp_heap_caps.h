/* heap_caps_malloc as plain malloc: the host has one kind of RAM. */
#pragma once
#include <malloc.h>
#include <stdlib.h>
#define MALLOC_CAP_8BIT (1 << 2)
#define MALLOC_CAP_INTERNAL (1 << 11)
static inline void *heap_caps_malloc(size_t size, unsigned caps) { (void)caps; return malloc(size); }
/* The free heap as the allocator's use changes: only differences between two calls mean anything. */
static inline size_t heap_caps_get_free_size(unsigned caps) { (void)caps; return ((size_t)1 << 30) - mallinfo2().uordblks; }
/* The least free since start: not kept on the host (the same as now). */
static inline size_t heap_caps_get_minimum_free_size(unsigned caps) { return heap_caps_get_free_size(caps); }
