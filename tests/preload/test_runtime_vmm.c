/* A runtime that serves cudaMalloc/cudaFree with VMM (the stand-in with
 * GPUMEM_FAKE_RUNTIME_VMM=1): the driver layer counts the handle, inside the
 * runtime call; the runtime layer must neither count the pointer again nor
 * look the handle's release up in the pointer ledger. */
#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    void *a = NULL, *b = NULL;
    CHECK_EQ(cudaSetDevice(0), 0);
    CHECK_EQ(cudaMalloc(&a, 3 * MiB), 0);
    CHECK_EQ(cudaMalloc(&b, 1 * MiB), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), 6 * MiB);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 6 * MiB);
        CHECK_EQ(s.alloc_count, 2);
    }
    CHECK_EQ(cudaFree(a), 0);
    CHECK_EQ(cudaFree(b), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), 0);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(s.reserved_bytes, 0);
        CHECK_EQ(s.free_count, 2);
        CHECK_EQ(s.unknown_free_count, 0);
    }
    return check_done("runtime_vmm");
}
