/* snapshot.c - see snapshot.h. */
#define _GNU_SOURCE
#include "snapshot.h"
#include "fleet.h"
#include "procfs.h"

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

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), GPUMEM_SNAPSHOT_BAD)

/* ---- copying a file that may shrink under us --------------------------- */

static sigjmp_buf *copy_jump;
static void on_sigbus(int sig)
{
    (void)sig;
    if (copy_jump) siglongjmp(*copy_jump, 1);
}

/* ---- mappings unmapped in batches ----------------------------------------
 * Every munmap of a mapping whose pages were touched flushes the TLB (in a
 * VM, through the hypervisor): over 256 segments that was a quarter of a
 * reading. A listing's segments are mapped side by side in one reserved
 * region instead and unmapped together, BATCH at a time, in one call. Only
 * the few pages a listing reads are touched, so a batch keeps little more
 * than BATCH * 24 KiB resident. Readings are not concurrent (copy_jump). */
#define BATCH 16
#define REGION_BYTES ((size_t)BATCH * GPUMEM_MAX_SEGMENT_BYTES) /* address space, not memory */

static struct {
    char *base; /* NULL until first used, or when it could not be reserved */
    size_t used;
    int count;
    int on;       /* between gpumem__snapshot_batch and gpumem__snapshot_release */
    int given_up; /* could not be reserved (RLIMIT_AS) or kept: not tried again */
} region;

/* Drop every mapping in the region at once and keep it reserved. */
static void region_reset(void)
{
    if (!region.base || region.count == 0) return;
    if (mmap(region.base, REGION_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) ==
        MAP_FAILED) {
        /* Not unmapped: another thread's mapping may already be in a hole
         * the failure left. Given up, as in map_segment. */
        region.base = NULL;
        region.given_up = 1;
    }
    region.used = 0;
    region.count = 0;
}

void gpumem__snapshot_batch(void) { region.on = 1; }

void gpumem__snapshot_release(void)
{
    region_reset();
    region.on = 0;
}

/* fd's first n bytes, read-only: in the region when it has room (*batched
 * set, never unmapped alone), otherwise a mapping of its own. */
__attribute__((noinline)) static void *map_segment(int fd, size_t n, int batched_ok, int *batched)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), size = (n + page - 1) / page * page;
    *batched = 0;
    if (batched_ok && region.on) {
        if (!region.base && !region.given_up) {
            void *r = mmap(NULL, REGION_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            region.base = r == MAP_FAILED ? NULL : r;
            region.given_up = region.base == NULL;
        }
        if (region.base && (region.count == BATCH || REGION_BYTES - region.used < size)) region_reset();
        if (region.base && REGION_BYTES - region.used >= size) {
            void *m = mmap(region.base + region.used, n, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
            if (m != MAP_FAILED) {
                region.used += size;
                region.count++;
                *batched = 1;
                return m;
            }
            /* A failed MAP_FIXED may have left a hole (kernels before 6.12)
             * that another thread's mmap may take at once: the region is
             * given up, never again mapped over (its address space and the
             * batch's mappings are left behind). */
            region.base = NULL;
            region.given_up = 1;
        }
    }
    return mmap(NULL, n, PROT_READ, MAP_SHARED | (batched_ok ? 0 : MAP_POPULATE), fd, 0);
}

/* Two copies of the file (head_only: of the parts a listing reads,
 * gpumem__segment_copy_head), each with 64-bit loads so that none of a
 * writer's fields is seen torn. head_only touches only those pages: the
 * others are never faulted in. *avail: the size of the copies. */
static int copy_parts(int fd, const struct stat *st, int head_only, void **buf, void **recheck, size_t *avail,
                      size_t *len, char *why, size_t why_len)
{
    if (!S_ISREG(st->st_mode)) return WHY("not a regular file");
    if (st->st_size > GPUMEM_MAX_SEGMENT_BYTES)
        return WHY("%lld bytes: too large for a gpumem segment", (long long)st->st_size);
    size_t n = (size_t)st->st_size & ~(size_t)7;
    if (n == 0) return WHY("truncated: %lld bytes", (long long)st->st_size);
    int batched;
    void *map = map_segment(fd, n, head_only, &batched);
    if (map == MAP_FAILED) return WHY("cannot map: %s", strerror(errno));
    size_t size = n;
    const int head = head_only && n >= sizeof(struct gpumem_shm_header);
    struct gpumem_shm_header hd;
    uint64_t *volatile copy = NULL, *volatile again = NULL;
    /* A file truncated meanwhile raises SIGBUS, caught here. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    sigjmp_buf jump;
    volatile int failed = 0;
    if (sigsetjmp(jump, 1) == 0) {
        copy_jump = &jump;
        if (head) {
            gpumem__segment_copy_words((uint64_t *)&hd, map, sizeof hd);
            size = gpumem__segment_head_size(&hd, n);
        }
        /* Not zeroed: what copy_head leaves out is never read (the fuzz
         * target checks the parse on copies whose other bytes are garbage). */
        copy = malloc(size);
        again = malloc(size);
        if (!copy || !again) {
            failed = 2;
        } else if (head) {
            gpumem__segment_copy_head(copy, map, n, &hd);
            atomic_thread_fence(memory_order_acquire); /* the recheck reads after the copy */
            gpumem__segment_copy_head(again, map, n, &hd);
        } else {
            gpumem__segment_copy_words(copy, map, n);
            atomic_thread_fence(memory_order_acquire);
            gpumem__segment_copy_words(again, map, n);
        }
    } else {
        failed = 1;
    }
    copy_jump = NULL;
    sigaction(SIGBUS, &old, NULL);
    if (!batched) munmap(map, n);
    if (failed) {
        free(copy);
        free(again);
        return failed == 2 ? WHY("out of memory") : WHY("truncated while being read");
    }
    *buf = copy;
    *recheck = again;
    *avail = size;
    *len = n;
    return 0;
}

