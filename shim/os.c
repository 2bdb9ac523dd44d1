/*
 * os.c - every system call of the shim (see os.h).
 */
#define _GNU_SOURCE
#include "os.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "gpumem_shm.h"
#include "procfs.h"

/* ---- clock and process ---------------------------------------------------- */

uint64_t gpumem__os_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t gpumem__os_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int gpumem__os_pid(void) { return (int)getpid(); }
unsigned gpumem__os_euid(void) { return (unsigned)geteuid(); }
void gpumem__os_yield(void) { sched_yield(); }

/* The whole of a small /proc file, NUL-terminated; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    return n;
}

uint64_t gpumem__os_start_ticks(void)
{
    char buf[1024];
    ssize_t n = read_small("/proc/self/stat", buf, sizeof buf);
    return n > 0 ? gpumem__proc_stat_start(buf, (size_t)n) : 0;
}

void gpumem__os_command(char *out, size_t size)
{
    ssize_t n = read_small("/proc/self/cmdline", out, size);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0') out[i] = ' ';
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

void gpumem__os_hostname(char *out, size_t size) { gethostname(out, size - 1); }

void gpumem__os_pid_namespace(uint64_t *inode, uint64_t *dev)
{
    int saved = errno;
    struct stat st;
    *inode = *dev = 0;
    if (stat("/proc/self/ns/pid", &st) == 0) {
        *inode = (uint64_t)st.st_ino;
        *dev = (uint64_t)st.st_dev;
    }
    errno = saved;
}

/* ---- signals ---- */

int gpumem__os_signal_handled(int sig)
{
    int saved = errno;
    struct sigaction old;
    int handled = sigaction(sig, NULL, &old) == 0 &&
                  ((old.sa_flags & SA_SIGINFO) || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN));
    errno = saved;
    return handled;
}

void gpumem__os_raise(int sig)
{
    int saved = errno;
    raise(sig);
    errno = saved;
}

/* ---- POSIX shared memory ------------------------------------------------- */

/* name ("/<prefix>.<pid>") in POSIX shared memory (dir NULL: shm_open, in
 * /dev/shm) or as the file dir/<prefix>.<pid> (GPUMEM_SHM_DIR), opened with
 * the same flags: never through a symbolic link. */
static int open_in(const char *dir, const char *name, int flags, mode_t mode)
{
    if (!dir) return shm_open(name, flags, mode);
    char path[512];
    if ((size_t)snprintf(path, sizeof path, "%s%s", dir, name) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return open(path, flags | O_NOCTTY, mode);
}

static void unlink_in(const char *dir, const char *name)
{
    char path[512];
    if (!dir) shm_unlink(name);
    else if ((size_t)snprintf(path, sizeof path, "%s%s", dir, name) < sizeof path) unlink(path);
}

/* Whether the segment open as fd was stamped in another pid namespace than
 * ours: in a directory shared across namespaces (GPUMEM_SHM_DIR on a
 * hostPath, a /dev/shm shared with hostIPC), a file named for our pid and owned by our uid is then another
 * job's, perhaps live (the first process of every pod has pid 1), never a
 * stale one of ours. */
static int other_pid_namespace(int fd)
{
    uint64_t ns[2], mine[2];
    if (pread(fd, ns, sizeof ns, offsetof(struct gpumem_shm_header, pid_ns_inode)) != (ssize_t)sizeof ns || ns[0] == 0)
        return 0;
    gpumem__os_pid_namespace(&mine[0], &mine[1]);
    return mine[0] != 0 && (ns[0] != mine[0] || ns[1] != mine[1]);
}

/* Open name exclusively, replacing a stale one of ours. */
static int open_exclusive(const char *dir, const char *name, unsigned *owner)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open_in(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
        int old = open_in(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0);
        struct stat st;
        if (old >= 0 && fstat(old, &st) == 0 && st.st_uid != geteuid()) {
            close(old);
            *owner = (unsigned)st.st_uid;
            errno = EPERM;
            return -1;
        }
        if (old >= 0 && fstat(old, &st) == 0 && S_ISREG(st.st_mode) && other_pid_namespace(old)) {
            close(old);
            errno = EEXIST;
            return -1;
        }
        if (old >= 0) close(old);
        /* Same pid and same user: an earlier process (or our image before
         * exec) that is gone. */
        unlink_in(dir, name);
    }
    return -1;
}

