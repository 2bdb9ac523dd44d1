/*
 * test_stand_in - the stand-in driver (and runtime) on their own, without
 * the shim: what they do like a real driver. Address and handle reuse,
 * contexts and their teardown, pools that shrink at synchronisation,
 * CUDA_VISIBLE_DEVICES, copies that copy, pointer queries.
 *
 *   test_stand_in                      every check; the CUDA_VISIBLE_DEVICES
 *                                      cases run this program again:
 *   test_stand_in visible N [PHYS...]  cuInit's answer and the visible
 *                                      devices under the caller's environment
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cuda_decls.h"

typedef struct CUevent_st *event_t;
typedef struct CUarray_st *array_t;
typedef struct {
    size_t Width, Height;
    unsigned int Format, NumChannels;
} array_desc;

gcu_result cuDeviceGetCount(int *);
gcu_result cuDeviceGetName(char *, int, gcu_device);
gcu_result cuDeviceGetUuid(gcu_uuid *, gcu_device);
gcu_result cuDeviceGetPCIBusId(char *, int, gcu_device);
gcu_result cuDeviceTotalMem_v2(size_t *, gcu_device);
gcu_result cuGetProcAddress_v2(const char *, void **, int, gcu_uint64, gcu_proc_status *);
gcu_result cuCtxCreate_v4(gcu_context *, void *, unsigned int, gcu_device);
gcu_result cuCtxDestroy_v2(gcu_context);
gcu_result cuCtxPushCurrent_v2(gcu_context);
gcu_result cuCtxPopCurrent_v2(gcu_context *);
gcu_result cuCtxGetCurrent(gcu_context *);
gcu_result cuCtxGetDevice(gcu_device *);
gcu_result cuCtxSynchronize(void);
gcu_result cuDevicePrimaryCtxRetain(gcu_context *, gcu_device);
gcu_result cuDevicePrimaryCtxRelease_v2(gcu_device);
gcu_result cuDevicePrimaryCtxReset_v2(gcu_device);
gcu_result cuDevicePrimaryCtxGetState(gcu_device, unsigned int *, int *);
gcu_result cuStreamCreate(gcu_stream *, unsigned int);
gcu_result cuStreamDestroy_v2(gcu_stream);
gcu_result cuStreamQuery(gcu_stream);
gcu_result cuStreamSynchronize_ptsz(gcu_stream);
gcu_result cuEventCreate(event_t *, unsigned int);
gcu_result cuEventRecord(event_t, gcu_stream);
gcu_result cuEventSynchronize(event_t);
gcu_result cuEventElapsedTime(float *, event_t, event_t);
gcu_result cuEventDestroy_v2(event_t);
gcu_result cuMemcpyHtoD_v2(gcu_deviceptr, const void *, size_t);
gcu_result cuMemcpyDtoH_v2(void *, gcu_deviceptr, size_t);
gcu_result cuMemcpyDtoD_v2(gcu_deviceptr, gcu_deviceptr, size_t);
gcu_result cuMemsetD8_v2(gcu_deviceptr, unsigned char, size_t);
gcu_result cuMemHostAlloc(void **, size_t, unsigned int);
gcu_result cuMemFreeHost(void *);
gcu_result cuMemHostGetDevicePointer_v2(gcu_deviceptr *, void *, unsigned int);
gcu_result cuArrayCreate_v2(array_t *, const array_desc *);
gcu_result cuArrayDestroy(array_t);
gcu_result cuPointerGetAttribute(void *, int, gcu_deviceptr);
gcu_result cuMemGetAddressRange_v2(gcu_deviceptr *, size_t *, gcu_deviceptr);
gcu_result cuMemGetAllocationPropertiesFromHandle(gcu_mem_allocation_prop *, gcu_mem_handle);
gcu_result cuMemPoolGetAttribute(gcu_mempool, unsigned int, void *);
gcu_result cuMemPoolSetAttribute(gcu_mempool, unsigned int, void *);
gcu_rt_error cudaDeviceReset(void);
gcu_rt_error cudaDeviceSynchronize(void);

static int failures, checks;

#define CHECK_EQ(a, b)                                                                                             \
    do {                                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                             \
        checks++;                                                                                                  \
        if (a_ != b_) {                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__, __LINE__, #a, #b, a_, b_); \
            failures++;                                                                                            \
        }                                                                                                          \
    } while (0)
#define CHECK(cond) CHECK_EQ(!!(cond), 1)

enum {
    INVALID_VALUE = 1,
    NO_DEVICE = 100,
    INVALID_CONTEXT = 201,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    CONTEXT_IS_DESTROYED = 709
};

static gcu_context current_ctx(void)
{
    gcu_context c = NULL;
    cuCtxGetCurrent(&c);
    return c;
}

static unsigned long long pool_reserved(gcu_mempool p)
{
    unsigned long long v = ~0ull;
    cuMemPoolGetAttribute(p, GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v);
    return v;
}

static int primary_active(int dev)
{
    unsigned int flags;
    int active = -1;
    cuDevicePrimaryCtxGetState(dev, &flags, &active);
    return active;
}

/* ---- addresses and handles are reused at once, most recently freed first ---- */
static void reuse(void)
{
    gcu_deviceptr a, b, c, d, e, f, g, h;
    CHECK_EQ(cuMemAlloc_v2(&a, 1000), 0);
    CHECK_EQ(cuMemAlloc_v2(&b, 1000), 0);
    CHECK_EQ(cuMemAlloc_v2(&c, 1000), 0);
    CHECK_EQ(cuMemFree_v2(b), 0);
    CHECK_EQ(cuMemAlloc_v2(&d, 1000), 0);
    CHECK_EQ(d, b); /* the same size right after a free: the same address */
    CHECK_EQ(cuMemFree_v2(a), 0);
    CHECK_EQ(cuMemFree_v2(d), 0);
    CHECK_EQ(cuMemAlloc_v2(&e, 1000), 0);
    CHECK_EQ(e, d); /* the last freed first */
    CHECK_EQ(cuMemAlloc_v2(&f, 1000), 0);
    CHECK_EQ(f, a);
    /* A smaller request takes the start of a freed range; the rest is next. */
    CHECK_EQ(cuMemFree_v2(e), 0);
    CHECK_EQ(cuMemAlloc_v2(&g, 300), 0);
    CHECK_EQ(cuMemAlloc_v2(&h, 300), 0);
    CHECK_EQ(g, e);
    CHECK_EQ(h, e + 512);
    /* A request no freed range fits gets fresh addresses. */
    gcu_deviceptr big;
    CHECK_EQ(cuMemAlloc_v2(&big, 1 * MiB), 0);
    CHECK(big > c);
    /* A freed pointer is unknown to the driver... until it is handed out again. */
    CHECK_EQ(cuMemFree_v2(big), 0);
    CHECK_EQ(cuMemFree_v2(big), INVALID_VALUE);
    CHECK_EQ(cuMemFree_v2(c), 0);
    CHECK_EQ(cuMemFree_v2(f), 0);
    CHECK_EQ(cuMemFree_v2(g), 0);
    CHECK_EQ(cuMemFree_v2(h), 0);

    /* VMM handles: a released handle value is the next one created. */
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 1 } };
    gcu_mem_handle h1, h2, h3, h4;
    CHECK_EQ(cuMemCreate(&h1, 2 * MiB, &prop, 0), 0);
    CHECK_EQ(cuMemCreate(&h2, 2 * MiB, &prop, 0), 0);
    CHECK(h1 != h2);
    gcu_mem_allocation_prop got;
    memset(&got, 0, sizeof got);
    CHECK_EQ(cuMemGetAllocationPropertiesFromHandle(&got, h2), 0);
    CHECK_EQ(got.location.type, GCU_MEM_LOCATION_TYPE_DEVICE);
    CHECK_EQ(got.location.id, 1);
    CHECK_EQ(cuMemRelease(h1), 0);
    CHECK_EQ(cuMemRelease(h2), 0);
    CHECK_EQ(cuMemGetAllocationPropertiesFromHandle(&got, h2), INVALID_VALUE);
    CHECK_EQ(cuMemCreate(&h3, 4 * MiB, &prop, 0), 0);
    CHECK_EQ(cuMemCreate(&h4, 2 * MiB, &prop, 0), 0);
    CHECK_EQ(h3, h2);
    CHECK_EQ(h4, h1);
    CHECK_EQ(cuMemRelease(h3), 0);
    CHECK_EQ(cuMemRelease(h4), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), 0);

    /* Stream-ordered allocations share the device's addresses. */
    gcu_deviceptr x, y;
    CHECK_EQ(cuMemAllocAsync(&x, 1 * MiB, NULL), 0);
    CHECK_EQ(cuMemFreeAsync(x, NULL), 0);
    CHECK_EQ(cuMemAllocAsync(&y, 1 * MiB, NULL), 0);
    CHECK_EQ(y, x);
    CHECK_EQ(cuMemFreeAsync(y, NULL), 0);
    CHECK_EQ(cuStreamSynchronize(NULL), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), 0);
}

