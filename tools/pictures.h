/*
 * pictures.h - what the pictures of history.h share: the name of a series'
 * process without its device, and the series' values over the last stretch
 * of time as the cells of a sparkline.
 */
#ifndef GPUMEM_PICTURES_H
#define GPUMEM_PICTURES_H

#include <stddef.h>
#include <stdint.h>

#include "history.h"

/* "pid 1234 train_sim cuda:0" -> "pid 1234 train_sim". */
void gpumem__source_label(char *buf, size_t size, const struct gpumem_series *s);

/* The highest bytes in each of ncells equal slices of [end_ns - span_ns,
 * end_ns) from the buckets of s; a slice no bucket starts in carries the
 * value before it (0 before the first). */
void gpumem__series_cells(const struct gpumem_series *s, uint64_t end_ns, uint64_t span_ns, uint64_t *cells,
                          size_t ncells);

/* ---- the commands plot and trace (cmd_plot.c) ------------------------------ */

#define GPUMEM_PICTURE_SOURCES 64

struct gpumem_picture_args {
    const char *prefix, *dir, *out;
    int device;        /* -1: every device */
    uint64_t since_ns; /* 0: all the history there is */
    size_t nsources;
    struct {
        int pid;           /* a PID's segment, or */
        const char *file;  /* a saved segment file */
        const char *label; /* --label after it: the legend's name for it */
        size_t nseries;    /* what it gave (gpumem__picture_load) */
    } sources[GPUMEM_PICTURE_SOURCES];
};

/* argv[0] the command; PID|FILE... -o FILE [--since D] [--device cuda:N]
 * [--prefix NAME]; --label TEXT names the PID or FILE before it. An exit status (view.h); usage is printed on error. */
int gpumem__picture_args(int argc, char **argv, struct gpumem_picture_args *a, const char *usage);
/* The series of every source, in order (with none given and all set:
 * every segment of the prefix, those keeping no history passed over).
 * *out is freed with gpumem__history_free(*out, *nout). An exit status. */
int gpumem__picture_load(struct gpumem_picture_args *a, int all, struct gpumem_series **out, size_t *nout);
/* The output file ("-": standard output), and its close, which reports a
 * failed rendering (rendered != 0) or write: an exit status. */
FILE *gpumem__picture_open(const char *path);
int gpumem__picture_close(FILE *f, const char *path, int rendered);

/* ---- gpumem report PID (oom_pictures.c) --------------------------------------- */

#define GPUMEM_OOM_PLOT_NS (5 * 60 * 1000000000ull) /* the plot beside a report: 5 minutes */

struct gpumem_oom;
/* From pid's history, a plot of the five minutes up to the failure o into
 * the file svg. An exit status (view.h). */
int gpumem__oom_plot(const char *dir, const char *prefix, int pid, const struct gpumem_oom *o, const char *svg);
/* The same from a report file's text (its "history" and the failure). */
int gpumem__oom_plot_report(const char *text, const char *svg);

#endif /* GPUMEM_PICTURES_H */
