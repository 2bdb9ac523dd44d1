/*
 * cmd_watch.c - gpumem watch: one line (or one JSON object) per event of
 * every segment of a prefix, as it happens: a level change, an
 * out-of-memory failure, a process that appeared, exited or died, a device
 * whose next allocation became (or stopped being) at risk, and "lost" when
 * more level changes happened between two polls than the ring holds.
 *
 * Nothing is read twice and nothing is skipped: level changes are followed
 * by their index in the segment's ring (header.transitions_head), never by
 * comparing two snapshots, so a burst faster than the polling is reported
 * change by change; out-of-memory failures by header.oom_count. A process
 * is its pid and start time, so a new process that reuses a pid is a new
 * process. --cursor-file keeps, per process, how far it was reported
 * (written to a temporary file and renamed over the old one), so a
 * restarted watch goes on where it stopped.
 *
 * Cost: a full read of a segment (two copies of ~100 KiB and a look at
 * /proc) only when its header's counters moved; otherwise one pread of the
 * 1 KiB header and one kill(pid, 0) per process and poll, and the start time
 * in /proc/PID/stat once a second.
 *
 * --exec CMD runs CMD once per event, one at a time, with the facts in
 * GPUMEM_* environment variables (text from a segment goes only there,
 * never into a command line), split on blanks and run without a shell
 * unless --shell, in a process group of its own, killed (SIGTERM, then
 * SIGKILL after a second) after --exec-timeout seconds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "emit.h"
#include "format.h"
#include "procfs.h"
#include "snapshot.h"
#include "view.h"

extern char **environ;

#define MAX_ARGS 64
#define OOM_WAIT_NS 1000000000ull    /* an OOM's report may follow its count */
#define OOM_EVENTS_MAX 64            /* OOMs reported per poll; more: lost    */
#define STALL_POLLS 20               /* a change claimed but never written    */
#define START_CHECK_NS 1000000000ull /* pid reuse: /proc/PID/stat this often */

enum { F_APPEARED = 1, F_ENDED = 2 };

struct tracked {
    char name[64];
    int pid, fd, pidfd; /* pidfd: readable once the process ended; -1 none */
    ino_t ino;
    uint64_t start;
    uint64_t next_tr;  /* the next level change to report (ring index) */
    uint64_t oom_seen; /* out-of-memory failures reported */
    unsigned flags;    /* F_* */
    uint64_t risk;     /* bit d: cuda:d at risk, as last reported */
    /* the cheap path: what the header said at the last full read */
    uint64_t h_head, h_oom, h_risk;
    uint32_t h_state;
    int alive, force, stall, seen;
    uint64_t oom_wait_ns, start_checked_ns;
};

struct cursor_entry {
    int pid;
    uint64_t start, next_tr, oom_seen, risk;
    unsigned flags;
};

static struct {
    const char *dir, *prefix, *cursor_file, *exec;
    int json, shell, once, min_level; /* min_level: -1 all events */
    double interval, exec_timeout;
    uint64_t baseline_ns;
    struct tracked *t;
    size_t n, cap;
    struct cursor_entry *cur;
    size_t ncur;
    struct gpumem_process *proc;
    struct gpumem_oom *oom;
    int dirfd, dirty;
    struct timespec dir_mtime;
    unsigned polls;
} w;

static volatile sig_atomic_t stop;
static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- one event ----------------------------------------------------------- */

struct event {
    const char *kind; /* level, oom, appeared, exited, died, risk, lost */
    const struct tracked *t;
    const char *command;
    uint64_t unix_ns;
    const struct gpumem_device *dev; /* NULL: not about one device */
    int device;
    unsigned level, previous; /* level */
    uint64_t reserved;
    const char *report; /* oom */
    uint64_t requested, count;
    int raised; /* risk */
};

