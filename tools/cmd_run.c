/*
 * cmd_run.c - gpumem run [options] [--] CMD [ARGS...]: CMD under the shim
 * that belongs to this gpumem.
 *
 * The library is looked for, in order: $GPUMEM_LIBRARY (a file; nothing else
 * is tried when it is set), beside this executable (the build tree puts
 * gpumem and libgpumem.so in one directory), then the install's library
 * directory relative to this executable's (GPUMEM_RUN_LIBDIR, the path from
 * bindir to libdir given at configure time). It is put first in LD_PRELOAD
 * (any other libgpumem.so there is dropped: two shims would count twice), the
 * flags become GPUMEM_* variables, and CMD replaces this process (execvp): its
 * exit status and signals are its own.
 *
 * Exit status when CMD does not start: 2 usage error; 125 no libgpumem.so
 * found (as env(1) and nice(1) say their own failure); 126 CMD found but
 * not executable; 127 CMD not found (as a shell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "segment_read.h"
#include "view.h"

#ifndef GPUMEM_RUN_LIBDIR
#define GPUMEM_RUN_LIBDIR "../lib"
#endif
#ifndef GPUMEM_RUN_SONAME
#define GPUMEM_RUN_SONAME "libgpumem.so.0"
#endif

enum { RUN_EXIT_NO_LIBRARY = 125, RUN_EXIT_NOT_EXECUTABLE = 126, RUN_EXIT_NOT_FOUND = 127 };

static const char run_usage[] = "usage: gpumem run [options] [--] CMD [ARGS...]\n"
                                "  runs CMD with libgpumem.so preloaded; the exit status and signals are CMD's\n"
                                "  --alarm PERCENT        critical above PERCENT (GPUMEM_ALARM_PERCENT, default 90)\n"
                                "  --warn PERCENT         warning from PERCENT (GPUMEM_WARN_PERCENT, default 80)\n"
                                "  --log SINK             stderr, syslog, off or an absolute file path (GPUMEM_LOG)\n"
                                "  --postmortem-dir DIR   out-of-memory reports go to DIR (GPUMEM_POSTMORTEM_DIR)\n"
                                "  --keep                 keep the segment after a normal exit (GPUMEM_KEEP=1)\n"
                                "  --backtrace            remember where each allocation was made "
                                "(GPUMEM_BACKTRACE=1)\n"
                                "  --prefix NAME          segment name prefix (GPUMEM_SHM_PREFIX)\n"
                                "  exit status when CMD does not start: 2 usage, 125 no libgpumem.so, 126 CMD not\n"
                                "  executable, 127 CMD not found\n";

static int run_fail(const char *fmt, const char *what)
{
    fputs("gpumem run: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\n", stderr);
    fputs(run_usage, stderr);
    return GPUMEM_EXIT_USAGE;
}

static int is_percent(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 3 && strspn(s, "0123456789") == n && atoi(s) <= 100;
}

/* A regular file we may read (a directory passes access(R_OK); ld.so would
 * then skip it and CMD would run without the shim)? */
