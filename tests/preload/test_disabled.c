/* GPUMEM_DISABLE=1: every call passes through, nothing is counted or
 * published, return codes are the driver's. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "cuda_decls.h"

int main(void)
{
    gcu_context ctx;
    gcu_deviceptr p = 0;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&p, 1 * MiB), 0);
    CHECK_EQ(cuMemAlloc_v2(&p, 40 * GiB), 2);
    CHECK_EQ(cuMemFree_v2(0xdead0000ull), 1);
    if (SHIM) {
        CHECK_EQ(gpumem_device_count(), 0);
        CHECK_EQ(gpumem_device_stats(0, &(gpumem_device_stats_t){ 0 }), GPUMEM_ENODEV);
    }
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/gpumemtest.%d", (int)getpid());
    CHECK(access(path, F_OK) != 0);
    return check_done("disabled");
}
