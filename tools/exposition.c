/*
 * exposition.c - the segments of one directory and prefix as the Prometheus
 * text exposition format: per process and device, per GPU, and about the
 * exporter itself. Only live processes are exported, so the series of a
 * process that ended disappear at the next scrape (Prometheus marks them
 * stale). Everything is written through common/emit.c, which escapes the
 * label values (a command is whatever the process's argv[0] holds).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit.h"
#include "exposition.h"
#include "format.h"
#include "view.h"

#define COMMAND_LABEL_MAX 32

void gpumem__exposition_defaults(struct gpumem_exposition_options *o)
{
    memset(o, 0, sizeof *o);
    o->prefix = getenv("GPUMEM_SHM_PREFIX");
    if (!o->prefix || !*o->prefix) o->prefix = "gpumem";
    o->dir = getenv("GPUMEM_SHM_DIR");
    if (!o->dir || !*o->dir) o->dir = "/dev/shm";
    o->pid_label = 1;
}

int gpumem__exposition_option(struct gpumem_exposition_options *o, int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--no-pid-label") == 0) {
        o->pid_label = 0;
        return 1;
    }
    if (strcmp(argv[*i], "--prefix") != 0) return 0;
    if (*i + 1 >= argc || !gpumem__prefix_valid(argv[*i + 1])) {
        fprintf(stderr, "gpumem: --prefix takes 1 to 32 letters, digits, '_' or '-'\n");
        return -1;
    }
    o->prefix = argv[++*i];
    return 1;
}

/* The families of a process on one device, in the order they are written. */
enum {
    V_RESERVED,
    V_PEAK,
    V_MANAGED,
    V_LEVEL,
    V_ALLOCS,
    V_FREES,
    V_FAILED,
    V_ALARMS,
    V_LARGEST,
    V_HEADROOM,
    V_AT_RISK,
    NVALUES
};
/* V_LARGEST and after: only where the shim has sampled the driver's free memory. */

static const struct family {
    const char *name, *type, *help;
} device_families[NVALUES] = {
    [V_RESERVED] = { "gpumem_process_reserved_bytes", "gauge",
                     "Device memory the process holds from the driver (allocator reserved), in bytes." },
    [V_PEAK] = { "gpumem_process_peak_reserved_bytes", "gauge",
                 "Highest reserved bytes of the process on the device since it started." },
    [V_MANAGED] = { "gpumem_process_managed_bytes", "gauge", "Managed (unified) memory the process holds, in bytes." },
    [V_LEVEL] = { "gpumem_process_level", "gauge",
                  "Health level of the process on the device: 0 healthy, 1 warning, "
                  "2 critical." },
    [V_ALLOCS] = { "gpumem_process_allocations_total", "counter", "Successful device memory allocations." },
    [V_FREES] = { "gpumem_process_frees_total", "counter", "Device memory frees." },
    [V_FAILED] = { "gpumem_process_failed_allocations_total", "counter", "Device memory allocations that failed." },
    [V_ALARMS] = { "gpumem_process_alarms_total", "counter",
                   "Times the process entered the critical level on the "
                   "device." },
    [V_LARGEST] = { "gpumem_process_largest_recent_request_bytes", "gauge",
                    "Largest of the process's recent driver-level requests on the device, in bytes." },
    [V_HEADROOM] = { "gpumem_process_headroom_bytes", "gauge",
                     "The driver's free memory at the last sample minus the largest recent request (0 if below), in "
                     "bytes." },
    [V_AT_RISK] = { "gpumem_process_next_allocation_at_risk", "gauge",
                    "1 when the driver's free memory is below the largest recent request, else 0." },
};

/* The labels that name a series; pid is empty with --no-pid-label. */
struct labels {
    char pid[16], command[COMMAND_LABEL_MAX + 1], device[16];
    const char *uuid, *pod, *namespace_, *container;
};

struct row {
    struct labels l;
    uint64_t v[NVALUES];
    int sampled; /* the headroom values (V_LARGEST and after) are known */
};

/* argv[0]'s basename, at most COMMAND_LABEL_MAX bytes and never a cut
 * UTF-8 sequence (the segment keeps the command line with spaces between
 * the arguments). */
static void short_command(char *out, const char *command)
{
    size_t n = strcspn(command, " ");
    const char *base = command;
    for (size_t i = 0; i < n; i++)
        if (command[i] == '/' && i + 1 < n) base = command + i + 1;
    n -= (size_t)(base - command);
    if (n > COMMAND_LABEL_MAX) {
        n = COMMAND_LABEL_MAX;
        while (n > 0 && ((unsigned char)base[n] & 0xc0) == 0x80) n--;
    }
    memcpy(out, base, n);
    out[n] = '\0';
}

static void labels_of(struct labels *l, const struct gpumem_process *p, const struct gpumem_device *d, int pid_label)
{
    memset(l, 0, sizeof *l);
    if (pid_label) gpumem__emitter_snprintf(l->pid, sizeof l->pid, "%d", p->host_pid ? p->host_pid : p->pid);
    short_command(l->command, p->command);
    if (d) gpumem__emitter_snprintf(l->device, sizeof l->device, "cuda:%d", d->ordinal);
    l->uuid = d ? d->uuid : "";
    l->pod = p->pod;
    l->namespace_ = p->k8s_namespace;
    l->container = p->container;
}