/* ---- the context stack ---------------------------------------------------- */
static void stack(gcu_context c0)
{
    gcu_context c1, popped = NULL;
    gcu_device dev = -1;
    CHECK_EQ(current_ctx(), c0);
    CHECK_EQ(cuCtxCreate_v4(&c1, NULL, 0, 1), 0); /* a new context, pushed */
    CHECK(c1 != c0);
    CHECK_EQ(current_ctx(), c1);
    CHECK_EQ(cuCtxGetDevice(&dev), 0);
    CHECK_EQ(dev, 1);
    CHECK_EQ(cuCtxPopCurrent_v2(&popped), 0);
    CHECK_EQ(popped, c1);
    CHECK_EQ(current_ctx(), c0);
    CHECK_EQ(cuCtxPushCurrent_v2(c1), 0);
    CHECK_EQ(cuCtxSetCurrent(c0), 0); /* replaces the top */
    CHECK_EQ(cuCtxPopCurrent_v2(&popped), 0);
    CHECK_EQ(popped, c0);
    CHECK_EQ(current_ctx(), c0);
    CHECK_EQ(cuCtxPushCurrent_v2((gcu_context)&dev), INVALID_CONTEXT); /* not a context */
    CHECK_EQ(cuCtxSetCurrent((gcu_context)&dev), INVALID_CONTEXT);
    CHECK_EQ(cuCtxDestroy_v2(c1), 0);
    CHECK_EQ(current_ctx(), c0); /* not current here: nothing popped */
}

