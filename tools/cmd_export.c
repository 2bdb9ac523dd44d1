/*
 * cmd_export.c - `gpumem export [--textfile PATH]`: one exposition (see
 * exposition.h) on stdout, or written for node_exporter's textfile
 * collector: into a temporary file in PATH's directory, then renamed over
 * PATH, so the collector never reads half a file. No timestamps.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "emit.h"
#include "exposition.h"
#include "view.h"

static int usage(const char *why)
{
    if (why) fprintf(stderr, "gpumem: %s\n", why);
    fputs("usage: gpumem export [--textfile PATH] [--prefix NAME] [--no-pid-label]\n", stderr);
    return GPUMEM_EXIT_USAGE;
}

static int write_textfile(const char *path, const struct gpumem_exposition_options *o)
{
    char tmp[4096];
    /* The collector reads only *.prom: the temporary name ends otherwise. */
    if (gpumem__emitter_snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) return usage("PATH too long");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "gpumem: cannot create a file beside %s: %s\n", path, strerror(errno));
        return GPUMEM_EXIT_SKIPPED;
    }
    FILE *f = fdopen(fd, "w");
    int ok = f && fchmod(fd, 0644) == 0 && gpumem__exposition_write(f, o) == 0;
    ok = (f ? fclose(f) == 0 : close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "gpumem: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return GPUMEM_EXIT_SKIPPED;
    }
    return GPUMEM_EXIT_OK;
}

int gpumem__cmd_export(int argc, char **argv)
{
    struct gpumem_exposition_options o;
    gpumem__exposition_defaults(&o);
    const char *textfile = NULL;
    for (int i = 1; i < argc; i++) {
        int r = gpumem__exposition_option(&o, argc, argv, &i);
        if (r < 0) return usage(NULL);
        if (r > 0) continue;
        if (strcmp(argv[i], "--textfile") == 0 && i + 1 < argc && argv[i + 1][0]) textfile = argv[++i];
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(NULL);
            return GPUMEM_EXIT_OK;
        } else {
            fprintf(stderr, "gpumem: unknown argument '%.200s'\n", argv[i]);
            return usage(NULL);
        }
    }
    if (textfile) return write_textfile(textfile, &o);
    return gpumem__exposition_write(stdout, &o) == 0 ? GPUMEM_EXIT_OK : GPUMEM_EXIT_SKIPPED;
}
