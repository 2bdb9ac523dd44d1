/* render.c - see render.h. */
#define _GNU_SOURCE
#include "render.h"
#include "report.h"

#include <string.h>

const char *gm_level_name(unsigned level)
{
    return level == GPUMEM_LEVEL_CRITICAL ? "critical" : level == GPUMEM_LEVEL_WARNING ? "warning" : "healthy";
}

const char *gm_liveness_name(enum gm_liveness l)
{
    return l == GM_ALIVE ? "running" : l == GM_EXITED ? "exited" : "dead";
}

/* reserved / total * 100 > bound (or >= with or_equal), exactly, in integers. */
static int percent_above(uint64_t reserved, uint64_t total, unsigned bound, int or_equal)
{
    uint64_t a = total / 100, b = total % 100 * bound;
    if (total == 0) return 0; /* no total known: healthy, 0 % */
    if (bound && a > UINT64_MAX / bound) return 0; /* the bound lies beyond any uint64 */
    a *= bound;
    if (b / 100 > UINT64_MAX - a) return 0;
    uint64_t floor = a + b / 100; /* total * bound / 100 = floor + (b % 100) / 100 */
    return reserved > floor || (or_equal && reserved == floor && b % 100 == 0);
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
    fprintf(f, "{\"schema\": %d,\n \"processes\": [", GM_JSON_SCHEMA);
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        int alarms = 0;
        for (int k = 0; k < p->ndevices; k++) alarms += p->devices[k].level == GPUMEM_LEVEL_CRITICAL;
        fprintf(f, "%s\n  {\"pid\": %d, \"alive\": %s, \"state\": \"%s\", \"start_time_ticks\": %llu, \"command\": ",
                i ? "," : "", p->pid, p->liveness == GM_ALIVE ? "true" : "false", gm_liveness_name(p->liveness),
                (unsigned long long)p->start_time_ticks);
        gm_json_string(f, p->command);
        fputs(", \"host\": ", f);
        gm_json_string(f, p->hostname);
        if (p->owner_uid >= 0) fprintf(f, ", \"owner_uid\": %lld", p->owner_uid);
        fprintf(f, ", \"oom_count\": %llu, \"has_memory_alarm\": %s, \"memory_alarm_devices\": [",
                (unsigned long long)p->oom_count, alarms ? "true" : "false");
        for (int k = 0, first = 1; k < p->ndevices; k++)
            if (p->devices[k].level == GPUMEM_LEVEL_CRITICAL) {
                fprintf(f, "%s\"cuda:%d\"", first ? "" : ", ", p->devices[k].ordinal);
                first = 0;
            }
        fputs("],\n   \"devices\": [", f);
        for (int k = 0; k < p->ndevices; k++) {
            const struct gm_device *d = &p->devices[k];
            char percent[32];
            gm_format_percent(percent, sizeof percent, d->reserved_bytes, d->total_bytes);
            fprintf(f, "%s\n    {\"device_id\": %d, \"uuid\": ", k ? "," : "", d->ordinal);
            gm_json_string(f, d->uuid);
            fputs(", \"name\": ", f);
            gm_json_string(f, d->name);
            fputs(", \"pci_bus_id\": ", f);
            gm_json_string(f, d->pci_bus_id);
            fprintf(f,
                    ", \"reserved_bytes\": %llu, \"peak_bytes\": %llu, \"total_bytes\": %llu, \"managed_bytes\": %llu,"
                    " \"percent\": %s, \"level\": \"%s\", \"alloc_count\": %llu, \"free_count\": %llu,"
                    " \"failed_count\": %llu, \"unknown_free_count\": %llu, \"alarm_count\": %llu,"
                    " \"peak_time_unix_ns\": %llu, \"last_transition_unix_ns\": %llu}",
                    (unsigned long long)d->reserved_bytes, (unsigned long long)d->peak_bytes,
                    (unsigned long long)d->total_bytes, (unsigned long long)d->managed_bytes,
                    percent, gm_level_name(d->level),
                    (unsigned long long)d->alloc_count, (unsigned long long)d->free_count,
                    (unsigned long long)d->failed_count, (unsigned long long)d->unknown_free_count,
                    (unsigned long long)d->alarm_count, (unsigned long long)d->peak_unix_ns,
                    (unsigned long long)d->last_transition_unix_ns);
        }
        fputs("]}", f);
    }
    fputs("],\n \"gpus\": [", f);
    struct gm_gpu gpus[64];
    size_t ng = gm_gpus(v, gpus, 64);
    for (size_t g = 0; g < ng; g++) {
        char percent[32];
        gm_format_percent(percent, sizeof percent, gpus[g].reserved_bytes, gpus[g].total_bytes);
        fprintf(f, "%s\n  {\"uuid\": ", g ? "," : "");
        gm_json_string(f, gpus[g].uuid);
        fputs(", \"name\": ", f);
        gm_json_string(f, gpus[g].name);
        fprintf(f, ", \"total_bytes\": %llu, \"reserved_bytes\": %llu, \"percent\": %s, \"level\": \"%s\", \"pids\": [",
                (unsigned long long)gpus[g].total_bytes, (unsigned long long)gpus[g].reserved_bytes, percent,
                gm_level_name(gpus[g].level));
        for (int k = 0; k < gpus[g].npids; k++) fprintf(f, "%s%d", k ? ", " : "", gpus[g].pids[k]);
        fputs("]}", f);
    }
    fputs("],\n \"skipped\": [", f);
    for (size_t i = 0; i < v->nskips; i++) {
        fprintf(f, "%s\n  {\"path\": ", i ? "," : "");
        gm_json_string(f, v->skips[i].path);
        fputs(", \"reason\": ", f);
        gm_json_string(f, v->skips[i].why);
        fputc('}', f);
    }
    fprintf(f, "],\n \"not_readable\": %zu, \"unfinished\": %zu}\n", v->unreadable, v->unfinished);
}

