/*
 * cmd_history.c - gpumem history PID|FILE [--device cuda:N] [--since DURATION]
 * [--csv|--json] [--prefix P]: a process's buckets (history.h), oldest
 * first, in integer bytes, each stamped in Unix seconds and ISO 8601 UTC.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "emit.h"
#include "format.h"
#include "history.h"
#include "segment_read.h"
#include "view.h"

static int usage(const char *why)
{
    if (why) fprintf(stderr, "gpumem history: %s\n", why);
    fputs("usage: gpumem history PID|FILE [--device cuda:N] [--since DURATION] [--csv|--json] [--prefix NAME]\n"
          "  DURATION: digits and a unit of ms, s, m, h or d (90s, 10m, 1h, 1d)\n",
          stderr);
    return GPUMEM_EXIT_USAGE;
}

static const char *const columns[] = { "unix",       "time",      "device",     "width_ms",
                                       "high_bytes", "low_bytes", "last_bytes", "allocs" };
#define NCOLUMNS (sizeof columns / sizeof columns[0])

static void emit_point(struct gpumem_emitter *e, const struct gpumem_series *s, const struct gpumem_point *p)
{
    char unix_s[32], iso[40], dev[16];
    gpumem__format_unix_seconds(unix_s, sizeof unix_s, p->unix_ns);
    gpumem__format_iso8601(iso, sizeof iso, p->unix_ns);
    snprintf(dev, sizeof dev, "cuda:%d", s->device);
    if (e->format == GPUMEM_EMIT_JSON) {
        gpumem__emitter_newline(e, 6);
        gpumem__emitter_object_begin(e, NULL);
        gpumem__emitter_number(e, "unix", unix_s);
        gpumem__emitter_string(e, "time", iso);
        gpumem__emitter_uint(e, "width_ms", p->width_ns / 1000000u);
        gpumem__emitter_uint(e, "high_bytes", p->high_bytes);
        gpumem__emitter_uint(e, "low_bytes", p->low_bytes);
        gpumem__emitter_uint(e, "last_bytes", p->last_bytes);
        gpumem__emitter_uint(e, "allocs", p->allocs);
        gpumem__emitter_object_end(e);
        return;
    }
    static const int widths[NCOLUMNS] = { -14, -24, -7, 8, 14, 14, 14, 8 };
    gpumem__emitter_row_begin(e);
    gpumem__emitter_cell(e, widths[0], unix_s);
    gpumem__emitter_cell(e, widths[1], iso);
    gpumem__emitter_cell(e, widths[2], dev);
    gpumem__emitter_cell_uint(e, widths[3], p->width_ns / 1000000u);
    gpumem__emitter_cell_uint(e, widths[4], p->high_bytes);
    gpumem__emitter_cell_uint(e, widths[5], p->low_bytes);
    gpumem__emitter_cell_uint(e, widths[6], p->last_bytes);
    gpumem__emitter_cell_uint(e, widths[7], p->allocs);
    gpumem__emitter_row_end(e);
}

static void emit_marks(struct gpumem_emitter *e, const struct gpumem_series *s)
{
    gpumem__emitter_array_begin(e, "marks");
    for (size_t k = 0; k < s->nmarks; k++) {
        const struct gpumem_mark *m = &s->marks[k];
        char unix_s[32], iso[40];
        gpumem__format_unix_seconds(unix_s, sizeof unix_s, m->unix_ns);
        gpumem__format_iso8601(iso, sizeof iso, m->unix_ns);
        gpumem__emitter_newline(e, 6);
        gpumem__emitter_object_begin(e, NULL);
        gpumem__emitter_string(e, "kind", m->kind == GPUMEM_MARK_OOM ? "oom" : "level");
        gpumem__emitter_number(e, "unix", unix_s);
        gpumem__emitter_string(e, "time", iso);
        gpumem__emitter_uint(e, "reserved_bytes", m->reserved_bytes);
        if (m->kind == GPUMEM_MARK_LEVEL) {
            gpumem__emitter_string(e, "level", gpumem__level_name(m->level));
            gpumem__emitter_string(e, "previous", gpumem__level_name(m->previous));
        }
        gpumem__emitter_object_end(e);
    }
    gpumem__emitter_array_end(e);
}

static int print(const struct gpumem_series *s, int n, enum gpumem_emit_format format)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, format, stdout);
    if (format == GPUMEM_EMIT_JSON) {
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_int(&e, "pid", n ? s[0].pid : 0);
        gpumem__emitter_array_begin(&e, "series");
        for (int i = 0; i < n; i++) {
            char dev[16];
            snprintf(dev, sizeof dev, "cuda:%d", s[i].device);
            gpumem__emitter_newline(&e, 2);
            gpumem__emitter_object_begin(&e, NULL);
            gpumem__emitter_string(&e, "device", dev);
            gpumem__emitter_string(&e, "uuid", s[i].uuid);
            gpumem__emitter_string(&e, "name", s[i].name);
            gpumem__emitter_string(&e, "label", s[i].label);
            gpumem__emitter_uint(&e, "total_bytes", s[i].total_bytes);
            gpumem__emitter_newline(&e, 4);
            gpumem__emitter_array_begin(&e, "points");
            for (size_t k = 0; k < s[i].npoints; k++) emit_point(&e, &s[i], &s[i].points[k]);
            gpumem__emitter_array_end(&e);
            gpumem__emitter_newline(&e, 4);
            emit_marks(&e, &s[i]);
            gpumem__emitter_object_end(&e);
        }
        gpumem__emitter_array_end(&e);
        gpumem__emitter_object_end(&e);
    } else {
        gpumem__emitter_row_begin(&e);
        static const int widths[NCOLUMNS] = { -14, -24, -7, 8, 14, 14, 14, 8 };
        for (size_t c = 0; c < NCOLUMNS; c++)
            gpumem__emitter_cell(&e, format == GPUMEM_EMIT_TEXT ? widths[c] : 0, columns[c]);
        gpumem__emitter_row_end(&e);
        for (int i = 0; i < n; i++)
            for (size_t k = 0; k < s[i].npoints; k++) emit_point(&e, &s[i], &s[i].points[k]);
    }
    return gpumem__emitter_finish(&e) == 0 && fflush(stdout) == 0 ? GPUMEM_EXIT_OK : GPUMEM_EXIT_SKIPPED;
}

int gpumem__cmd_history(int argc, char **argv)
{
    const char *prefix = getenv("GPUMEM_SHM_PREFIX"), *dir = getenv("GPUMEM_SHM_DIR"), *file = NULL;
    if (!prefix || !*prefix) prefix = "gpumem";
    if (!dir || !*dir) dir = "/dev/shm";
    int pid = 0, device = -1;
    uint64_t since = 0;
    enum gpumem_emit_format format = GPUMEM_EMIT_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--csv") == 0) format = GPUMEM_EMIT_CSV;
        else if (strcmp(a, "--json") == 0) format = GPUMEM_EMIT_JSON;
        else if (strcmp(a, "--prefix") == 0 && i + 1 < argc) prefix = argv[++i];
        else if (strcmp(a, "--since") == 0 && i + 1 < argc) {
            if (!gpumem__parse_duration(argv[++i], &since) || since == 0)
                return usage("--since takes a duration such as 90s, 10m, 1h or 1d");
        } else if (strcmp(a, "--device") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strncmp(v, "cuda:", 5) == 0) v += 5;
            if (!*v || strlen(v) > 4 || strspn(v, "0123456789") != strlen(v)) return usage("--device takes cuda:N");
            device = atoi(v);
        } else if (!pid && !file && a[0] >= '1' && a[0] <= '9' && strspn(a, "0123456789") == strlen(a) &&
                   strlen(a) < 10) {
            pid = atoi(a);
        } else if (!pid && !file && a[0] != '-') {
            file = a;
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown argument '%.200s'", a);
            return usage(msg);
        }
    }
    if (!pid && !file) return usage("a PID or a segment file is needed");
    if (!gpumem__prefix_valid(prefix)) return usage("--prefix takes 1 to 32 letters, digits, '_' or '-'");
    struct gpumem_series *s;
    char why[512];
    int n = gpumem__history_load(dir, prefix, pid, file, device, since, &s, why, sizeof why);
    if (n < 0) {
        fprintf(stderr, "gpumem history: %s\n", why);
        return GPUMEM_EXIT_NOT_FOUND;
    }
    int rc = print(s, n, format);
    gpumem__history_free(s, (size_t)n);
    return rc;
}
