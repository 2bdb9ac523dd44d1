/*
 * counters.c - what an allocation or a free does to the counters.
 *
 * The ledger remembers every live allocation (size, device, API, time) so a
 * free needs nothing but its pointer or handle; the counters themselves are
 * fields of the shared-memory segment (segment_write.h).
 */
#define _GNU_SOURCE
#include "counters.h"

#include <stdlib.h>

#include "devices.h"
#include "driver.h"
#include "headroom.h"
#include "options.h"
#include "pools.h"
#include "segment_write.h"
#include "thread.h"
#include "traces.h"

static struct gpumem_ledger pointers; /* device pointers: plain, managed, async */
static struct gpumem_ledger handles;  /* cuMemCreate handles */

/* Undo what a remembered entry charged (mono: the clock of the free). */
static void release_entry(const struct gpumem_entry *e, uint64_t mono)
{
    const struct gpumem_shm_device *d = gpumem__device(e->device);
    if (!d) return;
    if (e->kind == GPUMEM_KIND_DEVICE || e->kind == GPUMEM_KIND_VMM)
        gpumem__device_uncharge(e->device, d, e->bytes, mono);
    else if (e->kind == GPUMEM_KIND_MANAGED) gpumem__seg_managed_sub(d, e->bytes);
    gpumem__seg_count_free(d);
}

void gpumem__on_alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int device,
                      gcu_mempool pool)
{
    struct gpumem_thread *th = &gpumem__thread;
    if (kind == GPUMEM_KIND_VMM) th->driver_handle = 1;
    else th->driver_key = key;
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    const struct gpumem_shm_device *d = gpumem__device(device);
    if (!d) {
        gpumem__seg_untracked();
        return;
    }
    struct gpumem_now now = gpumem__seg_now();
    struct gpumem_entry e = { .key = key,
                              .bytes = bytes,
                              .unix_ns = now.unix_ns,
                              .trace = GPUMEM_UNLIKELY(gpumem__opt.backtrace) ? gpumem__trace_capture() : 0,
                              .device = (int8_t)device,
                              .kind = (uint8_t)kind,
                              .api = (uint8_t)api,
                              .pool = pool ? gpumem__pool_index(pool) : 0 };
    struct gpumem_entry old;
    int rc = gpumem__ledger_insert(kind == GPUMEM_KIND_VMM ? &handles : &pointers, &e, &old);
    if (rc < 0) {
        gpumem__seg_untracked();
        return;
    }                                              /* what cannot be remembered is not counted */
    if (rc == 1) release_entry(&old, now.mono_ns); /* the driver reused a key whose free we missed */
    gpumem__seg_event(GPUMEM_OP_ALLOC, api, device, bytes, key, 0, now);
    gpumem__seg_count_alloc(d); /* before the charge: the history's bucket counts it */
    if (kind == GPUMEM_KIND_DEVICE || kind == GPUMEM_KIND_VMM) gpumem__device_charge(device, d, bytes, now.mono_ns);
    else {
        if (kind == GPUMEM_KIND_MANAGED) gpumem__seg_managed_add(d, bytes);
        gpumem__seg_history(d, GPUMEM_LOAD(&d->reserved_bytes), now.mono_ns);
    }
    if (kind != GPUMEM_KIND_MANAGED) gpumem__headroom_request(device, d, bytes, e.unix_ns, 0);
}

static void forget_if_gone(int is_handle, uint64_t key, uint64_t *freed, uint32_t *count);

/* Teardowns so far: a free whose claim spans one re-checks what it puts back. */
static atomic_uint teardowns;

void gpumem__free_begin(enum gpumem_kind kind, uint64_t key, struct gpumem_claim *c)
{
    c->teardowns = atomic_load_explicit(&teardowns, memory_order_relaxed);
    c->found = key != 0 && gpumem__ledger_remove(kind == GPUMEM_KIND_VMM ? &handles : &pointers, key, &c->e);
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
        if (gpumem__ledger_restore(is_handle ? &handles : &pointers, &c->e) != 0) {
            release_entry(&c->e, gpumem__os_mono_ns());
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
        const struct gpumem_shm_device *d = gpumem__device(device);
        if (d) gpumem__seg_count_unknown_free(d);
        gpumem__seg_event(GPUMEM_OP_FREE, api, device, 0, key, 0, gpumem__seg_now());
        return;
    }
    struct gpumem_now now = gpumem__seg_now();
    gpumem__seg_event(GPUMEM_OP_FREE, api, c->e.device, c->e.bytes, key, 0, now);
    release_entry(&c->e, now.mono_ns);
    const struct gpumem_shm_device *d = gpumem__device(c->e.device);
    if (d) gpumem__headroom_tick(c->e.device, d, now.unix_ns);
    if (c->e.kind == GPUMEM_KIND_ASYNC && c->e.pool) gpumem__pool_freed(c->e.pool);
}

