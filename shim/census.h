/*
 * census.h - what a post-mortem records about the moment of failure, as
 * pure functions: the live allocations (count, a size histogram, the
 * largest), the allocator environment, and the last events of the ring.
 */
#ifndef GPUMEM_CENSUS_H
#define GPUMEM_CENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "gpumem_shm.h"
#include "ledger.h"

struct gpumem_census {
    struct gpumem_shm_large top[GPUMEM_SHM_LARGE_SLOTS]; /* largest first */
    uint32_t top_trace[GPUMEM_SHM_LARGE_SLOTS];
    uint32_t ntop;
    uint64_t live;
    uint64_t hist_count[GPUMEM_SHM_HISTOGRAM_BINS], hist_bytes[GPUMEM_SHM_HISTOGRAM_BINS];
};

/* Adds one live allocation (ctx: a struct gpumem_census, zeroed first). */
void gpumem__census_count(const struct gpumem_entry *e, void *ctx);
/* The variables of env that shape allocators (GPUMEM_*, PYTORCH_CUDA_ALLOC_CONF,
 * CUDA_VISIBLE_DEVICES, ...), sorted, as NAME=value lines. */
void gpumem__census_environment(char *const *env, char *out, size_t size);
/* The last events of a live ring, oldest first: each slot is taken only if
 * its sequence is the same before and after the copy. At most max. */
uint32_t gpumem__census_events(const struct gpumem_shm_segment *s, struct gpumem_shm_event *out, uint32_t max);

#endif /* GPUMEM_CENSUS_H */
