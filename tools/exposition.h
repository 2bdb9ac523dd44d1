/*
 * exposition.h - every live process's GPU memory as the Prometheus text
 * exposition format (0.0.4), written by common/emit.c: what `gpumem serve`
 * answers on /metrics and what `gpumem export --textfile` writes. The
 * families and labels are listed in the README ("Fleet"); they are stable.
 */
#ifndef GPUMEM_EXPOSITION_H
#define GPUMEM_EXPOSITION_H

#include <stdio.h>

#define GPUMEM_EXPOSITION_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct gpumem_exposition_options {
    const char *dir, *prefix; /* the segments: GPUMEM_SHM_DIR and GPUMEM_SHM_PREFIX */
    int pid_label;            /* 0: no pid label, series that would collide are summed */
};

/* The options every command of the fleet shares (--prefix, --no-pid-label),
 * from the environment's defaults. */
void gpumem__exposition_defaults(struct gpumem_exposition_options *o);
/* Consumes argv[*i] (and its value) when it is one of those options: 1 if
 * consumed, 0 if not one of them, -1 on a bad value (said on stderr). */
int gpumem__exposition_option(struct gpumem_exposition_options *o, int argc, char **argv, int *i);

/* One fresh snapshot of the segments, written to f. 0, or -1 when a write
 * failed. Damaged segments are counted in gpumem_segments_skipped, not
 * printed. */
int gpumem__exposition_write(FILE *f, const struct gpumem_exposition_options *o);

#endif /* GPUMEM_EXPOSITION_H */
