/*
 * oom_pictures.c - gpumem report PID --svg FILE: the history of the five
 * minutes up to an out-of-memory failure as a plot beside the report, and
 * gpumem report FILE --svg FILE: the same from the history that the report
 * file carries (its "history": the failing device's last buckets). (The
 * text report's sparkline of the last minute comes from the segment's own
 * parse, common/segment_read.c, so the shim's report has it too.)
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pictures.h"
#include "view.h"

#define SECOND 1000000000ull

/* Keep the points and marks of s within [from, to). */
static void trim(struct gpumem_series *s, uint64_t from, uint64_t to)
{
    size_t m = 0;
    for (size_t k = 0; k < s->npoints; k++) {
        const struct gpumem_point *p = &s->points[k];
        if (p->unix_ns + p->width_ns > from && p->unix_ns < to) s->points[m++] = *p;
    }
    s->npoints = m;
    m = 0;
    for (size_t k = 0; k < s->nmarks; k++)
        if (s->marks[k].unix_ns >= from && s->marks[k].unix_ns < to) s->marks[m++] = s->marks[k];
    s->nmarks = m;
}

int gpumem__oom_plot(const char *dir, const char *prefix, int pid, const struct gpumem_oom *o, const char *svg)
{
    struct gpumem_series *s = NULL;
    char why[256];
    int n = gpumem__history_load(dir, prefix, pid, NULL, -1, 0, &s, why, sizeof why);
    if (n < 0) {
        fprintf(stderr, "gpumem: no plot: %s\n", why);
        return GPUMEM_EXIT_SKIPPED;
    }
    /* Up to the end of the failure's second, and a few seconds after it. */
    uint64_t end = o->unix_ns / SECOND * SECOND + SECOND;
    for (int i = 0; i < n; i++) trim(&s[i], end > GPUMEM_OOM_PLOT_NS ? end - GPUMEM_OOM_PLOT_NS : 0, end + 10 * SECOND);
    FILE *f = gpumem__picture_open(svg);
    int rc = f ? gpumem__picture_close(f, svg, gpumem__plot_svg(f, s, (size_t)n)) : GPUMEM_EXIT_SKIPPED;
    gpumem__history_free(s, (size_t)n);
    return rc;
}

/* The unsigned number of "key" at or after p (and before end, if not
 * NULL), as gpumem's emitter writes it: 1 if found. */
static int number_after(const char *p, const char *end, const char *key, uint64_t *v)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *at = strstr(p, k);
    if (!at || (end && at >= end)) return 0;
    char *stop;
    unsigned long long x = strtoull(at + strlen(k), &stop, 10);
    if (stop == at + strlen(k)) return 0;
    *v = x;
    return 1;
}

int gpumem__oom_plot_report(const char *text, const char *svg)
{
    const char *h = strstr(text, "\n \"history\": {");
    if (!strstr(text, "\"kind\": \"gpumem-oom-report\"") || !h) {
        fprintf(stderr, "gpumem: no plot: the report holds no history (a shim without history, or none before the "
                        "failure)\n");
        return GPUMEM_EXIT_SKIPPED;
    }
    const char *events = strstr(h, "\n \"events\": [");
    uint64_t pid = 0, when = 0, device = 0, total = 0, reserved = 0;
    number_after(text, h, "pid", &pid);
    number_after(text, h, "time_unix_ns", &when);
    number_after(h, events, "device_id", &device);
    char key[48];
    snprintf(key, sizeof key, "{\"device_id\": %llu, ", (unsigned long long)device);
    const char *devices = strstr(text, "\n \"devices\": ["), *d = devices ? strstr(devices, key) : NULL;
    if (d && d < h) {
        number_after(d, h, "total_bytes", &total);
        number_after(d, h, "reserved_bytes", &reserved);
    }
    struct gpumem_series s;
    memset(&s, 0, sizeof s);
    s.pid = (int)pid;
    s.device = (int)device;
    s.total_bytes = total;
    snprintf(s.label, sizeof s.label, "pid %llu (report) cuda:%llu", (unsigned long long)pid,
             (unsigned long long)device);
    size_t cap = 0;
    for (const char *p = h; (p = strstr(p + 1, "{\"time_unix_ns\": ")) && (!events || p < events);) cap++;
    s.points = calloc(cap ? cap : 1, sizeof *s.points);
    s.marks = calloc(1, sizeof *s.marks);
    int rc = GPUMEM_EXIT_SKIPPED;
    if (s.points && s.marks) {
        for (const char *p = h; s.npoints < cap && (p = strstr(p + 1, "{\"time_unix_ns\": "));) {
            struct gpumem_point *pt = &s.points[s.npoints];
            const char *next = strchr(p, '}');
            if (!next || !number_after(p, next, "time_unix_ns", &pt->unix_ns) ||
                !number_after(p, next, "high_bytes", &pt->high_bytes) ||
                !number_after(p, next, "last_bytes", &pt->last_bytes))
                break;
            pt->low_bytes = pt->last_bytes;
            s.npoints++;
        }
        /* Each point lasts until the next; the last until the failure. */
        for (size_t i = 0; i < s.npoints; i++) {
            uint64_t to = i + 1 < s.npoints ? s.points[i + 1].unix_ns : when;
            s.points[i].width_ns = to > s.points[i].unix_ns ? to - s.points[i].unix_ns : 0;
        }
        s.marks[s.nmarks++] = (struct gpumem_mark){ .unix_ns = when,
                                                    .reserved_bytes = reserved,
                                                    .kind = GPUMEM_MARK_OOM };
        FILE *f = gpumem__picture_open(svg);
        rc = f ? gpumem__picture_close(f, svg, gpumem__plot_svg(f, &s, 1)) : GPUMEM_EXIT_SKIPPED;
    }
    free(s.points);
    free(s.marks);
    return rc;
}
