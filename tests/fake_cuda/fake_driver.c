/*
 * fake_driver.c - the stand-in libcuda.so.1: simulated devices whose memory
 * is bookkeeping in host memory, with out-of-memory when a device is full,
 * and the behaviour of a real driver wherever a memory counter can see it.
 *
 * It exports the driver entry points that gpumem wraps or calls and those
 * that real clients (the runtime, numba, HAMi-core's tests) call, under
 * their real versioned names (v1 and _v2 where both exist; the v1 ABIs with
 * 32-bit device pointers answer CUDA_ERROR_NOT_SUPPORTED), and answers
 * cuGetProcAddress with the real (name, version, flags) semantics: the
 * highest ABI version not above the one asked for, and the _ptsz/_ptds
 * variant when CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM is set.
 *
 * What it does like a real driver:
 *
 *  - Addresses are reused at once. Each device has a LIFO list of freed
 *    address ranges: an allocation takes the most recently freed range that
 *    fits (its start; the rest stays free), else fresh addresses. Freed
 *    ranges are not coalesced. Sizes are rounded up to 512 bytes. Pool
 *    (stream-ordered) allocations share the device's address space and
 *    list; cuMemCreate handles are reused the same way (a released handle
 *    value is the next one created).
 *  - Contexts are objects {device, primary?, alive}; each thread has a
 *    context stack (cuCtxPushCurrent/PopCurrent; cuCtxSetCurrent replaces the
 *    top, NULL pops it). cuCtxCreate (v1, _v2, _v3, _v4) makes a new context
 *    and pushes it. Each device has one primary context with a reference
 *    count: cuDevicePrimaryCtxRetain creates it when inactive; the release
 *    that takes the count to 0 destroys it; cuDevicePrimaryCtxReset destroys
 *    it at once and keeps the count (as cuda.h says: a reset does not
 *    release), so a later retain adds to it. A destroyed context stays known:
 *    it can be made current, and every call that uses it answers
 *    CUDA_ERROR_CONTEXT_IS_DESTROYED (709); a pointer that never was a
 *    context answers CUDA_ERROR_INVALID_CONTEXT. A reactivated primary
 *    context is a new handle. cuCtxDestroy of a primary context answers
 *    CUDA_ERROR_INVALID_CONTEXT.
 *  - Teardown frees memory. Every allocation remembers the context current
 *    when it was made. Destroying a context (cuCtxDestroy, primary reset or
 *    last release) frees its cuMemAlloc/cuMemAllocPitch/cuMemAllocManaged
 *    memory, its pinned host memory, its arrays and the IPC mappings it
 *    opened, without a free call each: the device's used bytes go down and
 *    the addresses are free for reuse; a later cuMemFree of such a pointer
 *    answers CUDA_ERROR_INVALID_VALUE. It never frees cuMemCreate handles
 *    nor, for cuCtxDestroy, stream-ordered allocations (cuda.h). Destroying
 *    a device's primary context also frees the stream-ordered allocations
 *    of every pool of that device and trims those pools to 0. Streams and
 *    events of a destroyed context answer 709 until destroyed.
 *  - Pools shrink at synchronisation: cuStreamSynchronize(_ptsz),
 *    cuCtxSynchronize(_v2) and cuEventSynchronize give back what every pool
 *    (default and created, every device) holds beyond the larger of its
 *    release threshold and its used bytes rounded up to 2 MiB. A free never
 *    shrinks a live pool; cuMemPoolTrimTo trims at once; a destroyed pool
 *    gives back its memory as its last allocations are freed.
 *  - CUDA_VISIBLE_DEVICES selects and renumbers the physical devices: a
 *    comma list of ordinals or of UUIDs "GPU-..." (a unique prefix is
 *    enough; blanks around an entry are ignored), which stops at the first
 *    invalid, ambiguous or repeated entry; set but empty means no device (cuInit answers
 *    CUDA_ERROR_NO_DEVICE, the count is 0). Name, UUID, PCI bus id and
 *    memory size follow the physical device.
 *  - Memory copies copy: a device allocation gets host memory behind it the
 *    first time it is copied to, from or set (never before, so untouched
 *    16 GiB allocations cost nothing); data round-trips HtoD -> DtoH.
 *    Pinned host memory (cuMemHostAlloc, cuMemAllocHost) is real host memory
 *    and is its own device pointer (unified addressing). Copies, streams and
 *    events are synchronous: every stream and event is always complete.
 *  - cuPointerGetAttribute and cuMemGetAddressRange know every live
 *    allocation, interior pointers included (found by a scan: O(live)).
 *    Arrays (cuArrayCreate) take device memory that gpumem does not count.
 *
 * Not modelled: VMM mappings (cuMemMap records nothing; cuMemAddressFree
 * frees nothing), kernels and modules, the host side of managed memory (its
 * addresses are not host-accessible), cuCtxDestroy from other threads while
 * they use the context (the call is serialised, not undefined).
 *
 * Environment:
 *   GPUMEM_FAKE_DEVICES      number of physical devices (default 2, at most 16)
 *   GPUMEM_FAKE_MEMORY_MIB   memory per device in MiB, one value or a comma
 *                            list indexed by physical ordinal (default 16384)
 *   GPUMEM_FAKE_LOOKUP_LOG   append "symbol version flags" for every
 *                            cuGetProcAddress request to this file
 *   GPUMEM_FAKE_CALL_NS      time each cuMemAlloc_v2 and cuMemFree_v2 spends
 *                            working under the driver's lock, like a real
 *                            driver's (default 0; for scripts/bench)
 *   CUDA_VISIBLE_DEVICES     as above
 *
 * errno: like a real driver, whose calls make system calls, the queries a
 * memory counter makes (cuCtxGetDevice, cuDeviceGetMemPool,
 * cuMemPoolGetAttribute, cuPointerGetAttribute, cuDevicePrimaryCtxGetState,
 * cuMemGetAllocationPropertiesFromHandle) leave errno changed; allocation and
 * free calls leave it alone, so a test sees whether a shim kept the caller's.
 *
 * Test hooks: fake_cuda_alloc_unseen (an allocation behind a shim's back)
 * and fake_cuda_used_bytes (a visible device's used bytes).
 *
 * Linked with -Bsymbolic-functions so its internal calls never reach a
 * preloaded shim. One lock serialises every call that changes state.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
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
#define CTX_STACK_MAX 64

/* A query's system call left errno changed (see the header). */
#define QUERY_ERRNO() (errno = ENOTTY)

/* ---- CUDA's types, as cuda.h (13.0) lays them out ---------------------- */

typedef unsigned int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef unsigned int CUdeviceptr_v1;
typedef unsigned long long CUmemGenericAllocationHandle;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUarray_st *CUarray;
typedef struct CUmemPoolHandle_st *CUmemoryPool;
typedef struct {
    char bytes[16];
} CUuuid;
typedef struct {
    char reserved[64];
} CUipcMemHandle;
typedef struct {
    unsigned int type;
    int id;
} CUmemLocation;
typedef struct {
    unsigned int type, requestedHandleTypes;
    CUmemLocation location;
    void *win32HandleMetaData;
    struct {
        unsigned char compressionType, gpuDirectRDMACapable;
        unsigned short usage;
        unsigned char reserved[4];
    } allocFlags;
} CUmemAllocationProp;
typedef struct {
    unsigned int allocType, handleTypes;
    CUmemLocation location;
    void *win32SecurityAttributes;
    size_t maxSize;
    unsigned short usage;
    unsigned char reserved[54];
} CUmemPoolProps;
typedef struct {
    unsigned int type; /* CUexecAffinityType */
    union {
        struct {
            unsigned int val;
        } smCount;
    } param;
} CUexecAffinityParam;
typedef struct {
    CUexecAffinityParam *execAffinityParams;
    int numExecAffinityParams;
    void *cigParams; /* CUctxCigParam * */
} CUctxCreateParams;
typedef struct {
    size_t Width, Height;
    unsigned int Format, NumChannels;
} CUDA_ARRAY_DESCRIPTOR;
typedef struct {
    unsigned int Width, Height;
    unsigned int Format, NumChannels;
} CUDA_ARRAY_DESCRIPTOR_v1;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
    CUDA_ERROR_NOT_SUPPORTED = 801,
};
enum {
    ATTR_RELEASE_THRESHOLD = 4,
    ATTR_RESERVED_MEM_CURRENT = 5,
    ATTR_RESERVED_MEM_HIGH = 6,
    ATTR_USED_MEM_CURRENT = 7,
    ATTR_USED_MEM_HIGH = 8
};
enum {
    PTR_CONTEXT = 1,
    PTR_MEMORY_TYPE = 2,
    PTR_DEVICE_POINTER = 3,
    PTR_HOST_POINTER = 4,
    PTR_BUFFER_ID = 7,
    PTR_IS_MANAGED = 8,
    PTR_DEVICE_ORDINAL = 9,
    PTR_RANGE_START_ADDR = 11,
    PTR_RANGE_SIZE = 12,
    PTR_MAPPED = 13,
    PTR_MEMPOOL_HANDLE = 17
};
enum { MEMORYTYPE_HOST = 1, MEMORYTYPE_DEVICE = 2 };
#define STREAM_LEGACY ((CUstream)0x1)
#define STREAM_PER_THREAD ((CUstream)0x2)

