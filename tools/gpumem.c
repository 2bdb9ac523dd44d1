/*
 * gpumem - the reader: every process's GPU memory, live or as it was left.
 *
 *   gpumem ls                           a line per process
 *   gpumem show [PID...] [--json]       the full snapshot
 *   gpumem top [--interval S] [--once]  live view; --once prints one frame
 *   gpumem gc                           remove segments of ended processes
 *   gpumem report FILE|PID [--json] [--svg FILE.svg]
 *                                       the post-mortem of an out-of-memory failure
 *   gpumem run [options] CMD [ARGS...]  CMD under this gpumem's libgpumem.so (cmd_run.c)
 *   gpumem serve [--listen ADDR:PORT]   Prometheus metrics on http://ADDR:PORT/metrics
 *   gpumem export [--textfile PATH]     the same metrics, once, for node_exporter
 *   gpumem history|plot|trace ...       memory over time (cmd_history.c, cmd_plot.c, cmd_trace.c)
 *   gpumem watch [--json] [--exec CMD]  one line per event (cmd_watch.c)
 *   --prefix NAME                       as GPUMEM_SHM_PREFIX (default gpumem)
 *
 * Exit status: 0 success; 1 a segment is damaged or cannot be trusted (the
 * rest is still shown; other users' segments this user may not read and
 * unfinished ones of killed processes are only counted); 2 usage error;
 * 3 a PID asked for has no segment this user may read.
 */
#define _GNU_SOURCE
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "fleet.h"
#include "history.h"
#include "pictures.h"
#include "render.h"
#include "report.h"
#include "sparkline.h"
#include "view.h"

enum {
    EXIT_OK = GPUMEM_EXIT_OK,
    EXIT_SKIPPED = GPUMEM_EXIT_SKIPPED,
    EXIT_USAGE = GPUMEM_EXIT_USAGE,
    EXIT_NOT_FOUND = GPUMEM_EXIT_NOT_FOUND
};

struct args {
    const char *command, *prefix, *dir, *file, *svg;
    int json, once;
    double interval;
    int pids[256];
    int npids;
};

static int usage(const char *why);

int gpumem__cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(NULL);
    return EXIT_OK;
}

