/*
 * counters.c - what an allocation or a free does to the counters.
 *
 * The ledger remembers every live allocation (size, device, API, time) so a
 * free needs nothing but its pointer or handle; the counters themselves are
 * fields of the shared-memory segment, updated with relaxed atomics.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "shim.h"

__thread struct gpumem_thread gpumem__thread __attribute__((tls_model("initial-exec")));

static struct gpumem_ledger pointers; /* device pointers: plain, managed, async */
static struct gpumem_ledger handles;  /* cuMemCreate handles */
static atomic_int info_state[GPUMEM_SHM_DEVICE_SLOTS]; /* 0 none, 1 filling, 2 done */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

uint64_t gpumem__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void format_uuid(char *out, size_t n, const unsigned char *b)
{
    snprintf(out, n, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Total, UUID, PCI bus id and name, once per device and process: written
 * before the INFO flag that publishes them. */
static void device_describe(int dev, struct gpumem_shm_device *d)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&info_state[dev], &expected, 1)) return;
    const struct gpumem_driver *drv = gpumem__driver();
    size_t total = 0;
    if (!drv->device_total_mem || drv->device_total_mem(&total, dev) != GCU_SUCCESS) {
        atomic_store(&info_state[dev], 0);
        return;
    }
    gcu_uuid uuid;
    if (drv->device_get_uuid && drv->device_get_uuid(&uuid, dev) == GCU_SUCCESS)
        format_uuid(d->uuid, sizeof d->uuid, (const unsigned char *)uuid.bytes);
    if (drv->device_get_pci_bus_id) drv->device_get_pci_bus_id(d->pci_bus_id, sizeof d->pci_bus_id - 1, dev);
    if (drv->device_get_name) drv->device_get_name(d->name, sizeof d->name - 1, dev);
    __atomic_store_n(&d->total_bytes, (uint64_t)total, __ATOMIC_RELAXED);
    gpumem__alarm_limits(dev, total);
    __atomic_fetch_or(&d->flags, GPUMEM_SHM_DEVICE_INFO, __ATOMIC_RELEASE);
    atomic_store(&info_state[dev], 2);
}

/* A device's first use: mark it active and describe it. */
static __attribute__((noinline, cold)) void device_first_use(int dev, struct gpumem_shm_device *d)
{
    if (!(LOAD(&d->flags) & GPUMEM_SHM_DEVICE_ACTIVE)) {
        __atomic_store_n(&d->ordinal, dev, __ATOMIC_RELAXED);
        __atomic_fetch_or(&d->flags, GPUMEM_SHM_DEVICE_ACTIVE, __ATOMIC_RELEASE);
    }
    device_describe(dev, d);
}

/* The device's counters in the segment, NULL for an ordinal out of range. */
static inline struct gpumem_shm_device *device_of(int dev)
{
    if ((unsigned)dev >= GPUMEM_SHM_DEVICE_SLOTS) return NULL;
    struct gpumem_shm_device *d = &gpumem__segment()->devices[dev];
    if (GM_UNLIKELY(!(LOAD(&d->flags) & GPUMEM_SHM_DEVICE_INFO))) device_first_use(dev, d);
    return d;
}

/* Event indices are claimed a few at a time per thread, so that threads
 * do not all contend on the ring's head for every event. A thread uses its
 * batch only while the ring has not moved on more than a few batches past
 * it: one that allocates rarely never writes an index the ring has long
 * wrapped past (over newer events), and its events stay within a few of
 * the newest. A failure takes the newest index of all: the event a
 * post-mortem must show. */
#define EVENT_BATCH 8
#define EVENT_STALE (4 * EVENT_BATCH)
static __thread struct {
    uint64_t next, end;
    struct gpumem_shm_segment *seg;
} claimed __attribute__((tls_model("initial-exec")));

static uint64_t event_index(struct gpumem_shm_segment *s, int newest)
{
    if (GM_UNLIKELY(newest)) return ADD(&s->header.events_head, 1);
    if (GM_LIKELY(claimed.next != claimed.end && claimed.seg == s &&
                  LOAD(&s->header.events_head) - claimed.next <= EVENT_STALE))
        return claimed.next++;
    claimed.next = ADD(&s->header.events_head, EVENT_BATCH);
    claimed.end = claimed.next + EVENT_BATCH;
    claimed.seg = s;
    return claimed.next++;
}

/* Append to the event ring: seq 0 while the entry changes, release stores
 * keep that order, seq = index + 1 publishes it. */
