/* ESP-IDF's newlib has strlcpy; glibc before 2.38 does not. */
#pragma once
#include <stddef.h>
size_t strlcpy(char *dst, const char *src, size_t size);