static int usage(const char *why)
{
    if (why) fprintf(stderr, "gpumem: %s\n", why);
    fputs(
        "usage: gpumem COMMAND [options]\n"
        "  gpumem ls [--prefix NAME] [--no-containers]\n"
        "  gpumem show [PID...] [--json] [--prefix NAME] [--no-containers]\n"
        "  gpumem top [--interval SECONDS] [--once] [--prefix NAME] [--no-containers]\n"
        "  gpumem gc [--prefix NAME]\n"
        "  gpumem report FILE|PID [--json] [--svg FILE.svg] [--prefix NAME]\n"
        "  gpumem run [--alarm PERCENT] [--warn PERCENT] [--log SINK] [--postmortem-dir DIR] [--keep]\n"
        "             [--backtrace] [--prefix NAME] [--] CMD [ARGS...]\n"
        "  gpumem serve [--listen ADDR:PORT] [--timeout SECONDS] [--prefix NAME] [--no-pid-label]\n"
        "  gpumem export [--textfile PATH] [--prefix NAME] [--no-pid-label]\n"
        "  gpumem watch [--json] [--level warning|critical] [--exec CMD [--shell] [--exec-timeout S]]\n"
        "               [--interval S] [--since UNIX_TIME | --cursor-file FILE] [--once] [--prefix NAME]\n"
        "  gpumem history PID|FILE [--device cuda:N] [--since DURATION] [--csv|--json] [--prefix NAME]\n"
        "  gpumem plot [PID|FILE [--label TEXT]...] [--since DURATION] [--device cuda:N] -o FILE.svg [--prefix NAME]\n"
        "  gpumem trace PID|FILE... -o FILE.json [--since DURATION] [--device cuda:N] [--prefix NAME]\n",
        stderr);
    return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->prefix = getenv("GPUMEM_SHM_PREFIX");
    if (!a->prefix || !*a->prefix) a->prefix = "gpumem";
    a->dir = getenv("GPUMEM_SHM_DIR");
    if (!a->dir || !*a->dir) a->dir = "/dev/shm";
    a->interval = 1.0;
    if (argc < 2) return usage(NULL);
    a->command = argv[1];
    if (strcmp(a->command, "-h") == 0 || strcmp(a->command, "--help") == 0) {
        usage(NULL);
        exit(EXIT_OK);
    }
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--json") == 0) a->json = 1;
        else if (strcmp(s, "--once") == 0) a->once = 1;
        else if (strcmp(s, "--no-containers") == 0) gpumem__fleet_containers = 0;
        else if (strcmp(s, "--prefix") == 0 && i + 1 < argc) a->prefix = argv[++i];
        else if (strcmp(s, "--svg") == 0 && i + 1 < argc && strcmp(a->command, "report") == 0) a->svg = argv[++i];
        else if (strcmp(s, "--interval") == 0 && i + 1 < argc) {
            char *end;
            a->interval = strtod(argv[++i], &end);
            if (*end || !(a->interval >= 0.1 && a->interval <= 3600))
                return usage("--interval takes seconds from 0.1 to 3600");
        } else if (s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10) {
            if (a->npids == 256) return usage("at most 256 PIDs");
            a->pids[a->npids++] = atoi(s);
        } else if (strcmp(a->command, "report") == 0 && !a->file && a->npids == 0) {
            a->file = s;
        } else {
            char msg[300];
            snprintf(msg, sizeof msg, "unknown argument '%.200s'", s);
            return usage(msg);
        }
    }
    if (!gpumem__prefix_valid(a->prefix)) return usage("--prefix takes 1 to 32 letters, digits, '_' or '-'");
    return EXIT_OK;
}

/* Remove the segments of processes that have ended, never a live one:
 * each file is read through a descriptor kept open, its writer checked as
 * it is now, and it is removed only as that same file (see
 * gpumem__snapshot_remove_at), from the directory that was read. A user other
 * than root removes only files of its own. */
