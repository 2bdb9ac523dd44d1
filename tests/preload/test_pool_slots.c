/* Threads that meet a new pool at the same moment share one slot: none is
 * leaked, so the figure stays the pool's reserve and destroying the pool
 * gives back everything it charged, round after round. The threads are
 * held inside the shim just before they look the pool up, and let go
 * together. */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "clock_pause.h"
#include "cuda_decls.h"

#define THREADS 2 /* one per core, so both run at the moment they are let go */
#define ROUNDS 200
static gcu_context ctx;
static gcu_mempool pool;
static pthread_barrier_t go, done;
static atomic_int inside; /* a spinning barrier: both threads leave it within nanoseconds */
static __thread int worker_waits; /* set for a worker's allocation */
static int errors;

static void clock_pause_hook(void)
{
    if (!worker_waits) return;
    worker_waits = 0;
    int round = atomic_fetch_add(&inside, 1) / THREADS;
    while (atomic_load(&inside) < (round + 1) * THREADS) {
    }
}

static void *worker(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    for (int i = 0; i < ROUNDS; i++) {
        gcu_deviceptr p = 0;
        pthread_barrier_wait(&go);
        worker_waits = SHIM;
        if (cuMemAllocFromPoolAsync(&p, 1 * MiB, pool, NULL)) errors++;
        worker_waits = 0;
        pthread_barrier_wait(&done);
        pthread_barrier_wait(&done);
        if (cuMemFreeAsync(p, NULL)) errors++;
        pthread_barrier_wait(&done);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    /* The shim's first use (segment, device description) happens here, not
     * while a worker waits inside it holding the segment's creation lock. */
    gcu_deviceptr first = 0;
    CHECK_EQ(cuMemAlloc_v2(&first, 1 * MiB), 0);
    CHECK_EQ(cuMemFree_v2(first), 0);
    pthread_barrier_init(&go, NULL, THREADS + 1);
    pthread_barrier_init(&done, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, NULL);
    gcu_mem_pool_props props = { .allocType = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    /* Pools that stay: the free slots are at the end of the table, where a
     * thread looking for one passes many taken ones (a wide window). */
    enum { KEPT = 56 };
    gcu_mempool kept[KEPT];
    gcu_deviceptr kept_ptr[KEPT];
    for (int i = 0; i < KEPT; i++) {
        CHECK_EQ(cuMemPoolCreate(&kept[i], &props), 0);
        CHECK_EQ(cuMemAllocFromPoolAsync(&kept_ptr[i], 1 * MiB, kept[i], NULL), 0);
    }
    int wrong = 0;
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(cuMemPoolCreate(&pool, &props), 0);
        pthread_barrier_wait(&go);
        pthread_barrier_wait(&done);
        if (SHIM && stats_of(0).reserved_bytes != fake_cuda_used_bytes(0)) wrong++;
        pthread_barrier_wait(&done);
        pthread_barrier_wait(&done);
        CHECK_EQ(cuMemPoolDestroy(pool), 0);
        if (SHIM && stats_of(0).reserved_bytes != fake_cuda_used_bytes(0)) wrong++;
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < KEPT; i++) {
        CHECK_EQ(cuMemFreeAsync(kept_ptr[i], NULL), 0);
        CHECK_EQ(cuMemPoolDestroy(kept[i]), 0);
    }
    CHECK_EQ(errors, 0);
    if (SHIM) {
        fprintf(stderr, "%d rounds, %d times the figure was not the pools' reserve\n", ROUNDS, wrong);
        CHECK_EQ(wrong, 0);
        CHECK_EQ(stats_of(0).reserved_bytes, 0);
        CHECK_EQ(fake_cuda_used_bytes(0), 0);
    }
    return check_done("pool_slots");
}
