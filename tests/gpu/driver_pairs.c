/* driver_pairs.c - cuMemAlloc_v2 + cuMemFree_v2 pairs on the real driver,
 * 1 and 2 threads: "ROW" lines with ns per pair (median of 7 runs). */
#include <cuda.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static CUcontext ctx;
static int iters = 2000;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *pairs(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    CUdeviceptr p;
    for (int i = 0; i < iters; i++) {
        cuMemAlloc(&p, 1 << 20);
        cuMemFree(p);
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *label = argc > 1 ? argv[1] : "?";
    CUdevice dev;
    cuInit(0);
    cuDeviceGet(&dev, 0);
    cuDevicePrimaryCtxRetain(&ctx, dev);
    cuCtxSetCurrent(ctx);
    pairs(NULL);
    for (int threads = 1; threads <= 2; threads++) {
        double s[7];
        for (int r = 0; r < 7; r++) {
            pthread_t t[2];
            double t0 = now_ns();
            for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, pairs, NULL);
            for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
            s[r] = (now_ns() - t0) / (iters * threads);
        }
        qsort(s, 7, sizeof s[0], cmp);
        printf("ROW real driver 1 MiB alloc+free, %d thread%s, ns per pair | %s | %.0f | info\n", threads,
               threads > 1 ? "s" : "", label, s[3]);
    }
    return 0;
}
