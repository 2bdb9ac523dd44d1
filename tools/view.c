/*
 * view.c - every segment of a directory and prefix loaded into one view:
 * what ls, show, top and every later command read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "view.h"

/* The segment directory, opened once: what is listed is what is read and
 * what gc removes from. A directory that does not exist holds nothing. */
int gpumem__view_open_dir(const char *dir, int *rc)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        fprintf(stderr, "gpumem: cannot read %s: %s\n", dir, strerror(errno));
        *rc = GPUMEM_EXIT_SKIPPED;
    }
    return fd;
}

static void add_skip(struct gpumem_view *v, const char *dir, const char *name, const char *why)
{
    snprintf(v->skips[v->nskips].path, sizeof v->skips[v->nskips].path, "%s/%s", dir, name);
    snprintf(v->skips[v->nskips].why, sizeof v->skips[v->nskips].why, "%s", why);
    v->nskips++;
}

/* Load every segment of the prefix (or of the PIDs asked for). Exit status
 * 1 only for a segment that is damaged or cannot be trusted: other users'
 * unreadable segments and unfinished ones of ended processes are counted. */
int gpumem__view_load(const char *dir, const char *prefix, const int *pids, int npids, struct gpumem_view *v)
{
    memset(v, 0, sizeof *v);
    int rc = GPUMEM_EXIT_OK;
    int dirfd = gpumem__view_open_dir(dir, &rc);
    char **names = NULL;
    size_t n = dirfd >= 0 ? gpumem__snapshot_list(dirfd, prefix, &names) : 0;
    v->procs = calloc(n ? n : 1, sizeof *v->procs);
    v->skips = calloc(n ? n : 1, sizeof *v->skips);
    if (!v->procs || !v->skips) {
        fprintf(stderr, "gpumem: out of memory\n");
        exit(GPUMEM_EXIT_SKIPPED);
    }
    int found[256] = { 0 }, unreadable[256] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int pid = gpumem__snapshot_pid_of(names[i], prefix);
        int wanted = npids == 0;
        for (int k = 0; k < npids; k++) wanted |= pids[k] == pid;
        if (wanted) {
            char why[192];
            struct gpumem_process *p = &v->procs[v->nprocs];
            enum gpumem_snapshot r = gpumem__snapshot_load_at(dirfd, names[i], p, NULL, NULL, NULL, why, sizeof why);
            for (int k = 0; k < npids; k++)
                if (pids[k] == pid) {
                    found[k] |= r == GPUMEM_SNAPSHOT_OK || r == GPUMEM_SNAPSHOT_BAD;
                    unreadable[k] |= r == GPUMEM_SNAPSHOT_UNREADABLE;
                }
            switch (r) {
            case GPUMEM_SNAPSHOT_OK:
                snprintf(p->path, sizeof p->path, "%s/%s", dir, names[i]);
                v->nprocs++;
                break;
            case GPUMEM_SNAPSHOT_BAD: add_skip(v, dir, names[i], why); break;
            case GPUMEM_SNAPSHOT_UNREADABLE: v->unreadable++; break;
            case GPUMEM_SNAPSHOT_UNFINISHED: v->unfinished++; break;
            case GPUMEM_SNAPSHOT_GONE: /* its process just exited */
            case GPUMEM_SNAPSHOT_STARTING: /* its live process is creating it */ break;
            }
        }
        free(names[i]);
    }
    free(names);
    if (dirfd >= 0) close(dirfd);
    if (v->nskips) rc = GPUMEM_EXIT_SKIPPED;
    for (int k = 0; k < npids; k++)
        if (unreadable[k] && !found[k]) {
            fprintf(stderr, "gpumem: pid %d's segment under %s belongs to another user and is not readable\n", pids[k],
                    dir);
            rc = GPUMEM_EXIT_NOT_FOUND;
        } else if (!found[k]) {
            fprintf(stderr, "gpumem: no segment for pid %d under %s/%s.*\n", pids[k], dir, prefix);
            rc = GPUMEM_EXIT_NOT_FOUND;
        }
    return rc;
}

/* What was passed over without a line each: said once, on stderr. */
void gpumem__view_print_counts(const struct gpumem_view *v)
{
    if (v->unreadable)
        fprintf(stderr, "gpumem: %zu segment%s of other users not readable\n", v->unreadable,
                v->unreadable == 1 ? "" : "s");
    if (v->unfinished)
        fprintf(stderr, "gpumem: %zu unfinished segment%s of ended processes passed over (gpumem gc removes them)\n",
                v->unfinished, v->unfinished == 1 ? "" : "s");
}

void gpumem__view_free(struct gpumem_view *v)
{
    free(v->procs);
    free(v->skips);
}
