/*
 * hooks.h - the CUDA entry points the shim wraps, in one list that drives
 * the exports, their slots for the real functions, dlsym and
 * cuGetProcAddress (hooks_lookup.c), and the runtime wrappers.
 */
#ifndef GPUMEM_HOOKS_H
#define GPUMEM_HOOKS_H

#include "compiler.h"
#include "cuda_abi.h"
#include "counters.h"
#include "driver.h"
#include "postmortem.h"

/* X(exported symbol, ABI typedef in cuda_abi.h, cuGetProcAddress base name,
 *   ABI version, 1 for the per-thread-default-stream variant) */
#define GPUMEM_DRIVER_HOOKS(X)                                                                        \
    X(cuMemAlloc_v2, cuMemAlloc_v2, "cuMemAlloc", 3020, 0)                                            \
    X(cuMemAllocPitch_v2, cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0)                             \
    X(cuMemFree_v2, cuMemFree_v2, "cuMemFree", 3020, 0)                                               \
    X(cuMemAllocManaged, cuMemAllocManaged, "cuMemAllocManaged", 6000, 0)                             \
    X(cuMemCreate, cuMemCreate, "cuMemCreate", 10020, 0)                                              \
    X(cuMemRelease, cuMemRelease, "cuMemRelease", 10020, 0)                                           \
    X(cuMemAllocAsync, cuMemAllocAsync, "cuMemAllocAsync", 11020, 0)                                  \
    X(cuMemAllocAsync_ptsz, cuMemAllocAsync, "cuMemAllocAsync", 11020, 1)                             \
    X(cuMemAllocFromPoolAsync, cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0)          \
    X(cuMemAllocFromPoolAsync_ptsz, cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 1)     \
    X(cuMemFreeAsync, cuMemFreeAsync, "cuMemFreeAsync", 11020, 0)                                     \
    X(cuMemFreeAsync_ptsz, cuMemFreeAsync, "cuMemFreeAsync", 11020, 1)                                \
    X(cuMemPoolTrimTo, cuMemPoolTrimTo, "cuMemPoolTrimTo", 11020, 0)                                  \
    X(cuMemPoolCreate, cuMemPoolCreate, "cuMemPoolCreate", 11020, 0)                                  \
    X(cuMemPoolDestroy, cuMemPoolDestroy, "cuMemPoolDestroy", 11020, 0)                               \
    X(cuGetProcAddress, cuGetProcAddress, "cuGetProcAddress", 11030, 0)                               \
    X(cuGetProcAddress_v2, cuGetProcAddress_v2, "cuGetProcAddress", 12000, 0)                         \
    X(cuCtxDestroy_v2, cuCtxDestroy_v2, "cuCtxDestroy", 4000, 0)                                      \
    X(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000, 0)        \
    X(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 7000, 0)     \
    X(cuDevicePrimaryCtxRelease_v2, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 11000, 0) \
    X(cuDevicePrimaryCtxReset, cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset", 7000, 0)           \
    X(cuDevicePrimaryCtxReset_v2, cuDevicePrimaryCtxReset, "cuDevicePrimaryCtxReset", 11000, 0)       \
    X(cuCtxSynchronize, cuCtxSynchronize, "cuCtxSynchronize", 2000, 0)                                \
    X(cuCtxSynchronize_v2, cuCtxSynchronize_v2, "cuCtxSynchronize", 13000, 0)                         \
    X(cuStreamSynchronize, cuStreamSynchronize, "cuStreamSynchronize", 2000, 0)                       \
    X(cuStreamSynchronize_ptsz, cuStreamSynchronize, "cuStreamSynchronize", 7000, 1)                  \
    X(cuEventSynchronize, cuEventSynchronize, "cuEventSynchronize", 2000, 0)

/* The runtime entry points, by what they do (hooks_runtime.c generates each
 * wrapper from its row; the ABI typedef is gcu_<symbol>_fn):
 *   ALLOC(symbol, API, ledger kind, parameters, arguments, bytes reserved)
 *   FREE(symbol, API, parameters, arguments)      the pointer is `ptr`
 *   MARK(symbol, API, parameters, arguments)      reset and synchronisations:
 *        the driver may free or give pool memory back inside them. */
#define GPUMEM_RUNTIME_HOOKS(ALLOC, FREE, MARK)                                                                      \
    ALLOC(cudaMalloc, CUDA_MALLOC, DEVICE, (void **ptr, size_t bytes), (ptr, bytes), bytes)                          \
    ALLOC(cudaMallocPitch, CUDA_MALLOC_PITCH, DEVICE, (void **ptr, size_t *pitch, size_t width, size_t height),      \
          (ptr, pitch, width, height), (r == GCU_RT_SUCCESS ? (uint64_t)*pitch * height : (uint64_t)width * height)) \
    ALLOC(cudaMallocManaged, CUDA_MALLOC_MANAGED, MANAGED, (void **ptr, size_t bytes, unsigned int flags),           \
          (ptr, bytes, flags), bytes)                                                                                \
    ALLOC(cudaMallocAsync, CUDA_MALLOC_ASYNC, DEVICE, (void **ptr, size_t bytes, gcu_stream stream),                 \
          (ptr, bytes, stream), bytes)                                                                               \
    ALLOC(cudaMallocFromPoolAsync, CUDA_MALLOC_FROM_POOL_ASYNC, DEVICE,                                              \
          (void **ptr, size_t bytes, gcu_mempool pool, gcu_stream stream), (ptr, bytes, pool, stream), bytes)        \
    FREE(cudaFree, CUDA_FREE, (void *ptr), (ptr))                                                                    \
    FREE(cudaFreeAsync, CUDA_FREE_ASYNC, (void *ptr, gcu_stream stream), (ptr, stream))                              \
    MARK(cudaDeviceReset, CUDA_DEVICE_RESET, (void), ())                                                             \
    MARK(cudaDeviceSynchronize, CUDA_DEVICE_SYNCHRONIZE, (void), ())                                                 \
    MARK(cudaStreamSynchronize, CUDA_STREAM_SYNCHRONIZE, (gcu_stream stream), (stream))                              \
    MARK(cudaEventSynchronize, CUDA_EVENT_SYNCHRONIZE, (gcu_event event), (event))

#define GPUMEM_DECLARE_DRIVER_HOOK(sym, type, base, version, ptds) \
    extern __typeof__(*(gcu_##type##_fn)0) sym GPUMEM_EXPORT;      \
    extern _Atomic(void *) gpumem__real_##sym;
#define GPUMEM_DECLARE_RUNTIME_HOOK(sym, ...)                \
    extern __typeof__(*(gcu_##sym##_fn)0) sym GPUMEM_EXPORT; \
    extern _Atomic(void *) gpumem__real_##sym;
GPUMEM_DRIVER_HOOKS(GPUMEM_DECLARE_DRIVER_HOOK)
GPUMEM_RUNTIME_HOOKS(GPUMEM_DECLARE_RUNTIME_HOOK, GPUMEM_DECLARE_RUNTIME_HOOK, GPUMEM_DECLARE_RUNTIME_HOOK)

#define GPUMEM_REAL(type, sym) ((gcu_##type##_fn)gpumem__real(&gpumem__real_##sym, #sym))

/* A failed allocation: counted, and explained when it ran out of memory. */
static inline void gpumem__failed(enum gpumem_api api, uint64_t bytes, int device, gcu_result r)
{
    if (gpumem__on_failure(api, bytes, device, r)) gpumem__postmortem(api, bytes, device, r);
}

/* dlsym and cuGetProcAddress (hooks_lookup.c). */
void *gpumem__dlsym_hook(void *handle, const char *name);

#endif /* GPUMEM_HOOKS_H */
