/* render.c - see render.h. */
#define _GNU_SOURCE
#include "render.h"
#include "report.h"
#include "pictures.h"
#include "sparkline.h"

#include <string.h>

const char *gpumem__liveness_name(enum gpumem_liveness l)
{
    return l == GPUMEM_ALIVE ? "running" : l == GPUMEM_EXITED ? "exited" : l == GPUMEM_UNKNOWN ? "unknown" : "dead";
}

/* reserved / total * 100 > bound (or >= with or_equal), exactly, in integers.
 * A bound beyond any uint64 (UINT64_MAX, not exact) is never reached. */
static int percent_above(uint64_t reserved, uint64_t total, unsigned bound, int or_equal)
{
    if (total == 0) return 0; /* no total known: healthy, 0 % */
    int exact;
    uint64_t floor = gpumem__percent_of(total, bound, &exact);
    return reserved > floor || (or_equal && reserved == floor && exact);
}

static unsigned level_of(uint64_t reserved, uint64_t total, unsigned warn, unsigned alarm)
{
    return percent_above(reserved, total, alarm, 0)  ? GPUMEM_LEVEL_CRITICAL
           : percent_above(reserved, total, warn, 1) ? GPUMEM_LEVEL_WARNING
                                                     : GPUMEM_LEVEL_HEALTHY;
}

/* The level bounds in force: the first process's, else 80 % and 90 %. */
static void bounds_of(const struct gpumem_view *v, unsigned *warn, unsigned *alarm)
{
    *warn = 80;
    *alarm = 90;
    if (v->nprocs && v->procs[0].warn_percent && v->procs[0].alarm_percent) {
        *warn = v->procs[0].warn_percent;
        *alarm = v->procs[0].alarm_percent;
    }
}

size_t gpumem__gpus(const struct gpumem_view *v, struct gpumem_gpu *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        if (p->liveness != GPUMEM_ALIVE) continue;
        for (int k = 0; k < p->ndevices; k++) {
            const struct gpumem_device *d = &p->devices[k];
            if (!d->has_info || d->uuid[0] == '\0') continue;
            size_t g = 0;
            while (g < n && strcmp(out[g].uuid, d->uuid) != 0) g++;
            if (g == n) {
                if (n == max) continue;
                memset(&out[n], 0, sizeof out[n]);
                snprintf(out[n].uuid, sizeof out[n].uuid, "%s", d->uuid);
                snprintf(out[n].name, sizeof out[n].name, "%s", d->name);
                out[n].total_bytes = d->total_bytes;
                n++;
            }
            out[g].reserved_bytes += d->reserved_bytes > UINT64_MAX - out[g].reserved_bytes
                                         ? UINT64_MAX - out[g].reserved_bytes
                                         : d->reserved_bytes;
            if (out[g].npids < GPUMEM_MAX_GPU_PIDS) out[g].pids[out[g].npids++] = gpumem__shown_pid(p);
        }
    }
    unsigned warn, alarm;
    bounds_of(v, &warn, &alarm);
    for (size_t g = 0; g < n; g++) {
        out[g].level = level_of(out[g].reserved_bytes, out[g].total_bytes, warn, alarm);
    }
    return n;
}

static const char *risk_name(unsigned risk)
{
    return risk == GPUMEM_SHM_RISK_AT_RISK ? "at_risk" : risk == GPUMEM_SHM_RISK_OK ? "ok" : "unknown";
}

/* ---- JSON ---------------------------------------------------------------- */

