/*
 * view.c - every segment of a directory and prefix loaded into one view:
 * what ls, show, top and every later command read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "view.h"

/* The segment directory, opened once: what is listed is what is read and
 * what gc removes from. A directory that does not exist holds nothing. */
int gpumem__view_open_dir(const char *dir, int *rc)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        fprintf(stderr, "gpumem: cannot read %s: %s\n", dir, strerror(errno));
        *rc = GPUMEM_EXIT_SKIPPED;
    }
    return fd;
}

/* Room for one more process and one more skip. */
static void grow(struct gpumem_view *v, size_t *cap)
{
    if (v->nprocs < *cap && v->nskips < *cap) return;
    size_t c = *cap ? *cap * 2 : 64;
    struct gpumem_process *procs = realloc(v->procs, c * sizeof *procs);
    if (procs) v->procs = procs;
    struct gpumem_skip *skips = realloc(v->skips, c * sizeof *skips);
    if (skips) v->skips = skips;
    if (!procs || !skips) {
        fprintf(stderr, "gpumem: out of memory\n");
        exit(GPUMEM_EXIT_SKIPPED);
    }
    *cap = c;
}

static void add_skip(struct gpumem_view *v, const char *dir, const char *name, const char *why)
{
    snprintf(v->skips[v->nskips].path, sizeof v->skips[v->nskips].path, "%s/%s", dir, name);
    snprintf(v->skips[v->nskips].why, sizeof v->skips[v->nskips].why, "%s", why);
    v->nskips++;
}

/* What one load has seen: the files read (one file seen through two paths
 * counts once) and, per PID asked for, whether it was found. */
struct load {
    const char *prefix;
    const int *pids;
    int npids;
    int found[256], unreadable[256];
    size_t cap;
    struct {
        dev_t dev;
        ino_t ino;
    } * files;
    size_t nfiles, files_cap;
};

static int seen_before(struct load *l, const struct stat *st)
{
    for (size_t i = 0; i < l->nfiles; i++)
        if (l->files[i].dev == st->st_dev && l->files[i].ino == st->st_ino) return 1;
    if (l->nfiles == l->files_cap) {
        size_t c = l->files_cap ? l->files_cap * 2 : 64;
        void *grown = realloc(l->files, c * sizeof *l->files);
        if (!grown) return 0;
        l->files = grown;
        l->files_cap = c;
    }
    l->files[l->nfiles].dev = st->st_dev;
    l->files[l->nfiles].ino = st->st_ino;
    l->nfiles++;
    return 0;
}

static int asked(const struct load *l, int pid)
{
    for (int k = 0; k < l->npids; k++)
        if (l->pids[k] == pid) return 1;
    return l->npids == 0;
}

/* Every segment of the prefix in one directory, read as dir/name; a PID
 * asked for is the pid of the name or the writer's host pid. */
/* Whether the running writer host_pid has dir (a container's /dev/shm) as
 * its /dev/shm: a copy of another process's segment there, or a forgery
 * stamped with one, must not pass for that process. */
static int writes_here(int host_pid, const struct stat *dir)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/root/dev/shm", host_pid);
    return stat(path, &st) == 0 && st.st_dev == dir->st_dev && st.st_ino == dir->st_ino;
}

static void load_dir(struct gpumem_view *v, struct load *l, int dirfd, const char *dir, const struct stat *container)
{
    char **names = NULL;
    size_t n = gpumem__snapshot_list(dirfd, l->prefix, &names);
    /* A container controls its /dev/shm: one that filled it with files named
     * like segments would make every load take seconds (200000 empty ones:
     * 13 s, past a scrape's timeout). Past this many, it is passed over. */
    enum { MAX_CONTAINER_SEGMENTS = 1024 };
    if (container && n > MAX_CONTAINER_SEGMENTS) {
        char pattern[64], why[128];
        snprintf(pattern, sizeof pattern, "%s.*", l->prefix);
        snprintf(why, sizeof why, "%zu segments: more than %d in a container's /dev/shm, passed over", n,
                 (int)MAX_CONTAINER_SEGMENTS);
        grow(v, &l->cap);
        add_skip(v, dir, pattern, why);
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int pid = gpumem__snapshot_pid_of(names[i], l->prefix);
        {
            char why[192];
            grow(v, &l->cap);
            struct gpumem_process *p = &v->procs[v->nprocs];
            struct stat st;
            st.st_ino = 0;
            enum gpumem_snapshot r = gpumem__snapshot_load_at(dirfd, names[i], p, NULL, &st, NULL, why, sizeof why);
            if (r == GPUMEM_SNAPSHOT_OK && container && p->liveness == GPUMEM_ALIVE &&
                !writes_here(p->host_pid, container)) {
                snprintf(why, sizeof why, "names pid %d, whose /dev/shm is not this directory (a copy, or forged)",
                         p->host_pid);
                r = GPUMEM_SNAPSHOT_BAD;
            }
            int dup = st.st_ino != 0 && r != GPUMEM_SNAPSHOT_GONE && seen_before(l, &st);
            int host = r == GPUMEM_SNAPSHOT_OK && p->host_pid ? p->host_pid : pid;
            if (dup || (!asked(l, pid) && !asked(l, host))) r = GPUMEM_SNAPSHOT_GONE;
            for (int k = 0; k < l->npids; k++)
                if (l->pids[k] == pid || l->pids[k] == host) {
                    l->found[k] |= r == GPUMEM_SNAPSHOT_OK || r == GPUMEM_SNAPSHOT_BAD;
                    l->unreadable[k] |= r == GPUMEM_SNAPSHOT_UNREADABLE;
                }
            switch (r) {
            case GPUMEM_SNAPSHOT_OK:
                snprintf(p->path, sizeof p->path, "%s/%s", dir, names[i]);
                v->nprocs++;
                break;
            case GPUMEM_SNAPSHOT_BAD: add_skip(v, dir, names[i], why); break;
            case GPUMEM_SNAPSHOT_UNREADABLE: v->unreadable++; break;
            case GPUMEM_SNAPSHOT_UNFINISHED: v->unfinished++; break;
            case GPUMEM_SNAPSHOT_GONE: /* its process just exited, or seen already */
            case GPUMEM_SNAPSHOT_STARTING: /* its live process is creating it */ break;
            }
        }
        free(names[i]);
    }
    free(names);
}

