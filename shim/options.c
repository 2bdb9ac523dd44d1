/*
 * options.c - every GPUMEM_* variable in one table, read once. A bad value
 * gets one warning naming it and the default used; never an abort.
 *
 * A row of the table names the variable, its default and help, the field of
 * struct gpumem_options it sets and the parser that checks and converts it.
 * The checks that involve two fields are a table of their own. No option is
 * ever looked up by its name.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "format.h"
#include "segment_read.h"

struct gpumem_options gpumem__opt;

/* Checks one value and stores it in field (size bytes): 1 when stored as
 * given, 2 when stored changed (why says how, for the warning), 0 when not
 * valid. */
typedef int parse_fn(const char *v, void *field, size_t size, char *why, size_t why_size);
/* For a value that sets more than one field. */
typedef int set_fn(const char *v, struct gpumem_options *opt);

static parse_fn parse_bool, parse_percent, parse_mode, parse_prefix, parse_dir, parse_seconds, parse_signal,
    parse_signal_level, parse_ring, parse_sets;
static set_fn set_log;

struct option {
    const char *name;
    const char *dflt;
    const char *help;
    parse_fn *parse; /* the parser, and the field it sets */
    size_t offset, size;
    set_fn *set; /* instead of parse, offset and size */
};

/* The field's offset and size; a field of another type than the parser
 * writes does not compile. */
#define FIELD(f, type)                                                                                    \
    offsetof(struct gpumem_options, f) + 0 * sizeof(_Generic(((struct gpumem_options *)0)->f, type : 1)), \
        sizeof(((struct gpumem_options *)0)->f)
#define BOOL(f) .parse = parse_bool, FIELD(f, int)
#define PERCENT(f) .parse = parse_percent, FIELD(f, unsigned)
#define MODE(f) .parse = parse_mode, FIELD(f, unsigned)
#define PREFIX(f) .parse = parse_prefix, FIELD(f, char *)
#define ABSDIR(f) .parse = parse_dir, FIELD(f, char *)
#define SECONDS(f) .parse = parse_seconds, FIELD(f, unsigned)
#define SIGNAL(f) .parse = parse_signal, FIELD(f, int)
#define SIGNAL_LEVEL(f) .parse = parse_signal_level, FIELD(f, unsigned)
#define RING(f) .parse = parse_ring, FIELD(f, struct gpumem_history_ring)
#define SETS(f) .parse = parse_sets, FIELD(f, unsigned)

enum {
    OPT_DISABLE,
    OPT_SHM_PREFIX,
    OPT_SHM_MODE,
    OPT_KEEP,
    OPT_LOG,
    OPT_WARN_PERCENT,
    OPT_ALARM_PERCENT,
    OPT_HYSTERESIS_PERCENT,
    OPT_POSTMORTEM_DIR,
    OPT_POSTMORTEM_INTERVAL,
    OPT_BACKTRACE,
    OPT_SHM_DIR,
    OPT_SIGNAL,
    OPT_SIGNAL_LEVEL,
    OPT_HISTORY_FINE,
    OPT_HISTORY_COARSE,
    OPT_HISTORY_DEVICES,
    NOPTIONS
};