void gpumem__emit_json(FILE *f, const struct gpumem_view *v)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_JSON, f);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_int(&e, "schema", GPUMEM_JSON_SCHEMA);
    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "processes");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        int alarms = 0;
        for (int k = 0; k < p->ndevices; k++) alarms += p->devices[k].level == GPUMEM_LEVEL_CRITICAL;
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_int(&e, "pid", p->pid);
        /* Issue 14: the pid in the reader's namespace when known; the
         * writer's own pid namespace when it is not the reader's. */
        if (p->host_pid) gpumem__emitter_int(&e, "host_pid", p->host_pid);
        if (p->other_pid_ns) gpumem__emitter_uint(&e, "pid_namespace", p->pid_ns_inode);
        const struct {
            const char *key, *value;
        } k8s[] = { { "pod_uid", p->pod_uid },
                    { "pod", p->pod },
                    { "namespace", p->k8s_namespace },
                    { "container", p->container },
                    { "container_id", p->container_id } };
        for (size_t k = 0; k < sizeof k8s / sizeof k8s[0]; k++)
            if (k8s[k].value[0]) gpumem__emitter_string(&e, k8s[k].key, k8s[k].value);
        gpumem__emitter_bool(&e, "alive", p->liveness == GPUMEM_ALIVE);
        gpumem__emitter_string(&e, "state", gpumem__liveness_name(p->liveness));
        gpumem__emitter_uint(&e, "start_time_ticks", p->start_time_ticks);
        gpumem__emitter_string(&e, "command", p->command);
        gpumem__emitter_string(&e, "host", p->hostname);
        if (p->owner_uid >= 0) gpumem__emitter_int(&e, "owner_uid", p->owner_uid);
        gpumem__emitter_uint(&e, "oom_count", p->oom_count);
        gpumem__emitter_bool(&e, "has_memory_alarm", alarms);
        gpumem__emitter_array_begin(&e, "memory_alarm_devices");
        for (int k = 0; k < p->ndevices; k++)
            if (p->devices[k].level == GPUMEM_LEVEL_CRITICAL) {
                char name[32];
                gpumem__emitter_snprintf(name, sizeof name, "cuda:%d", p->devices[k].ordinal);
                gpumem__emitter_string(&e, NULL, name);
            }
        gpumem__emitter_array_end(&e);
        gpumem__emitter_newline(&e, 3);
        gpumem__emitter_array_begin(&e, "devices");
        for (int k = 0; k < p->ndevices; k++) {
            const struct gpumem_device *d = &p->devices[k];
            char percent[32];
            gpumem__format_percent(percent, sizeof percent, d->reserved_bytes, d->total_bytes);
            gpumem__emitter_newline(&e, 4);
            gpumem__emitter_object_begin(&e, NULL);
            gpumem__emitter_int(&e, "device_id", d->ordinal);
            gpumem__emitter_string(&e, "uuid", d->uuid);
            gpumem__emitter_string(&e, "name", d->name);
            gpumem__emitter_string(&e, "pci_bus_id", d->pci_bus_id);
            gpumem__emitter_uint(&e, "reserved_bytes", d->reserved_bytes);
            gpumem__emitter_uint(&e, "peak_bytes", d->peak_bytes);
            gpumem__emitter_uint(&e, "total_bytes", d->total_bytes);
            gpumem__emitter_uint(&e, "managed_bytes", d->managed_bytes);
            gpumem__emitter_number(&e, "percent", percent);
            gpumem__emitter_string(&e, "level", gpumem__level_name(d->level));
            gpumem__emitter_uint(&e, "alloc_count", d->alloc_count);
            gpumem__emitter_uint(&e, "free_count", d->free_count);
            gpumem__emitter_uint(&e, "failed_count", d->failed_count);
            gpumem__emitter_uint(&e, "unknown_free_count", d->unknown_free_count);
            gpumem__emitter_uint(&e, "alarm_count", d->alarm_count);
            gpumem__emitter_uint(&e, "peak_time_unix_ns", d->peak_unix_ns);
            gpumem__emitter_uint(&e, "last_transition_unix_ns", d->last_transition_unix_ns);
            /* Headroom (issue 16): 0 and "unknown" until the shim sampled it. */
            gpumem__emitter_uint(&e, "free_bytes", d->free_bytes);
            gpumem__emitter_uint(&e, "free_sampled_unix_ns", d->free_sampled_unix_ns);
            gpumem__emitter_uint(&e, "largest_recent_request", d->largest_recent_request);
            gpumem__emitter_uint(&e, "headroom_bytes", d->headroom_bytes);
            gpumem__emitter_string(&e, "risk", risk_name(d->risk));
            gpumem__emitter_bool(&e, "at_risk", d->risk == GPUMEM_SHM_RISK_AT_RISK);
            gpumem__emitter_uint(&e, "risk_changes", d->risk_changes);
            gpumem__emitter_object_end(&e);
        }
        gpumem__emitter_array_end(&e);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "gpus");
    struct gpumem_gpu gpus[64];
    size_t ng = gpumem__gpus(v, gpus, 64);
    for (size_t g = 0; g < ng; g++) {
        char percent[32];
        gpumem__format_percent(percent, sizeof percent, gpus[g].reserved_bytes, gpus[g].total_bytes);
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_string(&e, "uuid", gpus[g].uuid);
        gpumem__emitter_string(&e, "name", gpus[g].name);
        gpumem__emitter_uint(&e, "total_bytes", gpus[g].total_bytes);
        gpumem__emitter_uint(&e, "reserved_bytes", gpus[g].reserved_bytes);
        gpumem__emitter_number(&e, "percent", percent);
        gpumem__emitter_string(&e, "level", gpumem__level_name(gpus[g].level));
        gpumem__emitter_array_begin(&e, "pids");
        for (int k = 0; k < gpus[g].npids; k++) gpumem__emitter_int(&e, NULL, gpus[g].pids[k]);
        gpumem__emitter_array_end(&e);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "skipped");
    for (size_t i = 0; i < v->nskips; i++) {
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_string(&e, "path", v->skips[i].path);
        gpumem__emitter_string(&e, "reason", v->skips[i].why);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);
    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_uint(&e, "not_readable", v->unreadable);
    gpumem__emitter_uint(&e, "unfinished", v->unfinished);
    gpumem__emitter_object_end(&e);
    gpumem__emitter_finish(&e);
}

