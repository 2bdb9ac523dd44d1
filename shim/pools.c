/*
 * pools.c - stream-ordered pools: what each pool reserves is charged, as the
 * driver reports it, to the pool's device (see pools.h).
 */
#define _GNU_SOURCE
#include "pools.h"

#include "devices.h"
#include "driver.h"
#include "os.h"

#define POOL_SLOTS 64
/* A pool's reserve is followed at 2 MiB granules, the driver's smallest:
 * what lies within one granule of the memory in use is not given back. */
#define POOL_GRANULE (UINT64_C(2) << 20)
static struct pool_slot {
    atomic_int lock;
    _Atomic(uintptr_t) pool; /* 0 free */
    int device;
    uint64_t charged;
    atomic_int pending;  /* frees since the reserve was last seen settled */
    uint32_t frees;      /* frees from this pool, and as many at the last */
    uint32_t frees_seen; /* synchronisation that re-read it               */
    uint32_t quiet;      /* synchronisations since that changed nothing   */
} pool_slots[POOL_SLOTS];
static atomic_int slots_lock; /* taking a free slot for a new pool */
atomic_int gpumem__pools_pending;

/* Held across a driver call (the pool's reserve): waiters yield the CPU
 * rather than spin through it. */
static void spin_lock(atomic_int *l)
{
    for (unsigned spins = 0; atomic_exchange_explicit(l, 1, memory_order_acquire);)
        while (atomic_load_explicit(l, memory_order_relaxed))
            if (++spins > 64) gpumem__os_yield();
}

static void spin_unlock(atomic_int *l) { atomic_store_explicit(l, 0, memory_order_release); }

/* A pool's charge changes under its slot's lock. A change can raise an
 * alarm, whose callback may well use the same pool (free a cache, then
 * synchronise): callbacks run only when the hook returns (alarm.h), after
 * every lock is released. */
static void slot_lock(struct pool_slot *s) { spin_lock(&s->lock); }
static int slot_trylock(struct pool_slot *s) { return !atomic_exchange_explicit(&s->lock, 1, memory_order_acquire); }
static void slot_unlock(struct pool_slot *s) { spin_unlock(&s->lock); }

static struct pool_slot *pool_find(uintptr_t key)
{
    for (int i = 0; i < POOL_SLOTS; i++)
        if (atomic_load(&pool_slots[i].pool) == key) return &pool_slots[i];
    return NULL;
}

static struct pool_slot *pool_slot(gcu_mempool pool, int create)
{
    uintptr_t key = (uintptr_t)pool;
    struct pool_slot *found = pool_find(key);
    if (found || !create) return found;
    /* One thread at a time takes a slot, after looking again: two threads
     * meeting a new pool at once share one slot. */
    spin_lock(&slots_lock);
    found = pool_find(key);
    for (int i = 0; !found && i < POOL_SLOTS; i++) {
        struct pool_slot *s = &pool_slots[i];
        if (atomic_load(&s->pool) != 0) continue;
        slot_lock(s);
        s->device = -1;
        s->charged = 0;
        s->frees = s->frees_seen = s->quiet = 0;
        if (atomic_exchange(&s->pending, 0)) atomic_fetch_sub(&gpumem__pools_pending, 1);
        atomic_store(&s->pool, key);
        slot_unlock(s);
        found = s;
    }
    spin_unlock(&slots_lock);
    return found;
}

/* A pool as the ledger stores it: its slot + 1, or 0 when it has none. If
 * the pool is destroyed and its slot reused before the free, the free
 * re-reads the other pool's reserve: a harmless refresh. */
uint8_t gpumem__pool_index(gcu_mempool pool)
{
    struct pool_slot *s = pool_slot(pool, 1);
    return s ? (uint8_t)(s - pool_slots + 1) : 0;
}

void gpumem__pool_register(gcu_mempool pool, int device)
{
    struct pool_slot *s = pool_slot(pool, 1);
    if (!s) return;
    slot_lock(s);
    s->device = device;
    slot_unlock(s);
}

int gpumem__pool_device(gcu_mempool pool)
{
    struct pool_slot *s = pool ? pool_slot(pool, 0) : NULL;
    if (!s) return -1;
    slot_lock(s);
    int device = s->device;
    slot_unlock(s);
    return device;
}

/* Re-read the slot's pool's reserve and charge the difference; the caller
 * holds the slot's lock, so two threads never apply stale differences.
 * Returns the reserve, or UINT64_MAX when the driver could not say (why, if
 * not NULL, gets its answer). */
static uint64_t slot_update(struct pool_slot *s, gcu_mempool pool, int device, gcu_result *why)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (device < 0) device = s->device >= 0 ? s->device : gpumem__current_device();
    uint64_t reserved = 0;
    gcu_result r = (unsigned)device < GPUMEM_SHM_DEVICE_SLOTS
                       ? drv->mem_pool_get_attribute(pool, GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved)
                       : GCU_ERROR_NOT_FOUND; /* no device to charge: not a sign the pool is gone */
    if (why) *why = r;
    if (r != GCU_SUCCESS) return UINT64_MAX;
    if (s->device < 0) s->device = device;
    const struct gpumem_shm_device *d = gpumem__device(device);
    if (d && reserved > s->charged) gpumem__device_charge(device, d, reserved - s->charged, gpumem__os_mono_ns());
    else if (d && reserved < s->charged)
        gpumem__device_uncharge(device, d, s->charged - reserved, gpumem__os_mono_ns());
    s->charged = reserved;
    return reserved;
}

