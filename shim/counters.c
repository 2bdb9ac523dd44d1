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
#include <string.h>
#include <time.h>

#include "ledger.h"
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

/* Event slots are claimed a few at a time per thread, so threads do not
 * contend on the ring's head for every event. */
#define EVENT_BATCH 8
static __thread struct {
    uint64_t next, end;
    struct gpumem_shm_segment *seg;
} claimed __attribute__((tls_model("initial-exec")));

/* Append to the event ring: seq 0 while the entry changes, release stores
 * keep that order, seq = index + 1 publishes it. */
static void event(uint8_t op, enum gpumem_api api, int device, uint64_t bytes, uint64_t address, int32_t result,
                  uint64_t now)
{
    struct gpumem_shm_segment *s = gpumem__segment();
    if (GM_UNLIKELY(claimed.next == claimed.end || claimed.seg != s)) {
        claimed.next = ADD(&s->header.events_head, EVENT_BATCH);
        claimed.end = claimed.next + EVENT_BATCH;
        claimed.seg = s;
    }
    uint64_t i = claimed.next++;
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
    uint64_t now = ADD(&d->reserved_bytes, bytes) + bytes;
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
    } while (!__atomic_compare_exchange_n(field, &cur, next, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
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
static gcu_mempool pool_at(uint8_t index);

void gpumem__on_alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int device,
                      gcu_mempool pool)
{
    struct gpumem_thread *th = &gpumem__thread;
    th->driver_key = key;
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

void gpumem__prefetch_free(uint64_t key)
{
    gpumem_ledger_prefetch(&pointers, key);
}

int gpumem__on_free(enum gpumem_api api, uint64_t key)
{
    struct gpumem_thread *th = &gpumem__thread;
    th->driver_key = key;
    if (key == 0) return 0;
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    struct gpumem_entry e;
    int is_handle = api == GPUMEM_API_CU_MEM_RELEASE;
    if (!gpumem_ledger_remove(is_handle ? &handles : &pointers, key, &e)) {
        /* A released handle the shim never charged is host memory, not an
         * unknown free. */
        if (is_handle) return 0;
        int device = gpumem__current_device();
        struct gpumem_shm_device *d = device_of(device);
        if (d) ADD(&d->unknown_free_count, 1);
        event(GPUMEM_OP_FREE, api, device, 0, key, 0, gpumem__now_ns());
        return 0;
    }
    event(GPUMEM_OP_FREE, api, e.device, e.bytes, key, 0, gpumem__now_ns());
    release_entry(&e);
    /* The pool's reserve may have shrunk; -1: charge the pool's own device. */
    if (e.kind == GPUMEM_KIND_ASYNC && e.pool) gpumem__pool_update(pool_at(e.pool), -1);
    return 1;
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
static struct pool_slot {
    atomic_int lock;
    _Atomic(uintptr_t) pool; /* 0 free */
    int device;
    uint64_t charged;
} pool_slots[POOL_SLOTS];

/* Held across a driver call (the pool's reserve): waiters yield the CPU
 * rather than spin through it. */
static void slot_lock(struct pool_slot *s)
{
    for (unsigned spins = 0; atomic_exchange_explicit(&s->lock, 1, memory_order_acquire);)
        while (atomic_load_explicit(&s->lock, memory_order_relaxed))
            if (++spins > 64) sched_yield();
}

static void slot_unlock(struct pool_slot *s) { atomic_store_explicit(&s->lock, 0, memory_order_release); }

static struct pool_slot *pool_slot(gcu_mempool pool, int create)
{
    uintptr_t key = (uintptr_t)pool;
    for (int i = 0; i < POOL_SLOTS; i++)
        if (atomic_load(&pool_slots[i].pool) == key) return &pool_slots[i];
    for (int i = 0; create && i < POOL_SLOTS; i++) {
        uintptr_t expected = 0;
        if (atomic_load(&pool_slots[i].pool) != 0) continue;
        slot_lock(&pool_slots[i]);
        if (atomic_compare_exchange_strong(&pool_slots[i].pool, &expected, key)) {
            pool_slots[i].device = -1;
            pool_slots[i].charged = 0;
        }
        slot_unlock(&pool_slots[i]);
        if (expected == 0 || expected == key) return &pool_slots[i];
    }
    return NULL;
}

/* A pool as the ledger stores it: its slot + 1, or 0 when it has none. If
 * the pool is destroyed and its slot reused before the free, the free
 * re-reads the other pool's reserve: a harmless refresh. */
static uint8_t pool_index(gcu_mempool pool)
{
    struct pool_slot *s = pool_slot(pool, 1);
    return s ? (uint8_t)(s - pool_slots + 1) : 0;
}

static gcu_mempool pool_at(uint8_t index)
{
    return (gcu_mempool)atomic_load(&pool_slots[index - 1].pool);
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


/* Charge the pool's reserve as the driver reports it now. The query runs
 * under the pool's own lock so two threads never apply stale differences. */
void gpumem__pool_update(gcu_mempool pool, int device)
{
    const struct gpumem_driver *drv = gpumem__driver();
    if (!pool || !drv->mem_pool_get_attribute) return;
    struct pool_slot *s = pool_slot(pool, 1);
    if (!s) { untracked(); return; }
    slot_lock(s);
    if (device < 0) device = s->device >= 0 ? s->device : gpumem__current_device();
    struct gpumem_shm_device *d = device_of(device);
    if (!d) { slot_unlock(s); return; }
    uint64_t reserved = 0;
    if (drv->mem_pool_get_attribute(pool, GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved) == GCU_SUCCESS) {
        if (s->device < 0) s->device = device;
        uint64_t before = s->charged;
        s->charged = reserved;
        slot_unlock(s);
        if (reserved > before) charge(device, d, reserved - before);
        else if (reserved < before) uncharge(device, d, before - reserved);
        return;
    }
    slot_unlock(s);
}

void gpumem__pool_forget(gcu_mempool pool)
{
    struct pool_slot *s = pool_slot(pool, 0);
    if (!s) return;
    slot_lock(s);
    uint64_t charged = s->charged;
    int device = s->device;
    s->charged = 0;
    atomic_store(&s->pool, 0);
    slot_unlock(s);
    struct gpumem_shm_device *d = device_of(device);
    if (d && charged) uncharge(device, d, charged);
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
        pool_slots[i].charged = 0;
    }
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
