/*
 * real_runtime_smoke.c - a program on the real CUDA runtime (shared or
 * static), run on the stand-in driver with and without the shim: it must
 * print the same, and under the shim the bytes must be counted.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "gpumem.h"

int main(void)
{
    int n = -1;
    void *p = NULL;
    cudaError_t count = cudaGetDeviceCount(&n);
    cudaError_t alloc = cudaMalloc(&p, 3 << 20);
    cudaError_t oom = cudaMalloc(&p, (size_t)64 << 30);
    printf("cudaGetDeviceCount=%d devices=%d cudaMalloc=%d oom=%d\n", (int)count, n, (int)alloc, (int)oom);
    if (gpumem_device_stats) {
        gpumem_device_stats_t s;
        if (gpumem_device_stats(0, &s) == 0)
            fprintf(stderr, "gpumem: reserved=%llu failed=%llu\n", (unsigned long long)s.reserved_bytes,
                    (unsigned long long)s.failed_count);
        else
            fprintf(stderr, "gpumem: no device counted\n");
    }
    return 0;
}
