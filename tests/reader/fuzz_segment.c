/*
 * fuzz_segment.c - the segment parser under a fuzzer. Built as a libFuzzer
 * target with clang (-DGPUMEM_LIBFUZZER, cmake -DGPUMEM_FUZZ=ON, run by
 * scripts/fuzz), or as a replay program that runs every file given on the
 * command line, which is how ctest replays the corpus (tests/reader/corpus).
 *
 * An input is a segment file as the reader would copy it, truncated or not.
 * An input that starts with 'Z' stands for the rest of it followed by zeros
 * up to a whole segment's size: the OOM record alone is 30 KiB, so compact
 * files that reach its parser keep the committed corpus small.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "report.h"
#include "snapshot.h"

/* Everything the reader renders from what parsed, to a sink. */
static void render(struct gpumem_view *v, struct gpumem_process *p, struct gpumem_oom *oom)
{
    static FILE *null;
    static struct gpumem_line lines[512];
    if (!null) null = fopen("/dev/null", "w");
    if (!null) abort();
    gpumem__emit_json(null, v);
    gpumem__emit_show(null, v);
    gpumem__emit_ls(null, v);
    gpumem__top_frame(v, lines, 512);
    if (p && p->oom) {
        gpumem__report_json(null, p, oom);
        gpumem__report_text(null, p, oom);
    }
    fflush(null);
}

/* What the reader's listing parses, from a copy of only the parts it reads
 * (the header, the device table, the transitions: tools/snapshot.c), must
 * be what the whole copy gives: same verdict, same reason, same process. */
/* parse_head on a partial copy of file (len bytes) taken by the header hd,
 * the bytes copy_head leaves out filled with garbage. */
static int parse_part(const uint64_t *file, size_t len, const struct gpumem_shm_header *hd, unsigned char garbage,
                      struct gpumem_process *out, char *why, size_t why_len)
{
    size_t avail = len >= sizeof *hd ? gpumem__segment_head_size(hd, len) : len;
    if (avail > len || (len >= sizeof *hd && avail < sizeof *hd)) abort();
    /* On the heap at its exact size, so ASan sees any read past it. */
    unsigned char *part = malloc(avail ? avail : 1);
    if (!part) abort();
    memset(part, garbage, avail);
    if (len >= sizeof *hd) gpumem__segment_copy_head(part, file, len, hd);
    else memcpy(part, file, len);
    int rc = gpumem__segment_parse_head(part, NULL, avail, len, out, why, why_len);
    free(part);
    return rc;
}

/* Same verdict, reason and process (entries of the device table past
 * ndevices are left undefined). */
static int same_parse(int a, const char *why_a, const struct gpumem_process *x, int b, const char *why_b,
                      const struct gpumem_process *y)
{
    if (a != b) return 0;
    if (a != 0) return strcmp(why_a, why_b) == 0;
    const size_t table = offsetof(struct gpumem_process, devices), after = table + sizeof x->devices;
    return memcmp(x, y, table) == 0 &&
           memcmp(x->devices, y->devices, (size_t)x->ndevices * sizeof x->devices[0]) == 0 &&
           memcmp((const char *)x + after, (const char *)y + after, sizeof *x - after) == 0;
}

static void parse_head_agrees(const unsigned char *data, size_t size, unsigned variant)
{
    static struct gpumem_process whole, head, other;
    char why_whole[192], why_head[192], why_other[192];
    size_t len = size & ~(size_t)7; /* as the reader copies a file */
    /* The file, aligned as a mapping is (copy_head loads whole words). */
    uint64_t *file = malloc(len ? len : 8);
    if (!file) abort();
    memcpy(file, data, len);
    struct gpumem_shm_header hd;
    memset(&hd, 0, sizeof hd);
    if (len >= sizeof hd) memcpy(&hd, file, sizeof hd);
    int a = gpumem__segment_parse(file, NULL, len, &whole, NULL, why_whole, sizeof why_whole);
    int b = parse_part(file, len, &hd, 0xA5, &head, why_head, sizeof why_head);
    if (!same_parse(a, why_whole, &whole, b, why_head, &head)) {
        fprintf(stderr, "parse_head disagrees: %d (%s) vs %d (%s)\n", a, a ? why_whole : "", b, b ? why_head : "");
        abort();
    }
    /* A writer that changed the file between the header's read and the
     * copy (a hostile one, racing): one word of the header moved by 1 KiB
     * in the file (the last bytes pick it; magic and version kept).
     * Whatever the parse makes of it, it may not depend on bytes the copy
     * left out. */
    if (len >= sizeof hd && (variant & 16)) {
        file[2 + data[size - 2] % (sizeof hd / 8 - 2)] ^= 1024;
        b = parse_part(file, len, &hd, 0xA5, &head, why_head, sizeof why_head);
        int c = parse_part(file, len, &hd, 0x5A, &other, why_other, sizeof why_other);
        if (!same_parse(b, why_head, &head, c, why_other, &other)) {
            fprintf(stderr, "parse_head read bytes the copy left out\n");
            abort();
        }
    }
    free(file);
}

