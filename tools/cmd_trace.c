/*
 * cmd_trace.c - gpumem trace PID|FILE... -o FILE.json [--since DURATION]
 * [--device cuda:N] [--prefix NAME]: the history (history.h) and the event
 * ring's allocations and frees of each process as a Chrome Trace Event
 * Format file (trace.c) for Perfetto UI or chrome://tracing.
 *
 * The events are read here from the same segment, through the validator
 * (gpumem__segment_events), and handed to the renderer in each series'
 * events: those of its device, those of no known device with the first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "pictures.h"
#include "segment_read.h"
#include "snapshot.h"
#include "view.h"

/* The event ring of one source, oldest first: how many (0 when it could
 * not be read; the trace then has the history alone). */
static size_t read_events(const struct gpumem_picture_args *a, int pid, const char *file, struct gpumem_event *ev)
{
    char why[256];
    int fd = -1;
    struct stat st;
    if (file) {
        fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
        }
    } else {
        /* The same checks as every command (owner, the writer's start time). */
        char name[96];
        snprintf(name, sizeof name, "%s.%d", a->prefix, pid);
        int rc = GPUMEM_EXIT_OK, dirfd = gpumem__view_open_dir(a->dir, &rc);
        struct gpumem_process *p = malloc(sizeof *p);
        if (dirfd >= 0 && p &&
            gpumem__snapshot_load_at(dirfd, name, p, NULL, &st, &fd, why, sizeof why) != GPUMEM_SNAPSHOT_OK &&
            fd >= 0) {
            close(fd);
            fd = -1;
        }
        free(p);
        if (dirfd >= 0) close(dirfd);
    }
    if (fd < 0) return 0;
    void *buf = NULL, *recheck = NULL;
    size_t len = 0, n = 0;
    struct gpumem_process *p = malloc(sizeof *p);
    if (p && gpumem__snapshot_copy_fd(fd, &st, &buf, &recheck, &len, why, sizeof why) == 0 &&
        gpumem__segment_parse(buf, recheck, len, p, NULL, why, sizeof why) == 0)
        n = gpumem__segment_events(buf, recheck, len, ev, GPUMEM_SHM_EVENT_SLOTS);
    close(fd);
    free(buf);
    free(recheck);
    free(p);
    return n;
}

/* Each series of one source takes the events of its device (and of no
 * device, the first) that are not older than its first bucket. */
static int hand_out(struct gpumem_series *s, size_t n, const struct gpumem_event *ev, size_t nev)
{
    for (size_t i = 0; i < n; i++) {
        s[i].events = calloc(nev ? nev : 1, sizeof *s[i].events);
        if (!s[i].events) return -1;
        uint64_t from = s[i].npoints ? s[i].points[0].unix_ns : 0;
        for (size_t k = 0; k < nev; k++) {
            int known = 0;
            for (size_t j = 0; j < n; j++) known |= ev[k].device == s[j].device;
            if ((ev[k].device == s[i].device || (!known && i == 0)) && ev[k].unix_ns >= from)
                s[i].events[s[i].nevents++] = ev[k];
        }
    }
    return 0;
}

int gpumem__cmd_trace(int argc, char **argv)
{
    static const char usage[] =
        "usage: gpumem trace PID|FILE... -o FILE.json [--since DURATION] [--device cuda:N] [--prefix NAME]\n"
        "  a Chrome Trace Event Format file for Perfetto UI (ui.perfetto.dev) or chrome://tracing\n";
    struct gpumem_picture_args *a = malloc(sizeof *a);
    struct gpumem_event *ev = malloc(GPUMEM_SHM_EVENT_SLOTS * sizeof *ev);
    if (!a || !ev) {
        free(a);
        free(ev);
        return GPUMEM_EXIT_SKIPPED;
    }
    int rc = gpumem__picture_args(argc, argv, a, usage);
    if (rc == GPUMEM_EXIT_OK && a->nsources == 0) {
        fprintf(stderr, "gpumem trace: a PID or FILE is needed\n%s", usage);
        rc = GPUMEM_EXIT_USAGE;
    }
    if (rc != GPUMEM_EXIT_OK) {
        free(a);
        free(ev);
        return rc;
    }
    struct gpumem_series *s;
    size_t n;
    rc = gpumem__picture_load(a, 0, &s, &n);
    size_t at = 0;
    for (size_t k = 0; k < a->nsources; k++) {
        size_t nev = read_events(a, a->sources[k].pid, a->sources[k].file, ev);
        if (hand_out(s + at, a->sources[k].nseries, ev, nev) != 0) rc = GPUMEM_EXIT_SKIPPED;
        at += a->sources[k].nseries;
    }
    if (n > 0) {
        FILE *f = gpumem__picture_open(a->out);
        int wrote = f ? gpumem__picture_close(f, a->out, gpumem__trace_json(f, s, n)) : GPUMEM_EXIT_SKIPPED;
        if (wrote != GPUMEM_EXIT_OK) rc = wrote;
    } else if (rc == GPUMEM_EXIT_OK) rc = GPUMEM_EXIT_NOT_FOUND;
    for (size_t i = 0; i < n; i++) {
        free(s[i].events);
        s[i].events = NULL;
    }
    gpumem__history_free(s, n);
    free(a);
    free(ev);
    return rc;
}