/* ---- state ----------------------------------------------------------- */

enum kind { K_DEVICE = 1, K_MANAGED, K_ASYNC, K_VMM, K_IMPORTED, K_HOST, K_ARRAY };

struct ctx;
struct pool;

/* One allocation: device memory, a VMM handle, pinned host memory, an
 * array. It sits in one owner list (its context's, or its pool's). */
struct block {
    uint64_t key, size, span; /* address (or handle), bytes asked, address space taken */
    int kind, device;
    struct ctx *ctx;          /* current at allocation; NULL if none */
    struct pool *pool;        /* K_ASYNC */
    void *backing;            /* host memory behind it, once copied to or from */
    unsigned long long id;    /* CU_POINTER_ATTRIBUTE_BUFFER_ID */
    CUmemAllocationProp prop; /* K_VMM */
    struct block **owner, *prev, *next;
};

struct ctx {
    int device, primary, alive;
    unsigned int flags;
    struct block *blocks;
    struct ctx *all_next;
};

struct pool {
    int device, live;
    uint64_t reserved, used, threshold, reserved_high, used_high;
    struct block *blocks;
    struct pool *next_pool; /* created pools only */
};

struct range {
    uint64_t start, size;
    struct range *next;
};

struct device {
    int phys;
    uint64_t total, used, next_addr;
    struct range *free_ranges; /* most recently freed first */
    struct pool default_pool;
    struct pool *current_pool;
    struct ctx *primary;
    int primary_refs;
    unsigned int primary_flags;
};

enum { O_STREAM = 1, O_EVENT };
struct object {
    int kind;
    struct ctx *ctx;
    unsigned int flags;
    int priority, recorded;
    struct timespec when;
};

/* uint64 -> pointer, open addressing; key 0 is empty. */
struct map {
    struct slot {
        uint64_t key;
        void *val;
    } * s;
    size_t cap, used;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int initialized, device_count, physical_count;
static struct device devices[MAX_DEVICES];
static struct ctx *all_ctxs;
static struct pool *created_pools;
static struct map dev_map;    /* device addresses: K_DEVICE, K_MANAGED, K_ASYNC, K_IMPORTED */
static struct map handle_map; /* K_VMM */
static struct map host_map;   /* K_HOST */
static struct map array_map;  /* K_ARRAY, keyed by the CUarray */
static struct map obj_map;    /* streams and events */
static uint64_t *free_handles;
static size_t free_handle_count, free_handle_cap;
static unsigned long long buffer_ids;
static uint64_t call_ns; /* GPUMEM_FAKE_CALL_NS */
static uint64_t next_handle = 0x1000, next_va = 0x7e0000000000ull, next_imported = 0x7d0000000000ull;

static __thread struct ctx *ctx_stack[CTX_STACK_MAX];
static __thread int ctx_depth;

static int is_initialized(void) { return __atomic_load_n(&initialized, __ATOMIC_ACQUIRE); }

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

/* ---- the map ------------------------------------------------------------ */

static size_t map_slot(const struct map *m, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h ^ (h >> 29)) & (m->cap - 1);
    while (m->s[i].key != 0 && m->s[i].key != key) i = (i + 1) & (m->cap - 1);
    return i;
}

static int map_put(struct map *m, uint64_t key, void *val)
{
    if ((m->used + 1) * 4 >= m->cap * 3) {
        size_t old_cap = m->cap, cap = m->cap ? m->cap * 2 : 1024;
        struct slot *old = m->s, *s = calloc(cap, sizeof *s);
        if (!s) return 0;
        m->s = s;
        m->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].key) m->s[map_slot(m, old[i].key)] = old[i];
        free(old);
    }
    size_t i = map_slot(m, key);
    if (m->s[i].key == 0) m->used++;
    m->s[i] = (struct slot){ key, val };
    return 1;
}

static void *map_get(const struct map *m, uint64_t key)
{
    if (!m->cap || key == 0) return NULL;
    size_t i = map_slot(m, key);
    return m->s[i].key == key ? m->s[i].val : NULL;
}

/* Removal keeps probe chains intact by re-inserting the rest of the run. */
static void map_del(struct map *m, uint64_t key)
{
    if (!m->cap || key == 0) return;
    size_t i = map_slot(m, key);
    if (m->s[i].key != key) return;
    m->s[i].key = 0;
    m->used--;
    for (size_t j = (i + 1) & (m->cap - 1); m->s[j].key; j = (j + 1) & (m->cap - 1)) {
        struct slot moved = m->s[j];
        m->s[j].key = 0;
        m->s[map_slot(m, moved.key)] = moved;
    }
}

/* The live block that contains addr: its start, else a scan (interior
 * pointers are rare: pointer queries, copies of a slice). */
static struct block *map_find_containing(const struct map *m, uint64_t addr)
{
    struct block *b = map_get(m, addr);
    if (b) return b;
    for (size_t i = 0; i < m->cap; i++) {
        struct block *c = m->s[i].val;
        if (m->s[i].key && addr > c->key && addr - c->key < (c->size ? c->size : 1)) return c;
    }
    return NULL;
}

/* ---- addresses and handles: reused at once, most recently freed first ---- */

static uint64_t span_of(uint64_t bytes) { return bytes ? (bytes + 511) & ~511ull : 512; }

static uint64_t address_take(int dev, uint64_t span)
{
    struct device *d = &devices[dev];
    for (struct range **link = &d->free_ranges, *r; (r = *link) != NULL; link = &r->next) {
        if (r->size < span) continue;
        uint64_t a = r->start;
        if (r->size == span) {
            *link = r->next;
            free(r);
        } else {
            r->start += span;
            r->size -= span;
        }
        return a;
    }
    uint64_t a = d->next_addr;
    d->next_addr += span;
    return a;
}

static void address_give(int dev, uint64_t start, uint64_t span)
{
    struct range *r = malloc(sizeof *r);
    if (!r) return; /* the range is lost, never handed out twice */
    *r = (struct range){ start, span, devices[dev].free_ranges };
    devices[dev].free_ranges = r;
}

static uint64_t handle_take(void) { return free_handle_count ? free_handles[--free_handle_count] : next_handle++; }

static void handle_give(uint64_t h)
{
    if (free_handle_count == free_handle_cap) {
        size_t cap = free_handle_cap ? free_handle_cap * 2 : 256;
        uint64_t *n = realloc(free_handles, cap * sizeof *n);
        if (!n) return;
        free_handles = n;
        free_handle_cap = cap;
    }
    free_handles[free_handle_count++] = h;
}

/* ---- blocks ------------------------------------------------------------- */

static struct block *block_new(int kind, int dev, uint64_t size, struct ctx *c)
{
    struct block *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->kind = kind;
    b->device = dev;
    b->size = size;
    b->span = span_of(size);
    b->ctx = c;
    b->id = ++buffer_ids;
    return b;
}

static void block_link(struct block *b, struct block **owner)
{
    b->owner = owner;
    b->prev = NULL;
    b->next = *owner;
    if (*owner) (*owner)->prev = b;
    *owner = b;
}

