/*
 * fake_runtime.c - the stand-in CUDA runtime, built twice: as libcudart.so.13
 * (version node libcudart.so.13) and as a static archive that a program links
 * into itself, like nvcc's default libcudart_static.a.
 *
 * It reaches the driver exactly as the real runtime does: dlopen
 * ("libcuda.so.1"), dlsym(handle, "cuGetProcAddress_v2"), a probe lookup,
 * cuInit, a re-fetch of cuGetProcAddress itself (11030 and 12000), and then
 * every request of shared/cuda-facts/cudart13-driver-lookups.txt, in order,
 * through the pointer it got back. It never calls a driver symbol by name.
 *
 * Like the real runtime, each thread makes its device's primary context
 * current on first use (cuDevicePrimaryCtxRetain 7000 + cuCtxSetCurrent);
 * cudaDeviceReset destroys it (cuDevicePrimaryCtxReset 7000, which frees all
 * its memory) and every thread retains it again on its next call.
 * cudaDeviceSynchronize is cuCtxSynchronize (2000), cudaStreamSynchronize
 * cuStreamSynchronize (2000), cudaEventSynchronize cuEventSynchronize (2000):
 * the synchronisations at which the driver's pools shrink.
 *
 * GPUMEM_FAKE_RUNTIME_VMM=1 serves cudaMalloc and cudaFree with the driver's
 * virtual memory management instead (cuMemCreate, cuMemAddressReserve,
 * cuMemMap, cuMemSetAccess; cuMemUnmap, cuMemRelease, cuMemAddressFree),
 * sizes rounded to the 2 MiB granule, as a runtime that backs its
 * allocations with VMM does: the driver calls then happen inside the runtime
 * call. Those functions are looked up when first needed, after the list.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "cuda_abi.h"

#ifdef FAKE_RUNTIME_SHARED
#define RT_API __attribute__((visibility("default")))
#else
#define RT_API
#endif

typedef gcu_rt_error cudaError_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorDeviceUninitialized = 201,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorSymbolNotFound = 500,
    cudaErrorContextIsDestroyed = 709,
    cudaErrorUnknown = 999,
};
typedef struct CUevent_st *cudaEvent_t;

static const struct lookup {
    const char *name;
    int version;
    unsigned flags;
} lookups[] = {
#include "driver_lookups.inc"
};
#define NLOOKUPS (sizeof lookups / sizeof lookups[0])
static void *resolved[NLOOKUPS];

static pthread_once_t once = PTHREAD_ONCE_INIT;
static cudaError_t init_error;
static gcu_cuGetProcAddress_v2_fn get_proc;
static __thread int current_device;
static __thread int context_ready = -1;
/* Bumped by cudaDeviceReset: every thread's context is then stale. */
static int reset_generation;
static __thread int context_generation;

static void *entry(const char *name, int version, unsigned flags)
{
    for (size_t i = 0; i < NLOOKUPS; i++)
        if (lookups[i].version == version && lookups[i].flags == flags && strcmp(lookups[i].name, name) == 0)
            return resolved[i];
    return NULL;
}

