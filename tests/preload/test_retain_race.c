/* The last cuDevicePrimaryCtxRelease destroys the primary context; before
 * the shim asks cuDevicePrimaryCtxGetState, another thread retains the
 * device's primary context again (a new one): "active", so no sweep, and
 * what the old context held stays charged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "gpumem.h"
typedef unsigned int R;
typedef uint64_t P;
typedef void *C;
static R (*Init)(unsigned), (*Retain)(C *, int), (*Release)(int), (*CtxSet)(C), (*Alloc)(P *, size_t);
static uint64_t (*used)(int);
static void (**before_state)(int);
static void *other(void *u)
{
    C c;
    (void)u;
    return (void *)(uintptr_t)Retain(&c, 0);
}
static void hook(int dev)
{
    (void)dev;
    *before_state = NULL;
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    pthread_join(t, NULL);
}
static void show(const char *when)
{
    gpumem_device_stats_t s;
    gpumem_device_stats(0, &s);
    printf("%-30s shim reserved %8llu  driver used %8llu\n", when, (unsigned long long)s.reserved_bytes,
           (unsigned long long)used(0));
}
int main(void)
{
    void *h = dlopen(getenv("SLOW_DRIVER"), RTLD_NOW);
    if (!h) {
        fprintf(stderr, "no SLOW_DRIVER\n");
        return 1;
    }
#define GET(v, n) *(void **)&v = dlsym(h, n)
    GET(Alloc, "cuMemAlloc_v2");
    GET(Release, "cuDevicePrimaryCtxRelease_v2");
    GET(Retain, "cuDevicePrimaryCtxRetain");
    GET(Init, "cuInit");
    GET(CtxSet, "cuCtxSetCurrent");
    GET(used, "fake_cuda_used_bytes");
    GET(before_state, "slow_before_state");
    C c;
    P p;
    Init(0);
    Retain(&c, 0);
    CtxSet(c);
    Alloc(&p, 3 << 20);
    show("3 MiB in the primary context:");
    *before_state = hook;
    R r = Release(0);
    printf("last release = %u (another thread retained meanwhile)\n", r);
    show("after the release:");
    gpumem_device_stats_t s;
    gpumem_device_stats(0, &s);
    int ok = s.reserved_bytes == used(0);
    printf("%s\n", ok ? "ok" : "FAIL: the old primary context's memory stays charged");
    return ok ? 0 : 1;
}
