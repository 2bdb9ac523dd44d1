/*
 * segment_write.c - the process's counters, published as /<prefix>.<pid> in
 * POSIX shared memory at its first CUDA activity (see segment_write.h).
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
#include "segment_write.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gpumem.h"
#include "log.h"
#include "options.h"
#include "segment_read.h"

_Atomic(const struct gpumem_shm_segment *) gpumem__seg;
__thread struct gpumem_event_batch gpumem__event_batch __attribute__((tls_model("initial-exec")));

/* The segment as published, writable here (NULL before it is made). */
static struct gpumem_shm_segment *published(void)
{
    return (struct gpumem_shm_segment *)(uintptr_t)atomic_load(&gpumem__seg);
}

static struct gpumem_shm_segment local_segment; /* when publication is off */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static char shm_name[96]; /* set while this process owns a published segment */
static int owner_pid;

/* The directory of the segment file: NULL for POSIX shared memory. */
static const char *shm_dir(void) { return strcmp(gpumem__opt.shm_dir, "/dev/shm") == 0 ? NULL : gpumem__opt.shm_dir; }

/* Called at creation, in a forked child too (its own pid, start time and
 * pid namespace, which may differ from its parent's after unshare). */
static void fill_header(struct gpumem_shm_segment *s)
{
    struct gpumem_shm_header *h = &s->header;
    uint64_t ns_inode, ns_dev;
    gpumem__os_pid_namespace(&ns_inode, &ns_dev);
    struct gpumem_header_values v = {
        .pid_ns_inode = ns_inode,
        .pid_ns_dev = ns_dev,
        .pid = gpumem__os_pid(),
        .start_time_ticks = gpumem__os_start_ticks(),
        .created_unix_ns = gpumem__os_now_ns(),
        .warn_percent = gpumem__opt.warn_percent,
        .alarm_percent = gpumem__opt.alarm_percent,
        .hysteresis_percent = gpumem__opt.hysteresis_percent,
    };
    gpumem__segment_header_fill(h, &v);
    gpumem__os_hostname(h->hostname, sizeof h->hostname);
    gpumem__os_command(h->command, sizeof h->command);
    __atomic_store_n(&h->state, GPUMEM_SHM_STATE_RUNNING, __ATOMIC_RELAXED);
    __atomic_store_n(&h->magic, GPUMEM_SHM_MAGIC, __ATOMIC_RELEASE);
}

static struct gpumem_shm_segment *publish(void)
{
    if (gpumem__opt.shm_prefix[0] == '\0') return NULL;
    snprintf(shm_name, sizeof shm_name, "/%s.%d", gpumem__opt.shm_prefix, gpumem__os_pid());
    void *map = NULL;
    const char *what = "";
    unsigned owner = (unsigned)-1;
    size_t size = sizeof(struct gpumem_shm_segment);
    int err = gpumem__os_shm_create(shm_dir(), shm_name, gpumem__opt.shm_mode, size, &map, &what, &owner);
    if (err == 0) {
        owner_pid = gpumem__os_pid();
        return map;
    }
    if (owner != (unsigned)-1)
        gpumem__log("shared memory %s belongs to uid %u; publication is off for this process", shm_name, owner);
    else if (strcmp(what, "create") == 0 && err != EPERM)
        gpumem__log("cannot create shared memory %s (%s); publication is off", shm_name, strerror(err));
    else if (strcmp(what, "create") != 0)
        gpumem__log("cannot %s shared memory %s (%zu bytes: %s); publication is off, counting in process memory only",
                    what, shm_name, size, strerror(err));
    shm_name[0] = '\0';
    return NULL;
}

