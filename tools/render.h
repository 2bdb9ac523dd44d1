/*
 * render.h - one model of what the reader shows, and its renderings: the
 * JSON contract, the ls and show tables, and the frame of top.
 */
#ifndef GPUMEM_RENDER_H
#define GPUMEM_RENDER_H

#include <stdio.h>

#include "report.h"
#include "snapshot.h"

struct gpumem_series; /* history.h */

#define GPUMEM_JSON_SCHEMA 1

struct gpumem_skip {
    char path[256];
    char why[192];
};

struct gpumem_view {
    struct gpumem_process *procs;
    size_t nprocs;
    struct gpumem_skip *skips;
    size_t nskips;
    size_t unreadable;            /* other users' segments this user may not read  */
    size_t unfinished;            /* never stamped, their process gone (gc removes) */
    size_t containers_unreadable; /* other mount namespaces whose /dev/shm was denied */
    /* The last minute of the live processes' devices, for top's sparklines
     * (history.h; NULL: none). Whoever fills it frees it. */
    struct gpumem_series *history;
    size_t nhistory;
};

#define GPUMEM_MAX_GPU_PIDS 64
struct gpumem_gpu {
    char uuid[48], name[128];
    uint64_t total_bytes, reserved_bytes; /* reserved sums the processes, saturating */
    unsigned level;
    int npids;
    int pids[GPUMEM_MAX_GPU_PIDS];
};

/* The pid to show and to act on: the writer's host pid when known, else the
 * pid in its segment (the same one unless it runs in another pid namespace). */
static inline int gpumem__shown_pid(const struct gpumem_process *p) { return p->host_pid ? p->host_pid : p->pid; }

/* GPUs by UUID, summing live processes. */
size_t gpumem__gpus(const struct gpumem_view *v, struct gpumem_gpu *out, size_t max);

void gpumem__emit_json(FILE *f, const struct gpumem_view *v);
void gpumem__emit_ls(FILE *f, const struct gpumem_view *v);
void gpumem__emit_show(FILE *f, const struct gpumem_view *v);

/* One line of a top frame and the level that colours it. */
struct gpumem_line {
    char text[512];
    unsigned level; /* enum gpumem_level */
    int heading;
};
#define GPUMEM_TOP_BAR_CELLS 20   /* a GPU's bar in top: a cell per 5 %             */
#define GPUMEM_TOP_SPARK_CELLS 20 /* a process's last minute in top: 3 s a cell     */
#define GPUMEM_TOP_SPARK_NS 60000000000ull
#define GPUMEM_TOP_CELL_COLUMNS 32 /* the device cell, padded before a sparkline    */
size_t gpumem__top_frame(const struct gpumem_view *v, struct gpumem_line *lines, size_t max);

/* The state word of a process (level words and sizes: format.h). */
const char *gpumem__liveness_name(enum gpumem_liveness l);

#endif /* GPUMEM_RENDER_H */