/* ---- tables --------------------------------------------------------------- */

static void device_cell(char *buf, size_t size, const struct gpumem_device *d)
{
    char held[32], total[32];
    gpumem__format_gb(held, sizeof held, d->reserved_bytes);
    gpumem__format_gb(total, sizeof total, d->total_bytes);
    gpumem__emitter_snprintf(buf, size, "%scuda:%d %s / %s %u%%%s", d->level == GPUMEM_LEVEL_CRITICAL ? "⚠ " : "",
                             d->ordinal, held, total, gpumem__percent_whole(d->reserved_bytes, d->total_bytes),
                             d->risk == GPUMEM_SHM_RISK_AT_RISK ? " RISK" : "");
}

static void skipped_lines(struct gpumem_emitter *e, const struct gpumem_view *v)
{
    for (size_t i = 0; i < v->nskips; i++)
        gpumem__emitter_printf(e, "skipped %s: %s\n", v->skips[i].path, v->skips[i].why);
}

void gpumem__emit_ls(FILE *f, const struct gpumem_view *v)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_TEXT, f);
    gpumem__emitter_row_begin(&e);
    gpumem__emitter_cell(&e, -8, "PID");
    gpumem__emitter_cell(&e, -8, "STATE");
    gpumem__emitter_cell(&e, -32, "COMMAND");
    gpumem__emitter_cell(&e, 0, "DEVICES");
    gpumem__emitter_row_end(&e);
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        /* The command cut to its column; the devices one after another. */
        char cmd[33], devices[GPUMEM_SHM_DEVICE_SLOTS * 160];
        gpumem__emitter_snprintf(cmd, sizeof cmd, "%s", p->command);
        struct gpumem_emitter list;
        gpumem__emitter_init_buffer(&list, GPUMEM_EMIT_TEXT, devices, sizeof devices);
        if (p->ndevices == 0) gpumem__emitter_text(&list, "no devices");
        for (int k = 0; k < p->ndevices; k++) {
            char cell[128];
            device_cell(cell, sizeof cell, &p->devices[k]);
            gpumem__emitter_printf(&list, "%s%s", k ? ", " : "", cell);
        }
        gpumem__emitter_row_begin(&e);
        gpumem__emitter_cell_int(&e, -8, gpumem__shown_pid(p));
        gpumem__emitter_cell(&e, -8, gpumem__liveness_name(p->liveness));
        gpumem__emitter_cell(&e, -32, cmd);
        gpumem__emitter_cell(&e, 0, devices);
        gpumem__emitter_row_end(&e);
    }
    skipped_lines(&e, v);
    gpumem__emitter_finish(&e);
}