/* In the order they are read, which is the order of their warnings. */
static const struct option options[NOPTIONS] = {
    [OPT_DISABLE] = { "GPUMEM_DISABLE", "0", "1: pass every call through and count nothing", BOOL(disabled) },
    [OPT_SHM_PREFIX] = { "GPUMEM_SHM_PREFIX", "gpumem", "segment name /<prefix>.<pid>; letters, digits, '_' and '-'",
                         PREFIX(shm_prefix) },
    [OPT_SHM_MODE] = { "GPUMEM_SHM_MODE", "0600", "octal permissions of the segment, owner read and write, no execute",
                       MODE(shm_mode) },
    [OPT_KEEP] = { "GPUMEM_KEEP", "0", "1: keep the segment after a normal exit", BOOL(keep) },
    [OPT_LOG] = { "GPUMEM_LOG", "stderr", "where alarms go: stderr, syslog, off, or a file path", .set = set_log },
    [OPT_WARN_PERCENT] = { "GPUMEM_WARN_PERCENT", "80", "warning from this percent of device memory",
                           PERCENT(warn_percent) },
    [OPT_ALARM_PERCENT] = { "GPUMEM_ALARM_PERCENT", "90", "critical above this percent", PERCENT(alarm_percent) },
    [OPT_HYSTERESIS_PERCENT] = { "GPUMEM_HYSTERESIS_PERCENT", "2", "how far below a bound a level is left",
                                 PERCENT(hysteresis_percent) },
    [OPT_POSTMORTEM_DIR] = { "GPUMEM_POSTMORTEM_DIR", "/tmp", "absolute directory for out-of-memory reports",
                             ABSDIR(postmortem_dir) },
    [OPT_POSTMORTEM_INTERVAL] = { "GPUMEM_POSTMORTEM_INTERVAL", "5",
                                  "at most one report per this many seconds (0-86400)", SECONDS(postmortem_interval) },
    [OPT_BACKTRACE] = { "GPUMEM_BACKTRACE", "0", "1: remember where each allocation was made, for post-mortems",
                        BOOL(backtrace) },
    [OPT_SHM_DIR] = { "GPUMEM_SHM_DIR", "/dev/shm",
                      "absolute directory of the segment files (e.g. a hostPath shared with a node's reader)",
                      ABSDIR(shm_dir) },
    [OPT_SIGNAL] = { "GPUMEM_SIGNAL", "none",
                     "a catchable signal (SIGUSR1, USR1 or a number) raised in the process when a device enters "
                     "critical, only if the program has a handler for it; none: off",
                     SIGNAL(signal) },
    [OPT_SIGNAL_LEVEL] = { "GPUMEM_SIGNAL_LEVEL", "critical",
                           "critical: GPUMEM_SIGNAL on entering critical; warning: on entering warning too",
                           SIGNAL_LEVEL(signal_level) },
    [OPT_HISTORY_FINE] = { "GPUMEM_HISTORY_FINE", "1s:3600",
                           "WIDTH:DEPTH of the fine history ring (width 10ms-1d, depth 0 or 2-100000; 0 turns it off)",
                           RING(history[0]) },
    [OPT_HISTORY_COARSE] = { "GPUMEM_HISTORY_COARSE", "60s:1440",
                             "WIDTH:DEPTH of the coarse history ring, which keeps what the fine one no longer covers",
                             RING(history[1]) },
    [OPT_HISTORY_DEVICES] = { "GPUMEM_HISTORY_DEVICES", "8",
                              "devices (the first used) that keep a history, 0-32; 0 turns history off",
                              SETS(history_devices) },
};

/* The levels need 0 <= hysteresis < warn < alarm <= 100 (the ranges are
 * checked per variable): a hysteresis at or above the warning bound would
 * never let a device be healthy again. Each row: low must be below high,
 * both unsigned fields. */
static const struct relation {
    int low, high;
} relations[] = {
    { OPT_WARN_PERCENT, OPT_ALARM_PERCENT },
    { OPT_HYSTERESIS_PERCENT, OPT_WARN_PERCENT },
};
#define NRELATIONS (sizeof relations / sizeof relations[0])

/* A value gets at most one warning, a relation that fails resets at least
 * one value that was set: never more warnings than options. */
_Static_assert(NOPTIONS + NRELATIONS <= GPUMEM_OPTIONS_MAX_WARNINGS, "GPUMEM_OPTIONS_MAX_WARNINGS is too small");

/* ---- the parsers ---- */

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

static int store_uint(const char *v, unsigned long max, void *field)
{
    unsigned long n;
    if (!parse_uint(v, 10, max, &n)) return 0;
    *(unsigned *)field = (unsigned)n;
    return 1;
}

static int parse_bool(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return 0;
    *(int *)field = v[0] == '1';
    return 1;
}

static int parse_percent(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    return store_uint(v, 100, field);
}

static int parse_seconds(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    return store_uint(v, 86400, field);
}

