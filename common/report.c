/* report.c - see report.h. */
#define _GNU_SOURCE
#include "report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *gm_api_name(unsigned api)
{
    switch (api) {
#define GM_API_CASE(name, value, text) case (value): return text;
        GPUMEM_SHM_API_MAP(GM_API_CASE)
#undef GM_API_CASE
    }
    return "unknown";
}

static const char *level_name(unsigned l)
{
    return l == GPUMEM_LEVEL_CRITICAL ? "critical" : l == GPUMEM_LEVEL_WARNING ? "warning" : "healthy";
}

static void format_time(char *buf, size_t size, uint64_t unix_ns)
{
    time_t t = (time_t)(unix_ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03u UTC", (unsigned)(unix_ns / 1000000u % 1000u));
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
    snprintf(buf, size, "%s (%d)", name, result);
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
        snprintf(buf, size, "cuda:%d was %u%% reserved by this process; the request of %s could not fit in %s free",
                 o->device, pct, want, free_b);
    else
        snprintf(buf, size, "cuda:%d was %u%% reserved by this process; the request of %s failed", o->device, pct, want);
}

/* ---- human text ---------------------------------------------------------- */

void gm_report_text(FILE *f, const struct gm_process *p, const struct gm_oom *o)
{
    char when[64], line[512], a[32], b[32], c[32], err[64], secs[32];
    format_time(when, sizeof when, o->unix_ns);
    const struct gm_device *fd = device_of(p, o->device);
    fprintf(f, "gpumem out-of-memory report #%llu: pid %d on %s, %s\n", (unsigned long long)o->number, p->pid,
            p->hostname, when);
    fprintf(f, "command: %s\n", p->command);
    verdict(line, sizeof line, p, o);
    fprintf(f, "\nVerdict: %s.\n", line);
    gm_format_size(a, sizeof a, o->requested_bytes);
    error_name(err, sizeof err, o->api, o->result);
    fprintf(f, "Failing call: %s -> %s on cuda:%d %s (%s), %llu bytes (%s) requested\n", gm_api_name(o->api), err,
            o->device, fd ? fd->uuid : "?", fd ? fd->name : "?", (unsigned long long)o->requested_bytes, a);

    fprintf(f, "\nDevices at the failure\n");
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
            snprintf(peak_at, sizeof peak_at, "%ss before", secs);
        }
        fprintf(f, "  cuda:%d  reserved %s of %s (%u%%), peak %s (%s)", d->ordinal, a, b,
                gm_percent_whole(s->reserved_bytes, d->total_bytes), c, peak_at);
        gm_format_size(a, sizeof a, s->managed_bytes);
        fprintf(f, ", managed %s", a);
        if (d->ordinal == o->device && o->driver_total_bytes) {
            gm_format_size(a, sizeof a, o->driver_free_bytes);
            gm_format_size(b, sizeof b, o->driver_total_bytes);
            fprintf(f, ", driver free %s of %s", a, b);
        }
        fputc('\n', f);
    }

    fprintf(f, "\nLargest live allocations (%llu live in all)\n", (unsigned long long)o->live_count);
    if (o->nlarge == 0) fprintf(f, "  none\n");
    for (size_t i = 0; i < o->nlarge && i < GM_REPORT_TOP; i++) {
        const struct gm_large *l = &o->large[i];
        gm_format_size(a, sizeof a, l->bytes);
        gm_format_seconds(secs, sizeof secs, l->unix_ns, o->unix_ns);
        fprintf(f, "  %2zu. %12s  cuda:%d  0x%llx  %-24s %ss old\n", i + 1, a, l->device, (unsigned long long)l->address,
                gm_api_name(l->api), secs);
        for (const char *t = l->trace; *t;) {
            const char *nl = strchr(t, '\n');
            size_t len = nl ? (size_t)(nl - t) : strlen(t);
            fprintf(f, "        at %.*s\n", (int)len, t);
            t += len + (nl ? 1 : 0);
        }
    }

    fprintf(f, "\nLive allocations by size\n");
    int any = 0;
    for (unsigned k = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        any = 1;
        gm_format_size(a, sizeof a, 1ull << k);
        gm_format_size(b, sizeof b, k + 1 < 64 ? 1ull << (k + 1) : 0);
        gm_format_size(c, sizeof c, o->hist_bytes[k]);
        fprintf(f, "  [%s, %s)  %llu allocations, %s\n", a, b, (unsigned long long)o->hist_count[k], c);
    }
    if (!any) fprintf(f, "  none\n");

    fprintf(f, "\nLevel changes\n");
    if (o->ntransitions == 0) fprintf(f, "  none\n");
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gm_transition *t = &o->transitions[i];
        gm_format_size(a, sizeof a, t->reserved_bytes);
        gm_format_seconds(secs, sizeof secs, t->unix_ns, o->unix_ns);
        fprintf(f, "  %9ss before  cuda:%d  %s -> %s at %s\n", secs, t->device, level_name(t->previous),
                level_name(t->level), a);
    }

    size_t first = o->nevents > GM_REPORT_EVENTS ? o->nevents - GM_REPORT_EVENTS : 0;
    fprintf(f, "\nLast %zu events, oldest first\n", o->nevents - first);
    for (size_t i = first; i < o->nevents; i++) {
        const struct gm_event *e = &o->events[i];
        gm_format_size(a, sizeof a, e->bytes);
        if (e->result) error_name(err, sizeof err, e->api, e->result);
        gm_format_seconds(secs, sizeof secs, e->unix_ns, o->unix_ns);
        fprintf(f, "  %9ss before  %-5s %-24s cuda:%-2d %12s  0x%llx  %s\n", secs,
                e->op == GPUMEM_OP_FREE ? "free" : "alloc", gm_api_name(e->api), e->device, a,
                (unsigned long long)e->address, e->result ? err : "ok");
    }

    fprintf(f, "\nAllocator environment\n%s", o->environment[0] ? "" : "  none set\n");
    for (const char *s = o->environment; *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        fprintf(f, "  %.*s\n", (int)n, s);
        s += n + (nl ? 1 : 0);
    }
    fprintf(f, "\nOut-of-memory failures in this process so far: %llu\n", (unsigned long long)o->oom_count);
}

