/* report.c - see report.h. */
#define _GNU_SOURCE
#include "report.h"
#include "sparkline.h"

#include <string.h>

const char *gpumem__api_name(unsigned api)
{
    switch (api) {
#define GPUMEM_API_CASE(name, value, text) \
    case (value): return text;
        GPUMEM_SHM_API_MAP(GPUMEM_API_CASE)
#undef GPUMEM_API_CASE
    }
    return "unknown";
}

static const struct gpumem_device *device_of(const struct gpumem_process *p, int ordinal)
{
    for (int k = 0; k < p->ndevices; k++)
        if (p->devices[k].ordinal == ordinal) return &p->devices[k];
    return NULL;
}

static void error_name(char *buf, size_t size, unsigned api, int result)
{
    int runtime = api >= GPUMEM_API_CUDA_MALLOC;
    const char *name = result == 2 ? (runtime ? "cudaErrorMemoryAllocation" : "CUDA_ERROR_OUT_OF_MEMORY") : "error";
    gpumem__emitter_snprintf(buf, size, "%s (%d)", name, result);
}

static void verdict(char *buf, size_t size, const struct gpumem_process *p, const struct gpumem_oom *o)
{
    const struct gpumem_device *d = device_of(p, o->device);
    char want[32], free_b[32];
    gpumem__format_size(want, sizeof want, o->requested_bytes);
    gpumem__format_size(free_b, sizeof free_b, o->driver_free_bytes);
    uint64_t held = o->device >= 0 && o->device < (int)GPUMEM_SHM_OOM_DEVICES ? o->devices[o->device].reserved_bytes
                                                                              : 0;
    uint64_t total = d ? d->total_bytes : o->driver_total_bytes;
    unsigned pct = gpumem__percent_whole(held, total);
    if (o->driver_total_bytes)
        gpumem__emitter_snprintf(
            buf, size, "cuda:%d was %u%% reserved by this process; the request of %s could not fit in %s free",
            o->device, pct, want, free_b);
    else
        gpumem__emitter_snprintf(buf, size, "cuda:%d was %u%% reserved by this process; the request of %s failed",
                                 o->device, pct, want);
}

/* The next line of multi-line text s (frames, environment): its length;
 * *next is where the line after it starts. */
static size_t line_of(const char *s, const char **next)
{
    const char *nl = strchr(s, '\n');
    size_t len = nl ? (size_t)(nl - s) : strlen(s);
    *next = s + len + (nl ? 1 : 0);
    return len;
}

/* s[0..len), cut to what fits in dst. */
static void cut(char *dst, size_t size, const char *s, size_t len)
{
    if (len >= size) len = size - 1;
    memcpy(dst, s, len);
    dst[len] = '\0';
}

/* ---- human text ---------------------------------------------------------- */

