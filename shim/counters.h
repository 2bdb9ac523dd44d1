/*
 * counters.h - what an allocation, a free, a failure or a context teardown
 * does to the counters: the ledger of live allocations (ledger.h) and the
 * device figures (devices.h) move together.
 */
#ifndef GPUMEM_COUNTERS_H
#define GPUMEM_COUNTERS_H

#include <stdint.h>

#include "cuda_abi.h"
#include "gpumem_shm.h"
#include "ledger.h"

/* Ledger kinds: what a key stands for. */
enum gpumem_kind { GPUMEM_KIND_DEVICE = 1, GPUMEM_KIND_MANAGED, GPUMEM_KIND_VMM, GPUMEM_KIND_ASYNC };

/* pool: an async allocation's pool, else NULL. */
void gpumem__on_alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int device,
                      gcu_mempool pool);
/* A failed allocation: 1 when it ran out of memory on a known device (the
 * caller then writes the post-mortem, postmortem.h), else 0. */
int gpumem__on_failure(enum gpumem_api api, uint64_t bytes, int device, gcu_result result);

/* A free is booked in two halves around the real call. Before it, the key's
 * entry leaves the ledger: the driver may hand the same address or handle to
 * another thread's allocation before the free even returns, and that
 * allocation's entry must never be the one removed. After it, the claim is
 * uncharged (success) or put back (the driver refused the free). */
struct gpumem_claim {
    struct gpumem_entry e;
    int found;
    unsigned teardowns; /* context teardowns seen when the claim was made */
};
/* kind: GPUMEM_KIND_VMM for handles, any other for device pointers. */
void gpumem__free_begin(enum gpumem_kind kind, uint64_t key, struct gpumem_claim *c);
void gpumem__free_end(enum gpumem_api api, uint64_t key, struct gpumem_claim *c, int ok);

/* A context teardown freed memory without a free per allocation: forget and
 * uncharge every entry (of the given kinds, on device, or all devices when
 * device < 0) whose memory the driver no longer has, then re-read the pools. */
#define GPUMEM_SWEEP_CONTEXT_BOUND ((1u << GPUMEM_KIND_DEVICE) | (1u << GPUMEM_KIND_MANAGED))
#define GPUMEM_SWEEP_ALL (GPUMEM_SWEEP_CONTEXT_BOUND | (1u << GPUMEM_KIND_VMM) | (1u << GPUMEM_KIND_ASYNC))
void gpumem__teardown(enum gpumem_api api, int device, unsigned kinds);

/* Calls fn on every live allocation (a copy), one ledger shard at a time. */
void gpumem__census(void (*fn)(const struct gpumem_entry *, void *), void *ctx);

/* fork(): the ledger locks are held across it; the child starts with
 * counters of its own, since nothing it inherited belongs to it (CUDA does
 * not survive fork). */
void gpumem__counters_before_fork(void);
void gpumem__counters_after_fork_parent(void);
void gpumem__counters_after_fork_child(void);

#endif /* GPUMEM_COUNTERS_H */
