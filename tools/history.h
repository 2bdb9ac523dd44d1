/*
 * history.h - a process's memory over time, as the reader draws it: one
 * series of buckets per device (from the segment's history rings), the
 * marks of level changes and out-of-memory failures, and the pictures made
 * of them (an SVG plot, a Chrome Trace Event file, sparklines).
 *
 * The loader (gpumem__history_load) reads the rings through the one
 * validator of the segment (common/segment_read.c); the renderers only see
 * these structs.
 */
#ifndef GPUMEM_HISTORY_H
#define GPUMEM_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One bucket: what a device's reserved bytes did during [unix_ns, unix_ns + width_ns). */
struct gpumem_point {
    uint64_t unix_ns, width_ns;
    uint64_t high_bytes, low_bytes, last_bytes, managed_bytes;
    uint64_t allocs, failures;
};

enum gpumem_mark_kind { GPUMEM_MARK_LEVEL = 1, GPUMEM_MARK_OOM = 2 };

struct gpumem_mark {
    uint64_t unix_ns, reserved_bytes;
    enum gpumem_mark_kind kind;
    unsigned level, previous; /* enum gpumem_level, for GPUMEM_MARK_LEVEL */
};

struct gpumem_event; /* segment_read.h */

/* One device of one process (or of one saved segment file), oldest first. */
struct gpumem_series {
    char label[192]; /* e.g. "pid 1234 train_sim cuda:0" */
    int pid, device;
    char uuid[48], name[128];
    uint64_t total_bytes;
    size_t npoints, nmarks;
    struct gpumem_point *points; /* malloc'd */
    struct gpumem_mark *marks;   /* malloc'd */
    /* The event ring's allocations and frees on this device, oldest first:
     * filled by gpumem trace (gpumem__history_events), which frees them;
     * NULL elsewhere. */
    size_t nevents;
    struct gpumem_event *events;
    /* Which of the command's sources it came from (1, 2...; 0: unknown):
     * the plot gives each source its colour, so two saved runs with the
     * same pid stay apart. */
    int source;
};

/* The series of one process: source is a PID's segment (dir, prefix) or a
 * segment file (a copy, or one kept with GPUMEM_KEEP=1). since_ns 0: all the
 * history there is; otherwise only buckets newer than now - since_ns.
 * device -1: every device. Returns the number of series put in *out
 * (malloc'd; gpumem__history_free), or -1 with why. */
int gpumem__history_load(const char *dir, const char *prefix, int pid, const char *file, int device, uint64_t since_ns,
                         struct gpumem_series **out, char *why, size_t why_len);
void gpumem__history_free(struct gpumem_series *s, size_t n);

/* One self-contained SVG (no script, no external file or font): per device,
 * the series overlaid (high per bucket), the device total, the 80 % and
 * 90 % lines, marks, axes in GB and time, a legend. 0 or -1. */
int gpumem__plot_svg(FILE *f, const struct gpumem_series *s, size_t n);

/* A Chrome Trace Event Format file (Perfetto, chrome://tracing): per
 * process its name, per device a counter track of the highest reserved
 * bytes of each bucket (a point only where it changes), the events as
 * instant events on a track per device, level changes and out-of-memory
 * failures as process-wide instant events. ts in microseconds. 0 or -1. */
int gpumem__trace_json(FILE *f, const struct gpumem_series *s, size_t n);

#endif /* GPUMEM_HISTORY_H */