/* ---- tables --------------------------------------------------------------- */

static void device_cell(char *buf, size_t size, const struct gm_device *d)
{
    char held[32], total[32];
    gm_format_gb(held, sizeof held, d->reserved_bytes);
    gm_format_gb(total, sizeof total, d->total_bytes);
    snprintf(buf, size, "%scuda:%d %s / %s %u%%", d->level == GPUMEM_LEVEL_CRITICAL ? "⚠ " : "", d->ordinal, held,
             total, gm_percent_whole(d->reserved_bytes, d->total_bytes));
}

static void skipped_lines(FILE *f, const struct gm_view *v)
{
    for (size_t i = 0; i < v->nskips; i++) fprintf(f, "skipped %s: %s\n", v->skips[i].path, v->skips[i].why);
}

void gm_emit_ls(FILE *f, const struct gm_view *v)
{
    fprintf(f, "%-8s %-8s %-32s %s\n", "PID", "STATE", "COMMAND", "DEVICES");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        char cmd[33];
        snprintf(cmd, sizeof cmd, "%s", p->command);
        fprintf(f, "%-8d %-8s %-32s", p->pid, gm_liveness_name(p->liveness), cmd);
        if (p->ndevices == 0) fputs(" no devices", f);
        for (int k = 0; k < p->ndevices; k++) {
            char cell[128];
            device_cell(cell, sizeof cell, &p->devices[k]);
            fprintf(f, "%s%s", k ? ", " : " ", cell);
        }
        fputc('\n', f);
    }
    skipped_lines(f, v);
}

void gm_emit_show(FILE *f, const struct gm_view *v)
{
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        fprintf(f, "%spid %d (%s) on %s: %s\n", i ? "\n" : "", p->pid, gm_liveness_name(p->liveness), p->hostname,
                p->command);
        fprintf(f, "  shim %s, levels warning from %u%%, critical above %u%%; out-of-memory failures %llu\n",
                p->shim_version, p->warn_percent, p->alarm_percent, (unsigned long long)p->oom_count);
        if (p->ndevices == 0) fputs("  no devices\n", f);
        for (int k = 0; k < p->ndevices; k++) {
            const struct gm_device *d = &p->devices[k];
            char cell[128], peak[32], managed[32];
            device_cell(cell, sizeof cell, d);
            gm_format_gb(peak, sizeof peak, d->peak_bytes);
            gm_format_gb(managed, sizeof managed, d->managed_bytes);
            fprintf(f, "  %s %s\n", cell, gm_level_name(d->level));
            fprintf(f, "    %s  %s  %s\n", d->name, d->uuid, d->pci_bus_id);
            fprintf(f, "    reserved %llu bytes, peak %s, managed %s\n", (unsigned long long)d->reserved_bytes, peak,
                    managed);
            fprintf(f, "    allocations %llu, frees %llu, failed %llu, unknown frees %llu, alarms %llu\n",
                    (unsigned long long)d->alloc_count, (unsigned long long)d->free_count,
                    (unsigned long long)d->failed_count, (unsigned long long)d->unknown_free_count,
                    (unsigned long long)d->alarm_count);
        }
    }
    skipped_lines(f, v);
}

/* ---- top ------------------------------------------------------------------ */

size_t gm_top_frame(const struct gm_view *v, struct gm_line *lines, size_t max)
{
    size_t n = 0;
    struct gm_gpu gpus[64];
    size_t ng = gm_gpus(v, gpus, 64);
    size_t live = 0;
    for (size_t i = 0; i < v->nprocs; i++) live += v->procs[i].liveness == GM_ALIVE;
#define LINE(lvl, head, ...)                                                               \
    do {                                                                                   \
        if (n < max) {                                                                     \
            snprintf(lines[n].text, sizeof lines[n].text, __VA_ARGS__);                    \
            lines[n].level = (lvl);                                                        \
            lines[n].heading = (head);                                                     \
            n++;                                                                           \
        }                                                                                  \
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
                char cell[128], cmd[41];
                device_cell(cell, sizeof cell, d);
                snprintf(cmd, sizeof cmd, "%s", p->command);
                LINE(d->level, 0, "    %-8d %-40s %s", p->pid, cmd, cell);
            }
        }
    }
    size_t ended = 0;
    for (size_t i = 0; i < v->nprocs; i++) ended += v->procs[i].liveness != GM_ALIVE;
    if (ended) LINE(0, 1, "ended (last state kept; gpumem gc removes it)");
    for (size_t i = 0; i < v->nprocs; i++) {
        const struct gm_process *p = &v->procs[i];
        if (p->liveness == GM_ALIVE) continue;
        char cmd[41];
        snprintf(cmd, sizeof cmd, "%s", p->command);
        for (int k = 0; k < p->ndevices || k == 0; k++) {
            char cell[128] = "no devices";
            if (p->ndevices) device_cell(cell, sizeof cell, &p->devices[k]);
            LINE(0, 0, "    %-8d %-40s %s (%s)", p->pid, cmd, cell, gm_liveness_name(p->liveness));
        }
    }
    for (size_t i = 0; i < v->nskips; i++) LINE(0, 0, "skipped %s: %s", v->skips[i].path, v->skips[i].why);
#undef LINE
    return n;
}
