/* report.c - see report.h. */
#define _GNU_SOURCE
#include "report.h"

#include <string.h>

const char *gm_api_name(unsigned api)
{
    switch (api) {
#define GM_API_CASE(name, value, text) case (value): return text;
        GPUMEM_SHM_API_MAP(GM_API_CASE)
#undef GM_API_CASE
    }
    return "unknown";
}

static const struct gm_device *device_of(const struct gm_process *p, int ordinal)
{
    for (int k = 0; k < p->ndevices; k++)
        if (p->devices[k].ordinal == ordinal) return &p->devices[k];
    return NULL;
}

static void error_name(char *buf, size_t size, unsigned api, int result)
{
    int runtime = api >= GPUMEM_API_CUDA_MALLOC;
    const char *name = result == 2 ? (runtime ? "cudaErrorMemoryAllocation" : "CUDA_ERROR_OUT_OF_MEMORY") : "error";
    gm_emitter_snprintf(buf, size, "%s (%d)", name, result);
}

static void verdict(char *buf, size_t size, const struct gm_process *p, const struct gm_oom *o)
{
    const struct gm_device *d = device_of(p, o->device);
    char want[32], free_b[32];
    gm_format_size(want, sizeof want, o->requested_bytes);
    gm_format_size(free_b, sizeof free_b, o->driver_free_bytes);
    uint64_t held = o->device >= 0 && o->device < (int)GPUMEM_SHM_OOM_DEVICES ? o->devices[o->device].reserved_bytes : 0;
    uint64_t total = d ? d->total_bytes : o->driver_total_bytes;
    unsigned pct = gm_percent_whole(held, total);
    if (o->driver_total_bytes)
        gm_emitter_snprintf(buf, size,
                            "cuda:%d was %u%% reserved by this process; the request of %s could not fit in %s free",
                            o->device, pct, want, free_b);
    else
        gm_emitter_snprintf(buf, size, "cuda:%d was %u%% reserved by this process; the request of %s failed", o->device,
                            pct, want);
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

static void report_text(struct gm_emitter *e, const struct gm_process *p, const struct gm_oom *o)
{
    char when[64], line[512], a[32], b[32], c[32], err[64], secs[32];
    gm_format_utc(when, sizeof when, o->unix_ns);
    const struct gm_device *fd = device_of(p, o->device);
    gm_emitter_printf(e, "gpumem out-of-memory report #%llu: pid %d on %s, %s\n", (unsigned long long)o->number, p->pid,
                      p->hostname, when);
    gm_emitter_printf(e, "command: %s\n", p->command);
    verdict(line, sizeof line, p, o);
    gm_emitter_printf(e, "\nVerdict: %s.\n", line);
    gm_format_size(a, sizeof a, o->requested_bytes);
    error_name(err, sizeof err, o->api, o->result);
    gm_emitter_printf(e, "Failing call: %s -> %s on cuda:%d %s (%s), %llu bytes (%s) requested\n", gm_api_name(o->api),
                      err, o->device, fd ? fd->uuid : "?", fd ? fd->name : "?", (unsigned long long)o->requested_bytes,
                      a);

    gm_emitter_text(e, "\nDevices at the failure\n");
    for (int k = 0; k < p->ndevices; k++) {
        const struct gm_device *d = &p->devices[k];
        if (d->ordinal >= (int)GPUMEM_SHM_OOM_DEVICES) continue;
        const typeof(o->devices[0]) *s = &o->devices[d->ordinal];
        gm_format_size(a, sizeof a, s->reserved_bytes);
        gm_format_size(b, sizeof b, d->total_bytes);
        gm_format_size(c, sizeof c, s->peak_bytes);
        char peak_at[64] = "-";
        if (s->peak_unix_ns) {
            gm_format_seconds(secs, sizeof secs, s->peak_unix_ns, o->unix_ns);
            gm_emitter_snprintf(peak_at, sizeof peak_at, "%ss before", secs);
        }
        gm_emitter_printf(e, "  cuda:%d  reserved %s of %s (%u%%), peak %s (%s)", d->ordinal, a, b,
                          gm_percent_whole(s->reserved_bytes, d->total_bytes), c, peak_at);
        gm_format_size(a, sizeof a, s->managed_bytes);
        gm_emitter_printf(e, ", managed %s", a);
        if (d->ordinal == o->device && o->driver_total_bytes) {
            gm_format_size(a, sizeof a, o->driver_free_bytes);
            gm_format_size(b, sizeof b, o->driver_total_bytes);
            gm_emitter_printf(e, ", driver free %s of %s", a, b);
        }
        gm_emitter_text(e, "\n");
    }

    gm_emitter_printf(e, "\nLargest live allocations (%llu live in all)\n", (unsigned long long)o->live_count);
    if (o->nlarge == 0) gm_emitter_text(e, "  none\n");
    for (size_t i = 0; i < o->nlarge && i < GM_REPORT_TOP; i++) {
        const struct gm_large *l = &o->large[i];
        gm_format_size(a, sizeof a, l->bytes);
        gm_format_seconds(secs, sizeof secs, l->unix_ns, o->unix_ns);
        gm_emitter_printf(e, "  %2zu. %12s  cuda:%d  0x%llx  %-24s %ss old\n", i + 1, a, l->device,
                          (unsigned long long)l->address, gm_api_name(l->api), secs);
        for (const char *t = l->trace, *next; *t; t = next) {
            size_t len = line_of(t, &next);
            gm_emitter_printf(e, "        at %.*s\n", (int)len, t);
        }
    }

    gm_emitter_text(e, "\nLive allocations by size\n");
    int any = 0;
    for (unsigned k = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        any = 1;
        gm_format_size(a, sizeof a, 1ull << k);
        gm_format_size(b, sizeof b, k + 1 < 64 ? 1ull << (k + 1) : 0);
        gm_format_size(c, sizeof c, o->hist_bytes[k]);
        gm_emitter_printf(e, "  [%s, %s)  %llu allocations, %s\n", a, b, (unsigned long long)o->hist_count[k], c);
    }
    if (!any) gm_emitter_text(e, "  none\n");

    gm_emitter_text(e, "\nLevel changes\n");
    if (o->ntransitions == 0) gm_emitter_text(e, "  none\n");
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gm_transition *t = &o->transitions[i];
        gm_format_size(a, sizeof a, t->reserved_bytes);
        gm_format_seconds(secs, sizeof secs, t->unix_ns, o->unix_ns);
        gm_emitter_printf(e, "  %9ss before  cuda:%d  %s -> %s at %s\n", secs, t->device, gm_level_name(t->previous),
                          gm_level_name(t->level), a);
    }

    size_t first = o->nevents > GM_REPORT_EVENTS ? o->nevents - GM_REPORT_EVENTS : 0;
    gm_emitter_printf(e, "\nLast %zu events, oldest first\n", o->nevents - first);
    for (size_t i = first; i < o->nevents; i++) {
        const struct gm_event *ev = &o->events[i];
        gm_format_size(a, sizeof a, ev->bytes);
        if (ev->result) error_name(err, sizeof err, ev->api, ev->result);
        gm_format_seconds(secs, sizeof secs, ev->unix_ns, o->unix_ns);
        gm_emitter_printf(e, "  %9ss before  %-5s %-24s cuda:%-2d %12s  0x%llx  %s\n", secs,
                          ev->op == GPUMEM_OP_FREE ? "free" : "alloc", gm_api_name(ev->api), ev->device, a,
                          (unsigned long long)ev->address, ev->result ? err : "ok");
    }

    gm_emitter_printf(e, "\nAllocator environment\n%s", o->environment[0] ? "" : "  none set\n");
    for (const char *s = o->environment, *next; *s; s = next) {
        size_t len = line_of(s, &next);
        gm_emitter_printf(e, "  %.*s\n", (int)len, s);
    }
    gm_emitter_printf(e, "\nOut-of-memory failures in this process so far: %llu\n", (unsigned long long)o->oom_count);
}