/* A driver function by (name, version), looked up once per call site. */
#define DRV(type, name, version)                                          \
    ({                                                                    \
        static gcu_##type##_fn cached_;                                   \
        if (!cached_) cached_ = (gcu_##type##_fn)entry(name, version, 0); \
        cached_;                                                          \
    })

typedef gcu_result (*init_fn)(unsigned);
typedef gcu_result (*count_fn)(int *);
typedef gcu_result (*retain_fn)(gcu_context *, gcu_device);
typedef gcu_result (*setctx_fn)(gcu_context);
typedef gcu_result (*pool_fn)(gcu_mempool *, gcu_device);
typedef gcu_result (*sync_fn)(gcu_stream);
typedef gcu_result (*version_fn)(int *);
typedef gcu_result (*device_fn)(gcu_device);
typedef gcu_result (*ctx_sync_fn)(void);
typedef gcu_result (*event_create_fn)(cudaEvent_t *, unsigned int);
typedef gcu_result (*event_record_fn)(cudaEvent_t, gcu_stream);
typedef gcu_result (*event_fn)(cudaEvent_t);

static void initialise(void)
{
    void *driver = dlopen("libcuda.so.1", RTLD_NOW);
    if (!driver) {
        init_error = cudaErrorInsufficientDriver;
        return;
    }
    gcu_cuGetProcAddress_v2_fn first = (gcu_cuGetProcAddress_v2_fn)dlsym(driver, "cuGetProcAddress_v2");
    if (!first) {
        init_error = cudaErrorInsufficientDriver;
        return;
    }
    /* The requests of cuda-facts, in their order: the probe, cuInit and the
     * two cuGetProcAddress through the dlsym'd pointer, then everything
     * else through the cuGetProcAddress (12000) that the driver returned. */
    for (size_t i = 0; i < NLOOKUPS; i++) {
        const struct lookup *l = &lookups[i];
        gcu_proc_status status;
        int early = l->name[0] == '\0' || strcmp(l->name, "cuInit") == 0 || strcmp(l->name, "cuGetProcAddress") == 0;
        gcu_cuGetProcAddress_v2_fn lookup = early || !get_proc ? first : get_proc;
        resolved[i] = NULL;
        lookup(l->name, &resolved[i], l->version, l->flags, &status);
        if (strcmp(l->name, "cuInit") == 0) {
            if (!resolved[i]) {
                init_error = cudaErrorInsufficientDriver;
                return;
            }
            if (((init_fn)resolved[i])(0) != GCU_SUCCESS) {
                init_error = cudaErrorNoDevice;
                return;
            }
        }
        if (strcmp(l->name, "cuGetProcAddress") == 0 && l->version == 12000)
            get_proc = (gcu_cuGetProcAddress_v2_fn)resolved[i];
    }
    if (!get_proc) init_error = cudaErrorInsufficientDriver;
}

static cudaError_t from_driver(gcu_result r)
{
    switch (r) {
    case 0: return cudaSuccess;
    case 1: return cudaErrorInvalidValue;
    case 2: return cudaErrorMemoryAllocation;
    case 3: return cudaErrorInitializationError;
    case 100: return cudaErrorNoDevice;
    case 101: return cudaErrorInvalidDevice;
    case 201: return cudaErrorDeviceUninitialized;
    case 400: return cudaErrorInvalidResourceHandle;
    case 500: return cudaErrorSymbolNotFound;
    case 709: return cudaErrorContextIsDestroyed;
    default: return cudaErrorUnknown;
    }
}

/* Lazy initialisation and the calling thread's device context, as the real
 * runtime makes the primary context current on first use. */
static cudaError_t ready(void)
{
    pthread_once(&once, initialise);
    if (init_error) return init_error;
    int generation = __atomic_load_n(&reset_generation, __ATOMIC_ACQUIRE);
    if (context_ready != current_device || context_generation != generation) {
        gcu_context ctx;
        retain_fn retain = (retain_fn)entry("cuDevicePrimaryCtxRetain", 7000, 0);
        setctx_fn set = (setctx_fn)entry("cuCtxSetCurrent", 4000, 0);
        if (!retain || !set) return cudaErrorInsufficientDriver;
        gcu_result r = retain(&ctx, current_device);
        if (r == GCU_SUCCESS) r = set(ctx);
        if (r != GCU_SUCCESS) return from_driver(r);
        context_ready = current_device;
        context_generation = generation;
    }
    return cudaSuccess;
}

#define READY()                   \
    do {                          \
        cudaError_t e_ = ready(); \
        if (e_) return e_;        \
    } while (0)

RT_API cudaError_t cudaRuntimeGetVersion(int *v)
{
    if (!v) return cudaErrorInvalidValue;
    *v = 13000;
    return cudaSuccess;
}

RT_API cudaError_t cudaDriverGetVersion(int *v)
{
    pthread_once(&once, initialise);
    if (!v) return cudaErrorInvalidValue;
    version_fn f = (version_fn)entry("cuDriverGetVersion", 2020, 0);
    if (init_error || !f) {
        *v = 0;
        return cudaSuccess;
    }
    return from_driver(f(v));
}

RT_API cudaError_t cudaGetDeviceCount(int *n)
{
    pthread_once(&once, initialise);
    if (!n) return cudaErrorInvalidValue;
    if (init_error) {
        *n = 0;
        return init_error;
    }
    return from_driver(((count_fn)entry("cuDeviceGetCount", 2000, 0))(n));
}

RT_API cudaError_t cudaSetDevice(int device)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e) return e;
    if (device < 0 || device >= n) return cudaErrorInvalidDevice;
    current_device = device;
    return ready();
}

RT_API cudaError_t cudaGetDevice(int *device)
{
    if (!device) return cudaErrorInvalidValue;
    *device = current_device;
    return cudaSuccess;
}

/* How many cudaMalloc/cudaFree calls the thread is inside: lets tests see
 * that a callback runs after the runtime returned, not within it. */
static __thread int depth;
RT_API int fake_cudart_depth(void) { return depth; }

/* ---- GPUMEM_FAKE_RUNTIME_VMM=1 ---- */