/* Reserve the segment's pages before anything is stored in it. ftruncate on
 * tmpfs reserves nothing: in a full /dev/shm the first store into the
 * mapping would be a SIGBUS that kills the program. posix_fallocate returns
 * an error number (it does not set errno); a signal may interrupt it, so it
 * is retried, a bounded number of times. */
static int reserve(int fd, off_t size)
{
    /* Past the file-size limit (ulimit -f), posix_fallocate would raise
     * SIGXFSZ, whose default action ends the program: do not try. */
    struct rlimit fsize;
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < (rlim_t)size)
        return EFBIG;
    int err = EINTR;
    for (int attempt = 0; attempt < 64 && err == EINTR; attempt++) err = posix_fallocate(fd, 0, size);
    return err;
}

int gpumem__os_shm_create(const char *dir, const char *name, unsigned mode, size_t size, void **map, const char **what,
                          unsigned *owner)
{
    int saved = errno;
    *what = "create";
    int fd = open_exclusive(dir, name, owner);
    if (fd < 0) {
        int err = errno;
        errno = saved;
        return err;
    }
    void *m = MAP_FAILED;
    *what = "set the mode of";
    int err = fchmod(fd, mode) == 0 ? 0 : errno;
    if (err == 0) {
        *what = "reserve memory for";
        err = reserve(fd, (off_t)size);
    }
    if (err == 0) {
        *what = "map";
        m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) err = errno;
    }
    close(fd);
    /* Nothing half-made is left behind for a reader to trip over. */
    if (m == MAP_FAILED) unlink_in(dir, name);
    else *map = m;
    errno = saved;
    return err;
}

void gpumem__os_shm_unlink(const char *dir, const char *name)
{
    int saved = errno;
    unlink_in(dir, name);
    errno = saved;
}

void gpumem__os_unmap(void *map, size_t size)
{
    int saved = errno;
    munmap(map, size);
    errno = saved;
}

/* ---- files and the log's sinks ------------------------------------------- */

/* A line to a pipe or FIFO whose reader is gone (`prog 2>&1 | head`) must
 * not kill the program with SIGPIPE, nor one past the file-size limit with
 * SIGXFSZ: both are blocked for the write, and the one the write raised (if
 * it was not pending already) is taken back before the mask is restored.
 * Log lines are rare; this costs a few system calls each. */
/* Consume sig if the write raised it (it was not pending before). */
static void take_back(int sig, const sigset_t *before)
{
    static const struct timespec now = { 0, 0 };
    if (sigismember(before, sig)) return;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigtimedwait(&one, NULL, &now);
}

int gpumem__os_write_all(int fd, const char *buf, size_t n)
{
    int saved = errno;
    sigset_t quiet, old, before;
    sigemptyset(&quiet);
    sigaddset(&quiet, SIGPIPE);
    sigaddset(&quiet, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &quiet, &old);
    sigpending(&before);
    int err = 0;
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            err = errno;
            break;
        }
        if (w == 0) {
            err = EIO;
            break;
        }
        buf += w;
        n -= (size_t)w;
    }
    if (err == EPIPE) take_back(SIGPIPE, &before);
    if (err == EFBIG) take_back(SIGXFSZ, &before);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return err;
}

