/*
 * hooks_runtime.c - the runtime entry points, for programs on the shared
 * runtime. They record which API the program called; the bytes are counted
 * by the driver layer underneath. Should the driver layer not see an
 * allocation the runtime made (a path the shim does not reach), the runtime
 * layer counts it itself, so a byte is counted exactly once either way.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "shim.h"

/* Enter a runtime call: the driver layer attributes what it sees to api. */
static inline uint8_t enter(enum gpumem_api api)
{
    struct gpumem_thread *th = &gpumem__thread;
    uint8_t outer = th->runtime_api;
    if (!outer) th->runtime_api = (uint8_t)api;
    th->driver_key = 0;
    return outer;
}

static void leave_alloc(uint8_t outer, gcu_rt_error r, enum gpumem_kind kind, enum gpumem_api api, void **ptr,
                        uint64_t bytes)
{
    struct gpumem_thread *th = &gpumem__thread;
    int saved = errno;
    th->runtime_api = outer;
    uint64_t key = r == GCU_RT_SUCCESS && ptr ? (uint64_t)(uintptr_t)*ptr : 0;
    if (r == GCU_RT_SUCCESS && key && th->driver_key != key)
        gpumem__on_alloc(kind, api, key, bytes, gpumem__current_device(), NULL);
    else if (r == GCU_RT_ERROR_MEMORY_ALLOCATION && th->driver_key == 0)
        /* Only if the driver layer did not already count this failure. */
        gpumem__on_failure(api, bytes, gpumem__current_device(), GCU_ERROR_OUT_OF_MEMORY);
    gpumem__alarm_flush();
    errno = saved;
}

static void leave_free(uint8_t outer, gcu_rt_error r, enum gpumem_api api, void *ptr)
{
    struct gpumem_thread *th = &gpumem__thread;
    int saved = errno;
    th->runtime_api = outer;
    uint64_t key = (uint64_t)(uintptr_t)ptr;
    if (r == GCU_RT_SUCCESS && key && th->driver_key != key) gpumem__on_free(api, key);
    gpumem__alarm_flush();
    errno = saved;
}

/* The real function, or cudaErrorInsufficientDriver from the caller. */
#define REAL_OR_FAIL(sym)                                                          \
    gcu_##sym##_fn real = (gcu_##sym##_fn)gpumem__real(&gpumem__real_##sym, #sym); \
    if (GM_UNLIKELY(!real)) return 35
#define DISABLED() GM_UNLIKELY(gpumem__opt.disabled)

gcu_rt_error cudaMalloc(void **ptr, size_t bytes)
{
    REAL_OR_FAIL(cudaMalloc);
    if (DISABLED()) return real(ptr, bytes);
    uint8_t outer = enter(GPUMEM_API_CUDA_MALLOC);
    gcu_rt_error r = real(ptr, bytes);
    leave_alloc(outer, r, GPUMEM_KIND_DEVICE, GPUMEM_API_CUDA_MALLOC, ptr, bytes);
    return r;
}

gcu_rt_error cudaMallocPitch(void **ptr, size_t *pitch, size_t width, size_t height)
{
    REAL_OR_FAIL(cudaMallocPitch);
    if (DISABLED()) return real(ptr, pitch, width, height);
    uint8_t outer = enter(GPUMEM_API_CUDA_MALLOC_PITCH);
    gcu_rt_error r = real(ptr, pitch, width, height);
    leave_alloc(outer, r, GPUMEM_KIND_DEVICE, GPUMEM_API_CUDA_MALLOC_PITCH, ptr,
                r == GCU_RT_SUCCESS ? (uint64_t)*pitch * height : (uint64_t)width * height);
    return r;
}

gcu_rt_error cudaMallocManaged(void **ptr, size_t bytes, unsigned int flags)
{
    REAL_OR_FAIL(cudaMallocManaged);
    if (DISABLED()) return real(ptr, bytes, flags);
    uint8_t outer = enter(GPUMEM_API_CUDA_MALLOC_MANAGED);
    gcu_rt_error r = real(ptr, bytes, flags);
    leave_alloc(outer, r, GPUMEM_KIND_MANAGED, GPUMEM_API_CUDA_MALLOC_MANAGED, ptr, bytes);
    return r;
}

gcu_rt_error cudaMallocAsync(void **ptr, size_t bytes, gcu_stream stream)
{
    REAL_OR_FAIL(cudaMallocAsync);
    if (DISABLED()) return real(ptr, bytes, stream);
    uint8_t outer = enter(GPUMEM_API_CUDA_MALLOC_ASYNC);
    gcu_rt_error r = real(ptr, bytes, stream);
    leave_alloc(outer, r, GPUMEM_KIND_DEVICE, GPUMEM_API_CUDA_MALLOC_ASYNC, ptr, bytes);
    return r;
}

gcu_rt_error cudaMallocFromPoolAsync(void **ptr, size_t bytes, gcu_mempool pool, gcu_stream stream)
{
    REAL_OR_FAIL(cudaMallocFromPoolAsync);
    if (DISABLED()) return real(ptr, bytes, pool, stream);
    uint8_t outer = enter(GPUMEM_API_CUDA_MALLOC_FROM_POOL_ASYNC);
    gcu_rt_error r = real(ptr, bytes, pool, stream);
    leave_alloc(outer, r, GPUMEM_KIND_DEVICE, GPUMEM_API_CUDA_MALLOC_FROM_POOL_ASYNC, ptr, bytes);
    return r;
}

gcu_rt_error cudaFree(void *ptr)
{
    REAL_OR_FAIL(cudaFree);
    if (DISABLED()) return real(ptr);
    uint8_t outer = enter(GPUMEM_API_CUDA_FREE);
    gcu_rt_error r = real(ptr);
    leave_free(outer, r, GPUMEM_API_CUDA_FREE, ptr);
    return r;
}

gcu_rt_error cudaFreeAsync(void *ptr, gcu_stream stream)
{
    REAL_OR_FAIL(cudaFreeAsync);
    if (DISABLED()) return real(ptr, stream);
    uint8_t outer = enter(GPUMEM_API_CUDA_FREE_ASYNC);
    gcu_rt_error r = real(ptr, stream);
    leave_free(outer, r, GPUMEM_API_CUDA_FREE_ASYNC, ptr);
    return r;
}
