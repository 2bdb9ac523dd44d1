/*
 * oom_pictures.c - gpumem report PID --svg FILE: the history of the five
 * minutes up to an out-of-memory failure as a plot beside the report. (The
 * text report's sparkline of the last minute comes from the segment's own
 * parse, common/segment_read.c, so the shim's report has it too.)
 */
#define _GNU_SOURCE
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