static void block_unlink(struct block *b)
{
    if (!b->owner) return;
    if (b->prev) b->prev->next = b->next;
    else *b->owner = b->next;
    if (b->next) b->next->prev = b->prev;
    b->owner = NULL;
}

/* Reserve bytes of device memory; the caller holds the lock. */
static int device_take(int dev, uint64_t bytes)
{
    struct device *d = &devices[dev];
    if (bytes > d->total - d->used) return 0;
    d->used += bytes;
    return 1;
}

static void device_give(int dev, uint64_t bytes)
{
    struct device *d = &devices[dev];
    d->used = bytes > d->used ? 0 : d->used - bytes;
}

/* Give a block's memory, address and key back; the caller holds the lock
 * and has taken care of a pool's reserve. */
static void block_free(struct block *b)
{
    block_unlink(b);
    switch (b->kind) {
    case K_DEVICE: device_give(b->device, b->size); /* fall through */
    case K_MANAGED:
        map_del(&dev_map, b->key);
        address_give(b->device, b->key, b->span);
        break;
    case K_ASYNC:
        b->pool->used -= b->size;
        map_del(&dev_map, b->key);
        address_give(b->device, b->key, b->span);
        break;
    case K_IMPORTED: map_del(&dev_map, b->key); break;
    case K_HOST:
        map_del(&host_map, b->key);
        free((void *)(uintptr_t)b->key);
        break;
    case K_ARRAY:
        device_give(b->device, b->size);
        map_del(&array_map, b->key);
        break;
    case K_VMM:
        if (b->device >= 0) device_give(b->device, b->size);
        map_del(&handle_map, b->key);
        handle_give(b->key);
        break;
    }
    free(b->backing);
    free(b);
}

/* ---- contexts ----------------------------------------------------------- */

static struct ctx *ctx_top(void) { return ctx_depth ? ctx_stack[ctx_depth - 1] : NULL; }
static int ctx_alive(const struct ctx *c) { return __atomic_load_n(&c->alive, __ATOMIC_ACQUIRE); }

static struct ctx *ctx_new(int dev, int primary, unsigned int flags)
{
    struct ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->device = dev;
    c->primary = primary;
    c->flags = flags;
    c->alive = 1;
    c->all_next = all_ctxs;
    all_ctxs = c;
    return c;
}

/* Whether c is a context this driver made (alive or destroyed). Contexts
 * are never freed, so that a stale handle is recognised. Under the lock. */
static int ctx_known(const struct ctx *c)
{
    for (const struct ctx *x = all_ctxs; x; x = x->all_next)
        if (x == c) return 1;
    return 0;
}

static void pool_set_reserved(struct pool *p, uint64_t reserved);
static uint64_t round_granule(uint64_t b) { return (b + POOL_GRANULE - 1) & ~(POOL_GRANULE - 1); }

/* Free a pool's allocations and trim it to what it still holds (nothing). */
static void pool_teardown(struct pool *p)
{
    while (p->blocks) block_free(p->blocks);
    pool_set_reserved(p, round_granule(p->used));
}

/* Destroy a context and free all its memory; the caller holds the lock. */
static void ctx_teardown(struct ctx *c)
{
    __atomic_store_n(&c->alive, 0, __ATOMIC_RELEASE);
    while (c->blocks) block_free(c->blocks);
    if (!c->primary) return;
    /* A primary context's end also frees the stream-ordered memory of the
     * device's pools, and trims them to what they still hold. */
    pool_teardown(&devices[c->device].default_pool);
    for (struct pool *p = created_pools; p; p = p->next_pool)
        if (p->device == c->device) pool_teardown(p);
}

/* The calling thread's current context and its device, or an error. */
static int current(CUresult *err, struct ctx **out)
{
    if (!is_initialized()) {
        *err = CUDA_ERROR_NOT_INITIALIZED;
        return -1;
    }
    struct ctx *c = ctx_top();
    if (!c) {
        *err = CUDA_ERROR_INVALID_CONTEXT;
        return -1;
    }
    if (!ctx_alive(c)) {
        *err = CUDA_ERROR_CONTEXT_IS_DESTROYED;
        return -1;
    }
    if (out) *out = c;
    return c->device;
}

static int current_device(CUresult *err) { return current(err, NULL); }

#define NEED_CONTEXT(c)         \
    CUresult r_ = CUDA_SUCCESS; \
    struct ctx *c = NULL;       \
    if (current(&r_, &c) < 0) return r_

/* A real driver's work for one call: the caller holds the lock. */
static void work(void)
{
    if (!call_ns) return;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t.tv_nsec - (uint64_t)t0.tv_nsec < call_ns);
}

/* The real driver is unusable in a fork child; the stand-in stays usable
 * there, so tests can show what the shim does in the child. */
static void fork_prepare(void) { pthread_mutex_lock(&lock); }
static void fork_release(void) { pthread_mutex_unlock(&lock); }
__attribute__((constructor)) static void driver_load(void) { pthread_atfork(fork_prepare, fork_release, fork_release); }

/* ---- initialisation, devices --------------------------------------------- */

static void uuid_of(int phys, unsigned char out[16])
{
    static const unsigned char base[16] = { 0x5a, 0x1f, 0x6e, 0x0d, 0x9c, 0x3b, 0x4a, 0x77,
                                            0x8e, 0x21, 0xc4, 0x02, 0xb6, 0x53, 0x90, 0x00 };
    memcpy(out, base, 16);
    out[15] = (unsigned char)phys;
}

static void uuid_string(int phys, char *s, size_t n)
{
    unsigned char u[16];
    uuid_of(phys, u);
    snprintf(s, n, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
             u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* One CUDA_VISIBLE_DEVICES entry: a physical ordinal, or -1 if invalid. */
static int visible_entry(const char *tok, size_t len)
{
    while (len && isspace((unsigned char)*tok)) {
        tok++;
        len--;
    }
    while (len && isspace((unsigned char)tok[len - 1])) len--;
    if (len == 0) return -1;
    if (len >= 4 && strncmp(tok, "GPU-", 4) == 0) {
        int found = -1;
        for (int p = 0; p < physical_count; p++) {
            char s[64];
            uuid_string(p, s, sizeof s);
            if (len > strlen(s) || strncmp(s, tok, len) != 0) continue;
            if (found >= 0) return -1; /* ambiguous prefix */
            found = p;
        }
        return found;
    }
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)tok[i])) return -1;
        v = v * 10 + (tok[i] - '0');
        if (v >= physical_count) return -1;
    }
    return v;
}

/* The visible devices, in CUDA_VISIBLE_DEVICES order; the caller holds the lock. */
static void enumerate_devices(void)
{
    physical_count = (int)env_u64_list("GPUMEM_FAKE_DEVICES", 0, 2);
    if (physical_count > MAX_DEVICES) physical_count = MAX_DEVICES;
    int order[MAX_DEVICES], n = 0;
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (!cvd) {
        for (int p = 0; p < physical_count; p++) order[n++] = p;
    } else {
        for (const char *s = cvd; *s && n < MAX_DEVICES;) {
            const char *end = strchr(s, ',');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            int p = visible_entry(s, len);
            for (int i = 0; i < n && p >= 0; i++)
                if (order[i] == p) p = -1; /* a repeated device ends the list too */
            if (p < 0) break;
            order[n++] = p;
            if (!end) break;
            s = end + 1;
        }
    }
    device_count = n;
    for (int i = 0; i < n; i++) {
        struct device *d = &devices[i];
        d->phys = order[i];
        d->total = env_u64_list("GPUMEM_FAKE_MEMORY_MIB", order[i], 16384) << 20;
        d->next_addr = 0x700000000000ull + ((uint64_t)i << 40);
        d->default_pool = (struct pool){ .device = i, .live = 1 };
        d->current_pool = &d->default_pool;
    }
}

