/* Lines from interrupt context, printed later by the main loop (net.h). */
#include <stdarg.h>
#include <stdio.h>

#include "hardware/sync.h"
#include "net.h"

#define LINES 8
#define WIDTH 120

static char s_lines[LINES][WIDTH];
static volatile unsigned s_head, s_count, s_dropped;

void net_log(const char *fmt, ...)
{
    char line[WIDTH];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    const uint32_t saved = save_and_disable_interrupts();
    if (s_count == LINES) {
        s_dropped++;
    } else {
        char *to = s_lines[(s_head + s_count) % LINES];
        for (unsigned i = 0; i < WIDTH; i++) {
            to[i] = line[i];
            if (line[i] == '\0') break;
        }
        s_count++;
    }
    restore_interrupts(saved);
}

void net_log_flush(void)
{
    for (;;) {
        char line[WIDTH];
        const uint32_t saved = save_and_disable_interrupts();
        const bool any = s_count > 0;
        if (any) {
            for (unsigned i = 0; i < WIDTH; i++) {
                line[i] = s_lines[s_head][i];
                if (line[i] == '\0') break;
            }
            s_head = (s_head + 1) % LINES;
            s_count--;
        }
        const unsigned dropped = s_dropped;
        s_dropped = 0;
        restore_interrupts(saved);
        if (dropped) printf("wasm-scale: %u network messages not shown\n", dropped);
        if (!any) return;
        printf("%s\n", line);
    }
}
