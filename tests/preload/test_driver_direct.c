/* Direct linking (-lcuda): plain, pitched, managed memory, out-of-memory,
 * unknown frees, NULL out-pointers, errno, two devices. */
#include <errno.h>

#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    gcu_context ctx0, ctx1;
    gcu_deviceptr a = 0, b = 0, m = 0, unseen = 0, big = 0;
    size_t pitch = 0;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx0, 0, 0), 0);
    if (SHIM) CHECK_EQ(gpumem_device_stats(0, &(gpumem_device_stats_t){ 0 }), GPUMEM_ENODEV);

    errno = 4242;
    CHECK_EQ(cuMemAlloc_v2(&a, 1000), 0);
    CHECK_EQ(errno, 4242);
    CHECK_EQ(cuMemAllocPitch_v2(&b, &pitch, 1000, 10, 4), 0);
    CHECK_EQ(pitch, 1024);
    CHECK_EQ(cuMemAllocManaged(&m, 4096, 1), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 1000 + 1024 * 10);
        CHECK_EQ(s.reserved_bytes, fake_cuda_used_bytes(0));
        CHECK_EQ(s.managed_bytes, 4096);
        CHECK_EQ(s.alloc_count, 3);
        CHECK_EQ(s.total_bytes, 16 * GiB);
        CHECK(strcmp(s.uuid, "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539000") == 0);
        CHECK(strcmp(s.pci_bus_id, "0000:10:00.0") == 0);
        CHECK(strcmp(s.name, "gpumem stand-in GPU 0") == 0);
        CHECK_EQ(gpumem_device_count(), 1);
    }

    /* NULL out-pointer and zero size: the driver's answer, nothing counted. */
    CHECK_EQ(cuMemAlloc_v2(NULL, 10), 1);
    CHECK_EQ(cuMemAlloc_v2(&big, 0), 1);
    CHECK_EQ(cuMemAllocPitch_v2(&big, NULL, 10, 10, 4), 1);
    /* Out of memory: the driver's code, counted as a failure, not reserved. */
    errno = 77;
    CHECK_EQ(cuMemAlloc_v2(&big, 17 * GiB), 2);
    CHECK_EQ(errno, 77);
    CHECK_EQ(big, 0);
    /* A pointer the shim never saw: the real free runs and succeeds. */
    CHECK_EQ(fake_cuda_alloc_unseen(&unseen, 5000), 0);
    CHECK_EQ(cuMemFree_v2(unseen), 0);
    /* A pointer nobody allocated: the driver's error. */
    CHECK_EQ(cuMemFree_v2(0xdead0000ull), 1);
    CHECK_EQ(cuMemFree_v2(0), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.failed_count, 1);
        CHECK_EQ(s.unknown_free_count, 1);
        CHECK_EQ(s.reserved_bytes, 1000 + 10240);
        CHECK_EQ(s.alloc_count, 3);
    }

    /* A second device counts apart. */
    gcu_deviceptr c = 0;
    CHECK_EQ(cuCtxCreate_v2(&ctx1, 0, 1), 0);
    CHECK_EQ(cuMemAlloc_v2(&c, 3 * MiB), 0);
    if (SHIM) {
        CHECK_EQ(stats_of(1).reserved_bytes, 3 * MiB);
        CHECK_EQ(stats_of(0).reserved_bytes, 1000 + 10240);
        CHECK_EQ(gpumem_device_count(), 2);
        CHECK(strcmp(stats_of(1).uuid, "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539001") == 0);
    }
    /* Frees find their device from the ledger, whatever context is current. */
    CHECK_EQ(cuMemFree_v2(a), 0);
    CHECK_EQ(cuMemFree_v2(b), 0);
    CHECK_EQ(cuMemFree_v2(m), 0);
    CHECK_EQ(cuCtxSetCurrent(ctx0), 0);
    CHECK_EQ(cuMemFree_v2(c), 0);
    CHECK_EQ(cuMemFree_v2(a), 1); /* double free: the driver's error */
    if (SHIM) {
        gpumem_device_stats_t s0 = stats_of(0), s1 = stats_of(1);
        CHECK_EQ(s0.reserved_bytes, 0);
        CHECK_EQ(s0.managed_bytes, 0);
        CHECK_EQ(s0.peak_bytes, 1000 + 10240);
        CHECK_EQ(s0.free_count, 3);
        CHECK_EQ(s1.reserved_bytes, 0);
        CHECK_EQ(s1.peak_bytes, 3 * MiB);
        CHECK_EQ(s0.unknown_free_count, 1);
    }
    return check_done("driver_direct");
}