int gpumem__os_append_line(const char *path, const char *line, size_t len, const char **what)
{
    int saved = errno;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0600);
    if (fd < 0) {
        *what = "open it";
        int err = errno;
        errno = saved;
        return err;
    }
    int err = gpumem__os_write_all(fd, line, len);
    close(fd);
    *what = "write to it";
    errno = saved;
    return err;
}

/* As syslog(3) would send it (facility user, priority warning). No
 * timestamp: the daemon stamps the time it receives it. */
int gpumem__os_syslog_line(const char *line, size_t len, const char **what)
{
    int saved = errno;
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "<%d>%.*s", LOG_USER | LOG_WARNING, (int)len, line);
    if (n < 0 || (size_t)n >= sizeof msg) n = (int)sizeof msg - 1;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", _PATH_LOG);
    int err = 0;
    *what = "reach /dev/log";
    /* Datagram first; a stream socket, as glibc falls back to, ends each
     * message with its NUL. */
    for (int type = SOCK_DGRAM;; type = SOCK_STREAM) {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            err = errno;
            break;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
            size_t size = (size_t)n + (type == SOCK_STREAM);
            ssize_t w;
            do w = send(fd, msg, size, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
            err = w == (ssize_t)size ? 0 : w < 0 ? errno : EIO;
            *what = "send to /dev/log";
        } else {
            err = errno;
        }
        close(fd);
        if (err != EPROTOTYPE || type == SOCK_STREAM) break;
    }
    errno = saved;
    return err;
}

FILE *gpumem__os_temp_file(const char *dir, char *tmp, size_t size)
{
    snprintf(tmp, size, "%s/.gpumem-oom-%d.XXXXXX", dir, (int)getpid());
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        errno = err;
    }
    return f;
}

int gpumem__os_close_file(FILE *f) { return fclose(f) == 0 ? 0 : errno; }

int gpumem__os_link_new(const char *from, const char *to) { return link(from, to) == 0 ? 0 : errno; }

void gpumem__os_unlink(const char *path)
{
    int saved = errno;
    unlink(path);
    errno = saved;
}

/* ---- the dynamic linker --------------------------------------------------- */

void *(*gpumem__real_dlsym)(void *, const char *);

void gpumem__os_find_dlsym(void)
{
    void *p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!p) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    if (!p) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.17");
    gpumem__real_dlsym = (void *(*)(void *, const char *))p;
}

void *gpumem__os_symbol_next(const char *name)
{
    if (!gpumem__real_dlsym) gpumem__os_find_dlsym();
    return gpumem__real_dlsym ? gpumem__real_dlsym(RTLD_NEXT, name) : NULL;
}

void *gpumem__os_symbol(void *handle, const char *name)
{
    if (!gpumem__real_dlsym) gpumem__os_find_dlsym();
    return gpumem__real_dlsym && handle ? gpumem__real_dlsym(handle, name) : NULL;
}

void *gpumem__os_loaded(const char *library) { return dlopen(library, RTLD_NOW | RTLD_NOLOAD); }
void gpumem__os_release(void *handle) { dlclose(handle); }

void *gpumem__os_object_of(const void *addr)
{
    Dl_info info;
    return dladdr(addr, &info) ? info.dli_fbase : NULL;
}

void gpumem__os_describe_address(const void *addr, char *out, size_t size)
{
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        const char *mod = strrchr(info.dli_fname, '/');
        mod = mod ? mod + 1 : info.dli_fname;
        uintptr_t off = (uintptr_t)addr - (uintptr_t)info.dli_fbase;
        if (info.dli_sname)
            snprintf(out, size, "%s+0x%lx (%s+0x%lx)", mod, (unsigned long)off, info.dli_sname,
                     (unsigned long)((uintptr_t)addr - (uintptr_t)info.dli_saddr));
        else snprintf(out, size, "%s+0x%lx", mod, (unsigned long)off);
    } else {
        snprintf(out, size, "%p", addr);
    }
}

int gpumem__os_backtrace(void **frames, int max) { return backtrace(frames, max); }