static void report_text(struct gpumem_emitter *e, const struct gpumem_process *p, const struct gpumem_oom *o)
{
    char when[64], line[512], a[32], b[32], c[32], err[64], secs[32];
    gpumem__format_utc(when, sizeof when, o->unix_ns);
    const struct gpumem_device *fd = device_of(p, o->device);
    gpumem__emitter_printf(e, "gpumem out-of-memory report #%llu: pid %d on %s, %s\n", (unsigned long long)o->number,
                           p->pid, p->hostname, when);
    gpumem__emitter_printf(e, "command: %s\n", p->command);
    verdict(line, sizeof line, p, o);
    gpumem__emitter_printf(e, "\nVerdict: %s.\n", line);
    gpumem__format_size(a, sizeof a, o->requested_bytes);
    error_name(err, sizeof err, o->api, o->result);
    gpumem__emitter_printf(e, "Failing call: %s -> %s on cuda:%d %s (%s), %llu bytes (%s) requested\n",
                           gpumem__api_name(o->api), err, o->device, fd ? fd->uuid : "?", fd ? fd->name : "?",
                           (unsigned long long)o->requested_bytes, a);

    gpumem__emitter_text(e, "\nDevices at the failure\n");
    for (int k = 0; k < p->ndevices; k++) {
        const struct gpumem_device *d = &p->devices[k];
        if (d->ordinal >= (int)GPUMEM_SHM_OOM_DEVICES) continue;
        const typeof(o->devices[0]) *s = &o->devices[d->ordinal];
        gpumem__format_size(a, sizeof a, s->reserved_bytes);
        gpumem__format_size(b, sizeof b, d->total_bytes);
        gpumem__format_size(c, sizeof c, s->peak_bytes);
        char peak_at[64] = "-";
        if (s->peak_unix_ns) {
            gpumem__format_seconds(secs, sizeof secs, s->peak_unix_ns, o->unix_ns);
            gpumem__emitter_snprintf(peak_at, sizeof peak_at, "%ss before", secs);
        }
        gpumem__emitter_printf(e, "  cuda:%d  reserved %s of %s (%u%%), peak %s (%s)", d->ordinal, a, b,
                               gpumem__percent_whole(s->reserved_bytes, d->total_bytes), c, peak_at);
        gpumem__format_size(a, sizeof a, s->managed_bytes);
        gpumem__emitter_printf(e, ", managed %s", a);
        if (d->ordinal == o->device && o->driver_total_bytes) {
            gpumem__format_size(a, sizeof a, o->driver_free_bytes);
            gpumem__format_size(b, sizeof b, o->driver_total_bytes);
            gpumem__emitter_printf(e, ", driver free %s of %s", a, b);
        }
        gpumem__emitter_text(e, "\n");
    }

    gpumem__emitter_printf(e, "\nLargest live allocations (%llu live in all)\n", (unsigned long long)o->live_count);
    if (o->nlarge == 0) gpumem__emitter_text(e, "  none\n");
    for (size_t i = 0; i < o->nlarge && i < GPUMEM_REPORT_TOP; i++) {
        const struct gpumem_large *l = &o->large[i];
        gpumem__format_size(a, sizeof a, l->bytes);
        gpumem__format_seconds(secs, sizeof secs, l->unix_ns, o->unix_ns);
        gpumem__emitter_printf(e, "  %2zu. %12s  cuda:%d  0x%llx  %-24s %ss old\n", i + 1, a, l->device,
                               (unsigned long long)l->address, gpumem__api_name(l->api), secs);
        for (const char *t = l->trace, *next; *t; t = next) {
            size_t len = line_of(t, &next);
            gpumem__emitter_printf(e, "        at %.*s\n", (int)len, t);
        }
    }

    gpumem__emitter_text(e, "\nLive allocations by size\n");
    int any = 0;
    for (unsigned k = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        any = 1;
        gpumem__format_size(a, sizeof a, 1ull << k);
        gpumem__format_size(b, sizeof b, k + 1 < 64 ? 1ull << (k + 1) : 0);
        gpumem__format_size(c, sizeof c, o->hist_bytes[k]);
        gpumem__emitter_printf(e, "  [%s, %s)  %llu allocations, %s\n", a, b, (unsigned long long)o->hist_count[k], c);
    }
    if (!any) gpumem__emitter_text(e, "  none\n");

    gpumem__emitter_text(e, "\nLevel changes\n");
    if (o->ntransitions == 0) gpumem__emitter_text(e, "  none\n");
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gpumem_transition *t = &o->transitions[i];
        gpumem__format_size(a, sizeof a, t->reserved_bytes);
        gpumem__format_seconds(secs, sizeof secs, t->unix_ns, o->unix_ns);
        gpumem__emitter_printf(e, "  %9ss before  cuda:%d  %s -> %s at %s\n", secs, t->device,
                               gpumem__level_name(t->previous), gpumem__level_name(t->level), a);
    }

    size_t first = o->nevents > GPUMEM_REPORT_EVENTS ? o->nevents - GPUMEM_REPORT_EVENTS : 0;
    gpumem__emitter_printf(e, "\nLast %zu events, oldest first\n", o->nevents - first);
    for (size_t i = first; i < o->nevents; i++) {
        const struct gpumem_event *ev = &o->events[i];
        gpumem__format_size(a, sizeof a, ev->bytes);
        if (ev->result) error_name(err, sizeof err, ev->api, ev->result);
        gpumem__format_seconds(secs, sizeof secs, ev->unix_ns, o->unix_ns);
        gpumem__emitter_printf(e, "  %9ss before  %-5s %-24s cuda:%-2d %12s  0x%llx  %s\n", secs,
                               ev->op == GPUMEM_OP_FREE ? "free" : "alloc", gpumem__api_name(ev->api), ev->device, a,
                               (unsigned long long)ev->address, ev->result ? err : "ok");
    }

    gpumem__emitter_printf(e, "\nAllocator environment\n%s", o->environment[0] ? "" : "  none set\n");
    for (const char *s = o->environment, *next; *s; s = next) {
        size_t len = line_of(s, &next);
        gpumem__emitter_printf(e, "  %.*s\n", (int)len, s);
    }
    gpumem__emitter_printf(e, "\nOut-of-memory failures in this process so far: %llu\n",
                           (unsigned long long)o->oom_count);
    if (o->nminute && o->nminute <= GPUMEM_OOM_MINUTE_CELLS) {
        char spark[GPUMEM_OOM_MINUTE_CELLS * 3 + 1];
        gpumem__sparkline(spark, sizeof spark, o->minute, o->nminute, fd ? fd->total_bytes : 0, 1);
        gpumem__format_gb(a, sizeof a, fd ? fd->total_bytes : 0);
        gpumem__emitter_printf(e, "Last minute on cuda:%d (a second a cell, against %s): %s\n", o->device, a, spark);
    }
}

