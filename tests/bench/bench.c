/*
 * bench - what an allocation costs on the stand-in CUDA, with or without
 * the shim (scripts/bench runs it both ways and compares).
 *
 *   bench [--quick] [--only NAME[,NAME...]]
 *                     every measurement (or those named): "name median_ns p25_ns p75_ns"
 *   bench startup     cuInit, a context and one allocation, then exit
 *   bench latency     ns per dependent load at random over 1, 4, 16 and 64 MiB:
 *                     this machine's cache sizes, which the frees among many
 *                     live allocations run into
 *   bench --pairs N   N driver pairs and nothing else (for callgrind)
 *
 * Each figure is the median of REPS timed runs of ITERS operations, with the
 * interquartile range as the spread.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda_decls.h"

static int reps = 21, iters = 20000;
static gcu_context ctx;
static const char *only; /* --only NAME[,NAME...]: those measurements alone */

static int wanted(const char *name)
{
    size_t n = strlen(name);
    for (const char *p = only; p; p = strchr(p, ',')) {
        if (*p == ',') p++;
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0)) return 1;
    }
    return !only;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *samples, int n)
{
    qsort(samples, (size_t)n, sizeof *samples, cmp_double);
    printf("%-28s %9.1f %9.1f %9.1f\n", name, samples[n / 2], samples[n / 4], samples[(3 * n) / 4]);
    fflush(stdout);
}

typedef void (*pair_fn)(int iters);

static gcu_cuMemAlloc_v2_fn gpa_alloc;
static gcu_cuMemFree_v2_fn gpa_free;

static void pair_driver(int n)
{
    gcu_deviceptr p;
    for (int i = 0; i < n; i++) {
        cuMemAlloc_v2(&p, 4096);
        cuMemFree_v2(p);
    }
}

static void pair_procaddress(int n)
{
    gcu_deviceptr p;
    for (int i = 0; i < n; i++) {
        gpa_alloc(&p, 4096);
        gpa_free(p);
    }
}

static void pair_runtime(int n)
{
    void *p;
    for (int i = 0; i < n; i++) {
        cudaMalloc(&p, 4096);
        cudaFree(p);
    }
}

static void pair_async(int n)
{
    gcu_deviceptr p;
    for (int i = 0; i < n; i++) {
        cuMemAllocAsync(&p, 4096, NULL);
        cuMemFreeAsync(p, NULL);
    }
}

static void pair_vmm(int n)
{
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    gcu_mem_handle h;
    for (int i = 0; i < n; i++) {
        cuMemCreate(&h, 2 << 20, &prop, 0);
        cuMemRelease(h);
    }
}

static void measure(const char *name, pair_fn fn)
{
    if (!wanted(name)) return;
    double *s = malloc(sizeof *s * (size_t)reps);
    fn(iters / 10); /* warm up */
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        fn(iters);
        s[r] = (now_ns() - t0) / iters;
    }
    report(name, s, reps);
    free(s);
}

/* Two threads, each doing pairs: ns per pair of the whole (wall / total). */
static pair_fn threaded_fn;
static void *thread_body(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    threaded_fn(iters);
    return NULL;
}

static void measure_threads(const char *name, pair_fn fn, int nthreads)
{
    if (!wanted(name)) return;
    double *s = malloc(sizeof *s * (size_t)reps);
    threaded_fn = fn;
    for (int r = 0; r < reps; r++) {
        pthread_t t[8];
        double t0 = now_ns();
        for (int i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, thread_body, NULL);
        for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
        s[r] = (now_ns() - t0) / ((double)iters * nthreads);
    }
    report(name, s, reps);
    free(s);
}

/* Pairs measured while n other allocations are held. */
static void measure_live(const char *name, int live)
{
    if (!wanted(name)) return;
    gcu_deviceptr *held = malloc(sizeof *held * (size_t)live);
    for (int i = 0; i < live; i++) cuMemAlloc_v2(&held[i], 4096);
    measure(name, pair_driver);
    for (int i = 0; i < live; i++) cuMemFree_v2(held[i]);
    free(held);
}

/* The free alone: ns per cuMemFree of a random one among n live
 * allocations (each freed one is allocated again, untimed). */
