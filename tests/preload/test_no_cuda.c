/* A program that never touches CUDA: the shim loads, reports no devices,
 * leaves no segment behind and changes nothing. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    if (SHIM) {
        CHECK_EQ(gpumem_device_count(), 0);
        CHECK_EQ(gpumem_device_stats(0, &(gpumem_device_stats_t){ 0 }), GPUMEM_ENODEV);
        CHECK_EQ(gpumem_device_stats(0, NULL), GPUMEM_EINVAL);
        CHECK(strcmp(gpumem_version(), GPUMEM_VERSION_STRING) == 0);
        CHECK(strcmp(gpumem_strerror(GPUMEM_ENODEV), "no such device: nothing was counted on it") == 0);
    }
    /* No driver on this machine (the test runs without the stand-in). */
    CHECK(dlopen("libcuda.so.1", RTLD_NOW) == NULL);
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/gpumemtest.%d", (int)getpid());
    CHECK(access(path, F_OK) != 0);
    return check_done("no_cuda");
}
