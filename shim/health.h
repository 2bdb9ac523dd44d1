/*
 * health.h - each device's level (healthy, warning, critical) follows its
 * reserved bytes, with hysteresis (levels.h); a change is claimed once,
 * recorded in the segment, logged, and queued for the alarm callbacks,
 * which alarm.c runs when the hook that caused it returns.
 *
 * The allocation path pays one comparison while a device is healthy and
 * below the warning bound.
 */
#ifndef GPUMEM_HEALTH_H
#define GPUMEM_HEALTH_H

#include <stdatomic.h>
#include <stdint.h>

#include "compiler.h"
#include "gpumem.h"
#include "gpumem_shm.h"

/* The warning bound in bytes per device, 0 while its total is unknown. */
extern _Atomic uint64_t gpumem__warn_up[GPUMEM_SHM_DEVICE_SLOTS];
/* Set the bounds once the device's total is known. */
void gpumem__health_limits(int device, uint64_t total);
/* The slow path of gpumem__health_update: the level may change. */
void gpumem__health_change(int device, const struct gpumem_shm_device *d);
/* After reserved changed: one comparison while the device is healthy and
 * below its warning bound (or its total is not known yet, bound 0). */
static inline void gpumem__health_update(int device, const struct gpumem_shm_device *d, uint64_t reserved)
{
    uint64_t warn_up = atomic_load_explicit(&gpumem__warn_up[device], memory_order_acquire);
    /* Sequentially consistent (a plain load on x86): see gpumem__health_change. */
    if (GPUMEM_LIKELY((__atomic_load_n(&d->level, __ATOMIC_SEQ_CST) == GPUMEM_LEVEL_HEALTHY && reserved < warn_up) ||
                      warn_up == 0))
        return;
    gpumem__health_change(device, d);
}

/* Alarms raised on this thread and not yet delivered (at most
 * GPUMEM_ALARMS_QUEUED; further ones are dropped). Queued only while
 * gpumem__alarms_wanted (a callback is registered) or GPUMEM_SIGNAL is set. */
#define GPUMEM_ALARMS_QUEUED 8
struct gpumem_alarm_queue {
    int n;
    struct {
        gpumem_alarm_t alarm;
        char uuid[48];
    } alarm[GPUMEM_ALARMS_QUEUED];
};
extern __thread struct gpumem_alarm_queue gpumem__alarms __attribute__((tls_model("initial-exec")));
extern atomic_int gpumem__alarms_wanted;

#endif /* GPUMEM_HEALTH_H */