static void event(uint8_t op, enum gpumem_api api, int device, uint64_t bytes, uint64_t address, int32_t result,
                  uint64_t now)
{
    struct gpumem_shm_segment *s = gpumem__segment();
    uint64_t i = event_index(s, result != 0);
    struct gpumem_shm_event *e = &s->events[i & (GPUMEM_SHM_EVENT_SLOTS - 1)];
    __atomic_store_n(&e->seq, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->unix_ns, now, __ATOMIC_RELEASE);
    __atomic_store_n(&e->bytes, bytes, __ATOMIC_RELEASE);
    __atomic_store_n(&e->address, address, __ATOMIC_RELEASE);
    __atomic_store_n(&e->result, result, __ATOMIC_RELEASE);
    __atomic_store_n(&e->device, (int16_t)device, __ATOMIC_RELEASE);
    __atomic_store_n(&e->api, (uint8_t)api, __ATOMIC_RELEASE);
    __atomic_store_n(&e->op, op, __ATOMIC_RELEASE);
    __atomic_store_n(&e->seq, i + 1, __ATOMIC_RELEASE);
}

/* reserved += bytes, keeping the peak. */
static void charge(int dev, struct gpumem_shm_device *d, uint64_t bytes)
{
    /* Sequentially consistent, like the level's own compare-and-swap: a
     * thread that changes reserved and then finds the level unchanged, and
     * one that changes the level and then re-reads reserved, cannot both
     * miss the other's change (alarm.c). */
    uint64_t now = __atomic_add_fetch(&d->reserved_bytes, bytes, __ATOMIC_SEQ_CST);
    uint64_t peak = LOAD(&d->peak_bytes);
    while (now > peak) {
        if (__atomic_compare_exchange_n(&d->peak_bytes, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            __atomic_store_n(&d->peak_unix_ns, gpumem__now_ns(), __ATOMIC_RELAXED);
            break;
        }
    }
    gpumem__level_update(dev, d, now);
}

/* *field -= bytes, never below zero; returns the new value. */
static uint64_t subtract(uint64_t *field, uint64_t bytes)
{
    uint64_t cur = LOAD(field), next;
    do {
        next = cur > bytes ? cur - bytes : 0;
    } while (!__atomic_compare_exchange_n(field, &cur, next, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return next;
}

static void uncharge(int dev, struct gpumem_shm_device *d, uint64_t bytes)
{
    gpumem__level_update(dev, d, subtract(&d->reserved_bytes, bytes));
}

static void untracked(void)
{
    ADD(&gpumem__segment()->header.untracked_count, 1);
}

/* Undo what a remembered entry charged. */
static void release_entry(const struct gpumem_entry *e)
{
    struct gpumem_shm_device *d = device_of(e->device);
    if (!d) return;
    if (e->kind == GPUMEM_KIND_DEVICE || e->kind == GPUMEM_KIND_VMM) uncharge(e->device, d, e->bytes);
    else if (e->kind == GPUMEM_KIND_MANAGED) subtract(&d->managed_bytes, e->bytes);
    ADD(&d->free_count, 1);
}

static uint8_t pool_index(gcu_mempool pool);

void gpumem__on_alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int device,
                      gcu_mempool pool)
{
    struct gpumem_thread *th = &gpumem__thread;
    if (kind == GPUMEM_KIND_VMM) th->driver_handle = 1;
    else th->driver_key = key;
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    struct gpumem_shm_device *d = device_of(device);
    if (!d) { untracked(); return; }
    struct gpumem_entry e = { .key = key, .bytes = bytes, .unix_ns = gpumem__now_ns(),
                              .trace = GM_UNLIKELY(gpumem__opt.backtrace) ? gpumem__trace_capture() : 0,
                              .device = (int8_t)device, .kind = (uint8_t)kind, .api = (uint8_t)api,
                              .pool = pool ? pool_index(pool) : 0 };
    struct gpumem_entry old;
    int rc = gpumem_ledger_insert(kind == GPUMEM_KIND_VMM ? &handles : &pointers, &e, &old);
    if (rc < 0) { untracked(); return; } /* what cannot be remembered is not counted */
    if (rc == 1) release_entry(&old);     /* the driver reused a key whose free we missed */
    event(GPUMEM_OP_ALLOC, api, device, bytes, key, 0, e.unix_ns);
    if (kind == GPUMEM_KIND_DEVICE || kind == GPUMEM_KIND_VMM) charge(device, d, bytes);
    else if (kind == GPUMEM_KIND_MANAGED) ADD(&d->managed_bytes, bytes);
    ADD(&d->alloc_count, 1);
}

static void pool_freed(uint8_t index);
static void forget_if_gone(int is_handle, uint64_t key, uint64_t *freed, uint32_t *count);

/* Teardowns so far: a free whose claim spans one re-checks what it puts back. */
static atomic_uint teardowns;

void gpumem__free_begin(enum gpumem_kind kind, uint64_t key, struct gpumem_claim *c)
{
    c->teardowns = atomic_load_explicit(&teardowns, memory_order_relaxed);
    c->found = key != 0 && gpumem_ledger_remove(kind == GPUMEM_KIND_VMM ? &handles : &pointers, key, &c->e);
    if (!c->found) c->e.kind = (uint8_t)kind;
}

void gpumem__free_end(enum gpumem_api api, uint64_t key, struct gpumem_claim *c, int ok)
{
    struct gpumem_thread *th = &gpumem__thread;
    int is_handle = c->e.kind == GPUMEM_KIND_VMM;
    if (is_handle) th->driver_handle = 1;
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    if (!ok) {
        /* The driver refused: the memory is still there. Should the key be
         * live again (a stale entry), the newer one stays. */
        if (!c->found) return;
        if (gpumem_ledger_restore(is_handle ? &handles : &pointers, &c->e) != 0) {
            release_entry(&c->e);
            return;
        }
        /* Refused because a teardown freed it meanwhile, while the entry was
         * out of the ledger where its sweep could not see it: asked after
         * putting it back, so that either this or the sweep finds it. */
        if (atomic_load(&teardowns) != c->teardowns) forget_if_gone(is_handle, key, NULL, NULL);
        return;
    }
    if (key == 0) return;
    if (!c->found) {
        /* A released handle the shim never charged is host memory, not an
         * unknown free. */
        if (is_handle) return;
        int device = gpumem__current_device();
        struct gpumem_shm_device *d = device_of(device);
        if (d) ADD(&d->unknown_free_count, 1);
        event(GPUMEM_OP_FREE, api, device, 0, key, 0, gpumem__now_ns());
        return;
    }
    event(GPUMEM_OP_FREE, api, c->e.device, c->e.bytes, key, 0, gpumem__now_ns());
    release_entry(&c->e);
    if (c->e.kind == GPUMEM_KIND_ASYNC && c->e.pool) pool_freed(c->e.pool);
}

void gpumem__on_failure(enum gpumem_api api, uint64_t bytes, int device, gcu_result result)
{
    struct gpumem_thread *th = &gpumem__thread;
    th->driver_key = UINT64_MAX; /* tells the runtime layer the failure was seen */
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    event(GPUMEM_OP_ALLOC, api, device, bytes, 0, (int32_t)result, gpumem__now_ns());
    if (result != GCU_ERROR_OUT_OF_MEMORY) return;
    struct gpumem_shm_device *d = device_of(device);
    ADD(&gpumem__segment()->header.oom_count, 1);
    if (!d) return;
    ADD(&d->failed_count, 1);
    /* What the driver says is free, when the failing device is the current one. */
    const struct gpumem_driver *drv = gpumem__driver();
    size_t free_bytes = 0, total_bytes = 0;
    int have_info = drv->mem_get_info && gpumem__current_device() == device &&
                    drv->mem_get_info(&free_bytes, &total_bytes) == GCU_SUCCESS;
    if (!have_info) free_bytes = total_bytes = 0;
    char report[640];
    gpumem__postmortem(api, bytes, device, result, free_bytes, total_bytes, report, sizeof report);
    char want[32], held[32], total[32], free_text[48] = "";
    gm_format_size(want, sizeof want, bytes);
    gm_format_gb(held, sizeof held, LOAD(&d->reserved_bytes));
    gm_format_gb(total, sizeof total, LOAD(&d->total_bytes));
    if (have_info) {
        char f[32];
        gm_format_gb(f, sizeof f, free_bytes);
        snprintf(free_text, sizeof free_text, ", driver free %s", f);
    }
    gpumem__log("OOM cuda:%d Tried to allocate %s; reserved %s / %s%s; report %s", device, want, held, total, free_text,
                report);
}

void gpumem__census(void (*fn)(const struct gpumem_entry *, void *), void *ctx)
{
    gpumem_ledger_foreach(&pointers, fn, ctx);
    gpumem_ledger_foreach(&handles, fn, ctx);
}

/* ---- stream-ordered pools: charge what each pool reserves -------------- */

#define POOL_SLOTS 64
/* A pool's reserve is followed at 2 MiB granules, the driver's smallest:
 * what lies within one granule of the memory in use is not given back. */
#define POOL_GRANULE (UINT64_C(2) << 20)
static struct pool_slot {
    atomic_int lock;
    _Atomic(uintptr_t) pool; /* 0 free */
    int device;
    uint64_t charged;
    atomic_int pending;      /* frees since the reserve was last seen settled */
    uint32_t frees;          /* frees from this pool, and as many at the last */
    uint32_t frees_seen;     /* synchronisation that re-read it               */
    uint32_t quiet;          /* synchronisations since that changed nothing   */
} pool_slots[POOL_SLOTS];
static atomic_int slots_lock; /* taking a free slot for a new pool */
atomic_int gpumem__pools_pending;

/* Held across a driver call (the pool's reserve): waiters yield the CPU
 * rather than spin through it. */
static void spin_lock(atomic_int *l)
{
    for (unsigned spins = 0; atomic_exchange_explicit(l, 1, memory_order_acquire);)
        while (atomic_load_explicit(l, memory_order_relaxed))
            if (++spins > 64) sched_yield();
}

static void spin_unlock(atomic_int *l) { atomic_store_explicit(l, 0, memory_order_release); }

/* A pool's charge changes under its slot's lock, and a change can raise an
 * alarm, whose callback may well use the same pool (free a cache, then
 * synchronise): the callbacks wait until the lock is released. */
static void slot_lock(struct pool_slot *s)
{
    gpumem__thread.defer_alarms++;
    spin_lock(&s->lock);
}

static int slot_trylock(struct pool_slot *s)
{
    if (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) return 0;
    gpumem__thread.defer_alarms++;
    return 1;
}

static void slot_unlock(struct pool_slot *s)
{
    spin_unlock(&s->lock);
    if (--gpumem__thread.defer_alarms == 0) gpumem__alarm_flush();
}

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
static uint8_t pool_index(gcu_mempool pool)
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
    struct gpumem_shm_device *d = device_of(device);
    if (d && reserved > s->charged) charge(device, d, reserved - s->charged);
    else if (d && reserved < s->charged) uncharge(device, d, s->charged - reserved);
    s->charged = reserved;
    return reserved;
}

/* Charge the pool's reserve as the driver reports it now. */
void gpumem__pool_update(gcu_mempool pool, int device)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (!pool || !drv->mem_pool_get_attribute) return;
    struct pool_slot *s = pool_slot(pool, 1);
    if (!s) { untracked(); return; }
    slot_lock(s);
    if (atomic_load(&s->pool) == (uintptr_t)pool) slot_update(s, pool, device, NULL);
    slot_unlock(s);
}