void gpumem__emit_show(FILE *f, const struct gpumem_view *v)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_TEXT, f);
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        gpumem__emitter_printf(&e, "%spid %d (%s) on %s: %s\n", i ? "\n" : "", gpumem__shown_pid(p),
                               gpumem__liveness_name(p->liveness), p->hostname, p->command);
        if (p->other_pid_ns) {
            char host[16] = "unknown";
            if (p->host_pid) gpumem__emitter_snprintf(host, sizeof host, "%d", p->host_pid);
            gpumem__emitter_printf(&e, "  container pid %d in pid namespace %llu; host pid %s\n", p->pid,
                                   (unsigned long long)p->pid_ns_inode, host);
        }
        if (p->pod_uid[0])
            gpumem__emitter_printf(&e, "  kubernetes pod %s/%s (uid %s), container %s\n",
                                   p->k8s_namespace[0] ? p->k8s_namespace : "?", p->pod[0] ? p->pod : "?", p->pod_uid,
                                   p->container[0] ? p->container : "?");
        gpumem__emitter_printf(
            &e, "  shim %s, levels warning from %u%%, critical above %u%%; out-of-memory failures %llu\n",
            p->shim_version, p->warn_percent, p->alarm_percent, (unsigned long long)p->oom_count);
        if (p->ndevices == 0) gpumem__emitter_text(&e, "  no devices\n");
        for (int k = 0; k < p->ndevices; k++) {
            const struct gpumem_device *d = &p->devices[k];
            char cell[128], peak[32], managed[32];
            device_cell(cell, sizeof cell, d);
            gpumem__format_gb(peak, sizeof peak, d->peak_bytes);
            gpumem__format_gb(managed, sizeof managed, d->managed_bytes);
            gpumem__emitter_printf(&e, "  %s %s\n", cell, gpumem__level_name(d->level));
            gpumem__emitter_printf(&e, "    %s  %s  %s\n", d->name, d->uuid, d->pci_bus_id);
            gpumem__emitter_printf(&e, "    reserved %llu bytes, peak %s, managed %s\n",
                                   (unsigned long long)d->reserved_bytes, peak, managed);
            gpumem__emitter_printf(&e,
                                   "    allocations %llu, frees %llu, failed %llu, unknown frees %llu, alarms %llu\n",
                                   (unsigned long long)d->alloc_count, (unsigned long long)d->free_count,
                                   (unsigned long long)d->failed_count, (unsigned long long)d->unknown_free_count,
                                   (unsigned long long)d->alarm_count);
            if (d->risk != GPUMEM_SHM_RISK_UNKNOWN) {
                char free_gb[32], largest[32];
                gpumem__format_gb(free_gb, sizeof free_gb, d->free_bytes);
                gpumem__format_gb(largest, sizeof largest, d->largest_recent_request);
                gpumem__emitter_printf(&e, "    driver free %s, largest recent request %s: %s\n", free_gb, largest,
                                       d->risk == GPUMEM_SHM_RISK_AT_RISK ? "next allocation at RISK"
                                                                          : "next allocation fits");
            }
        }
    }
    skipped_lines(&e, v);
    gpumem__emitter_finish(&e);
}

/* ---- top ------------------------------------------------------------------ */

/* The last minute of a process's device from the view's history, against
 * the device's total: 0 when there is none. */
static int sparkline(char *buf, size_t size, const struct gpumem_view *v, int pid, const struct gpumem_device *d)
{
    for (size_t i = 0; i < v->nhistory; i++) {
        const struct gpumem_series *s = &v->history[i];
        if (s->pid != pid || s->device != d->ordinal || s->npoints == 0) continue;
        const struct gpumem_point *last = &s->points[s->npoints - 1];
        uint64_t cells[GPUMEM_TOP_SPARK_CELLS];
        gpumem__series_cells(s, last->unix_ns + last->width_ns, GPUMEM_TOP_SPARK_NS, cells, GPUMEM_TOP_SPARK_CELLS);
        gpumem__sparkline(buf, size, cells, GPUMEM_TOP_SPARK_CELLS, d->total_bytes, 1);
        return 1;
    }
    return 0;
}

