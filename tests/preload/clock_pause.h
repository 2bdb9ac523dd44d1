/*
 * clock_pause.h - lets a test stop a thread inside the shim at a chosen
 * point. The shim reads the clock (clock_gettime) while it books an
 * allocation: after the reserved bytes changed and before the level is
 * checked, and before a new allocation's pool slot is looked up. A test
 * program that defines clock_gettime is the first in the symbol search
 * order, so the shim's calls reach this one, which asks the test's
 * clock_pause_hook whether to wait there. Without the shim nothing here
 * runs but the real clock.
 */
#ifndef GPUMEM_TEST_CLOCK_PAUSE_H
#define GPUMEM_TEST_CLOCK_PAUSE_H
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void clock_pause_hook(void);
static __thread int in_hook;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (!in_hook) {
        in_hook = 1;
        clock_pause_hook();
        in_hook = 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}
#endif
