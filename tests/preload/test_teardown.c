/* Context teardown frees memory without a free per allocation, and the
 * figure follows: cuCtxDestroy (what was allocated in that context, never
 * VMM handles nor pool allocations), cuDevicePrimaryCtxReset, and releasing
 * the last reference of a primary context. One event per device, and no
 * unknown free when the program then frees a pointer the teardown took. */
#include "check.h"
#include "cuda_decls.h"

gcu_result cuCtxDestroy_v2(gcu_context);
gcu_result cuDevicePrimaryCtxRetain(gcu_context *, gcu_device);
gcu_result cuDevicePrimaryCtxRelease_v2(gcu_device);
gcu_result cuDevicePrimaryCtxRelease(gcu_device);
gcu_result cuDevicePrimaryCtxReset_v2(gcu_device);

static void held(int device, unsigned long long reserved, unsigned long long managed)
{
    if (!SHIM) return;
    gpumem_device_stats_t s = stats_of(device);
    CHECK_EQ(s.reserved_bytes, reserved);
    CHECK_EQ(s.reserved_bytes, fake_cuda_used_bytes(device));
    CHECK_EQ(s.managed_bytes, managed);
    CHECK_EQ(s.unknown_free_count, 0);
}

int main(void)
{
    gcu_context ctx, other, primary;
    gcu_deviceptr a = 0, b = 0, m = 0, keep = 0, p = 0, q = 0;
    CHECK_EQ(cuInit(0), 0);

    /* A created context: 3 MiB and 1 MiB managed in it, 5 MiB on device 1. */
    CHECK_EQ(cuCtxCreate_v2(&other, 0, 1), 0);
    CHECK_EQ(cuMemAlloc_v2(&keep, 5 * MiB), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&a, 1 * MiB), 0);
    CHECK_EQ(cuMemAlloc_v2(&b, 2 * MiB), 0);
    CHECK_EQ(cuMemAllocManaged(&m, 1 * MiB, 1), 0);
    /* A VMM handle made while ctx is current outlives it (cuda.h). */
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    gcu_mem_handle h = 0;
    CHECK_EQ(cuMemCreate(&h, 2 * MiB, &prop, 0), 0);
    held(0, 5 * MiB, 1 * MiB);
    CHECK_EQ(cuCtxDestroy_v2(ctx), 0);
    held(0, 2 * MiB, 0); /* the handle */
    held(1, 5 * MiB, 0); /* another context's memory stays */
    if (SHIM) CHECK_EQ(stats_of(0).free_count, 3);
    /* The program frees what the teardown took: the driver refuses, and
     * that is no unknown free. */
    CHECK_EQ(cuCtxSetCurrent(other), 0);
    CHECK(cuMemFree_v2(a) != 0);
    held(0, 2 * MiB, 0);
    CHECK_EQ(cuMemRelease(h), 0);
    held(0, 0, 0);

    /* The primary context, reset: everything of it goes, pools included. */
    CHECK_EQ(cuDevicePrimaryCtxRetain(&primary, 0), 0);
    CHECK_EQ(cuCtxSetCurrent(primary), 0);
    CHECK_EQ(cuMemAlloc_v2(&p, 3 * MiB), 0);
    CHECK_EQ(cuMemAllocAsync(&q, 1 * MiB, NULL), 0);
    held(0, 5 * MiB, 0);
    CHECK_EQ(cuDevicePrimaryCtxReset_v2(0), 0);
    held(0, 0, 0);
    held(1, 5 * MiB, 0);

    /* Released twice after two retains: only the last release frees. */
    CHECK_EQ(cuDevicePrimaryCtxRetain(&primary, 0), 0);
    CHECK_EQ(cuCtxSetCurrent(primary), 0);
    CHECK_EQ(cuMemAlloc_v2(&p, 3 * MiB), 0);
    held(0, 3 * MiB, 0);
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), 0); /* the retain above */
    held(0, 3 * MiB, 0);
    CHECK_EQ(cuDevicePrimaryCtxRelease(0), 0); /* the first retain: the last reference (v1 ABI) */
    held(0, 0, 0);
    CHECK_EQ(cuCtxSetCurrent(other), 0);
    CHECK(cuMemFree_v2(p) != 0);
    held(0, 0, 0);

    /* Addresses freed by a teardown are handed out again: counted once. */
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&a, 1 * MiB), 0);
    CHECK_EQ(cuCtxDestroy_v2(ctx), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&b, 1 * MiB), 0);
    CHECK_EQ(a, b);
    held(0, 1 * MiB, 0);
    CHECK_EQ(cuMemFree_v2(b), 0);
    held(0, 0, 0);
    CHECK_EQ(cuCtxDestroy_v2(ctx), 0);
    CHECK_EQ(cuCtxSetCurrent(other), 0);
    CHECK_EQ(cuMemFree_v2(keep), 0);
    held(1, 0, 0);
    return check_done("teardown");
}
