/*
 * traces.c - where allocations are made, when GPUMEM_BACKTRACE=1.
 *
 * Each allocation's stack (the frames outside the shim and the CUDA
 * libraries' own wrappers) is kept once in a fixed table of distinct stacks;
 * the ledger keeps only its index. Frames are turned into text only at an
 * out-of-memory failure. Off by default: a backtrace costs microseconds.
 */
#define _GNU_SOURCE
#include "traces.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os.h"

#define FRAMES 8
#define SLOTS 4096 /* distinct stacks; further ones are not kept */

static struct trace {
    _Atomic uint64_t hash; /* 0 free */
    atomic_int ready;
    int n;
    void *frames[FRAMES];
} table[SLOTS];

static void *own_base;

/* backtrace() loads libgcc_s on first use: at load, not inside an
 * allocation. */
void gpumem__traces_init(int warm)
{
    own_base = gpumem__os_object_of((const void *)&gpumem__trace_capture);
    if (warm) {
        void *frames[2];
        gpumem__os_backtrace(frames, 2);
    }
}

uint32_t gpumem__trace_capture(void)
{
    void *raw[FRAMES + 6];
    int n = gpumem__os_backtrace(raw, FRAMES + 6);
    /* Skip the shim's own frames. */
    int first = 0;
    while (first < n && own_base && gpumem__os_object_of(raw[first]) == own_base) first++;
    int count = n - first < FRAMES ? n - first : FRAMES;
    if (count <= 0) return 0;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < count; i++) h = (h ^ (uint64_t)(uintptr_t)raw[first + i]) * 1099511628211ull;
    if (h == 0) h = 1;
    for (uint32_t k = 0, i = (uint32_t)(h % SLOTS); k < SLOTS; k++, i = (i + 1) % SLOTS) {
        struct trace *t = &table[i];
        uint64_t cur = atomic_load(&t->hash);
        if (cur == h) return i + 1;
        if (cur != 0) continue;
        if (!atomic_compare_exchange_strong(&t->hash, &cur, h)) {
            if (cur == h) return i + 1;
            continue;
        }
        memcpy(t->frames, raw + first, (size_t)count * sizeof raw[0]);
        t->n = count;
        atomic_store_explicit(&t->ready, 1, memory_order_release);
        return i + 1;
    }
    return 0;
}

void gpumem__trace_format(uint32_t id, char *out, size_t size)
{
    out[0] = '\0';
    if (id == 0 || id > SLOTS || size == 0) return;
    struct trace *t = &table[id - 1];
    if (!atomic_load_explicit(&t->ready, memory_order_acquire)) return;
    size_t used = 0;
    for (int i = 0; i < t->n && used + 1 < size; i++) {
        char line[256];
        gpumem__os_describe_address(t->frames[i], line, sizeof line);
        int w = snprintf(out + used, size - used, "%s\n", line);
        if (w < 0 || (size_t)w >= size - used) break;
        used += (size_t)w;
    }
}