/* WIDTH:DEPTH: a duration of 10 ms to 1 day, and 0 to 100000 buckets. */
static int parse_ring(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    char width[16];
    const char *colon = strchr(v, ':');
    size_t n = colon ? (size_t)(colon - v) : 0;
    uint64_t ns;
    unsigned long depth;
    if (n == 0 || n >= sizeof width) return 0;
    memcpy(width, v, n);
    width[n] = '\0';
    if (!gpumem__parse_duration(width, &ns) || ns < 10000000u || ns > 86400000000000u ||
        !parse_uint(colon + 1, 10, 100000, &depth) || depth == 1)
        return 0;
    struct gpumem_history_ring *r = field;
    r->width_ns = ns;
    r->depth = (unsigned)depth;
    return 1;
}

static int parse_sets(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    return store_uint(v, 32, field);
}

/* Owner read and write are needed; nobody may execute it. Nobody but the
 * owner may write it either: a writer could forge counters, silence alarms,
 * or shrink the segment and kill this process with SIGBUS. Those write bits
 * are dropped; reading stays as asked. */
static int parse_mode(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    unsigned long n;
    if (!parse_uint(v, 8, 0777, &n) || (n & 0600) != 0600 || (n & 0111)) return 0;
    *(unsigned *)field = (unsigned)n & ~0022u;
    if (!(n & 0022)) return 1;
    snprintf(why, why_size,
             "would let other users write the segment (forge its counters, or shrink it and kill this process); "
             "using %04o",
             *(unsigned *)field);
    return 2;
}

/* At most 32 of letters, digits, '_' and '-': a name in /dev/shm. */
static int parse_prefix(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    size_t len = strlen(v);
    if (!gpumem__prefix_valid(v) || len >= size) return 0;
    memcpy(field, v, len + 1);
    return 1;
}

static int parse_dir(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    size_t len = strlen(v);
    if (v[0] != '/' || len >= size) return 0;
    memcpy(field, v, len + 1);
    return 1;
}

/* Signals by name (with or without "SIG") or number; never SIGKILL or
 * SIGSTOP, which no handler can catch, nor a fault signal (ILL, TRAP, ABRT,
 * BUS, FPE, SEGV, SYS), whose handlers (Python's faulthandler, a JVM, crash
 * reporters) take it for a crash and end the process. */
static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },   { "TRAP", SIGTRAP },
    { "ABRT", SIGABRT }, { "BUS", SIGBUS },   { "FPE", SIGFPE },       { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
    { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM }, { "CHLD", SIGCHLD },
    { "CONT", SIGCONT }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU }, { "URG", SIGURG },
    { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
    { "IO", SIGIO },     { "PWR", SIGPWR },   { "SYS", SIGSYS },
};

static int parse_signal(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0) {
        *(int *)field = 0;
        return 1;
    }
    unsigned long n;
    int sig = 0;
    if (parse_uint(v, 10, (unsigned long)SIGRTMAX, &n)) sig = (int)n;
    const char *name = strncmp(v, "SIG", 3) == 0 ? v + 3 : v;
    for (size_t i = 0; !sig && i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (strcmp(name, signal_names[i].name) == 0) sig = signal_names[i].sig;
    if (sig <= 0 || sig == SIGKILL || sig == SIGSTOP || sig == SIGILL || sig == SIGTRAP || sig == SIGABRT ||
        sig == SIGBUS || sig == SIGFPE || sig == SIGSEGV || sig == SIGSYS)
        return 0;
    *(int *)field = sig;
    return 1;
}

static int parse_signal_level(const char *v, void *field, size_t size, char *why, size_t why_size)
{
    if (strcmp(v, "critical") == 0) *(unsigned *)field = GPUMEM_LEVEL_CRITICAL;
    else if (strcmp(v, "warning") == 0) *(unsigned *)field = GPUMEM_LEVEL_WARNING;
    else return 0;
    return 1;
}

static int set_log(const char *v, struct gpumem_options *opt)
{
    if (strcmp(v, "stderr") == 0) opt->log_sink = GPUMEM_LOG_STDERR;
    else if (strcmp(v, "syslog") == 0) opt->log_sink = GPUMEM_LOG_SYSLOG;
    else if (strcmp(v, "off") == 0) opt->log_sink = GPUMEM_LOG_OFF;
    else if (parse_dir(v, opt->log_path, sizeof opt->log_path, NULL, 0)) opt->log_sink = GPUMEM_LOG_FILE;
    else return 0;
    return 1;
}

