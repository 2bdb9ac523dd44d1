/*
 * hooks_driver.c - the driver entry points that reserve or release device
 * memory. The driver is the source of truth: every allocation, whatever API
 * the program called, ends here exactly once.
 *
 * Each wrapper calls the real function with the caller's arguments, returns
 * its result untouched, and does its bookkeeping only after, with errno
 * saved and restored. Out-pointers are read only after success, when the
 * driver has written them.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "alarm.h"
#include "counters.h"
#include "hooks.h"
#include "options.h"
#include "pools.h"
#include "thread.h"

/* Each hook's real function, found at its first call (driver.h). */
#define DEFINE_SLOT(sym, ...) _Atomic(void *) gpumem__real_##sym;
GPUMEM_DRIVER_HOOKS(DEFINE_SLOT)

#define DISABLED() GPUMEM_UNLIKELY(gpumem__opt.disabled)

/* Bookkeeping after an allocation call, with errno saved before anything
 * (the current device included) is asked of the driver. */
static void after_alloc(gcu_result r, enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes)
{
    int saved = errno;
    int device = gpumem__current_device();
    if (r == GCU_SUCCESS) gpumem__on_alloc(kind, api, key, bytes, device, NULL);
    else gpumem__failed(api, bytes, device, r);
    gpumem__alarm_flush();
    errno = saved;
}

/* A free: the entry is claimed before the real call (see gpumem__free_begin),
 * settled after it. A pointer (never a handle) that a runtime free in
 * progress has claimed is left to the runtime layer. The ledger never
 * touches errno. */
#define FREE_BODY(kind, api, key, call)                                                                            \
    if (DISABLED() || GPUMEM_UNLIKELY((kind) != GPUMEM_KIND_VMM && (key) && gpumem__thread.runtime_free == (key))) \
        return call;                                                                                               \
    struct gpumem_claim claim;                                                                                     \
    gpumem__free_begin(kind, key, &claim);                                                                         \
    gcu_result r = call;                                                                                           \
    int saved = errno;                                                                                             \
    gpumem__free_end(api, key, &claim, r == GCU_SUCCESS);                                                          \
    gpumem__alarm_flush();                                                                                         \
    errno = saved;                                                                                                 \
    return r;

gcu_result cuMemAlloc_v2(gcu_deviceptr *dptr, size_t bytes)
{
    gcu_cuMemAlloc_v2_fn real = GPUMEM_REAL(cuMemAlloc_v2, cuMemAlloc_v2);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(dptr, bytes);
    if (DISABLED()) return r;
    after_alloc(r, GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, r == GCU_SUCCESS ? *dptr : 0, bytes);
    return r;
}

gcu_result cuMemAllocPitch_v2(gcu_deviceptr *dptr, size_t *pitch, size_t width, size_t height, unsigned int elem)
{
    gcu_cuMemAllocPitch_v2_fn real = GPUMEM_REAL(cuMemAllocPitch_v2, cuMemAllocPitch_v2);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(dptr, pitch, width, height, elem);
    if (DISABLED()) return r;
    /* On success the driver reserved pitch x height; on failure the request
     * is width x height. */
    uint64_t bytes = r == GCU_SUCCESS ? (uint64_t)*pitch * height : (uint64_t)width * height;
    after_alloc(r, GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC_PITCH, r == GCU_SUCCESS ? *dptr : 0, bytes);
    return r;
}

gcu_result cuMemAllocManaged(gcu_deviceptr *dptr, size_t bytes, unsigned int flags)
{
    gcu_cuMemAllocManaged_fn real = GPUMEM_REAL(cuMemAllocManaged, cuMemAllocManaged);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(dptr, bytes, flags);
    if (DISABLED()) return r;
    after_alloc(r, GPUMEM_KIND_MANAGED, GPUMEM_API_CU_MEM_ALLOC_MANAGED, r == GCU_SUCCESS ? *dptr : 0, bytes);
    return r;
}