EXPORT CUresult cuInit(unsigned int flags)
{
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    if (!initialized) {
        enumerate_devices();
        call_ns = env_u64_list("GPUMEM_FAKE_CALL_NS", 0, 0);
        __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    return device_count ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

EXPORT CUresult cuDriverGetVersion(int *v)
{
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int *n)
{
    if (!n) return CUDA_ERROR_INVALID_VALUE;
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    *n = device_count;
    return CUDA_SUCCESS;
}

static CUresult check_device(CUdevice d)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    return d >= 0 && d < device_count ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal)
{
    CUresult r = check_device(ordinal);
    if (r == CUDA_SUCCESS) {
        if (!d) return CUDA_ERROR_INVALID_VALUE;
        *d = ordinal;
    }
    return r;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(name, (size_t)len, "gpumem stand-in GPU %d", devices[d].phys);
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
    uuid_of(devices[d].phys, (unsigned char *)u->bytes);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *u, CUdevice d) { return cuDeviceGetUuid(u, d); }

EXPORT CUresult cuDeviceGetPCIBusId(char *id, int len, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!id || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    snprintf(id, (size_t)len, "0000:%02X:00.0", 0x10 + devices[d].phys);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, int attrib, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    switch (attrib) {
    case 75: *v = 9; break; /* compute capability 9.0 */
    case 76: *v = 0; break;
    case 33: *v = 0x10 + devices[d].phys; break; /* PCI bus id */
    case 34:
    case 50: *v = 0; break; /* PCI device and domain */
    default: *v = 1;
    }
    return CUDA_SUCCESS;
}

/* ---- contexts ------------------------------------------------------------ */

static CUresult ctx_push(struct ctx *c)
{
    if (ctx_depth == CTX_STACK_MAX) return CUDA_ERROR_OUT_OF_MEMORY;
    ctx_stack[ctx_depth++] = c;
    return CUDA_SUCCESS;
}

/* A context handle from the caller: known (perhaps destroyed) or an error. */
static CUresult ctx_check(CUcontext h)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    int known = h && ctx_known((struct ctx *)h);
    pthread_mutex_unlock(&lock);
    return known ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

EXPORT CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    if (ctx_depth == CTX_STACK_MAX) return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&lock);
    struct ctx *c = ctx_new(d, 0, flags);
    pthread_mutex_unlock(&lock);
    if (!c) return CUDA_ERROR_OUT_OF_MEMORY;
    ctx_push(c);
    *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

/* CUDA 2.0's cuCtxCreate: the same ABI as _v2. */
EXPORT CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice d) { return cuCtxCreate_v2(pctx, flags, d); }

EXPORT CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags, CUdevice d)
{
    if (n < 0 || (n > 0 && !params)) return CUDA_ERROR_INVALID_VALUE;
    return cuCtxCreate_v2(pctx, flags, d); /* execution affinity is ignored */
}

EXPORT CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice d)
{
    if (params && params->cigParams) return CUDA_ERROR_NOT_SUPPORTED; /* no CIG mode here */
    if (params && params->numExecAffinityParams > 0 && !params->execAffinityParams) return CUDA_ERROR_INVALID_VALUE;
    return cuCtxCreate_v2(pctx, flags, d);
}

EXPORT CUresult cuCtxDestroy_v2(CUcontext h)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!h) return CUDA_ERROR_INVALID_VALUE;
    struct ctx *c = (struct ctx *)h;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    if (!ctx_known(c) || c->primary || !c->alive) r = CUDA_ERROR_INVALID_CONTEXT;
    else ctx_teardown(c);
    pthread_mutex_unlock(&lock);
    /* Popped from the calling thread's stack; other threads keep it (709). */
    if (r == CUDA_SUCCESS && ctx_top() == c) ctx_depth--;
    return r;
}

EXPORT CUresult cuCtxDestroy(CUcontext h) { return cuCtxDestroy_v2(h); }

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext h)
{
    CUresult r = ctx_check(h);
    return r ? r : ctx_push((struct ctx *)h);
}

EXPORT CUresult cuCtxPushCurrent(CUcontext h) { return cuCtxPushCurrent_v2(h); }

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!ctx_depth) return CUDA_ERROR_INVALID_CONTEXT;
    struct ctx *c = ctx_stack[--ctx_depth];
    if (pctx) *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPopCurrent(CUcontext *pctx) { return cuCtxPopCurrent_v2(pctx); }

EXPORT CUresult cuCtxSetCurrent(CUcontext h)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!h) {
        if (ctx_depth) ctx_depth--;
        return CUDA_SUCCESS;
    }
    CUresult r = ctx_check(h);
    if (r) return r;
    if (!ctx_depth) return ctx_push((struct ctx *)h);
    ctx_stack[ctx_depth - 1] = (struct ctx *)h;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *c)
{
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    *c = (CUcontext)ctx_top();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice *d)
{
    QUERY_ERRNO();
    CUresult err = CUDA_SUCCESS;
    int dev = current_device(&err);
    if (dev < 0) return err;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    *d = dev;
    return CUDA_SUCCESS;
}