static void emit_json(struct gpumem_emitter *e, const struct event *ev, const char *device, const char *percent)
{
    gpumem__emitter_object_begin(e, NULL);
    gpumem__emitter_string(e, "event", ev->kind);
    gpumem__emitter_uint(e, "time_unix_ns", ev->unix_ns);
    gpumem__emitter_int(e, "pid", ev->t->pid);
    gpumem__emitter_uint(e, "start_time_ticks", ev->t->start);
    gpumem__emitter_string(e, "command", ev->command);
    if (ev->device >= 0) {
        gpumem__emitter_string(e, "device", device);
        gpumem__emitter_int(e, "device_id", ev->device);
    }
    if (ev->dev) gpumem__emitter_string(e, "uuid", ev->dev->uuid);
    if (strcmp(ev->kind, "level") == 0) {
        gpumem__emitter_string(e, "level", gpumem__level_name(ev->level));
        gpumem__emitter_string(e, "previous_level", gpumem__level_name(ev->previous));
    }
    if (ev->dev && (strcmp(ev->kind, "level") == 0 || strcmp(ev->kind, "risk") == 0)) {
        gpumem__emitter_uint(e, "reserved_bytes", ev->reserved);
        gpumem__emitter_uint(e, "total_bytes", ev->dev->total_bytes);
        gpumem__emitter_number(e, "percent", percent);
    }
    if (strcmp(ev->kind, "risk") == 0) {
        gpumem__emitter_bool(e, "at_risk", ev->raised);
        gpumem__emitter_uint(e, "free_bytes", ev->dev->free_bytes);
        gpumem__emitter_uint(e, "largest_recent_request", ev->dev->largest_recent_request);
        gpumem__emitter_uint(e, "headroom_bytes", ev->dev->headroom_bytes);
    }
    if (strcmp(ev->kind, "oom") == 0) {
        gpumem__emitter_uint(e, "oom_number", ev->count);
        gpumem__emitter_uint(e, "requested_bytes", ev->requested);
        gpumem__emitter_string(e, "report", ev->report ? ev->report : "");
    }
    if (strcmp(ev->kind, "lost") == 0) gpumem__emitter_uint(e, "lost", ev->count);
    gpumem__emitter_object_end(e);
}

static void emit_text(char *buf, size_t size, const struct event *ev, const char *device, const char *percent)
{
    char when[64], a[32], b[32];
    gpumem__format_utc(when, sizeof when, ev->unix_ns);
    int n = snprintf(buf, size, "%s %s pid %d", when, ev->kind, ev->t->pid);
    if (n < 0 || (size_t)n >= size) return;
    if (ev->device >= 0) n += snprintf(buf + n, size - (size_t)n, " %s", device);
    if ((size_t)n >= size) return;
    if (strcmp(ev->kind, "level") == 0 && ev->dev) {
        gpumem__format_gb(a, sizeof a, ev->reserved);
        gpumem__format_gb(b, sizeof b, ev->dev->total_bytes);
        n += snprintf(buf + n, size - (size_t)n, " %s -> %s %s / %s %s%% %s", gpumem__level_name(ev->previous),
                      gpumem__level_name(ev->level), a, b, percent, ev->dev->uuid);
    } else if (strcmp(ev->kind, "risk") == 0 && ev->dev) {
        gpumem__format_gb(a, sizeof a, ev->dev->free_bytes);
        gpumem__format_gb(b, sizeof b, ev->dev->largest_recent_request);
        n += snprintf(buf + n, size - (size_t)n, " %s: driver free %s %s largest recent request %s",
                      ev->raised ? "at risk" : "no longer at risk", a, ev->raised ? "<" : ">=", b);
    } else if (strcmp(ev->kind, "oom") == 0) {
        gpumem__format_size(a, sizeof a, ev->requested);
        n += snprintf(buf + n, size - (size_t)n, " #%llu requested %s report %s", (unsigned long long)ev->count,
                      ev->requested ? a : "?", ev->report && *ev->report ? ev->report : "(none)");
    } else if (strcmp(ev->kind, "lost") == 0) {
        n += snprintf(buf + n, size - (size_t)n, " %llu %s (more than %u between two polls)",
                      (unsigned long long)ev->count, ev->raised ? "out-of-memory failures" : "level changes",
                      ev->raised ? OOM_EVENTS_MAX : GPUMEM_SHM_TRANSITION_SLOTS);
    }
    if ((size_t)n < size) snprintf(buf + n, size - (size_t)n, " command %s", ev->command);
}

/* Whether --level lets the event through: level changes up to at least the
 * level, out-of-memory failures and lost changes always; at risk counts as
 * a warning; the rest only without --level. */
static int wanted(const struct event *ev)
{
    if (w.min_level < 0) return 1;
    if (strcmp(ev->kind, "oom") == 0 || strcmp(ev->kind, "lost") == 0) return 1;
    if (strcmp(ev->kind, "level") == 0) return (int)ev->level >= w.min_level && ev->level > ev->previous;
    if (strcmp(ev->kind, "risk") == 0) return ev->raised && w.min_level <= GPUMEM_LEVEL_WARNING;
    return 0;
}

/* ---- --exec ------------------------------------------------------------- */

static void add_env(char **env, size_t *n, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);
    if (!s) return;
    snprintf(s, len, "%s=%s", name, value);
    env[(*n)++] = s;
}

static void add_env_u(char **env, size_t *n, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    add_env(env, n, name, buf);
}

