/* render.c - see render.h. */
#define _GNU_SOURCE
#include "render.h"
#include "report.h"

#include <string.h>

const char *gm_liveness_name(enum gm_liveness l)
{
    return l == GM_ALIVE ? "running" : l == GM_EXITED ? "exited" : "dead";
}

/* reserved / total * 100 > bound (or >= with or_equal), exactly, in integers.
 * A bound beyond any uint64 (UINT64_MAX, not exact) is never reached. */
static int percent_above(uint64_t reserved, uint64_t total, unsigned bound, int or_equal)
{
    if (total == 0) return 0; /* no total known: healthy, 0 % */
    int exact;
    uint64_t floor = gm_percent_of(total, bound, &exact);
    return reserved > floor || (or_equal && reserved == floor && exact);
}

static unsigned level_of(uint64_t reserved, uint64_t total, unsigned warn, unsigned alarm)
{
    return percent_above(reserved, total, alarm, 0)  ? GPUMEM_LEVEL_CRITICAL
           : percent_above(reserved, total, warn, 1) ? GPUMEM_LEVEL_WARNING
                                                     : GPUMEM_LEVEL_HEALTHY;
}

size_t gm_gpus(const struct gm_view *v, struct gm_gpu *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        if (p->liveness != GM_ALIVE) continue;
        for (int k = 0; k < p->ndevices; k++) {
            const struct gm_device *d = &p->devices[k];
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
                                         ? UINT64_MAX - out[g].reserved_bytes : d->reserved_bytes;
            if (out[g].npids < GM_MAX_GPU_PIDS) out[g].pids[out[g].npids++] = p->pid;
        }
    }
    for (size_t g = 0; g < n; g++) {
        unsigned warn = 80, alarm = 90;
        if (v->nprocs && v->procs[0].warn_percent && v->procs[0].alarm_percent) {
            warn = v->procs[0].warn_percent;
            alarm = v->procs[0].alarm_percent;
        }
        out[g].level = level_of(out[g].reserved_bytes, out[g].total_bytes, warn, alarm);
    }
    return n;
}

/* ---- JSON ---------------------------------------------------------------- */

void gm_emit_json(FILE *f, const struct gm_view *v)
{
    struct gm_emitter e;
    gm_emitter_init_file(&e, GM_EMIT_JSON, f);
    gm_emitter_object_begin(&e, NULL);
    gm_emitter_int(&e, "schema", GM_JSON_SCHEMA);
    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "processes");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        int alarms = 0;
        for (int k = 0; k < p->ndevices; k++) alarms += p->devices[k].level == GPUMEM_LEVEL_CRITICAL;
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_int(&e, "pid", p->pid);
        gm_emitter_bool(&e, "alive", p->liveness == GM_ALIVE);
        gm_emitter_string(&e, "state", gm_liveness_name(p->liveness));
        gm_emitter_uint(&e, "start_time_ticks", p->start_time_ticks);
        gm_emitter_string(&e, "command", p->command);
        gm_emitter_string(&e, "host", p->hostname);
        if (p->owner_uid >= 0) gm_emitter_int(&e, "owner_uid", p->owner_uid);
        gm_emitter_uint(&e, "oom_count", p->oom_count);
        gm_emitter_bool(&e, "has_memory_alarm", alarms);
        gm_emitter_array_begin(&e, "memory_alarm_devices");
        for (int k = 0; k < p->ndevices; k++)
            if (p->devices[k].level == GPUMEM_LEVEL_CRITICAL) {
                char name[32];
                gm_emitter_snprintf(name, sizeof name, "cuda:%d", p->devices[k].ordinal);
                gm_emitter_string(&e, NULL, name);
            }
        gm_emitter_array_end(&e);
        gm_emitter_newline(&e, 3);
        gm_emitter_array_begin(&e, "devices");
        for (int k = 0; k < p->ndevices; k++) {
            const struct gm_device *d = &p->devices[k];
            char percent[32];
            gm_format_percent(percent, sizeof percent, d->reserved_bytes, d->total_bytes);
            gm_emitter_newline(&e, 4);
            gm_emitter_object_begin(&e, NULL);
            gm_emitter_int(&e, "device_id", d->ordinal);
            gm_emitter_string(&e, "uuid", d->uuid);
            gm_emitter_string(&e, "name", d->name);
            gm_emitter_string(&e, "pci_bus_id", d->pci_bus_id);
            gm_emitter_uint(&e, "reserved_bytes", d->reserved_bytes);
            gm_emitter_uint(&e, "peak_bytes", d->peak_bytes);
            gm_emitter_uint(&e, "total_bytes", d->total_bytes);
            gm_emitter_uint(&e, "managed_bytes", d->managed_bytes);
            gm_emitter_number(&e, "percent", percent);
            gm_emitter_string(&e, "level", gm_level_name(d->level));
            gm_emitter_uint(&e, "alloc_count", d->alloc_count);
            gm_emitter_uint(&e, "free_count", d->free_count);
            gm_emitter_uint(&e, "failed_count", d->failed_count);
            gm_emitter_uint(&e, "unknown_free_count", d->unknown_free_count);
            gm_emitter_uint(&e, "alarm_count", d->alarm_count);
            gm_emitter_uint(&e, "peak_time_unix_ns", d->peak_unix_ns);
            gm_emitter_uint(&e, "last_transition_unix_ns", d->last_transition_unix_ns);
            gm_emitter_object_end(&e);
        }
        gm_emitter_array_end(&e);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "gpus");
    struct gm_gpu gpus[64];
    size_t ng = gm_gpus(v, gpus, 64);
    for (size_t g = 0; g < ng; g++) {
        char percent[32];
        gm_format_percent(percent, sizeof percent, gpus[g].reserved_bytes, gpus[g].total_bytes);
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_string(&e, "uuid", gpus[g].uuid);
        gm_emitter_string(&e, "name", gpus[g].name);
        gm_emitter_uint(&e, "total_bytes", gpus[g].total_bytes);
        gm_emitter_uint(&e, "reserved_bytes", gpus[g].reserved_bytes);
        gm_emitter_number(&e, "percent", percent);
        gm_emitter_string(&e, "level", gm_level_name(gpus[g].level));
        gm_emitter_array_begin(&e, "pids");
        for (int k = 0; k < gpus[g].npids; k++) gm_emitter_int(&e, NULL, gpus[g].pids[k]);
        gm_emitter_array_end(&e);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "skipped");
    for (size_t i = 0; i < v->nskips; i++) {
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_string(&e, "path", v->skips[i].path);
        gm_emitter_string(&e, "reason", v->skips[i].why);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);
    gm_emitter_newline(&e, 1);
    gm_emitter_uint(&e, "not_readable", v->unreadable);
    gm_emitter_uint(&e, "unfinished", v->unfinished);
    gm_emitter_object_end(&e);
    gm_emitter_finish(&e);
}

