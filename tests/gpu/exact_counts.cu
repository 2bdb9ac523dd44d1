// exact_counts.cu - plain CUDA C under the shim, built with nvcc's default
// static runtime and with -cudart shared: the shim's reserved bytes equal
// the sum of cudaMalloc sizes, and return to the baseline after the frees.
#include <cstdio>
#include <cuda_runtime.h>
#include "gpumem.h"

static unsigned long long reserved()
{
    gpumem_device_stats_t s;
    if (!gpumem_device_stats || gpumem_device_stats(0, &s) != 0) return 0;
    return s.reserved_bytes;
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
    return ok ? 0 : 1;
}
