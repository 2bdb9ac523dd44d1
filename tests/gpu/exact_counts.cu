// exact_counts.cu - plain CUDA C under the shim, built with nvcc's default
// static runtime and with -cudart shared: the shim's reserved bytes equal
// the sum of cudaMalloc sizes, and return to the baseline after the frees.
#include <cstdio>
#include <thread>
#include <cuda_runtime.h>
#include "gpumem.h"

static gpumem_device_stats_t stats()
{
    gpumem_device_stats_t s = {};
    if (gpumem_device_stats) gpumem_device_stats(0, &s);
    return s;
}
static unsigned long long reserved() { return stats().reserved_bytes; }

// Two threads allocate and free the same sizes: the driver reuses each freed
// address at once, for the other thread too.
static void pairs(int *failed)
{
    cudaSetDevice(0);
    for (int i = 0; i < 5000; i++) {
        void *q;
        if (cudaMalloc(&q, 1 << 20) != cudaSuccess || cudaFree(q) != cudaSuccess) ++*failed;
    }
}

__global__ void touch(char *p) { p[threadIdx.x] = 1; }

int main()
{
    cudaFree(0); // context
    unsigned long long base = reserved();
    const size_t sizes[] = {1 << 20, 3 << 20, 100 << 20, 12345};
    void *p[4];
    unsigned long long sum = 0;
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        if (cudaMalloc(&p[i], sizes[i]) != cudaSuccess) return 2;
        sum += sizes[i];
        touch<<<1, 32>>>((char *)p[i]);
        unsigned long long r = reserved() - base;
        printf("ROW %s cudaMalloc %d | %llu | %llu | %s\n", RUNTIME, i + 1, sum, r, r == sum ? "ok" : "FAIL");
        ok &= r == sum;
    }
    cudaDeviceSynchronize();
    for (int i = 0; i < 4; i++) cudaFree(p[i]);
    unsigned long long r = reserved() - base;
    printf("ROW %s after frees | 0 | %llu | %s\n", RUNTIME, r, r == 0 ? "ok" : "FAIL");
    ok &= r == 0;
    printf("ROW %s baseline before first cudaMalloc | (shown) | %llu | info\n", RUNTIME, base);

    int failed[2] = {0, 0};
    unsigned long long unknown = stats().unknown_free_count;
    std::thread a(pairs, &failed[0]), b(pairs, &failed[1]);
    a.join();
    b.join();
    r = reserved() - base;
    unknown = stats().unknown_free_count - unknown;
    printf("ROW %s 2 threads x 5000 same-size pairs | 0, 0 unknown | %llu, %llu unknown | %s\n", RUNTIME, r, unknown,
           r == 0 && unknown == 0 && !failed[0] && !failed[1] ? "ok" : "FAIL");
    ok &= r == 0 && unknown == 0;

    void *held;
    if (cudaMalloc(&held, 5 << 20) != cudaSuccess) return 2;
    cudaDeviceReset(); // frees every allocation of the primary context
    r = reserved();
    printf("ROW %s cudaDeviceReset with 5 MiB held | 0 | %llu | %s\n", RUNTIME, r, r == 0 ? "ok" : "FAIL");
    ok &= r == 0;
    return ok ? 0 : 1;
}
