/*
 * options.c - every GPUMEM_* variable in one table, read once. A bad value
 * gets one warning naming it and the default used; never an abort.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

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
    { "GPUMEM_SHM_MODE", OPT_MODE, "0600", "octal permissions of the segment" },
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

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !*s) return 0;
    unsigned long v = strtoul(s, &end, base);
    if (*end != '\0' || v > max || s[0] == '-') return 0;
    *out = v;
    return 1;
}

/* Apply one value; 0 when it is not valid for the option. */
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
        /* Owner read and write are needed; nobody may execute it. */
        if (!parse_uint(v, 8, 0777, &n) || (n & 0600) != 0600 || (n & 0111)) return 0;
        opt->shm_mode = (unsigned)n;
        return 1;
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

static void load(void)
{
    struct gpumem_options opt;
    memset(&opt, 0, sizeof opt);
    const char *bad[NOPTIONS];
    size_t nbad = 0;
    for (size_t i = 0; i < NOPTIONS; i++) {
        apply(&options[i], options[i].dflt, &opt);
        const char *v = getenv(options[i].name);
        if (v && !apply(&options[i], v, &opt)) {
            apply(&options[i], options[i].dflt, &opt);
            bad[nbad++] = options[i].name;
        }
    }
    if (opt.warn_percent >= opt.alarm_percent) {
        bad[nbad++] = "GPUMEM_WARN_PERCENT";
        opt.warn_percent = 80;
        opt.alarm_percent = 90;
    }
    gpumem__opt = opt;
    for (size_t i = 0; i < nbad; i++) {
        for (size_t k = 0; k < NOPTIONS; k++) {
            if (strcmp(options[k].name, bad[i]) != 0) continue;
            const char *v = getenv(bad[i]);
            if (strcmp(bad[i], "GPUMEM_WARN_PERCENT") == 0 && v && apply(&options[k], v, &(struct gpumem_options){0}))
                gpumem__warn("GPUMEM_WARN_PERCENT=%s is not below GPUMEM_ALARM_PERCENT; using 80 and 90", v);
            else
                gpumem__warn("%s=%s is not valid (%s); using the default %s", bad[i], v ? v : "", options[k].help,
                             options[k].dflt);
        }
    }
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void gpumem__options_load(void)
{
    pthread_once(&once, load);
}
