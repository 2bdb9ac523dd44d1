/* Two threads allocate and free the same sizes while the driver hands every
 * freed address (or handle) straight to the next allocation, as real drivers
 * do: a free's book-keeping must never remove the other thread's new entry.
 * Exact totals and no unknown free after 10^6 pairs of each kind. */
#include <pthread.h>

#include "check.h"
#include "cuda_decls.h"

#define THREADS 2
static long pairs = 500000; /* per thread; GPUMEM_TEST_PAIRS overrides */
static gcu_context ctx;
static int errors;

enum mode { PLAIN, VMM, ASYNC };

static void *worker(void *arg)
{
    enum mode mode = (enum mode)(intptr_t)arg;
    cuCtxSetCurrent(ctx);
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    for (long i = 0; i < pairs; i++) {
        gcu_deviceptr p = 0;
        gcu_mem_handle h = 0;
        gcu_result a, f;
        switch (mode) {
        case PLAIN:
            a = cuMemAlloc_v2(&p, 1 * MiB);
            f = a ? 0 : cuMemFree_v2(p);
            break;
        case VMM:
            a = cuMemCreate(&h, 2 * MiB, &prop, 0);
            f = a ? 0 : cuMemRelease(h);
            break;
        default:
            a = cuMemAllocAsync(&p, 1 * MiB, NULL);
            f = a ? 0 : cuMemFreeAsync(p, NULL);
            break;
        }
        if (a || f) __atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void run(enum mode mode)
{
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)mode);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
}

int main(void)
{
    if (getenv("GPUMEM_TEST_PAIRS")) pairs = atol(getenv("GPUMEM_TEST_PAIRS"));
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    unsigned long long n = 0;
    for (enum mode mode = PLAIN; mode <= ASYNC; mode++) {
        run(mode);
        n += THREADS * (unsigned long long)pairs;
        CHECK_EQ(errors, 0);
        if (mode == ASYNC) {
            gcu_mempool pool;
            CHECK_EQ(cuDeviceGetDefaultMemPool(&pool, 0), 0);
            CHECK_EQ(cuMemPoolTrimTo(pool, 0), 0);
        }
        if (SHIM) {
            gpumem_device_stats_t s = stats_of(0);
            fprintf(stderr, "mode %d: reserved %llu allocs %llu frees %llu unknown %llu\n", mode,
                    (unsigned long long)s.reserved_bytes, (unsigned long long)s.alloc_count,
                    (unsigned long long)s.free_count, (unsigned long long)s.unknown_free_count);
            CHECK_EQ(s.reserved_bytes, 0);
            CHECK_EQ(s.reserved_bytes, fake_cuda_used_bytes(0));
            CHECK_EQ(s.alloc_count, n);
            CHECK_EQ(s.free_count, n);
            CHECK_EQ(s.unknown_free_count, 0);
        }
    }
    return check_done("reuse");
}
