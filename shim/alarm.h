/*
 * alarm.h - the callbacks of gpumem_on_alarm (include/gpumem.h), run for
 * the alarms health.c queued on this thread. Every hook calls
 * gpumem__alarm_flush as it returns: a callback never runs while the shim
 * holds a lock or is inside a runtime call, so it may itself allocate,
 * free or synchronise.
 */
#ifndef GPUMEM_ALARM_H
#define GPUMEM_ALARM_H

#include "health.h"

void gpumem__alarm_deliver(void);
/* Run the callbacks of the alarms raised on this thread, unless it is
 * inside a callback or a runtime call (which flush when they end). */
static inline void gpumem__alarm_flush(void)
{
    if (GPUMEM_LIKELY(gpumem__alarms.n == 0)) return;
    gpumem__alarm_deliver();
}
void gpumem__alarm_before_fork(void);
void gpumem__alarm_after_fork(void);

#endif /* GPUMEM_ALARM_H */
