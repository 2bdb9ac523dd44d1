/*
 * history.c - a process's memory over time, from the history rings of its
 * segment (include/gpumem_shm.h, struct gpumem_shm_bucket): see history.h.
 *
 * The rings hold only the buckets in which something happened. Here they
 * become one gap-free series per device, oldest first: the coarse ring for
 * the times the fine ring no longer covers, then the fine ring, and every
 * bucket without an event carries the value the last one left.
 */
#define _GNU_SOURCE
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "segment_read.h"
#include "snapshot.h"

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

/* At most this many points per series: a day at one second. */
#define MAX_POINTS 100000u

struct copy {
    void *buf, *recheck;
    size_t len;
    struct gpumem_process p;
    struct gpumem_oom oom;
};

/* A segment file of any name (a copy, or one kept with GPUMEM_KEEP=1),
 * read with the same safe copy and validator as a live one. */
static int load_file(const char *file, struct copy *c, char *why, size_t why_len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return WHY("%s: %s", file, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) != 0    ? WHY("%s: %s", file, strerror(errno))
             : !S_ISREG(st.st_mode) ? WHY("%s: not a regular file", file)
                                    : gpumem__snapshot_copy_fd(fd, &st, &c->buf, &c->recheck, &c->len, why, why_len);
    close(fd);
    if (rc != 0) return -1;
    if (gpumem__segment_parse(c->buf, c->recheck, c->len, &c->p, &c->oom, why, why_len) != 0) return -1;
    c->p.liveness = c->p.state == GPUMEM_SHM_STATE_EXITED ? GPUMEM_EXITED : GPUMEM_DEAD;
    return 0;
}

/* A PID's segment dir/<prefix>.<pid>: checked (owner, liveness) as every
 * command checks it, then copied again from the same open file for its
 * rings. */
static int load_pid(const char *dir, const char *prefix, int pid, struct copy *c, char *why, size_t why_len)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%d", prefix, pid);
    int dfd = open(dir ? dir : "/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return WHY("%s: %s", dir ? dir : "/dev/shm", strerror(errno));
    struct stat st;
    int fd = -1;
    enum gpumem_snapshot s = gpumem__snapshot_load_at(dfd, name, &c->p, NULL, &st, &fd, why, why_len);
    close(dfd);
    int rc = 0;
    if (s == GPUMEM_SNAPSHOT_GONE) rc = WHY("no segment for pid %d", pid);
    else if (s == GPUMEM_SNAPSHOT_UNREADABLE) rc = WHY("pid %d: the segment belongs to another user", pid);
    else if (s == GPUMEM_SNAPSHOT_STARTING || s == GPUMEM_SNAPSHOT_UNFINISHED) rc = WHY("pid %d: no counters yet", pid);
    else if (s != GPUMEM_SNAPSHOT_OK) rc = -1; /* why is set */
    enum gpumem_liveness liveness = c->p.liveness;
    if (rc == 0 && gpumem__snapshot_copy_fd(fd, &st, &c->buf, &c->recheck, &c->len, why, why_len) != 0) rc = -1;
    if (fd >= 0) close(fd);
    if (rc != 0) return -1;
    if (gpumem__segment_parse(c->buf, c->recheck, c->len, &c->p, &c->oom, why, why_len) != 0) return -1;
    c->p.liveness = liveness;
    return 0;
}

/* Unix time of the start of tick t of ring r. */
static uint64_t tick_unix(const struct gpumem_history_layout *h, int r, uint64_t t)
{
    return h->anchor_unix_ns + (t - 1) * h->width_ns[r];
}

struct series_build {
    struct gpumem_series *s;
    size_t cap;
    uint64_t last, allocs_mod, end; /* the value carried; where the series ends so far */
    int have_last, have_allocs;
};

static int push(struct series_build *b, struct gpumem_point pt)
{
    if (b->s->npoints == MAX_POINTS) return 0;
    if (b->s->npoints == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct gpumem_point *p = realloc(b->s->points, cap * sizeof *p);
        if (!p) return -1;
        b->s->points = p;
        b->cap = cap;
    }
    b->s->points[b->s->npoints++] = pt;
    b->end = pt.unix_ns + pt.width_ns;
    return 0;
}

/* Points that carry the last value over [b->end, until), width wide (the
 * last one shorter where until is not on the grid). Nothing before the
 * first bucket. */
static int carry(struct series_build *b, uint64_t until, uint64_t width)
{
    if (!b->have_last || !b->s->npoints) return 0;
    while (b->end < until && b->s->npoints < MAX_POINTS) {
        uint64_t w = until - b->end < width ? until - b->end : width;
        struct gpumem_point pt = { .unix_ns = b->end,
                                   .width_ns = w,
                                   .high_bytes = b->last,
                                   .low_bytes = b->last,
                                   .last_bytes = b->last };
        if (push(b, pt) != 0) return -1;
    }
    return 0;
}