gcu_result cuMemFree_v2(gcu_deviceptr ptr)
{
    gcu_cuMemFree_v2_fn real = GPUMEM_REAL(cuMemFree_v2, cuMemFree_v2);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    /* Unknown pointers too reach the driver: it decides. */
    FREE_BODY(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, ptr, real(ptr))
}

/* ---- virtual memory management: physical memory is charged at create, by
 * handle, never at map (one handle can be mapped at several addresses). --- */

gcu_result cuMemCreate(gcu_mem_handle *handle, size_t bytes, const gcu_mem_allocation_prop *prop,
                       unsigned long long flags)
{
    gcu_cuMemCreate_fn real = GPUMEM_REAL(cuMemCreate, cuMemCreate);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(handle, bytes, prop, flags);
    if (DISABLED()) return r;
    /* Host and host-NUMA locations are not device memory. */
    if (prop && prop->location.type == GCU_MEM_LOCATION_TYPE_DEVICE) {
        int saved = errno;
        if (r == GCU_SUCCESS)
            gpumem__on_alloc(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_CREATE, *handle, bytes, prop->location.id, NULL);
        else gpumem__failed(GPUMEM_API_CU_MEM_CREATE, bytes, prop->location.id, r);
        gpumem__alarm_flush();
        errno = saved;
    }
    return r;
}

gcu_result cuMemRelease(gcu_mem_handle handle)
{
    gcu_cuMemRelease_fn real = GPUMEM_REAL(cuMemRelease, cuMemRelease);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    FREE_BODY(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_RELEASE, handle, real(handle))
}

/* ---- stream-ordered allocation: the pool's reserve is what is charged ---- */

static gcu_mempool current_pool(int device)
{
    const struct gpumem_driver *drv = gpumem__driver();
    gcu_mempool pool = NULL;
    if (device < 0 || !drv->device_get_mem_pool || drv->device_get_mem_pool(&pool, device) != GCU_SUCCESS) return NULL;
    return pool;
}

static void after_async_alloc(gcu_result r, enum gpumem_api api, gcu_deviceptr *dptr, size_t bytes, gcu_mempool pool)
{
    int saved = errno;
    /* A pool's memory is on the pool's device, whatever context is current. */
    int device = pool ? gpumem__pool_device(pool) : -1;
    if (device < 0) device = gpumem__current_device();
    if (r == GCU_SUCCESS) {
        if (!pool) {
            pool = current_pool(device);
            if (pool && gpumem__pool_device(pool) < 0) gpumem__pool_register(pool, device);
        }
        /* The ledger remembers the pool, so that the free can update it. */
        gpumem__on_alloc(GPUMEM_KIND_ASYNC, api, *dptr, bytes, device, pool);
        gpumem__pool_update(pool, device);
    } else {
        gpumem__failed(api, bytes, device, r);
    }
    gpumem__alarm_flush();
    errno = saved;
}

#define ASYNC_ALLOC(sym)                                                                         \
    gcu_result sym(gcu_deviceptr *dptr, size_t bytes, gcu_stream stream)                         \
    {                                                                                            \
        gcu_cuMemAllocAsync_fn real = GPUMEM_REAL(cuMemAllocAsync, sym);                         \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;                                  \
        gcu_result r = real(dptr, bytes, stream);                                                \
        if (!DISABLED()) after_async_alloc(r, GPUMEM_API_CU_MEM_ALLOC_ASYNC, dptr, bytes, NULL); \
        return r;                                                                                \
    }
ASYNC_ALLOC(cuMemAllocAsync)
ASYNC_ALLOC(cuMemAllocAsync_ptsz)

#define POOL_ALLOC(sym)                                                                                    \
    gcu_result sym(gcu_deviceptr *dptr, size_t bytes, gcu_mempool pool, gcu_stream stream)                 \
    {                                                                                                      \
        gcu_cuMemAllocFromPoolAsync_fn real = GPUMEM_REAL(cuMemAllocFromPoolAsync, sym);                   \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;                                            \
        gcu_result r = real(dptr, bytes, pool, stream);                                                    \
        if (!DISABLED()) after_async_alloc(r, GPUMEM_API_CU_MEM_ALLOC_FROM_POOL_ASYNC, dptr, bytes, pool); \
        return r;                                                                                          \
    }
