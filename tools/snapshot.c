/* snapshot.c - see snapshot.h. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

/* ---- copying a file that may shrink under us --------------------------- */

static sigjmp_buf *copy_jump;
static void on_sigbus(int sig)
{
    (void)sig;
    if (copy_jump) siglongjmp(*copy_jump, 1);
}

int gm_snapshot_copy(const char *path, void **buf, void **recheck, size_t *len, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return WHY("cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return WHY("not a regular file");
    }
    if (st.st_size > GM_MAX_SEGMENT_BYTES) {
        close(fd);
        return WHY("%lld bytes: too large for a gpumem segment", (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size & ~(size_t)7;
    if (n == 0) {
        close(fd);
        return WHY("truncated: empty");
    }
    void *map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return WHY("cannot map: %s", strerror(errno));
    uint64_t *copy = malloc(n), *again = malloc(n);
    if (!copy || !again) {
        free(copy);
        free(again);
        munmap(map, n);
        return WHY("out of memory");
    }
    /* A writer's 64-bit fields are copied with 64-bit loads, so none can be
     * seen torn; a file truncated meanwhile raises SIGBUS, caught here. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    sigjmp_buf jump;
    volatile int faulted = 0;
    if (sigsetjmp(jump, 1) == 0) {
        copy_jump = &jump;
        gm_segment_copy_words(copy, map, n);
        atomic_thread_fence(memory_order_acquire); /* the recheck reads after the copy */
        gm_segment_copy_words(again, map, n);
    } else {
        faulted = 1;
    }
    copy_jump = NULL;
    sigaction(SIGBUS, &old, NULL);
    munmap(map, n);
    if (faulted) {
        free(copy);
        free(again);
        return WHY("truncated while being read");
    }
    *buf = copy;
    *recheck = again;
    *len = n;
    return 0;
}

/* ---- liveness ------------------------------------------------------------ */

static int proc_stat(int pid, uint64_t *start, unsigned *uid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (uid && fstat(fd, &st) == 0) *uid = st.st_uid;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return -1;
    *start = strtoull(p + 1, NULL, 10);
    return 0;
}

enum gm_liveness gm_liveness_of(int pid, uint64_t start_ticks, unsigned state)
{
    uint64_t now_start;
    if (state == GPUMEM_SHM_STATE_EXITED) return GM_EXITED;
    if (proc_stat(pid, &now_start, NULL) != 0 || now_start != start_ticks) return GM_DEAD;
    return GM_ALIVE;
}

/* A segment its live writer is still creating: empty, or not yet stamped
 * with the magic (the writer stamps it last). Not worth a warning. */
static int being_created(const char *path, off_t size, const void *copy)
{
    const char *dot = strrchr(path, '.');
    int pid = dot ? atoi(dot + 1) : 0;
    if (pid <= 0 || kill(pid, 0) != 0) return 0;
    if (size == 0) return 1;
    uint64_t magic = 0;
    if (copy && (size_t)size >= sizeof magic) memcpy(&magic, copy, sizeof magic);
    return copy && magic == 0;
}

int gm_snapshot_load(const char *path, struct gm_process *out, struct gm_oom *oom, char *why, size_t why_len)
{
    void *buf, *recheck;
    size_t len;
    struct stat st;
    /* Gone since it was listed: its process just exited normally. */
    if (lstat(path, &st) != 0) return errno == ENOENT ? GM_SNAPSHOT_GONE : WHY("%s", strerror(errno));
    if (gm_snapshot_copy(path, &buf, &recheck, &len, why, why_len) != 0) {
        if (access(path, F_OK) != 0) return GM_SNAPSHOT_GONE;
        return being_created(path, st.st_size, NULL) ? GM_SNAPSHOT_GONE : -1;
    }
    int rc = gm_segment_parse(buf, recheck, len, out, oom, why, why_len);
    int starting = rc != 0 && being_created(path, st.st_size, buf);
    free(buf);
    free(recheck);
    if (starting) return GM_SNAPSHOT_GONE;
    if (rc != 0) return -1;
    snprintf(out->path, sizeof out->path, "%s", path);
    out->liveness = gm_liveness_of(out->pid, out->start_time_ticks, out->state);
    /* A live process can only publish as itself: a segment owned by another
     * user than the process it names is a forgery. */
    unsigned proc_uid;
    uint64_t start;
    if (out->liveness == GM_ALIVE && proc_stat(out->pid, &start, &proc_uid) == 0 && proc_uid != st.st_uid)
        return WHY("owned by uid %u but pid %d runs as uid %u", (unsigned)st.st_uid, out->pid, proc_uid);
    return 0;
}

/* ---- listing ------------------------------------------------------------- */

static int pid_of(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '.' || name[n + 1] == '\0') return -1;
    long pid = 0;
    for (const char *p = name + n + 1; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 0x7fffffff / 10) return -1;
        pid = pid * 10 + (*p - '0');
    }
    return pid > 0 ? (int)pid : -1;
}

static int by_pid(const void *a, const void *b)
{
    const char *x = strrchr(*(char *const *)a, '.'), *y = strrchr(*(char *const *)b, '.');
    long px = atol(x + 1), py = atol(y + 1);
    return (px > py) - (px < py);
}

size_t gm_snapshot_list(const char *dir, const char *prefix, char ***paths)
{
    *paths = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (pid_of(e->d_name, prefix) < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*paths, cap * sizeof **paths);
            if (!grown) break;
            *paths = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        (*paths)[n] = malloc(len);
        if (!(*paths)[n]) break;
        snprintf((*paths)[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(*paths, n, sizeof **paths, by_pid);
    return n;
}