static int labels_equal(const struct labels *a, const struct labels *b)
{
    return strcmp(a->pid, b->pid) == 0 && strcmp(a->command, b->command) == 0 && strcmp(a->device, b->device) == 0 &&
           strcmp(a->uuid, b->uuid) == 0 && strcmp(a->pod, b->pod) == 0 && strcmp(a->namespace_, b->namespace_) == 0 &&
           strcmp(a->container, b->container) == 0;
}

static uint64_t add_saturating(uint64_t a, uint64_t b) { return b > UINT64_MAX - a ? UINT64_MAX : a + b; }

/* Add a series, or fold it into an equal one (only --no-pid-label makes
 * two equal): gauges and counters are summed, the level is the highest. */
static size_t add_row(struct row *rows, size_t n, const struct row *r)
{
    for (size_t i = 0; i < n; i++)
        if (labels_equal(&rows[i].l, &r->l)) {
            if (r->sampled && !rows[i].sampled) rows[i].v[V_HEADROOM] = r->v[V_HEADROOM];
            for (int k = 0; k < NVALUES; k++)
                if (k == V_LEVEL || k == V_LARGEST || k == V_AT_RISK)
                    rows[i].v[k] = r->v[k] > rows[i].v[k] ? r->v[k] : rows[i].v[k];
                else if (k == V_HEADROOM) /* the least headroom of those summed */
                    rows[i].v[k] = r->sampled && r->v[k] < rows[i].v[k] ? r->v[k] : rows[i].v[k];
                else rows[i].v[k] = add_saturating(rows[i].v[k], r->v[k]);
            rows[i].sampled |= r->sampled;
            return n;
        }
    rows[n] = *r;
    return n + 1;
}

static void emit_labels(struct gpumem_emitter *e, const struct labels *l)
{
    if (l->pid[0]) gpumem__emitter_label(e, "pid", l->pid);
    gpumem__emitter_label(e, "command", l->command);
    if (l->device[0]) gpumem__emitter_label(e, "device", l->device);
    if (l->device[0]) gpumem__emitter_label(e, "uuid", l->uuid);
    if (l->pod[0]) gpumem__emitter_label(e, "pod", l->pod);
    if (l->namespace_[0]) gpumem__emitter_label(e, "namespace", l->namespace_);
    if (l->container[0]) gpumem__emitter_label(e, "container", l->container);
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void emit_processes(struct gpumem_emitter *e, const struct gpumem_view *v, int pid_label)
{
    size_t ndev = 0, nproc = 0;
    for (size_t i = 0; i < v->nprocs; i++) ndev += (size_t)v->procs[i].ndevices;
    struct row *dev = calloc(ndev ? ndev : 1, sizeof *dev), *proc = calloc(v->nprocs ? v->nprocs : 1, sizeof *proc);
    if (!dev || !proc) {
        e->failed = 1;
        free(dev);
        free(proc);
        return;
    }
    ndev = 0;
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        if (p->liveness != GPUMEM_ALIVE) continue;
        struct row r;
        for (int k = 0; k < p->ndevices; k++) {
            const struct gpumem_device *d = &p->devices[k];
            labels_of(&r.l, p, d, pid_label);
            r.v[V_RESERVED] = d->reserved_bytes;
            r.v[V_PEAK] = d->peak_bytes;
            r.v[V_MANAGED] = d->managed_bytes;
            r.v[V_LEVEL] = d->level;
            r.v[V_ALLOCS] = d->alloc_count;
            r.v[V_FREES] = d->free_count;
            r.v[V_FAILED] = d->failed_count;
            r.v[V_ALARMS] = d->alarm_count;
            r.sampled = d->risk != GPUMEM_SHM_RISK_UNKNOWN;
            r.v[V_LARGEST] = d->largest_recent_request;
            r.v[V_HEADROOM] = d->headroom_bytes;
            r.v[V_AT_RISK] = d->risk == GPUMEM_SHM_RISK_AT_RISK;
            ndev = add_row(dev, ndev, &r);
        }
        memset(&r, 0, sizeof r);
        labels_of(&r.l, p, NULL, pid_label);
        r.v[0] = p->oom_count;
        nproc = add_row(proc, nproc, &r);
    }
    for (int k = 0; k < NVALUES; k++) {
        gpumem__emitter_metric(e, device_families[k].name, device_families[k].type, device_families[k].help);
        for (size_t i = 0; i < ndev; i++) {
            if (k >= V_LARGEST && !dev[i].sampled) continue;
            gpumem__emitter_sample_begin(e, device_families[k].name);
            emit_labels(e, &dev[i].l);
            gpumem__emitter_sample_uint(e, dev[i].v[k]);
        }
    }
    gpumem__emitter_metric(e, "gpumem_process_ooms_total", "counter",
                           "Out-of-memory failures of the process (any device).");
    for (size_t i = 0; i < nproc; i++) {
        gpumem__emitter_sample_begin(e, "gpumem_process_ooms_total");
        emit_labels(e, &proc[i].l);
        gpumem__emitter_sample_uint(e, proc[i].v[0]);
    }
    free(dev);
    free(proc);
}

