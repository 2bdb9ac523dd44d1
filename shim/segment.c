/*
 * segment.c - the process's counters, published as /<prefix>.<pid> in POSIX
 * shared memory at its first CUDA activity.
 *
 * The segment is created exclusively with mode 0600 (GPUMEM_SHM_MODE widens
 * it for reading; options.c never lets other users write it); a stale
 * segment of an earlier process with our pid and our uid is replaced; one
 * owned by another user is never touched, and publication is then off with
 * one warning. Its pages are reserved before it is mapped, so a full
 * /dev/shm turns publication off instead of killing the program with
 * SIGBUS. Whenever publication is off the same counters live in process
 * memory, so the in-process API still works.
 *
 * Not defended: a process of the same user (or root) that shrinks the
 * segment while we run. Linux refuses seals on shm_open'd files, mlock does
 * not keep truncated pages, and a SIGBUS handler would change the program's
 * signals; such a truncation makes the next counter update a SIGBUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

_Atomic(struct gpumem_shm_segment *) gpumem__seg;

static struct gpumem_shm_segment local_segment; /* when publication is off */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static char shm_name[96];   /* set while this process owns a published segment */
static pid_t owner_pid;

/* Field 22 of /proc/self/stat: start time in clock ticks since boot, which
 * with the pid names a process uniquely. */
