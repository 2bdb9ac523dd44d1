/*
 * fake_driver.c - the stand-in libcuda.so.1: N simulated devices whose memory
 * is bookkeeping in host memory, with out-of-memory when a device is full.
 *
 * It exports the driver entry points that gpumem wraps or calls, under their
 * real versioned names, and answers cuGetProcAddress with the real (name,
 * version, flags) semantics: the highest ABI version not above the one asked
 * for, and the _ptsz variant when CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
 * is set. Device pointers are addresses in a reserved range, never backed.
 *
 * Environment:
 *   GPUMEM_FAKE_DEVICES      number of devices (default 2, at most 16)
 *   GPUMEM_FAKE_MEMORY_MIB   memory per device in MiB, one value or a comma
 *                            list per device (default 16384)
 *   GPUMEM_FAKE_LOOKUP_LOG   append "symbol version flags" for every
 *                            cuGetProcAddress request to this file
 *   GPUMEM_FAKE_CALL_NS      time each cuMemAlloc_v2 and cuMemFree_v2 spends
 *                            working under the driver's lock, like a real
 *                            driver's (default 0; for scripts/bench)
 *
 * Linked with -Bsymbolic-functions so its internal calls never reach a
 * preloaded shim.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_DEVICES 16
#define POOL_GRANULE (2ull << 20)

typedef unsigned int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef unsigned int CUdeviceptr_v1;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUmemPoolHandle_st *CUmemoryPool;
typedef struct { char bytes[16]; } CUuuid;
typedef struct { char reserved[64]; } CUipcMemHandle;
typedef struct { unsigned int type; int id; } CUmemLocation;
typedef struct {
    unsigned int type, requestedHandleTypes;
    CUmemLocation location;
    void *win32HandleMetaData;
    unsigned char flags[8];
} CUmemAllocationProp;
typedef struct {
    unsigned int allocType, handleTypes;
    CUmemLocation location;
    void *win32SecurityAttributes;
    size_t maxSize;
    unsigned short usage;
    unsigned char reserved[54];
} CUmemPoolProps;

enum {
    CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3, CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101, CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NOT_FOUND = 500, CUDA_ERROR_NOT_SUPPORTED = 801,
};
enum { ATTR_RELEASE_THRESHOLD = 4, ATTR_RESERVED_MEM_CURRENT = 5, ATTR_RESERVED_MEM_HIGH = 6,
       ATTR_USED_MEM_CURRENT = 7, ATTR_USED_MEM_HIGH = 8 };

/* ---- state ----------------------------------------------------------- */

struct pool {
    int device;
    int live;
    uint64_t reserved, used, threshold, reserved_high, used_high;
};

struct device {
    uint64_t total, used, next_addr;
    struct pool default_pool;
    struct pool *current_pool;
};

enum kind { K_DEVICE = 1, K_MANAGED, K_ASYNC, K_VMM, K_IMPORTED, K_RANGE };
struct block { uint64_t key, size; struct pool *pool; int device, kind; };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized, device_count;
static struct device devices[MAX_DEVICES];
static struct { int device; } contexts[MAX_DEVICES];
static __thread CUcontext current_ctx;
static struct block *blocks; /* open addressing on key, 0 = empty, 1 = tombstone */
static size_t block_cap, block_used;
static uint64_t call_ns; /* GPUMEM_FAKE_CALL_NS */
static uint64_t next_handle = 0x1000, next_va = 0x7e0000000000ull, next_imported = 0x7d0000000000ull;

static uint64_t env_u64_list(const char *name, int index, uint64_t dflt)
{
    const char *s = getenv(name);
    for (int i = 0; s && *s; i++) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) break;
        if (i == index || *end != ',') return v;
        s = end + 1;
    }
    return dflt;
}

static size_t block_slot(uint64_t key)
{
    /* Mix the high bits down: keys are 512-byte aligned. */
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h ^ (h >> 29)) & (block_cap - 1);
    while (blocks[i].key != 0 && blocks[i].key != key) i = (i + 1) & (block_cap - 1);
    return i;
}

static void block_grow(void)
{
    struct block *old = blocks;
    size_t old_cap = block_cap;
    block_cap = block_cap ? block_cap * 2 : 1024;
    blocks = calloc(block_cap, sizeof *blocks);
    block_used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key > 1) { blocks[block_slot(old[i].key)] = old[i]; block_used++; }
    free(old);
}

