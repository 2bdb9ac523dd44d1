/*
 * null_shim.c - the control for the 2-thread measurement: a preload that
 * wraps cuMemAlloc_v2 and cuMemFree_v2 like gpumem does, but only burns
 * GPUMEM_NULL_WORK steps of arithmetic on its own stack after each call. It
 * shares no memory between threads, so what it costs two threads beyond
 * what it costs one is the stand-in driver's, not a shim's.
 *
 *   GPUMEM_NULL_WORK=20 LD_PRELOAD=libnullshim.so bench --only driver_2_threads
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

typedef int (*alloc_fn)(uint64_t *, size_t);
typedef int (*free_fn)(uint64_t);

static alloc_fn real_alloc;
static free_fn real_free;
static int work;

__attribute__((constructor)) static void load(void)
{
    const char *s = getenv("GPUMEM_NULL_WORK");
    work = s ? atoi(s) : 0;
    real_alloc = (alloc_fn)dlsym(RTLD_NEXT, "cuMemAlloc_v2");
    real_free = (free_fn)dlsym(RTLD_NEXT, "cuMemFree_v2");
}

static void burn(void)
{
    volatile uint64_t x = 1; /* a dependent chain through the stack: about 1 ns a step */
    for (int i = 0; i < work; i++) x = x * 3 + 1;
}

__attribute__((visibility("default"))) int cuMemAlloc_v2(uint64_t *p, size_t bytes)
{
    int r = real_alloc ? real_alloc(p, bytes) : 1;
    burn();
    return r;
}

__attribute__((visibility("default"))) int cuMemFree_v2(uint64_t p)
{
    int r = real_free ? real_free(p) : 1;
    burn();
    return r;
}
