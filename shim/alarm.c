/*
 * alarm.c - health levels with hysteresis, and the alarm each change raises:
 * one log line and every registered callback.
 *
 * The allocation path pays one comparison while a device is healthy and
 * below the warning bound. A change of level is claimed with a
 * compare-and-swap on the level in the segment, so each change raises
 * exactly one alarm however many threads race past the bound.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "levels.h"
#include "report.h"
#include "shim.h"

/* Bounds in bytes, per device, set once the total is known; the warning
 * bound (gpumem__warn_up, read by the inline fast path in shim.h) is
 * published last and read first, 0 meaning "total not known yet". */
static struct gpumem_limits limits[GPUMEM_SHM_DEVICE_SLOTS];
_Atomic uint64_t gpumem__warn_up[GPUMEM_SHM_DEVICE_SLOTS];

#define MAX_CALLBACKS 16
static struct { _Atomic(gpumem_alarm_fn) fn; void *_Atomic user; } callbacks[MAX_CALLBACKS];
static atomic_int ncallbacks;
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

void gpumem__alarm_limits(int device, uint64_t total)
{
    limits[device] = gpumem_limits_make(total, gpumem__opt.warn_percent, gpumem__opt.alarm_percent,
                                        gpumem__opt.hysteresis_percent);
    atomic_store_explicit(&gpumem__warn_up[device], limits[device].warn_up, memory_order_release);
}

static void log_transition(int device, gpumem_level_t level, uint64_t reserved, uint64_t total)
{
    char held[32], all[32];
    gm_format_gb(held, sizeof held, reserved);
    gm_format_gb(all, sizeof all, total);
    unsigned pct = gm_percent_whole(reserved, total);
    if (level == GPUMEM_LEVEL_CRITICAL)
        gpumem__log("CRITICAL cuda:%d %u%% %s / %s (alarm above %u%%)", device, pct, held, all, gpumem__opt.alarm_percent);
    else if (level == GPUMEM_LEVEL_WARNING)
        gpumem__log("WARNING cuda:%d %u%% %s / %s (warning from %u%%)", device, pct, held, all, gpumem__opt.warn_percent);
    else
        gpumem__log("OK cuda:%d %u%% %s / %s (back below %u%%)", device, pct, held, all,
                    gpumem__opt.warn_percent - gpumem__opt.hysteresis_percent);
}

static void record_transition(int device, gpumem_level_t level, gpumem_level_t prev, uint64_t reserved, uint64_t now)
{
    struct gpumem_shm_segment *s = gpumem__segment();
    uint64_t i = __atomic_fetch_add(&s->header.transitions_head, 1, __ATOMIC_RELAXED);
    struct gpumem_shm_transition *t = &s->transitions[i & (GPUMEM_SHM_TRANSITION_SLOTS - 1)];
    /* seq 0 while the entry changes; release stores keep that order. */
    __atomic_store_n(&t->seq, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&t->unix_ns, now, __ATOMIC_RELEASE);
    __atomic_store_n(&t->reserved_bytes, reserved, __ATOMIC_RELEASE);
    __atomic_store_n(&t->device, (int16_t)device, __ATOMIC_RELEASE);
    __atomic_store_n(&t->level, (uint8_t)level, __ATOMIC_RELEASE);
    __atomic_store_n(&t->previous_level, (uint8_t)prev, __ATOMIC_RELEASE);
    __atomic_store_n(&t->seq, i + 1, __ATOMIC_RELEASE);
}

/* Alarms wait here while the thread is inside a callback (so a callback
 * that allocates never re-enters itself) or inside a runtime call (so the
 * callback runs after the runtime returned, never inside it). */
#define PENDING 8
static __thread struct { gpumem_alarm_t alarm; char uuid[48]; } pending[PENDING];
static __thread int npending;

static void deliver(const gpumem_alarm_t *a)
{
    int n = atomic_load_explicit(&ncallbacks, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        gpumem_alarm_fn fn = atomic_load_explicit(&callbacks[i].fn, memory_order_acquire);
        if (fn) fn(a, atomic_load_explicit(&callbacks[i].user, memory_order_relaxed));
    }
}

void gpumem__alarm_flush(void)
{
    struct gpumem_thread *th = &gpumem__thread;
    if (th->in_alarm || th->runtime_api || th->defer_alarms || npending == 0) return;
    th->in_alarm = 1;
    /* Callbacks may queue more while this runs: take them in order. */
    for (int i = 0; i < npending; i++) deliver(&pending[i].alarm);
    npending = 0;
    th->in_alarm = 0;
}

static void raise_alarm(const gpumem_alarm_t *a)
{
    if (atomic_load_explicit(&ncallbacks, memory_order_acquire) == 0) return;
    if (npending < PENDING) {
        pending[npending].alarm = *a;
        memcpy(pending[npending].uuid, a->uuid, sizeof pending[npending].uuid);
        pending[npending].alarm.uuid = pending[npending].uuid;
        npending++;
    }
    gpumem__alarm_flush();
}

/* The level follows reserved as it is now, not as the caller saw it: a
 * thread that charged up to critical must not set critical after another
 * thread's free brought the device back down. Each round reads the level
 * and reserved afresh; after a change it looks once more, since a thread
 * that changed reserved meanwhile may have found the old level and left.
 * Bounded, so a storm of changes can never hold a thread here. */
void gpumem__level_change(int device, struct gpumem_shm_device *d)
{
    for (int round = 0; round < 8; round++) {
        uint32_t cur = __atomic_load_n(&d->level, __ATOMIC_SEQ_CST);
        uint64_t reserved = __atomic_load_n(&d->reserved_bytes, __ATOMIC_SEQ_CST);
        gpumem_level_t next = gpumem_level_next(&limits[device], (gpumem_level_t)cur, reserved);
        if (next == cur) return;
        if (!__atomic_compare_exchange_n(&d->level, &cur, (uint32_t)next, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            continue;
        uint64_t now = gpumem__now_ns();
        uint64_t total = __atomic_load_n(&d->total_bytes, __ATOMIC_RELAXED);
        __atomic_fetch_add(&d->alarm_count, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&d->last_transition_unix_ns, now, __ATOMIC_RELAXED);
        record_transition(device, next, (gpumem_level_t)cur, reserved, now);
        log_transition(device, next, reserved, total);
        gpumem_alarm_t a = {
            .device_id = device, .uuid = d->uuid, .reserved_bytes = reserved, .total_bytes = total,
            .percent = total ? (double)reserved * 100.0 / (double)total : 0.0,
            .level = next, .previous_level = (gpumem_level_t)cur,
        };
        raise_alarm(&a);
    }
}

/* fork(): no thread may hold the registration lock while the child is made. */
void gpumem__alarm_before_fork(void) { pthread_mutex_lock(&register_lock); }
void gpumem__alarm_after_fork(void) { pthread_mutex_unlock(&register_lock); }

GM_EXPORT int gpumem_on_alarm(gpumem_alarm_fn fn, void *user)
{
    if (!fn) return GPUMEM_EINVAL;
    pthread_mutex_lock(&register_lock);
    int n = atomic_load(&ncallbacks);
    if (n >= MAX_CALLBACKS) {
        pthread_mutex_unlock(&register_lock);
        return GPUMEM_EFULL;
    }
    atomic_store_explicit(&callbacks[n].user, user, memory_order_relaxed);
    atomic_store_explicit(&callbacks[n].fn, fn, memory_order_release);
    atomic_store_explicit(&ncallbacks, n + 1, memory_order_release);
    pthread_mutex_unlock(&register_lock);
    return GPUMEM_OK;
}
