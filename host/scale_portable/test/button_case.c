#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "button_case.h"
#include "scale_portable.h"

static int s_failures;
#define EXPECT(cond, ...)                                                        \
    do {                                                                         \
        if (!(cond)) {                                                           \
            s_failures++;                                                        \
            fprintf(stderr, "%s:%d: failed: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

/* Samples at 10 SPS from *t for ms, the ring fed after each as the firmwares' loops do. */
static int32_t run(const button_case_host_t *h, scale_button_t *b, int32_t *t, int32_t ms)
{
    int32_t bits = 0;
    for (int32_t end = *t + ms; *t < end;) {
        *t += 100;
        EXPECT(h->sample(*t), "sample at %d ms trapped", (int)*t);
        bits |= scale_button_feed(b, 0, *t, false, h->button, NULL);
    }
    return bits;
}

/* A press at t_ms held for held_ms, each end with `bounces` extra edges 1 ms apart (microseconds). */
static void press(scale_button_t *b, int32_t t_ms, int32_t held_ms, int bounces)
{
    for (int end = 0; end < 2; end++) {
        bool down = end == 0;
        const int64_t at = (int64_t)(t_ms + (end ? held_ms : 0)) * 1000;
        scale_button_edge(b, down, at);
        for (int k = 1; k <= 2 * bounces; k++) scale_button_edge(b, down = !down, at + k * 1000);
    }
}

int button_case_run(const button_case_host_t *h)
{
    s_failures = 0;
    scale_button_t b;
    scale_button_init(&b);
    char out[2048];
    int32_t t = 0;
    /* Calibrated: the empty scale, then 10 kg as 200,000 counts more. */
    h->set_code(100000);
    run(h, &b, &t, 2500);
    h->command("{\"cmd\":\"cal_point\",\"kg\":0}");
    h->set_code(300000);
    run(h, &b, &t, 2500);
    h->command("{\"cmd\":\"calibrate\",\"kg\":10}");
    h->results(out, sizeof out);
    EXPECT(strstr(out, "\"cmd\":\"calibrate\",\"status\":\"accepted\"") != NULL, "not calibrated: %s", out);
    run(h, &b, &t, 2000);
    press(&b, t + 50, 300, 3);
    const int32_t bits = run(h, &b, &t, 1500);
    EXPECT(h->results(out, sizeof out) == 1, "one press, %s", out);
    EXPECT(strstr(out, "{\"cmd\":\"tare\",\"source\":\"button\",\"status\":\"accepted\"}") != NULL, "%s", out);
    EXPECT((bits & 1) != 0, "the LED was not told (bits %d)", (int)bits);
    press(&b, t + 50, 10, 0);
    run(h, &b, &t, 1000);
    EXPECT(h->results(out, sizeof out) == 0, "a glitch did %s", out);
    press(&b, t + 50, 200, 1);
    run(h, &b, &t, 1000);
    h->set_code(100000);
    run(h, &b, &t, 2500);
    press(&b, t + 50, 3000, 2);
    run(h, &b, &t, 3500);
    EXPECT(h->results(out, sizeof out) == 2, "%s", out);
    EXPECT(strstr(out, "\"cmd\":\"clear_tare\",\"source\":\"button\",\"status\":\"accepted\"") != NULL, "%s", out);
    EXPECT(strstr(out, "\"cmd\":\"zero\",\"source\":\"button\",\"status\":\"accepted\"") != NULL, "%s", out);
    if (s_failures == 0) printf("button: a bouncing press tared once, a glitch did nothing, a short press cleared the tare, a long one set zero\n");
    return s_failures;
}