static int cmd_gc(const struct args *a)
{
    int rc = EXIT_OK;
    gpumem__fleet_begin();
    int dirfd = gpumem__view_open_dir(a->dir, &rc);
    char **names = NULL;
    size_t n = dirfd >= 0 ? gpumem__snapshot_list(dirfd, a->prefix, &names) : 0;
    struct gpumem_process *p = malloc(sizeof *p);
    if (!p) {
        fprintf(stderr, "gpumem: out of memory\n");
        return EXIT_SKIPPED;
    }
    uid_t me = geteuid();
    size_t removed = 0, unreadable = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        int pid = gpumem__snapshot_pid_of(name, a->prefix), wanted = a->npids == 0;
        for (int k = 0; k < a->npids; k++) wanted |= a->pids[k] == pid;
        char why[256];
        struct stat st;
        int fd = -1;
        const struct gpumem_process *stamped = NULL;
        const char *what = NULL;
        enum gpumem_snapshot r = wanted ? gpumem__snapshot_load_at(dirfd, name, p, NULL, &st, &fd, why, sizeof why)
                                        : GPUMEM_SNAPSHOT_GONE;
        /* A writer that cannot be looked for (another pid namespace, not
         * visible from here) is never taken for gone. */
        if (r == GPUMEM_SNAPSHOT_OK && p->liveness != GPUMEM_ALIVE && p->liveness != GPUMEM_UNKNOWN) {
            stamped = p;
            what = gpumem__liveness_name(p->liveness);
        } else if (r == GPUMEM_SNAPSHOT_UNFINISHED) {
            what = "dead, never stamped";
        } else if (r == GPUMEM_SNAPSHOT_BAD) {
            fprintf(stderr, "gpumem: skipped %s/%s: %s\n", a->dir, name, why);
            rc = EXIT_SKIPPED;
        } else if (r == GPUMEM_SNAPSHOT_UNREADABLE) {
            unreadable++;
        }
        if (what && me != 0 && st.st_uid != me) {
            others++;
            what = NULL;
        }
        if (what) {
            switch (gpumem__snapshot_remove_at(dirfd, name, &st, stamped, pid, why, sizeof why)) {
            case GPUMEM_REMOVED:
                printf("removed %s/%s (pid %d %s)\n", a->dir, name, pid, what);
                removed++;
                break;
            case GPUMEM_REMOVE_FAILED:
                fprintf(stderr, "gpumem: cannot remove %s/%s: %s\n", a->dir, name, why);
                rc = EXIT_SKIPPED;
                break;
            case GPUMEM_REMOVE_REPLACED:
                printf("kept %s/%s: a new process with pid %d replaced it while gc worked\n", a->dir, name, pid);
                break;
            case GPUMEM_REMOVE_KEPT: /* its process runs after all */
            case GPUMEM_REMOVE_GONE: break;
            }
        }
        if (fd >= 0) close(fd);
        free(names[i]);
    }
    free(names);
    free(p);
    if (dirfd >= 0) close(dirfd);
    printf("%zu segment%s removed\n", removed, removed == 1 ? "" : "s");
    if (unreadable)
        fprintf(stderr, "gpumem: %zu segment%s of other users not readable\n", unreadable, unreadable == 1 ? "" : "s");
    if (others)
        fprintf(stderr, "gpumem: %zu segment%s of other users' ended processes left (only root removes them)\n", others,
                others == 1 ? "" : "s");
    return rc;
}

/* The last minute of each live process, for the sparklines of top; a
 * process that keeps no history has none. */
static void load_sparklines(const struct args *a, struct gpumem_view *v)
{
    v->history = NULL;
    v->nhistory = 0;
    for (size_t i = 0; i < v->nprocs; i++) {
        if (v->procs[i].liveness != GPUMEM_ALIVE) continue;
        struct gpumem_series *s;
        char why[256];
        int n = gpumem__history_load(a->dir, a->prefix, v->procs[i].pid, NULL, -1, GPUMEM_TOP_SPARK_NS, &s, why,
                                     sizeof why);
        struct gpumem_series *grown = n > 0 ? realloc(v->history, (v->nhistory + (size_t)n) * sizeof *grown) : NULL;
        if (grown) {
            memcpy(grown + v->nhistory, s, (size_t)n * sizeof *s);
            v->history = grown;
            v->nhistory += (size_t)n;
            free(s); /* the points and marks now belong to v->history */
        } else if (n > 0) gpumem__history_free(s, (size_t)n);
    }
}

static void free_sparklines(struct gpumem_view *v)
{
    gpumem__history_free(v->history, v->nhistory);
    v->history = NULL;
    v->nhistory = 0;
}

static void print_frame(const struct gpumem_view *v)
{
    struct gpumem_line lines[512];
    size_t n = gpumem__top_frame(v, lines, 512);
    for (size_t i = 0; i < n; i++) puts(lines[i].text);
}

static volatile sig_atomic_t resized;
static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

