/*
 * oom.c - the post-mortem of an out-of-memory failure.
 *
 * Only the failure path runs here. It freezes the moment in the segment
 * (the OOM record: request, driver free memory, every device's figures, the
 * largest live allocations, a size histogram, the allocator environment),
 * then renders the report from a copy of its own segment with the reader's
 * own code (common/), so `gpumem report PID` of the process, dead or alive,
 * gives the same report. The file is written to a private temporary file and
 * linked into place: never through a symlink, never over an existing file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "report.h"
#include "segment.h"
#include "shim.h"

extern char **environ;

/* A full fence around the record (TSan cannot check fences, so its build
 * uses a sequentially consistent store instead). */
#ifdef __SANITIZE_THREAD__
#define FENCE(seq_field, value) __atomic_store_n(seq_field, value, __ATOMIC_SEQ_CST)
#else
#define FENCE(seq_field, value) (__atomic_store_n(seq_field, value, __ATOMIC_RELAXED), __atomic_thread_fence(__ATOMIC_SEQ_CST))
#endif

static pthread_mutex_t oom_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_report_ns, reports;
static int dir_warned;

struct census {
    struct gpumem_shm_large top[GPUMEM_SHM_LARGE_SLOTS]; /* largest first */
    uint32_t top_trace[GPUMEM_SHM_LARGE_SLOTS];
    uint32_t ntop;
    uint64_t live;
    uint64_t hist_count[GPUMEM_SHM_HISTOGRAM_BINS], hist_bytes[GPUMEM_SHM_HISTOGRAM_BINS];
};

