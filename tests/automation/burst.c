/*
 * burst - level changes faster than any polling, for gpumem watch tests.
 * Run under the shim on the stand-in (1000 MiB devices: GPUMEM_FAKE_MEMORY_MIB).
 *   burst CROSSINGS END      on cuda:0: 850 MiB (warning), then CROSSINGS
 *                            times +60 MiB (critical) and -60 MiB (back to
 *                            warning): 1 + 2 * CROSSINGS level changes, all
 *                            within milliseconds; prints "done" on stdout;
 *                            then END: "exit" returns at once, "wait" waits
 *                            for stdin to close and returns, "kill" raises
 *                            SIGKILL on itself after stdin closes, "oom"
 *                            asks for more than the device has, then waits
 *                            for stdin to close.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_decls.h"

int main(int argc, char **argv)
{
    if (argc != 3 || cuInit(0) != 0) return 2;
    gcu_context ctx;
    if (cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    gcu_deviceptr base, top;
    if (cuMemAlloc_v2(&base, 850 * MiB) != 0) return 3;
    for (int i = 0; i < atoi(argv[1]); i++) {
        if (cuMemAlloc_v2(&top, 60 * MiB) != 0) return 3;
        if (cuMemFree_v2(top) != 0) return 3;
    }
    printf("done\n");
    fflush(stdout);
    const char *end = argv[2];
    if (strcmp(end, "exit") == 0) return 0;
    if (strcmp(end, "oom") == 0) {
        gcu_deviceptr big;
        if (cuMemAlloc_v2(&big, 4000 * MiB) == 0) return 4;
        printf("oom\n");
        fflush(stdout);
    }
    char c;
    while (read(0, &c, 1) > 0) {}
    if (strcmp(end, "kill") == 0) raise(SIGKILL);
    return 0;
}