/* The buckets of ring r from `from` (Unix ns) on, up to `until` (0: all). */
static int add_ring(struct series_build *b, const struct copy *c, int i, int r, uint64_t until,
                    struct gpumem_bucket *tmp, size_t max)
{
    const struct gpumem_history_layout *h = &c->p.history;
    size_t n = gpumem__history_buckets(c->buf, c->recheck, c->len, &c->p, i, r, tmp, max);
    uint64_t head = c->p.devices[i].history_cur[r] >> GPUMEM_SHM_HISTORY_SLOT_BITS;
    /* A ring that never lapped began at the device's first event: its
     * first bucket counts its allocations from 0. */
    if (!b->have_allocs && head <= h->depth[r]) b->have_allocs = 1, b->allocs_mod = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t start = tick_unix(h, r, tmp[k].tick);
        if (start < b->end) continue; /* covered by the ring before */
        if (until && start + h->width_ns[r] > until) break;
        if (carry(b, start, h->width_ns[r]) != 0) return -1;
        uint64_t open = b->have_last ? b->last : tmp[k].last;
        uint64_t high = tmp[k].high > tmp[k].last ? tmp[k].high : tmp[k].last;
        struct gpumem_point pt = {
            .unix_ns = start,
            .width_ns = h->width_ns[r],
            .high_bytes = high,
            .low_bytes = open < tmp[k].last ? open : tmp[k].last,
            .last_bytes = tmp[k].last,
            .allocs = b->have_allocs ? (tmp[k].allocs_mod - b->allocs_mod) & GPUMEM_SHM_HISTORY_TAG_MASK : 0,
        };
        if (pt.high_bytes < open && !b->have_last) pt.high_bytes = open;
        if (push(b, pt) != 0) return -1;
        b->last = tmp[k].last;
        b->allocs_mod = tmp[k].allocs_mod;
        b->have_last = b->have_allocs = 1;
    }
    return 0;
}

static void add_marks(struct gpumem_series *s, const struct copy *c, int device)
{
    const struct gpumem_oom *o = &c->oom;
    struct gpumem_transition tr[GPUMEM_SHM_TRANSITION_SLOTS];
    size_t nt = gpumem__segment_transitions(c->buf, c->recheck, c->len, tr);
    s->marks = calloc(nt + 1, sizeof *s->marks);
    if (!s->marks) return;
    for (size_t k = 0; k < nt; k++) {
        const struct gpumem_transition *t = &tr[k];
        if (t->device != device) continue;
        s->marks[s->nmarks++] = (struct gpumem_mark){ .unix_ns = t->unix_ns,
                                                      .reserved_bytes = t->reserved_bytes,
                                                      .kind = GPUMEM_MARK_LEVEL,
                                                      .level = t->level,
                                                      .previous = t->previous };
    }
    if (o->present && o->device == device && (size_t)device < GPUMEM_SHM_OOM_DEVICES)
        s->marks[s->nmarks++] = (struct gpumem_mark){ .unix_ns = o->unix_ns,
                                                      .reserved_bytes = o->devices[device].reserved_bytes,
                                                      .kind = GPUMEM_MARK_OOM };
}

/* Where the series of a process ends: now on the writer's own timeline for
 * a running process (its anchor plus the monotonic time since, so a change
 * of the wall clock moves nothing), its exit for one that exited, and its
 * last bucket otherwise. */
static uint64_t series_end(const struct copy *c)
{
    const struct gpumem_history_layout *h = &c->p.history;
    if (c->p.liveness == GPUMEM_ALIVE) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t mono = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        return mono > h->anchor_mono_ns ? h->anchor_unix_ns + (mono - h->anchor_mono_ns) : h->anchor_unix_ns;
    }
    if (c->p.liveness == GPUMEM_EXITED && c->p.exited_unix_ns > h->anchor_unix_ns) return c->p.exited_unix_ns;
    return 0;
}

static void label(struct gpumem_series *s, const struct gpumem_process *p, int ordinal)
{
    char cmd[64];
    const char *c = p->command, *space = strchr(c, ' ');
    size_t n = space ? (size_t)(space - c) : strlen(c);
    const char *slash = memrchr(c, '/', n);
    if (slash) n -= (size_t)(slash + 1 - c), c = slash + 1;
    snprintf(cmd, sizeof cmd, "%.*s", (int)(n < 63 ? n : 63), c);
    snprintf(s->label, sizeof s->label, "pid %d%s%s cuda:%d", p->pid, cmd[0] ? " " : "", cmd, ordinal);
}