static int cmd_top(const struct args *a)
{
    if (a->once || !isatty(STDOUT_FILENO)) {
        struct gpumem_view v;
        int rc = gpumem__view_load(a->dir, a->prefix, a->pids, a->npids, &v);
        load_sparklines(a, &v);
        print_frame(&v);
        free_sparklines(&v);
        gpumem__view_print_counts(&v);
        gpumem__view_free(&v);
        return rc == EXIT_NOT_FOUND ? rc : EXIT_OK;
    }
    setlocale(LC_ALL, "");
    /* The warning sign, bars and sparklines need a UTF-8 terminal;
     * elsewhere they are ASCII ("!", "#", "_.-:=+*#"). */
    int utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    signal(SIGWINCH, on_winch);
    initscr();
    cbreak();
    noecho();
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(1, COLOR_YELLOW, -1);
        init_pair(2, COLOR_RED, -1);
    }
    timeout((int)(a->interval * 1000));
    for (;;) {
        struct gpumem_view v;
        gpumem__view_load(a->dir, a->prefix, a->pids, a->npids, &v);
        load_sparklines(a, &v);
        struct gpumem_line lines[512];
        size_t n = gpumem__top_frame(&v, lines, 512);
        free_sparklines(&v);
        gpumem__view_free(&v);
        if (resized) {
            endwin();
            refresh();
            resized = 0;
        }
        erase();
        for (size_t i = 0; i < n && (int)i < LINES - 1; i++) {
            attr_t attr = lines[i].heading ? A_BOLD : A_NORMAL;
            if (lines[i].level == GPUMEM_LEVEL_WARNING) attr |= COLOR_PAIR(1);
            if (lines[i].level == GPUMEM_LEVEL_CRITICAL) attr |= COLOR_PAIR(2) | A_BOLD;
            if (!utf8) gpumem__glyphs_to_ascii(lines[i].text);
            attron(attr);
            mvaddnstr((int)i, 0, lines[i].text, (int)gpumem__columns_bytes(lines[i].text, (size_t)COLS));
            attroff(attr);
        }
        mvaddstr(LINES - 1, 0, "q: quit");
        refresh();
        int c = getch();
        if (c == 'q' || c == 'Q') break;
    }
    endwin();
    return EXIT_OK;
}

/* The "summary" string of a report file, unescaped: the file is ours, but
 * read as untrusted text. */
static int print_summary(const char *text)
{
    const char *key = strstr(text, "\n \"summary\": \"");
    if (!strstr(text, "\"kind\": \"gpumem-oom-report\"") || !key) return -1;
    for (const char *p = key + strlen("\n \"summary\": \""); *p && *p != '"'; p++) {
        if (*p != '\\') {
            putchar(*p);
            continue;
        }
        p++;
        if (*p == 'n') putchar('\n');
        else if (*p == 'u' && strlen(p) >= 5) {
            unsigned cp = (unsigned)strtoul((char[5]){ p[1], p[2], p[3], p[4], 0 }, NULL, 16);
            if (cp < 0x80) putchar(cp < 0x20 ? '?' : (int)cp);
            else fputs("\xef\xbf\xbd", stdout);
            p += 4;
        } else if (*p) putchar(*p);
        else break;
    }
    return 0;
}

