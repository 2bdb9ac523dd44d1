/* 8 threads x 10 000 allocations and frees: exact totals, no lost update. */
#include <pthread.h>

#include "check.h"
#include "cuda_decls.h"

#define THREADS 8
#define PER_THREAD 10000

static gcu_context ctx;
static pthread_barrier_t held, checked;
static int errors;

static void *worker(void *arg)
{
    size_t size = 256 * (size_t)((intptr_t)arg + 1);
    static __thread gcu_deviceptr ptrs[PER_THREAD];
    cuCtxSetCurrent(ctx);
    for (int i = 0; i < PER_THREAD; i++)
        if (cuMemAlloc_v2(&ptrs[i], size) != 0) __atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
    pthread_barrier_wait(&held);
    pthread_barrier_wait(&checked);
    for (int i = 0; i < PER_THREAD; i++)
        if (cuMemFree_v2(ptrs[i]) != 0) __atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    pthread_barrier_init(&held, NULL, THREADS + 1);
    pthread_barrier_init(&checked, NULL, THREADS + 1);
    for (intptr_t i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    pthread_barrier_wait(&held);
    unsigned long long expected = 0;
    for (int i = 0; i < THREADS; i++) expected += 256ull * (i + 1) * PER_THREAD;
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, expected);
        CHECK_EQ(s.reserved_bytes, fake_cuda_used_bytes(0));
        CHECK_EQ(s.alloc_count, THREADS * PER_THREAD);
    }
    pthread_barrier_wait(&checked);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(errors, 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 0);
        CHECK_EQ(s.free_count, THREADS * PER_THREAD);
        CHECK_EQ(s.peak_bytes, expected);
        CHECK_EQ(s.unknown_free_count, 0);
    }
    return check_done("threads");
}
