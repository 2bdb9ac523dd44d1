/*
 * fuzz_segment.c - the segment parser under a fuzzer. Built as a libFuzzer
 * target with clang (-DGPUMEM_LIBFUZZER), or as a replay program that runs
 * every file given on the command line, which is how CI replays the corpus.
 */
#include <stdio.h>
#include <stdlib.h>

#include "render.h"
#include "report.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static struct gm_process p;
    static struct gm_oom oom;
    char why[192];
    if (gm_segment_parse(data, NULL, size, &p, &oom, why, sizeof why) == 0) {
        /* Render what parsed, to a sink, as the reader would. */
        struct gm_view v = { .procs = &p, .nprocs = 1 };
        p.liveness = GM_DEAD;
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            gm_emit_json(null, &v);
            gm_emit_show(null, &v);
            if (p.oom) {
                gm_report_json(null, &p, &oom);
                gm_report_text(null, &p, &oom);
            }
            fclose(null);
        }
    }
    return 0;
}

#ifndef GPUMEM_LIBFUZZER
int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); return 1; }
        static unsigned char buf[GM_MAX_SEGMENT_BYTES];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* An unaligned copy too: the parser may not assume alignment. */
        unsigned char *odd = malloc(len + 1);
        if (!odd) return 1;
        for (size_t k = 0; k < len; k++) odd[k + 1] = buf[k];
        LLVMFuzzerTestOneInput(buf, len);
        LLVMFuzzerTestOneInput(odd + 1, len);
        free(odd);
        n++;
    }
    printf("replayed %d inputs\n", n);
    return 0;
}
#endif