void gm_report_text(FILE *f, const struct gm_process *p, const struct gm_oom *o)
{
    struct gm_emitter e;
    gm_emitter_init_file(&e, GM_EMIT_TEXT, f);
    report_text(&e, p, o);
    gm_emitter_finish(&e);
}

/* ---- JSON ------------------------------------------------------------------ */

void gm_report_json(FILE *f, const struct gm_process *p, const struct gm_oom *o)
{
    char buf[512], err[64], num[32];
    const struct gm_device *fd = device_of(p, o->device);
    struct gm_emitter e;
    gm_emitter_init_file(&e, GM_EMIT_JSON, f);
    gm_emitter_object_begin(&e, NULL);
    gm_emitter_int(&e, "schema", GM_REPORT_SCHEMA);
    gm_emitter_string(&e, "kind", "gpumem-oom-report");
    gm_emitter_string(&e, "gpumem_version", p->shim_version);
    gm_emitter_newline(&e, 1);
    gm_emitter_uint(&e, "time_unix_ns", o->unix_ns);
    gm_format_utc(buf, sizeof buf, o->unix_ns);
    gm_emitter_string(&e, "time", buf);
    gm_emitter_string(&e, "host", p->hostname);
    gm_emitter_int(&e, "pid", p->pid);
    gm_emitter_uint(&e, "start_time_ticks", p->start_time_ticks);
    gm_emitter_string(&e, "command", p->command);
    gm_emitter_newline(&e, 1);
    gm_emitter_uint(&e, "oom_number", o->number);
    gm_emitter_uint(&e, "oom_count", o->oom_count);

    gm_emitter_newline(&e, 1);
    gm_emitter_object_begin(&e, "failure");
    gm_emitter_string(&e, "api", gm_api_name(o->api));
    gm_emitter_int(&e, "error_code", o->result);
    error_name(err, sizeof err, o->api, o->result);
    gm_emitter_string(&e, "error", err);
    gm_emitter_int(&e, "device_id", o->device);
    gm_emitter_string(&e, "uuid", fd ? fd->uuid : "");
    gm_emitter_string(&e, "name", fd ? fd->name : "");
    gm_emitter_uint(&e, "requested_bytes", o->requested_bytes);
    gm_emitter_uint(&e, "driver_free_bytes", o->driver_free_bytes);
    gm_emitter_uint(&e, "driver_total_bytes", o->driver_total_bytes);
    gm_emitter_object_end(&e);
    gm_emitter_newline(&e, 1);
    verdict(buf, sizeof buf, p, o);
    gm_emitter_string(&e, "verdict", buf);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "devices");
    for (int k = 0; k < p->ndevices; k++) {
        const struct gm_device *d = &p->devices[k];
        if (d->ordinal >= (int)GPUMEM_SHM_OOM_DEVICES) continue;
        const typeof(o->devices[0]) *s = &o->devices[d->ordinal];
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_int(&e, "device_id", d->ordinal);
        gm_emitter_string(&e, "uuid", d->uuid);
        gm_emitter_string(&e, "name", d->name);
        gm_emitter_uint(&e, "total_bytes", d->total_bytes);
        gm_emitter_uint(&e, "reserved_bytes", s->reserved_bytes);
        gm_emitter_uint(&e, "peak_bytes", s->peak_bytes);
        gm_emitter_uint(&e, "peak_time_unix_ns", s->peak_unix_ns);
        gm_emitter_uint(&e, "managed_bytes", s->managed_bytes);
        gm_format_percent(num, sizeof num, s->reserved_bytes, d->total_bytes);
        gm_emitter_number(&e, "percent", num);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "largest_allocations");
    for (size_t i = 0; i < o->nlarge && i < GM_REPORT_TOP; i++) {
        const struct gm_large *l = &o->large[i];
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_uint(&e, "bytes", l->bytes);
        gm_emitter_snprintf(num, sizeof num, "0x%llx", (unsigned long long)l->address);
        gm_emitter_string(&e, "address", num);
        gm_emitter_int(&e, "device_id", l->device);
        gm_emitter_string(&e, "api", gm_api_name(l->api));
        gm_format_seconds(num, sizeof num, l->unix_ns, o->unix_ns);
        gm_emitter_number(&e, "age_seconds", num);
        gm_emitter_array_begin(&e, "backtrace");
        for (const char *t = l->trace, *next; *t; t = next) {
            char frame[256];
            cut(frame, sizeof frame, t, line_of(t, &next));
            gm_emitter_string(&e, NULL, frame);
        }
        gm_emitter_array_end(&e);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_object_begin(&e, "live_allocations");
    gm_emitter_uint(&e, "count", o->live_count);
    gm_emitter_array_begin(&e, "histogram");
    for (unsigned k = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_uint(&e, "from_bytes", 1ull << k);
        gm_emitter_uint(&e, "to_bytes", 1ull << (k + 1));
        gm_emitter_uint(&e, "count", o->hist_count[k]);
        gm_emitter_uint(&e, "bytes", o->hist_bytes[k]);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);
    gm_emitter_object_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "transitions");
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gm_transition *t = &o->transitions[i];
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_uint(&e, "time_unix_ns", t->unix_ns);
        gm_emitter_int(&e, "device_id", t->device);
        gm_emitter_string(&e, "from", gm_level_name(t->previous));
        gm_emitter_string(&e, "to", gm_level_name(t->level));
        gm_emitter_uint(&e, "reserved_bytes", t->reserved_bytes);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_array_begin(&e, "events");
    size_t first = o->nevents > GM_REPORT_EVENTS ? o->nevents - GM_REPORT_EVENTS : 0;
    for (size_t i = first; i < o->nevents; i++) {
        const struct gm_event *ev = &o->events[i];
        gm_emitter_newline(&e, 2);
        gm_emitter_object_begin(&e, NULL);
        gm_emitter_uint(&e, "time_unix_ns", ev->unix_ns);
        gm_emitter_string(&e, "op", ev->op == GPUMEM_OP_FREE ? "free" : "alloc");
        gm_emitter_string(&e, "api", gm_api_name(ev->api));
        gm_emitter_int(&e, "device_id", ev->device);
        gm_emitter_uint(&e, "bytes", ev->bytes);
        gm_emitter_snprintf(num, sizeof num, "0x%llx", (unsigned long long)ev->address);
        gm_emitter_string(&e, "address", num);
        gm_emitter_int(&e, "result", ev->result);
        gm_emitter_object_end(&e);
    }
    gm_emitter_array_end(&e);

    gm_emitter_newline(&e, 1);
    gm_emitter_object_begin(&e, "environment");
    for (const char *s = o->environment, *next; *s; s = next) {
        size_t len = line_of(s, &next);
        const char *eq = memchr(s, '=', len);
        if (!eq) continue;
        char name[256], value[1024];
        cut(name, sizeof name, s, (size_t)(eq - s));
        cut(value, sizeof value, eq + 1, len - (size_t)(eq - s) - 1);
        gm_emitter_string(&e, name, value);
    }
    gm_emitter_object_end(&e);

    /* The human text, inside the JSON, so one file serves both: escaped as
     * it is written, nothing allocated. */
    gm_emitter_newline(&e, 1);
    gm_emitter_string_begin(&e, "summary");
    struct gm_emitter text;
    gm_emitter_init_string(&text, &e);
    report_text(&text, p, o);
    gm_emitter_string_end(&e);
    gm_emitter_object_end(&e);
    gm_emitter_finish(&e);
}