static void run_hook(const struct event *ev, const char *device, const char *percent, const char *json)
{
    size_t nenv = 0, base = 0;
    while (environ[base]) base++;
    char **env = calloc(base + 32, sizeof *env);
    if (!env) return;
    /* The caller's environment without any GPUMEM_ event variable of its own. */
    for (size_t i = 0; i < base; i++)
        if (strncmp(environ[i], "GPUMEM_", 7) != 0 || strncmp(environ[i], "GPUMEM_SHM_", 11) == 0)
            env[nenv++] = strdup(environ[i]);
    add_env(env, &nenv, "GPUMEM_EVENT", ev->kind);
    add_env_u(env, &nenv, "GPUMEM_PID", (uint64_t)ev->t->pid);
    add_env_u(env, &nenv, "GPUMEM_START_TIME_TICKS", ev->t->start);
    add_env(env, &nenv, "GPUMEM_COMMAND", ev->command);
    add_env_u(env, &nenv, "GPUMEM_TIME_UNIX_NS", ev->unix_ns);
    add_env(env, &nenv, "GPUMEM_DEVICE", ev->device >= 0 ? device : "");
    add_env(env, &nenv, "GPUMEM_UUID", ev->dev ? ev->dev->uuid : "");
    int is_level = strcmp(ev->kind, "level") == 0;
    add_env(env, &nenv, "GPUMEM_LEVEL",
            is_level  ? gpumem__level_name(ev->level)
            : ev->dev ? gpumem__level_name(ev->dev->level)
                      : "");
    add_env(env, &nenv, "GPUMEM_PREVIOUS_LEVEL", is_level ? gpumem__level_name(ev->previous) : "");
    add_env(env, &nenv, "GPUMEM_PERCENT", ev->dev ? percent : "");
    add_env_u(env, &nenv, "GPUMEM_RESERVED_BYTES", ev->dev ? ev->reserved : 0);
    add_env_u(env, &nenv, "GPUMEM_TOTAL_BYTES", ev->dev ? ev->dev->total_bytes : 0);
    add_env(env, &nenv, "GPUMEM_REPORT", ev->report ? ev->report : "");
    add_env_u(env, &nenv, "GPUMEM_REQUESTED_BYTES", ev->requested);
    add_env(env, &nenv, "GPUMEM_AT_RISK", strcmp(ev->kind, "risk") == 0 ? (ev->raised ? "1" : "0") : "");
    add_env_u(env, &nenv, "GPUMEM_FREE_BYTES", ev->dev ? ev->dev->free_bytes : 0);
    add_env_u(env, &nenv, "GPUMEM_LARGEST_RECENT_REQUEST", ev->dev ? ev->dev->largest_recent_request : 0);
    add_env_u(env, &nenv, "GPUMEM_LOST", strcmp(ev->kind, "lost") == 0 ? ev->count : 0);
    add_env(env, &nenv, "GPUMEM_EVENT_JSON", json);
    env[nenv] = NULL;

    /* The command line is the user's, split on blanks (or given to sh -c):
     * nothing from a segment ever enters it. */
    char *copy = strdup(w.exec), *argv[MAX_ARGS + 1];
    int argc = 0;
    if (w.shell) {
        argv[argc++] = "/bin/sh";
        argv[argc++] = "-c";
        argv[argc++] = copy;
    } else {
        for (char *save = NULL, *tok = strtok_r(copy, " \t\n", &save); tok && argc < MAX_ARGS;
             tok = strtok_r(NULL, " \t\n", &save))
            argv[argc++] = tok;
    }
    argv[argc] = NULL;
    fflush(stdout);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setpgroup(&attr, 0); /* its own group: a timeout ends all it started */
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    pid_t child;
    int err = argc ? posix_spawnp(&child, argv[0], NULL, &attr, argv, env) : EINVAL;
    posix_spawnattr_destroy(&attr);
    if (err) {
        fprintf(stderr, "gpumem watch: cannot run %s: %s\n", argc ? argv[0] : "(empty command)", strerror(err));
    } else {
        uint64_t deadline = now_ns() + (uint64_t)(w.exec_timeout * 1e9), killed = 0;
        int status = 0;
        for (;;) {
            pid_t r = waitpid(child, &status, WNOHANG);
            if (r == child || (r < 0 && errno != EINTR)) break;
            uint64_t t = now_ns();
            if (!killed && t >= deadline) {
                fprintf(stderr, "gpumem watch: hook %s (event %s, pid %d) ran over %gs: SIGTERM\n", argv[0], ev->kind,
                        ev->t->pid, w.exec_timeout);
                kill(-child, SIGTERM);
                killed = t;
            } else if (killed && t >= killed + 1000000000ull) {
                kill(-child, SIGKILL);
                killed = UINT64_MAX - 2000000000ull;
            }
            struct timespec ts = { 0, 5000000 };
            nanosleep(&ts, NULL);
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            fprintf(stderr, "gpumem watch: hook %s (event %s, pid %d) exited %d\n", argv[0], ev->kind, ev->t->pid,
                    WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            fprintf(stderr, "gpumem watch: hook %s (event %s, pid %d) killed by signal %d\n", argv[0], ev->kind,
                    ev->t->pid, WTERMSIG(status));
    }
    free(copy);
    for (size_t i = 0; i < nenv; i++) free(env[i]);
    free(env);
}

static void emit(const struct event *ev)
{
    w.dirty = 1;
    if (!wanted(ev)) return;
    char device[16] = "", percent[16] = "0.00";
    if (ev->device >= 0) snprintf(device, sizeof device, "cuda:%d", ev->device);
    if (ev->dev) gpumem__format_percent(percent, sizeof percent, ev->reserved, ev->dev->total_bytes);
    char json[2048];
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, json, sizeof json);
    emit_json(&e, ev, device, percent);
    if (w.json) {
        fputs(json, stdout);
        fputc('\n', stdout);
    } else {
        char line[1024];
        emit_text(line, sizeof line, ev, device, percent);
        puts(line);
    }
    fflush(stdout);
    if (w.exec) run_hook(ev, device, percent, json);
}

/* ---- the cursor ------------------------------------------------------------ */

static void cursor_load(void)
{
    FILE *f = fopen(w.cursor_file, "r");
    if (!f) return;
    char line[256];
    unsigned long long base = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "gpumem-watch-cursor 1\n") != 0 || !fgets(line, sizeof line, f) ||
        sscanf(line, "baseline %llu", &base) != 1) {
        fprintf(stderr, "gpumem watch: %s is not a watch cursor; starting from now\n", w.cursor_file);
        fclose(f);
        return;
    }
    w.baseline_ns = base;
    while (fgets(line, sizeof line, f)) {
        struct cursor_entry c;
        unsigned long long start, next, oom, risk;
        if (sscanf(line, "p %d %llu %llu %llu %u %llu", &c.pid, &start, &next, &oom, &c.flags, &risk) != 6) continue;
        c.start = start;
        c.next_tr = next;
        c.oom_seen = oom;
        c.risk = risk;
        struct cursor_entry *g = realloc(w.cur, (w.ncur + 1) * sizeof *g);
        if (!g) break;
        w.cur = g;
        w.cur[w.ncur++] = c;
    }
    fclose(f);
}

