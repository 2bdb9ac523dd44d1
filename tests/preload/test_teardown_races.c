/* e2: a free claims its entry; before its driver call, another thread's
 *     cuCtxDestroy frees that memory and sweeps; the free then fails and
 *     puts the entry back: charged forever.
 * e3: a teardown finds an entry gone; before it removes it, another
 *     thread's allocation gets the same address and size (same coarse
 *     clock tick): remove_if's memcmp matches the new entry and removes it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "gpumem.h"
static int failures;
static void expect(const char *what, int ok)
{
    if (!ok) {
        printf("FAIL: %s\n", what);
        failures++;
    }
}

typedef unsigned int R;
typedef uint64_t P;
typedef void *C;
static R (*Init)(unsigned), (*CtxCreate)(C *, unsigned, int), (*CtxSet)(C), (*Alloc)(P *, size_t), (*Free)(P),
    (*Destroy)(C);
static uint64_t (*used)(int);
static void (**before_free)(P);
static void (**after_query)(P, R);
static C ctx1, ctx2;
static P p, q;
static R job_r;
static sem_t go, done;
static int job;
static void *other(void *u)
{
    (void)u;
    CtxCreate(&ctx2, 0, 0);
    for (;;) {
        sem_wait(&go);
        if (job == 1) job_r = Destroy(ctx1);
        if (job == 2) job_r = Alloc(&q, 1 << 20);
        if (job == 3) job_r = Free(q);
        sem_post(&done);
    }
    return NULL;
}
static void run(int j)
{
    job = j;
    sem_post(&go);
    sem_wait(&done);
}
static void hook_free(P x)
{
    if (x == p && job == 0) {
        *before_free = NULL;
        run(1);
    }
}
static void hook_query(P x, R r)
{
    if (x == p && r == 1) {
        *after_query = NULL;
        run(2);
    }
}
static void show(const char *when)
{
    gpumem_device_stats_t s;
    gpumem_device_stats(0, &s);
    printf("%-34s shim reserved %8llu  driver used %8llu  unknown frees %llu\n", when,
           (unsigned long long)s.reserved_bytes, (unsigned long long)used(0), (unsigned long long)s.unknown_free_count);
}
int main(int argc, char **argv)
{
    int exp = argv[1][0] - '0';
    void *h = dlopen(getenv("SLOW_DRIVER"), RTLD_NOW);
    if (!h) {
        fprintf(stderr, "no SLOW_DRIVER\n");
        return 1;
    }
#define GET(v, n) *(void **)&v = dlsym(h, n)
    GET(Alloc, "cuMemAlloc_v2");
    GET(Free, "cuMemFree_v2");
    GET(Destroy, "cuCtxDestroy_v2");
    GET(Init, "cuInit");
    GET(CtxCreate, "cuCtxCreate_v2");
    GET(CtxSet, "cuCtxSetCurrent");
    GET(used, "fake_cuda_used_bytes");
    GET(before_free, "slow_before_free");
    GET(after_query, "slow_after_query");
    sem_init(&go, 0, 0);
    sem_init(&done, 0, 0);
    Init(0);
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    CtxCreate(&ctx1, 0, 0);
    R r = Alloc(&p, 1 << 20);
    show("allocated p in ctx1:");
    if (exp == 2) {
        *before_free = hook_free;
        r = Free(p);
        printf("cuMemFree(p) = %u (ctx1 destroyed meanwhile: %u)\n", r, job_r);
        show("after the failed free:");
        gpumem_device_stats_t s;
        gpumem_device_stats(0, &s);
        expect("the figure follows the driver after a failed free", s.reserved_bytes == used(0));
    } else {
        for (int i = 0; i < 10; i++) {
            if (i) {
                CtxCreate(&ctx1, 0, 0);
                Alloc(&p, 1 << 20);
            }
            *after_query = hook_query;
            job = 0;
            r = Destroy(ctx1);
            printf("try %d: cuCtxDestroy(ctx1) = %u; other thread's alloc %s p\n", i, r,
                   q == p ? "got" : "did not get");
            show("  after teardown, other holds q:");
            {
                gpumem_device_stats_t s;
                gpumem_device_stats(0, &s);
                expect("the other thread's allocation stays charged", s.reserved_bytes == used(0));
            }
            run(3);
            show("  after other frees q:");
            gpumem_device_stats_t s;
            gpumem_device_stats(0, &s);
            expect("the figure follows the driver", s.reserved_bytes == used(0) && s.unknown_free_count == 0);
        }
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
