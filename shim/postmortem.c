/*
 * postmortem.c - the post-mortem of an out-of-memory failure.
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
#include "postmortem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "counters.h"
#include "driver.h"
#include "format.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "report.h"
#include "segment_read.h"
#include "segment_write.h"
#include "thread.h"
#include "traces.h"

extern char **environ;

static pthread_mutex_t oom_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_report_ns, reports;
static int dir_warned;

/* The record of this failure, from the census and the segment as it is. */
static void freeze(const struct gpumem_shm_segment *s, enum gpumem_api api, uint64_t bytes, int device,
                   gcu_result result, uint64_t drv_free, uint64_t drv_total, const char *path,
                   const struct gpumem_census *c, struct gpumem_shm_oom *o)
{
    o->unix_ns = gpumem__seg_now().unix_ns; /* the events' clock: "N s before" */
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
    snprintf(o->report_path, sizeof o->report_path, "%.255s", path);
    gpumem__census_environment(environ, o->environment, sizeof o->environment);
    o->nevents = gpumem__census_events(s, o->events, GPUMEM_SHM_OOM_EVENTS);
    for (unsigned i = 0; i < GPUMEM_SHM_OOM_TRACES; i++)
        gpumem__trace_format(i < c->ntop ? c->top_trace[i] : 0, o->traces[i], sizeof o->traces[i]);
}

/* Render the report from a copy of our own segment, as the reader would. */
static int render(const struct gpumem_shm_segment *s, FILE *f)
{
    /* The whole segment, history section included (header.segment_size). */
    size_t n = __atomic_load_n(&s->header.segment_size, __ATOMIC_RELAXED);
    if (n < sizeof *s || n % 8) n = sizeof *s;
    uint64_t *a = malloc(n), *b = malloc(n);
    struct gpumem_process *p = malloc(sizeof *p);
    struct gpumem_oom *o = malloc(sizeof *o);
    int rc = -1;
    char why[192];
    if (a && b && p && o) {
        gpumem__segment_copy_words(a, s, n);
        gpumem__segment_copy_words(b, s, n);
        if (gpumem__segment_parse(a, b, n, p, o, why, sizeof why) == 0 && p->oom) {
            gpumem__report_json(f, p, o);
            rc = 0;
        }
    }
    free(a);
    free(b);
    free(p);
    free(o);
    return rc;
}

/* Link the finished temporary file as gpumem-oom-<pid>-<n>.json, taking the
 * next n while a name exists (a file or a symlink: nothing is replaced). */
static int place(const char *dir, const char *tmp, uint64_t n, char *path, size_t size)
{
    for (int tries = 0; tries < 100; tries++, n++) {
        snprintf(path, size, "%s/gpumem-oom-%d-%llu.json", dir, gpumem__os_pid(), (unsigned long long)n);
        int err = gpumem__os_link_new(tmp, path);
        if (err == 0) return 0;
        if (err != EEXIST) return err;
    }
    return EEXIST;
}

void gpumem__postmortem_before_fork(void) { pthread_mutex_lock(&oom_lock); }
void gpumem__postmortem_after_fork(void) { pthread_mutex_unlock(&oom_lock); }

/* Freeze the failure in the segment and write the report; path receives the
 * report's path or why there is none. */
