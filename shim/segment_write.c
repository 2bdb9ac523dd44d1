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

struct gpumem_history gpumem__history;
_Atomic uint64_t gpumem__unix_minus_mono;

static struct gpumem_shm_segment local_segment; /* when publication is off */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static char shm_name[96]; /* set while this process owns a published segment */
static int owner_pid;

static size_t mapped_size; /* of the published segment */

/* The history section: ring sets of fine then coarse buckets (options). */
static size_t history_bytes(void)
{
    const struct gpumem_options *o = &gpumem__opt;
    return (size_t)o->history_devices * (o->history[0].depth + o->history[1].depth) * sizeof(struct gpumem_shm_bucket);
}

/* Lays out the history of a published segment (none in process memory:
 * the in-process API has no use for it) and stamps it in the header. */
static void history_begin(struct gpumem_shm_segment *s, int published_here)
{
    struct gpumem_history *h = &gpumem__history;
    struct gpumem_shm_header *hd = &s->header;
    const struct gpumem_options *o = &gpumem__opt;
    memset(h, 0, sizeof *h);
    uint64_t mono = gpumem__os_mono_ns();
    uint64_t unix_ns = gpumem__os_now_ns();
    atomic_store_explicit(&gpumem__unix_minus_mono, unix_ns - mono, memory_order_relaxed);
    size_t bytes = history_bytes();
    if (!published_here || bytes == 0) return;
    if (sizeof *s + bytes > GPUMEM_MAX_SEGMENT_BYTES) {
        gpumem__log("a history of %zu bytes would make the segment larger than a reader reads (16 MiB); "
                    "history is off",
                    bytes);
        return;
    }
    h->base = (struct gpumem_shm_bucket *)((char *)s + sizeof *s);
    h->anchor_mono = mono;
    for (int r = 0; r < 2; r++) {
        h->width[r] = o->history[r].width_ns;
        h->depth[r] = o->history[r].depth;
        hd->history_width_ns[r] = h->width[r];
        hd->history_depth[r] = h->depth[r];
    }
    h->sets = o->history_devices;
    h->set_buckets = h->depth[0] + h->depth[1];
    h->hot = h->depth[0] ? 0 : 1;
    hd->history_offset = sizeof *s;
    hd->history_size = bytes;
    hd->history_sets = h->sets;
    hd->history_stride = sizeof(struct gpumem_shm_bucket);
    hd->history_anchor_mono_ns = mono;
    hd->history_anchor_unix_ns = unix_ns;
    hd->segment_size = sizeof *s + bytes;
}

