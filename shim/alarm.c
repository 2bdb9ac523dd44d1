/*
 * alarm.c - see alarm.h. Callbacks are registered under a lock and read
 * without one: a slot's function is published before the count that
 * covers it.
 */
#define _GNU_SOURCE
#include "alarm.h"

#include <pthread.h>

#include "compiler.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "thread.h"

#define MAX_CALLBACKS 16
static struct {
    _Atomic(gpumem_alarm_fn) fn;
    void *_Atomic user;
} callbacks[MAX_CALLBACKS];
static atomic_int ncallbacks;
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

static void deliver(const gpumem_alarm_t *a)
{
    int n = atomic_load_explicit(&ncallbacks, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        gpumem_alarm_fn fn = atomic_load_explicit(&callbacks[i].fn, memory_order_acquire);
        if (fn) fn(a, atomic_load_explicit(&callbacks[i].user, memory_order_relaxed));
    }
}

/* GPUMEM_SIGNAL: raised for a change up into the chosen level or above,
 * once per change, after the callbacks, still after the CUDA call returned.
 * Never when the program has no handler of its own for it: the default
 * action would end (or stop) the job, and an ignored signal is pointless.
 * Checked at each change, since a program may install its handler late. */
static atomic_int signal_warned;
static void raise_signal(const gpumem_alarm_t *a)
{
    int sig = gpumem__opt.signal;
    if (!sig || a->level <= a->previous_level || (unsigned)a->level < gpumem__opt.signal_level) return;
    if (gpumem__os_signal_handled(sig)) {
        gpumem__os_raise(sig);
        return;
    }
    if (!atomic_exchange(&signal_warned, 1))
        gpumem__log("GPUMEM_SIGNAL: signal %d not raised for cuda:%d: the program has no handler installed for it "
                    "(said once)",
                    sig, a->device_id);
}

void gpumem__alarm_deliver(void)
{
    struct gpumem_thread *th = &gpumem__thread;
    struct gpumem_alarm_queue *q = &gpumem__alarms;
    if (th->in_alarm || th->runtime_api || q->n == 0) return;
    th->in_alarm = 1;
    /* Callbacks may queue more while this runs: take them in order. */
    for (int i = 0; i < q->n; i++) {
        deliver(&q->alarm[i].alarm);
        raise_signal(&q->alarm[i].alarm);
    }
    q->n = 0;
    th->in_alarm = 0;
}

/* fork(): no thread may hold the registration lock while the child is made. */
void gpumem__alarm_before_fork(void) { pthread_mutex_lock(&register_lock); }
void gpumem__alarm_after_fork(void) { pthread_mutex_unlock(&register_lock); }

GPUMEM_EXPORT int gpumem_on_alarm(gpumem_alarm_fn fn, void *user)
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
    atomic_store_explicit(&gpumem__alarms_wanted, 1, memory_order_release);
    pthread_mutex_unlock(&register_lock);
    return GPUMEM_OK;
}
