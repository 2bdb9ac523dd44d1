/*
 * headroom - simulated jobs on the stand-in (1000 MiB devices) under the
 * shim, reading the headroom the shim publishes in its own segment
 * (/dev/shm/<GPUMEM_SHM_PREFIX>.<pid>) after each step. One line per step:
 *   step N request MIB ok|oom free MIB largest MIB risk unknown|ok|at_risk samples N
 *   headroom grow     caching-allocator-like growth: segments of 100 and
 *                     120 MiB kept, one after another, until the driver
 *                     refuses one
 *   headroom paced    the same, one step every 110 ms (a training step)
 *   headroom steady   500 MiB held, then 3000 pairs of a 100 MiB segment
 *                     allocated and freed (0.1 ms apart): never at risk
 *   headroom other    cuMemCreate on cuda:1 while cuda:0 is current: cuda:1
 *                     is never sampled (cuMemGetInfo answers for cuda:0)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cuda_decls.h"
#include "gpumem_shm.h"

static const struct gpumem_shm_segment *seg;

static void map_segment(void)
{
    char path[256];
    const char *prefix = getenv("GPUMEM_SHM_PREFIX");
    snprintf(path, sizeof path, "/dev/shm/%s.%d", prefix ? prefix : "gpumem", (int)getpid());
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    seg = mmap(NULL, sizeof *seg, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (seg == MAP_FAILED) exit(2);
}

static void report(int step, unsigned long long mib, int ok, int dev)
{
    const struct gpumem_shm_device *d = &seg->devices[dev];
    uint32_t risk = __atomic_load_n(&d->risk, __ATOMIC_RELAXED);
    printf("step %d request %llu %s free %llu largest %llu risk %s samples %llu\n", step, mib, ok ? "ok" : "oom",
           (unsigned long long)(__atomic_load_n(&d->free_bytes, __ATOMIC_RELAXED) >> 20),
           (unsigned long long)(__atomic_load_n(&d->largest_recent_request, __ATOMIC_RELAXED) >> 20),
           risk == GPUMEM_SHM_RISK_AT_RISK ? "at_risk"
           : risk == GPUMEM_SHM_RISK_OK    ? "ok"
                                           : "unknown",
           (unsigned long long)__atomic_load_n(&d->free_samples, __ATOMIC_RELAXED));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 2 || cuInit(0) != 0) return 2;
    gcu_context ctx;
    if (cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    gcu_deviceptr p;
    if (strcmp(argv[1], "grow") == 0 || strcmp(argv[1], "paced") == 0) {
        struct timespec step_time = { 0, 110000000 };
        for (int step = 1; step <= 20; step++) {
            if (argv[1][0] == 'p' && step > 1) nanosleep(&step_time, NULL);
            unsigned long long mib = step % 2 ? 100 : 120;
            int ok = cuMemAlloc_v2(&p, mib << 20) == 0;
            if (step == 1) map_segment();
            report(step, mib, ok, 0);
            if (!ok && getenv("HEADROOM_HOLD")) { /* stay, at risk, for the exporter */
                puts("holding");
                fflush(stdout);
                pause();
            }
            if (!ok) return 0;
        }
        return 3;
    }
    if (strcmp(argv[1], "steady") == 0) {
        gcu_deviceptr base;
        if (cuMemAlloc_v2(&base, 500ull << 20) != 0) return 3;
        map_segment();
        struct timespec t0, t1, pause = { 0, 100000 };
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 3000; i++) {
            if (cuMemAlloc_v2(&p, 100ull << 20) != 0 || cuMemFree_v2(p) != 0) return 3;
            if (i % 500 == 0) report(i, 100, 1, 0);
            nanosleep(&pause, NULL);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        report(3000, 100, 1, 0);
        printf("elapsed_ms %lld\n", (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
        return 0;
    }
    if (strcmp(argv[1], "ramp") == 0) { /* 2000 requests, each larger than any before */
        if (cuMemAlloc_v2(&p, 1 << 20) != 0 || cuMemFree_v2(p) != 0) return 3;
        map_segment();
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < 2000; i++)
            if (cuMemAlloc_v2(&p, (2ull << 20) + (unsigned long long)i * 4096) != 0 || cuMemFree_v2(p) != 0) return 3;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        report(2000, 2, 1, 0);
        printf("elapsed_ms %lld\n", (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
        return 0;
    }
    if (strcmp(argv[1], "other") == 0) {
        if (cuMemAlloc_v2(&p, 100ull << 20) != 0) return 3;
        map_segment();
        gcu_mem_allocation_prop prop;
        memset(&prop, 0, sizeof prop);
        prop.type = 1;
        prop.location.type = GCU_MEM_LOCATION_TYPE_DEVICE;
        prop.location.id = 1;
        gcu_mem_handle h;
        if (cuMemCreate(&h, 950ull << 20, &prop, 0) != 0) return 3;
        report(1, 950, 1, 1);
        report(1, 100, 1, 0);
        return 0;
    }
    return 2;
}