/* Charge the pool's reserve as the driver reports it now. */
void gpumem__pool_update(gcu_mempool pool, int device)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (!pool || !drv->mem_pool_get_attribute) return;
    struct pool_slot *s = pool_slot(pool, 1);
    if (!s) {
        gpumem__seg_untracked();
        return;
    }
    slot_lock(s);
    if (atomic_load(&s->pool) == (uintptr_t)pool) slot_update(s, pool, device, NULL);
    slot_unlock(s);
}

/* Free the slot, uncharging what it held; the caller holds its lock. */
static void slot_release(struct pool_slot *s)
{
    const struct gpumem_shm_device *d = gpumem__device(s->device);
    if (d && s->charged) gpumem__device_uncharge(s->device, d, s->charged, gpumem__os_mono_ns());
    s->charged = 0;
    if (atomic_exchange(&s->pending, 0)) atomic_fetch_sub(&gpumem__pools_pending, 1);
    atomic_store(&s->pool, 0);
}

void gpumem__pool_forget(gcu_mempool pool)
{
    struct pool_slot *s = pool_slot(pool, 0);
    if (!s) return;
    slot_lock(s);
    if (atomic_load(&s->pool) == (uintptr_t)pool) slot_release(s);
    slot_unlock(s);
}

/* A free from the pool in slot index - 1: its reserve may shrink now (a
 * trim, a destroyed pool) or at the next synchronisation. The slot is
 * re-read as it is: never re-created for a pool destroyed meanwhile (and
 * should another pool have taken it, that one is merely re-read). */
void gpumem__pool_freed(uint8_t index)
{
    const struct gpumem_driver *drv = gpumem__driver();
    struct pool_slot *s = &pool_slots[index - 1];
    slot_lock(s);
    gcu_mempool pool = (gcu_mempool)atomic_load(&s->pool);
    if (pool) {
        s->frees++;
        if (!atomic_load_explicit(&s->pending, memory_order_relaxed) && !atomic_exchange(&s->pending, 1))
            atomic_fetch_add(&gpumem__pools_pending, 1);
        if (drv->mem_pool_get_attribute) slot_update(s, pool, -1, NULL);
    }
    slot_unlock(s);
}

/* The driver gives back what a pool holds beyond its release threshold at
 * a stream, event or context synchronisation. Each pool with frees since
 * its reserve settled is read again. It settles once it holds no more than
 * its threshold or the granules its memory in use needs, or after
 * SETTLE_QUIET synchronisations in a row that neither changed its reserve
 * nor followed a new free (a real pool may keep chunks that still hold a
 * live block). A slot another thread is updating is left for the next
 * synchronisation: a synchronisation never waits here. */
#define SETTLE_QUIET 4
void gpumem__pools_synchronized(void)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (!drv->mem_pool_get_attribute) return;
    for (int i = 0; i < POOL_SLOTS; i++) {
        struct pool_slot *s = &pool_slots[i];
        if (!atomic_load_explicit(&s->pending, memory_order_relaxed)) continue;
        if (!slot_trylock(s)) continue;
        gcu_mempool pool = (gcu_mempool)atomic_load(&s->pool);
        uint64_t before = s->charged, threshold = 0, used = 0;
        uint64_t reserved = pool ? slot_update(s, pool, -1, NULL) : UINT64_MAX;
        int settled = reserved == UINT64_MAX ||
                      drv->mem_pool_get_attribute(pool, GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold) !=
                          GCU_SUCCESS ||
                      drv->mem_pool_get_attribute(pool, GCU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used) != GCU_SUCCESS;
        uint64_t in_use = used > UINT64_MAX - POOL_GRANULE ? used : (used + POOL_GRANULE - 1) & ~(POOL_GRANULE - 1);
        s->quiet = reserved == before && s->frees == s->frees_seen ? s->quiet + 1 : 0;
        s->frees_seen = s->frees;
        if (settled || reserved <= threshold || reserved <= in_use || s->quiet >= SETTLE_QUIET) {
            s->quiet = 0;
            if (atomic_exchange(&s->pending, 0)) atomic_fetch_sub(&gpumem__pools_pending, 1);
        }
        slot_unlock(s);
    }
}

void gpumem__pools_teardown(int device)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (!drv->mem_pool_get_attribute) return;
    for (int i = 0; i < POOL_SLOTS; i++) {
        struct pool_slot *s = &pool_slots[i];
        slot_lock(s);
        gcu_mempool pool = (gcu_mempool)atomic_load(&s->pool);
        gcu_result why = GCU_SUCCESS;
        if (pool && (device < 0 || s->device == device) && slot_update(s, pool, -1, &why) == UINT64_MAX &&
            why == GCU_ERROR_INVALID_VALUE)
            slot_release(s);
        slot_unlock(s);
    }
}

void gpumem__pools_after_fork_child(void)
{
    for (int i = 0; i < POOL_SLOTS; i++) {
        atomic_store(&pool_slots[i].lock, 0);
        atomic_store(&pool_slots[i].pool, 0);
        atomic_store(&pool_slots[i].pending, 0);
        pool_slots[i].charged = 0;
    }
    atomic_store(&slots_lock, 0);
    atomic_store(&gpumem__pools_pending, 0);
}
