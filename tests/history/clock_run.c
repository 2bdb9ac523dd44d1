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
 *   clock_run oom_threads  64 MiB, then a second apart: 1 MiB on thread A,
 *                     2 and 3 MiB on thread B, 4 MiB on A, 64 GiB on B
 *                     (refused); each thread claims event slots 8 at a time
 * All exit normally (run them with GPUMEM_KEEP=1 to read the segment).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
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

/* Two threads, each doing the steps given to it, one step at a time. */
static gcu_context shared_ctx;
static sem_t go[2], done;
static uint64_t step_mib[2];

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    cuCtxSetCurrent(shared_ctx);
    for (;;) {
        sem_wait(&go[me]);
        if (step_mib[me] == 0) return NULL;
        gcu_deviceptr p;
        cuMemAlloc_v2(&p, step_mib[me] * MIB);
        sem_post(&done);
    }
}

static void step(int thread, uint64_t mib)
{
    pass(S);
    step_mib[thread] = mib;
    sem_post(&go[thread]);
    sem_wait(&done);
}

static int threads(void)
{
    pthread_t t[2];
    sem_init(&done, 0, 0);
    for (int i = 0; i < 2; i++) {
        sem_init(&go[i], 0, 0);
        if (pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) != 0) return 3;
    }
    step(0, 1);
    step(1, 2);
    step(1, 3);
    step(0, 4);
    step(1, 64 << 10);
    for (int i = 0; i < 2; i++) {
        step_mib[i] = 0;
        sem_post(&go[i]);
        pthread_join(t[i], NULL);
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    gcu_context ctx;
    gcu_deviceptr a, b, c;
    if (argc != 2 || cuInit(0) != 0 || cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    if (cuMemAlloc_v2(&a, 64 * MIB) != 0) return 3;
    shared_ctx = ctx;
    if (strcmp(argv[1], "oom_threads") == 0) return threads();
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
