/*
 * options.c - every GPUMEM_* variable in one table, read once. A bad value
 * gets one warning naming it and the default used; never an abort.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

struct gpumem_options gpumem__opt;

enum kind { OPT_BOOL, OPT_PERCENT, OPT_MODE, OPT_PREFIX, OPT_LOG, OPT_DIR, OPT_SECONDS };

static const struct option {
    const char *name;
    enum kind kind;
    const char *dflt;
    const char *help;
} options[] = {
    { "GPUMEM_DISABLE", OPT_BOOL, "0", "1: pass every call through and count nothing" },
    { "GPUMEM_SHM_PREFIX", OPT_PREFIX, "gpumem", "segment name /<prefix>.<pid>; letters, digits, '_' and '-'" },
    { "GPUMEM_SHM_MODE", OPT_MODE, "0600", "octal permissions of the segment, owner read and write, no execute" },
    { "GPUMEM_KEEP", OPT_BOOL, "0", "1: keep the segment after a normal exit" },
    { "GPUMEM_LOG", OPT_LOG, "stderr", "where alarms go: stderr, syslog, off, or a file path" },
    { "GPUMEM_WARN_PERCENT", OPT_PERCENT, "80", "warning from this percent of device memory" },
    { "GPUMEM_ALARM_PERCENT", OPT_PERCENT, "90", "critical above this percent" },
    { "GPUMEM_HYSTERESIS_PERCENT", OPT_PERCENT, "2", "how far below a bound a level is left" },
    { "GPUMEM_POSTMORTEM_DIR", OPT_DIR, "/tmp", "absolute directory for out-of-memory reports" },
    { "GPUMEM_POSTMORTEM_INTERVAL", OPT_SECONDS, "5", "at most one report per this many seconds (0-86400)" },
    { "GPUMEM_BACKTRACE", OPT_BOOL, "0", "1: remember where each allocation was made, for post-mortems" },
};
#define NOPTIONS (sizeof options / sizeof options[0])

/* Digits only: no sign, no blanks, no "0x". */
static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len > 12 || strspn(s, base == 8 ? "01234567" : "0123456789") != len) return 0;
    unsigned long v = strtoul(s, NULL, base);
    if (v > max) return 0;
    *out = v;
    return 1;
}

/* Apply one value: 0 when it is not valid for the option, 2 when it was
 * applied changed (a mode with write bits for others), else 1. */
static int apply(const struct option *o, const char *v, struct gpumem_options *opt)
{
    unsigned long n;
    switch (o->kind) {
    case OPT_BOOL:
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return 0;
        if (strcmp(o->name, "GPUMEM_DISABLE") == 0) opt->disabled = v[0] == '1';
        else if (strcmp(o->name, "GPUMEM_BACKTRACE") == 0) opt->backtrace = v[0] == '1';
        else opt->keep = v[0] == '1';
        return 1;
    case OPT_PERCENT:
        if (!parse_uint(v, 10, 100, &n)) return 0;
        if (strcmp(o->name, "GPUMEM_WARN_PERCENT") == 0) opt->warn_percent = (unsigned)n;
        else if (strcmp(o->name, "GPUMEM_ALARM_PERCENT") == 0) opt->alarm_percent = (unsigned)n;
        else opt->hysteresis_percent = (unsigned)n;
        return 1;
    case OPT_MODE:
        /* Owner read and write are needed; nobody may execute it. Nobody
         * but the owner may write it either: a writer could forge counters,
         * silence alarms, or shrink the segment and kill this process with
         * SIGBUS. Those write bits are dropped; reading stays as asked. */
        if (!parse_uint(v, 8, 0777, &n) || (n & 0600) != 0600 || (n & 0111)) return 0;
        opt->shm_mode = (unsigned)n & ~0022u;
        return (n & 0022) ? 2 : 1;
    case OPT_PREFIX:
        if (strlen(v) == 0 || strlen(v) > 32 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(v))
            return 0;
        snprintf(opt->shm_prefix, sizeof opt->shm_prefix, "%s", v);
        return 1;
    case OPT_DIR:
        if (v[0] != '/' || strlen(v) >= sizeof opt->postmortem_dir) return 0;
        snprintf(opt->postmortem_dir, sizeof opt->postmortem_dir, "%s", v);
        return 1;
    case OPT_SECONDS:
        if (!parse_uint(v, 10, 86400, &n)) return 0;
        opt->postmortem_interval = (unsigned)n;
        return 1;
    case OPT_LOG:
        if (strcmp(v, "stderr") == 0) opt->log_sink = GPUMEM_LOG_STDERR;
        else if (strcmp(v, "syslog") == 0) opt->log_sink = GPUMEM_LOG_SYSLOG;
        else if (strcmp(v, "off") == 0) opt->log_sink = GPUMEM_LOG_OFF;
        else if (v[0] == '/' && strlen(v) < sizeof opt->log_path) {
            opt->log_sink = GPUMEM_LOG_FILE;
            snprintf(opt->log_path, sizeof opt->log_path, "%s", v);
        } else return 0;
        return 1;
    }
    return 0;
}

