/*
 * hold - a CUDA program for reader tests, run under the shim.
 *   hold DEV:MIB...   allocate, print "ready", then wait for stdin to close
 *   churn SECONDS     allocate and free 1 MiB blocks (at most 64 held)
 *   nodump DEV:MIB... as hold, made non-dumpable first (PR_SET_DUMPABLE 0:
 *                     /proc/<pid>/stat then belongs to root)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "cuda_decls.h"

int main(int argc, char **argv)
{
    gcu_context ctx[16];
    if (argc > 1 && strcmp(argv[1], "nodump") == 0) {
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return 4;
        argv++, argc--;
    }
    if (argc < 2 || cuInit(0) != 0) return 2;
    for (int d = 0; d < 2; d++) cuCtxCreate_v2(&ctx[d], 0, d);
    if (argc == 3 && argv[1][0] == 'c') {
        cuCtxSetCurrent(ctx[0]);
        gcu_deviceptr held[64] = { 0 };
        time_t end = time(NULL) + atoi(argv[2]);
        for (unsigned i = 0; time(NULL) < end; i++) {
            gcu_deviceptr *slot = &held[rand() % 64];
            if (*slot) {
                cuMemFree_v2(*slot);
                *slot = 0;
            } else cuMemAlloc_v2(slot, 1 << 20);
        }
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        int dev = atoi(argv[i]);
        const char *colon = argv[i][0] ? argv[i] + 1 : argv[i];
        unsigned long long mib = strtoull(colon + 1, NULL, 10);
        gcu_deviceptr p;
        cuCtxSetCurrent(ctx[dev]);
        if (cuMemAlloc_v2(&p, mib << 20) != 0) return 3;
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {}
    return 0;
}