/* Written to a temporary file and renamed over the old one: a reader (or a
 * watch killed while writing) finds the old cursor or the new, whole. */
static void cursor_save(uint64_t at)
{
    if (!w.cursor_file) return;
    char tmp[4200];
    /* A new file of a name no one can foresee (mkstemp: O_EXCL, mode 0600):
     * never through a link another user left in a shared directory. */
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", w.cursor_file);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd), unlink(tmp);
        fprintf(stderr, "gpumem watch: cannot write %s: %s\n", tmp, strerror(errno));
        return;
    }
    fprintf(f, "gpumem-watch-cursor 1\nbaseline %llu\n", (unsigned long long)at);
    for (size_t i = 0; i < w.n; i++) {
        const struct tracked *t = &w.t[i];
        fprintf(f, "p %d %llu %llu %llu %u %llu\n", t->pid, (unsigned long long)t->start,
                (unsigned long long)t->next_tr, (unsigned long long)t->oom_seen, t->flags, (unsigned long long)t->risk);
    }
    /* Ended processes the directory still holds, reported but not tracked: none. */
    if (fclose(f) != 0 || rename(tmp, w.cursor_file) != 0) {
        fprintf(stderr, "gpumem watch: cannot save the cursor %s: %s\n", w.cursor_file, strerror(errno));
        unlink(tmp);
    }
}

static const struct cursor_entry *cursor_find(int pid, uint64_t start)
{
    for (size_t i = 0; i < w.ncur; i++)
        if (w.cur[i].pid == pid && w.cur[i].start == start) return &w.cur[i];
    return NULL;
}

/* ---- following one process --------------------------------------------- */

static const struct gpumem_device *device_of(const struct gpumem_process *p, int ordinal)
{
    for (int i = 0; i < p->ndevices; i++)
        if (p->devices[i].ordinal == ordinal) return &p->devices[i];
    return NULL;
}

static void event_init(struct event *ev, const char *kind, const struct tracked *t, const struct gpumem_process *p)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->t = t;
    ev->command = p->command;
    ev->device = -1;
    ev->unix_ns = now_ns();
}