static void measure_free(const char *name, int live)
{
    if (!wanted(name)) return;
    gcu_deviceptr *held = malloc(sizeof *held * (size_t)live);
    int batch = live < 1000 ? live : 1000;
    int *pick = malloc(sizeof *pick * (size_t)batch);
    double *s = malloc(sizeof *s * (size_t)reps);
    unsigned seed = 42;
    for (int i = 0; i < live; i++) cuMemAlloc_v2(&held[i], 4096);
    for (int r = 0; r < reps; r++) {
        double total = 0;
        long frees = 0;
        while (frees < iters) {
            /* batch distinct random slots */
            for (int k = 0; k < batch; k++) pick[k] = k < live ? (int)(rand_r(&seed) % (unsigned)live) : k;
            for (int k = 0; k < batch; k++) /* de-duplicate: one free per slot */
                for (int j = 0; j < k; j++)
                    if (pick[j] == pick[k]) {
                        pick[k] = -1;
                        break;
                    }
            double t0 = now_ns();
            int n = 0;
            for (int k = 0; k < batch; k++)
                if (pick[k] >= 0) {
                    cuMemFree_v2(held[pick[k]]);
                    n++;
                }
            total += now_ns() - t0;
            frees += n;
            for (int k = 0; k < batch; k++)
                if (pick[k] >= 0) cuMemAlloc_v2(&held[pick[k]], 4096);
        }
        s[r] = total / (double)frees;
    }
    report(name, s, reps);
    for (int i = 0; i < live; i++) cuMemFree_v2(held[i]);
    free(held);
    free(pick);
    free(s);
}

static volatile size_t latency_sink; /* keeps the walk from being optimised away */

/* A random cyclic walk through mib MiB, one load per 64-byte line: each
 * load waits for the one before, so time per load is the memory latency. */
static void measure_latency(int mib)
{
    size_t lines = (size_t)mib << 14, stride = 64 / sizeof(size_t);
    size_t *mem = malloc(lines * 64), *order = malloc(lines * sizeof *order);
    if (!mem || !order) {
        free(mem);
        free(order);
        return;
    }
    unsigned seed = 7;
    for (size_t i = 0; i < lines; i++) order[i] = i;
    for (size_t i = lines - 1; i > 0; i--) {
        size_t j = (((size_t)rand_r(&seed) << 16) ^ (size_t)rand_r(&seed)) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < lines; i++) mem[order[i] * stride] = order[(i + 1) % lines] * stride;
    double *s = malloc(sizeof *s * (size_t)reps);
    size_t at = 0, loads = 200000;
    for (int r = 0; r < reps; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < loads; i++) at = mem[at];
        s[r] = (now_ns() - t0) / (double)loads;
    }
    latency_sink = at;
    char name[32];
    snprintf(name, sizeof name, "load_latency_%dMiB", mib);
    report(name, s, reps);
    free(s);
    free(order);
    free(mem);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "latency") == 0) {
        for (int mib = 1; mib <= 64; mib *= 4) measure_latency(mib);
        return 0;
    }
    if (cuInit(0) != 0 || cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    if (argc > 1 && strcmp(argv[1], "startup") == 0) {
        gcu_deviceptr p;
        return cuMemAlloc_v2(&p, 4096) == 0 ? 0 : 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            reps = 3;
            iters = 2000;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only = argv[++i];
        }
    }
    if (argc > 2 && strcmp(argv[1], "--pairs") == 0) {
        /* A fixed workload for instruction counts (callgrind). */
        pair_driver(atoi(argv[2]));
        return 0;
    }
    void *h = dlopen("libcuda.so.1", RTLD_NOW);
    gcu_cuGetProcAddress_v2_fn gpa = h ? (gcu_cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2") : NULL;
    if (!gpa || gpa("cuMemAlloc", (void **)&gpa_alloc, 3020, 0, NULL) ||
        gpa("cuMemFree", (void **)&gpa_free, 3020, 0, NULL))
        return 3;
    cudaSetDevice(0);
    printf("%-28s %9s %9s %9s\n", "# ns per alloc+free pair", "median", "p25", "p75");
    measure("driver", pair_driver);
    measure("cuGetProcAddress", pair_procaddress);
    measure("runtime", pair_runtime);
    measure("async", pair_async);
    measure("vmm", pair_vmm);
    measure_threads("driver_2_threads", pair_driver, 2);
    measure_live("pair_among_10_live", 10);
    measure_live("pair_among_10000_live", 10000);
    measure_live("pair_among_100000_live", 100000);
    measure_free("free_among_10_live", 10);
    measure_free("free_among_10000_live", 10000);
    measure_free("free_among_100000_live", 100000);
    return 0;
}