static void parse_and_render(const unsigned char *data, size_t size, unsigned variant)
{
    parse_head_agrees(data, size, variant);
    static struct gpumem_process procs[2];
    static struct gpumem_oom oom;
    static struct gpumem_skip skip;
    char why[192];
    /* A second copy to recheck ring entries against, as the reader does;
     * identical here, as for a writer that is not running. */
    const void *recheck = variant & 1 ? data : NULL;
    if (gpumem__segment_parse(data, recheck, size, &procs[0], &oom, why, sizeof why) != 0) {
        /* The reason is shown to the user, in JSON too. */
        snprintf(skip.path, sizeof skip.path, "/dev/shm/gpumem.%u", variant);
        snprintf(skip.why, sizeof skip.why, "%s", why);
        struct gpumem_view v = { .skips = &skip, .nskips = 1 };
        render(&v, NULL, NULL);
        return;
    }
    struct gpumem_process *p = &procs[0];
    /* Every device's history rings, as gpumem history reads them. */
    static struct gpumem_bucket buckets[4096];
    for (int i = 0; i < p->ndevices; i++)
        for (int r = 0; r < 2; r++) gpumem__history_buckets(data, recheck, size, p, i, r, buckets, 4096);
    p->liveness = (enum gpumem_liveness)((variant >> 1) % 3);
    snprintf(p->path, sizeof p->path, "/dev/shm/gpumem.%d", p->pid);
    /* The same process twice, alive: per-GPU sums of two processes. */
    procs[1] = procs[0];
    procs[1].liveness = GPUMEM_ALIVE;
    struct gpumem_view v = { .procs = procs, .nprocs = 1 + (variant >> 3 & 1) };
    render(&v, p, &oom);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* The last byte picks how the result is seen (liveness, recheck copy,
     * one or two processes): a byte of the segment all the same. */
    unsigned variant = size ? data[size - 1] : 0;
    if (size >= 1 && data[0] == 'Z') {
        /* On the heap at its exact size, so ASan sees any overread; kept
         * from one input to the next when it is a segment's size. */
        static unsigned char *whole;
        const size_t segment = sizeof(struct gpumem_shm_segment);
        size_t len = size - 1 > segment ? size - 1 : segment;
        unsigned char *padded = len == segment ? whole : NULL;
        if (!padded && !(padded = malloc(len))) abort();
        memcpy(padded, data + 1, size - 1);
        memset(padded + size - 1, 0, len - (size - 1));
        parse_and_render(padded, len, variant);
        if (len == segment) whole = padded;
        else free(padded);
        return 0;
    }
    parse_and_render(data, size, variant);
    return 0;
}

#ifndef GPUMEM_LIBFUZZER
int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static unsigned char buf[GPUMEM_MAX_SEGMENT_BYTES];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* An exact-size copy (ASan sees any overread) and an unaligned one:
         * the parser may not assume alignment. */
        unsigned char *exact = malloc(len ? len : 1), *odd = malloc(len + 1);
        if (!exact || !odd) return 1;
        memcpy(exact, buf, len);
        memcpy(odd + 1, buf, len);
        LLVMFuzzerTestOneInput(exact, len);
        LLVMFuzzerTestOneInput(odd + 1, len);
        free(exact);
        free(odd);
        n++;
    }
    printf("replayed %d inputs\n", n);
    return 0;
}
#endif
