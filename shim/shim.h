/*
 * shim.h - what the files of libgpumem.so share. Nothing here is exported:
 * the library is built with -fvisibility=hidden and exports only the CUDA
 * entry points it wraps, dlsym, and the gpumem_* API of include/gpumem.h.
 */
#ifndef GPUMEM_SHIM_H
#define GPUMEM_SHIM_H

#define GPUMEM_BUILDING_SHIM 1
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_abi.h"
#include "ledger.h"
#include "log.h"
#include "options.h"
#include "gpumem.h"
#include "gpumem_shm.h"

#define GM_EXPORT __attribute__((visibility("default")))
#define GM_LIKELY(x) __builtin_expect(!!(x), 1)
#define GM_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- hooks: one list drives the exports, dlsym and cuGetProcAddress ---- */

/* X(exported symbol, ABI typedef in cuda_abi.h, cuGetProcAddress base name,
 *   ABI version, 1 for the per-thread-default-stream variant) */
#define GPUMEM_DRIVER_HOOKS(X)                                                          \
    X(cuMemAlloc_v2, cuMemAlloc_v2, "cuMemAlloc", 3020, 0)                              \
    X(cuMemAllocPitch_v2, cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0)               \
    X(cuMemFree_v2, cuMemFree_v2, "cuMemFree", 3020, 0)                                 \
    X(cuMemAllocManaged, cuMemAllocManaged, "cuMemAllocManaged", 6000, 0)               \
    X(cuMemCreate, cuMemCreate, "cuMemCreate", 10020, 0)                                \
    X(cuMemRelease, cuMemRelease, "cuMemRelease", 10020, 0)                             \
    X(cuMemAllocAsync, cuMemAllocAsync, "cuMemAllocAsync", 11020, 0)                    \
    X(cuMemAllocAsync_ptsz, cuMemAllocAsync, "cuMemAllocAsync", 11020, 1)               \
    X(cuMemAllocFromPoolAsync, cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0) \
    X(cuMemAllocFromPoolAsync_ptsz, cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 1) \
    X(cuMemFreeAsync, cuMemFreeAsync, "cuMemFreeAsync", 11020, 0)                       \
    X(cuMemFreeAsync_ptsz, cuMemFreeAsync, "cuMemFreeAsync", 11020, 1)                  \
    X(cuMemPoolTrimTo, cuMemPoolTrimTo, "cuMemPoolTrimTo", 11020, 0)                    \
    X(cuMemPoolCreate, cuMemPoolCreate, "cuMemPoolCreate", 11020, 0)                    \
    X(cuMemPoolDestroy, cuMemPoolDestroy, "cuMemPoolDestroy", 11020, 0)                 \
    X(cuGetProcAddress, cuGetProcAddress, "cuGetProcAddress", 11030, 0)                 \
    X(cuGetProcAddress_v2, cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0)           \
    X(cuCtxDestroy_v2, cuCtxDestroy_v2, "cuCtxDestroy", 4000, 0)                        \
    X(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000, 0) \
    X(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 7000, 0) \
    X(cuDevicePrimaryCtxRelease_v2, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 11000, 0) \
    X(cuDevicePrimaryCtxReset, cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset", 7000, 0) \
    X(cuDevicePrimaryCtxReset_v2, cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset", 11000, 0) \
    X(cuCtxSynchronize, cuCtxSynchronize, "cuCtxSynchronize", 2000, 0)                 \
    X(cuCtxSynchronize_v2, cuCtxSynchronize_v2, "cuCtxSynchronize", 13000, 0)          \
    X(cuStreamSynchronize, cuStreamSynchronize, "cuStreamSynchronize", 2000, 0)        \
    X(cuStreamSynchronize_ptsz, cuStreamSynchronize, "cuStreamSynchronize", 7000, 1)   \
    X(cuEventSynchronize, cuEventSynchronize, "cuEventSynchronize", 2000, 0)

/* X(exported symbol) - runtime entry points, typedef gcu_<symbol>_fn. */
#define GPUMEM_RUNTIME_HOOKS(X) \
    X(cudaMalloc) X(cudaFree) X(cudaMallocPitch) X(cudaMallocManaged) \
    X(cudaMallocAsync) X(cudaFreeAsync) X(cudaMallocFromPoolAsync) \
    X(cudaDeviceReset) X(cudaDeviceSynchronize) X(cudaStreamSynchronize) X(cudaEventSynchronize)