/* ---- the tables applied ---- */

static int apply(const struct option *o, const char *v, struct gpumem_options *opt, char *why, size_t why_size)
{
    if (o->set) return o->set(v, opt);
    return o->parse(v, (char *)opt + o->offset, o->size, why, why_size);
}

static unsigned uint_field(const struct gpumem_options *opt, int i)
{
    return *(const unsigned *)((const char *)opt + options[i].offset);
}

struct warnings {
    char (*text)[GPUMEM_OPTIONS_WARNING_SIZE];
    size_t max, n;
};

static void note(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct warnings *w, const char *fmt, ...)
{
    if (w->n >= w->max) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text[w->n++], sizeof w->text[0], fmt, ap);
    va_end(ap);
}

/* A relation that does not hold is blamed on the variables of it that were
 * set; each goes back to its default, with one warning naming it. Since
 * the defaults satisfy every relation, at most every set variable is reset. */
static void check_relations(struct gpumem_options *opt, const char *const value[], int set[], struct warnings *w)
{
    char why[GPUMEM_OPTIONS_WARNING_SIZE];
    for (int changed = 1, round = 0; changed && round < (int)NRELATIONS + 2; round++) {
        changed = 0;
        for (size_t r = 0; r < NRELATIONS; r++) {
            int l = relations[r].low, h = relations[r].high;
            const struct option *lo = &options[l], *hi = &options[h];
            unsigned lv = uint_field(opt, l), hv = uint_field(opt, h);
            if (lv < hv) continue;
            if (set[l] && set[h])
                note(w, "%s=%s is not below %s=%s; using the defaults %s and %s", lo->name, value[l], hi->name,
                     value[h], lo->dflt, hi->dflt);
            else if (set[l])
                note(w, "%s=%s is not below %s (%u); using the default %s", lo->name, value[l], hi->name, hv, lo->dflt);
            else
                note(w, "%s=%s is not above %s (%u); using the default %s", hi->name, value[h], lo->name, lv, hi->dflt);
            int lset = set[l], hset = set[h];
            if (lset || !hset) {
                apply(lo, lo->dflt, opt, why, sizeof why);
                set[l] = 0;
            }
            if (hset || !lset) {
                apply(hi, hi->dflt, opt, why, sizeof why);
                set[h] = 0;
            }
            changed = 1;
        }
    }
}

size_t gpumem__options_parse(const char *(*getenv_fn)(const char *name), struct gpumem_options *out,
                             char warnings[][GPUMEM_OPTIONS_WARNING_SIZE], size_t max)
{
    struct warnings w = { .text = warnings, .max = max, .n = 0 };
    const char *value[NOPTIONS];
    int set[NOPTIONS] = { 0 };
    char why[GPUMEM_OPTIONS_WARNING_SIZE];
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct option *o = &options[i];
        apply(o, o->dflt, out, why, sizeof why);
        const char *v = getenv_fn(o->name);
        value[i] = v ? v : "";
        if (!v) continue;
        int r = apply(o, v, out, why, sizeof why);
        if (r == 0) {
            apply(o, o->dflt, out, why, sizeof why);
            note(&w, "%s=%s is not valid (%s); using the default %s", o->name, v, o->help, o->dflt);
        } else if (r == 2) {
            note(&w, "%s=%s %s", o->name, v, why);
        }
        set[i] = r != 0;
    }
    check_relations(out, value, set, &w);
    return w.n;
}

static const char *environment(const char *name) { return getenv(name); }

static void load(void)
{
    struct gpumem_options opt;
    char warnings[GPUMEM_OPTIONS_MAX_WARNINGS][GPUMEM_OPTIONS_WARNING_SIZE];
    size_t n = gpumem__options_parse(environment, &opt, warnings, GPUMEM_OPTIONS_MAX_WARNINGS);
    gpumem__opt = opt;
    gpumem__log_configure(opt.log_sink, opt.log_path);
    for (size_t i = 0; i < n; i++) gpumem__log("%s", warnings[i]);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

void gpumem__options_load(void) { pthread_once(&once, load); }