int gpumem__snapshot_copy_fd(int fd, const struct stat *st, void **buf, void **recheck, size_t *len, char *why,
                             size_t why_len)
{
    size_t avail;
    return copy_parts(fd, st, 0, buf, recheck, &avail, len, why, why_len);
}

/* ---- the process behind a pid, now --------------------------------------- */

enum { PROC_NONE, PROC_RUNNING, PROC_UNKNOWN };

struct proc_now {
    int state;      /* PROC_*                                        */
    uint64_t start; /* field 22 of stat, when PROC_RUNNING           */
    int have_uids;  /* the Uid: line of status was read               */
    unsigned euid, fsuid;
};

ssize_t gpumem__read_at(int dfd, const char *file, char *buf, size_t size)
{
    int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = '\0';
    return n;
}

/* Whether a pid is free: no /proc entry and kill() says no such process.
 * (hidepid=2 hides other users' processes from /proc; kill still answers
 * EPERM for them.) */
static int pid_free(int pid) { return kill(pid, 0) != 0 && errno == ESRCH; }

/* stat and status are read through one descriptor of /proc/<pid>: if the
 * process ends meanwhile, reads through it fail instead of describing a
 * new process that took the pid. status is world-readable even when stat
 * belongs to root (PR_SET_DUMPABLE 0, changed credentials). */
static void proc_now(int pid, struct proc_now *p)
{
    memset(p, 0, sizeof *p);
    char path[32], buf[4096];
    snprintf(path, sizeof path, "/proc/%d", pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        p->state = pid_free(pid) ? PROC_NONE : PROC_UNKNOWN;
        return;
    }
    p->state = PROC_UNKNOWN;
    ssize_t n = gpumem__read_at(dfd, "stat", buf, sizeof buf);
    if (n > 0 && gpumem__proc_stat_parse_start(buf, (size_t)n, &p->start) == 0) p->state = PROC_RUNNING;
    if (p->state == PROC_RUNNING && gpumem__read_at(dfd, "status", buf, sizeof buf) > 0) {
        const char *u = strstr(buf, "\nUid:");
        unsigned real, eff, saved, fs;
        if (u && sscanf(u + 5, "%u %u %u %u", &real, &eff, &saved, &fs) == 4) {
            p->have_uids = 1;
            p->euid = eff;
            p->fsuid = fs;
        }
    }
    close(dfd);
    if (p->state != PROC_RUNNING && pid_free(pid)) p->state = PROC_NONE;
}

int gpumem__process_gone(int pid, uint64_t stamped_start)
{
    if (pid <= 0) return 0;
    struct proc_now p;
    proc_now(pid, &p);
    if (p.state == PROC_NONE) return 1;
    return p.state == PROC_RUNNING && stamped_start != 0 && p.start != stamped_start;
}

/* ---- one segment ----------------------------------------------------------- */

int gpumem__snapshot_pid_of(const char *name, const char *prefix)
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

