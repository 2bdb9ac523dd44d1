/*
 * plot_synth - draws a synthetic history with the real renderers, for the
 * checks of check_pictures.py (XML, rsvg-convert's pixels, strict JSON) and
 * for the benchmark:
 *
 *   plot_synth svg|trace shape|runs|eight OUT [REPEAT]
 *
 * shape: one device of 16 GiB for an hour: 1 GiB in the first half with one
 *        bucket whose highest is 15 GiB (a spike that ended within its
 *        second), 14 GiB in the second half; a level change and an OOM;
 *        a label full of XML's and JSON's special characters.
 * runs:  three runs at different times (pids 101..103), two devices each,
 *        peaks 4, 8 and 12 GiB: drawn from their own starts.
 * eight: eight devices of 80 GiB for an hour, a random walk on each.
 * REPEAT renders that many times and prints the mean time per rendering.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>

#include "synth.h"

static size_t shape(struct gpumem_series *s)
{
    synth_series(s, 4242, 0, "pid 4242 train<b>&\"'q cuda:0", 16 * SYNTH_GB, SYNTH_T0, 3600);
    for (size_t i = 0; i < 3600; i++) {
        uint64_t v = i < 1800 ? SYNTH_GB : 14 * SYNTH_GB;
        synth_set(s, i, i == 900 ? 15 * SYNTH_GB : v, v);
    }
    synth_mark(s, GPUMEM_MARK_LEVEL, SYNTH_T0 + 1800 * SYNTH_SEC, 14 * SYNTH_GB, 0, 1);
    synth_mark(s, GPUMEM_MARK_OOM, SYNTH_T0 + 3000 * SYNTH_SEC, 14 * SYNTH_GB, 0, 0);
    /* Events for the trace: an allocation, a free, a failed allocation. */
    s->events = calloc(3, sizeof *s->events);
    s->nevents = 3;
    s->events[0] = (struct gpumem_event){ .unix_ns = SYNTH_T0 + 1800 * SYNTH_SEC,
                                          .bytes = 13 * SYNTH_GB,
                                          .address = 0x700000000000,
                                          .device = 0,
                                          .api = 5,
                                          .op = 1 };
    s->events[1] = (struct gpumem_event){ .unix_ns = SYNTH_T0 + 1900 * SYNTH_SEC,
                                          .bytes = SYNTH_GB,
                                          .address = 0x710000000000,
                                          .device = 0,
                                          .api = 5,
                                          .op = 2 };
    s->events[2] = (struct gpumem_event){ .unix_ns = SYNTH_T0 + 3000 * SYNTH_SEC,
                                          .bytes = 4 * SYNTH_GB,
                                          .device = 0,
                                          .api = 5,
                                          .op = 1,
                                          .result = 2 };
    return 1;
}

static size_t runs(struct gpumem_series *s)
{
    size_t n = 0;
    for (int r = 0; r < 3; r++)
        for (int d = 0; d < 2; d++) {
            char label[64];
            snprintf(label, sizeof label, "pid %d train_sim --batch %d cuda:%d", 101 + r, 16 << r, d);
            synth_series(&s[n], 101 + r, d, label, 16 * SYNTH_GB, SYNTH_T0 + (uint64_t)r * 600 * SYNTH_SEC, 60);
            for (size_t i = 0; i < 60; i++) {
                uint64_t v = (uint64_t)(r + 1) * 4 * SYNTH_GB * (i < 30 ? i : 30) / 30 / (d + 1);
                synth_set(&s[n], i, v, v);
            }
            n++;
        }
    return n;
}

static size_t eight(struct gpumem_series *s)
{
    uint64_t x = 88172645463325252ull;
    for (int d = 0; d < 8; d++) {
        char label[64];
        snprintf(label, sizeof label, "pid 777 bench cuda:%d", d);
        synth_series(&s[d], 777, d, label, 80 * SYNTH_GB, SYNTH_T0, 3600);
        uint64_t v = 40 * SYNTH_GB;
        for (size_t i = 0; i < 3600; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = v + (x % (2 * SYNTH_GB)) - SYNTH_GB;
            if (v > 79 * SYNTH_GB) v = 79 * SYNTH_GB;
            synth_set(&s[d], i, v + (x >> 40) % SYNTH_GB, v);
        }
    }
    return 8;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: plot_synth svg|trace shape|runs|eight OUT [REPEAT]\n");
        return 2;
    }
    struct gpumem_series s[8];
    size_t n = strcmp(argv[2], "shape") == 0 ? shape(s) : strcmp(argv[2], "runs") == 0 ? runs(s) : eight(s);
    int svg = strcmp(argv[1], "svg") == 0, repeat = argc > 4 ? atoi(argv[4]) : 1;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = 0;
    for (int k = 0; k < repeat && rc == 0; k++) {
        FILE *f = fopen(argv[3], "w");
        if (!f) return 1;
        rc = svg ? gpumem__plot_svg(f, s, n) : gpumem__trace_json(f, s, n);
        if (fclose(f) != 0) rc = -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (argc > 4)
        printf("%s %s: %.2f ms per rendering (%d renderings)\n", argv[1], argv[2],
               ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) / repeat, repeat);
    synth_free(s, n);
    return rc == 0 ? 0 : 1;
}