/* A new process: where to start, from the cursor or the baseline time. */
static void first_sight(struct tracked *t, const struct gpumem_process *p)
{
    const struct cursor_entry *c = cursor_find(p->pid, p->start_time_ticks);
    if (c) {
        t->next_tr = c->next_tr;
        t->oom_seen = c->oom_seen;
        t->flags = c->flags;
        t->risk = c->risk;
        return;
    }
    int is_new = p->created_unix_ns >= w.baseline_ns;
    t->next_tr = p->transitions_head;
    for (size_t k = 0; k < p->ring_count && !is_new; k++)
        if (p->ring_seq[k] == p->ring_first + k + 1 && p->ring[k].unix_ns >= w.baseline_ns) {
            t->next_tr = p->ring_first + k;
            break;
        }
    if (is_new) t->next_tr = 0;
    t->oom_seen = p->oom_count;
    if (is_new) t->oom_seen = 0;
    else if (p->oom && p->oom->unix_ns >= w.baseline_ns && p->oom->oom_count && p->oom->oom_count <= p->oom_count)
        t->oom_seen = p->oom->oom_count - 1;
    t->risk = 0;
    for (int i = 0; i < p->ndevices && !is_new; i++)
        if (p->devices[i].risk == GPUMEM_SHM_RISK_AT_RISK && p->devices[i].risk_unix_ns < w.baseline_ns &&
            p->devices[i].ordinal < 64)
            t->risk |= 1ull << p->devices[i].ordinal;
    if (!is_new) t->flags |= F_APPEARED;
    /* Ended before the baseline (or at an unknown time, before it): not news. */
    int exited_after = p->state == GPUMEM_SHM_STATE_EXITED && p->exited_unix_ns >= w.baseline_ns;
    if (!is_new && p->liveness != GPUMEM_ALIVE && !exited_after) t->flags |= F_ENDED;
}

/* Report what is new in a full read p of t's segment. final: the segment
 * is gone (read through the descriptor kept open): nothing more will come. */
static void follow(struct tracked *t, const struct gpumem_process *p, int final)
{
    struct event ev;
    uint64_t now = now_ns();
    if (!(t->flags & F_APPEARED)) {
        t->flags |= F_APPEARED;
        event_init(&ev, "appeared", t, p);
        ev.unix_ns = p->created_unix_ns;
        emit(&ev);
    }
    int ended = final || p->liveness != GPUMEM_ALIVE;
    /* Level changes, in ring order. */
    t->force = 0;
    if (t->next_tr < p->ring_first) {
        event_init(&ev, "lost", t, p);
        ev.count = p->ring_first - t->next_tr;
        emit(&ev);
        t->next_tr = p->ring_first;
    }
    uint64_t lost = 0;
    while (t->next_tr < p->transitions_head) {
        size_t k = (size_t)(t->next_tr - p->ring_first);
        if (k >= p->ring_count) { /* past what the ring holds (one that did not parse): unreadable */
            lost += p->transitions_head - t->next_tr;
            t->next_tr = p->transitions_head;
            break;
        }
        uint64_t seq = p->ring_seq[k];
        if (seq == t->next_tr + 1) {
            if (lost) {
                event_init(&ev, "lost", t, p);
                ev.count = lost;
                emit(&ev);
                lost = 0;
            }
            const struct gpumem_transition *g = &p->ring[k];
            event_init(&ev, "level", t, p);
            ev.unix_ns = g->unix_ns;
            ev.device = g->device;
            ev.dev = device_of(p, g->device);
            ev.level = g->level;
            ev.previous = g->previous;
            ev.reserved = g->reserved_bytes;
            emit(&ev);
        } else if (seq > t->next_tr + 1) {
            lost++; /* overwritten by a later change before it was read */
        } else if (!ended && t->stall < STALL_POLLS) {
            t->stall++; /* being written right now: read it at the next poll */
            t->force = 1;
            break;
        } else {
            lost++; /* claimed, never written (its writer ended) */
        }
        t->stall = 0;
        t->next_tr++;
    }
    if (lost) {
        event_init(&ev, "lost", t, p);
        ev.count = lost;
        emit(&ev);
    }
    /* Out-of-memory failures: the report path comes with the record, which
     * the process writes just after counting the failure. */
    if (p->oom_count - t->oom_seen > OOM_EVENTS_MAX && p->oom_count > t->oom_seen) {
        /* A failing retry loop (or a hostile count): the newest are reported,
         * the rest as lost, never one event and hook run per failure. */
        event_init(&ev, "lost", t, p);
        ev.count = p->oom_count - OOM_EVENTS_MAX - t->oom_seen;
        ev.raised = 1; /* lost failures, not level changes */
        emit(&ev);
        t->oom_seen = p->oom_count - OOM_EVENTS_MAX;
    }
    while (t->oom_seen < p->oom_count) {
        uint64_t k = t->oom_seen + 1;
        const struct gpumem_oom *o = p->oom;
        int match = o && o->oom_count == k;
        if (!match && !(o && o->oom_count > k) && !ended) {
            if (!t->oom_wait_ns) t->oom_wait_ns = now;
            if (now - t->oom_wait_ns < OOM_WAIT_NS) {
                t->force = 1;
                break;
            }
        }
        t->oom_wait_ns = 0;
        event_init(&ev, "oom", t, p);
        ev.count = k;
        if (match) {
            ev.unix_ns = o->unix_ns;
            ev.device = o->device;
            ev.dev = device_of(p, o->device);
            ev.reserved = ev.dev ? ev.dev->reserved_bytes : 0;
            ev.requested = o->requested_bytes;
            ev.report = o->report_path;
        }
        emit(&ev);
        t->oom_seen = k;
    }
    /* At risk: a state, reported when it differs from what was reported. */
    for (int i = 0; i < p->ndevices; i++) {
        const struct gpumem_device *d = &p->devices[i];
        if (d->ordinal >= 64) continue;
        uint64_t bit = 1ull << d->ordinal;
        int at = d->risk == GPUMEM_SHM_RISK_AT_RISK, was = (t->risk & bit) != 0;
        if (at == was || ended) continue;
        event_init(&ev, "risk", t, p);
        ev.unix_ns = d->risk_unix_ns ? d->risk_unix_ns : now;
        ev.device = d->ordinal;
        ev.dev = d;
        ev.reserved = d->reserved_bytes;
        ev.raised = at;
        emit(&ev);
        t->risk ^= bit;
    }
    if (ended && !(t->flags & F_ENDED) && !t->force) {
        t->flags |= F_ENDED;
        int died = p->liveness == GPUMEM_DEAD && p->state != GPUMEM_SHM_STATE_EXITED;
        event_init(&ev, died ? "died" : "exited", t, p);
        if (!died && p->exited_unix_ns) ev.unix_ns = p->exited_unix_ns;
        emit(&ev);
    }
    t->alive = !ended;
}

