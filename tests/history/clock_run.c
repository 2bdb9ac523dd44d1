/*
 * clock_run - a CUDA program on a clock of its own, for the history tests.
 * It defines clock_gettime, which the shim (LD_PRELOAD) then calls instead
 * of the C library's: the monotonic and the wall clock stand still but for
 * what the program moves them, so every bucket is known in advance.
 *   clock_run steps   64 MiB, a spike of 512 MiB for 10 ms, then 16 MiB
 *                     allocated and freed two seconds later
 *   clock_run idle    64 MiB, an hour without any call, the wall clock set
 *                     back a day, then 16 MiB allocated and freed
 *   clock_run oom     64 MiB, then 2.5 s later 64 GiB, which the stand-in
 *                     refuses (out of memory): a post-mortem
 *   clock_run oom_step  64 MiB, 16 MiB a second later, the wall clock set
 *                     back two seconds (an NTP step), then 64 GiB refused
 * All exit normally (run them with GPUMEM_KEEP=1 to read the segment).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cuda_decls.h"

#define S 1000000000ull
#define MIB (1ull << 20)

static uint64_t mono = 1000 * S, wall = 1800000000ull * S;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    uint64_t v;
    if (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) v = wall;
    else if (id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE) v = mono;
    else return (int)syscall(SYS_clock_gettime, id, ts);
    ts->tv_sec = (time_t)(v / S);
    ts->tv_nsec = (long)(v % S);
    return 0;
}

static void pass(uint64_t ns)
{
    mono += ns;
    wall += ns;
}

int main(int argc, char **argv)
{
    gcu_context ctx;
    gcu_deviceptr a, b, c;
    if (argc != 2 || cuInit(0) != 0 || cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    if (cuMemAlloc_v2(&a, 64 * MIB) != 0) return 3;
    if (strcmp(argv[1], "steps") == 0) {
        pass(S / 4);
        if (cuMemAlloc_v2(&b, 512 * MIB) != 0) return 3;
        pass(S / 100);
        if (cuMemFree_v2(b) != 0) return 3;
        pass(2 * S);
    } else if (strcmp(argv[1], "oom") == 0) {
        pass(2 * S + S / 2);
        if (cuMemAlloc_v2(&b, 64ull << 30) == 0) return 3;
        printf("ok\n");
        return 0;
    } else if (strcmp(argv[1], "oom_step") == 0) {
        pass(S);
        if (cuMemAlloc_v2(&b, 16 * MIB) != 0) return 3;
        pass(S / 10);
        wall -= 2 * S;
        if (cuMemAlloc_v2(&b, 64ull << 30) == 0) return 3;
        printf("ok\n");
        return 0;
    } else if (strcmp(argv[1], "idle") == 0) {
        pass(3600 * S + S / 2);
        wall -= 86400 * S;
    } else {
        return 2;
    }
    if (cuMemAlloc_v2(&c, 16 * MIB) != 0) return 3;
    pass(S / 4);
    if (cuMemFree_v2(c) != 0) return 3;
    printf("ok\n");
    return 0;
}