static int cmd_report(const struct args *a)
{
    if (a->file) {
        FILE *f = fopen(a->file, "r");
        if (!f) {
            fprintf(stderr, "gpumem: cannot open %s: %s\n", a->file, strerror(errno));
            return EXIT_NOT_FOUND;
        }
        static char text[8 << 20];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        if (a->json) fwrite(text, 1, n, stdout);
        else if (print_summary(text) != 0) {
            fprintf(stderr, "gpumem: %s is not a gpumem out-of-memory report\n", a->file);
            return EXIT_SKIPPED;
        }
        return a->svg ? gpumem__oom_plot_report(text, a->svg) : EXIT_OK;
    }
    if (a->npids != 1) return usage("report takes one FILE or one PID");
    char name[64], why[192];
    snprintf(name, sizeof name, "%s.%d", a->prefix, a->pids[0]);
    struct gpumem_process *p = calloc(1, sizeof *p);
    struct gpumem_oom *o = calloc(1, sizeof *o);
    int rc = EXIT_OK, dirfd = gpumem__view_open_dir(a->dir, &rc);
    enum gpumem_snapshot r = !p || !o    ? GPUMEM_SNAPSHOT_BAD
                             : dirfd < 0 ? GPUMEM_SNAPSHOT_GONE
                                         : gpumem__snapshot_load_at(dirfd, name, p, o, NULL, NULL, why, sizeof why);
    if (dirfd >= 0) close(dirfd);
    if (!p || !o) {
        fprintf(stderr, "gpumem: out of memory\n");
        rc = EXIT_SKIPPED;
    } else if (r == GPUMEM_SNAPSHOT_GONE) {
        fprintf(stderr, "gpumem: no segment for pid %d at %s/%s\n", a->pids[0], a->dir, name);
        rc = EXIT_NOT_FOUND;
    } else if (r == GPUMEM_SNAPSHOT_STARTING || r == GPUMEM_SNAPSHOT_UNFINISHED) {
        fprintf(stderr, "gpumem: pid %d's segment was never stamped (%s)\n", a->pids[0],
                r == GPUMEM_SNAPSHOT_STARTING ? "being created" : "its process was killed while creating it");
        rc = EXIT_NOT_FOUND;
    } else if (r == GPUMEM_SNAPSHOT_UNREADABLE) {
        fprintf(stderr, "gpumem: pid %d's segment at %s/%s belongs to another user and is not readable\n", a->pids[0],
                a->dir, name);
        rc = EXIT_NOT_FOUND;
    } else if (r != GPUMEM_SNAPSHOT_OK) {
        fprintf(stderr, "gpumem: %s/%s: %s\n", a->dir, name, why);
        rc = EXIT_SKIPPED;
    } else if (!p->oom) {
        fprintf(stderr, "gpumem: pid %d has had no out-of-memory failure\n", a->pids[0]);
        rc = EXIT_NOT_FOUND;
    } else {
        /* With --svg, the plot of the minutes before the failure beside it. */
        int drawn = a->svg ? gpumem__oom_plot(a->dir, a->prefix, a->pids[0], o, a->svg) : EXIT_OK;
        if (a->json) gpumem__report_json(stdout, p, o);
        else gpumem__report_text(stdout, p, o);
        if (drawn != EXIT_OK) rc = drawn;
    }
    free(p);
    free(o);
    return rc;
}

/* Commands that parse their own arguments: run(argc, argv) with argv[0]
 * the command's name. Each lives in its own tools/cmd_*.c (commands.h). */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    /* fleet (issue 14): serve, export */
    { "serve", gpumem__cmd_serve },
    { "export", gpumem__cmd_export },
    /* history (issue 15): history, plot, trace */
    { "history", gpumem__cmd_history },
    { "plot", gpumem__cmd_plot },
    { "trace", gpumem__cmd_trace },
    /* automation (issue 16): watch */
    { "watch", gpumem__cmd_watch },
    /* python and install (issue 17): run */
    { "run", gpumem__cmd_run },
    { "help", gpumem__cmd_help },
};

int main(int argc, char **argv)
{
    /* Two copies of every segment are made and freed in turn: keep the
     * heap's pages rather than give them back and fault them in again. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    for (size_t i = 0; argc >= 2 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    struct args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != EXIT_OK) return rc;
    if (strcmp(a.command, "gc") == 0) return cmd_gc(&a);
    if (strcmp(a.command, "top") == 0) return cmd_top(&a);
    if (strcmp(a.command, "report") == 0) return cmd_report(&a);
    if (strcmp(a.command, "ls") != 0 && strcmp(a.command, "show") != 0) return usage("unknown command");
    struct gpumem_view v;
    rc = gpumem__view_load(a.dir, a.prefix, a.pids, a.npids, &v);
    if (strcmp(a.command, "ls") == 0) gpumem__emit_ls(stdout, &v);
    else if (a.json) gpumem__emit_json(stdout, &v);
    else gpumem__emit_show(stdout, &v);
    for (size_t i = 0; i < v.nskips; i++) fprintf(stderr, "gpumem: skipped %s: %s\n", v.skips[i].path, v.skips[i].why);
    gpumem__view_print_counts(&v);
    gpumem__view_free(&v);
    return rc;
}