/* CUDA 13's cuCtxGetDevice_v2: of a given context, NULL for the current. */
EXPORT CUresult cuCtxGetDevice_v2(CUdevice *d, CUcontext h)
{
    if (!h) return cuCtxGetDevice(d);
    CUresult r = ctx_check(h);
    if (r) return r;
    if (!ctx_alive((struct ctx *)h)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    *d = ((struct ctx *)h)->device;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetFlags(unsigned int *flags)
{
    NEED_CONTEXT(c);
    if (!flags) return CUDA_ERROR_INVALID_VALUE;
    *flags = c->flags;
    return CUDA_SUCCESS;
}

/* ---- primary contexts ----------------------------------------------------- */

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    if (!pctx) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct device *dv = &devices[d];
    if (!dv->primary || !dv->primary->alive) {
        struct ctx *c = ctx_new(d, 1, dv->primary_flags);
        if (c) dv->primary = c;
        else r = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (r == CUDA_SUCCESS) {
        dv->primary_refs++;
        *pctx = (CUcontext)dv->primary;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

/* The last release destroys the primary context and frees its memory. */
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    pthread_mutex_lock(&lock);
    struct device *dv = &devices[d];
    if (dv->primary_refs == 0) r = CUDA_ERROR_INVALID_CONTEXT;
    else if (--dv->primary_refs == 0 && dv->primary && dv->primary->alive) ctx_teardown(dv->primary);
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice d) { return cuDevicePrimaryCtxRelease_v2(d); }

/* Destroys the primary context at once; the reference count is kept. */
EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice d)
{
    CUresult r = check_device(d);
    if (r) return r;
    pthread_mutex_lock(&lock);
    struct device *dv = &devices[d];
    if (dv->primary && dv->primary->alive) ctx_teardown(dv->primary);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxReset(CUdevice d) { return cuDevicePrimaryCtxReset_v2(d); }

EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice d, unsigned int *flags, int *active)
{
    QUERY_ERRNO();
    CUresult r = check_device(d);
    if (r) return r;
    if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *flags = devices[d].primary_flags;
    *active = devices[d].primary && devices[d].primary->alive;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice d, unsigned int flags)
{
    CUresult r = check_device(d);
    if (r) return r;
    pthread_mutex_lock(&lock);
    devices[d].primary_flags = flags;
    if (devices[d].primary) devices[d].primary->flags = flags;
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxSetFlags(CUdevice d, unsigned int flags)
{
    return cuDevicePrimaryCtxSetFlags_v2(d, flags);
}

/* ---- plain device memory --------------------------------------------- */

static CUresult alloc_kind(CUdeviceptr *dptr, size_t bytes, enum kind kind)
{
    NEED_CONTEXT(c);
    if (!dptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    int dev = c->device;
    pthread_mutex_lock(&lock);
    work();
    struct block *b = NULL;
    if (!c->alive) r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
    else if (kind == K_DEVICE && !device_take(dev, bytes)) r = CUDA_ERROR_OUT_OF_MEMORY;
    else if (!(b = block_new(kind, dev, bytes, c)) || !map_put(&dev_map, (b->key = address_take(dev, b->span)), b)) {
        if (b) address_give(dev, b->key, b->span);
        free(b);
        if (kind == K_DEVICE) device_give(dev, bytes);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        block_link(b, &c->blocks);
        *dptr = b->key;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) { return alloc_kind(dptr, bytes, K_DEVICE); }

/* The CUDA 2.x ABI with 32-bit pointers: kept so that lookups with an old
 * version find a different function, as on the real driver. */
EXPORT CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytes)
{
    (void)dptr;
    (void)bytes;
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
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (ptr == 0) return CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    work();
    struct block *b = map_get(&dev_map, ptr);
    if (!b || (b->kind != K_DEVICE && b->kind != K_MANAGED && b->kind != K_ASYNC)) r = CUDA_ERROR_INVALID_VALUE;
    else {
        struct pool *p = b->pool;
        block_free(b);
        if (p) {
            pool_account(p);
            if (!p->live) pool_release(p); /* a destroyed pool lets go as it empties */
        }
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

/* ---- pinned host memory -------------------------------------------------- */

EXPORT CUresult cuMemHostAlloc(void **pp, size_t bytes, unsigned int flags)
{
    NEED_CONTEXT(c);
    if (!pp || bytes == 0 || (flags & ~7u)) return CUDA_ERROR_INVALID_VALUE; /* PORTABLE, DEVICEMAP, WRITECOMBINED */
    void *mem = NULL;
    if (posix_memalign(&mem, 4096, (bytes + 4095) & ~(size_t)4095) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    struct block *b = NULL;
    if (!c->alive) r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
    else if (!(b = block_new(K_HOST, c->device, bytes, c)) || !map_put(&host_map, (b->key = (uintptr_t)mem), b))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    if (r == CUDA_SUCCESS) {
        block_link(b, &c->blocks);
        *pp = mem;
    } else {
        free(b);
        free(mem);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytes) { return cuMemHostAlloc(pp, bytes, 0); }
EXPORT CUresult cuMemAllocHost(void **pp, unsigned int bytes) { return cuMemHostAlloc(pp, bytes, 0); }

EXPORT CUresult cuMemFreeHost(void *p)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct block *b = p ? map_get(&host_map, (uintptr_t)p) : NULL;
    CUresult r = b ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (b) block_free(b);
    pthread_mutex_unlock(&lock);
    return r;
}

/* With unified addressing the device sees pinned memory at its host address. */
EXPORT CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pd, void *p, unsigned int flags)
{
    NEED_CONTEXT(c);
    (void)c;
    if (!pd || !p || flags != 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct block *b = map_find_containing(&host_map, (uintptr_t)p);
    pthread_mutex_unlock(&lock);
    if (!b) return CUDA_ERROR_INVALID_VALUE;
    *pd = (uintptr_t)p;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostGetDevicePointer(CUdeviceptr_v1 *pd, void *p, unsigned int flags)
{
    (void)pd;
    (void)p;
    (void)flags;
    return CUDA_ERROR_NOT_SUPPORTED; /* 32-bit device pointers */
}

/* ---- arrays: device memory that gpumem does not count ------------------- */

static CUresult array_create(CUarray *pa, size_t width, size_t height, unsigned int format, unsigned int channels)
{
    NEED_CONTEXT(c);
    if (!pa || width == 0 || (channels != 1 && channels != 2 && channels != 4)) return CUDA_ERROR_INVALID_VALUE;
    uint64_t elem;
    switch (format) {
    case 0x01:
    case 0x08: elem = 1; break; /* (UN)SIGNED_INT8 */
    case 0x02:
    case 0x09:
    case 0x10: elem = 2; break; /* (UN)SIGNED_INT16, HALF */
    case 0x03:
    case 0x0a:
    case 0x20: elem = 4; break; /* (UN)SIGNED_INT32, FLOAT */
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    uint64_t bytes = span_of((uint64_t)width * (height ? height : 1) * channels * elem);
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    struct block *b = NULL;
    if (!c->alive) r = CUDA_ERROR_CONTEXT_IS_DESTROYED;
    else if (!device_take(c->device, bytes)) r = CUDA_ERROR_OUT_OF_MEMORY;
    else if (!(b = block_new(K_ARRAY, c->device, bytes, c)) || !map_put(&array_map, (b->key = (uintptr_t)b), b)) {
        free(b);
        device_give(c->device, bytes);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        block_link(b, &c->blocks);
        *pa = (CUarray)b;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuArrayCreate_v2(CUarray *pa, const CUDA_ARRAY_DESCRIPTOR *d)
{
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    return array_create(pa, d->Width, d->Height, d->Format, d->NumChannels);
}

EXPORT CUresult cuArrayCreate(CUarray *pa, const CUDA_ARRAY_DESCRIPTOR_v1 *d)
{
    if (!d) return CUDA_ERROR_INVALID_VALUE;
    return array_create(pa, d->Width, d->Height, d->Format, d->NumChannels);
}

EXPORT CUresult cuArrayDestroy(CUarray a)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct block *b = a ? map_get(&array_map, (uintptr_t)a) : NULL;
    if (b) block_free(b);
    pthread_mutex_unlock(&lock);
    return b ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

/* ---- streams and events: everything is complete at once ----------------- */

/* A stream handle: the NULL, legacy and per-thread streams of the current
 * context, or one this driver created in a context still alive. */
static CUresult stream_check(CUstream s)
{
    if (!s || s == STREAM_LEGACY || s == STREAM_PER_THREAD) {
        CUresult r = CUDA_SUCCESS;
        return current_device(&r) < 0 ? r : CUDA_SUCCESS;
    }
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct object *o = map_get(&obj_map, (uintptr_t)s);
    CUresult r = !o || o->kind != O_STREAM ? CUDA_ERROR_INVALID_HANDLE
                 : !o->ctx->alive          ? CUDA_ERROR_CONTEXT_IS_DESTROYED
                                           : CUDA_SUCCESS;
    pthread_mutex_unlock(&lock);
    return r;
}

static CUresult object_create(void **out, int kind, unsigned int flags, int priority)
{
    NEED_CONTEXT(c);
    struct object *o = calloc(1, sizeof *o);
    if (!o) return CUDA_ERROR_OUT_OF_MEMORY;
    *o = (struct object){ .kind = kind, .ctx = c, .flags = flags, .priority = priority };
    pthread_mutex_lock(&lock);
    int ok = map_put(&obj_map, (uintptr_t)o, o);
    pthread_mutex_unlock(&lock);
    if (!ok) {
        free(o);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *out = o;
    return CUDA_SUCCESS;
}

static CUresult object_destroy(void *h, int kind)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct object *o = h ? map_get(&obj_map, (uintptr_t)h) : NULL;
    if (o && o->kind == kind) map_del(&obj_map, (uintptr_t)h);
    else o = NULL;
    pthread_mutex_unlock(&lock);
    free(o);
    return o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuStreamCreate(CUstream *ps, unsigned int flags)
{
    if (!ps || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE; /* DEFAULT or NON_BLOCKING */
    return object_create((void **)ps, O_STREAM, flags, 0);
}

EXPORT CUresult cuStreamCreateWithPriority(CUstream *ps, unsigned int flags, int priority)
{
    if (!ps || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
    if (priority > 0) priority = 0; /* clamped to the range [-5, 0] */
    if (priority < -5) priority = -5;
    return object_create((void **)ps, O_STREAM, flags, priority);
}

EXPORT CUresult cuStreamDestroy_v2(CUstream s) { return object_destroy(s, O_STREAM); }
EXPORT CUresult cuStreamDestroy(CUstream s) { return cuStreamDestroy_v2(s); }
EXPORT CUresult cuStreamQuery(CUstream s) { return stream_check(s); }
EXPORT CUresult cuStreamQuery_ptsz(CUstream s) { return stream_check(s); }

/* An event handle made by this driver, in a context still alive. */
static CUresult event_get(CUevent e, struct object *out)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct object *o = e ? map_get(&obj_map, (uintptr_t)e) : NULL;
    CUresult r = !o || o->kind != O_EVENT ? CUDA_ERROR_INVALID_HANDLE
                 : !o->ctx->alive         ? CUDA_ERROR_CONTEXT_IS_DESTROYED
                                          : CUDA_SUCCESS;
    if (r == CUDA_SUCCESS && out) *out = *o;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuEventCreate(CUevent *pe, unsigned int flags)
{
    /* BLOCKING_SYNC 1, DISABLE_TIMING 2, INTERPROCESS 4 (needs DISABLE_TIMING) */
    if (!pe || (flags & ~7u) || ((flags & 4) && !(flags & 2))) return CUDA_ERROR_INVALID_VALUE;
    return object_create((void **)pe, O_EVENT, flags, 0);
}

EXPORT CUresult cuEventRecord(CUevent e, CUstream s)
{
    CUresult r = event_get(e, NULL);
    if (r == CUDA_SUCCESS) r = stream_check(s);
    if (r) return r;
    pthread_mutex_lock(&lock);
    struct object *o = map_get(&obj_map, (uintptr_t)e);
    if (o) {
        clock_gettime(CLOCK_MONOTONIC, &o->when);
        o->recorded = 1;
    }
    pthread_mutex_unlock(&lock);
    return o ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

EXPORT CUresult cuEventRecord_ptsz(CUevent e, CUstream s) { return cuEventRecord(e, s); }
EXPORT CUresult cuEventQuery(CUevent e) { return event_get(e, NULL); }
EXPORT CUresult cuEventDestroy_v2(CUevent e) { return object_destroy(e, O_EVENT); }
EXPORT CUresult cuEventDestroy(CUevent e) { return cuEventDestroy_v2(e); }

EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end)
{
    struct object a, b;
    CUresult r = event_get(start, &a);
    if (r == CUDA_SUCCESS) r = event_get(end, &b);
    if (r) return r;
    if (!ms) return CUDA_ERROR_INVALID_VALUE;
    if ((a.flags | b.flags) & 2 || !a.recorded || !b.recorded) return CUDA_ERROR_INVALID_HANDLE;
    *ms = (float)((double)(b.when.tv_sec - a.when.tv_sec) * 1e3 + (double)(b.when.tv_nsec - a.when.tv_nsec) / 1e6);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end)
{
    return cuEventElapsedTime(ms, start, end);
}

/* ---- copies and sets: device memory gets host memory behind it on first use ---- */

/* Host memory behind [addr, addr + n); the caller holds the lock. */
static void *resolve(uint64_t addr, size_t n, CUresult *err)
{
    struct block *b = map_find_containing(&dev_map, addr);
    if (b) {
        if (n > b->key + b->size - addr) {
            *err = CUDA_ERROR_INVALID_VALUE;
            return NULL;
        }
        if (!b->backing && !(b->backing = calloc(1, b->size))) {
            *err = CUDA_ERROR_OUT_OF_MEMORY;
            return NULL;
        }
        return (char *)b->backing + (addr - b->key);
    }
    b = map_find_containing(&host_map, addr); /* pinned memory is its own device pointer */
    if (b && n <= b->key + b->size - addr) return (void *)(uintptr_t)addr;
    *err = CUDA_ERROR_INVALID_VALUE;
    return NULL;
}

enum copy_dir { HTOD, DTOH, DTOD, SET };

static CUresult copy(enum copy_dir dir, uint64_t dst, uint64_t src, size_t n, unsigned char value)
{
    NEED_CONTEXT(c);
    (void)c;
    if (n == 0) return CUDA_SUCCESS;
    if ((dir == HTOD && !src) || (dir == DTOH && !dst)) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    void *d = dir == DTOH ? (void *)(uintptr_t)dst : resolve(dst, n, &r);
    const void *s = dir == HTOD ? (const void *)(uintptr_t)src : dir == SET ? NULL : resolve(src, n, &r);
    if (r == CUDA_SUCCESS) {
        if (dir == SET) memset(d, value, n);
        else memmove(d, s, n);
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
    return copy(HTOD, dst, (uintptr_t)src, n, 0);
}
EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) { return copy(DTOH, (uintptr_t)dst, src, n, 0); }
EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) { return copy(DTOD, dst, src, n, 0); }
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char v, size_t n) { return copy(SET, dst, 0, n, v); }
EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dst, const void *src, size_t n)
{
    return cuMemcpyHtoD_v2(dst, src, n);
}
EXPORT CUresult cuMemcpyDtoH_v2_ptds(void *dst, CUdeviceptr src, size_t n) { return cuMemcpyDtoH_v2(dst, src, n); }
EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
    return cuMemcpyDtoD_v2(dst, src, n);
}
EXPORT CUresult cuMemsetD8_v2_ptds(CUdeviceptr dst, unsigned char v, size_t n) { return cuMemsetD8_v2(dst, v, n); }

#define ASYNC(call)                    \
    do {                               \
        CUresult r_ = stream_check(s); \
        return r_ ? r_ : (call);       \
    } while (0)
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyHtoD_v2(dst, src, n));
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyDtoH_v2(dst, src, n));
}
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyDtoD_v2(dst, src, n));
}
EXPORT CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
    ASYNC(cuMemsetD8_v2(dst, v, n));
}
EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dst, const void *src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyHtoD_v2(dst, src, n));
}
EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dst, CUdeviceptr src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyDtoH_v2(dst, src, n));
}
EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s)
{
    ASYNC(cuMemcpyDtoD_v2(dst, src, n));
}
EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr dst, unsigned char v, size_t n, CUstream s)
{
    ASYNC(cuMemsetD8_v2(dst, v, n));
}