#define MAX_GPUS 64

static void emit_gpus(struct gpumem_emitter *e, const struct gpumem_view *v)
{
    struct gpumem_gpu gpus[MAX_GPUS];
    size_t n = gpumem__gpus(v, gpus, MAX_GPUS);
    /* gpumem__gpus keeps the first 64 pids of a GPU; the count goes on. */
    uint64_t procs[MAX_GPUS] = { 0 };
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        if (p->liveness != GPUMEM_ALIVE) continue;
        for (size_t g = 0; g < n; g++) {
            int on = 0;
            for (int k = 0; k < p->ndevices; k++)
                on |= p->devices[k].has_info && strcmp(p->devices[k].uuid, gpus[g].uuid) == 0;
            procs[g] += (uint64_t)on;
        }
    }
    static const struct family families[] = {
        { "gpumem_gpu_reserved_bytes", "gauge", "Reserved bytes of every live process on the GPU, summed." },
        { "gpumem_gpu_total_bytes", "gauge", "The GPU's memory, in bytes, as its driver reports it." },
        { "gpumem_gpu_processes", "gauge", "Live processes with a context on the GPU." },
        { "gpumem_gpu_level", "gauge",
          "Health level of the GPU's summed reserved bytes: 0 healthy, 1 warning, 2 "
          "critical." },
    };
    for (size_t k = 0; k < sizeof families / sizeof families[0]; k++) {
        gpumem__emitter_metric(e, families[k].name, families[k].type, families[k].help);
        for (size_t g = 0; g < n; g++) {
            gpumem__emitter_sample_begin(e, families[k].name);
            gpumem__emitter_label(e, "uuid", gpus[g].uuid);
            uint64_t value = k == 0   ? gpus[g].reserved_bytes
                             : k == 1 ? gpus[g].total_bytes
                             : k == 2 ? procs[g]
                                      : gpus[g].level;
            gpumem__emitter_sample_uint(e, value);
        }
    }
}

int gpumem__exposition_write(FILE *f, const struct gpumem_exposition_options *o)
{
    uint64_t t0 = now_ns();
    struct gpumem_view v;
    gpumem__view_load(o->dir, o->prefix, NULL, 0, &v);
    /* Label values as they will be written (ill-formed UTF-8 as U+FFFD), so
     * that values written alike are one series, not two with equal labels. */
    for (size_t i = 0; i < v.nprocs; i++) {
        struct gpumem_process *p = &v.procs[i];
        gpumem__emitter_utf8_repair(p->command, sizeof p->command);
        gpumem__emitter_utf8_repair(p->pod, sizeof p->pod);
        gpumem__emitter_utf8_repair(p->k8s_namespace, sizeof p->k8s_namespace);
        gpumem__emitter_utf8_repair(p->container, sizeof p->container);
        for (int k = 0; k < p->ndevices; k++)
            gpumem__emitter_utf8_repair(p->devices[k].uuid, sizeof p->devices[k].uuid);
    }
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_PROMETHEUS, f);
    emit_processes(&e, &v, o->pid_label);
    emit_gpus(&e, &v);

    gpumem__emitter_metric(&e, "gpumem_segments_skipped", "gauge",
                           "Segments passed over at this scrape: damaged (or forged), unreadable (another user's), "
                           "unfinished (their process was killed while creating them).");
    const struct {
        const char *reason;
        size_t count;
    } skipped[] = { { "damaged", v.nskips }, { "unreadable", v.unreadable }, { "unfinished", v.unfinished } };
    for (size_t k = 0; k < sizeof skipped / sizeof skipped[0]; k++) {
        gpumem__emitter_sample_begin(&e, "gpumem_segments_skipped");
        gpumem__emitter_label(&e, "reason", skipped[k].reason);
        gpumem__emitter_sample_uint(&e, skipped[k].count);
    }
    gpumem__emitter_metric(&e, "gpumem_build_info", "gauge", "The exporter's version, as a label; always 1.");
    gpumem__emitter_sample_begin(&e, "gpumem_build_info");
    gpumem__emitter_label(&e, "version", GPUMEM_VERSION_STRING);
    gpumem__emitter_sample_uint(&e, 1);
    gpumem__view_free(&v);

    uint64_t ns = now_ns() - t0;
    char seconds[32];
    gpumem__emitter_snprintf(seconds, sizeof seconds, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
                             (unsigned long long)(ns % 1000000000u));
    gpumem__emitter_metric(&e, "gpumem_scrape_duration_seconds", "gauge",
                           "Seconds this exposition took to read the segments and write.");
    gpumem__emitter_sample_begin(&e, "gpumem_scrape_duration_seconds");
    gpumem__emitter_sample_number(&e, seconds);
    return gpumem__emitter_finish(&e);
}