static const struct option *find(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

static const char *value_of(const char *name)
{
    const char *v = getenv(name);
    return v ? v : "";
}

static unsigned *percent_of(struct gpumem_options *opt, const char *name)
{
    return strcmp(name, "GPUMEM_WARN_PERCENT") == 0    ? &opt->warn_percent
         : strcmp(name, "GPUMEM_ALARM_PERCENT") == 0   ? &opt->alarm_percent
                                                       : &opt->hysteresis_percent;
}

/* The levels need 0 <= hysteresis < warn < alarm <= 100 (the ranges are
 * checked per variable): a hysteresis at or above the warning bound would
 * never let a device be healthy again. */
static const struct { const char *low, *high; } relations[] = {
    { "GPUMEM_WARN_PERCENT", "GPUMEM_ALARM_PERCENT" },
    { "GPUMEM_HYSTERESIS_PERCENT", "GPUMEM_WARN_PERCENT" },
};
#define NRELATIONS (sizeof relations / sizeof relations[0])

#define MAX_WARNINGS (NOPTIONS + NRELATIONS)
struct warnings {
    char text[MAX_WARNINGS][384];
    size_t n;
};

static void note(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct warnings *w, const char *fmt, ...)
{
    if (w->n >= MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text[w->n++], sizeof w->text[0], fmt, ap);
    va_end(ap);
}

/* A relation that does not hold is blamed on the variables of it that were
 * set; each goes back to its default, with one warning naming it. Since
 * the defaults satisfy every relation, at most every set variable is reset. */
static void check_relations(struct gpumem_options *opt, int set[], struct warnings *w)
{
    for (int changed = 1, round = 0; changed && round < (int)NRELATIONS + 2; round++) {
        changed = 0;
        for (size_t r = 0; r < NRELATIONS; r++) {
            const struct option *lo = find(relations[r].low), *hi = find(relations[r].high);
            unsigned *lv = percent_of(opt, lo->name), *hv = percent_of(opt, hi->name);
            if (*lv < *hv) continue;
            int lset = set[lo - options], hset = set[hi - options];
            if (lset && hset)
                note(w, "%s=%s is not below %s=%s; using the defaults %s and %s", lo->name, value_of(lo->name), hi->name,
                     value_of(hi->name), lo->dflt, hi->dflt);
            else if (lset)
                note(w, "%s=%s is not below %s (%u); using the default %s", lo->name, value_of(lo->name), hi->name, *hv,
                     lo->dflt);
            else
                note(w, "%s=%s is not above %s (%u); using the default %s", hi->name, value_of(hi->name), lo->name, *lv,
                     hi->dflt);
            if (lset || !hset) {
                apply(lo, lo->dflt, opt);
                set[lo - options] = 0;
            }
            if (hset || !lset) {
                apply(hi, hi->dflt, opt);
                set[hi - options] = 0;
            }
            changed = 1;
        }
    }
}

static void load(void)
{
    struct gpumem_options opt;
    struct warnings w = { .n = 0 };
    int set[NOPTIONS] = { 0 };
    memset(&opt, 0, sizeof opt);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option *o = &options[i];
        apply(o, o->dflt, &opt);
        const char *v = getenv(o->name);
        if (!v) continue;
        int r = apply(o, v, &opt);
        if (r == 0) {
            apply(o, o->dflt, &opt);
            note(&w, "%s=%s is not valid (%s); using the default %s", o->name, v, o->help, o->dflt);
        } else if (r == 2) {
            note(&w, "%s=%s would let other users write the segment (forge its counters, or shrink it and kill this "
                     "process); using %04o",
                 o->name, v, opt.shm_mode);
        }
        set[i] = r != 0;
    }
    check_relations(&opt, set, &w);
    gpumem__opt = opt;
    for (size_t i = 0; i < w.n; i++) gpumem__warn("%s", w.text[i]);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void gpumem__options_load(void)
{
    pthread_once(&once, load);
}
