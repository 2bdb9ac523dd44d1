/* Virtual memory management: charged at create by handle, never at map;
 * host-located handles are not device memory. */
#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    gcu_context ctx;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 1 } };
    gcu_mem_handle h = 0, host = 0;
    CHECK_EQ(cuMemCreate(&h, 20 * MiB, &prop, 0), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(1).reserved_bytes, 20 * MiB); /* the location's device, not the current one */
        CHECK_EQ(stats_of(0).reserved_bytes, 0);
    }
    gcu_deviceptr va1, va2;
    CHECK_EQ(cuMemAddressReserve(&va1, 20 * MiB, 0, 0, 0), 0);
    CHECK_EQ(cuMemAddressReserve(&va2, 20 * MiB, 0, 0, 0), 0);
    CHECK_EQ(cuMemMap(va1, 20 * MiB, 0, h, 0), 0);
    CHECK_EQ(cuMemMap(va2, 20 * MiB, 0, h, 0), 0); /* one handle, two addresses */
    if (SHIM) CHECK_EQ(stats_of(1).reserved_bytes, 20 * MiB);
    CHECK_EQ(cuMemUnmap(va1, 20 * MiB), 0);
    CHECK_EQ(cuMemUnmap(va2, 20 * MiB), 0);
    if (SHIM) CHECK_EQ(stats_of(1).reserved_bytes, 20 * MiB);
    CHECK_EQ(cuMemRelease(h), 0);
    if (SHIM) CHECK_EQ(stats_of(1).reserved_bytes, 0);
    CHECK_EQ(cuMemRelease(h), 1);

    gcu_mem_allocation_prop hp = { .type = 1, .location = { .type = 2 /* host */, .id = 0 } };
    CHECK_EQ(cuMemCreate(&host, 4 * MiB, &hp, 0), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(0).reserved_bytes, 0);
        CHECK_EQ(stats_of(1).reserved_bytes, 0);
    }
    CHECK_EQ(cuMemRelease(host), 0);
    /* Bad arguments: the driver's errors, nothing counted. */
    CHECK_EQ(cuMemCreate(&h, 20 * MiB, NULL, 0), 1);
    CHECK_EQ(cuMemCreate(NULL, 20 * MiB, &prop, 0), 1);
    CHECK_EQ(cuMemCreate(&h, 3, &prop, 0), 1);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(1);
        CHECK_EQ(s.alloc_count, 1);
        CHECK_EQ(s.free_count, 1);
        CHECK_EQ(s.peak_bytes, 20 * MiB);
        CHECK_EQ(s.unknown_free_count + stats_of(0).unknown_free_count, 0);
    }
    return check_done("vmm");
}