size_t gpumem__top_frame(const struct gpumem_view *v, struct gpumem_line *lines, size_t max)
{
    size_t n = 0;
    struct gpumem_gpu gpus[64];
    size_t ng = gpumem__gpus(v, gpus, 64);
    size_t live = 0;
    for (size_t i = 0; i < v->nprocs; i++) live += v->procs[i].liveness == GPUMEM_ALIVE;
        /* Each line into its own buffer, cut at its size. */
#define LINE(lvl, head, ...)                                                            \
    do {                                                                                \
        if (n < max) {                                                                  \
            gpumem__emitter_snprintf(lines[n].text, sizeof lines[n].text, __VA_ARGS__); \
            lines[n].level = (lvl);                                                     \
            lines[n].heading = (head);                                                  \
            n++;                                                                        \
        }                                                                               \
    } while (0)
    LINE(0, 1, "gpumem top: %zu GPU%s, %zu running process%s", ng, ng == 1 ? "" : "s", live, live == 1 ? "" : "es");
    unsigned warn, alarm;
    bounds_of(v, &warn, &alarm);
    for (size_t g = 0; g < ng; g++) {
        char held[32], total[32], bar[128];
        gpumem__format_gb(held, sizeof held, gpus[g].reserved_bytes);
        gpumem__format_gb(total, sizeof total, gpus[g].total_bytes);
        /* Reserved against total, with a mark at each level bound. */
        gpumem__bar(bar, sizeof bar, gpus[g].reserved_bytes, gpus[g].total_bytes, GPUMEM_TOP_BAR_CELLS, warn, alarm, 1);
        LINE(gpus[g].level, 1, "%s%s  %s  %s / %s  %u%%  %-8s  %s", gpus[g].level == GPUMEM_LEVEL_CRITICAL ? "⚠ " : "",
             gpus[g].uuid, gpus[g].name, held, total,
             gpumem__percent_whole(gpus[g].reserved_bytes, gpus[g].total_bytes), gpumem__level_name(gpus[g].level),
             bar);
        for (size_t i = 0; i < v->nprocs; i++) {
            const struct gpumem_process *p = &v->procs[i];
            if (p->liveness != GPUMEM_ALIVE) continue;
            for (int k = 0; k < p->ndevices; k++) {
                const struct gpumem_device *d = &p->devices[k];
                if (strcmp(d->uuid, gpus[g].uuid) != 0) continue;
                char cell[128], spark[GPUMEM_TOP_SPARK_CELLS * 4 + 1];
                device_cell(cell, sizeof cell, d);
                if (sparkline(spark, sizeof spark, v, p->pid, d)) {
                    /* Padded to columns, not bytes: the warning sign is three bytes wide. */
                    size_t cols = 0;
                    for (const char *c = cell; *c; c++) cols += (*c & 0xc0) != 0x80;
                    int pad = cols < GPUMEM_TOP_CELL_COLUMNS ? (int)(GPUMEM_TOP_CELL_COLUMNS - cols) : 0;
                    LINE(d->level, 0, "    %-8d %-40.40s %s%*s  %s", gpumem__shown_pid(p), p->command, cell, pad, "",
                         spark);
                } else LINE(d->level, 0, "    %-8d %-40.40s %s", gpumem__shown_pid(p), p->command, cell);
            }
        }
    }
    size_t ended = 0;
    for (size_t i = 0; i < v->nprocs; i++) ended += v->procs[i].liveness != GPUMEM_ALIVE;
    if (ended) LINE(0, 1, "ended (last state kept; gpumem gc removes it)");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gpumem_process *p = &v->procs[i];
        if (p->liveness == GPUMEM_ALIVE) continue;
        for (int k = 0; k < p->ndevices || k == 0; k++) {
            char cell[128] = "no devices";
            if (p->ndevices) device_cell(cell, sizeof cell, &p->devices[k]);
            LINE(0, 0, "    %-8d %-40.40s %s (%s)", gpumem__shown_pid(p), p->command, cell,
                 gpumem__liveness_name(p->liveness));
        }
    }
    for (size_t i = 0; i < v->nskips; i++) LINE(0, 0, "skipped %s: %s", v->skips[i].path, v->skips[i].why);
#undef LINE
    return n;
}
