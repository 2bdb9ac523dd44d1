/* The driver found by dlopen + dlsym(handle, ...), as both runtimes do. */
#include <dlfcn.h>

#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL);
    if (!h) return check_done("driver_dlopen");
    __typeof__(&cuInit) init = (__typeof__(&cuInit))dlsym(h, "cuInit");
    __typeof__(&cuCtxCreate_v2) create = (__typeof__(&cuCtxCreate_v2))dlsym(h, "cuCtxCreate_v2");
    __typeof__(&cuMemAlloc_v2) alloc = (__typeof__(&cuMemAlloc_v2))dlsym(h, "cuMemAlloc_v2");
    __typeof__(&cuMemFree_v2) release = (__typeof__(&cuMemFree_v2))dlsym(h, "cuMemFree_v2");
    CHECK(init && create && alloc && release);
    CHECK(dlsym(h, "cuNoSuchFunction") == NULL);
    CHECK(dlerror() != NULL);
    gcu_context ctx;
    gcu_deviceptr p = 0;
    CHECK_EQ(init(0), 0);
    CHECK_EQ(create(&ctx, 0, 0), 0);
    CHECK_EQ(alloc(&p, 7 * MiB), 0);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 7 * MiB);
    CHECK_EQ(release(p), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(0).reserved_bytes, 0);
        CHECK_EQ(stats_of(0).alloc_count, 1);
    }
    return check_done("driver_dlopen");
}
