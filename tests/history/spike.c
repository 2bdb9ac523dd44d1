/*
 * spike - on the real clock: 1 MiB held, then at each line read from stdin
 * 512 MiB allocated, held 10 ms and freed, then "spiked" printed. Ends at
 * the end of its input.
 */
#include <stdio.h>
#include <time.h>

#include "cuda_decls.h"

int main(void)
{
    gcu_context ctx;
    gcu_deviceptr base, big;
    char line[64];
    if (cuInit(0) != 0 || cuCtxCreate_v2(&ctx, 0, 0) != 0 || cuMemAlloc_v2(&base, 1u << 20) != 0) return 2;
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin)) {
        if (cuMemAlloc_v2(&big, 512u << 20) != 0) return 3;
        nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
        if (cuMemFree_v2(big) != 0) return 3;
        printf("spiked\n");
        fflush(stdout);
    }
    return 0;
}