static uint64_t start_time_ticks(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    /* After ")": field 3 (state) is first; skip to field 22. */
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void read_command(char *out, size_t size)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    if (n <= 0) return;
    for (ssize_t i = 0; i < n; i++)
        if (out[i] == '\0') out[i] = ' ';
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

static void fill_header(struct gpumem_shm_segment *s)
{
    struct gpumem_shm_header *h = &s->header;
    h->layout_version = GPUMEM_SHM_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->segment_size = sizeof *s;
    h->pid = getpid();
    h->start_time_ticks = start_time_ticks();
    h->created_unix_ns = gpumem__now_ns();
    h->device_slots = GPUMEM_SHM_DEVICE_SLOTS;
    h->device_stride = sizeof s->devices[0];
    h->devices_offset = offsetof(struct gpumem_shm_segment, devices);
    h->events_offset = offsetof(struct gpumem_shm_segment, events);
    h->event_slots = GPUMEM_SHM_EVENT_SLOTS;
    h->event_stride = sizeof s->events[0];
    h->large_offset = offsetof(struct gpumem_shm_segment, large);
    h->large_slots = GPUMEM_SHM_LARGE_SLOTS;
    h->large_stride = sizeof s->large[0];
    h->transitions_offset = offsetof(struct gpumem_shm_segment, transitions);
    h->transition_slots = GPUMEM_SHM_TRANSITION_SLOTS;
    h->transition_stride = sizeof s->transitions[0];
    h->oom_offset = offsetof(struct gpumem_shm_segment, oom);
    h->oom_size = sizeof s->oom;
    h->warn_percent = gpumem__opt.warn_percent;
    h->alarm_percent = gpumem__opt.alarm_percent;
    h->hysteresis_percent = gpumem__opt.hysteresis_percent;
    snprintf(h->shim_version, sizeof h->shim_version, "%s", GPUMEM_VERSION_STRING);
    gethostname(h->hostname, sizeof h->hostname - 1);
    read_command(h->command, sizeof h->command);
    __atomic_store_n(&h->state, GPUMEM_SHM_STATE_RUNNING, __ATOMIC_RELAXED);
    __atomic_store_n(&h->magic, GPUMEM_SHM_MAGIC, __ATOMIC_RELEASE);
}

/* Open /<prefix>.<pid> exclusively, replacing a stale one of ours. */
static int open_exclusive(const char *name)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
        int old = shm_open(name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        struct stat st;
        if (old >= 0 && fstat(old, &st) == 0 && st.st_uid != geteuid()) {
            close(old);
            gpumem__log("shared memory %s belongs to uid %u; publication is off for this process", name,
                        (unsigned)st.st_uid);
            errno = EPERM;
            return -1;
        }
        if (old >= 0) close(old);
        /* Same pid and same user: an earlier process (or our image before
         * exec) that is gone. */
        shm_unlink(name);
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

static struct gpumem_shm_segment *publish(void)
{
    if (gpumem__opt.shm_prefix[0] == '\0') return NULL;
    snprintf(shm_name, sizeof shm_name, "/%s.%d", gpumem__opt.shm_prefix, (int)getpid());
    int fd = open_exclusive(shm_name);
    if (fd < 0) {
        if (errno != EPERM) gpumem__log("cannot create shared memory %s (%s); publication is off", shm_name, strerror(errno));
        shm_name[0] = '\0';
        return NULL;
    }
    struct gpumem_shm_segment *s = MAP_FAILED;
    const char *what = "set the mode of";
    int err = fchmod(fd, gpumem__opt.shm_mode) == 0 ? 0 : errno;
    if (err == 0) {
        what = "reserve memory for";
        err = reserve(fd, sizeof *s);
    }
    if (err == 0) {
        what = "map";
        s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s == MAP_FAILED) err = errno;
    }
    close(fd);
    if (s == MAP_FAILED) {
        /* Nothing half-made is left behind for a reader to trip over. */
        shm_unlink(shm_name);
        gpumem__log("cannot %s shared memory %s (%zu bytes: %s); publication is off, counting in process memory only",
                    what, shm_name, sizeof *s, strerror(err));
        shm_name[0] = '\0';
        return NULL;
    }
    owner_pid = getpid();
    return s;
}

struct gpumem_shm_segment *gpumem__segment_create(void)
{
    int saved = errno;
    pthread_mutex_lock(&create_lock);
    struct gpumem_shm_segment *s = atomic_load(&gpumem__seg);
    if (!s) {
        gpumem__options_load();
        s = gpumem__opt.disabled ? NULL : publish();
        if (!s) {
            s = &local_segment;
            memset(s, 0, sizeof *s);
        }
        fill_header(s);
        atomic_store_explicit(&gpumem__seg, s, memory_order_release);
    }
    pthread_mutex_unlock(&create_lock);
    errno = saved;
    return s;
}

/* Normal exit: remove the segment unless GPUMEM_KEEP=1. The mapping itself
 * stays, since other threads may still be counting. */
__attribute__((destructor)) static void segment_exit(void)
{
    int saved = errno;
    struct gpumem_shm_segment *s = atomic_load(&gpumem__seg);
    if (s && shm_name[0] && owner_pid == getpid()) {
        if (gpumem__opt.keep) {
            __atomic_store_n(&s->header.exited_unix_ns, gpumem__now_ns(), __ATOMIC_RELAXED);
            __atomic_store_n(&s->header.state, GPUMEM_SHM_STATE_EXITED, __ATOMIC_RELEASE);
        } else {
            shm_unlink(shm_name);
        }
        shm_name[0] = '\0';
    }
    errno = saved;
}

static void segment_after_fork_child(void)
{
    struct gpumem_shm_segment *s = atomic_load(&gpumem__seg);
    if (s && s != &local_segment) munmap(s, sizeof *s);
    atomic_store(&gpumem__seg, NULL);
    shm_name[0] = '\0';
    owner_pid = 0;
}

/* Every lock of the shim is held across fork(), taken in one order (the
 * report lock first: a report takes ledger locks while holding it), so the
 * child never inherits a lock that another thread held; both sides then
 * release them. The child, being the thread that took them, may unlock. */
static void before_fork(void)
{
    gpumem__oom_before_fork();
    gpumem__alarm_before_fork();
    pthread_mutex_lock(&create_lock);
    gpumem__counters_before_fork();
}

static void after_fork_parent(void)
{
    gpumem__counters_after_fork_parent();
    pthread_mutex_unlock(&create_lock);
    gpumem__alarm_after_fork();
    gpumem__oom_after_fork();
}

static void after_fork_child(void)
{
    gpumem__counters_after_fork_child();
    segment_after_fork_child();
    pthread_mutex_unlock(&create_lock);
    gpumem__alarm_after_fork();
    gpumem__oom_after_fork();
}

__attribute__((constructor)) static void segment_init(void)
{
    gpumem__options_load();
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}