POOL_ALLOC(cuMemAllocFromPoolAsync)
POOL_ALLOC(cuMemAllocFromPoolAsync_ptsz)

#define ASYNC_FREE(sym)                                                                    \
    gcu_result sym(gcu_deviceptr ptr, gcu_stream stream)                                   \
    {                                                                                      \
        gcu_cuMemFreeAsync_fn real = GPUMEM_REAL(cuMemFreeAsync, sym);                     \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;                            \
        FREE_BODY(GPUMEM_KIND_ASYNC, GPUMEM_API_CU_MEM_FREE_ASYNC, ptr, real(ptr, stream)) \
    }
ASYNC_FREE(cuMemFreeAsync)
ASYNC_FREE(cuMemFreeAsync_ptsz)

gcu_result cuMemPoolTrimTo(gcu_mempool pool, size_t keep)
{
    gcu_cuMemPoolTrimTo_fn real = GPUMEM_REAL(cuMemPoolTrimTo, cuMemPoolTrimTo);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(pool, keep);
    if (DISABLED() || r != GCU_SUCCESS) return r;
    int saved = errno;
    gpumem__pool_update(pool, -1);
    gpumem__alarm_flush();
    errno = saved;
    return r;
}

gcu_result cuMemPoolCreate(gcu_mempool *pool, const gcu_mem_pool_props *props)
{
    gcu_cuMemPoolCreate_fn real = GPUMEM_REAL(cuMemPoolCreate, cuMemPoolCreate);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(pool, props);
    if (DISABLED() || r != GCU_SUCCESS || props->location.type != GCU_MEM_LOCATION_TYPE_DEVICE) return r;
    int saved = errno;
    gpumem__pool_register(*pool, props->location.id);
    errno = saved;
    return r;
}

gcu_result cuMemPoolDestroy(gcu_mempool pool)
{
    gcu_cuMemPoolDestroy_fn real = GPUMEM_REAL(cuMemPoolDestroy, cuMemPoolDestroy);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(pool);
    if (DISABLED() || r != GCU_SUCCESS) return r;
    int saved = errno;
    gpumem__pool_forget(pool);
    gpumem__alarm_flush();
    errno = saved;
    return r;
}

/* ---- synchronisation: where pools give memory back ------------------------
 * One relaxed load while no pool has frees outstanding. */

static inline void after_sync(void)
{
    if (GPUMEM_LIKELY(atomic_load_explicit(&gpumem__pools_pending, memory_order_relaxed) == 0) || DISABLED()) return;
    int saved = errno;
    gpumem__pools_synchronized();
    gpumem__alarm_flush();
    errno = saved;
}

#define SYNC_HOOK(sym, type, params, args)                      \
    gcu_result sym params                                       \
    {                                                           \
        gcu_##type##_fn real = GPUMEM_REAL(type, sym);          \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND; \
        gcu_result r = real args;                               \
        after_sync();                                           \
        return r;                                               \
    }
SYNC_HOOK(cuCtxSynchronize, cuCtxSynchronize, (void), ())
SYNC_HOOK(cuCtxSynchronize_v2, cuCtxSynchronize_v2, (gcu_context ctx), (ctx))
SYNC_HOOK(cuStreamSynchronize, cuStreamSynchronize, (gcu_stream stream), (stream))
SYNC_HOOK(cuStreamSynchronize_ptsz, cuStreamSynchronize, (gcu_stream stream), (stream))
SYNC_HOOK(cuEventSynchronize, cuEventSynchronize, (gcu_event event), (event))

/* ---- context teardown: memory freed without a free per allocation -------- */

static void after_teardown(enum gpumem_api api, int device, unsigned kinds)
{
    int saved = errno;
    gpumem__teardown(api, device, kinds);
    gpumem__alarm_flush();
    errno = saved;
}

