/*
 * synth.h - synthetic histories for the pictures' tests: series built in
 * memory, as gpumem__history_load would return them, with known shapes.
 */
#ifndef GPUMEM_TEST_SYNTH_H
#define GPUMEM_TEST_SYNTH_H

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "segment_read.h"

#define SYNTH_GB (UINT64_C(1) << 30)
#define SYNTH_T0 UINT64_C(1795723200000000000) /* 2026-11-26 20:00:00 UTC */
#define SYNTH_SEC UINT64_C(1000000000)

/* n one-second buckets from t0, each at value(i), last = low = value(i). */
static inline void synth_series(struct gpumem_series *s, int pid, int device, const char *label, uint64_t total,
                                uint64_t t0, size_t n)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    s->device = device;
    s->total_bytes = total;
    strncpy(s->label, label, sizeof s->label - 1);
    strncpy(s->name, "synthetic GPU", sizeof s->name - 1);
    strncpy(s->uuid, "GPU-00000000-0000-0000-0000-000000000000", sizeof s->uuid - 1);
    s->npoints = n;
    s->points = calloc(n ? n : 1, sizeof *s->points);
    for (size_t i = 0; i < n; i++) {
        s->points[i].unix_ns = t0 + i * SYNTH_SEC;
        s->points[i].width_ns = SYNTH_SEC;
    }
}

static inline void synth_set(struct gpumem_series *s, size_t i, uint64_t high, uint64_t last)
{
    s->points[i].high_bytes = high;
    s->points[i].last_bytes = last;
    s->points[i].low_bytes = last < high ? last : high;
}

static inline void synth_mark(struct gpumem_series *s, enum gpumem_mark_kind kind, uint64_t t, uint64_t bytes,
                              unsigned previous, unsigned level)
{
    s->marks = realloc(s->marks, (s->nmarks + 1) * sizeof *s->marks);
    s->marks[s->nmarks++] = (struct gpumem_mark){ .unix_ns = t,
                                                  .reserved_bytes = bytes,
                                                  .kind = kind,
                                                  .level = level,
                                                  .previous = previous };
}

static inline void synth_free(struct gpumem_series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].points);
        free(s[i].marks);
        free(s[i].events);
    }
}

#endif /* GPUMEM_TEST_SYNTH_H */