/* ---- tables --------------------------------------------------------------- */

static void device_cell(char *buf, size_t size, const struct gm_device *d)
{
    char held[32], total[32];
    gm_format_gb(held, sizeof held, d->reserved_bytes);
    gm_format_gb(total, sizeof total, d->total_bytes);
    gm_emitter_snprintf(buf, size, "%scuda:%d %s / %s %u%%", d->level == GPUMEM_LEVEL_CRITICAL ? "⚠ " : "",
                        d->ordinal, held, total, gm_percent_whole(d->reserved_bytes, d->total_bytes));
}

static void skipped_lines(struct gm_emitter *e, const struct gm_view *v)
{
    for (size_t i = 0; i < v->nskips; i++) gm_emitter_printf(e, "skipped %s: %s\n", v->skips[i].path, v->skips[i].why);
}

void gm_emit_ls(FILE *f, const struct gm_view *v)
{
    struct gm_emitter e;
    gm_emitter_init_file(&e, GM_EMIT_TEXT, f);
    gm_emitter_row_begin(&e);
    gm_emitter_cell(&e, -8, "PID");
    gm_emitter_cell(&e, -8, "STATE");
    gm_emitter_cell(&e, -32, "COMMAND");
    gm_emitter_cell(&e, 0, "DEVICES");
    gm_emitter_row_end(&e);
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        /* The command cut to its column; the devices one after another. */
        char cmd[33], devices[GPUMEM_SHM_DEVICE_SLOTS * 160];
        gm_emitter_snprintf(cmd, sizeof cmd, "%s", p->command);
        struct gm_emitter list;
        gm_emitter_init_buffer(&list, GM_EMIT_TEXT, devices, sizeof devices);
        if (p->ndevices == 0) gm_emitter_text(&list, "no devices");
        for (int k = 0; k < p->ndevices; k++) {
            char cell[128];
            device_cell(cell, sizeof cell, &p->devices[k]);
            gm_emitter_printf(&list, "%s%s", k ? ", " : "", cell);
        }
        gm_emitter_row_begin(&e);
        gm_emitter_cell_int(&e, -8, p->pid);
        gm_emitter_cell(&e, -8, gm_liveness_name(p->liveness));
        gm_emitter_cell(&e, -32, cmd);
        gm_emitter_cell(&e, 0, devices);
        gm_emitter_row_end(&e);
    }
    skipped_lines(&e, v);
    gm_emitter_finish(&e);
}