#define VMM_GRANULE (2ull << 20)
#define VMM_MAX 4096
static struct {
    gcu_deviceptr va;
    size_t size;
    gcu_mem_handle h;
} vmm_blocks[VMM_MAX];
static pthread_mutex_t vmm_lock = PTHREAD_MUTEX_INITIALIZER;
typedef gcu_result (*reserve_fn)(gcu_deviceptr *, size_t, size_t, gcu_deviceptr, unsigned long long);
typedef gcu_result (*map_fn)(gcu_deviceptr, size_t, size_t, gcu_mem_handle, unsigned long long);
typedef gcu_result (*range_fn)(gcu_deviceptr, size_t);
typedef gcu_result (*access_fn)(gcu_deviceptr, size_t, const void *, size_t);

static int vmm_mode(void)
{
    static int mode = -1;
    if (mode < 0) {
        const char *v = getenv("GPUMEM_FAKE_RUNTIME_VMM");
        mode = v && strcmp(v, "1") == 0;
    }
    return mode;
}

static void *late(const char *name, int version)
{
    void *fn = NULL;
    gcu_proc_status st = 0;
    return get_proc(name, &fn, version, 0, &st) == GCU_SUCCESS ? fn : NULL;
}

static cudaError_t vmm_malloc(void **ptr, size_t size)
{
    gcu_cuMemCreate_fn create = (gcu_cuMemCreate_fn)late("cuMemCreate", 10020);
    reserve_fn reserve = (reserve_fn)late("cuMemAddressReserve", 10020);
    map_fn map = (map_fn)late("cuMemMap", 10020);
    access_fn access = (access_fn)late("cuMemSetAccess", 10020);
    if (!create || !reserve || !map || !access) return cudaErrorInsufficientDriver;
    size_t rounded = (size + VMM_GRANULE - 1) & ~(VMM_GRANULE - 1);
    gcu_mem_allocation_prop prop = { .type = 1,
                                     .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = current_device } };
    gcu_mem_handle h = 0;
    gcu_deviceptr va = 0;
    gcu_result r = create(&h, rounded, &prop, 0);
    if (r) return from_driver(r);
    struct {
        gcu_mem_location location;
        unsigned long long flags;
    } desc = { prop.location, 3 };
    if ((r = reserve(&va, rounded, 0, 0, 0)) || (r = map(va, rounded, 0, h, 0)) || (r = access(va, rounded, &desc, 1)))
        return from_driver(r);
    pthread_mutex_lock(&vmm_lock);
    for (int i = 0; i < VMM_MAX; i++)
        if (!vmm_blocks[i].va) {
            vmm_blocks[i].va = va;
            vmm_blocks[i].size = rounded;
            vmm_blocks[i].h = h;
            break;
        }
    pthread_mutex_unlock(&vmm_lock);
    *ptr = (void *)(uintptr_t)va;
    return cudaSuccess;
}

static cudaError_t vmm_free(void *ptr)
{
    range_fn unmap = (range_fn)late("cuMemUnmap", 10020), address_free = (range_fn)late("cuMemAddressFree", 10020);
    gcu_cuMemRelease_fn release = (gcu_cuMemRelease_fn)late("cuMemRelease", 10020);
    if (!unmap || !address_free || !release) return cudaErrorInsufficientDriver;
    gcu_deviceptr va = (gcu_deviceptr)(uintptr_t)ptr;
    size_t size = 0;
    gcu_mem_handle h = 0;
    pthread_mutex_lock(&vmm_lock);
    for (int i = 0; i < VMM_MAX; i++)
        if (vmm_blocks[i].va == va) {
            size = vmm_blocks[i].size;
            h = vmm_blocks[i].h;
            vmm_blocks[i].va = 0;
            break;
        }
    pthread_mutex_unlock(&vmm_lock);
    if (!size) return cudaErrorInvalidValue;
    gcu_result r = unmap(va, size);
    if (!r) r = release(h);
    if (!r) r = address_free(va, size);
    return from_driver(r);
}

RT_API cudaError_t cudaMalloc(void **ptr, size_t size)
{
    READY();
    if (!ptr) return cudaErrorInvalidValue;
    if (size == 0) {
        *ptr = NULL;
        return cudaSuccess;
    }
    depth++;
    cudaError_t e = vmm_mode() ? vmm_malloc(ptr, size)
                               : from_driver(DRV(cuMemAlloc_v2, "cuMemAlloc", 3020)((gcu_deviceptr *)ptr, size));
    depth--;
    return e;
}

RT_API cudaError_t cudaFree(void *ptr)
{
    READY();
    depth++;
    cudaError_t e = vmm_mode() && ptr
                        ? vmm_free(ptr)
                        : from_driver(DRV(cuMemFree_v2, "cuMemFree", 3020)((gcu_deviceptr)(uintptr_t)ptr));
    depth--;
    return e;
}

