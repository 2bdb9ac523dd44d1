/*
 * segment_write.h - the one module that writes into the process's segment
 * (include/gpumem_shm.h): its lifecycle (created at the first CUDA
 * activity, removed at a normal exit, dropped in a fork child) and every
 * store into it. The layers above decide what to count; only this module
 * knows how a field is published: relaxed atomics for counters, a
 * sequentially consistent reserved (see health.c), and seq = 0 .. index + 1
 * around each ring entry so a reader takes only entries it saw whole.
 */
#ifndef GPUMEM_SEGMENT_WRITE_H
#define GPUMEM_SEGMENT_WRITE_H

#include <stdatomic.h>
#include <stdint.h>

#include "driver.h"
#include "gpumem_shm.h"
#include "os.h"

/* ---- the segment ---- */

extern _Atomic(const struct gpumem_shm_segment *) gpumem__seg;
const struct gpumem_shm_segment *gpumem__segment_create(void);
/* This module's own access: the only writable view of the segment. The
 * shim is built with -Wcast-qual, so a const can be taken away only through
 * an integer, as here; tests/layout/check_layers.sh fails if another file
 * names this view or casts a segment pointer so. */
static inline struct gpumem_shm_segment *gpumem__seg_mut(void)
{
    const struct gpumem_shm_segment *s = atomic_load_explicit(&gpumem__seg, memory_order_acquire);
    if (GPUMEM_UNLIKELY(s == NULL)) s = gpumem__segment_create();
    return (struct gpumem_shm_segment *)(uintptr_t)s;
}
/* The segment, created at the first call: shared memory when publication
 * works, process memory otherwise (the in-process API works either way).
 * Read-only for every other module: what they change goes through the
 * functions below, so the compiler refuses any other write. */
static inline const struct gpumem_shm_segment *gpumem__segment(void) { return gpumem__seg_mut(); }
/* A device slot as the functions below take it: the caller's read-only
 * view, made writable here only. */
#define GPUMEM_W(d) ((struct gpumem_shm_device *)(uintptr_t)(d))
/* Normal exit: remove the segment (or mark it exited with GPUMEM_KEEP=1). */
void gpumem__segment_exit(void);
/* fork(): the creation lock is held across it; the child forgets the
 * parent's segment and makes its own at its first CUDA activity. */
void gpumem__segment_before_fork(void);
void gpumem__segment_after_fork_parent(void);
void gpumem__segment_after_fork_child(void);

#define GPUMEM_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define GPUMEM_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

/* ---- the clock of the allocation path ---- */

/* One clock reading per event: the monotonic clock (what history buckets
 * count in) and the wall clock derived from it. The wall clock minus the
 * monotonic clock is re-read at the segment's creation and at each new
 * bucket of the history's fine ring (at most once a second with the
 * defaults), so event times follow a change of the wall clock within a
 * bucket's width of activity. */
struct gpumem_now {
    uint64_t unix_ns, mono_ns;
};
extern _Atomic uint64_t gpumem__unix_minus_mono;
uint64_t gpumem__clock_sync(uint64_t mono);
static inline struct gpumem_now gpumem__seg_now(void)
{
    uint64_t m = gpumem__os_mono_ns();
    uint64_t off = atomic_load_explicit(&gpumem__unix_minus_mono, memory_order_relaxed);
    if (GPUMEM_UNLIKELY(off == 0)) off = gpumem__clock_sync(m);
    return (struct gpumem_now){ m + off, m };
}

/* ---- header counters ---- */

static inline void gpumem__seg_untracked(void) { GPUMEM_ADD(&gpumem__seg_mut()->header.untracked_count, 1); }
static inline void gpumem__seg_oom(void) { GPUMEM_ADD(&gpumem__seg_mut()->header.oom_count, 1); }

/* ---- a device's slot ---- */

static inline void gpumem__seg_device_active(const struct gpumem_shm_device *d, int ordinal)
{
    if (GPUMEM_LOAD(&d->flags) & GPUMEM_SHM_DEVICE_ACTIVE) return;
    __atomic_store_n(&GPUMEM_W(d)->ordinal, ordinal, __ATOMIC_RELAXED);
    __atomic_fetch_or(&GPUMEM_W(d)->flags, GPUMEM_SHM_DEVICE_ACTIVE, __ATOMIC_RELEASE);
}
/* Total, UUID, PCI bus id and name, then (once the level bounds are set,
 * health.h) the INFO flag that publishes them: a thread that finds INFO, or
 * a warning bound, finds the total and the UUID written. */
void gpumem__seg_device_info(const struct gpumem_shm_device *d, uint64_t total, const char *uuid,
                             const char *pci_bus_id, const char *name);
static inline void gpumem__seg_device_ready(const struct gpumem_shm_device *d)
{
    __atomic_fetch_or(&GPUMEM_W(d)->flags, GPUMEM_SHM_DEVICE_INFO, __ATOMIC_RELEASE);
}

