/*
 * locale_guest - a CUDA program that runs in a locale of its own choosing,
 * as a host program of the shim may: setlocale(LC_ALL, argv[1]), then
 * cuda:0 of 16 GiB goes to warning (13 GiB), to critical (14.5 GiB), and an
 * 8 GiB request fails with out-of-memory. Prints the locale's rendering of
 * 18.75 first, so the test can see the locale took. Exit 7 after the
 * failure; 77 when the locale is missing.
 */
#include <locale.h>
#include <stdio.h>

#include "cuda_decls.h"

int main(int argc, char **argv)
{
    if (argc < 2 || !setlocale(LC_ALL, argv[1])) {
        fprintf(stderr, "locale_guest: no locale %s\n", argc < 2 ? "given" : argv[1]);
        return 77;
    }
    printf("%.2f\n", 18.75);
    fflush(stdout);
    gcu_context ctx;
    gcu_deviceptr p;
    if (cuInit(0) != 0 || cuCtxCreate_v2(&ctx, 0, 0) != 0) return 2;
    if (cuMemAlloc_v2(&p, 13 * GiB) != 0 || cuMemAlloc_v2(&p, 1536 * MiB) != 0) return 3;
    return cuMemAlloc_v2(&p, 8 * GiB) == 2 ? 7 : 4;
}
