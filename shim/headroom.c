/* headroom.c - see headroom.h. */
#define _GNU_SOURCE
#include "headroom.h"

#include <errno.h>
#include <string.h>

#include "driver.h"
#include "segment_write.h"

struct gpumem_headroom gpumem__headroom[GPUMEM_SHM_DEVICE_SLOTS];

__attribute__((noinline, cold)) void gpumem__headroom_sample(int dev, const struct gpumem_shm_device *d, uint64_t now)
{
    struct gpumem_headroom *h = &gpumem__headroom[dev];
    uint64_t last = atomic_load_explicit(&h->sampled_ns, memory_order_relaxed);
    if (!atomic_compare_exchange_strong(&h->sampled_ns, &last, now)) return;
    atomic_store_explicit(&h->sampled_alarms, __atomic_load_n(&d->alarm_count, __ATOMIC_RELAXED), memory_order_relaxed);
    int saved = errno;
    /* The shim's own call to the real function: cuMemGetInfo is not hooked,
     * so it is neither counted nor seen again here. */
    const struct gpumem_driver *drv = gpumem__driver();
    size_t free_bytes = 0, total = 0;
    if (drv->mem_get_info && gpumem__current_device() == dev && drv->mem_get_info(&free_bytes, &total) == GCU_SUCCESS) {
        uint64_t cur = atomic_load_explicit(&h->cur, memory_order_relaxed);
        uint64_t prev = atomic_load_explicit(&h->prev, memory_order_relaxed);
        gpumem__seg_headroom(d, free_bytes, cur > prev ? cur : prev, now);
    }
    errno = saved;
}

void gpumem__headroom_after_fork_child(void) { memset(gpumem__headroom, 0, sizeof gpumem__headroom); }
