/*
 * headroom.h - will the next allocation fit? Per device, the largest of the
 * last 64 to 128 driver-level requests (two windows of 64 requests: the
 * current one and the one before), and the driver's free memory
 * (cuMemGetInfo), sampled off the hot path: by the one thread that wins a
 * compare-and-swap on the device's sample time, at most every 100 ms, at
 * once after a level change or a refused request, and after a request
 * larger than any recent one when the last sample is 10 ms old or more (a
 * job whose requests keep growing samples at most every 10 ms).
 * Only when the device is the calling thread's current one, since
 * cuMemGetInfo answers for the current context. Published in the device's
 * slot (free, largest recent request, headroom, risk: free below the
 * largest recent request).
 *
 * A typical allocation pays an atomic add, a compare, and three relaxed
 * loads; never a system call.
 */
#ifndef GPUMEM_HEADROOM_H
#define GPUMEM_HEADROOM_H

#include <stdatomic.h>
#include <stdint.h>

#include "compiler.h"
#include "gpumem_shm.h"

#define GPUMEM_HEADROOM_WINDOW 64u             /* requests per window */
#define GPUMEM_HEADROOM_SAMPLE_NS 100000000ull /* at most every 100 ms */
#define GPUMEM_HEADROOM_LARGER_NS 10000000ull  /* a larger request: at most every 10 ms */

struct gpumem_headroom {
    atomic_uint_fast64_t count, cur, prev; /* requests; largest of this window and the one before */
    _Atomic uint64_t sampled_ns;           /* the last sample (or attempt)                      */
    _Atomic uint64_t sampled_alarms;       /* the device's level changes at that sample        */
};
extern struct gpumem_headroom gpumem__headroom[GPUMEM_SHM_DEVICE_SLOTS];

/* Sample now, unless another thread is doing so. */
void gpumem__headroom_sample(int dev, const struct gpumem_shm_device *d, uint64_t now);

static inline int gpumem__headroom_due(const struct gpumem_headroom *h, const struct gpumem_shm_device *d, uint64_t now)
{
    /* alarm_count shares its cache line with the level every allocation reads. */
    return now - atomic_load_explicit(&h->sampled_ns, memory_order_relaxed) >= GPUMEM_HEADROOM_SAMPLE_NS ||
           __atomic_load_n(&d->alarm_count, __ATOMIC_RELAXED) !=
               atomic_load_explicit(&h->sampled_alarms, memory_order_relaxed);
}

/* A driver-level request of bytes on dev, at now; refused: it failed (the
 * figures are sampled at once). */
static inline void gpumem__headroom_request(int dev, const struct gpumem_shm_device *d, uint64_t bytes, uint64_t now,
                                            int refused)
{
    struct gpumem_headroom *h = &gpumem__headroom[dev];
    uint64_t n = atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    if (GPUMEM_UNLIKELY(n % GPUMEM_HEADROOM_WINDOW == GPUMEM_HEADROOM_WINDOW - 1))
        atomic_store_explicit(&h->prev, atomic_exchange_explicit(&h->cur, 0, memory_order_relaxed),
                              memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&h->cur, memory_order_relaxed);
    int larger = bytes > cur && bytes > atomic_load_explicit(&h->prev, memory_order_relaxed) &&
                 now - atomic_load_explicit(&h->sampled_ns, memory_order_relaxed) >= GPUMEM_HEADROOM_LARGER_NS;
    while (bytes > cur &&
           !atomic_compare_exchange_weak_explicit(&h->cur, &cur, bytes, memory_order_relaxed, memory_order_relaxed)) {}
    if (GPUMEM_UNLIKELY(larger || refused || gpumem__headroom_due(h, d, now))) gpumem__headroom_sample(dev, d, now);
}

/* Memory was given back on dev: the free figure is sampled when due. */
static inline void gpumem__headroom_tick(int dev, const struct gpumem_shm_device *d, uint64_t now)
{
    if (GPUMEM_UNLIKELY(gpumem__headroom_due(&gpumem__headroom[dev], d, now))) gpumem__headroom_sample(dev, d, now);
}

/* fork() child: nothing sampled yet. */
void gpumem__headroom_after_fork_child(void);

#endif /* GPUMEM_HEADROOM_H */
