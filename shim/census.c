/* census.c - see census.h. */
#define _GNU_SOURCE
#include "census.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment_read.h"

void gpumem__census_count(const struct gpumem_entry *e, void *ctx)
{
    struct gpumem_census *c = ctx;
    c->live++;
    unsigned k = e->bytes ? 63u - (unsigned)__builtin_clzll(e->bytes) : 0;
    if (k >= GPUMEM_SHM_HISTOGRAM_BINS) k = GPUMEM_SHM_HISTOGRAM_BINS - 1;
    c->hist_count[k]++;
    c->hist_bytes[k] += e->bytes;
    /* Keep the largest, sorted, by insertion. */
    uint32_t at = c->ntop;
    while (at > 0 && c->top[at - 1].bytes < e->bytes) at--;
    if (at >= GPUMEM_SHM_LARGE_SLOTS) return;
    uint32_t n = c->ntop < GPUMEM_SHM_LARGE_SLOTS ? c->ntop : GPUMEM_SHM_LARGE_SLOTS - 1;
    memmove(&c->top[at + 1], &c->top[at], (n - at) * sizeof c->top[0]);
    memmove(&c->top_trace[at + 1], &c->top_trace[at], (n - at) * sizeof c->top_trace[0]);
    c->top[at] = (struct gpumem_shm_large){ .address = e->key,
                                            .bytes = e->bytes,
                                            .unix_ns = e->unix_ns,
                                            .device = e->device,
                                            .api = e->api };
    c->top_trace[at] = e->trace;
    if (c->ntop < GPUMEM_SHM_LARGE_SLOTS) c->ntop++;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void gpumem__census_environment(char *const *env, char *out, size_t size)
{
    static const char *const exact[] = { "PYTORCH_CUDA_ALLOC_CONF",       "PYTORCH_ALLOC_CONF",
                                         "CUDA_VISIBLE_DEVICES",          "CUDA_DEVICE_ORDER",
                                         "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION",
                                         "XLA_PYTHON_CLIENT_ALLOCATOR",   "TF_FORCE_GPU_ALLOW_GROWTH",
                                         "CUPY_GPU_MEMORY_LIMIT" };
    const char *picked[64];
    size_t npicked = 0, used = 0;
    out[0] = '\0';
    for (char *const *e = env; e && *e && npicked < 64; e++) {
        int wanted = strncmp(*e, "GPUMEM_", 7) == 0;
        for (size_t i = 0; !wanted && i < sizeof exact / sizeof exact[0]; i++) {
            size_t n = strlen(exact[i]);
            wanted = strncmp(*e, exact[i], n) == 0 && (*e)[n] == '=';
        }
        if (wanted) picked[npicked++] = *e;
    }
    qsort(picked, npicked, sizeof picked[0], by_name);
    for (size_t i = 0; i < npicked; i++) {
        int n = snprintf(out + used, size - used, "%s\n", picked[i]);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
}

/* Oldest first by the monotonic clock (indices are claimed in batches per
 * thread, so index order is not time order across threads; the wall clock
 * may step), then by index. */
static int by_time(const void *a, const void *b)
{
    const struct gpumem_shm_event *x = a, *y = b;
    if (x->mono_ns != y->mono_ns) return x->mono_ns < y->mono_ns ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* all: one post-mortem runs at a time (postmortem.c holds its lock). */
uint32_t gpumem__census_events(const struct gpumem_shm_segment *s, struct gpumem_shm_event *out, uint32_t max)
{
    static struct gpumem_shm_event all[GPUMEM_SHM_EVENT_SLOTS];
    uint64_t head = __atomic_load_n(&s->header.events_head, __ATOMIC_ACQUIRE);
    uint64_t first = head > GPUMEM_SHM_EVENT_SLOTS ? head - GPUMEM_SHM_EVENT_SLOTS : 0;
    uint32_t n = 0;
    for (uint64_t j = first; j < head; j++) {
        const struct gpumem_shm_event *e = &s->events[j & (GPUMEM_SHM_EVENT_SLOTS - 1)];
        if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != j + 1) continue;
        gpumem__segment_copy_words((uint64_t *)&all[n], e, sizeof *e);
        if (__atomic_load_n(&e->seq, __ATOMIC_ACQUIRE) != j + 1) continue;
        n++;
    }
    qsort(all, n, sizeof all[0], by_time);
    uint32_t keep = n < max ? n : max;
    memcpy(out, all + (n - keep), keep * sizeof all[0]);
    return keep;
}