static void block_put(struct block b)
{
    if ((block_used + 1) * 4 >= block_cap * 3) block_grow();
    size_t i = block_slot(b.key);
    if (blocks[i].key == 0) block_used++;
    blocks[i] = b;
}

static struct block *block_get(uint64_t key)
{
    if (!block_cap || key <= 1) return NULL;
    struct block *b = &blocks[block_slot(key)];
    return b->key == key ? b : NULL;
}

/* Removal keeps probe chains intact by re-inserting the rest of the run. */
static void block_del(struct block *b)
{
    size_t i = (size_t)(b - blocks);
    b->key = 0;
    block_used--;
    for (size_t j = (i + 1) & (block_cap - 1); blocks[j].key; j = (j + 1) & (block_cap - 1)) {
        struct block moved = blocks[j];
        blocks[j].key = 0;
        block_used--;
        block_put(moved);
    }
}

static int current_device(CUresult *err)
{
    if (!initialized) { *err = CUDA_ERROR_NOT_INITIALIZED; return -1; }
    if (!current_ctx) { *err = CUDA_ERROR_INVALID_CONTEXT; return -1; }
    return ((int)(intptr_t)current_ctx) - 1;
}

/* A real driver's work for one call: the caller holds the lock. */
static void work(void)
{
    if (!call_ns) return;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t.tv_nsec - (uint64_t)t0.tv_nsec < call_ns);
}

static CUcontext ctx_of(int dev) { return (CUcontext)(intptr_t)(dev + 1); }

/* Reserve bytes of device memory; the caller holds the lock. */
static int device_take(int dev, uint64_t bytes)
{
    struct device *d = &devices[dev];
    if (bytes > d->total - d->used) return 0;
    d->used += bytes;
    return 1;
}

static uint64_t device_address(int dev, uint64_t bytes)
{
    struct device *d = &devices[dev];
    uint64_t a = d->next_addr;
    d->next_addr += (bytes + 511) & ~511ull;
    if (bytes == 0) d->next_addr += 512;
    return a;
}

/* The real driver is unusable in a fork child; the stand-in stays usable
 * there, so tests can show what the shim does in the child. */
static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_release(void) { pthread_mutex_unlock(&lock); }
__attribute__((constructor)) static void driver_load(void) { pthread_atfork(fork_prepare, fork_release, fork_release); }

/* ---- initialisation, devices, contexts ------------------------------- */

EXPORT CUresult cuInit(unsigned int flags)
{
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    if (!initialized) {
        device_count = (int)env_u64_list("GPUMEM_FAKE_DEVICES", 0, 2);
        if (device_count > MAX_DEVICES) device_count = MAX_DEVICES;
        for (int i = 0; i < device_count; i++) {
            devices[i].total = env_u64_list("GPUMEM_FAKE_MEMORY_MIB", i, 16384) << 20;
            devices[i].next_addr = 0x700000000000ull + ((uint64_t)i << 40);
            devices[i].default_pool = (struct pool){ .device = i, .live = 1 };
            devices[i].current_pool = &devices[i].default_pool;
            contexts[i].device = i;
        }
        call_ns = env_u64_list("GPUMEM_FAKE_CALL_NS", 0, 0);
        initialized = 1;
    }
    pthread_mutex_unlock(&lock);
    return device_count ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

EXPORT CUresult cuDriverGetVersion(int *v) { if (!v) return CUDA_ERROR_INVALID_VALUE; *v = 13000; return CUDA_SUCCESS; }

EXPORT CUresult cuDeviceGetCount(int *n)
{
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    *n = device_count;
    return CUDA_SUCCESS;
}

static CUresult check_device(CUdevice d)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    return d >= 0 && d < device_count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal)
{
    CUresult r = check_device(ordinal);
    if (r == CUDA_SUCCESS) { if (!d) return CUDA_ERROR_INVALID_VALUE; *d = ordinal; }
    return r;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "gpumem stand-in GPU %d", d);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    *bytes = devices[d].total;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice d)
{
    size_t b;
    CUresult r = cuDeviceTotalMem_v2(&b, d);
    if (r == CUDA_SUCCESS) *bytes = b > 0xffffffffu ? 0xffffffffu : (unsigned int)b;
    return r;
}

EXPORT CUresult cuDeviceGetUuid(CUuuid *u, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!u) return CUDA_ERROR_INVALID_VALUE;
    static const unsigned char base[16] = { 0x5a, 0x1f, 0x6e, 0x0d, 0x9c, 0x3b, 0x4a, 0x77,
                                            0x8e, 0x21, 0xc4, 0x02, 0xb6, 0x53, 0x90, 0x00 };
    memcpy(u->bytes, base, 16);
    u->bytes[15] = (char)d;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *u, CUdevice d) { return cuDeviceGetUuid(u, d); }