#define GPUMEM_DECLARE_DRIVER_HOOK(sym, type, base, version, ptds) \
    extern __typeof__(*(gcu_##type##_fn)0) sym GM_EXPORT;                \
    extern _Atomic(void *) gpumem__real_##sym;
#define GPUMEM_DECLARE_RUNTIME_HOOK(sym) \
    extern __typeof__(*(gcu_##sym##_fn)0) sym GM_EXPORT; \
    extern _Atomic(void *) gpumem__real_##sym;
GPUMEM_DRIVER_HOOKS(GPUMEM_DECLARE_DRIVER_HOOK)
GPUMEM_RUNTIME_HOOKS(GPUMEM_DECLARE_RUNTIME_HOOK)

/* The real function behind a hook: one acquire load once resolved (the
 * resolver publishes it with a sequentially consistent compare-and-swap). */
void *gpumem__resolve(_Atomic(void *) *slot, const char *name);
static inline void *gpumem__real(_Atomic(void *) *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    return GM_LIKELY(p != NULL) ? p : gpumem__resolve(slot, name);
}
#define GPUMEM_REAL(type, sym) ((gcu_##type##_fn)gpumem__real(&gpumem__real_##sym, #sym))

/* ---- lookup.c: dlsym, cuGetProcAddress, the driver functions we call ---- */

extern void *(*gpumem__real_dlsym)(void *, const char *);
void *gpumem__dlsym_hook(void *handle, const char *name);

struct gpumem_driver {
    gcu_cuCtxGetDevice_fn ctx_get_device;
    gcu_cuDeviceTotalMem_v2_fn device_total_mem;
    gcu_cuDeviceGetUuid_fn device_get_uuid;
    gcu_cuDeviceGetPCIBusId_fn device_get_pci_bus_id;
    gcu_cuDeviceGetName_fn device_get_name;
    gcu_cuDeviceGetMemPool_fn device_get_mem_pool;
    gcu_cuMemPoolGetAttribute_fn mem_pool_get_attribute;
    gcu_cuMemGetInfo_v2_fn mem_get_info;
    /* After a teardown: is this memory still there? */
    gcu_cuPointerGetAttribute_fn pointer_get_attribute;
    gcu_cuMemGetAllocationPropertiesFromHandle_fn handle_properties;
    gcu_cuDevicePrimaryCtxGetState_fn primary_ctx_get_state;
};
/* The driver's own functions, resolved once (lookup.c); NULL members where
 * absent. State 2 means resolved: the fast path is one load. */
extern struct gpumem_driver gpumem__driver_table;
extern atomic_int gpumem__driver_state;
const struct gpumem_driver *gpumem__driver_resolve(void);
static inline const struct gpumem_driver *gpumem__driver(void)
{
    if (GM_LIKELY(atomic_load_explicit(&gpumem__driver_state, memory_order_acquire) == 2))
        return &gpumem__driver_table;
    return gpumem__driver_resolve();
}
/* The calling thread's current device, -1 if unknown. */
static inline int gpumem__current_device(void)
{
    const struct gpumem_driver *d = gpumem__driver();
    gcu_device dev;
    if (!d->ctx_get_device || d->ctx_get_device(&dev) != GCU_SUCCESS) return -1;
    return dev;
}

/* ---- segment.c: the counters, published in shared memory ---- */

extern _Atomic(struct gpumem_shm_segment *) gpumem__seg;
struct gpumem_shm_segment *gpumem__segment_create(void);
static inline struct gpumem_shm_segment *gpumem__segment(void)
{
    struct gpumem_shm_segment *s = atomic_load_explicit(&gpumem__seg, memory_order_acquire);
    return GM_LIKELY(s != NULL) ? s : gpumem__segment_create();
}
uint64_t gpumem__now_ns(void);

/* ---- counters.c ---- */

/* Ledger kinds: what a key stands for. */
enum gpumem_kind { GPUMEM_KIND_DEVICE = 1, GPUMEM_KIND_MANAGED, GPUMEM_KIND_VMM, GPUMEM_KIND_ASYNC };

/* pool: an async allocation's pool, else NULL. */
void gpumem__on_alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int device,
                      gcu_mempool pool);
void gpumem__on_failure(enum gpumem_api api, uint64_t bytes, int device, gcu_result result);

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

/* device -1: the pool's known device, else the current one. */
void gpumem__pool_update(gcu_mempool pool, int device);
void gpumem__pool_forget(gcu_mempool pool);
/* The device whose memory a pool holds, once known (-1 before). */
void gpumem__pool_register(gcu_mempool pool, int device);
int gpumem__pool_device(gcu_mempool pool);
/* Pools whose frees the driver may give back at the next synchronisation:
 * the synchronisation hooks read them only while this is not 0. */
extern atomic_int gpumem__pools_pending;
void gpumem__pools_synchronized(void);
void gpumem__counters_before_fork(void);
void gpumem__counters_after_fork_parent(void);
void gpumem__counters_after_fork_child(void);

/* Per-thread state that lets the runtime and driver layers count a byte once. */
struct gpumem_thread {
    uint8_t runtime_api;   /* enum gpumem_api of the runtime call in progress  */
    uint8_t driver_handle; /* the driver layer created or released a VMM handle
                              inside that runtime call                         */
    uint8_t defer_alarms;  /* pool-slot locks held: callbacks wait for them    */
    int in_alarm;          /* inside alarm callbacks                           */
    uint64_t driver_key;   /* the last pointer the driver layer counted, or
                              UINT64_MAX after a failure it counted             */
    uint64_t runtime_free; /* the pointer a runtime free in progress has claimed:
                              the driver layer leaves it to the runtime layer   */
};
extern __thread struct gpumem_thread gpumem__thread __attribute__((tls_model("initial-exec")));

/* Calls fn on every live allocation (a copy), one ledger shard at a time. */
void gpumem__census(void (*fn)(const struct gpumem_entry *, void *), void *ctx);

/* ---- traces.c: where allocations are made (GPUMEM_BACKTRACE=1) ---- */

/* The calling stack outside the shim, remembered once per distinct stack:
 * an id for the ledger, 0 when none could be kept. */
uint32_t gpumem__trace_capture(void);
/* "module+0xoff (symbol+0xoff)" lines of a remembered stack. */
void gpumem__trace_format(uint32_t id, char *out, size_t size);

/* ---- oom.c: failure path only ---- */

/* Freeze the failure in the segment and write the report; path receives the
 * report's path or why there is none. */
void gpumem__postmortem(enum gpumem_api api, uint64_t bytes, int device, gcu_result result, uint64_t drv_free,
                        uint64_t drv_total, char *path, size_t path_size);
/* fork(): the report lock is taken first (a report holds it while it reads
 * the ledger) and released in parent and child. */
void gpumem__oom_before_fork(void);
void gpumem__oom_after_fork(void);

/* ---- alarm.c ---- */

extern _Atomic uint64_t gpumem__warn_up[GPUMEM_SHM_DEVICE_SLOTS];
/* The slow path of gpumem__level_update: the level may change. */
void gpumem__level_change(int device, struct gpumem_shm_device *d);
/* After reserved changed: one comparison while the device is healthy and
 * below its warning bound (or its total is not known yet, bound 0). */
static inline void gpumem__level_update(int device, struct gpumem_shm_device *d, uint64_t reserved)
{
    uint64_t warn_up = atomic_load_explicit(&gpumem__warn_up[device], memory_order_acquire);
    /* Sequentially consistent (a plain load on x86): see gpumem__level_change. */
    if (GM_LIKELY((__atomic_load_n(&d->level, __ATOMIC_SEQ_CST) == GPUMEM_LEVEL_HEALTHY && reserved < warn_up) ||
                  warn_up == 0))
        return;
    gpumem__level_change(device, d);
}
/* Run the callbacks of alarms raised on this thread, unless it is inside a
 * callback or a runtime call (which flush when they end). */
void gpumem__alarm_flush(void);
void gpumem__alarm_limits(int device, uint64_t total);
void gpumem__alarm_before_fork(void);
void gpumem__alarm_after_fork(void);

#endif /* GPUMEM_SHIM_H */
