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
static void parse_head_agrees(const unsigned char *data, size_t size)
{
    static struct gpumem_process whole, head;
    char why_whole[192], why_head[192];
    size_t len = size & ~(size_t)7; /* as the reader copies a file */
    /* The file, aligned as a mapping is (copy_head loads whole words). */
    uint64_t *file = malloc(len ? len : 8);
    if (!file) abort();
    memcpy(file, data, len);
    struct gpumem_shm_header hd;
    size_t avail = len;
    if (len >= sizeof hd) {
        memcpy(&hd, file, sizeof hd);
        avail = gpumem__segment_head_size(&hd, len);
        if (avail > len || avail < sizeof hd) abort();
    }
    /* On the heap at its exact size, so ASan sees any read past it; what
     * copy_head does not write is garbage, which the parse never reads. */
    unsigned char *part = malloc(avail ? avail : 1);
    if (!part) abort();
    memset(part, 0xA5, avail);
    if (len >= sizeof hd) gpumem__segment_copy_head(part, file, len, &hd);
    else memcpy(part, file, len);
    int a = gpumem__segment_parse(file, NULL, len, &whole, NULL, why_whole, sizeof why_whole);
    int b = gpumem__segment_parse_head(part, NULL, avail, len, &head, why_head, sizeof why_head);
    free(part);
    free(file);
    /* Entries of the device table past ndevices are left undefined. */
    const size_t table = offsetof(struct gpumem_process, devices), after = table + sizeof whole.devices;
    int same = a == 0 && memcmp(&whole, &head, table) == 0 &&
               memcmp(whole.devices, head.devices, (size_t)whole.ndevices * sizeof whole.devices[0]) == 0 &&
               memcmp((char *)&whole + after, (char *)&head + after, sizeof whole - after) == 0;
    if (a != b || (a != 0 && strcmp(why_whole, why_head) != 0) || (a == 0 && !same)) {
        fprintf(stderr, "parse_head disagrees: %d (%s) vs %d (%s)\n", a, a ? why_whole : "", b, b ? why_head : "");
        abort();
    }
}

static void parse_and_render(const unsigned char *data, size_t size, unsigned variant)
{
    parse_head_agrees(data, size);
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
