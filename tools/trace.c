/*
 * trace.c - gpumem__trace_json (history.h): the Chrome Trace Event Format's
 * JSON object form, which Perfetto UI and chrome://tracing load. Written
 * through the JSON emitter (common/emit.c), where all escaping lives.
 *
 * The trace's pid is the process's; per device a counter track
 * "cuda:N reserved" (ph "C") of the highest bytes of each bucket, a point
 * only where the value changes; the event ring's allocations and frees as
 * instant events (ph "i", scope "t") on a thread per device (tid N + 1,
 * named by an "M" event); level changes and out-of-memory failures as
 * instant events of the whole process (scope "p"). ts is in microseconds
 * since the Unix epoch, an integer (exact in a double until the year 2255).
 */
#include "emit.h"
#include "format.h"
#include "history.h"
#include "pictures.h"
#include "report.h"

static void begin_event(struct gpumem_emitter *e, const char *name, const char *ph, int pid, int tid)
{
    gpumem__emitter_newline(e, 1);
    gpumem__emitter_object_begin(e, NULL);
    gpumem__emitter_string(e, "name", name);
    gpumem__emitter_string(e, "ph", ph);
    gpumem__emitter_int(e, "pid", pid);
    gpumem__emitter_int(e, "tid", tid);
}

static void metadata(struct gpumem_emitter *e, const char *kind, int pid, int tid, const char *name)
{
    begin_event(e, kind, "M", pid, tid);
    gpumem__emitter_uint(e, "ts", 0);
    gpumem__emitter_object_begin(e, "args");
    gpumem__emitter_string(e, "name", name);
    gpumem__emitter_object_end(e);
    gpumem__emitter_object_end(e);
}

static void instant(struct gpumem_emitter *e, const char *name, const char *cat, int pid, int tid, uint64_t unix_ns,
                    const char *scope)
{
    begin_event(e, name, "i", pid, tid);
    gpumem__emitter_string(e, "cat", cat);
    gpumem__emitter_uint(e, "ts", unix_ns / 1000);
    gpumem__emitter_string(e, "s", scope);
}

static void events(struct gpumem_emitter *e, const struct gpumem_series *s)
{
    for (size_t i = 0; i < s->nevents; i++) {
        const struct gpumem_event *ev = &s->events[i];
        char name[96], size[32], address[32];
        int alloc = ev->op == GPUMEM_OP_ALLOC, failed = ev->result != 0;
        gpumem__format_size(size, sizeof size, ev->bytes);
        gpumem__emitter_snprintf(name, sizeof name, "%s%s %s", alloc ? "alloc" : "free", failed ? " failed" : "", size);
        gpumem__emitter_snprintf(address, sizeof address, "0x%llx", (unsigned long long)ev->address);
        instant(e, name, alloc ? "alloc" : "free", s->pid, s->device + 1, ev->unix_ns, "t");
        gpumem__emitter_object_begin(e, "args");
        gpumem__emitter_uint(e, "bytes", ev->bytes);
        gpumem__emitter_string(e, "address", address);
        gpumem__emitter_string(e, "api", gpumem__api_name(ev->api));
        gpumem__emitter_int(e, "result", ev->result);
        gpumem__emitter_int(e, "device", ev->device);
        gpumem__emitter_object_end(e);
        gpumem__emitter_object_end(e);
    }
}

static void counter(struct gpumem_emitter *e, const char *name, int pid, uint64_t unix_ns, uint64_t bytes)
{
    begin_event(e, name, "C", pid, 0);
    gpumem__emitter_uint(e, "ts", unix_ns / 1000);
    gpumem__emitter_object_begin(e, "args");
    gpumem__emitter_uint(e, "bytes", bytes);
    gpumem__emitter_object_end(e);
    gpumem__emitter_object_end(e);
}

static void series(struct gpumem_emitter *e, const struct gpumem_series *s)
{
    char name[64], thread[64];
    gpumem__emitter_snprintf(name, sizeof name, "cuda:%d reserved", s->device);
    gpumem__emitter_snprintf(thread, sizeof thread, "cuda:%d allocations and frees", s->device);
    metadata(e, "thread_name", s->pid, s->device + 1, thread);
    for (size_t i = 0; i < s->npoints; i++)
        if (i == 0 || s->points[i].high_bytes != s->points[i - 1].high_bytes)
            counter(e, name, s->pid, s->points[i].unix_ns, s->points[i].high_bytes);
    /* Where the series ends below its last high (an exit that freed all):
     * that last value, at the end of the last bucket. */
    if (s->npoints) {
        const struct gpumem_point *last = &s->points[s->npoints - 1];
        if (last->last_bytes != last->high_bytes)
            counter(e, name, s->pid, last->unix_ns + last->width_ns, last->last_bytes);
    }
    events(e, s);
    for (size_t i = 0; i < s->nmarks; i++) {
        const struct gpumem_mark *m = &s->marks[i];
        char what[96];
        if (m->kind == GPUMEM_MARK_OOM) gpumem__emitter_snprintf(what, sizeof what, "OOM cuda:%d", s->device);
        else
            gpumem__emitter_snprintf(what, sizeof what, "cuda:%d %s -> %s", s->device, gpumem__level_name(m->previous),
                                     gpumem__level_name(m->level));
        instant(e, what, m->kind == GPUMEM_MARK_OOM ? "oom" : "level", s->pid, 0, m->unix_ns, "p");
        gpumem__emitter_object_begin(e, "args");
        gpumem__emitter_uint(e, "reserved_bytes", m->reserved_bytes);
        gpumem__emitter_uint(e, "total_bytes", s->total_bytes);
        if (m->kind == GPUMEM_MARK_LEVEL) gpumem__emitter_string(e, "level", gpumem__level_name(m->level));
        gpumem__emitter_object_end(e);
        gpumem__emitter_object_end(e);
    }
}

int gpumem__trace_json(FILE *f, const struct gpumem_series *s, size_t n)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_JSON, f);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_array_begin(&e, "traceEvents");
    for (size_t i = 0; i < n; i++) {
        int first = 1;
        for (size_t k = 0; k < i && first; k++) first = s[k].pid != s[i].pid;
        if (first) {
            char label[sizeof s[i].label];
            gpumem__source_label(label, sizeof label, &s[i]);
            metadata(&e, "process_name", s[i].pid, 0, label);
        }
        series(&e, &s[i]);
    }
    gpumem__emitter_array_end(&e);
    gpumem__emitter_newline(&e, 0);
    gpumem__emitter_string(&e, "displayTimeUnit", "ms");
    gpumem__emitter_object_end(&e);
    return gpumem__emitter_finish(&e) == 0 && !ferror(f) ? 0 : -1;
}