RT_API cudaError_t cudaMallocPitch(void **ptr, size_t *pitch, size_t width, size_t height)
{
    READY();
    if (!ptr || !pitch) return cudaErrorInvalidValue;
    return from_driver(DRV(cuMemAllocPitch_v2, "cuMemAllocPitch", 3020)((gcu_deviceptr *)ptr, pitch, width, height, 4));
}

RT_API cudaError_t cudaMallocManaged(void **ptr, size_t size, unsigned int flags)
{
    READY();
    return from_driver(DRV(cuMemAllocManaged, "cuMemAllocManaged", 6000)((gcu_deviceptr *)ptr, size, flags));
}

RT_API cudaError_t cudaMallocAsync(void **ptr, size_t size, gcu_stream s)
{
    READY();
    return from_driver(DRV(cuMemAllocAsync, "cuMemAllocAsync", 11020)((gcu_deviceptr *)ptr, size, s));
}

RT_API cudaError_t cudaMallocFromPoolAsync(void **ptr, size_t size, gcu_mempool pool, gcu_stream s)
{
    READY();
    return from_driver(
        DRV(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020)((gcu_deviceptr *)ptr, size, pool, s));
}

RT_API cudaError_t cudaFreeAsync(void *ptr, gcu_stream s)
{
    READY();
    return from_driver(DRV(cuMemFreeAsync, "cuMemFreeAsync", 11020)((gcu_deviceptr)(uintptr_t)ptr, s));
}

RT_API cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total)
{
    READY();
    return from_driver(DRV(cuMemGetInfo_v2, "cuMemGetInfo", 3020)(free_bytes, total));
}

RT_API cudaError_t cudaDeviceGetDefaultMemPool(gcu_mempool *pool, int device)
{
    READY();
    return from_driver(((pool_fn)entry("cuDeviceGetDefaultMemPool", 11020, 0))(pool, device));
}

RT_API cudaError_t cudaMemPoolTrimTo(gcu_mempool pool, size_t keep)
{
    READY();
    return from_driver(DRV(cuMemPoolTrimTo, "cuMemPoolTrimTo", 11020)(pool, keep));
}

RT_API cudaError_t cudaStreamSynchronize(gcu_stream s)
{
    READY();
    return from_driver(((sync_fn)entry("cuStreamSynchronize", 2000, 0))(s));
}

RT_API cudaError_t cudaDeviceSynchronize(void)
{
    READY();
    return from_driver(((ctx_sync_fn)entry("cuCtxSynchronize", 2000, 0))());
}

/* Destroys the device's primary context and all its memory; every thread
 * makes it current again (a new one) on its next call. */
RT_API cudaError_t cudaDeviceReset(void)
{
    READY();
    device_fn reset = (device_fn)entry("cuDevicePrimaryCtxReset", 7000, 0);
    if (!reset) return cudaErrorInsufficientDriver;
    gcu_result r = reset(current_device);
    __atomic_add_fetch(&reset_generation, 1, __ATOMIC_RELEASE);
    return from_driver(r);
}

RT_API cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    READY();
    return from_driver(((event_create_fn)entry("cuEventCreate", 2000, 0))(e, 0));
}

RT_API cudaError_t cudaEventRecord(cudaEvent_t e, gcu_stream s)
{
    READY();
    return from_driver(((event_record_fn)entry("cuEventRecord", 2000, 0))(e, s));
}

RT_API cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
    READY();
    return from_driver(((event_fn)entry("cuEventSynchronize", 2000, 0))(e));
}

RT_API cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    READY();
    return from_driver(((event_fn)entry("cuEventDestroy", 4000, 0))(e));
}

RT_API cudaError_t cudaGetDriverEntryPointByVersion(const char *symbol, void **fn, unsigned int version,
                                                    unsigned long long flags, unsigned int *status)
{
    READY();
    if (!symbol || !fn) return cudaErrorInvalidValue;
    gcu_proc_status st = 0;
    gcu_result r = get_proc(symbol, fn, (int)version, flags, &st);
    if (status) *status = st;
    return r == GCU_SUCCESS ? cudaSuccess : cudaErrorSymbolNotFound;
}

RT_API cudaError_t cudaGetDriverEntryPoint(const char *symbol, void **fn, unsigned long long flags,
                                           unsigned int *status)
{
    return cudaGetDriverEntryPointByVersion(symbol, fn, 13000, flags, status);
}

RT_API const char *cudaGetErrorName(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorDeviceUninitialized: return "cudaErrorDeviceUninitialized";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorContextIsDestroyed: return "cudaErrorContextIsDestroyed";
    default: return "cudaErrorUnknown";
    }
}

RT_API const char *cudaGetErrorString(cudaError_t e)
{
    return e == cudaErrorMemoryAllocation ? "out of memory" : cudaGetErrorName(e);
}