/* ---- cuCtxDestroy frees the context's memory, not handles or pool memory ---- */
static void destroy_frees(gcu_context c0)
{
    gcu_context c1, c2;
    gcu_deviceptr x, pitched, managed, y;
    size_t pitch;
    void *host;
    array_t arr;
    gcu_mem_handle h;
    gcu_mem_allocation_prop prop = { .type = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 1 } };
    array_desc desc = { .Width = 1024, .Height = 1024, .Format = 0x20 /* FLOAT */, .NumChannels = 1 };

    unsigned long long before = fake_cuda_used_bytes(1);
    CHECK_EQ(cuCtxCreate_v2(&c1, 0, 1), 0);
    CHECK_EQ(cuMemAlloc_v2(&x, 3 * MiB), 0);
    CHECK_EQ(cuMemAllocPitch_v2(&pitched, &pitch, 1000, 100, 4), 0);
    CHECK_EQ(cuMemAllocManaged(&managed, 1 * MiB, 1), 0);
    CHECK_EQ(cuMemHostAlloc(&host, 4096, 0), 0);
    memset(host, 7, 4096); /* real host memory */
    CHECK_EQ(cuArrayCreate_v2(&arr, &desc), 0);
    CHECK_EQ(cuMemAllocAsync(&y, 1 * MiB, NULL), 0);
    CHECK_EQ(cuMemCreate(&h, 2 * MiB, &prop, 0), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), before + 3 * MiB + 102400 + 4 * MiB + 2 * MiB + 2 * MiB);
    gcu_context owner = NULL;
    CHECK_EQ(cuPointerGetAttribute(&owner, 1 /* CONTEXT */, x), 0);
    CHECK_EQ(owner, c1);

    CHECK_EQ(cuCtxDestroy_v2(c1), 0);
    CHECK_EQ(current_ctx(), c0); /* it was current here: popped */
    /* The pool's 2 MiB and the handle's 2 MiB stay; the rest is free. */
    CHECK_EQ(fake_cuda_used_bytes(1), before + 2 * MiB + 2 * MiB);
    CHECK_EQ(cuMemFree_v2(x), INVALID_VALUE);
    CHECK_EQ(cuMemFree_v2(pitched), INVALID_VALUE);
    CHECK_EQ(cuMemFree_v2(managed), INVALID_VALUE);
    CHECK_EQ(cuMemFreeHost(host), INVALID_VALUE);
    CHECK_EQ(cuArrayDestroy(arr), INVALID_HANDLE);
    CHECK_EQ(cuPointerGetAttribute(&owner, 1, x), INVALID_VALUE);
    CHECK_EQ(cuMemFreeAsync(y, NULL), 0);
    CHECK_EQ(cuMemRelease(h), 0);
    CHECK_EQ(cuStreamSynchronize(NULL), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), before);

    /* A destroyed context: it can be made current, and using it fails. */
    gcu_deviceptr z = 0;
    gcu_device dev;
    CHECK_EQ(cuCtxSetCurrent(c1), 0);
    CHECK_EQ(cuMemAlloc_v2(&z, 1 * MiB), CONTEXT_IS_DESTROYED);
    CHECK_EQ(cuCtxGetDevice(&dev), CONTEXT_IS_DESTROYED);
    CHECK_EQ(cuCtxDestroy_v2(c1), INVALID_CONTEXT);
    CHECK_EQ(cuCtxSetCurrent(c0), 0);

    /* Its addresses are free: the first allocation, freed last, is reused. */
    CHECK_EQ(cuCtxCreate_v2(&c2, 0, 1), 0);
    CHECK_EQ(cuMemAlloc_v2(&z, 3 * MiB), 0);
    CHECK_EQ(z, x);
    CHECK_EQ(cuCtxDestroy_v2(c2), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), before);
    CHECK_EQ(current_ctx(), c0);
}