void gpumem__report_text(FILE *f, const struct gpumem_process *p, const struct gpumem_oom *o)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_TEXT, f);
    report_text(&e, p, o);
    gpumem__emitter_finish(&e);
}

/* ---- JSON ------------------------------------------------------------------ */

void gpumem__report_json(FILE *f, const struct gpumem_process *p, const struct gpumem_oom *o)
{
    char buf[512], err[64], num[32];
    const struct gpumem_device *fd = device_of(p, o->device);
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_JSON, f);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_int(&e, "schema", GPUMEM_REPORT_SCHEMA);
    gpumem__emitter_string(&e, "kind", "gpumem-oom-report");
    gpumem__emitter_string(&e, "gpumem_version", p->shim_version);
    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_uint(&e, "time_unix_ns", o->unix_ns);
    gpumem__format_utc(buf, sizeof buf, o->unix_ns);
    gpumem__emitter_string(&e, "time", buf);
    gpumem__emitter_string(&e, "host", p->hostname);
    gpumem__emitter_int(&e, "pid", p->pid);
    gpumem__emitter_uint(&e, "start_time_ticks", p->start_time_ticks);
    gpumem__emitter_string(&e, "command", p->command);
    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_uint(&e, "oom_number", o->number);
    gpumem__emitter_uint(&e, "oom_count", o->oom_count);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_object_begin(&e, "failure");
    gpumem__emitter_string(&e, "api", gpumem__api_name(o->api));
    gpumem__emitter_int(&e, "error_code", o->result);
    error_name(err, sizeof err, o->api, o->result);
    gpumem__emitter_string(&e, "error", err);
    gpumem__emitter_int(&e, "device_id", o->device);
    gpumem__emitter_string(&e, "uuid", fd ? fd->uuid : "");
    gpumem__emitter_string(&e, "name", fd ? fd->name : "");
    gpumem__emitter_uint(&e, "requested_bytes", o->requested_bytes);
    gpumem__emitter_uint(&e, "driver_free_bytes", o->driver_free_bytes);
    gpumem__emitter_uint(&e, "driver_total_bytes", o->driver_total_bytes);
    gpumem__emitter_object_end(&e);
    gpumem__emitter_newline(&e, 1);
    verdict(buf, sizeof buf, p, o);
    gpumem__emitter_string(&e, "verdict", buf);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "devices");
    for (int k = 0; k < p->ndevices; k++) {
        const struct gpumem_device *d = &p->devices[k];
        if (d->ordinal >= (int)GPUMEM_SHM_OOM_DEVICES) continue;
        const typeof(o->devices[0]) *s = &o->devices[d->ordinal];
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_int(&e, "device_id", d->ordinal);
        gpumem__emitter_string(&e, "uuid", d->uuid);
        gpumem__emitter_string(&e, "name", d->name);
        gpumem__emitter_uint(&e, "total_bytes", d->total_bytes);
        gpumem__emitter_uint(&e, "reserved_bytes", s->reserved_bytes);
        gpumem__emitter_uint(&e, "peak_bytes", s->peak_bytes);
        gpumem__emitter_uint(&e, "peak_time_unix_ns", s->peak_unix_ns);
        gpumem__emitter_uint(&e, "managed_bytes", s->managed_bytes);
        gpumem__format_percent(num, sizeof num, s->reserved_bytes, d->total_bytes);
        gpumem__emitter_number(&e, "percent", num);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "largest_allocations");
    for (size_t i = 0; i < o->nlarge && i < GPUMEM_REPORT_TOP; i++) {
        const struct gpumem_large *l = &o->large[i];
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_uint(&e, "bytes", l->bytes);
        gpumem__emitter_snprintf(num, sizeof num, "0x%llx", (unsigned long long)l->address);
        gpumem__emitter_string(&e, "address", num);
        gpumem__emitter_int(&e, "device_id", l->device);
        gpumem__emitter_string(&e, "api", gpumem__api_name(l->api));
        gpumem__format_seconds(num, sizeof num, l->unix_ns, o->unix_ns);
        gpumem__emitter_number(&e, "age_seconds", num);
        gpumem__emitter_array_begin(&e, "backtrace");
        for (const char *t = l->trace, *next; *t; t = next) {
            char frame[256];
            cut(frame, sizeof frame, t, line_of(t, &next));
            gpumem__emitter_string(&e, NULL, frame);
        }
        gpumem__emitter_array_end(&e);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_object_begin(&e, "live_allocations");
    gpumem__emitter_uint(&e, "count", o->live_count);
    gpumem__emitter_array_begin(&e, "histogram");
    for (unsigned k = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_uint(&e, "from_bytes", 1ull << k);
        gpumem__emitter_uint(&e, "to_bytes", 1ull << (k + 1));
        gpumem__emitter_uint(&e, "count", o->hist_count[k]);
        gpumem__emitter_uint(&e, "bytes", o->hist_bytes[k]);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);
    gpumem__emitter_object_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "transitions");
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gpumem_transition *t = &o->transitions[i];
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_uint(&e, "time_unix_ns", t->unix_ns);
        gpumem__emitter_int(&e, "device_id", t->device);
        gpumem__emitter_string(&e, "from", gpumem__level_name(t->previous));
        gpumem__emitter_string(&e, "to", gpumem__level_name(t->level));
        gpumem__emitter_uint(&e, "reserved_bytes", t->reserved_bytes);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    if (o->nhistory) {
        /* The failing device's last minutes (issue 15), oldest first. */
        gpumem__emitter_newline(&e, 1);
        gpumem__emitter_object_begin(&e, "history");
        gpumem__emitter_int(&e, "device_id", o->device);
        gpumem__emitter_uint(&e, "width_ms", o->history_width_ns / 1000000u);
        gpumem__emitter_array_begin(&e, "points");
        for (size_t i = 0; i < o->nhistory; i++) {
            const struct gpumem_oom_point *pt = &o->history[i];
            gpumem__emitter_newline(&e, 2);
            gpumem__emitter_object_begin(&e, NULL);
            gpumem__emitter_uint(&e, "time_unix_ns", pt->unix_ns);
            gpumem__emitter_uint(&e, "high_bytes", pt->high_bytes);
            gpumem__emitter_uint(&e, "last_bytes", pt->last_bytes);
            gpumem__emitter_object_end(&e);
        }
        gpumem__emitter_array_end(&e);
        gpumem__emitter_object_end(&e);
    }

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_array_begin(&e, "events");
    size_t first = o->nevents > GPUMEM_REPORT_EVENTS ? o->nevents - GPUMEM_REPORT_EVENTS : 0;
    for (size_t i = first; i < o->nevents; i++) {
        const struct gpumem_event *ev = &o->events[i];
        gpumem__emitter_newline(&e, 2);
        gpumem__emitter_object_begin(&e, NULL);
        gpumem__emitter_uint(&e, "time_unix_ns", ev->unix_ns);
        gpumem__emitter_string(&e, "op", ev->op == GPUMEM_OP_FREE ? "free" : "alloc");
        gpumem__emitter_string(&e, "api", gpumem__api_name(ev->api));
        gpumem__emitter_int(&e, "device_id", ev->device);
        gpumem__emitter_uint(&e, "bytes", ev->bytes);
        gpumem__emitter_snprintf(num, sizeof num, "0x%llx", (unsigned long long)ev->address);
        gpumem__emitter_string(&e, "address", num);
        gpumem__emitter_int(&e, "result", ev->result);
        gpumem__emitter_object_end(&e);
    }
    gpumem__emitter_array_end(&e);

    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_object_begin(&e, "environment");
    for (const char *s = o->environment, *next; *s; s = next) {
        size_t len = line_of(s, &next);
        const char *eq = memchr(s, '=', len);
        if (!eq) continue;
        char name[256], value[1024];
        cut(name, sizeof name, s, (size_t)(eq - s));
        cut(value, sizeof value, eq + 1, len - (size_t)(eq - s) - 1);
        gpumem__emitter_string(&e, name, value);
    }
    gpumem__emitter_object_end(&e);

    /* The human text, inside the JSON, so one file serves both: escaped as
     * it is written, nothing allocated. */
    gpumem__emitter_newline(&e, 1);
    gpumem__emitter_string_begin(&e, "summary");
    struct gpumem_emitter text;
    gpumem__emitter_init_string(&text, &e);
    report_text(&text, p, o);
    gpumem__emitter_string_end(&e);
    gpumem__emitter_object_end(&e);
    gpumem__emitter_finish(&e);
}
