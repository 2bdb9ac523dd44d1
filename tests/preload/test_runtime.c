/* The stand-in runtime, shared (libcudart.so.13) or static (linked in):
 * every byte counted exactly once, whichever layers it crosses. */
#include <dlfcn.h>

#include "check.h"
#include "cuda_decls.h"

gcu_rt_error cudaDeviceSynchronize(void);
gcu_rt_error cudaStreamSynchronize(gcu_stream);
gcu_rt_error cudaDeviceReset(void);

#ifndef RUNTIME_NAME
#define RUNTIME_NAME "runtime"
#endif

int main(void)
{
    void *p = NULL, *q = NULL, *m = NULL, *big = NULL;
    size_t pitch = 0;
    CHECK_EQ(cudaSetDevice(0), 0);
    CHECK_EQ(cudaMalloc(&p, 10 * MiB), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 10 * MiB);
        CHECK_EQ(s.alloc_count, 1);
    }
    CHECK_EQ(cudaMallocPitch(&q, &pitch, 1000, 100), 0);
    CHECK_EQ(pitch, 1024);
    CHECK_EQ(cudaMallocManaged(&m, 1 * MiB, 1), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 10 * MiB + 102400);
        CHECK_EQ(s.managed_bytes, 1 * MiB);
        CHECK_EQ(s.alloc_count, 3);
    }
    /* Out of memory through the runtime: one failure, not two. */
    CHECK_EQ(cudaMalloc(&big, 40 * GiB), 2);
    CHECK_EQ(cudaMalloc(NULL, 10), 1);
    if (SHIM) CHECK_EQ(stats_of(0).failed_count, 1);

    /* Stream-ordered: the pool's reserve is what is charged. */
    void *a1 = NULL, *a2 = NULL;
    CHECK_EQ(cudaMallocAsync(&a1, 3 * MiB, NULL), 0);
    CHECK_EQ(cudaMallocAsync(&a2, 1 * MiB, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 10 * MiB + 102400 + 4 * MiB);
    CHECK_EQ(cudaFreeAsync(a1, NULL), 0);
    CHECK_EQ(cudaFreeAsync(a2, NULL), 0);
    gcu_mempool pool = NULL;
    CHECK_EQ(cudaDeviceGetDefaultMemPool(&pool, 0), 0);
    CHECK_EQ(cudaMemPoolTrimTo(pool, 0), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 10 * MiB + 102400);

    /* cudaGetDriverEntryPoint goes through the runtime's saved lookup. */
    void *drv_alloc = NULL, *drv_free = NULL;
    unsigned int status = 9;
    CHECK_EQ(cudaGetDriverEntryPoint("cuMemAlloc", &drv_alloc, 0, &status), 0);
    CHECK_EQ(status, 0);
    CHECK_EQ(cudaGetDriverEntryPointByVersion("cuMemFree", &drv_free, 3020, 0, &status), 0);
    gcu_deviceptr d = 0;
    CHECK_EQ(((gcu_cuMemAlloc_v2_fn)drv_alloc)(&d, 5 * MiB), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 15 * MiB + 102400);
    CHECK_EQ(((gcu_cuMemFree_v2_fn)drv_free)(d), 0);

    CHECK_EQ(cudaFree(p), 0);
    CHECK_EQ(cudaFree(q), 0);
    CHECK_EQ(cudaFree(m), 0);
    CHECK_EQ(cudaFree(NULL), 0);
    CHECK_EQ(cudaFree(p), 1); /* twice: the runtime's error */
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 0);
        CHECK_EQ(s.managed_bytes, 0);
        CHECK_EQ(s.unknown_free_count, 0);
        CHECK_EQ(s.alloc_count, 6);
        CHECK_EQ(s.free_count, 6);
        CHECK_EQ(s.peak_bytes, 14 * MiB + 102400 + 1 * MiB);
    }

    /* The runtime's synchronisations reach the driver's, where the default
     * pool gives back what it holds beyond its threshold (0). */
    CHECK_EQ(cudaMallocAsync(&p, 20 * MiB, NULL), 0);
    CHECK_EQ(cudaFreeAsync(p, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 20 * MiB);
    CHECK_EQ(cudaStreamSynchronize(NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);
    CHECK_EQ(cudaMallocAsync(&p, 2 * MiB, NULL), 0);
    CHECK_EQ(cudaFreeAsync(p, NULL), 0);
    CHECK_EQ(cudaDeviceSynchronize(), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);

    /* cudaDeviceReset frees everything of the device's primary context. */
    CHECK_EQ(cudaMalloc(&p, 3 * MiB), 0);
    CHECK_EQ(cudaMallocAsync(&q, 1 * MiB, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 5 * MiB);
    CHECK_EQ(cudaDeviceReset(), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 0);
        CHECK_EQ(s.unknown_free_count, 0);
    }
    CHECK_EQ(cudaMalloc(&p, 1 * MiB), 0); /* the runtime retains a new primary context */
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 1 * MiB);
    CHECK_EQ(cudaFree(p), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);
    return check_done(RUNTIME_NAME);
}