/* reserved += bytes, keeping the peak; returns the new reserved. Reserved
 * changes sequentially consistent, like the level's own compare-and-swap:
 * a thread that changes reserved and then finds the level unchanged, and
 * one that changes the level and then re-reads reserved, cannot both miss
 * the other's change (health.c). */
static inline uint64_t gpumem__seg_charge(const struct gpumem_shm_device *d, uint64_t bytes)
{
    struct gpumem_shm_device *w = GPUMEM_W(d);
    uint64_t now = __atomic_add_fetch(&w->reserved_bytes, bytes, __ATOMIC_SEQ_CST);
    uint64_t peak = GPUMEM_LOAD(&w->peak_bytes);
    while (now > peak) {
        if (__atomic_compare_exchange_n(&w->peak_bytes, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            __atomic_store_n(&w->peak_unix_ns, gpumem__os_now_ns(), __ATOMIC_RELAXED);
            break;
        }
    }
    return now;
}

/* *field -= bytes, never below zero; returns the new value. */
static inline uint64_t gpumem__seg_subtract(uint64_t *field, uint64_t bytes)
{
    uint64_t cur = GPUMEM_LOAD(field), next;
    do {
        next = cur > bytes ? cur - bytes : 0;
    } while (!__atomic_compare_exchange_n(field, &cur, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return next;
}

static inline uint64_t gpumem__seg_uncharge(const struct gpumem_shm_device *d, uint64_t bytes)
{
    return gpumem__seg_subtract(&GPUMEM_W(d)->reserved_bytes, bytes);
}
static inline void gpumem__seg_managed_add(const struct gpumem_shm_device *d, uint64_t b)
{
    GPUMEM_ADD(&GPUMEM_W(d)->managed_bytes, b);
}
static inline void gpumem__seg_managed_sub(const struct gpumem_shm_device *d, uint64_t b)
{
    gpumem__seg_subtract(&GPUMEM_W(d)->managed_bytes, b);
}
static inline void gpumem__seg_count_alloc(const struct gpumem_shm_device *d)
{
    GPUMEM_ADD(&GPUMEM_W(d)->alloc_count, 1);
}
static inline void gpumem__seg_count_free(const struct gpumem_shm_device *d)
{
    GPUMEM_ADD(&GPUMEM_W(d)->free_count, 1);
}
static inline void gpumem__seg_count_failed(const struct gpumem_shm_device *d)
{
    GPUMEM_ADD(&GPUMEM_W(d)->failed_count, 1);
}
static inline void gpumem__seg_count_unknown_free(const struct gpumem_shm_device *d)
{
    GPUMEM_ADD(&GPUMEM_W(d)->unknown_free_count, 1);
}

/* The level moves from cur to next only if it is still cur: each change
 * is claimed by exactly one thread. */
static inline int gpumem__seg_level_claim(const struct gpumem_shm_device *d, uint32_t cur, uint32_t next)
{
    return __atomic_compare_exchange_n(&GPUMEM_W(d)->level, &cur, next, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}
/* A claimed change: counted, stamped, and appended to the transitions ring. */
void gpumem__seg_transition(int device, const struct gpumem_shm_device *d, uint32_t level, uint32_t previous,
                            uint64_t reserved, uint64_t now);

/* Headroom (issue 16): a sample of the driver's free memory and the largest
 * recent request; the risk that follows, counted in the slot and the header
 * when it changes. One writer at a time per device (headroom.c). */
void gpumem__seg_headroom(const struct gpumem_shm_device *d, uint64_t free_bytes, uint64_t largest, uint64_t now);

/* ---- the history rings (struct gpumem_shm_bucket) ---- */

/* Where they are, set before the segment is published and never changed
 * while it is (base NULL: no history). hot is the ring every event
 * updates: the fine one, or the coarse one when the fine one is off; the
 * coarse ring otherwise gets each fine bucket when the next one begins. */
struct gpumem_history {
    struct gpumem_shm_bucket *base;
    uint64_t anchor_mono, width[2];
    uint32_t depth[2], sets, set_buckets;
    int hot;
    uint32_t sets_used; /* taken by devices so far (atomic) */
};
extern struct gpumem_history gpumem__history;
/* A device's first event of a bucket, or its first event at all. */
void gpumem__seg_history_roll(const struct gpumem_shm_device *d, uint64_t reserved, uint64_t mono);

static inline void gpumem__history_raise(struct gpumem_shm_bucket *b, uint64_t v)
{
    uint64_t high = GPUMEM_LOAD(&b->high);
    while ((high & GPUMEM_SHM_HISTORY_VALUE_MASK) < v &&
           !__atomic_compare_exchange_n(&b->high, &high, (high & ~GPUMEM_SHM_HISTORY_VALUE_MASK) | v, 1,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}
static inline void gpumem__history_put(struct gpumem_shm_bucket *b, uint64_t reserved, uint64_t allocs)
{
    uint64_t v = reserved > GPUMEM_SHM_HISTORY_VALUE_MASK ? GPUMEM_SHM_HISTORY_VALUE_MASK : reserved;
    __atomic_store_n(&b->last, (allocs << 40) | v, __ATOMIC_RELAXED);
    gpumem__history_raise(b, v);
}

/* After an event changed a device's counters: reserved (as the event left
 * it) into the bucket of mono. While mono is before the end of the
 * device's newest bucket: three loads, one plain store, and a
 * compare-and-swap only when the bucket's highest value rises. Lock-free;
 * what races can do is said in segment_write.c. */
static inline void gpumem__seg_history(const struct gpumem_shm_device *d, uint64_t reserved, uint64_t mono)
{
    /* The bucket's index is stored before its end (release): a thread that
     * finds the end finds the index of that bucket or of a newer one. */
    if (GPUMEM_UNLIKELY(mono >= __atomic_load_n(&d->history_hot_end, __ATOMIC_ACQUIRE))) {
        if (gpumem__history.base && GPUMEM_LOAD(&d->history_set) != UINT32_MAX)
            gpumem__seg_history_roll(d, reserved, mono);
        return;
    }
    gpumem__history_put(gpumem__history.base + GPUMEM_LOAD(&d->history_hot_index), reserved,
                        GPUMEM_LOAD(&d->alloc_count));
}

/* ---- the event ring ---- */

/* Event indices are claimed a few at a time per thread, so that threads
 * do not all contend on the ring's head for every event. A thread uses its
 * batch only while the ring has not moved on more than a few batches past
 * it: one that allocates rarely never writes an index the ring has long
 * wrapped past (over newer events), and its events stay within a few of
 * the newest. A failure takes the newest index of all: the event a
 * post-mortem must show. */
#define GPUMEM_EVENT_BATCH 8
#define GPUMEM_EVENT_STALE (4 * GPUMEM_EVENT_BATCH)
struct gpumem_event_batch {
    uint64_t next, end;
    struct gpumem_shm_segment *seg;
};
extern __thread struct gpumem_event_batch gpumem__event_batch __attribute__((tls_model("initial-exec")));

static inline uint64_t gpumem__seg_event_index(struct gpumem_shm_segment *s, int newest)
{
    struct gpumem_event_batch *b = &gpumem__event_batch;
    if (GPUMEM_UNLIKELY(newest)) return GPUMEM_ADD(&s->header.events_head, 1);
    if (GPUMEM_LIKELY(b->next != b->end && b->seg == s &&
                      GPUMEM_LOAD(&s->header.events_head) - b->next <= GPUMEM_EVENT_STALE))
        return b->next++;
    b->next = GPUMEM_ADD(&s->header.events_head, GPUMEM_EVENT_BATCH);
    b->end = b->next + GPUMEM_EVENT_BATCH;
    b->seg = s;
    return b->next++;
}

/* Append to the event ring: seq 0 while the entry changes, release stores
 * keep that order, seq = index + 1 publishes it. A non-zero result (a
 * failure) takes the newest index. */
static inline void gpumem__seg_event(uint8_t op, unsigned api, int device, uint64_t bytes, uint64_t address,
                                     int32_t result, struct gpumem_now now)
{
    struct gpumem_shm_segment *s = gpumem__seg_mut();
    uint64_t i = gpumem__seg_event_index(s, result != 0);
    struct gpumem_shm_event *e = &s->events[i & (GPUMEM_SHM_EVENT_SLOTS - 1)];
    __atomic_store_n(&e->seq, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->unix_ns, now.unix_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&e->mono_ns, now.mono_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&e->bytes, bytes, __ATOMIC_RELEASE);
    __atomic_store_n(&e->address, address, __ATOMIC_RELEASE);
    __atomic_store_n(&e->result, result, __ATOMIC_RELEASE);
    __atomic_store_n(&e->device, (int16_t)device, __ATOMIC_RELEASE);
    __atomic_store_n(&e->api, (uint8_t)api, __ATOMIC_RELEASE);
    __atomic_store_n(&e->op, op, __ATOMIC_RELEASE);
    __atomic_store_n(&e->seq, i + 1, __ATOMIC_RELEASE);
}

/* ---- the out-of-memory record ---- */

/* Publishes a finished record and the largest live allocations: the
 * record's seq is odd while they are copied in, even after. */
void gpumem__seg_oom_record(const struct gpumem_shm_oom *record, const struct gpumem_shm_large *large);
/* The report was linked under another name than the record says. */
void gpumem__seg_oom_report_path(const char *path);

#endif /* GPUMEM_SEGMENT_WRITE_H */
