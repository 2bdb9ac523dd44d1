/*
 * pools.h - stream-ordered pools. A pool's reserve, not each allocation
 * from it, is device memory: it is charged as the driver reports it after
 * each allocation and free from the pool, at a trim, and at the
 * synchronisations where the driver gives freed memory back.
 */
#ifndef GPUMEM_POOLS_H
#define GPUMEM_POOLS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cuda_abi.h"

/* device -1: the pool's known device, else the current one. */
void gpumem__pool_update(gcu_mempool pool, int device);
void gpumem__pool_forget(gcu_mempool pool);
/* The device whose memory a pool holds, once known (-1 before). */
void gpumem__pool_register(gcu_mempool pool, int device);
int gpumem__pool_device(gcu_mempool pool);
/* A pool as the ledger stores it: its slot + 1, or 0 when it has none. */
uint8_t gpumem__pool_index(gcu_mempool pool);
/* A free from the pool of that index: its reserve may shrink now or at
 * the next synchronisation. */
void gpumem__pool_freed(uint8_t index);
/* Pools whose frees the driver may give back at the next synchronisation:
 * the synchronisation hooks read them only while this is not 0. */
extern atomic_int gpumem__pools_pending;
void gpumem__pools_synchronized(void);
/* After a context teardown (device < 0: any): a pool the driver no longer
 * knows is forgotten and uncharged; the others are re-read. */
void gpumem__pools_teardown(int device);
void gpumem__pools_after_fork_child(void);

#endif /* GPUMEM_POOLS_H */
