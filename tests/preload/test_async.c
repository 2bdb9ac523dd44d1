/* Stream-ordered pools through the driver: the pool's reserve is charged;
 * trim and destroy give it back; _ptsz variants count the same. */
#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    gcu_context ctx;
    gcu_mempool pool;
    gcu_deviceptr a = 0, b = 0, c = 0, d = 0;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuDeviceGetDefaultMemPool(&pool, 0), 0);
    CHECK_EQ(cuMemAllocAsync(&a, 1 * MiB, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 2 * MiB);
    CHECK_EQ(cuMemAllocAsync_ptsz(&b, 1 * MiB, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 2 * MiB);
    CHECK_EQ(cuMemAllocAsync(&c, 1 * MiB, NULL), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(0).reserved_bytes, 4 * MiB);
        CHECK_EQ(stats_of(0).reserved_bytes, fake_cuda_used_bytes(0));
    }
    CHECK_EQ(cuMemFreeAsync(a, NULL), 0);
    CHECK_EQ(cuMemFreeAsync_ptsz(b, NULL), 0);
    CHECK_EQ(cuMemFreeAsync(c, NULL), 0);
    /* Freed memory stays in the pool until it is trimmed. */
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 4 * MiB);
    CHECK_EQ(cuMemPoolTrimTo(pool, 2 * MiB), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 2 * MiB);
    CHECK_EQ(cuMemPoolTrimTo(pool, 0), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);

    /* A pool of our own, on device 1. */
    gcu_mem_pool_props props = { .allocType = 1, .location = { .type = 1, .id = 1 } };
    gcu_mempool own;
    CHECK_EQ(cuMemPoolCreate(&own, &props), 0);
    CHECK_EQ(cuMemAllocFromPoolAsync(&d, 5 * MiB, own, NULL), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(1).reserved_bytes, 6 * MiB);
        CHECK_EQ(stats_of(0).reserved_bytes, 0);
    }
    /* Out of memory in a pool. */
    gcu_deviceptr e = 0;
    CHECK_EQ(cuMemAllocFromPoolAsync(&e, 17 * GiB, own, NULL), 2);
    CHECK_EQ(cuMemFreeAsync(d, NULL), 0);
    CHECK_EQ(cuMemPoolDestroy(own), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(1);
        CHECK_EQ(s.reserved_bytes, 0);
        CHECK_EQ(s.failed_count, 1);
        CHECK_EQ(s.peak_bytes, 6 * MiB);
        CHECK_EQ(stats_of(0).alloc_count, 3);
        CHECK_EQ(stats_of(0).free_count, 3);
    }
    CHECK_EQ(cuMemFreeAsync(d, NULL), 1);

    /* A pool destroyed while an allocation is live, and a new pool that may
     * take its slot: the late free neither charges nor uncharges the new one. */
    gcu_mempool gone, next;
    gcu_deviceptr x = 0, y = 0;
    CHECK_EQ(cuMemPoolCreate(&gone, &props), 0);
    CHECK_EQ(cuMemAllocFromPoolAsync(&x, 3 * MiB, gone, NULL), 0);
    CHECK_EQ(cuMemPoolDestroy(gone), 0);
    CHECK_EQ(cuMemPoolCreate(&next, &props), 0);
    CHECK_EQ(cuMemAllocFromPoolAsync(&y, 1 * MiB, next, NULL), 0);
    CHECK_EQ(cuMemFreeAsync(x, NULL), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(1).reserved_bytes, 2 * MiB);
        CHECK_EQ(stats_of(1).reserved_bytes, fake_cuda_used_bytes(1));
    }
    CHECK_EQ(cuMemFreeAsync(y, NULL), 0);
    CHECK_EQ(cuMemPoolDestroy(next), 0);
    if (SHIM) CHECK_EQ(stats_of(1).reserved_bytes, 0);
    return check_done("async");
}