/* The CUDA 2.x/3.0 ABIs with 32-bit device pointers: stand-in addresses do
 * not fit, as cuMemAlloc (v1) says. */
EXPORT CUresult cuMemcpyHtoD(CUdeviceptr_v1 d, const void *s, unsigned int n)
{
    (void)d;
    (void)s;
    (void)n;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemcpyDtoH(void *d, CUdeviceptr_v1 s, unsigned int n)
{
    (void)d;
    (void)s;
    (void)n;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemcpyDtoD(CUdeviceptr_v1 d, CUdeviceptr_v1 s, unsigned int n)
{
    (void)d;
    (void)s;
    (void)n;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemcpyHtoDAsync(CUdeviceptr_v1 d, const void *s, unsigned int n, CUstream st)
{
    (void)d;
    (void)s;
    (void)n;
    (void)st;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemcpyDtoHAsync(void *d, CUdeviceptr_v1 s, unsigned int n, CUstream st)
{
    (void)d;
    (void)s;
    (void)n;
    (void)st;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemcpyDtoDAsync(CUdeviceptr_v1 d, CUdeviceptr_v1 s, unsigned int n, CUstream st)
{
    (void)d;
    (void)s;
    (void)n;
    (void)st;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemsetD8(CUdeviceptr_v1 d, unsigned char v, unsigned int n)
{
    (void)d;
    (void)v;
    (void)n;
    return CUDA_ERROR_NOT_SUPPORTED;
}
EXPORT CUresult cuMemGetAddressRange(CUdeviceptr_v1 *b, unsigned int *n, CUdeviceptr_v1 p)
{
    (void)b;
    (void)n;
    (void)p;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---- what a pointer is ------------------------------------------------------ */

EXPORT CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr ptr)
{
    QUERY_ERRNO();
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!data) return CUDA_ERROR_INVALID_VALUE;
    if (attribute == PTR_DEVICE_POINTER && !ctx_top()) return CUDA_ERROR_INVALID_CONTEXT;
    pthread_mutex_lock(&lock);
    struct block *b = map_find_containing(&dev_map, ptr);
    if (!b) b = map_find_containing(&host_map, ptr);
    if (!b) {
        pthread_mutex_unlock(&lock);
        return CUDA_ERROR_INVALID_VALUE;
    }
    struct block v = *b;
    pthread_mutex_unlock(&lock);
    int host = v.kind == K_HOST;
    switch (attribute) {
    /* Stream-ordered memory belongs to its pool, not to a context. */
    case PTR_CONTEXT: *(CUcontext *)data = v.kind == K_ASYNC ? NULL : (CUcontext)v.ctx; break;
    case PTR_MEMORY_TYPE: *(unsigned int *)data = host ? MEMORYTYPE_HOST : MEMORYTYPE_DEVICE; break;
    case PTR_DEVICE_POINTER: *(CUdeviceptr *)data = ptr; break;
    case PTR_HOST_POINTER:
        if (!host && v.kind != K_MANAGED) return CUDA_ERROR_INVALID_VALUE;
        *(void **)data = (void *)(uintptr_t)ptr;
        break;
    case PTR_BUFFER_ID: *(unsigned long long *)data = v.id; break;
    case PTR_IS_MANAGED: *(unsigned int *)data = v.kind == K_MANAGED; break;
    case PTR_DEVICE_ORDINAL: *(int *)data = v.device; break;
    case PTR_RANGE_START_ADDR: *(CUdeviceptr *)data = v.key; break;
    case PTR_RANGE_SIZE: *(size_t *)data = v.size; break;
    case PTR_MAPPED: *(unsigned int *)data = 1; break;
    case PTR_MEMPOOL_HANDLE: *(CUmemoryPool *)data = (CUmemoryPool)v.pool; break;
    default: return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr *base, size_t *size, CUdeviceptr ptr)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    pthread_mutex_lock(&lock);
    struct block *b = map_find_containing(&dev_map, ptr);
    uint64_t k = b ? b->key : 0, n = b ? b->size : 0;
    pthread_mutex_unlock(&lock);
    if (!b) return CUDA_ERROR_NOT_FOUND;
    if (base) *base = k;
    if (size) *size = n;
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

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t bytes, const CUmemAllocationProp *prop,
                            unsigned long long flags)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!h || !prop || bytes == 0 || flags != 0 || bytes % (2u << 20)) return CUDA_ERROR_INVALID_VALUE;
    int on_device = prop->location.type == 1;
    if (on_device && (prop->location.id < 0 || prop->location.id >= device_count)) return CUDA_ERROR_INVALID_DEVICE;
    int dev = on_device ? prop->location.id : -1;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    struct block *b = NULL;
    if (on_device && !device_take(dev, bytes)) r = CUDA_ERROR_OUT_OF_MEMORY;
    else if (!(b = block_new(K_VMM, dev, bytes, ctx_top())) || !map_put(&handle_map, (b->key = handle_take()), b)) {
        if (b) handle_give(b->key);
        free(b);
        if (on_device) device_give(dev, bytes);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        b->prop = *prop;
        *h = b->key;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h)
{
    pthread_mutex_lock(&lock);
    struct block *b = map_get(&handle_map, h);
    if (b) block_free(b);
    pthread_mutex_unlock(&lock);
    return b ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop, CUmemGenericAllocationHandle h)
{
    QUERY_ERRNO();
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!prop) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    struct block *b = map_get(&handle_map, h);
    if (b) *prop = b->prop;
    pthread_mutex_unlock(&lock);
    return b ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t align, CUdeviceptr addr,
                                    unsigned long long flags)
{
    (void)align;
    (void)addr;
    (void)flags;
    if (!ptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    *ptr = next_va;
    next_va += (size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
    pthread_mutex_unlock(&lock);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle h,
                         unsigned long long flags)
{
    (void)offset;
    if (!ptr || !size || flags) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    CUresult r = map_get(&handle_map, h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    return ptr && size ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
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
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr || bytes == 0 || !p || !p->live) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    uint64_t need = p->used + bytes;
    if (need > p->reserved) {
        uint64_t grow = round_granule(need) - p->reserved;
        if (!device_take(p->device, grow)) r = CUDA_ERROR_OUT_OF_MEMORY;
        else {
            devices[p->device].used -= grow;
            pool_set_reserved(p, p->reserved + grow);
        }
    }
    struct block *b = NULL;
    if (r == CUDA_SUCCESS) {
        if (!(b = block_new(K_ASYNC, p->device, bytes, ctx_top())) ||
            !map_put(&dev_map, (b->key = address_take(p->device, b->span)), b)) {
            if (b) address_give(p->device, b->key, b->span);
            free(b);
            r = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            b->pool = p;
            block_link(b, &p->blocks);
            p->used += bytes;
            pool_account(p);
            *dptr = b->key;
        }
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
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUstream s)
{
    return cuMemAllocAsync(dptr, bytes, s);
}

EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s)
{
    (void)s;
    return pool_alloc(dptr, bytes, (struct pool *)pool);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream s)
{
    return cuMemAllocFromPoolAsync(dptr, bytes, pool, s);
}

/* Stream-ordered free: the memory stays in the pool until a synchronisation. */
EXPORT CUresult cuMemFreeAsync(CUdeviceptr ptr, CUstream s)
{
    (void)s;
    return cuMemFree_v2(ptr);
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr ptr, CUstream s) { return cuMemFreeAsync(ptr, s); }

EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    if (!is_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    if (!pool || !props || props->location.type != 1 || props->location.id < 0 || props->location.id >= device_count)
        return CUDA_ERROR_INVALID_VALUE;
    struct pool *p = calloc(1, sizeof *p);
    if (!p) return CUDA_ERROR_OUT_OF_MEMORY;
    p->device = props->location.id;
    p->live = 1;
    pthread_mutex_lock(&lock);
    p->next_pool = created_pools; /* never freed: late frees may still name it */
    created_pools = p;
    pthread_mutex_unlock(&lock);
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
    QUERY_ERRNO();
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
    pthread_mutex_lock(&lock);
    memcpy(&p->threshold, value, sizeof p->threshold);
    pthread_mutex_unlock(&lock);
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
    QUERY_ERRNO();
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

/* ---- synchronisation: every pool gives back what it holds beyond its
 * threshold (the stand-in runs everything at once, so any synchronisation
 * is a point where all frees have completed). ----------------------------- */

static void synchronize_pools(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < device_count; i++) pool_release(&devices[i].default_pool);
    for (struct pool *p = created_pools; p; p = p->next_pool) pool_release(p);
    pthread_mutex_unlock(&lock);
}

EXPORT CUresult cuCtxSynchronize(void)
{
    CUresult r = CUDA_SUCCESS;
    if (current_device(&r) < 0) return r;
    synchronize_pools();
    return CUDA_SUCCESS;
}

/* CUDA 13's cuCtxSynchronize_v2: a given context, NULL for the current. */
EXPORT CUresult cuCtxSynchronize_v2(CUcontext h)
{
    if (!h) return cuCtxSynchronize();
    CUresult r = ctx_check(h);
    if (r) return r;
    if (!ctx_alive((struct ctx *)h)) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    synchronize_pools();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream s)
{
    CUresult r = stream_check(s);
    if (r) return r;
    synchronize_pools();
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize_ptsz(CUstream s) { return cuStreamSynchronize(s); }

EXPORT CUresult cuEventSynchronize(CUevent e)
{
    CUresult r = event_get(e, NULL);
    if (r) return r;
    synchronize_pools();
    return CUDA_SUCCESS;
}

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
    (void)h;
    (void)flags;
    if (!ptr) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_SUCCESS;
    pthread_mutex_lock(&lock);
    struct ctx *c = ctx_top();
    struct block *b = block_new(K_IMPORTED, c ? c->device : -1, 1, c);
    if (!b || !map_put(&dev_map, (b->key = next_imported), b)) {
        free(b);
        r = CUDA_ERROR_OUT_OF_MEMORY;
    } else {
        if (c) block_link(b, &c->blocks); /* a mapping into the context */
        *ptr = next_imported;
        next_imported += 1u << 21;
    }
    pthread_mutex_unlock(&lock);
    return r;
}

EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr ptr)
{
    pthread_mutex_lock(&lock);
    struct block *b = map_get(&dev_map, ptr);
    CUresult r = b && b->kind == K_IMPORTED ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS) block_free(b);
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
    case CUDA_ERROR_NO_DEVICE: *s = "CUDA_ERROR_NO_DEVICE"; break;
    case CUDA_ERROR_INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
    case CUDA_ERROR_INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
    case CUDA_ERROR_INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case CUDA_ERROR_NOT_READY: *s = "CUDA_ERROR_NOT_READY"; break;
    case CUDA_ERROR_CONTEXT_IS_DESTROYED: *s = "CUDA_ERROR_CONTEXT_IS_DESTROYED"; break;
    case CUDA_ERROR_NOT_SUPPORTED: *s = "CUDA_ERROR_NOT_SUPPORTED"; break;
    default: *s = NULL; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* ---- cuGetProcAddress ---------------------------------------------------- */

CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, unsigned long long flags);
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
                             unsigned int *status);

/* Each base name with the CUDA version at which each of its ABIs appeared
 * (cudaTypedefs.h); PT: the per-thread-default-stream variant. */
struct proc {
    const char *name;
    int version;
    int ptds;
    void *fn;
};
#define P(name, version, fn)           \
    {                                  \
        name, version, 0, (void *)(fn) \
    }
#define PT(name, version, fn)          \
    {                                  \
        name, version, 1, (void *)(fn) \
    }
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
    P("cuDevicePrimaryCtxRelease", 7000, cuDevicePrimaryCtxRelease),
    P("cuDevicePrimaryCtxRelease", 11000, cuDevicePrimaryCtxRelease_v2),
    P("cuDevicePrimaryCtxReset", 7000, cuDevicePrimaryCtxReset),
    P("cuDevicePrimaryCtxReset", 11000, cuDevicePrimaryCtxReset_v2),
    P("cuDevicePrimaryCtxGetState", 7000, cuDevicePrimaryCtxGetState),
    P("cuDevicePrimaryCtxSetFlags", 7000, cuDevicePrimaryCtxSetFlags),
    P("cuDevicePrimaryCtxSetFlags", 11000, cuDevicePrimaryCtxSetFlags_v2),
    P("cuCtxCreate", 2000, cuCtxCreate),
    P("cuCtxCreate", 3020, cuCtxCreate_v2),
    P("cuCtxCreate", 11040, cuCtxCreate_v3),
    P("cuCtxCreate", 12050, cuCtxCreate_v4),
    P("cuCtxDestroy", 2000, cuCtxDestroy),
    P("cuCtxDestroy", 4000, cuCtxDestroy_v2),
    P("cuCtxPushCurrent", 2000, cuCtxPushCurrent),
    P("cuCtxPushCurrent", 4000, cuCtxPushCurrent_v2),
    P("cuCtxPopCurrent", 2000, cuCtxPopCurrent),
    P("cuCtxPopCurrent", 4000, cuCtxPopCurrent_v2),
    P("cuCtxSetCurrent", 4000, cuCtxSetCurrent),
    P("cuCtxGetCurrent", 4000, cuCtxGetCurrent),
    P("cuCtxGetDevice", 2000, cuCtxGetDevice),
    P("cuCtxGetDevice", 13000, cuCtxGetDevice_v2),
    P("cuCtxGetFlags", 7000, cuCtxGetFlags),
    P("cuCtxSynchronize", 2000, cuCtxSynchronize),
    P("cuCtxSynchronize", 13000, cuCtxSynchronize_v2),
    P("cuMemGetInfo", 3020, cuMemGetInfo_v2),
    P("cuMemAlloc", 2000, cuMemAlloc),
    P("cuMemAlloc", 3020, cuMemAlloc_v2),
    P("cuMemAllocPitch", 3020, cuMemAllocPitch_v2),
    P("cuMemFree", 3020, cuMemFree_v2),
    P("cuMemAllocManaged", 6000, cuMemAllocManaged),
    P("cuMemHostAlloc", 2020, cuMemHostAlloc),
    P("cuMemAllocHost", 2000, cuMemAllocHost),
    P("cuMemAllocHost", 3020, cuMemAllocHost_v2),
    P("cuMemFreeHost", 2000, cuMemFreeHost),
    P("cuMemHostGetDevicePointer", 2020, cuMemHostGetDevicePointer),
    P("cuMemHostGetDevicePointer", 3020, cuMemHostGetDevicePointer_v2),
    P("cuMemGetAddressRange", 2000, cuMemGetAddressRange),
    P("cuMemGetAddressRange", 3020, cuMemGetAddressRange_v2),
    P("cuPointerGetAttribute", 4000, cuPointerGetAttribute),
    P("cuArrayCreate", 2000, cuArrayCreate),
    P("cuArrayCreate", 3020, cuArrayCreate_v2),
    P("cuArrayDestroy", 2000, cuArrayDestroy),
    P("cuMemcpyHtoD", 2000, cuMemcpyHtoD),
    P("cuMemcpyHtoD", 3020, cuMemcpyHtoD_v2),
    PT("cuMemcpyHtoD", 7000, cuMemcpyHtoD_v2_ptds),
    P("cuMemcpyDtoH", 2000, cuMemcpyDtoH),
    P("cuMemcpyDtoH", 3020, cuMemcpyDtoH_v2),
    PT("cuMemcpyDtoH", 7000, cuMemcpyDtoH_v2_ptds),
    P("cuMemcpyDtoD", 2000, cuMemcpyDtoD),
    P("cuMemcpyDtoD", 3020, cuMemcpyDtoD_v2),
    PT("cuMemcpyDtoD", 7000, cuMemcpyDtoD_v2_ptds),
    P("cuMemcpyHtoDAsync", 2000, cuMemcpyHtoDAsync),
    P("cuMemcpyHtoDAsync", 3020, cuMemcpyHtoDAsync_v2),
    PT("cuMemcpyHtoDAsync", 7000, cuMemcpyHtoDAsync_v2_ptsz),
    P("cuMemcpyDtoHAsync", 2000, cuMemcpyDtoHAsync),
    P("cuMemcpyDtoHAsync", 3020, cuMemcpyDtoHAsync_v2),
    PT("cuMemcpyDtoHAsync", 7000, cuMemcpyDtoHAsync_v2_ptsz),
    P("cuMemcpyDtoDAsync", 3000, cuMemcpyDtoDAsync),
    P("cuMemcpyDtoDAsync", 3020, cuMemcpyDtoDAsync_v2),
    PT("cuMemcpyDtoDAsync", 7000, cuMemcpyDtoDAsync_v2_ptsz),
    P("cuMemsetD8", 2000, cuMemsetD8),
    P("cuMemsetD8", 3020, cuMemsetD8_v2),
    PT("cuMemsetD8", 7000, cuMemsetD8_v2_ptds),
    P("cuMemsetD8Async", 3020, cuMemsetD8Async),
    PT("cuMemsetD8Async", 7000, cuMemsetD8Async_ptsz),
    P("cuMemGetAllocationGranularity", 10020, cuMemGetAllocationGranularity),
    P("cuMemCreate", 10020, cuMemCreate),
    P("cuMemRelease", 10020, cuMemRelease),
    P("cuMemGetAllocationPropertiesFromHandle", 10020, cuMemGetAllocationPropertiesFromHandle),
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
    P("cuStreamCreate", 2000, cuStreamCreate),
    P("cuStreamCreateWithPriority", 5050, cuStreamCreateWithPriority),
    P("cuStreamDestroy", 2000, cuStreamDestroy),
    P("cuStreamDestroy", 4000, cuStreamDestroy_v2),
    P("cuStreamQuery", 2000, cuStreamQuery),
    PT("cuStreamQuery", 7000, cuStreamQuery_ptsz),
    P("cuStreamSynchronize", 2000, cuStreamSynchronize),
    PT("cuStreamSynchronize", 7000, cuStreamSynchronize_ptsz),
    P("cuEventCreate", 2000, cuEventCreate),
    P("cuEventRecord", 2000, cuEventRecord),
    PT("cuEventRecord", 7000, cuEventRecord_ptsz),
    P("cuEventQuery", 2000, cuEventQuery),
    P("cuEventSynchronize", 2000, cuEventSynchronize),
    P("cuEventDestroy", 2000, cuEventDestroy),
    P("cuEventDestroy", 4000, cuEventDestroy_v2),
    P("cuEventElapsedTime", 2000, cuEventElapsedTime),
    P("cuEventElapsedTime", 12080, cuEventElapsedTime_v2),
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
    if (write(fd, line, (size_t)n) < 0) { /* the log is best effort */
    }
    close(fd);
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, unsigned long long flags,
                                    unsigned int *status)
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

/* What the stand-in device (visible ordinal) itself holds, to compare with
 * gpumem's figure. */
EXPORT unsigned long long fake_cuda_used_bytes(int device)
{
    if (device < 0 || device >= device_count) return 0;
    pthread_mutex_lock(&lock);
    unsigned long long used = devices[device].used;
    pthread_mutex_unlock(&lock);
    return used;
}