const struct gpumem_shm_segment *gpumem__segment_create(void)
{
    int saved = errno;
    pthread_mutex_lock(&create_lock);
    struct gpumem_shm_segment *s = published();
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

/* The mapping itself stays, since other threads may still be counting. */
void gpumem__segment_exit(void)
{
    struct gpumem_shm_segment *s = published();
    if (s && shm_name[0] && owner_pid == gpumem__os_pid()) {
        if (gpumem__opt.keep) {
            __atomic_store_n(&s->header.exited_unix_ns, gpumem__os_now_ns(), __ATOMIC_RELAXED);
            __atomic_store_n(&s->header.state, GPUMEM_SHM_STATE_EXITED, __ATOMIC_RELEASE);
        } else {
            gpumem__os_shm_unlink(shm_dir(), shm_name);
        }
        shm_name[0] = '\0';
    }
}

void gpumem__segment_before_fork(void) { pthread_mutex_lock(&create_lock); }
void gpumem__segment_after_fork_parent(void) { pthread_mutex_unlock(&create_lock); }

/* The child, being the thread that took the lock, may unlock it. */
void gpumem__segment_after_fork_child(void)
{
    struct gpumem_shm_segment *s = published();
    if (s && s != &local_segment) gpumem__os_unmap(s, sizeof *s);
    atomic_store(&gpumem__seg, NULL);
    shm_name[0] = '\0';
    owner_pid = 0;
    gpumem__event_batch.next = gpumem__event_batch.end = 0;
    gpumem__event_batch.seg = NULL;
    pthread_mutex_unlock(&create_lock);
}

/* ---- devices and levels ---- */

static void copy_text(char *field, size_t size, const char *text)
{
    if (!text) return;
    size_t n = strnlen(text, size - 1);
    memcpy(field, text, n);
    field[n] = '\0';
}

void gpumem__seg_device_info(const struct gpumem_shm_device *cd, uint64_t total, const char *uuid,
                             const char *pci_bus_id, const char *name)
{
    struct gpumem_shm_device *d = GPUMEM_W(cd);
    copy_text(d->uuid, sizeof d->uuid, uuid);
    copy_text(d->pci_bus_id, sizeof d->pci_bus_id, pci_bus_id);
    copy_text(d->name, sizeof d->name, name);
    __atomic_store_n(&d->total_bytes, total, __ATOMIC_RELEASE);
}

void gpumem__seg_transition(int device, const struct gpumem_shm_device *cd, uint32_t level, uint32_t previous,
                            uint64_t reserved, uint64_t now)
{
    struct gpumem_shm_device *d = GPUMEM_W(cd);
    GPUMEM_ADD(&d->alarm_count, 1);
    __atomic_store_n(&d->last_transition_unix_ns, now, __ATOMIC_RELAXED);
    struct gpumem_shm_segment *s = gpumem__seg_mut();
    uint64_t i = GPUMEM_ADD(&s->header.transitions_head, 1);
    struct gpumem_shm_transition *t = &s->transitions[i & (GPUMEM_SHM_TRANSITION_SLOTS - 1)];
    /* seq 0 while the entry changes; release stores keep that order. */
    __atomic_store_n(&t->seq, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->unix_ns, now, __ATOMIC_RELEASE);
    __atomic_store_n(&t->reserved_bytes, reserved, __ATOMIC_RELEASE);
    __atomic_store_n(&t->device, (int16_t)device, __ATOMIC_RELEASE);
    __atomic_store_n(&t->level, (uint8_t)level, __ATOMIC_RELEASE);
    __atomic_store_n(&t->previous_level, (uint8_t)previous, __ATOMIC_RELEASE);
    __atomic_store_n(&t->seq, i + 1, __ATOMIC_RELEASE);
}

void gpumem__seg_headroom(const struct gpumem_shm_device *cd, uint64_t free_bytes, uint64_t largest, uint64_t now)
{
    struct gpumem_shm_device *d = GPUMEM_W(cd);
    uint32_t risk = free_bytes < largest ? GPUMEM_SHM_RISK_AT_RISK : GPUMEM_SHM_RISK_OK;
    __atomic_store_n(&d->free_bytes, free_bytes, __ATOMIC_RELAXED);
    __atomic_store_n(&d->free_sampled_unix_ns, now, __ATOMIC_RELAXED);
    __atomic_store_n(&d->largest_recent_request, largest, __ATOMIC_RELAXED);
    __atomic_store_n(&d->headroom_bytes, free_bytes > largest ? free_bytes - largest : 0, __ATOMIC_RELAXED);
    GPUMEM_ADD(&d->free_samples, 1);
    if (__atomic_exchange_n(&d->risk, risk, __ATOMIC_RELAXED) == risk) return;
    __atomic_store_n(&d->risk_unix_ns, now, __ATOMIC_RELAXED);
    GPUMEM_ADD(&d->risk_changes, 1);
    /* Last: a reader that finds the header's count moved finds the slot's. */
    __atomic_fetch_add(&gpumem__seg_mut()->header.risk_changes, 1, __ATOMIC_RELEASE);
}

/* ---- the out-of-memory record ---- */

/* A full fence after the odd seq (TSan cannot check fences, so its build
 * uses a sequentially consistent store instead). */
#ifdef __SANITIZE_THREAD__
#define FENCE(seq_field, value) __atomic_store_n(seq_field, value, __ATOMIC_SEQ_CST)
#else
#define FENCE(seq_field, value) \
    (__atomic_store_n(seq_field, value, __ATOMIC_RELAXED), __atomic_thread_fence(__ATOMIC_SEQ_CST))
#endif

void gpumem__seg_oom_record(const struct gpumem_shm_oom *record, const struct gpumem_shm_large *large)
{
    struct gpumem_shm_segment *s = gpumem__seg_mut();
    struct gpumem_shm_oom *o = &s->oom;
    uint64_t seq = __atomic_load_n(&o->seq, __ATOMIC_RELAXED);
    FENCE(&o->seq, seq + 1); /* odd: being written */
    memcpy((char *)o + sizeof o->seq, (const char *)record + sizeof o->seq, sizeof *o - sizeof o->seq);
    memcpy(s->large, large, sizeof s->large);
    __atomic_store_n(&o->seq, seq + 2, __ATOMIC_SEQ_CST);
}

void gpumem__seg_oom_report_path(const char *path)
{
    struct gpumem_shm_oom *o = &gpumem__seg_mut()->oom;
    if (strcmp(o->report_path, path) != 0) snprintf(o->report_path, sizeof o->report_path, "%.255s", path);
}