static int build(struct gpumem_series *s, const struct copy *c, int i, uint64_t since_ns)
{
    const struct gpumem_process *p = &c->p;
    const struct gpumem_history_layout *h = &p->history;
    const struct gpumem_device *d = &p->devices[i];
    memset(s, 0, sizeof *s);
    s->pid = p->pid;
    s->device = d->ordinal;
    s->total_bytes = d->total_bytes;
    snprintf(s->uuid, sizeof s->uuid, "%s", d->uuid);
    snprintf(s->name, sizeof s->name, "%s", d->name);
    label(s, p, d->ordinal);
    add_marks(s, c, d->ordinal);
    size_t max = h->depth[0] > h->depth[1] ? h->depth[0] : h->depth[1];
    struct gpumem_bucket *tmp = malloc((max ? max : 1) * sizeof *tmp);
    if (!tmp) return -1;
    struct series_build b = { .s = s };
    /* The fine ring's first bucket: where the coarse ring stops. */
    uint64_t fine_from = 0;
    if (h->depth[0] && gpumem__history_buckets(c->buf, c->recheck, c->len, p, i, 0, tmp, max) > 0)
        fine_from = tick_unix(h, 0, tmp[0].tick);
    int rc = add_ring(&b, c, i, 1, fine_from, tmp, max);
    if (rc == 0 && fine_from && b.end < fine_from) rc = carry(&b, fine_from, h->width_ns[0]);
    if (rc == 0) rc = add_ring(&b, c, i, 0, 0, tmp, max);
    free(tmp);
    uint64_t end = series_end(c);
    int hot = h->depth[0] ? 0 : 1;
    if (rc == 0 && end > b.end) {
        /* An idle stretch longer than the hot ring is carried at the coarse width. */
        uint64_t fine_span = (uint64_t)h->depth[hot] * h->width_ns[hot];
        if (hot == 0 && h->depth[1] && end - b.end > fine_span) rc = carry(&b, end - fine_span, h->width_ns[1]);
        if (rc == 0) rc = carry(&b, end, h->width_ns[hot]);
    }
    if (rc != 0) return -1;
    if (since_ns && s->npoints) {
        uint64_t last_end = b.end, from = last_end > since_ns ? last_end - since_ns : 0;
        size_t k = 0;
        while (k < s->npoints && s->points[k].unix_ns + s->points[k].width_ns <= from) k++;
        memmove(s->points, s->points + k, (s->npoints - k) * sizeof *s->points);
        s->npoints -= k;
        size_t m = 0;
        for (size_t j = 0; j < s->nmarks; j++)
            if (s->marks[j].unix_ns >= from) s->marks[m++] = s->marks[j];
        s->nmarks = m;
    }
    return 0;
}

int gpumem__history_load(const char *dir, const char *prefix, int pid, const char *file, int device, uint64_t since_ns,
                         struct gpumem_series **out, char *why, size_t why_len)
{
    *out = NULL;
    struct copy *c = calloc(1, sizeof *c);
    if (!c) return WHY("out of memory");
    int rc = file ? load_file(file, c, why, why_len)
                  : load_pid(dir, prefix && *prefix ? prefix : "gpumem", pid, c, why, why_len);
    int n = 0;
    if (rc == 0 && c->p.history.sets == 0)
        rc = WHY("pid %d keeps no history (GPUMEM_HISTORY_DEVICES=0, or a "
                 "shim without history)",
                 c->p.pid);
    struct gpumem_series *s = rc == 0 ? calloc(GPUMEM_SHM_DEVICE_SLOTS, sizeof *s) : NULL;
    if (rc == 0 && !s) rc = WHY("out of memory");
    for (int i = 0; rc == 0 && i < c->p.ndevices; i++) {
        const struct gpumem_device *d = &c->p.devices[i];
        if ((device >= 0 && d->ordinal != device) || d->history_set == 0 || d->history_set > c->p.history.sets)
            continue;
        if (build(&s[n], c, i, since_ns) != 0) {
            gpumem__history_free(s, (size_t)n + 1);
            s = NULL;
            rc = WHY("out of memory");
        } else {
            n++;
        }
    }
    if (rc == 0 && n == 0 && device >= 0) rc = WHY("pid %d keeps no history of cuda:%d", c->p.pid, device);
    free(c->buf);
    free(c->recheck);
    free(c);
    if (rc != 0) {
        free(s);
        return -1;
    }
    *out = s;
    return n;
}

void gpumem__history_free(struct gpumem_series *s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].points);
        free(s[i].marks);
    }
    free(s);
}
