/*
 * devices.h - a device's counters: its slot in the segment, described at
 * first use (total, UUID, PCI bus id, name), and the charge and uncharge of
 * reserved bytes that every kind of allocation comes down to.
 */
#ifndef GPUMEM_DEVICES_H
#define GPUMEM_DEVICES_H

#include <stdint.h>

#include "health.h"
#include "segment_write.h"

void gpumem__device_first_use(int dev, const struct gpumem_shm_device *d);

/* The device's counters in the segment, NULL for an ordinal out of range. */
static inline const struct gpumem_shm_device *gpumem__device(int dev)
{
    if ((unsigned)dev >= GPUMEM_SHM_DEVICE_SLOTS) return NULL;
    const struct gpumem_shm_device *d = &gpumem__segment()->devices[dev];
    if (GPUMEM_UNLIKELY(!(GPUMEM_LOAD(&d->flags) & GPUMEM_SHM_DEVICE_INFO))) gpumem__device_first_use(dev, d);
    return d;
}

/* reserved += bytes (keeping the peak); the history's bucket of mono
 * (gpumem__seg_now) and the level follow. */
static inline void gpumem__device_charge(int dev, const struct gpumem_shm_device *d, uint64_t bytes, uint64_t mono)
{
    uint64_t reserved = gpumem__seg_charge(d, bytes);
    gpumem__seg_history(d, reserved, mono);
    gpumem__health_update(dev, d, reserved);
}

static inline void gpumem__device_uncharge(int dev, const struct gpumem_shm_device *d, uint64_t bytes, uint64_t mono)
{
    uint64_t reserved = gpumem__seg_uncharge(d, bytes);
    gpumem__seg_history(d, reserved, mono);
    gpumem__health_update(dev, d, reserved);
}

/* fork() child: devices are described again. */
void gpumem__devices_after_fork_child(void);

#endif /* GPUMEM_DEVICES_H */