/* cuCtxDestroy frees what was allocated in the context, never VMM handles
 * nor stream-ordered allocations (cuda.h); the context's device is not
 * asked for, so every device's entries are looked at. */
gcu_result cuCtxDestroy_v2(gcu_context ctx)
{
    gcu_cuCtxDestroy_v2_fn real = GPUMEM_REAL(cuCtxDestroy_v2, cuCtxDestroy_v2);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(ctx);
    if (r == GCU_SUCCESS && !DISABLED()) after_teardown(GPUMEM_API_CU_CTX_DESTROY, -1, GPUMEM_SWEEP_CONTEXT_BOUND);
    return r;
}

/* A reset destroys everything of the device's primary context. */
#define PRIMARY_RESET(sym)                                                                 \
    gcu_result sym(gcu_device dev)                                                         \
    {                                                                                      \
        gcu_cuDevicePrimaryCtxReset_fn real = GPUMEM_REAL(cuDevicePrimaryCtxReset, sym);   \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;                            \
        gcu_result r = real(dev);                                                          \
        if (r == GCU_SUCCESS && !DISABLED())                                               \
            after_teardown(GPUMEM_API_CU_DEVICE_PRIMARY_CTX_RESET, dev, GPUMEM_SWEEP_ALL); \
        return r;                                                                          \
    }
PRIMARY_RESET(cuDevicePrimaryCtxReset)
PRIMARY_RESET(cuDevicePrimaryCtxReset_v2)

/* Retains, per device: a release that races with another thread's retain
 * (which may make a new primary context right after the last release
 * destroyed the old one) cannot rely on the state the driver reports. */
static atomic_uint primary_retains[GPUMEM_SHM_DEVICE_SLOTS];

gcu_result cuDevicePrimaryCtxRetain(gcu_context *ctx, gcu_device dev)
{
    gcu_cuDevicePrimaryCtxRetain_fn real = GPUMEM_REAL(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    gcu_result r = real(ctx, dev);
    if (r == GCU_SUCCESS && (unsigned)dev < GPUMEM_SHM_DEVICE_SLOTS)
        atomic_fetch_add_explicit(&primary_retains[dev], 1, memory_order_relaxed);
    return r;
}

/* Releasing the last reference destroys the primary context: the driver
 * says whether it is still active; if another thread retained meanwhile,
 * the shim looks anyway (the sweep keeps what still exists). */
static void after_release(gcu_device dev, unsigned retains)
{
    int saved = errno;
    const struct gpumem_driver *drv = gpumem__driver();
    unsigned int flags = 0;
    int active = 1;
    if (drv->primary_ctx_get_state && drv->primary_ctx_get_state(dev, &flags, &active) == GCU_SUCCESS &&
        (!active || atomic_load(&primary_retains[dev]) != retains))
        gpumem__teardown(GPUMEM_API_CU_DEVICE_PRIMARY_CTX_RELEASE, dev, GPUMEM_SWEEP_ALL);
    gpumem__alarm_flush();
    errno = saved;
}

#define PRIMARY_RELEASE(sym)                                                                                         \
    gcu_result sym(gcu_device dev)                                                                                   \
    {                                                                                                                \
        gcu_cuDevicePrimaryCtxRelease_fn real = GPUMEM_REAL(cuDevicePrimaryCtxRelease, sym);                         \
        if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;                                                      \
        unsigned retains = (unsigned)dev < GPUMEM_SHM_DEVICE_SLOTS ? atomic_load(&primary_retains[dev]) : 0;         \
        gcu_result r = real(dev);                                                                                    \
        if (r == GCU_SUCCESS && !DISABLED() && (unsigned)dev < GPUMEM_SHM_DEVICE_SLOTS) after_release(dev, retains); \
        return r;                                                                                                    \
    }
PRIMARY_RELEASE(cuDevicePrimaryCtxRelease)
PRIMARY_RELEASE(cuDevicePrimaryCtxRelease_v2)