int gpumem__on_failure(enum gpumem_api api, uint64_t bytes, int device, gcu_result result)
{
    struct gpumem_thread *th = &gpumem__thread;
    th->driver_key = UINT64_MAX; /* tells the runtime layer the failure was seen */
    if (th->runtime_api) api = (enum gpumem_api)th->runtime_api;
    struct gpumem_now now = gpumem__seg_now(); /* every event on one clock */
    gpumem__seg_event(GPUMEM_OP_ALLOC, api, device, bytes, 0, (int32_t)result, now);
    if (result != GCU_ERROR_OUT_OF_MEMORY) return 0;
    const struct gpumem_shm_device *d = gpumem__device(device);
    gpumem__seg_oom();
    if (!d) return 0;
    gpumem__seg_count_failed(d);
    gpumem__headroom_request(device, d, bytes, now.unix_ns, 1); /* a refused request is a request too */
    return 1;
}

void gpumem__census(void (*fn)(const struct gpumem_entry *, void *), void *ctx)
{
    gpumem__ledger_foreach(&pointers, fn, ctx);
    gpumem__ledger_foreach(&handles, fn, ctx);
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
        if (!gpumem__ledger_find_version(l, key, &e, &version) || !entry_gone(drv, &e)) return;
        if (!gpumem__ledger_remove_unchanged(l, key, version, &e)) continue;
        release_entry(&e, gpumem__os_mono_ns());
        if (freed && (unsigned)e.device < GPUMEM_SHM_DEVICE_SLOTS) {
            if (e.kind == GPUMEM_KIND_DEVICE || e.kind == GPUMEM_KIND_VMM) freed[e.device] += e.bytes;
            count[e.device]++;
        }
        return;
    }
}

void gpumem__teardown(enum gpumem_api api, int device, unsigned kinds)
{
    if (gpumem__thread.runtime_api) api = (enum gpumem_api)gpumem__thread.runtime_api;
    atomic_fetch_add(&teardowns, 1); /* before looking: see gpumem__free_end */
    int with_handles = (kinds & (1u << GPUMEM_KIND_VMM)) != 0;
    size_t live = gpumem__ledger_count(&pointers) + (with_handles ? gpumem__ledger_count(&handles) : 0);
    struct sweep w = { .device = device, .kinds = kinds, .cap = live + live / 4 + 64 };
    w.list = malloc(w.cap * sizeof *w.list);
    if (!w.list) {
        gpumem__seg_untracked();
        return;
    } /* out of host memory: what was not looked at stays charged */
    gpumem__ledger_foreach(&pointers, sweep_collect, &w);
    if (with_handles) gpumem__ledger_foreach(&handles, sweep_collect, &w);
    uint64_t freed[GPUMEM_SHM_DEVICE_SLOTS] = { 0 };
    uint32_t count[GPUMEM_SHM_DEVICE_SLOTS] = { 0 };
    for (size_t i = 0; i < w.n; i++) forget_if_gone(w.list[i].kind == GPUMEM_KIND_VMM, w.list[i].key, freed, count);
    free(w.list);
    struct gpumem_now now = gpumem__seg_now();
    for (int dev = 0; dev < (int)GPUMEM_SHM_DEVICE_SLOTS; dev++)
        if (count[dev]) gpumem__seg_event(GPUMEM_OP_FREE, api, dev, freed[dev], 0, 0, now);
    /* A pool the teardown destroyed is forgotten; the others are re-read. */
    if (kinds & (1u << GPUMEM_KIND_ASYNC)) gpumem__pools_teardown(device);
}

/* The child of fork() starts with counters of its own: nothing it inherited
 * belongs to it (CUDA does not survive fork). */
void gpumem__counters_after_fork_child(void)
{
    gpumem__ledger_unlock_all(&pointers);
    gpumem__ledger_unlock_all(&handles);
    gpumem__ledger_clear(&pointers);
    gpumem__ledger_clear(&handles);
    gpumem__headroom_after_fork_child();
}

void gpumem__counters_before_fork(void)
{
    gpumem__ledger_lock_all(&pointers);
    gpumem__ledger_lock_all(&handles);
}

void gpumem__counters_after_fork_parent(void)
{
    gpumem__ledger_unlock_all(&pointers);
    gpumem__ledger_unlock_all(&handles);
}
