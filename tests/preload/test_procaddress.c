/* cuGetProcAddress v1 and v2: (name, version, flags) semantics, _ptsz, the
 * re-fetch of cuGetProcAddress itself, and no wrapper of another ABI. */
#include <dlfcn.h>

#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return check_done("procaddress");
    gcu_cuGetProcAddress_v2_fn first = (gcu_cuGetProcAddress_v2_fn)dlsym(h, "cuGetProcAddress_v2");
    CHECK(first != NULL);
    void *fn = NULL;
    gcu_proc_status st = 99;
    CHECK_EQ(first("", &fn, 0, 0, &st), 500); /* the probe */
    CHECK_EQ(first("cuInit", &fn, 2000, 0, &st), 0);
    CHECK_EQ(((gcu_result(*)(unsigned))fn)(0), 0);

    /* The runtime's re-fetch: later lookups go through these pointers. */
    void *v1 = NULL, *v2 = NULL;
    CHECK_EQ(first("cuGetProcAddress", &v1, 11030, 0, &st), 0);
    CHECK_EQ(first("cuGetProcAddress", &v2, 12000, 0, &st), 0);
    CHECK(v1 && v2 && v1 != v2);
    gcu_cuGetProcAddress_v2_fn gpa = (gcu_cuGetProcAddress_v2_fn)v2;
    gcu_cuGetProcAddress_fn gpa1 = (gcu_cuGetProcAddress_fn)v1;

    void *create = NULL;
    CHECK_EQ(gpa("cuCtxCreate", &create, 3020, 0, &st), 0);
    gcu_context ctx;
    CHECK_EQ(((__typeof__(&cuCtxCreate_v2))create)(&ctx, 0, 0), 0);

    /* cuMemAlloc at its ABI version, at a newer version, and through v1. */
    void *alloc = NULL, *alloc_new = NULL, *alloc_v1 = NULL, *free_fn = NULL;
    CHECK_EQ(gpa("cuMemAlloc", &alloc, 3020, 0, &st), 0);
    CHECK_EQ(st, 0);
    CHECK_EQ(gpa("cuMemAlloc", &alloc_new, 13000, 0, NULL), 0);
    CHECK_EQ(gpa1("cuMemAlloc", &alloc_v1, 3020, 0), 0);
    CHECK_EQ(gpa1("cuMemFree", &free_fn, 3020, 0), 0);
    CHECK(alloc == alloc_new && alloc == alloc_v1);
    gcu_deviceptr p = 0, q = 0;
    CHECK_EQ(((gcu_cuMemAlloc_v2_fn)alloc)(&p, 1 * MiB), 0);
    CHECK_EQ(((gcu_cuMemAlloc_v2_fn)alloc_new)(&q, 2 * MiB), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 3 * MiB);
    CHECK_EQ(((gcu_cuMemFree_v2_fn)free_fn)(p), 0);
    CHECK_EQ(((gcu_cuMemFree_v2_fn)free_fn)(q), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);

    /* An older version gets the old ABI, never a wrapper of the new one. */
    void *old = NULL;
    CHECK_EQ(gpa("cuMemAlloc", &old, 2000, 0, &st), 0);
    CHECK(old == dlsym(h, "cuMemAlloc"));
    CHECK(old != alloc);
    /* Too old for the function at all: the driver's answer, untouched. */
    CHECK_EQ(gpa("cuMemAllocAsync", &old, 11000, 0, &st), 500);
    CHECK_EQ(st, 2);
    CHECK_EQ(gpa("cuNoSuchThing", &old, 13000, 0, &st), 500);
    CHECK_EQ(st, 1);
    CHECK(old == NULL);

    /* Per-thread default stream: the _ptsz variant, wrapped too. */
    void *async0 = NULL, *async2 = NULL, *free2 = NULL;
    CHECK_EQ(gpa("cuMemAllocAsync", &async0, 11020, 0, &st), 0);
    CHECK_EQ(gpa("cuMemAllocAsync", &async2, 11020, 2, &st), 0);
    CHECK_EQ(gpa("cuMemFreeAsync", &free2, 11020, 2, &st), 0);
    CHECK(async0 != async2);
    CHECK_EQ(((gcu_cuMemAllocAsync_fn)async2)(&p, 1 * MiB, NULL), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 2 * MiB); /* the pool's 2 MiB granule */
    CHECK_EQ(((gcu_cuMemFreeAsync_fn)free2)(p, NULL), 0);
    /* A function with no _ptsz variant asked for with the flag. */
    void *alloc_ptds = NULL;
    CHECK_EQ(gpa("cuMemAlloc", &alloc_ptds, 3020, 2, &st), 0);
    CHECK(alloc_ptds == alloc);
    if (SHIM) CHECK_EQ(stats_of(0).alloc_count, 3);

    /* The lookup pointer, looked up through itself again, is stable. */
    void *again = NULL;
    CHECK_EQ(gpa("cuGetProcAddress", &again, 12000, 0, &st), 0);
    CHECK(again == v2);
    /* Bad arguments: the driver's error. */
    CHECK_EQ(gpa(NULL, &again, 12000, 0, &st), 1);
    CHECK_EQ(gpa("cuMemAlloc", NULL, 12000, 0, &st), 1);
    return check_done("procaddress");
}