static int readable_file(const char *path)
{
    struct stat st;
    return access(path, R_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name into out if it is a readable file: 1, else 0. */
static int try_library(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size && readable_file(out);
}

/* The libgpumem.so of this gpumem into out (PATH_MAX): 0, or -1 with the
 * places looked at in tried. */
static int find_library(char *out, char *tried, size_t tried_size)
{
    const char *forced = getenv("GPUMEM_LIBRARY");
    if (forced && *forced) {
        snprintf(tried, tried_size, "%s (GPUMEM_LIBRARY)", forced);
        if (strlen(forced) >= PATH_MAX || !readable_file(forced)) return -1;
        /* relative: the command (or a child of it in another directory) would
         * look for it elsewhere, or in the library path when it has no '/' */
        if (forced[0] == '/') strcpy(out, forced);
        else if (!realpath(forced, out)) return -1;
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(tried, tried_size, "/proc/self/exe (unreadable: %s)", strerror(errno));
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) {
        snprintf(tried, tried_size, "/proc/self/exe (%s: not a path)", exe);
        return -1;
    }
    *slash = '\0';
    char libdir[PATH_MAX + 64];
    snprintf(libdir, sizeof libdir, "%s/%s", exe, GPUMEM_RUN_LIBDIR);
    const char *dirs[] = { exe, libdir };
    const char *names[] = { GPUMEM_RUN_SONAME, "libgpumem.so" };
    for (size_t d = 0; d < 2; d++) {
        char real[PATH_MAX];
        if (!realpath(dirs[d], real)) continue; /* bin/../lib as /usr/lib; the file keeps its soname */
        for (size_t k = 0; k < 2; k++)
            if (try_library(out, PATH_MAX, real, names[k])) return 0;
    }
    snprintf(tried, tried_size, "%s/ and %s/", exe, libdir);
    return -1;
}

/* Is this element of LD_PRELOAD a libgpumem (any copy)? */
static int is_gpumem(const char *element, size_t len)
{
    const char *base = element;
    for (size_t i = 0; i < len; i++)
        if (element[i] == '/') base = element + i + 1;
    size_t blen = (size_t)(element + len - base);
    size_t n = strlen("libgpumem.so");
    return blen >= n && strncmp(base, "libgpumem.so", n) == 0 && (blen == n || base[n] == '.');
}

/* library, then every element of old (separated by ':' or blanks) that is
 * not a libgpumem, joined by ':'. NULL when out of memory. */
static char *preload_value(const char *library, const char *old)
{
    size_t size = strlen(library) + (old ? strlen(old) : 0) + 2;
    char *v = malloc(size);
    if (!v) return NULL;
    strcpy(v, library);
    for (const char *p = old ? old : ""; *p;) {
        size_t skip = strspn(p, ": \t\n");
        p += skip;
        size_t len = strcspn(p, ": \t\n");
        if (len && !is_gpumem(p, len)) {
            strcat(v, ":");
            strncat(v, p, len);
        }
        p += len;
    }
    return v;
}

int gpumem__cmd_run(int argc, char **argv)
{
    static const struct {
        const char *flag, *variable;
        int takes_value;
    } flags[] = {
        { "--alarm", "GPUMEM_ALARM_PERCENT", 1 },
        { "--warn", "GPUMEM_WARN_PERCENT", 1 },
        { "--log", "GPUMEM_LOG", 1 },
        { "--postmortem-dir", "GPUMEM_POSTMORTEM_DIR", 1 },
        { "--keep", "GPUMEM_KEEP", 0 },
        { "--backtrace", "GPUMEM_BACKTRACE", 0 },
        { "--prefix", "GPUMEM_SHM_PREFIX", 1 },
    };
    const char *values[sizeof flags / sizeof flags[0]] = { 0 };
    int i = 1;
    for (; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            fputs(run_usage, stdout);
            return GPUMEM_EXIT_OK;
        }
        if (s[0] != '-') break;
        size_t f = 0;
        while (f < sizeof flags / sizeof flags[0] && strcmp(s, flags[f].flag) != 0) f++;
        if (f == sizeof flags / sizeof flags[0]) return run_fail("unknown option '%.200s'", s);
        if (!flags[f].takes_value) values[f] = "1";
        else if (i + 1 >= argc) return run_fail("%s takes a value", s);
        else values[f] = argv[++i];
    }
    if (i >= argc) return run_fail("%s", "no command to run");
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        const char *v = values[f], *flag = flags[f].flag;
        if (!v) continue;
        if ((strcmp(flag, "--alarm") == 0 || strcmp(flag, "--warn") == 0) && !is_percent(v))
            return run_fail("%s takes a percent from 0 to 100", flag);
        if (strcmp(flag, "--prefix") == 0 && !gpumem__prefix_valid(v))
            return run_fail("%s takes 1 to 32 letters, digits, '_' or '-'", flag);
        if (strcmp(flag, "--postmortem-dir") == 0 && v[0] != '/')
            return run_fail("%s takes an absolute directory", flag);
        if (strcmp(flag, "--log") == 0 && v[0] != '/' && strcmp(v, "stderr") && strcmp(v, "syslog") && strcmp(v, "off"))
            return run_fail("%s takes stderr, syslog, off or an absolute file path", flag);
    }

    char library[PATH_MAX], tried[3 * PATH_MAX];
    if (find_library(library, tried, sizeof tried) != 0) {
        fprintf(stderr,
                "gpumem run: libgpumem.so not found (looked in %s); set GPUMEM_LIBRARY to its path, or reinstall "
                "gpumem\n",
                tried);
        return RUN_EXIT_NO_LIBRARY;
    }
    if (library[strcspn(library, ": \t\n")]) {
        fprintf(stderr,
                "gpumem run: cannot preload '%s': LD_PRELOAD splits paths at ':' and blanks; move libgpumem.so or "
                "set GPUMEM_LIBRARY to a path without them\n",
                library);
        return RUN_EXIT_NO_LIBRARY;
    }
    char *preload = preload_value(library, getenv("LD_PRELOAD"));
    if (!preload || setenv("LD_PRELOAD", preload, 1) != 0) {
        fprintf(stderr, "gpumem run: cannot set LD_PRELOAD: %s\n", strerror(errno));
        return RUN_EXIT_NO_LIBRARY;
    }
    free(preload);
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
        if (values[f] && setenv(flags[f].variable, values[f], 1) != 0) {
            fprintf(stderr, "gpumem run: cannot set %s: %s\n", flags[f].variable, strerror(errno));
            return RUN_EXIT_NO_LIBRARY;
        }
    execvp(argv[i], argv + i);
    int e = errno;
    /* ENOENT for a file that is there: its #! interpreter or ELF loader is
     * missing; found but not executable (126, as bash's "bad interpreter") */
    if (e == ENOENT && strchr(argv[i], '/') && access(argv[i], F_OK) == 0) {
        fprintf(stderr, "gpumem run: %s: its interpreter or loader is missing (%s)\n", argv[i], strerror(e));
        return RUN_EXIT_NOT_EXECUTABLE;
    }
    fprintf(stderr, "gpumem run: %s: %s\n", argv[i], e == ENOENT ? "command not found" : strerror(e));
    return e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_NOT_EXECUTABLE;
}
