/*
 * health.c - see health.h. A change of level is claimed with a
 * compare-and-swap on the level in the segment, so each change raises
 * exactly one alarm however many threads race past the bound.
 */
#define _GNU_SOURCE
#include "health.h"

#include <string.h>

#include "format.h"
#include "levels.h"
#include "log.h"
#include "options.h"
#include "segment_write.h"

/* Bounds in bytes, per device, set once the total is known; the warning
 * bound (gpumem__warn_up, read by the inline fast path) is published last
 * and read first, 0 meaning "total not known yet". */
static struct gpumem_limits limits[GPUMEM_SHM_DEVICE_SLOTS];
_Atomic uint64_t gpumem__warn_up[GPUMEM_SHM_DEVICE_SLOTS];
__thread struct gpumem_alarm_queue gpumem__alarms __attribute__((tls_model("initial-exec")));
atomic_int gpumem__alarms_wanted;

void gpumem__health_limits(int device, uint64_t total)
{
    limits[device] = gpumem__limits_make(total, gpumem__opt.warn_percent, gpumem__opt.alarm_percent,
                                         gpumem__opt.hysteresis_percent);
    atomic_store_explicit(&gpumem__warn_up[device], limits[device].warn_up, memory_order_release);
}

static void log_transition(int device, gpumem_level_t level, uint64_t reserved, uint64_t total)
{
    char held[32], all[32];
    gpumem__format_gb(held, sizeof held, reserved);
    gpumem__format_gb(all, sizeof all, total);
    unsigned pct = gpumem__percent_whole(reserved, total);
    if (level == GPUMEM_LEVEL_CRITICAL)
        gpumem__log("CRITICAL cuda:%d %u%% %s / %s (alarm above %u%%)", device, pct, held, all,
                    gpumem__opt.alarm_percent);
    else if (level == GPUMEM_LEVEL_WARNING)
        gpumem__log("WARNING cuda:%d %u%% %s / %s (warning from %u%%)", device, pct, held, all,
                    gpumem__opt.warn_percent);
    else
        gpumem__log("OK cuda:%d %u%% %s / %s (back below %u%%)", device, pct, held, all,
                    gpumem__opt.warn_percent - gpumem__opt.hysteresis_percent);
}

static void queue(const gpumem_alarm_t *a)
{
    struct gpumem_alarm_queue *q = &gpumem__alarms;
    int wanted = atomic_load_explicit(&gpumem__alarms_wanted, memory_order_acquire) || gpumem__opt.signal;
    if (!wanted || q->n >= GPUMEM_ALARMS_QUEUED) return;
    q->alarm[q->n].alarm = *a;
    memcpy(q->alarm[q->n].uuid, a->uuid, sizeof q->alarm[q->n].uuid);
    q->alarm[q->n].alarm.uuid = q->alarm[q->n].uuid;
    q->n++;
}

/* The level follows reserved as it is now, not as the caller saw it: a
 * thread that charged up to critical must not set critical after another
 * thread's free brought the device back down. Each round reads the level
 * and reserved afresh; after a change it looks once more, since a thread
 * that changed reserved meanwhile may have found the old level and left.
 * Bounded, so a storm of changes can never hold a thread here. */
void gpumem__health_change(int device, const struct gpumem_shm_device *d)
{
    for (int round = 0; round < 8; round++) {
        uint32_t cur = __atomic_load_n(&d->level, __ATOMIC_SEQ_CST);
        uint64_t reserved = __atomic_load_n(&d->reserved_bytes, __ATOMIC_SEQ_CST);
        gpumem_level_t next = gpumem__level_next(&limits[device], (gpumem_level_t)cur, reserved);
        if (next == cur) return;
        if (!gpumem__seg_level_claim(d, cur, (uint32_t)next)) continue;
        uint64_t now = gpumem__os_now_ns();
        uint64_t total = __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED);
        gpumem__seg_transition(device, d, next, cur, reserved, now);
        log_transition(device, next, reserved, total);
        gpumem_alarm_t a = {
            .device_id = device,
            .uuid = d->uuid,
            .reserved_bytes = reserved,
            .total_bytes = total,
            .percent = total ? (double)reserved * 100.0 / (double)total : 0.0,
            .level = next,
            .previous_level = (gpumem_level_t)cur,
        };
        queue(&a);
    }
}
