/*
 * oom_paths - one out-of-memory failure on the path named by argv[1], then
 * exit with status 7 (or, with "wait", wait for stdin to close first; with
 * "pause", print the pid and wait for a byte on stdin before the failure).
 *   driver | runtime | async | vmm | twice
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda_decls.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    const char *path = argv[1];
    gcu_context ctx;
    gcu_deviceptr held, p;
    void *rp;
    cuInit(0);
    cuCtxCreate_v2(&ctx, 0, 0);
    /* Something live first: 9 GiB in three pieces, and a few small ones. */
    for (int i = 0; i < 3; i++) cuMemAlloc_v2(&held, 3 * GiB);
    for (int i = 0; i < 5; i++) cuMemAlloc_v2(&held, (size_t)(i + 1) << 20);
    cuMemFree_v2(held);
    if (argc > 2 && strcmp(argv[2], "pause") == 0) {
        /* Let the test prepare the report's directory for this pid. */
        printf("pid %d\n", (int)getpid());
        fflush(stdout);
        char c;
        if (read(0, &c, 1) != 1) return 4;
    }
    gcu_result r = 0;
    if (strcmp(path, "driver") == 0 || strcmp(path, "twice") == 0) r = cuMemAlloc_v2(&p, 8 * GiB);
    if (strcmp(path, "twice") == 0) r = cuMemAlloc_v2(&p, 8 * GiB);
    if (strcmp(path, "runtime") == 0) r = cudaMalloc(&rp, 8 * GiB);
    if (strcmp(path, "async") == 0) r = cuMemAllocAsync(&p, 8 * GiB, NULL);
    if (strcmp(path, "vmm") == 0) {
        gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
        gcu_mem_handle h;
        r = cuMemCreate(&h, 8 * GiB, &prop, 0);
    }
    if (r != 2) {
        fprintf(stderr, "oom_paths: expected out of memory (2), got %u\n", r);
        return 3;
    }
    printf("oom done\n");
    fflush(stdout);
    if (argc > 2 && strcmp(argv[2], "wait") == 0) {
        cuMemAlloc_v2(&p, 1 * MiB); /* life goes on after the failure */
        char c;
        while (read(0, &c, 1) > 0) {}
    }
    return 7;
}
