/*
 * view.h - the segments of one directory and prefix, loaded and checked
 * (snapshot.h), as one view for every command of the reader.
 */
#ifndef GPUMEM_VIEW_H
#define GPUMEM_VIEW_H

#include "render.h"

/* The reader's exit status, the same for every command. */
enum {
    GPUMEM_EXIT_OK = 0,        /* success                                          */
    GPUMEM_EXIT_SKIPPED = 1,   /* a segment is damaged or cannot be trusted        */
    GPUMEM_EXIT_USAGE = 2,     /* usage error                                      */
    GPUMEM_EXIT_NOT_FOUND = 3, /* a PID asked for has no segment this user may read */
};

/* The segment directory, opened once: what is listed is what is read and
 * what gc removes from. A directory that does not exist holds nothing (-1,
 * rc untouched); another failure says why on stderr and sets *rc to 1. */
int gpumem__view_open_dir(const char *dir, int *rc);

/* Load every segment of prefix in dir (or only those of the npids pids).
 * Returns an exit status: 1 only for a segment that is damaged or cannot be
 * trusted, 3 for a pid asked for that has none this user may read. */
int gpumem__view_load(const char *dir, const char *prefix, const int *pids, int npids, struct gpumem_view *v);

/* What was passed over without a line each: said once, on stderr. */
void gpumem__view_print_counts(const struct gpumem_view *v);

void gpumem__view_free(struct gpumem_view *v);

#endif /* GPUMEM_VIEW_H */
