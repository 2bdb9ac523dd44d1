/*
 * cmd_plot.c - gpumem plot [PID|FILE...] [--since DURATION] [--device cuda:N]
 * -o FILE.svg [--prefix NAME]: the history of each process or saved segment
 * file (history.h), overlaid in one SVG (plot.c). With no PID or FILE,
 * every segment of the prefix in $GPUMEM_SHM_DIR.
 *
 * The arguments of plot and trace are parsed here for both
 * (gpumem__picture_args), and their sources loaded here for both
 * (gpumem__picture_load).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "format.h"
#include "pictures.h"
#include "snapshot.h"
#include "view.h"

int gpumem__picture_args(int argc, char **argv, struct gpumem_picture_args *a, const char *usage)
{
    memset(a, 0, sizeof *a);
    a->prefix = getenv("GPUMEM_SHM_PREFIX");
    if (!a->prefix || !*a->prefix) a->prefix = "gpumem";
    a->dir = getenv("GPUMEM_SHM_DIR");
    if (!a->dir || !*a->dir) a->dir = "/dev/shm";
    a->device = -1;
    const char *why = NULL;
    for (int i = 1; i < argc && !why; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-o") == 0 && i + 1 < argc) a->out = argv[++i];
        else if (strcmp(s, "--prefix") == 0 && i + 1 < argc) a->prefix = argv[++i];
        else if (strcmp(s, "--label") == 0 && i + 1 < argc) {
            if (a->nsources == 0) why = "--label names the PID or FILE before it";
            else a->sources[a->nsources - 1].label = argv[++i];
        } else if (strcmp(s, "--since") == 0 && i + 1 < argc) {
            if (!gpumem__parse_duration(argv[++i], &a->since_ns) || a->since_ns == 0)
                why = "--since takes a duration such as 90s, 10m, 1h or 1d";
        } else if (strcmp(s, "--device") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strncmp(v, "cuda:", 5) == 0) v += 5;
            if (!*v || strlen(v) > 4 || strspn(v, "0123456789") != strlen(v)) why = "--device takes cuda:N";
            else a->device = atoi(v);
        } else if (s[0] == '-' && s[1]) {
            why = "unknown option";
        } else if (a->nsources == GPUMEM_PICTURE_SOURCES) {
            why = "too many PIDs and FILEs";
        } else {
            int pid = s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10;
            a->sources[a->nsources].pid = pid ? atoi(s) : 0;
            a->sources[a->nsources++].file = pid ? NULL : s;
        }
    }
    if (!why && !a->out) why = "-o FILE is needed (- for standard output)";
    if (!why && !gpumem__prefix_valid(a->prefix)) why = "--prefix takes 1 to 32 letters, digits, '_' or '-'";
    if (why) {
        fprintf(stderr, "gpumem %s: %s\n%s", argv[0], why, usage);
        return GPUMEM_EXIT_USAGE;
    }
    return GPUMEM_EXIT_OK;
}

/* Every pid with a segment of the prefix in the directory, as sources. */
static int all_segments(struct gpumem_picture_args *a)
{
    int rc = GPUMEM_EXIT_OK, dirfd = gpumem__view_open_dir(a->dir, &rc);
    char **names = NULL;
    size_t n = dirfd >= 0 ? gpumem__snapshot_list(dirfd, a->prefix, &names) : 0;
    for (size_t i = 0; i < n; i++) {
        int pid = gpumem__snapshot_pid_of(names[i], a->prefix);
        if (pid > 0 && a->nsources < GPUMEM_PICTURE_SOURCES) a->sources[a->nsources++].pid = pid;
        free(names[i]);
    }
    free(names);
    if (dirfd >= 0) close(dirfd);
    return rc;
}

int gpumem__picture_load(struct gpumem_picture_args *a, int all, struct gpumem_series **out, size_t *nout)
{
    int rc = GPUMEM_EXIT_OK, asked = a->nsources > 0;
    if (!asked && all) rc = all_segments(a);
    *out = NULL;
    *nout = 0;
    for (size_t k = 0; k < a->nsources; k++) {
        struct gpumem_series *s = NULL;
        char why[256];
        int n = gpumem__history_load(a->dir, a->prefix, a->sources[k].pid, a->sources[k].file, a->device, a->since_ns,
                                     &s, why, sizeof why);
        if (n < 0) {
            /* A segment met in the directory that keeps no history is passed over. */
            if (asked) {
                fprintf(stderr, "gpumem: %s\n", why);
                rc = strstr(why, "no segment") || strstr(why, "No such file") ? GPUMEM_EXIT_NOT_FOUND
                                                                              : GPUMEM_EXIT_SKIPPED;
            }
            continue;
        }
        struct gpumem_series *grown = realloc(*out, (*nout + (size_t)n + 1) * sizeof **out);
        if (!grown) {
            gpumem__history_free(s, (size_t)n);
            fprintf(stderr, "gpumem: out of memory\n");
            return GPUMEM_EXIT_SKIPPED;
        }
        *out = grown;
        for (int i = 0; i < n; i++) {
            s[i].source = (int)k + 1;
            if (a->sources[k].label)
                gpumem__emitter_snprintf(s[i].label, sizeof s[i].label, "%.150s cuda:%d", a->sources[k].label,
                                         s[i].device);
        }
        memcpy(*out + *nout, s, (size_t)n * sizeof *s);
        *nout += (size_t)n;
        free(s); /* the points and marks now belong to *out */
        a->sources[k].nseries = (size_t)n;
    }
    return rc;
}

FILE *gpumem__picture_open(const char *path)
{
    if (strcmp(path, "-") == 0) return stdout;
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "gpumem: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

int gpumem__picture_close(FILE *f, const char *path, int rendered)
{
    int failed = rendered != 0 || ferror(f);
    if (f != stdout) failed |= fclose(f) != 0;
    else failed |= fflush(f) != 0;
    if (failed) fprintf(stderr, "gpumem: writing %s failed\n", path);
    return failed ? GPUMEM_EXIT_SKIPPED : GPUMEM_EXIT_OK;
}

int gpumem__cmd_plot(int argc, char **argv)
{
    static const char usage[] =
        "usage: gpumem plot [PID|FILE [--label TEXT]...] [--since DURATION] [--device cuda:N] -o FILE.svg\n"
        "                   [--prefix NAME]\n"
        "  DURATION: digits and a unit of ms, s, m, h or d (90s, 10m, 1h, 1d); FILE: a saved segment file;\n"
        "  --label names the PID or FILE before it in the legend\n";
    struct gpumem_picture_args *a = malloc(sizeof *a);
    if (!a) return GPUMEM_EXIT_SKIPPED;
    int rc = gpumem__picture_args(argc, argv, a, usage);
    if (rc != GPUMEM_EXIT_OK) {
        free(a);
        return rc;
    }
    struct gpumem_series *s;
    size_t n;
    rc = gpumem__picture_load(a, 1, &s, &n);
    if (n == 0) {
        if (rc == GPUMEM_EXIT_OK) {
            fprintf(stderr, "gpumem: no history to plot\n");
            rc = GPUMEM_EXIT_NOT_FOUND;
        }
    } else {
        FILE *f = gpumem__picture_open(a->out);
        int wrote = f ? gpumem__picture_close(f, a->out, gpumem__plot_svg(f, s, n)) : GPUMEM_EXIT_SKIPPED;
        if (wrote != GPUMEM_EXIT_OK) rc = wrote;
    }
    gpumem__history_free(s, n);
    free(a);
    return rc;
}
