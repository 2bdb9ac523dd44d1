/*
 * init.c - the shim's lifecycle in one place: what happens at load, around
 * fork() and at a normal exit. Every module below exposes its part; only
 * this file knows the order.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "alarm.h"
#include "counters.h"
#include "devices.h"
#include "driver.h"
#include "options.h"
#include "pools.h"
#include "postmortem.h"
#include "segment_write.h"
#include "traces.h"

/* Every lock of the shim is held across fork(), taken in one order (the
 * report lock first: a report takes ledger locks while holding it), so the
 * child never inherits a lock that another thread held; both sides then
 * release them. The child, being the thread that took them, may unlock. */
static void before_fork(void)
{
    gpumem__postmortem_before_fork();
    gpumem__alarm_before_fork();
    gpumem__segment_before_fork();
    gpumem__counters_before_fork();
}

static void after_fork_parent(void)
{
    gpumem__counters_after_fork_parent();
    gpumem__segment_after_fork_parent();
    gpumem__alarm_after_fork();
    gpumem__postmortem_after_fork();
}

/* The child of fork() starts with counters of its own: nothing it inherited
 * belongs to it (CUDA does not survive fork). */
static void after_fork_child(void)
{
    gpumem__counters_after_fork_child();
    gpumem__pools_after_fork_child();
    gpumem__devices_after_fork_child();
    gpumem__segment_after_fork_child();
    gpumem__alarm_after_fork();
    gpumem__postmortem_after_fork();
}

/* First of the shim's constructors: the real dlsym and, for a program
 * linked with -lcuda, the driver, while the process has one thread. */
__attribute__((constructor(101))) static void shim_load(void)
{
    gpumem__driver_init();
    gpumem__options_load();
    gpumem__traces_init(gpumem__opt.backtrace);
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Normal exit: remove the segment unless GPUMEM_KEEP=1. */
__attribute__((destructor)) static void shim_exit(void)
{
    int saved = errno;
    gpumem__segment_exit();
    errno = saved;
}