static void count_entry(const struct gpumem_entry *e, void *ctx)
{
    struct census *c = ctx;
    c->live++;
    unsigned k = e->bytes ? 63u - (unsigned)__builtin_clzll(e->bytes) : 0;
    if (k >= GPUMEM_SHM_HISTOGRAM_BINS) k = GPUMEM_SHM_HISTOGRAM_BINS - 1;
    c->hist_count[k]++;
    c->hist_bytes[k] += e->bytes;
    /* Keep the largest, sorted, by insertion. */
    uint32_t at = c->ntop;
    while (at > 0 && c->top[at - 1].bytes < e->bytes) at--;
    if (at >= GPUMEM_SHM_LARGE_SLOTS) return;
    uint32_t n = c->ntop < GPUMEM_SHM_LARGE_SLOTS ? c->ntop : GPUMEM_SHM_LARGE_SLOTS - 1;
    memmove(&c->top[at + 1], &c->top[at], (n - at) * sizeof c->top[0]);
    memmove(&c->top_trace[at + 1], &c->top_trace[at], (n - at) * sizeof c->top_trace[0]);
    c->top[at] = (struct gpumem_shm_large){ .address = e->key, .bytes = e->bytes, .unix_ns = e->unix_ns,
                                            .device = e->device, .api = e->api };
    c->top_trace[at] = e->trace;
    if (c->ntop < GPUMEM_SHM_LARGE_SLOTS) c->ntop++;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The variables that shape allocators, sorted, as NAME=value lines. */
static void capture_environment(char *out, size_t size)
{
    static const char *const exact[] = { "PYTORCH_CUDA_ALLOC_CONF", "PYTORCH_ALLOC_CONF", "CUDA_VISIBLE_DEVICES",
                                         "CUDA_DEVICE_ORDER", "XLA_PYTHON_CLIENT_PREALLOCATE",
                                         "XLA_PYTHON_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_ALLOCATOR",
                                         "TF_FORCE_GPU_ALLOW_GROWTH", "CUPY_GPU_MEMORY_LIMIT" };
    const char *picked[64];
    size_t npicked = 0, used = 0;
    out[0] = '\0';
    for (char **e = environ; e && *e && npicked < 64; e++) {
        int wanted = strncmp(*e, "GPUMEM_", 7) == 0;
        for (size_t i = 0; !wanted && i < sizeof exact / sizeof exact[0]; i++) {
            size_t n = strlen(exact[i]);
            wanted = strncmp(*e, exact[i], n) == 0 && (*e)[n] == '=';
        }
        if (wanted) picked[npicked++] = *e;
    }
    qsort(picked, npicked, sizeof picked[0], by_name);
    for (size_t i = 0; i < npicked; i++) {
        int n = snprintf(out + used, size - used, "%s\n", picked[i]);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

static int by_time(const void *a, const void *b)
{
    const struct gpumem_shm_event *x = a, *y = b;
    if (x->unix_ns != y->unix_ns) return x->unix_ns < y->unix_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The last events of the live ring, oldest first: each slot is taken only if
 * its sequence is the same before and after the copy. */
static uint32_t copy_events(const struct gpumem_shm_segment *s, struct gpumem_shm_event *out, uint32_t max)
{
    static struct gpumem_shm_event all[GPUMEM_SHM_EVENT_SLOTS];
    uint64_t head = __atomic_load_n(&s->header.events_head, __ATOMIC_ACQUIRE);
    uint64_t first = head > GPUMEM_SHM_EVENT_SLOTS ? head - GPUMEM_SHM_EVENT_SLOTS : 0;
    uint32_t n = 0;
    for (uint64_t j = first; j < head; j++) {
        const struct gpumem_shm_event *e = &s->events[j & (GPUMEM_SHM_EVENT_SLOTS - 1)];
        if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != j + 1) continue;
        gm_segment_copy_words((uint64_t *)&all[n], e, sizeof *e);
        if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != j + 1) continue;
        n++;
    }
    qsort(all, n, sizeof all[0], by_time);
    uint32_t keep = n < max ? n : max;
    memcpy(out, all + (n - keep), keep * sizeof all[0]);
    return keep;
}

/* Freeze the failure into the segment's OOM record. */
static void freeze(struct gpumem_shm_segment *s, enum gpumem_api api, uint64_t bytes, int device, gcu_result result,
                   uint64_t drv_free, uint64_t drv_total, const char *path, struct census *c)
{
    struct gpumem_shm_oom *o = &s->oom;
    uint64_t seq = __atomic_load_n(&o->seq, __ATOMIC_RELAXED);
    FENCE(&o->seq, seq + 1); /* odd: being written */
    o->unix_ns = gpumem__now_ns();
    o->number = reports;
    o->requested_bytes = bytes;
    o->driver_free_bytes = drv_free;
    o->driver_total_bytes = drv_total;
    o->events_head = __atomic_load_n(&s->header.events_head, __ATOMIC_ACQUIRE);
    o->transitions_head = __atomic_load_n(&s->header.transitions_head, __ATOMIC_ACQUIRE);
    o->oom_count = __atomic_load_n(&s->header.oom_count, __ATOMIC_RELAXED);
    o->live_count = c->live;
    o->device = device;
    o->result = (int32_t)result;
    o->api = api;
    o->nlarge = c->ntop;
    for (unsigned d = 0; d < GPUMEM_SHM_OOM_DEVICES; d++) {
        const struct gpumem_shm_device *dv = &s->devices[d];
        o->devices[d].reserved_bytes = __atomic_load_n(&dv->reserved_bytes, __ATOMIC_RELAXED);
        o->devices[d].peak_bytes = __atomic_load_n(&dv->peak_bytes, __ATOMIC_RELAXED);
        o->devices[d].peak_unix_ns = __atomic_load_n(&dv->peak_unix_ns, __ATOMIC_RELAXED);
        o->devices[d].managed_bytes = __atomic_load_n(&dv->managed_bytes, __ATOMIC_RELAXED);
    }
    memcpy(o->hist_count, c->hist_count, sizeof o->hist_count);
    memcpy(o->hist_bytes, c->hist_bytes, sizeof o->hist_bytes);
    memcpy(s->large, c->top, sizeof s->large);
    snprintf(o->report_path, sizeof o->report_path, "%.255s", path);
    capture_environment(o->environment, sizeof o->environment);
    o->nevents = copy_events(s, o->events, GPUMEM_SHM_OOM_EVENTS);
    for (unsigned i = 0; i < GPUMEM_SHM_OOM_TRACES; i++)
        gpumem__trace_format(i < c->ntop ? c->top_trace[i] : 0, o->traces[i], sizeof o->traces[i]);
    __atomic_store_n(&o->seq, seq + 2, __ATOMIC_SEQ_CST);
}

/* Render the report from a copy of our own segment, as the reader would. */
static int render(struct gpumem_shm_segment *s, FILE *f)
{
    size_t n = sizeof *s;
    uint64_t *a = malloc(n), *b = malloc(n);
    struct gm_process *p = malloc(sizeof *p);
    struct gm_oom *o = malloc(sizeof *o);
    int rc = -1;
    char why[192];
    if (a && b && p && o) {
        gm_segment_copy_words(a, s, n);
        gm_segment_copy_words(b, s, n);
        if (gm_segment_parse(a, b, n, p, o, why, sizeof why) == 0 && p->oom) {
            gm_report_json(f, p, o);
            rc = 0;
        }
    }
    free(a);
    free(b);
    free(p);
    free(o);
    return rc;
}

/* A private temporary file in dir; its name goes to tmp. */
static int open_temp(const char *dir, char *tmp, size_t size)
{
    snprintf(tmp, size, "%s/.gpumem-oom-%d.XXXXXX", dir, (int)getpid());
    return mkostemp(tmp, O_CLOEXEC);
}

/* Link the finished temporary file as gpumem-oom-<pid>-<n>.json, taking the
 * next n while a name exists (a file or a symlink: nothing is replaced). */
static int place(const char *dir, const char *tmp, uint64_t n, char *path, size_t size)
{
    for (int tries = 0; tries < 100; tries++, n++) {
        snprintf(path, size, "%s/gpumem-oom-%d-%llu.json", dir, (int)getpid(), (unsigned long long)n);
        if (link(tmp, path) == 0) return 0;
        if (errno != EEXIST) return -1;
    }
    return -1;
}

void gpumem__oom_before_fork(void) { pthread_mutex_lock(&oom_lock); }
void gpumem__oom_after_fork(void) { pthread_mutex_unlock(&oom_lock); }

void gpumem__postmortem(enum gpumem_api api, uint64_t bytes, int device, gcu_result result, uint64_t drv_free,
                        uint64_t drv_total, char *path, size_t path_size)
{
    snprintf(path, path_size, "skipped (another report is being written)");
    if (pthread_mutex_trylock(&oom_lock) != 0) return;
    uint64_t now = gpumem__now_ns();
    uint64_t interval = (uint64_t)gpumem__opt.postmortem_interval * 1000000000u;
    if (reports && now - last_report_ns < interval) {
        snprintf(path, path_size, "skipped (one every %us, GPUMEM_POSTMORTEM_INTERVAL)", gpumem__opt.postmortem_interval);
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    last_report_ns = now;
    reports++;
    struct gpumem_shm_segment *s = gpumem__segment();
    struct census *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(path, path_size, "not written (out of host memory)");
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    gpumem__census(count_entry, c);

    const char *dir = gpumem__opt.postmortem_dir;
    char tmp[600];
    int fd = open_temp(dir, tmp, sizeof tmp);
    if (fd < 0 && strcmp(dir, "/tmp") != 0) {
        if (!dir_warned++) gpumem__log("GPUMEM_POSTMORTEM_DIR=%s is not writable (%s); reports go to /tmp", dir, strerror(errno));
        dir = "/tmp";
        fd = open_temp(dir, tmp, sizeof tmp);
    }
    char final[600] = "";
    /* The name is decided before the record is frozen, so the record can
     * say where its report is; the file is linked there after. */
    snprintf(final, sizeof final, "%s/gpumem-oom-%d-%llu.json", dir, (int)getpid(), (unsigned long long)reports);
    freeze(s, api, bytes, device, result, drv_free, drv_total, fd >= 0 ? final : "", c);
    free(c);
    if (fd < 0) {
        snprintf(path, path_size, "not written (%s)", strerror(errno));
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && render(s, f) == 0;
    if (f) ok &= fclose(f) == 0;
    else close(fd);
    if (ok && place(dir, tmp, reports, final, sizeof final) == 0) {
        snprintf(path, path_size, "%s", final);
        if (strcmp(s->oom.report_path, final) != 0) {
            /* A name was taken: the record points to where it really is. */
            snprintf(s->oom.report_path, sizeof s->oom.report_path, "%.255s", final);
        }
    } else {
        snprintf(path, path_size, "not written (%s)", strerror(errno));
    }
    unlink(tmp);
    pthread_mutex_unlock(&oom_lock);
}