/* The pid after the last dot of a name (the list only yields such names). */
static int name_pid(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot[1] == '\0') return -1;
    long pid = 0;
    for (const char *p = dot + 1; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 0x7fffffff / 10) return -1;
        pid = pid * 10 + (*p - '0');
    }
    return pid > 0 ? (int)pid : -1;
}

/* The writer of an unstamped segment named for pid is gone: no process of
 * ours has the pid, nor one in another pid namespace (a container sharing
 * the directory, whose pid inside is the name's). */
static int unstamped_gone(int pid) { return gpumem__process_gone(pid, 0) && !gpumem__fleet_pid_elsewhere(pid); }

/* A segment that was never stamped: empty (created, killed before it was
 * sized) or with no magic (sized, killed before the header was written;
 * the writer stores the magic last). Its process is the pid of its name:
 * while that pid runs, it may be creating it right now. */
static enum gpumem_snapshot unstamped(int pid)
{
    if (pid <= 0) return GPUMEM_SNAPSHOT_BAD;
    return unstamped_gone(pid) ? GPUMEM_SNAPSHOT_UNFINISHED : GPUMEM_SNAPSHOT_STARTING;
}

enum gpumem_snapshot gpumem__snapshot_load_at(int dirfd, const char *name, struct gpumem_process *out,
                                              struct gpumem_oom *oom, struct stat *st_out, int *fd_out, char *why,
                                              size_t why_len)
{
    if (fd_out) *fd_out = -1;
    int pid = name_pid(name);
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return GPUMEM_SNAPSHOT_GONE; /* its process just exited normally */
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return errno == ENOENT ? GPUMEM_SNAPSHOT_GONE : WHY("cannot open: %s", strerror(err));
        if (st_out) *st_out = st;
        if (S_ISLNK(st.st_mode)) return WHY("a symbolic link, not a segment");
        /* On a shared machine other users' segments are 0600: normal, not damage. */
        if ((err == EACCES || err == EPERM) && st.st_uid != geteuid()) return GPUMEM_SNAPSHOT_UNREADABLE;
        return WHY("cannot open: %s", strerror(err));
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return WHY("cannot stat: %s", strerror(errno));
    }
    if (st_out) *st_out = st;
    enum gpumem_snapshot rc = GPUMEM_SNAPSHOT_OK;
    void *buf = NULL, *recheck = NULL;
    size_t avail = 0, len = 0;
    if (S_ISREG(st.st_mode) && st.st_size == 0) {
        rc = unstamped(pid);
    } else if (copy_parts(fd, &st, oom == NULL, &buf, &recheck, &avail, &len, why, why_len) != 0) {
        struct stat again;
        rc = fstatat(dirfd, name, &again, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT ? GPUMEM_SNAPSHOT_GONE
                                                                                       : GPUMEM_SNAPSHOT_BAD;
    } else {
        uint64_t magic;
        memcpy(&magic, buf, sizeof magic); /* len >= 8 */
        if (magic == 0) rc = unstamped(pid);
        else if ((oom ? gpumem__segment_parse(buf, recheck, len, out, oom, why, why_len)
                      : gpumem__segment_parse_head(buf, recheck, avail, len, out, why, why_len)) != 0)
            rc = GPUMEM_SNAPSHOT_BAD;
    }
    free(buf);
    free(recheck);
    if (rc == GPUMEM_SNAPSHOT_OK) {
        out->owner_uid = (long long)st.st_uid;
        if (out->pid != pid) {
            rc = WHY("named for pid %d but stamped with pid %d", pid, out->pid);
        } else {
            /* The segment speaks for a running process only if that process
             * is the one it names (pid and start time) and the file belongs
             * to it: its effective or filesystem uid (the uid that created
             * the file), or root, who can forge anything anyway. Otherwise
             * it speaks for an ended process, as its owner's word, whatever
             * state it claims: a forgery marked "exited" is checked too. */
            /* A writer in another pid namespace is judged by its host pid,
             * never by its own pid taken as one of ours (fleet.h). */
            int host_pid = out->pid;
            enum gpumem_writer w = GPUMEM_WRITER_RUNNING;
            if (gpumem__fleet_other_ns(out))
                w = gpumem__fleet_find(out->pid, out->pid_ns_inode, out->pid_ns_dev, out->start_time_ticks, &host_pid);
            struct proc_now now;
            int running = 0;
            if (w == GPUMEM_WRITER_RUNNING) {
                proc_now(host_pid, &now);
                running = now.state == PROC_RUNNING && now.start == out->start_time_ticks && now.have_uids;
            }
            if (running && st.st_uid != 0 && st.st_uid != now.euid && st.st_uid != now.fsuid)
                rc = WHY("owned by uid %u but pid %d runs as uid %u", (unsigned)st.st_uid, host_pid, now.euid);
            out->host_pid = running || !out->other_pid_ns ? host_pid : 0;
            out->liveness = out->state == GPUMEM_SHM_STATE_EXITED ? GPUMEM_EXITED
                            : running                             ? GPUMEM_ALIVE
                            : w == GPUMEM_WRITER_UNKNOWN          ? GPUMEM_UNKNOWN
                                                                  : GPUMEM_DEAD;
            if (running) gpumem__fleet_label(out, host_pid);
        }
    }
    if (fd_out && rc != GPUMEM_SNAPSHOT_GONE) *fd_out = fd;
    else close(fd);
    return rc;
}