EXPORT CUresult cuDeviceGetPCIBusId(char *id, int len, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!id || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(id, (size_t)len, "0000:%02X:00.0", 0x10 + d);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, int attrib, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = attrib == 75 ? 9 : attrib == 76 ? 0 : 1; /* compute capability 9.0 */
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    *c = ctx_of(d);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) { return check_device(d); }

EXPORT CUresult cuCtxCreate_v2(CUcontext *c, unsigned int flags, CUdevice d)
{
    (void)flags;
    CUresult r = cuDevicePrimaryCtxRetain(c, d);
    if (r == CUDA_SUCCESS) current_ctx = *c;
    return r;
}

EXPORT CUresult cuCtxDestroy_v2(CUcontext c)
{
    if (current_ctx == c) current_ctx = NULL;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext c)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    intptr_t i = (intptr_t)c;
    if (c && (i < 1 || i > device_count)) return CUDA_ERROR_INVALID_CONTEXT;
    current_ctx = c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *c)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    *c = current_ctx;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *d)
{
    CUresult err = CUDA_SUCCESS;
    int dev = current_device(&err);
    if (dev < 0) return err;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    *d = dev;
    return CUDA_SUCCESS;
}

/* ---- plain device memory --------------------------------------------- */

static CUresult alloc_kind(CUdeviceptr *dptr, size_t bytes, enum kind kind)
{
    CUresult r = CUDA_SUCCESS;
    int dev = current_device(&r);
    if (dev < 0) return r;
    if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    work();
    if (kind == K_DEVICE && !device_take(dev, bytes)) r = CUDA_ERROR_OUT_OF_MEMORY;
    else {
        uint64_t a = device_address(dev, bytes);
        block_put((struct block){ a, bytes, NULL, dev, kind });
        *dptr = a;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) { return alloc_kind(dptr, bytes, K_DEVICE); }

/* The CUDA 2.x ABI with 32-bit pointers: kept so that lookups with an old
 * version find a different function, as on the real driver. */
EXPORT CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytes)
{
    (void)dptr; (void)bytes;
    return CUDA_ERROR_NOT_SUPPORTED;
}

EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height, unsigned int elem)
{
    if (!pitch || (elem != 4 && elem != 8 && elem != 16) || width == 0 || height == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t p = (width + 511) & ~(size_t)511;
    CUresult r = alloc_kind(dptr, p * height, K_DEVICE);
    if (r == CUDA_SUCCESS) *pitch = p;
    return r;
}

EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned int flags)
{
    if (flags != 1 && flags != 2) return CUDA_ERROR_INVALID_VALUE; /* GLOBAL or HOST */
    return alloc_kind(dptr, bytes, K_MANAGED);
}

static void pool_account(struct pool *p);
static void pool_release(struct pool *p);