void gm_emit_show(FILE *f, const struct gm_view *v)
{
    struct gm_emitter e;
    gm_emitter_init_file(&e, GM_EMIT_TEXT, f);
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        gm_emitter_printf(&e, "%spid %d (%s) on %s: %s\n", i ? "\n" : "", p->pid, gm_liveness_name(p->liveness),
                          p->hostname, p->command);
        gm_emitter_printf(&e, "  shim %s, levels warning from %u%%, critical above %u%%; out-of-memory failures %llu\n",
                          p->shim_version, p->warn_percent, p->alarm_percent, (unsigned long long)p->oom_count);
        if (p->ndevices == 0) gm_emitter_text(&e, "  no devices\n");
        for (int k = 0; k < p->ndevices; k++) {
            const struct gm_device *d = &p->devices[k];
            char cell[128], peak[32], managed[32];
            device_cell(cell, sizeof cell, d);
            gm_format_gb(peak, sizeof peak, d->peak_bytes);
            gm_format_gb(managed, sizeof managed, d->managed_bytes);
            gm_emitter_printf(&e, "  %s %s\n", cell, gm_level_name(d->level));
            gm_emitter_printf(&e, "    %s  %s  %s\n", d->name, d->uuid, d->pci_bus_id);
            gm_emitter_printf(&e, "    reserved %llu bytes, peak %s, managed %s\n",
                              (unsigned long long)d->reserved_bytes, peak, managed);
            gm_emitter_printf(&e, "    allocations %llu, frees %llu, failed %llu, unknown frees %llu, alarms %llu\n",
                              (unsigned long long)d->alloc_count, (unsigned long long)d->free_count,
                              (unsigned long long)d->failed_count, (unsigned long long)d->unknown_free_count,
                              (unsigned long long)d->alarm_count);
        }
    }
    skipped_lines(&e, v);
    gm_emitter_finish(&e);
}

/* ---- top ------------------------------------------------------------------ */

size_t gm_top_frame(const struct gm_view *v, struct gm_line *lines, size_t max)
{
    size_t n = 0;
    struct gm_gpu gpus[64];
    size_t ng = gm_gpus(v, gpus, 64);
    size_t live = 0;
    for (size_t i = 0; i < v->nprocs; i++) live += v->procs[i].liveness == GM_ALIVE;
    /* Each line into its own buffer, cut at its size. */
#define LINE(lvl, head, ...)                                                                                           \
    do {                                                                                                               \
        if (n < max) {                                                                                                 \
            gm_emitter_snprintf(lines[n].text, sizeof lines[n].text, __VA_ARGS__);                                     \
            lines[n].level = (lvl);                                                                                    \
            lines[n].heading = (head);                                                                                 \
            n++;                                                                                                       \
        }                                                                                                              \
    } while (0)
    LINE(0, 1, "gpumem top: %zu GPU%s, %zu running process%s", ng, ng == 1 ? "" : "s", live, live == 1 ? "" : "es");
    for (size_t g = 0; g < ng; g++) {
        char held[32], total[32];
        gm_format_gb(held, sizeof held, gpus[g].reserved_bytes);
        gm_format_gb(total, sizeof total, gpus[g].total_bytes);
        LINE(gpus[g].level, 1, "%s%s  %s  %s / %s  %u%%  %s", gpus[g].level == GPUMEM_LEVEL_CRITICAL ? "⚠ " : "",
             gpus[g].uuid, gpus[g].name, held, total, gm_percent_whole(gpus[g].reserved_bytes, gpus[g].total_bytes),
             gm_level_name(gpus[g].level));
        for (size_t i = 0; i < v->nprocs; i++) {
            const struct gm_process *p = &v->procs[i];
            if (p->liveness != GM_ALIVE) continue;
            for (int k = 0; k < p->ndevices; k++) {
                const struct gm_device *d = &p->devices[k];
                if (strcmp(d->uuid, gpus[g].uuid) != 0) continue;
                char cell[128];
                device_cell(cell, sizeof cell, d);
                LINE(d->level, 0, "    %-8d %-40.40s %s", p->pid, p->command, cell);
            }
        }
    }
    size_t ended = 0;
    for (size_t i = 0; i < v->nprocs; i++) ended += v->procs[i].liveness != GM_ALIVE;
    if (ended) LINE(0, 1, "ended (last state kept; gpumem gc removes it)");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        if (p->liveness == GM_ALIVE) continue;
        for (int k = 0; k < p->ndevices || k == 0; k++) {
            char cell[128] = "no devices";
            if (p->ndevices) device_cell(cell, sizeof cell, &p->devices[k]);
            LINE(0, 0, "    %-8d %-40.40s %s (%s)", p->pid, p->command, cell, gm_liveness_name(p->liveness));
        }
    }
    for (size_t i = 0; i < v->nskips; i++) LINE(0, 0, "skipped %s: %s", v->skips[i].path, v->skips[i].why);
#undef LINE
    return n;
}