static void fill_header(struct gpumem_shm_segment *s, int published_here)
{
    struct gpumem_shm_header *h = &s->header;
    struct gpumem_header_values v = {
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
    history_begin(s, published_here);
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
    size_t size = sizeof(struct gpumem_shm_segment) + history_bytes();
    if (size > GPUMEM_MAX_SEGMENT_BYTES) size = sizeof(struct gpumem_shm_segment); /* history_begin says why */
    int err = gpumem__os_shm_create(shm_name, gpumem__opt.shm_mode, size, &map, &what, &owner);
    if (err == 0) {
        owner_pid = gpumem__os_pid();
        mapped_size = size;
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
        int published_here = s != NULL;
        if (!s) {
            s = &local_segment;
            memset(s, 0, sizeof *s);
        }
        fill_header(s, published_here);
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
            gpumem__os_shm_unlink(shm_name);
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
    if (s && s != &local_segment) gpumem__os_unmap(s, mapped_size);
    gpumem__history.base = NULL;
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

/* ---- the history rings ---- */

uint64_t gpumem__clock_sync(uint64_t mono)
{
    uint64_t off = gpumem__os_now_ns() - mono;
    atomic_store_explicit(&gpumem__unix_minus_mono, off, memory_order_relaxed);
    return off;
}

static struct gpumem_shm_bucket *ring(uint32_t set, int r)
{
    const struct gpumem_history *h = &gpumem__history;
    return h->base + (size_t)(set - 1) * h->set_buckets + (r ? h->depth[0] : 0);
}

/* A device takes the next free ring set at its first event; past the last
 * one it keeps none (UINT32_MAX). Two threads that attach the same device
 * at once may use up one set more than needed. */
static uint32_t attach(struct gpumem_shm_device *d)
{
    uint32_t want = __atomic_add_fetch(&gpumem__history.sets_used, 1, __ATOMIC_RELAXED), none = 0;
    if (want > gpumem__history.sets) want = UINT32_MAX;
    if (!__atomic_compare_exchange_n(&d->history_set, &none, want, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return none;
    return want;
}

/* The allocation path's shortcut to the newest bucket cur of the hot ring:
 * its index, then its end. Two threads that begin consecutive buckets at
 * once may leave the older one here; the next event then takes the slow
 * path, which sets it again from the device's newest bucket. */
static void shortcut(struct gpumem_shm_device *d, uint32_t set, int r, uint64_t cur)
{
    const struct gpumem_history *h = &gpumem__history;
    uint64_t index = (uint64_t)(ring(set, r) - h->base) + (cur & GPUMEM_SHM_HISTORY_TAG_MASK);
    __atomic_store_n(&d->history_hot_index, index, __ATOMIC_RELAXED);
    __atomic_store_n(&d->history_hot_end, h->anchor_mono + (cur >> GPUMEM_SHM_HISTORY_SLOT_BITS) * h->width[r],
                     __ATOMIC_RELEASE);
}

/* A bucket begins as what the event left: high = last = reserved. */
static uint64_t bucket_begin(uint32_t set, int r, uint64_t tick, uint64_t high, uint64_t last)
{
    const struct gpumem_history *h = &gpumem__history;
    uint64_t slot = tick % h->depth[r];
    struct gpumem_shm_bucket *b = ring(set, r) + slot;
    __atomic_store_n(&b->high, (tick & GPUMEM_SHM_HISTORY_TAG_MASK) << 40 | (high & GPUMEM_SHM_HISTORY_VALUE_MASK),
                     __ATOMIC_RELAXED);
    __atomic_store_n(&b->last, last, __ATOMIC_RELAXED);
    return tick << GPUMEM_SHM_HISTORY_SLOT_BITS | slot;
}

/* The fine bucket that just ended (tick) goes into the coarse bucket of
 * its start: the higher high, its last. Only the thread that began the
 * next fine bucket folds the one before. */
static void fold(struct gpumem_shm_device *d, uint32_t set, uint64_t cur, struct gpumem_shm_bucket old)
{
    const struct gpumem_history *h = &gpumem__history;
    uint64_t tick = cur >> GPUMEM_SHM_HISTORY_SLOT_BITS, high = old.high, last = old.last;
    if (high >> 40 != (tick & GPUMEM_SHM_HISTORY_TAG_MASK)) return; /* not the bucket of that tick */
    uint64_t ctick = (tick - 1) * h->width[0] / h->width[1] + 1;
    uint64_t ccur = GPUMEM_LOAD(&d->history_cur[1]), ct = ccur >> GPUMEM_SHM_HISTORY_SLOT_BITS;
    if (ccur != 0 && ctick < ct) return;
    if (ccur != 0 && ctick == ct) {
        struct gpumem_shm_bucket *cb = ring(set, 1) + (ccur & GPUMEM_SHM_HISTORY_TAG_MASK);
        gpumem__history_raise(cb, high & GPUMEM_SHM_HISTORY_VALUE_MASK);
        __atomic_store_n(&cb->last, last, __ATOMIC_RELAXED);
        return;
    }
    uint64_t next = bucket_begin(set, 1, ctick, high, last);
    __atomic_compare_exchange_n(&d->history_cur[1], &ccur, next, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/*
 * Races accepted, none of which reaches beyond one bucket:
 *  - two threads that begin the same bucket at once both write its start,
 *    and one of the two values (or an update another thread made in
 *    between) may be missing from its high; its last is right again at the
 *    device's next event;
 *  - a thread that read the clock just before another began the next
 *    bucket puts its event in the newer bucket (it happened within
 *    nanoseconds of the boundary);
 *  - the last of a bucket and its allocation count are one plain store, so
 *    of two threads' events the later store wins, not necessarily the later
 *    event; the next event puts it right.
 * A bucket's tag (its tick, 24 bits) is written with its high, so a reader
 * never takes a bucket of an earlier lap for a recent one.
 */
void gpumem__seg_history_roll(const struct gpumem_shm_device *cd, uint64_t reserved, uint64_t mono)
{
    struct gpumem_shm_device *d = GPUMEM_W(cd);
    const struct gpumem_history *h = &gpumem__history;
    uint32_t set = GPUMEM_LOAD(&d->history_set);
    if (set == 0) set = attach(d);
    if (set - 1 >= h->sets) return;
    int r = h->hot;
    uint64_t tick = mono <= h->anchor_mono ? 1 : (mono - h->anchor_mono) / h->width[r] + 1;
    uint64_t v = reserved > GPUMEM_SHM_HISTORY_VALUE_MASK ? GPUMEM_SHM_HISTORY_VALUE_MASK : reserved;
    uint64_t allocs = GPUMEM_LOAD(&d->alloc_count);
    for (int tries = 0; tries < 4; tries++) {
        uint64_t cur = GPUMEM_LOAD(&d->history_cur[r]);
        if (cur != 0 && tick <= cur >> GPUMEM_SHM_HISTORY_SLOT_BITS) {
            /* Another thread began it (or a newer one) first. */
            shortcut(d, set, r, cur);
            gpumem__history_put(ring(set, r) + (cur & GPUMEM_SHM_HISTORY_TAG_MASK), reserved, allocs);
            return;
        }
        /* The bucket that ends, read before its slot may be begun again. */
        const struct gpumem_shm_bucket *ob = ring(set, r) + (cur & GPUMEM_SHM_HISTORY_TAG_MASK);
        struct gpumem_shm_bucket old = { GPUMEM_LOAD(&ob->high), GPUMEM_LOAD(&ob->last) };
        uint64_t next = bucket_begin(set, r, tick, v, allocs << 40 | v);
        if (__atomic_compare_exchange_n(&d->history_cur[r], &cur, next, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
            shortcut(d, set, r, next);
            gpumem__clock_sync(mono);
            if (r == 0 && cur != 0 && h->depth[1]) fold(d, set, cur, old);
            return;
        }
    }
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
