/*
 * real_cudart_on_stand_in.c - a program on the real CUDA runtime (shared or
 * static), run on the stand-in driver with and without the shim.
 *
 * stdout: which runtime and driver this process really has mapped (from
 * /proc/self/maps, symlinks resolved by the kernel; "static" when no
 * libcudart is mapped, i.e. the runtime is linked in), then what the runtime
 * returned. The exit status is cudaMalloc's result, so that the caller can
 * compare it too. The real runtime refuses the stand-in driver, so these are
 * its errors, not allocations. Under the shim its counters for cuda:0 go to
 * stderr: the script checks that they agree with what the runtime did.
 *
 * The program opens libcuda.so.1 itself before the first CUDA call and keeps
 * it: the real runtime unloads the driver it refused, which would leave
 * nothing in the maps to check. Its own dlopen("libcuda.so.1") then returns
 * this same object (one object per soname), so the driver mapped here is the
 * one the runtime used.
 */
#define _GNU_SOURCE
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "gpumem.h"

/* Print the distinct mapped files whose name starts with prefix, space
 * separated, or `none` when there is none. */
static void print_mapped(const char *label, const char *prefix, const char *none)
{
    char seen[8][4096];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (f) {
        char line[4096 + 256];
        while (fgets(line, sizeof line, f)) {
            char *path = strchr(line, '/');
            if (!path) continue;
            path[strcspn(path, "\n")] = '\0';
            const char *base = strrchr(path, '/') + 1;
            if (strncmp(base, prefix, strlen(prefix)) != 0) continue;
            int dup = 0;
            for (int i = 0; i < n; i++) dup |= strcmp(seen[i], path) == 0;
            if (!dup && n < 8) snprintf(seen[n++], sizeof seen[0], "%s", path);
        }
        fclose(f);
    } else {
        none = "unreadable";
    }
    printf("%s=", label);
    if (n == 0) printf("%s", none);
    for (int i = 0; i < n; i++) printf("%s%s", i ? " " : "", seen[i]);
    printf("\n");
}

int main(void)
{
    int n = -1;
    void *p = NULL;
    void *driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver) printf("dlopen libcuda.so.1: %s\n", dlerror());
    cudaError_t count = cudaGetDeviceCount(&n);
    cudaError_t alloc = cudaMalloc(&p, 3 << 20);
    cudaError_t oom = cudaMalloc(&p, (size_t)64 << 30);
    print_mapped("libcudart", "libcudart", "static");
    print_mapped("libcuda", "libcuda.so", "none");
    printf("cudaGetDeviceCount=%d devices=%d cudaMalloc=%d oom=%d\n", (int)count, n, (int)alloc, (int)oom);
    if (gpumem_device_stats) {
        gpumem_device_stats_t s;
        if (gpumem_device_stats(0, &s) == 0)
            fprintf(stderr, "gpumem: reserved=%llu failed=%llu\n", (unsigned long long)s.reserved_bytes,
                    (unsigned long long)s.failed_count);
        else fprintf(stderr, "gpumem: no device counted\n");
    }
    return (int)alloc & 0xff;
}
