/* api.c - the in-process API of include/gpumem.h. */
#define _GNU_SOURCE
#include <string.h>

#include "compiler.h"
#include "gpumem.h"
#include "segment_write.h"

GPUMEM_EXPORT const char *gpumem_version(void) { return GPUMEM_VERSION_STRING; }

GPUMEM_EXPORT const char *gpumem_strerror(int err)
{
    switch (err) {
#define GPUMEM_ERR_CASE(name, value, text) \
    case (value): return text;
        GPUMEM_ERRNO_MAP(GPUMEM_ERR_CASE)
#undef GPUMEM_ERR_CASE
    }
    return "unknown gpumem error";
}

GPUMEM_EXPORT int gpumem_device_count(void)
{
    const struct gpumem_shm_segment *s = atomic_load_explicit(&gpumem__seg, memory_order_acquire);
    if (!s) return 0;
    for (int i = GPUMEM_SHM_DEVICE_SLOTS; i-- > 0;)
        if (__atomic_load_n(&s->devices[i].flags, __ATOMIC_ACQUIRE) & GPUMEM_SHM_DEVICE_ACTIVE) return i + 1;
    return 0;
}

GPUMEM_EXPORT int gpumem_device_stats(int device_id, gpumem_device_stats_t *out)
{
    if (!out || device_id < 0) return GPUMEM_EINVAL;
    const struct gpumem_shm_segment *s = atomic_load_explicit(&gpumem__seg, memory_order_acquire);
    if (!s || device_id >= (int)GPUMEM_SHM_DEVICE_SLOTS) return GPUMEM_ENODEV;
    const struct gpumem_shm_device *d = &s->devices[device_id];
    uint32_t flags = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
    if (!(flags & GPUMEM_SHM_DEVICE_ACTIVE)) return GPUMEM_ENODEV;
    memset(out, 0, sizeof *out);
    out->device_id = device_id;
    if (flags & GPUMEM_SHM_DEVICE_INFO) {
        memcpy(out->uuid, d->uuid, sizeof out->uuid - 1);
        memcpy(out->pci_bus_id, d->pci_bus_id, sizeof out->pci_bus_id - 1);
        memcpy(out->name, d->name, sizeof out->name - 1);
        out->total_bytes = __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED);
    }
    out->reserved_bytes = __atomic_load_n(&d->reserved_bytes, __ATOMIC_RELAXED);
    out->peak_bytes = __atomic_load_n(&d->peak_bytes, __ATOMIC_RELAXED);
    out->managed_bytes = __atomic_load_n(&d->managed_bytes, __ATOMIC_RELAXED);
    out->alloc_count = __atomic_load_n(&d->alloc_count, __ATOMIC_RELAXED);
    out->free_count = __atomic_load_n(&d->free_count, __ATOMIC_RELAXED);
    out->failed_count = __atomic_load_n(&d->failed_count, __ATOMIC_RELAXED);
    out->unknown_free_count = __atomic_load_n(&d->unknown_free_count, __ATOMIC_RELAXED);
    out->level = (gpumem_level_t)__atomic_load_n(&d->level, __ATOMIC_RELAXED);
    out->alarm_count = __atomic_load_n(&d->alarm_count, __ATOMIC_RELAXED);
    out->percent = out->total_bytes ? (double)out->reserved_bytes * 100.0 / (double)out->total_bytes : 0.0;
    return GPUMEM_OK;
}