/* ---- removing one ---------------------------------------------------------- */

#define REMOVE_WHY(...) (snprintf(why, why_len, __VA_ARGS__), GPUMEM_REMOVE_FAILED)

/* rename without replacing: renameat2(RENAME_NOREPLACE), or on a file
 * system without it, a link (which never replaces) and an unlink. */
/* Only an atomic rename that never replaces: a link-then-unlink fallback
 * (for a filesystem without RENAME_NOREPLACE) would unlink the public name
 * after a new process with the same pid made its own file there. Without
 * it, gc removes nothing (and says why). */
static int move_noreplace(int dirfd, const char *from, const char *to)
{
    return renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE);
}

/* Whether the writer is gone: of the parsed segment p, or (p NULL) of an
 * unstamped one, named for pid. */
static int writer_gone(const struct gpumem_process *p, int pid)
{
    return p ? gpumem__fleet_gone(p) : unstamped_gone(pid);
}

enum gpumem_remove gpumem__snapshot_remove_at(int dirfd, const char *name, const struct stat *st,
                                              const struct gpumem_process *p, int pid, char *why, size_t why_len)
{
    static unsigned serial;
    if (!writer_gone(p, pid)) return GPUMEM_REMOVE_KEPT;
    /* A name no reader lists (a prefix never starts with '.') and no other
     * gc picks: after the rename, no process can reach this file by its
     * public name, and a new process with the same pid creates its own. */
    char private_name[160];
    snprintf(private_name, sizeof private_name, ".gpumem-gc.%d.%u.%s", (int)getpid(), serial++, name);
    if (move_noreplace(dirfd, name, private_name) != 0) {
        if (errno == ENOENT) return GPUMEM_REMOVE_GONE;
        return REMOVE_WHY("%s", strerror(errno));
    }
    /* The file now at the private name is the one that was checked (the
     * caller holds it open, so its inode number cannot have been reused),
     * and its writer is still gone: only then is it unlinked. */
    struct stat now;
    if (fstatat(dirfd, private_name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st->st_dev &&
        now.st_ino == st->st_ino && writer_gone(p, pid)) {
        if (unlinkat(dirfd, private_name, 0) == 0) return GPUMEM_REMOVED;
    }
    /* Replaced meanwhile (a new process with this pid made its own): put it
     * back as it was. */
    if (move_noreplace(dirfd, private_name, name) == 0) return GPUMEM_REMOVE_REPLACED;
    return REMOVE_WHY("replaced while gc worked, and could not be put back (%s): it is at %s", strerror(errno),
                      private_name);
}

/* ---- listing ------------------------------------------------------------- */

static int by_pid(const void *a, const void *b)
{
    const char *x = strrchr(*(char *const *)a, '.'), *y = strrchr(*(char *const *)b, '.');
    long px = atol(x + 1), py = atol(y + 1);
    return (px > py) - (px < py);
}

size_t gpumem__snapshot_list(int dirfd, const char *prefix, char ***names)
{
    *names = NULL;
    int fd = dup(dirfd);
    if (fd < 0) return 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return 0;
    }
    rewinddir(d); /* a dup shares its offset with dirfd */
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (gpumem__snapshot_pid_of(e->d_name, prefix) < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*names, cap * sizeof **names);
            if (!grown) break;
            *names = grown;
        }
        if (!((*names)[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(*names, n, sizeof **names, by_pid);
    return n;
}
