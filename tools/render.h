/*
 * render.h - one model of what the reader shows, and its renderings: the
 * JSON contract, the ls and show tables, and the frame of top.
 */
#ifndef GPUMEM_RENDER_H
#define GPUMEM_RENDER_H

#include <stdio.h>

#include "report.h"
#include "snapshot.h"

#define GM_JSON_SCHEMA 1

struct gm_skip {
    char path[256];
    char why[192];
};

struct gm_view {
    struct gm_process *procs;
    size_t nprocs;
    struct gm_skip *skips;
    size_t nskips;
    size_t unreadable; /* other users' segments this user may not read  */
    size_t unfinished; /* never stamped, their process gone (gc removes) */
};

#define GM_MAX_GPU_PIDS 64
struct gm_gpu {
    char uuid[48], name[128];
    uint64_t total_bytes, reserved_bytes; /* reserved sums the processes, saturating */
    unsigned level;
    int npids;
    int pids[GM_MAX_GPU_PIDS];
};

/* GPUs by UUID, summing live processes. */
size_t gm_gpus(const struct gm_view *v, struct gm_gpu *out, size_t max);

void gm_emit_json(FILE *f, const struct gm_view *v);
void gm_emit_ls(FILE *f, const struct gm_view *v);
void gm_emit_show(FILE *f, const struct gm_view *v);

/* One line of a top frame and the level that colours it. */
struct gm_line {
    char text[512];
    unsigned level; /* enum gpumem_level */
    int heading;
};
size_t gm_top_frame(const struct gm_view *v, struct gm_line *lines, size_t max);

/* The state word of a process (level words and sizes: format.h). */
const char *gm_liveness_name(enum gm_liveness l);

#endif /* GPUMEM_RENDER_H */
