/* Two threads that meet a pool the shim has not seen yet (a device's
 * default pool, first used by cuMemAllocAsync) at the same moment share one
 * slot: a second slot would charge the pool's reserve twice and leak.
 * Each of 16 devices' default pools is first used by both threads at once,
 * let go from a spinning barrier (one thread per core). */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "cuda_decls.h"

#define THREADS 2
#define DEVICES 16
static gcu_context ctx[DEVICES];
static atomic_int arrived;
static pthread_barrier_t done;
static int errors;

static void *worker(void *arg)
{
    (void)arg;
    for (int d = 0; d < DEVICES; d++) {
        gcu_deviceptr p = 0;
        cuCtxSetCurrent(ctx[d]);
        atomic_fetch_add(&arrived, 1);
        while (atomic_load(&arrived) < (d + 1) * THREADS) {}
        if (cuMemAllocAsync(&p, 1 * MiB, NULL)) errors++;
        pthread_barrier_wait(&done);
        pthread_barrier_wait(&done);
        if (cuMemFreeAsync(p, NULL)) errors++;
    }
    return NULL;
}

int main(void)
{
    pthread_t t[THREADS];
    CHECK_EQ(cuInit(0), 0);
    for (int d = 0; d < DEVICES; d++) CHECK_EQ(cuCtxCreate_v2(&ctx[d], 0, d), 0);
    pthread_barrier_init(&done, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, NULL);
    int wrong = 0;
    for (int d = 0; d < DEVICES; d++) {
        pthread_barrier_wait(&done);
        if (SHIM && stats_of(d).reserved_bytes != fake_cuda_used_bytes(d)) wrong++;
        pthread_barrier_wait(&done);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    CHECK_EQ(errors, 0);
    if (SHIM) {
        fprintf(stderr, "%d devices, %d times the figure was not the pool's reserve\n", DEVICES, wrong);
        CHECK_EQ(wrong, 0);
    }
    return check_done("pool_slots");
}