EXPORT CUresult cuMemFree_v2(CUdeviceptr ptr)
{
    CUresult r = CUDA_SUCCESS;
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (ptr == 0) return CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    work();
    struct block *b = block_get(ptr);
    if (!b || (b->kind != K_DEVICE && b->kind != K_MANAGED && b->kind != K_ASYNC)) r = CUDA_ERROR_INVALID_VALUE;
    else {
        if (b->kind == K_DEVICE) devices[b->device].used -= b->size;
        if (b->kind == K_ASYNC) {
            b->pool->used -= b->size;
            pool_account(b->pool);
            if (!b->pool->live) pool_release(b->pool);
        }
        block_del(b);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    CUresult r = CUDA_SUCCESS;
    int dev = current_device(&r);
    if (dev < 0) return r;
    if (!free_bytes || !total) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *free_bytes = devices[dev].total - devices[dev].used;
    *total = devices[dev].total;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

/* ---- virtual memory management --------------------------------------- */

EXPORT CUresult cuMemGetAllocationGranularity(size_t *g, const CUmemAllocationProp *prop, int option)
{
    (void)option;
    if (!g || !prop) return CUDA_ERROR_INVALID_VALUE;
    *g = 2u << 20;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t bytes, const CUmemAllocationProp *prop, unsigned long long flags)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!h || !prop || bytes == 0 || flags != 0 || bytes % (2u << 20)) return CUDA_ERROR_INVALID_VALUE;
    int on_device = prop->location.type == 1;
    if (on_device && (prop->location.id < 0 || prop->location.id >= device_count)) return CUDA_ERROR_INVALID_DEVICE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    if (on_device && !device_take(prop->location.id, bytes)) r = CUDA_ERROR_OUT_OF_MEMORY;
    else {
        uint64_t key = next_handle++;
        block_put((struct block){ key, bytes, NULL, on_device ? prop->location.id : -1, K_VMM });
        *h = key;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    struct block *b = block_get(h);
    if (!b || b->kind != K_VMM) r = CUDA_ERROR_INVALID_VALUE;
    else {
        if (b->device >= 0) devices[b->device].used -= b->size;
        block_del(b);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr, unsigned long long flags)
{
    (void)align; (void)addr; (void)flags;
    if (!ptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *ptr = next_va;
    next_va += (size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size) { return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }

EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle h, unsigned long long flags)
{
    (void)offset;
    if (!ptr || !size || flags) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct block *b = block_get(h);
    CUresult r = b && b->kind == K_VMM ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size) { return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE; }
EXPORT CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const void *desc, size_t count)
{
    return ptr && size && desc && count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* ---- stream-ordered pools -------------------------------------------- */

/* Keep the device's used memory equal to the sum of what pools reserve:
 * called whenever a pool's reserve may change; the caller holds the lock. */
static void pool_set_reserved(struct pool *p, uint64_t reserved)
{
    devices[p->device].used = devices[p->device].used - p->reserved + reserved;
    p->reserved = reserved;
    if (reserved > p->reserved_high) p->reserved_high = reserved;
}

static uint64_t round_granule(uint64_t b) { return (b + POOL_GRANULE - 1) & ~(POOL_GRANULE - 1); }

static void pool_account(struct pool *p)
{
    if (p->used > p->used_high) p->used_high = p->used;
}

/* Give back what a pool holds beyond its release threshold (what the real
 * driver does at a synchronisation). The caller holds the lock. */
static void pool_release(struct pool *p)
{
    uint64_t keep = round_granule(p->used);
    if (keep < p->threshold) keep = p->threshold;
    if (p->reserved > keep) pool_set_reserved(p, keep);
}

static CUresult pool_alloc(CUdeviceptr *dptr, size_t bytes, struct pool *p)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr || bytes == 0 || !p || !p->live) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    uint64_t need = p->used + bytes;
    if (need > p->reserved) {
        uint64_t grow = round_granule(need) - p->reserved;
        if (!device_take(p->device, grow)) r = CUDA_ERROR_OUT_OF_MEMORY;
        else { devices[p->device].used -= grow; pool_set_reserved(p, p->reserved + grow); }
    }
    if (r == CUDA_SUCCESS) {
        p->used += bytes;
        pool_account(p);
        uint64_t a = device_address(p->device, bytes);
        block_put((struct block){ a, bytes, p, p->device, K_ASYNC });
        *dptr = a;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytes, CUstream s)
{
    (void)s;
    CUresult r = CUDA_SUCCESS;
    int dev = current_device(&r);
    if (dev < 0) return r;
    return pool_alloc(dptr, bytes, devices[dev].current_pool);
}
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream s) { return cuMemAllocAsync(dptr, bytes, s); }

EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s)
{
    (void)s;
    return pool_alloc(dptr, bytes, (struct pool *)pool);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s)
{
    return cuMemAllocFromPoolAsync(dptr, bytes, pool, s);
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr ptr, CUstream s)
{
    (void)s;
    return cuMemFree_v2(ptr);
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr ptr, CUstream s) { return cuMemFreeAsync(ptr, s); }

EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    if (!pool || !props || props->location.type != 1 || props->location.id < 0 || props->location.id >= device_count)
        return CUDA_ERROR_INVALID_VALUE;
    struct pool *p = calloc(1, sizeof *p);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    p->device = props->location.id;
    p->live = 1;
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    struct pool *p = (struct pool *)pool;
    if (!p || !p->live || p == &devices[p->device].default_pool) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    /* Live allocations of a destroyed pool stay valid until freed, as on the
     * real driver; the stand-in simply keeps the pool's reserve until then. */
    p->live = 0;
    if (devices[p->device].current_pool == p) devices[p->device].current_pool = &devices[p->device].default_pool;
    p->threshold = 0;
    pool_release(p);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep)
{
    struct pool *p = (struct pool *)pool;
    if (!p) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    uint64_t floor = round_granule(p->used);
    if (floor < keep) floor = keep;
    if (p->reserved > floor) pool_set_reserved(p, floor);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, int attr, void *value)
{
    struct pool *p = (struct pool *)pool;
    if (!p || !value) return CUDA_ERROR_INVALID_VALUE;
    uint64_t v;
    pthread_mutex_lock(&lock);
    switch (attr) {
    case ATTR_RELEASE_THRESHOLD: v = p->threshold; break;
    case ATTR_RESERVED_MEM_CURRENT: v = p->reserved; break;
    case ATTR_RESERVED_MEM_HIGH: v = p->reserved_high; break;
    case ATTR_USED_MEM_CURRENT: v = p->used; break;
    case ATTR_USED_MEM_HIGH: v = p->used_high; break;
    default: pthread_mutex_unlock(&lock); return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&lock);
    memcpy(value, &v, sizeof v);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, int attr, void *value)
{
    struct pool *p = (struct pool *)pool;
    if (!p || !value || attr != ATTR_RELEASE_THRESHOLD) return CUDA_ERROR_INVALID_VALUE;
    memcpy(&p->threshold, value, sizeof p->threshold);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    *pool = (CUmemoryPool)&devices[d].default_pool;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!pool) return CUDA_ERROR_INVALID_VALUE;
    *pool = (CUmemoryPool)devices[d].current_pool;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceSetMemPool(CUdevice d, CUmemoryPool pool)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!pool || ((struct pool *)pool)->device != d) return CUDA_ERROR_INVALID_VALUE;
    devices[d].current_pool = (struct pool *)pool;
    return CUDA_SUCCESS;
}

static CUresult synchronize_all(void)
{
    if (!initialized) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < device_count; i++) pool_release(&devices[i].default_pool);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) { return synchronize_all(); }
EXPORT CUresult cuStreamSynchronize(CUstream s) { (void)s; return synchronize_all(); }
EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { (void)s; return synchronize_all(); }

/* ---- IPC: memory of another process, never this one's ----------------- */

EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *h, CUdeviceptr ptr)
{
    if (!h || !ptr) return CUDA_ERROR_INVALID_VALUE;
    memset(h, 0, sizeof *h);
    memcpy(h->reserved, &ptr, sizeof ptr);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *ptr, CUipcMemHandle h, unsigned int flags)
{
    (void)h; (void)flags;
    if (!ptr) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *ptr = next_imported;
    block_put((struct block){ next_imported, 1, NULL, -1, K_IMPORTED });
    next_imported += 1u << 21;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr ptr)
{
    pthread_mutex_lock(&lock);
    struct block *b = block_get(ptr);
    CUresult r = b && b->kind == K_IMPORTED ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) block_del(b);
    pthread_mutex_unlock(&lock);
    return r;
}

/* ---- errors ------------------------------------------------------------ */

EXPORT CUresult cuGetErrorName(CUresult e, const char **s)
{
    if (!s) return CUDA_ERROR_INVALID_VALUE;
    switch (e) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    default: *s = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* ---- cuGetProcAddress ---------------------------------------------------- */

CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags);
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags, unsigned int *status);