/* ---- primary contexts: the last release and a reset free their memory ---- */
static void primary(gcu_context c0)
{
    gcu_context p, p2, again;
    gcu_deviceptr a, b, pooled;
    gcu_mempool def, own;
    gcu_mem_pool_props props = { .allocType = 1, .location = { .type = 1, .id = 0 } };
    CHECK_EQ(cuDeviceGetDefaultMemPool(&def, 0), 0);
    CHECK_EQ(cuMemPoolCreate(&own, &props), 0);
    unsigned long long before = fake_cuda_used_bytes(0);

    CHECK_EQ(primary_active(0), 0);
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), INVALID_CONTEXT); /* never retained */
    CHECK_EQ(cuDevicePrimaryCtxRetain(&p, 0), 0);
    CHECK_EQ(cuDevicePrimaryCtxRetain(&p2, 0), 0);
    CHECK_EQ(p, p2);
    CHECK(p != c0);
    CHECK_EQ(primary_active(0), 1);
    CHECK_EQ(cuCtxPushCurrent_v2(p), 0);
    CHECK_EQ(cuMemAlloc_v2(&a, 5 * MiB), 0);
    CHECK_EQ(cuMemAllocAsync(&b, 1 * MiB, NULL), 0);                   /* default pool: 2 MiB */
    CHECK_EQ(cuMemAllocFromPoolAsync(&pooled, 3 * MiB, own, NULL), 0); /* own pool: 4 MiB */
    CHECK_EQ(fake_cuda_used_bytes(0), before + 5 * MiB + 2 * MiB + 4 * MiB);
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), 0);
    CHECK_EQ(primary_active(0), 1);
    CHECK_EQ(fake_cuda_used_bytes(0), before + 11 * MiB);
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), 0); /* the last one */
    CHECK_EQ(primary_active(0), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), before);
    CHECK_EQ(pool_reserved(def), 0);
    CHECK_EQ(pool_reserved(own), 0);
    CHECK_EQ(cuMemFree_v2(a), INVALID_VALUE);
    CHECK_EQ(cuMemFreeAsync(b, NULL), INVALID_VALUE);
    CHECK_EQ(cuMemFreeAsync(pooled, NULL), INVALID_VALUE);
    CHECK_EQ(cuMemAlloc_v2(&a, 1 * MiB), CONTEXT_IS_DESTROYED); /* still current here */
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), INVALID_CONTEXT);
    gcu_context popped;
    CHECK_EQ(cuCtxPopCurrent_v2(&popped), 0);
    CHECK_EQ(popped, p);

    /* Reset destroys it at once, retained or not; the count is kept. */
    CHECK_EQ(cuDevicePrimaryCtxRetain(&again, 0), 0);
    CHECK(again != p); /* a new context */
    CHECK_EQ(primary_active(0), 1);
    CHECK_EQ(cuCtxPushCurrent_v2(again), 0);
    CHECK_EQ(cuMemAlloc_v2(&a, 7 * MiB), 0);
    CHECK_EQ(cuMemAllocAsync(&b, 1 * MiB, NULL), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), before + 9 * MiB);
    CHECK_EQ(cuDevicePrimaryCtxReset_v2(0), 0);
    CHECK_EQ(primary_active(0), 0);
    CHECK_EQ(fake_cuda_used_bytes(0), before);
    CHECK_EQ(pool_reserved(def), 0);
    CHECK_EQ(cuMemFree_v2(a), INVALID_VALUE);
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), 0); /* the retain still counts */
    CHECK_EQ(cuDevicePrimaryCtxRelease_v2(0), INVALID_CONTEXT);
    CHECK_EQ(cuCtxPopCurrent_v2(&popped), 0);
    CHECK_EQ(cuMemPoolDestroy(own), 0);
    CHECK_EQ(current_ctx(), c0);

    /* The v1 (7000) and _v2 (11000) ABIs, as the runtime asks for them. */
    void *fn = NULL;
    void *self = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    CHECK(self != NULL);
    CHECK_EQ(cuGetProcAddress_v2("cuDevicePrimaryCtxReset", &fn, 7000, 0, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuDevicePrimaryCtxReset"));
    CHECK_EQ(cuGetProcAddress_v2("cuDevicePrimaryCtxRelease", &fn, 10000, 0, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuDevicePrimaryCtxRelease"));
    CHECK_EQ(cuGetProcAddress_v2("cuDevicePrimaryCtxRelease", &fn, 11000, 0, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuDevicePrimaryCtxRelease_v2"));
    CHECK_EQ(cuGetProcAddress_v2("cuCtxCreate", &fn, 12000, 0, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuCtxCreate_v3"));
    CHECK_EQ(cuGetProcAddress_v2("cuCtxCreate", &fn, 13000, 0, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuCtxCreate_v4"));
    CHECK_EQ(cuGetProcAddress_v2("cuMemcpyHtoD", &fn, 13000, 2, NULL), 0);
    CHECK_EQ(fn, dlsym(self, "cuMemcpyHtoD_v2_ptds"));
    if (self) dlclose(self);
}

/* ---- pools shrink at every kind of synchronisation, never at a free ---- */
typedef void (*sync_fn)(void *);
static void sync_stream_null(void *arg)
{
    (void)arg;
    CHECK_EQ(cuStreamSynchronize(NULL), 0);
}
static void sync_stream_ptsz(void *arg)
{
    (void)arg;
    CHECK_EQ(cuStreamSynchronize_ptsz(NULL), 0);
}
static void sync_stream(void *arg) { CHECK_EQ(cuStreamSynchronize((gcu_stream)arg), 0); }
static void sync_ctx(void *arg)
{
    (void)arg;
    CHECK_EQ(cuCtxSynchronize(), 0);
}
static void sync_event(void *arg)
{
    CHECK_EQ(cuEventRecord((event_t)arg, NULL), 0);
    CHECK_EQ(cuEventSynchronize((event_t)arg), 0);
}
static void sync_runtime(void *arg)
{
    (void)arg;
    gcu_context saved = current_ctx();
    CHECK_EQ(cudaDeviceSynchronize(), 0); /* makes the primary context current */
    CHECK_EQ(cuCtxSetCurrent(saved), 0);
}

static void pools(void)
{
    gcu_stream s;
    event_t ev;
    CHECK_EQ(cuStreamCreate(&s, 0), 0);
    CHECK_EQ(cuEventCreate(&ev, 0), 0);
    struct {
        const char *name;
        sync_fn fn;
        void *arg;
    } syncs[] = {
        { "cuStreamSynchronize(NULL)", sync_stream_null, NULL },
        { "cuStreamSynchronize_ptsz", sync_stream_ptsz, NULL },
        { "cuStreamSynchronize(stream)", sync_stream, s },
        { "cuCtxSynchronize", sync_ctx, NULL },
        { "cuEventSynchronize", sync_event, ev },
        { "cudaDeviceSynchronize", sync_runtime, NULL },
    };
    gcu_mempool def;
    gcu_mem_pool_props props = { .allocType = 1, .location = { .type = 1, .id = 1 } };
    CHECK_EQ(cuDeviceGetDefaultMemPool(&def, 0), 0);
    for (size_t i = 0; i < sizeof syncs / sizeof syncs[0]; i++) {
        int before = failures;
        gcu_mempool own;
        gcu_deviceptr kept, freed, other;
        unsigned long long threshold = 4 * MiB;
        CHECK_EQ(cuMemPoolCreate(&own, &props), 0);
        CHECK_EQ(cuMemPoolSetAttribute(own, 4 /* RELEASE_THRESHOLD */, &threshold), 0);
        CHECK_EQ(cuMemAllocAsync(&kept, 3 * MiB, NULL), 0);
        CHECK_EQ(cuMemAllocAsync(&freed, 5 * MiB, NULL), 0);
        CHECK_EQ(cuMemAllocFromPoolAsync(&other, 9 * MiB, own, NULL), 0);
        CHECK_EQ(cuMemFreeAsync(freed, NULL), 0);
        CHECK_EQ(cuMemFreeAsync(other, NULL), 0);
        /* A free gives nothing back by itself. */
        CHECK_EQ(pool_reserved(def), 8 * MiB);
        CHECK_EQ(pool_reserved(own), 10 * MiB);
        CHECK_EQ(fake_cuda_used_bytes(1), 10 * MiB);
        syncs[i].fn(syncs[i].arg);
        /* Down to the used bytes rounded to 2 MiB, or the threshold. */
        CHECK_EQ(pool_reserved(def), 4 * MiB);
        CHECK_EQ(pool_reserved(own), 4 * MiB);
        CHECK_EQ(fake_cuda_used_bytes(0), 4 * MiB);
        CHECK_EQ(fake_cuda_used_bytes(1), 4 * MiB);
        CHECK_EQ(cuMemFreeAsync(kept, NULL), 0);
        CHECK_EQ(cuMemPoolDestroy(own), 0);
        CHECK_EQ(cuMemPoolTrimTo(def, 0), 0);
        CHECK_EQ(fake_cuda_used_bytes(0) + fake_cuda_used_bytes(1), 0);
        if (failures != before) fprintf(stderr, "  (pools shrinking at %s)\n", syncs[i].name);
    }
    CHECK_EQ(cuStreamQuery(s), 0);
    CHECK_EQ(cuStreamDestroy_v2(s), 0);
    CHECK_EQ(cuStreamDestroy_v2(s), INVALID_HANDLE);
    event_t end;
    float ms = -1;
    CHECK_EQ(cuEventCreate(&end, 0), 0);
    CHECK_EQ(cuEventElapsedTime(&ms, ev, end), INVALID_HANDLE); /* end never recorded */
    CHECK_EQ(cuEventRecord(end, NULL), 0);
    CHECK_EQ(cuEventElapsedTime(&ms, ev, end), 0);
    CHECK(ms >= 0);
    CHECK_EQ(cuEventDestroy_v2(ev), 0);
    CHECK_EQ(cuEventDestroy_v2(end), 0);
    CHECK_EQ(cuEventSynchronize(ev), INVALID_HANDLE);
}

/* ---- copies copy; pointers are known, interior ones too ---- */
static void copies(gcu_context c0)
{
    enum { N = 1 << 20 };
    unsigned char *in = malloc(N), *out = malloc(N);
    for (int i = 0; i < N; i++) in[i] = (unsigned char)(i * 7 + 3);
    gcu_deviceptr a, b, untouched;
    CHECK_EQ(cuMemAlloc_v2(&a, N), 0);
    CHECK_EQ(cuMemAlloc_v2(&b, N), 0);
    CHECK_EQ(cuMemAlloc_v2(&untouched, 8 * GiB), 0); /* never backed: costs nothing */
    CHECK_EQ(cuMemcpyHtoD_v2(a, in, N), 0);
    memset(out, 0, N);
    CHECK_EQ(cuMemcpyDtoH_v2(out, a, N), 0);
    CHECK(memcmp(in, out, N) == 0);
    CHECK_EQ(cuMemcpyDtoD_v2(b, a + 1000, N - 1000), 0);
    memset(out, 0, N);
    CHECK_EQ(cuMemcpyDtoH_v2(out, b + 24, 100), 0); /* interior on both sides */
    CHECK(memcmp(out, in + 1024, 100) == 0);
    CHECK_EQ(cuMemsetD8_v2(a + 10, 0xab, 5), 0);
    CHECK_EQ(cuMemcpyDtoH_v2(out, a, 20), 0);
    CHECK_EQ(out[9], in[9]);
    CHECK_EQ(out[10], 0xab);
    CHECK_EQ(out[14], 0xab);
    CHECK_EQ(out[15], in[15]);
    CHECK_EQ(cuMemcpyDtoH_v2(out, a + 1, N), INVALID_VALUE); /* past the end */
    CHECK_EQ(cuMemcpyHtoD_v2(0xdead0000ull, in, 10), INVALID_VALUE);

    /* Pinned memory is host memory and its own device pointer. */
    void *pinned;
    gcu_deviceptr mapped = 0;
    CHECK_EQ(cuMemHostAlloc(&pinned, 4096, 2 /* DEVICEMAP */), 0);
    memcpy(pinned, in, 4096);
    CHECK_EQ(cuMemHostGetDevicePointer_v2(&mapped, pinned, 0), 0);
    CHECK_EQ(mapped, (uintptr_t)pinned);
    CHECK_EQ(cuMemcpyDtoD_v2(b, mapped, 4096), 0);
    CHECK_EQ(cuMemcpyDtoH_v2(out, b, 4096), 0);
    CHECK(memcmp(out, in, 4096) == 0);

    /* Pointer attributes, interior pointers too; unknown pointers fail. */
    gcu_context ctx = NULL;
    unsigned int type = 0;
    int ordinal = -1;
    gcu_deviceptr start = 0, devptr = 0, base = 0;
    size_t size = 0;
    CHECK_EQ(cuPointerGetAttribute(&ctx, 1, a + 4096), 0);
    CHECK_EQ(ctx, c0);
    CHECK_EQ(cuPointerGetAttribute(&type, 2, a + 4096), 0);
    CHECK_EQ(type, 2); /* DEVICE */
    CHECK_EQ(cuPointerGetAttribute(&devptr, 3, a + 4096), 0);
    CHECK_EQ(devptr, a + 4096);
    CHECK_EQ(cuPointerGetAttribute(&ordinal, 9, a + 4096), 0);
    CHECK_EQ(ordinal, 0);
    CHECK_EQ(cuPointerGetAttribute(&start, 11, a + 4096), 0);
    CHECK_EQ(start, a);
    CHECK_EQ(cuPointerGetAttribute(&size, 12, a + 4096), 0);
    CHECK_EQ(size, N);
    CHECK_EQ(cuPointerGetAttribute(&type, 2, (uintptr_t)pinned + 8), 0);
    CHECK_EQ(type, 1); /* HOST */
    CHECK_EQ(cuPointerGetAttribute(&type, 2, 0xdead0000ull), INVALID_VALUE);
    CHECK_EQ(cuPointerGetAttribute(&start, 11, a + N - 1), 0); /* the last byte */
    CHECK_EQ(start, a);
    CHECK_EQ(cuPointerGetAttribute(&start, 11, a + N), 0); /* the next allocation's first */
    CHECK_EQ(start, b);
    CHECK_EQ(cuMemGetAddressRange_v2(&base, &size, b + 77), 0);
    CHECK_EQ(base, b);
    CHECK_EQ(size, N);
    CHECK_EQ(cuMemGetAddressRange_v2(&base, &size, 0xdead0000ull), NOT_FOUND);

    CHECK_EQ(cuMemFreeHost(pinned), 0);
    CHECK_EQ(cuMemFree_v2(a), 0);
    CHECK_EQ(cuMemFree_v2(b), 0);
    CHECK_EQ(cuMemFree_v2(untouched), 0);
    CHECK_EQ(cuPointerGetAttribute(&type, 2, a), INVALID_VALUE);
    CHECK_EQ(fake_cuda_used_bytes(0), 0);
    free(in);
    free(out);
}

/* ---- the runtime: cudaDeviceReset frees everything, the next call goes on ---- */
static void runtime(void)
{
    void *p = NULL, *q = NULL, *r = NULL;
    CHECK_EQ(cudaSetDevice(1), 0);
    CHECK_EQ(cudaMalloc(&p, 6 * MiB), 0);
    CHECK_EQ(cudaMallocAsync(&q, 1 * MiB, NULL), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), 8 * MiB);
    CHECK_EQ(primary_active(1), 1);
    CHECK_EQ(cudaDeviceReset(), 0);
    CHECK_EQ(primary_active(1), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), 0);
    CHECK_EQ(cudaFree(p), 1);             /* unknown now */
    CHECK_EQ(cudaMalloc(&r, 2 * MiB), 0); /* retained again */
    CHECK_EQ(primary_active(1), 1);
    CHECK_EQ(r, p); /* and the address is reused */
    CHECK_EQ(cudaFree(r), 0);
    CHECK_EQ(fake_cuda_used_bytes(1), 0);
}

/* ---- CUDA_VISIBLE_DEVICES, in a fresh process per setting ---- */
static int visible_child(int argc, char **argv)
{
    int expect = atoi(argv[2]), n = -1;
    gcu_result init = cuInit(0);
    CHECK_EQ(init, expect ? 0 : NO_DEVICE);
    CHECK_EQ(cuDeviceGetCount(&n), 0);
    CHECK_EQ(n, expect);
    CHECK_EQ(argc, 3 + expect);
    for (int i = 0; i < n && i + 3 < argc; i++) {
        int phys = atoi(argv[3 + i]);
        char name[64], want[64], bus[32];
        gcu_uuid u;
        size_t total = 0;
        CHECK_EQ(cuDeviceGetUuid(&u, i), 0);
        CHECK_EQ((unsigned char)u.bytes[15], phys);
        CHECK_EQ(cuDeviceGetName(name, sizeof name, i), 0);
        snprintf(want, sizeof want, "gpumem stand-in GPU %d", phys);
        CHECK(strcmp(name, want) == 0);
        CHECK_EQ(cuDeviceGetPCIBusId(bus, sizeof bus, i), 0);
        snprintf(want, sizeof want, "0000:%02X:00.0", 0x10 + phys);
        CHECK(strcmp(bus, want) == 0);
        CHECK_EQ(cuDeviceTotalMem_v2(&total, i), 0);
        CHECK_EQ(total, (phys + 1) * 1000 * MiB); /* GPUMEM_FAKE_MEMORY_MIB by physical ordinal */
        /* fake_cuda_used_bytes takes the visible ordinal. */
        gcu_context c;
        gcu_deviceptr p;
        CHECK_EQ(cuCtxCreate_v2(&c, 0, i), 0);
        CHECK_EQ(cuMemAlloc_v2(&p, (size_t)(i + 1) * MiB), 0);
        CHECK_EQ(fake_cuda_used_bytes(i), (i + 1) * MiB);
        CHECK_EQ(cuCtxDestroy_v2(c), 0);
    }
    CHECK_EQ(cuDeviceGetUuid(&(gcu_uuid){ 0 }, n), 101); /* INVALID_DEVICE */
    if (failures) fprintf(stderr, "  (CUDA_VISIBLE_DEVICES='%s')\n", getenv("CUDA_VISIBLE_DEVICES"));
    return failures ? 1 : 0;
}

static void visible(const char *self, const char *physical, const char *cvd, const char *expect)
{
    char *argv[12] = { (char *)self, "visible" };
    char buf[64];
    snprintf(buf, sizeof buf, "%s", expect);
    int argc = 2;
    for (char *t = strtok(buf, " "); t && argc < 11; t = strtok(NULL, " ")) argv[argc++] = t;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        setenv("GPUMEM_FAKE_DEVICES", physical, 1);
        setenv("GPUMEM_FAKE_MEMORY_MIB", "1000,2000,3000,4000", 1);
        if (cvd) setenv("CUDA_VISIBLE_DEVICES", cvd, 1);
        else unsetenv("CUDA_VISIBLE_DEVICES");
        execv(self, argv);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    checks++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "CUDA_VISIBLE_DEVICES='%s' (%s physical): expected \"%s\", child failed (status %d)\n",
                cvd ? cvd : "(unset)", physical, expect, status);
        failures++;
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "visible") == 0) return visible_child(argc, argv);
    unsetenv("CUDA_VISIBLE_DEVICES");
    gcu_context c0;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&c0, 0, 0), 0);
    reuse();
    stack(c0);
    destroy_frees(c0);
    primary(c0);
    pools();
    copies(c0);
    runtime();

    /* expected: "count physical ordinals of the visible devices, in order" */
    const char *self = "/proc/self/exe";
    char path[4096];
    ssize_t n = readlink(self, path, sizeof path - 1);
    if (n > 0) {
        path[n] = 0;
        self = path;
    }
    visible(self, "4", NULL, "4 0 1 2 3");
    visible(self, "4", "2,0", "2 2 0");
    visible(self, "4", "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539003,1", "2 3 1");
    visible(self, "4", "GPU-5a1f6e0d-9c3b-4a77-8e21-c402b6539002", "1 2");
    visible(self, "4", "1,7,0", "1 1"); /* stops at the first invalid entry */
    visible(self, "4", "1,-1,0", "1 1");
    visible(self, "4", "0,GPU-5a1f6e0d", "1 0"); /* an ambiguous UUID prefix is invalid */
    visible(self, "4", "2,GPU-nope,0", "1 2");
    visible(self, "4", "1,1", "1 1");      /* so is a repeated device */
    visible(self, "1", "GPU-5a1f", "1 0"); /* a unique prefix is enough */
    visible(self, "4", "", "0");           /* empty: no device */
    visible(self, "4", "-1", "0");
    visible(self, "2", "5", "0");

    fprintf(stderr, "stand_in: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