/* ---- JSON ------------------------------------------------------------------ */

void gm_report_json(FILE *f, const struct gm_process *p, const struct gm_oom *o)
{
    char buf[512], err[64], num[32];
    const struct gm_device *fd = device_of(p, o->device);
    format_time(buf, sizeof buf, o->unix_ns);
    fprintf(f, "{\"schema\": %d, \"kind\": \"gpumem-oom-report\", \"gpumem_version\": ", GM_REPORT_SCHEMA);
    gm_json_string(f, p->shim_version);
    fprintf(f, ",\n \"time_unix_ns\": %llu, \"time\": ", (unsigned long long)o->unix_ns);
    gm_json_string(f, buf);
    fputs(", \"host\": ", f);
    gm_json_string(f, p->hostname);
    fprintf(f, ", \"pid\": %d, \"start_time_ticks\": %llu, \"command\": ", p->pid, (unsigned long long)p->start_time_ticks);
    gm_json_string(f, p->command);
    fprintf(f, ",\n \"oom_number\": %llu, \"oom_count\": %llu,\n", (unsigned long long)o->number,
            (unsigned long long)o->oom_count);
    error_name(err, sizeof err, o->api, o->result);
    fputs(" \"failure\": {\"api\": ", f);
    gm_json_string(f, gm_api_name(o->api));
    fprintf(f, ", \"error_code\": %d, \"error\": ", o->result);
    gm_json_string(f, err);
    fprintf(f, ", \"device_id\": %d, \"uuid\": ", o->device);
    gm_json_string(f, fd ? fd->uuid : "");
    fputs(", \"name\": ", f);
    gm_json_string(f, fd ? fd->name : "");
    fprintf(f, ", \"requested_bytes\": %llu, \"driver_free_bytes\": %llu, \"driver_total_bytes\": %llu},\n",
            (unsigned long long)o->requested_bytes, (unsigned long long)o->driver_free_bytes,
            (unsigned long long)o->driver_total_bytes);
    verdict(buf, sizeof buf, p, o);
    fputs(" \"verdict\": ", f);
    gm_json_string(f, buf);
    fputs(",\n \"devices\": [", f);
    for (int k = 0, n = 0; k < p->ndevices; k++) {
        const struct gm_device *d = &p->devices[k];
        if (d->ordinal >= (int)GPUMEM_SHM_OOM_DEVICES) continue;
        const typeof(o->devices[0]) *s = &o->devices[d->ordinal];
        gm_format_percent(num, sizeof num, s->reserved_bytes, d->total_bytes);
        fprintf(f, "%s\n  {\"device_id\": %d, \"uuid\": ", n++ ? "," : "", d->ordinal);
        gm_json_string(f, d->uuid);
        fputs(", \"name\": ", f);
        gm_json_string(f, d->name);
        fprintf(f, ", \"total_bytes\": %llu, \"reserved_bytes\": %llu, \"peak_bytes\": %llu, \"peak_time_unix_ns\": %llu,"
                   " \"managed_bytes\": %llu, \"percent\": %s}",
                (unsigned long long)d->total_bytes, (unsigned long long)s->reserved_bytes,
                (unsigned long long)s->peak_bytes, (unsigned long long)s->peak_unix_ns,
                (unsigned long long)s->managed_bytes, num);
    }
    fprintf(f, "],\n \"largest_allocations\": [");
    for (size_t i = 0; i < o->nlarge && i < GM_REPORT_TOP; i++) {
        const struct gm_large *l = &o->large[i];
        gm_format_seconds(num, sizeof num, l->unix_ns, o->unix_ns);
        fprintf(f, "%s\n  {\"bytes\": %llu, \"address\": \"0x%llx\", \"device_id\": %d, \"api\": \"%s\", \"age_seconds\": %s, \"backtrace\": [",
                i ? "," : "", (unsigned long long)l->bytes, (unsigned long long)l->address, l->device,
                gm_api_name(l->api), num);
        int first = 1;
        for (const char *t = l->trace; *t;) {
            const char *nl = strchr(t, '\n');
            size_t len = nl ? (size_t)(nl - t) : strlen(t);
            char frame[256];
            snprintf(frame, sizeof frame, "%.*s", (int)(len < sizeof frame ? len : sizeof frame - 1), t);
            fputs(first ? "" : ", ", f);
            gm_json_string(f, frame);
            first = 0;
            t += len + (nl ? 1 : 0);
        }
        fputs("]}", f);
    }
    fprintf(f, "],\n \"live_allocations\": {\"count\": %llu, \"histogram\": [", (unsigned long long)o->live_count);
    for (unsigned k = 0, n = 0; k < GPUMEM_SHM_HISTOGRAM_BINS; k++) {
        if (!o->hist_count[k]) continue;
        fprintf(f, "%s\n  {\"from_bytes\": %llu, \"to_bytes\": %llu, \"count\": %llu, \"bytes\": %llu}", n++ ? "," : "",
                1ull << k, 1ull << (k + 1), (unsigned long long)o->hist_count[k], (unsigned long long)o->hist_bytes[k]);
    }
    fputs("]},\n \"transitions\": [", f);
    for (size_t i = 0; i < o->ntransitions; i++) {
        const struct gm_transition *t = &o->transitions[i];
        fprintf(f, "%s\n  {\"time_unix_ns\": %llu, \"device_id\": %d, \"from\": \"%s\", \"to\": \"%s\", \"reserved_bytes\": %llu}",
                i ? "," : "", (unsigned long long)t->unix_ns, t->device, level_name(t->previous), level_name(t->level),
                (unsigned long long)t->reserved_bytes);
    }
    fputs("],\n \"events\": [", f);
    size_t first = o->nevents > GM_REPORT_EVENTS ? o->nevents - GM_REPORT_EVENTS : 0;
    for (size_t i = first; i < o->nevents; i++) {
        const struct gm_event *e = &o->events[i];
        fprintf(f, "%s\n  {\"time_unix_ns\": %llu, \"op\": \"%s\", \"api\": \"%s\", \"device_id\": %d, \"bytes\": %llu,"
                   " \"address\": \"0x%llx\", \"result\": %d}",
                i > first ? "," : "", (unsigned long long)e->unix_ns, e->op == GPUMEM_OP_FREE ? "free" : "alloc",
                gm_api_name(e->api), e->device, (unsigned long long)e->bytes, (unsigned long long)e->address, e->result);
    }
    fputs("],\n \"environment\": {", f);
    int n = 0;
    for (const char *s = o->environment; *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq) {
            char name[256], value[1024];
            snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
            snprintf(value, sizeof value, "%.*s", (int)(len - (size_t)(eq - s) - 1), eq + 1);
            fputs(n++ ? ", " : "", f);
            gm_json_string(f, name);
            fputs(": ", f);
            gm_json_string(f, value);
        }
        s += len + (nl ? 1 : 0);
    }
    fputs("},\n \"summary\": ", f);
    /* The human text, inside the JSON, so one file serves both. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *m = open_memstream(&text, &text_len);
    if (m) {
        gm_report_text(m, p, o);
        fclose(m);
    }
    gm_json_string(f, text ? text : "");
    free(text);
    fputs("}\n", f);
}