struct proc { const char *name; int version; int ptds; void *fn; };
#define P(name, version, fn) { name, version, 0, (void *)(fn) }
#define PT(name, version, fn) { name, version, 1, (void *)(fn) }
static const struct proc procs[] = {
    P("cuInit", 2000, cuInit),
    P("cuDriverGetVersion", 2020, cuDriverGetVersion),
    P("cuGetProcAddress", 11030, cuGetProcAddress),
    P("cuGetProcAddress", 12000, cuGetProcAddress_v2),
    P("cuDeviceGet", 2000, cuDeviceGet),
    P("cuDeviceGetCount", 2000, cuDeviceGetCount),
    P("cuDeviceGetName", 2000, cuDeviceGetName),
    P("cuDeviceTotalMem", 2000, cuDeviceTotalMem),
    P("cuDeviceTotalMem", 3020, cuDeviceTotalMem_v2),
    P("cuDeviceGetAttribute", 2000, cuDeviceGetAttribute),
    P("cuDeviceGetUuid", 9020, cuDeviceGetUuid),
    P("cuDeviceGetUuid", 11040, cuDeviceGetUuid_v2),
    P("cuDeviceGetPCIBusId", 4010, cuDeviceGetPCIBusId),
    P("cuDeviceGetDefaultMemPool", 11020, cuDeviceGetDefaultMemPool),
    P("cuDeviceGetMemPool", 11020, cuDeviceGetMemPool),
    P("cuDeviceSetMemPool", 11020, cuDeviceSetMemPool),
    P("cuDevicePrimaryCtxRetain", 7000, cuDevicePrimaryCtxRetain),
    P("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
    P("cuCtxCreate", 3020, cuCtxCreate_v2),
    P("cuCtxDestroy", 4000, cuCtxDestroy_v2),
    P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
    P("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
    P("cuCtxGetDevice", 2000, cuCtxGetDevice),
    P("cuCtxSynchronize", 2000, cuCtxSynchronize),
    P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
    P("cuMemAlloc", 2000, cuMemAlloc),
    P("cuMemAlloc", 3020, cuMemAlloc_v2),
    P("cuMemAllocPitch", 3020, cuMemAllocPitch_v2),
    P("cuMemFree", 3020, cuMemFree_v2),
    P("cuMemAllocManaged", 6000, cuMemAllocManaged),
    P("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
    P("cuMemCreate", 10020, cuMemCreate),
    P("cuMemRelease", 10020, cuMemRelease),
    P("cuMemAddressReserve", 10020, cuMemAddressReserve),
    P("cuMemAddressFree", 10020, cuMemAddressFree),
    P("cuMemMap", 10020, cuMemMap),
    P("cuMemUnmap", 10020, cuMemUnmap),
    P("cuMemSetAccess", 10020, cuMemSetAccess),
    P("cuMemAllocAsync", 11020, cuMemAllocAsync),
    PT("cuMemAllocAsync", 11020, cuMemAllocAsync_ptsz),
    P("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync),
    PT("cuMemAllocFromPoolAsync", 11020, cuMemAllocFromPoolAsync_ptsz),
    P("cuMemFreeAsync", 11020, cuMemFreeAsync),
    PT("cuMemFreeAsync", 11020, cuMemFreeAsync_ptsz),
    P("cuMemPoolTrimTo", 11020, cuMemPoolTrimTo),
    P("cuMemPoolSetAttribute", 11020, cuMemPoolSetAttribute),
    P("cuMemPoolGetAttribute", 11020, cuMemPoolGetAttribute),
    P("cuMemPoolCreate", 11020, cuMemPoolCreate),
    P("cuMemPoolDestroy", 11020, cuMemPoolDestroy),
    P("cuStreamSynchronize", 2000, cuStreamSynchronize),
    PT("cuStreamSynchronize", 7000, cuStreamSynchronize_ptsz),
    P("cuIpcGetMemHandle", 4010, cuIpcGetMemHandle),
    P("cuIpcOpenMemHandle", 11000, cuIpcOpenMemHandle_v2),
    P("cuIpcCloseMemHandle", 4010, cuIpcCloseMemHandle),
    P("cuGetErrorName", 6000, cuGetErrorName),
};

static void log_lookup(const char *symbol, int version, unsigned long long flags)
{
    const char *path = getenv("GPUMEM_FAKE_LOOKUP_LOG");
    if (!path) return;
    char line[256];
    int n = snprintf(line, sizeof line, "%s %d %llu\n", symbol, version, flags);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, line, (size_t)n) < 0) { /* the log is best effort */ }
    close(fd);
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags, unsigned int *status)
{
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    log_lookup(symbol, version, flags);
    const struct proc *best = NULL;
    int known = 0, want_ptds = (flags & 2) != 0;
    for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
        const struct proc *p = &procs[i];
        if (strcmp(p->name, symbol) != 0) continue;
        known = 1;
        if (p->version > version || (p->ptds && !want_ptds)) continue;
        if (!best || p->version > best->version || (p->version == best->version && p->ptds)) best = p;
    }
    *pfn = best ? best->fn : NULL;
    if (status) *status = best ? 0 : known ? 2 : 1;
    return best ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags)
{
    return cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}

/* ---- test hooks ---------------------------------------------------------- */

/* An allocation made behind the shim's back, for "free of an unknown
 * pointer" tests. */
EXPORT CUresult fake_cuda_alloc_unseen(CUdeviceptr *dptr, size_t bytes) { return alloc_kind(dptr, bytes, K_DEVICE); }

/* What the stand-in device itself holds, to compare with gpumem's figure. */
EXPORT unsigned long long fake_cuda_used_bytes(int device)
{
    return device >= 0 && device < device_count ? devices[device].used : 0;
}