/* The /dev/shm of every other mount namespace (containers), each directory
 * once, and none that is the reader's own directory (hostIPC) or its own
 * /dev/shm. */
static void load_containers(struct gpumem_view *v, struct load *l, int own_dirfd)
{
    enum { MAX_NAMESPACES = 4096 };
    int *pids = malloc(MAX_NAMESPACES * sizeof *pids);
    struct stat *dirs = malloc((MAX_NAMESPACES + 2) * sizeof *dirs);
    if (!pids || !dirs) {
        free(pids);
        free(dirs);
        return;
    }
    size_t ndirs = 0;
    if (own_dirfd >= 0 && fstat(own_dirfd, &dirs[ndirs]) == 0) ndirs++;
    /* Nor the /dev/shm of the reader's own mount namespace when it was told
     * to read another directory: seen through a process in another mount
     * namespace that shares it (a sandboxed service), it is no container's,
     * and whether it is read must not depend on such a process. */
    if (stat("/dev/shm", &dirs[ndirs]) == 0) ndirs++;
    size_t n = gpumem__fleet_mount_namespaces(pids, MAX_NAMESPACES);
    for (size_t i = 0; i < n; i++) {
        int denied = 0;
        int fd = gpumem__fleet_open_shm(pids[i], &denied);
        if (fd < 0) {
            v->containers_unreadable += (size_t)denied;
            continue;
        }
        struct stat st;
        int same = fstat(fd, &st) != 0;
        for (size_t k = 0; k < ndirs && !same; k++) same = dirs[k].st_dev == st.st_dev && dirs[k].st_ino == st.st_ino;
        if (!same) {
            dirs[ndirs++] = st;
            char dir[64];
            snprintf(dir, sizeof dir, "/proc/%d/root/dev/shm", pids[i]);
            load_dir(v, l, fd, dir, &st);
        }
        close(fd);
    }
    free(pids);
    free(dirs);
}

/* Load every segment of the prefix (or of the PIDs asked for). Exit status
 * 1 only for a segment that is damaged or cannot be trusted: other users'
 * unreadable segments and unfinished ones of ended processes are counted. */
int gpumem__view_load(const char *dir, const char *prefix, const int *pids, int npids, struct gpumem_view *v)
{
    memset(v, 0, sizeof *v);
    gpumem__fleet_begin();
    int rc = GPUMEM_EXIT_OK;
    int dirfd = gpumem__view_open_dir(dir, &rc);
    struct load l;
    memset(&l, 0, sizeof l);
    l.prefix = prefix;
    l.pids = pids;
    l.npids = npids > 256 ? 256 : npids;
    grow(v, &l.cap);
    gpumem__snapshot_batch();
    if (dirfd >= 0) load_dir(v, &l, dirfd, dir, NULL);
    if (gpumem__fleet_containers) load_containers(v, &l, dirfd);
    gpumem__snapshot_release();
    free(l.files);
    if (dirfd >= 0) close(dirfd);
    if (v->nskips) rc = GPUMEM_EXIT_SKIPPED;
    for (int k = 0; k < l.npids; k++)
        if (l.unreadable[k] && !l.found[k]) {
            fprintf(stderr, "gpumem: pid %d's segment under %s belongs to another user and is not readable\n", pids[k],
                    dir);
            rc = GPUMEM_EXIT_NOT_FOUND;
        } else if (!l.found[k]) {
            fprintf(stderr, "gpumem: no segment for pid %d under %s/%s.*\n", pids[k], dir, prefix);
            rc = GPUMEM_EXIT_NOT_FOUND;
        }
    return rc;
}

/* What was passed over without a line each: said once, on stderr. */
void gpumem__view_print_counts(const struct gpumem_view *v)
{
    if (v->unreadable)
        fprintf(stderr, "gpumem: %zu segment%s of other users not readable\n", v->unreadable,
                v->unreadable == 1 ? "" : "s");
    if (v->unfinished)
        fprintf(stderr, "gpumem: %zu unfinished segment%s of ended processes passed over (gpumem gc removes them)\n",
                v->unfinished, v->unfinished == 1 ? "" : "s");
    if (v->containers_unreadable)
        fprintf(stderr,
                "gpumem: /dev/shm of %zu other mount namespace%s not readable (needs root, or CAP_SYS_PTRACE and "
                "CAP_DAC_READ_SEARCH; --no-containers skips them)\n",
                v->containers_unreadable, v->containers_unreadable == 1 ? "" : "s");
}

void gpumem__view_free(struct gpumem_view *v)
{
    free(v->procs);
    free(v->skips);
}