/* Free the slot, uncharging what it held; the caller holds its lock. */
static void slot_release(struct pool_slot *s)
{
    struct gpumem_shm_device *d = device_of(s->device);
    if (d && s->charged) uncharge(s->device, d, s->charged);
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
static void pool_freed(uint8_t index)
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
                      drv->mem_pool_get_attribute(pool, GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold) != GCU_SUCCESS ||
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

/* ---- context teardown ---------------------------------------------------- */

struct sweep {
    struct gpumem_entry *list;
    size_t n, cap;
    int device;
    unsigned kinds;
};

/* Runs under a ledger shard's lock: no allocation here, the list is sized
 * before; what does not fit was allocated after the teardown began. */
static void sweep_collect(const struct gpumem_entry *e, void *ctx)
{
    struct sweep *w = ctx;
    if ((w->device >= 0 && e->device != w->device) || !(w->kinds & (1u << e->kind)) || w->n == w->cap) return;
    w->list[w->n++] = *e;
}

/* Only the driver's "no such allocation" counts as gone: any other error
 * (no current context, a driver being torn down) keeps the entry. */
static int entry_gone(const struct gpumem_driver *drv, const struct gpumem_entry *e)
{
    if (e->kind == GPUMEM_KIND_VMM) {
        gcu_mem_allocation_prop prop;
        return drv->handle_properties && drv->handle_properties(&prop, e->key) == GCU_ERROR_INVALID_VALUE;
    }
    unsigned int type = 0;
    return drv->pointer_get_attribute &&
           drv->pointer_get_attribute(&type, GCU_POINTER_ATTRIBUTE_MEMORY_TYPE, e->key) == GCU_ERROR_INVALID_VALUE;
}

/* Forget and uncharge key's entry if the driver says its memory is gone.
 * The driver is asked outside the ledger's locks, and the entry is removed
 * only if its shard did not change meanwhile: an allocation that got the
 * same address in between (even one identical in every field) is never
 * the one removed. Bounded retries; freed and count (per device) if given. */
static void forget_if_gone(int is_handle, uint64_t key, uint64_t *freed, uint32_t *count)
{
    const struct gpumem_driver *drv = gpumem__driver();
    struct gpumem_ledger *l = is_handle ? &handles : &pointers;
    for (int tries = 0; tries < 8; tries++) {
        struct gpumem_entry e;
        uint32_t version;
        if (!gpumem_ledger_find_version(l, key, &e, &version) || !entry_gone(drv, &e)) return;
        if (!gpumem_ledger_remove_unchanged(l, key, version, &e)) continue;
        release_entry(&e);
        if (freed && (unsigned)e.device < GPUMEM_SHM_DEVICE_SLOTS) {
            if (e.kind == GPUMEM_KIND_DEVICE || e.kind == GPUMEM_KIND_VMM) freed[e.device] += e.bytes;
            count[e.device]++;
        }
        return;
    }
}

void gpumem__teardown(enum gpumem_api api, int device, unsigned kinds)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (gpumem__thread.runtime_api) api = (enum gpumem_api)gpumem__thread.runtime_api;
    atomic_fetch_add(&teardowns, 1); /* before looking: see gpumem__free_end */
    int with_handles = (kinds & (1u << GPUMEM_KIND_VMM)) != 0;
    size_t live = gpumem_ledger_count(&pointers) + (with_handles ? gpumem_ledger_count(&handles) : 0);
    struct sweep w = { .device = device, .kinds = kinds, .cap = live + live / 4 + 64 };
    w.list = malloc(w.cap * sizeof *w.list);
    if (!w.list) { untracked(); return; } /* out of host memory: what was not looked at stays charged */
    gpumem_ledger_foreach(&pointers, sweep_collect, &w);
    if (with_handles) gpumem_ledger_foreach(&handles, sweep_collect, &w);
    uint64_t freed[GPUMEM_SHM_DEVICE_SLOTS] = { 0 };
    uint32_t count[GPUMEM_SHM_DEVICE_SLOTS] = { 0 };
    for (size_t i = 0; i < w.n; i++)
        forget_if_gone(w.list[i].kind == GPUMEM_KIND_VMM, w.list[i].key, freed, count);
    free(w.list);
    uint64_t now = gpumem__now_ns();
    for (int dev = 0; dev < (int)GPUMEM_SHM_DEVICE_SLOTS; dev++)
        if (count[dev]) event(GPUMEM_OP_FREE, api, dev, freed[dev], 0, 0, now);
    /* A pool the teardown destroyed is forgotten; the others are re-read. */
    if (!(kinds & (1u << GPUMEM_KIND_ASYNC)) || !drv->mem_pool_get_attribute) return;
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

/* The child of fork() starts with counters of its own: nothing it inherited
 * belongs to it (CUDA does not survive fork). */
void gpumem__counters_after_fork_child(void)
{
    claimed.next = claimed.end = 0;
    claimed.seg = NULL;
    gpumem_ledger_unlock_all(&pointers);
    gpumem_ledger_unlock_all(&handles);
    gpumem_ledger_clear(&pointers);
    gpumem_ledger_clear(&handles);
    for (int i = 0; i < POOL_SLOTS; i++) {
        atomic_store(&pool_slots[i].lock, 0);
        atomic_store(&pool_slots[i].pool, 0);
        atomic_store(&pool_slots[i].pending, 0);
        pool_slots[i].charged = 0;
    }
    atomic_store(&slots_lock, 0);
    atomic_store(&gpumem__pools_pending, 0);
    for (int i = 0; i < (int)GPUMEM_SHM_DEVICE_SLOTS; i++) atomic_store(&info_state[i], 0);
}

void gpumem__counters_before_fork(void)
{
    gpumem_ledger_lock_all(&pointers);
    gpumem_ledger_lock_all(&handles);
}

void gpumem__counters_after_fork_parent(void)
{
    gpumem_ledger_unlock_all(&pointers);
    gpumem_ledger_unlock_all(&handles);
}