/* A descriptor that becomes readable when the process ends (Linux 5.3):
 * opened once, and trusted only if the pid still has the start time read
 * from the segment after it was opened. Without one, kill(pid, 0) at each
 * poll and the start time once a second tell the same, at more cost. */
static void open_pidfd(struct tracked *t)
{
    if (t->pidfd >= 0 || !t->alive) return;
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, t->pid, 0);
    if (fd < 0) return;
    if (gpumem__process_gone(t->pid, t->start)) {
        close(fd);
        t->force = 1;
        return;
    }
    t->pidfd = fd;
#endif
}

static void remember_header(struct tracked *t, const struct gpumem_process *p)
{
    t->h_head = p->transitions_head;
    t->h_oom = p->oom_count;
    t->h_risk = p->risk_changes;
    t->h_state = p->state;
}

/* Whether the header moved since the last full read, or the process may
 * have ended: only then is the segment read whole. */
static int changed(struct tracked *t, uint64_t now)
{
    if (t->force || t->fd < 0) return 1;
    struct gpumem_shm_header h;
    if (pread(t->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) return 1;
    if (h.transitions_head != t->h_head || h.oom_count != t->h_oom || h.risk_changes != t->h_risk ||
        h.state != t->h_state)
        return 1;
    if (!t->alive || t->pidfd >= 0) return 0; /* a pidfd's end is seen in poll_once */
    if (kill(t->pid, 0) != 0 && errno == ESRCH) return 1;
    if (now - t->start_checked_ns >= START_CHECK_NS) {
        t->start_checked_ns = now;
        if (gpumem__process_gone(t->pid, t->start)) return 1;
    }
    return 0;
}

static struct tracked *find(const char *name)
{
    for (size_t i = 0; i < w.n; i++)
        if (strcmp(w.t[i].name, name) == 0) return &w.t[i];
    return NULL;
}

/* The segment left the directory: its last state is read through the
 * descriptor still open, then the process is reported as ended. */
static void gone(struct tracked *t)
{
    if (t->fd >= 0) {
        struct stat st;
        void *buf = NULL, *recheck = NULL;
        size_t len = 0;
        char why[192];
        if (fstat(t->fd, &st) == 0 &&
            gpumem__snapshot_copy_fd(t->fd, &st, &buf, &recheck, &len, why, sizeof why) == 0 &&
            gpumem__segment_parse(buf, recheck, len, w.proc, w.oom, why, sizeof why) == 0 && w.proc->pid == t->pid) {
            /* The shim unlinks its segment at a normal exit. */
            w.proc->liveness = GPUMEM_EXITED;
            follow(t, w.proc, 1);
        }
        free(buf);
        free(recheck);
        close(t->fd);
    }
    if (t->pidfd >= 0) close(t->pidfd);
    if (!(t->flags & F_ENDED)) {
        struct event ev;
        struct gpumem_process none;
        memset(&none, 0, sizeof none);
        event_init(&ev, "exited", t, &none);
        ev.command = "";
        emit(&ev);
    }
    *t = w.t[--w.n];
    w.dirty = 1;
}

/* Read one segment of the directory whole if it is new or its header
 * moved, and report what is new in it. */
static void visit(const char *name, ino_t ino, uint64_t now)
{
    struct tracked *t = find(name);
    if (t && t->ino != ino) { /* replaced: a new process took the pid */
        gone(t);
        t = NULL;
    }
    if (t) {
        t->seen = 1;
        if (!changed(t, now)) return;
    }
    char why[192];
    struct stat st;
    int sfd = -1;
    enum gpumem_snapshot r = gpumem__snapshot_load_at(w.dirfd, name, w.proc, w.oom, &st, &sfd, why, sizeof why);
    if (r != GPUMEM_SNAPSHOT_OK) {
        if (sfd >= 0) close(sfd);
        if (t) t->seen = r != GPUMEM_SNAPSHOT_GONE; /* gone: reported by the sweep */
        return;
    }
    if (t && (st.st_ino != t->ino || w.proc->start_time_ticks != t->start)) {
        gone(t);
        t = NULL;
    }
    if (!t) {
        if (w.n == w.cap) {
            size_t cap = w.cap ? w.cap * 2 : 64;
            struct tracked *g = realloc(w.t, cap * sizeof *g);
            if (!g) {
                close(sfd);
                return;
            }
            w.t = g;
            w.cap = cap;
        }
        t = &w.t[w.n++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", name);
        t->pid = w.proc->pid;
        t->start = w.proc->start_time_ticks;
        t->ino = st.st_ino;
        t->fd = t->pidfd = -1;
        t->start_checked_ns = now;
        first_sight(t, w.proc);
        w.dirty = 1;
    }
    if (t->fd >= 0) close(t->fd);
    t->fd = sfd;
    t->seen = 1;
    remember_header(t, w.proc);
    follow(t, w.proc, 0);
    open_pidfd(t);
}

/* Processes that ended, from their pidfds, all in one poll(2). */
static void ended_pidfds(void)
{
    struct pollfd fds[256];
    size_t idx[256], n = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (w.t[i].pidfd < 0 || !w.t[i].alive) continue;
        if (n == 256) {
            poll(fds, n, 0);
            for (size_t k = 0; k < n; k++) w.t[idx[k]].force |= (fds[k].revents != 0);
            n = 0;
        }
        fds[n].fd = w.t[i].pidfd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        idx[n++] = i;
    }
    if (n && poll(fds, n, 0) > 0)
        for (size_t k = 0; k < n; k++) w.t[idx[k]].force |= (fds[k].revents != 0);
}

/* The directory is listed again when it changed (its mtime), when it
 * changed less than a second ago (a file created in the same clock tick as
 * the last look leaves the mtime as it was), and once a second anyway;
 * otherwise only the segments already followed are looked at. */
static int relist(uint64_t now)
{
    struct stat ds;
    if (fstat(w.dirfd, &ds) != 0) return 1;
    int moved = ds.st_mtim.tv_sec != w.dir_mtime.tv_sec || ds.st_mtim.tv_nsec != w.dir_mtime.tv_nsec;
    w.dir_mtime = ds.st_mtim;
    uint64_t mtime_ns = (uint64_t)ds.st_mtim.tv_sec * 1000000000u + (uint64_t)ds.st_mtim.tv_nsec;
    return moved || now < mtime_ns + 1000000000u || w.polls % (unsigned)(1.0 / w.interval + 1) == 0;
}

static void poll_once(void)
{
    uint64_t now = now_ns();
    ended_pidfds();
    if (!relist(now) && w.polls++ > 0) {
        for (size_t i = 0; i < w.n && !stop; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s", w.t[i].name);
            if (changed(&w.t[i], now)) visit(name, w.t[i].ino, now);
        }
        return;
    }
    w.polls++;
    for (size_t i = 0; i < w.n; i++) w.t[i].seen = 0;
    int fd = dup(w.dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && !stop) {
        if (gpumem__snapshot_pid_of(de->d_name, w.prefix) < 0 || strlen(de->d_name) >= sizeof w.t[0].name) continue;
        visit(de->d_name, de->d_ino, now);
    }
    closedir(d);
    for (size_t i = 0; i < w.n && !stop;)
        if (!w.t[i].seen) gone(&w.t[i]);
        else i++;
    /* Processes of the cursor whose segment is no longer there ended while
     * no watch ran; their last changes cannot be read any more. */
    for (size_t i = 0; i < w.ncur; i++) {
        struct cursor_entry *c = &w.cur[i];
        if (!c->pid) continue;
        int found = 0;
        for (size_t k = 0; k < w.n && !found; k++) found = w.t[k].pid == c->pid && w.t[k].start == c->start;
        if (!found && !(c->flags & F_ENDED)) {
            struct tracked t = { .pid = c->pid, .start = c->start };
            struct gpumem_process none;
            memset(&none, 0, sizeof none);
            struct event ev;
            event_init(&ev, "exited", &t, &none);
            emit(&ev);
        }
        c->pid = 0; /* the cursor is used once, at the first poll */
    }
}

static int usage(const char *why)
{
    if (why) fprintf(stderr, "gpumem watch: %s\n", why);
    fputs("usage: gpumem watch [--json] [--level warning|critical] [--exec CMD [--shell] [--exec-timeout S]]\n"
          "                    [--prefix NAME] [--interval S] [--since UNIX_TIME | --cursor-file FILE] [--once]\n",
          stderr);
    return GPUMEM_EXIT_USAGE;
}

static int parse_seconds(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int gpumem__cmd_watch(int argc, char **argv)
{
    memset(&w, 0, sizeof w);
    w.prefix = getenv("GPUMEM_SHM_PREFIX");
    if (!w.prefix || !*w.prefix) w.prefix = "gpumem";
    w.dir = getenv("GPUMEM_SHM_DIR");
    if (!w.dir || !*w.dir) w.dir = "/dev/shm";
    w.interval = 1.0;
    w.exec_timeout = 10.0;
    w.min_level = -1;
    w.baseline_ns = now_ns();
    double since = -1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(s, "--json") == 0) w.json = 1;
        else if (strcmp(s, "--once") == 0) w.once = 1;
        else if (strcmp(s, "--shell") == 0) w.shell = 1;
        else if (strcmp(s, "--prefix") == 0 && v) w.prefix = argv[++i];
        else if (strcmp(s, "--exec") == 0 && v) w.exec = argv[++i];
        else if (strcmp(s, "--cursor-file") == 0 && v) w.cursor_file = argv[++i];
        else if (strcmp(s, "--level") == 0 && v) {
            i++;
            if (strcmp(v, "warning") == 0) w.min_level = GPUMEM_LEVEL_WARNING;
            else if (strcmp(v, "critical") == 0) w.min_level = GPUMEM_LEVEL_CRITICAL;
            else return usage("--level takes warning or critical");
        } else if (strcmp(s, "--interval") == 0 && v) {
            if (parse_seconds(argv[++i], 0.01, 3600, &w.interval)) return usage("--interval takes 0.01 to 3600 s");
        } else if (strcmp(s, "--exec-timeout") == 0 && v) {
            if (parse_seconds(argv[++i], 0.01, 86400, &w.exec_timeout))
                return usage("--exec-timeout takes 0.01 to 86400 s");
        } else if (strcmp(s, "--since") == 0 && v) {
            if (parse_seconds(argv[++i], 0, 1e11, &since)) return usage("--since takes a UNIX time in seconds");
        } else return usage(NULL);
    }
    if (!gpumem__prefix_valid(w.prefix)) return usage("--prefix: 1 to 32 letters, digits, '_' or '-'");
    if (w.shell && !w.exec) return usage("--shell goes with --exec");
    if (since >= 0) w.baseline_ns = (uint64_t)(since * 1e9);
    if (w.cursor_file) cursor_load();
    if (since >= 0) w.baseline_ns = (uint64_t)(since * 1e9);
    int rc = GPUMEM_EXIT_OK;
    w.dirfd = gpumem__view_open_dir(w.dir, &rc);
    if (w.dirfd < 0) {
        if (rc == GPUMEM_EXIT_OK) fprintf(stderr, "gpumem watch: %s does not exist\n", w.dir);
        return GPUMEM_EXIT_SKIPPED;
    }
    w.proc = malloc(sizeof *w.proc);
    w.oom = malloc(sizeof *w.oom);
    if (!w.proc || !w.oom) return GPUMEM_EXIT_SKIPPED;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!stop) {
        uint64_t at = now_ns();
        poll_once();
        if (w.dirty) cursor_save(at);
        w.dirty = 0;
        if (w.once || stop) break;
        struct timespec ts = { (time_t)w.interval, (long)((w.interval - (double)(time_t)w.interval) * 1e9) };
        nanosleep(&ts, NULL);
    }
    if (w.dirty) cursor_save(now_ns());
    for (size_t i = 0; i < w.n; i++) {
        if (w.t[i].fd >= 0) close(w.t[i].fd);
        if (w.t[i].pidfd >= 0) close(w.t[i].pidfd);
    }
    close(w.dirfd);
    free(w.t);
    free(w.cur);
    free(w.proc);
    free(w.oom);
    return ferror(stdout) ? GPUMEM_EXIT_SKIPPED : GPUMEM_EXIT_OK;
}