static void report(enum gpumem_api api, uint64_t bytes, int device, gcu_result result, uint64_t drv_free,
                   uint64_t drv_total, char *path, size_t path_size)
{
    snprintf(path, path_size, "skipped (another report is being written)");
    if (pthread_mutex_trylock(&oom_lock) != 0) return;
    uint64_t now = gpumem__os_now_ns();
    uint64_t interval = (uint64_t)gpumem__opt.postmortem_interval * 1000000000u;
    if (reports && now - last_report_ns < interval) {
        snprintf(path, path_size, "skipped (one every %us, GPUMEM_POSTMORTEM_INTERVAL)",
                 gpumem__opt.postmortem_interval);
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    last_report_ns = now;
    reports++;
    const struct gpumem_shm_segment *s = gpumem__segment();
    /* One allocation for what the moment is made of, as the census alone
     * was: out of host memory, there is no record. */
    struct frozen {
        struct gpumem_census census;
        struct gpumem_shm_oom record;
    } *frozen = calloc(1, sizeof *frozen);
    if (!frozen) {
        snprintf(path, path_size, "not written (out of host memory)");
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    struct gpumem_census *c = &frozen->census;
    struct gpumem_shm_oom *record = &frozen->record;
    gpumem__census(gpumem__census_count, c);

    const char *dir = gpumem__opt.postmortem_dir;
    char tmp[600];
    FILE *f = gpumem__os_temp_file(dir, tmp, sizeof tmp);
    int err = f ? 0 : errno;
    if (!f && strcmp(dir, "/tmp") != 0) {
        if (!dir_warned++)
            gpumem__log("GPUMEM_POSTMORTEM_DIR=%s is not writable (%s); reports go to /tmp", dir, strerror(err));
        dir = "/tmp";
        f = gpumem__os_temp_file(dir, tmp, sizeof tmp);
        err = f ? 0 : errno;
    }
    char final[600] = "";
    /* The name is decided before the record is frozen, so the record can
     * say where its report is; the file is linked there after. */
    snprintf(final, sizeof final, "%s/gpumem-oom-%d-%llu.json", dir, gpumem__os_pid(), (unsigned long long)reports);
    freeze(s, api, bytes, device, result, drv_free, drv_total, f ? final : "", c, record);
    gpumem__seg_oom_record(record, c->top);
    free(frozen);
    if (!f) {
        snprintf(path, path_size, "not written (%s)", strerror(err));
        pthread_mutex_unlock(&oom_lock);
        return;
    }
    errno = 0;
    int ok = render(s, f) == 0;
    err = ok ? 0 : errno ? errno : EIO;
    int close_err = gpumem__os_close_file(f);
    if (err == 0) err = close_err;
    if (err == 0) err = place(dir, tmp, reports, final, sizeof final);
    if (err == 0) {
        snprintf(path, path_size, "%s", final);
        /* A name was taken: the record points to where it really is. */
        gpumem__seg_oom_report_path(final);
    } else {
        snprintf(path, path_size, "not written (%s)", strerror(err));
    }
    gpumem__os_unlink(tmp);
    pthread_mutex_unlock(&oom_lock);
}

void gpumem__postmortem(enum gpumem_api api, uint64_t bytes, int device, gcu_result result)
{
    int saved = errno;
    if (gpumem__thread.runtime_api) api = (enum gpumem_api)gpumem__thread.runtime_api;
    const struct gpumem_shm_device *d = &gpumem__segment()->devices[device];
    /* What the driver says is free, when the failing device is the current one. */
    const struct gpumem_driver *drv = gpumem__driver();
    size_t free_bytes = 0, total_bytes = 0;
    int have_info = drv->mem_get_info && gpumem__current_device() == device &&
                    drv->mem_get_info(&free_bytes, &total_bytes) == GCU_SUCCESS;
    if (!have_info) free_bytes = total_bytes = 0;
    char path[640];
    report(api, bytes, device, result, free_bytes, total_bytes, path, sizeof path);
    char want[32], held[32], total[32], free_text[48] = "";
    gpumem__format_size(want, sizeof want, bytes);
    gpumem__format_gb(held, sizeof held, __atomic_load_n(&d->reserved_bytes, __ATOMIC_RELAXED));
    gpumem__format_gb(total, sizeof total, __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED));
    if (have_info) {
        char f[32];
        gpumem__format_gb(f, sizeof f, free_bytes);
        snprintf(free_text, sizeof free_text, ", driver free %s", f);
    }
    gpumem__log("OOM cuda:%d Tried to allocate %s; reserved %s / %s%s; report %s", device, want, held, total, free_text,
                path);
    errno = saved;
}
