/* Stream-ordered pools give memory back at synchronisation, not at the
 * free: the figure follows the pools' reserve at every kind of
 * synchronisation, and the peak is the real one. */
#include "check.h"
#include "cuda_decls.h"

gcu_result cuStreamSynchronize_ptsz(gcu_stream);
gcu_result cuCtxSynchronize(void);
gcu_result cuEventCreate(gcu_event *, unsigned int);
gcu_result cuEventRecord(gcu_event, gcu_stream);
gcu_result cuEventSynchronize(gcu_event);
gcu_result cuMemPoolSetAttribute(gcu_mempool, gcu_pool_attribute, void *);
gcu_result cuMemPoolGetAttribute(gcu_mempool, gcu_pool_attribute, void *);

static unsigned long long pool_reserve(gcu_mempool pool)
{
    unsigned long long r = 0;
    CHECK_EQ(cuMemPoolGetAttribute(pool, GCU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &r), 0);
    return r;
}

static void follows(unsigned long long want)
{
    CHECK_EQ(fake_cuda_used_bytes(0), want);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, want);
}

enum sync { STREAM, STREAM_PTSZ, EVENT, CONTEXT, NSYNC };

static void synchronize(enum sync how)
{
    gcu_event ev;
    switch (how) {
    case STREAM: CHECK_EQ(cuStreamSynchronize(NULL), 0); break;
    case STREAM_PTSZ: CHECK_EQ(cuStreamSynchronize_ptsz(NULL), 0); break;
    case EVENT:
        CHECK_EQ(cuEventCreate(&ev, 0), 0);
        CHECK_EQ(cuEventRecord(ev, NULL), 0);
        CHECK_EQ(cuEventSynchronize(ev), 0);
        break;
    default: CHECK_EQ(cuCtxSynchronize(), 0); break;
    }
}

int main(void)
{
    gcu_context ctx;
    gcu_mempool def, own;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuDeviceGetDefaultMemPool(&def, 0), 0);
    gcu_mem_pool_props props = { .allocType = 1, .location = { .type = GCU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    CHECK_EQ(cuMemPoolCreate(&own, &props), 0);

    /* The default pool grows to 16 MiB and its memory is freed: it keeps
     * the reserve until a synchronisation gives it back. Then another pool
     * grows to 6 MiB: the real peak is 16 MiB, never 22. */
    for (enum sync how = STREAM; how < NSYNC; how++) {
        gcu_deviceptr a = 0, b = 0;
        CHECK_EQ(cuMemAllocAsync(&a, 16 * MiB, NULL), 0);
        follows(16 * MiB);
        CHECK_EQ(cuMemFreeAsync(a, NULL), 0);
        follows(16 * MiB);
        synchronize(how);
        CHECK_EQ(pool_reserve(def), 0);
        follows(0);
        CHECK_EQ(cuMemAllocFromPoolAsync(&b, 6 * MiB, own, NULL), 0);
        follows(6 * MiB);
        if (SHIM) CHECK_EQ(stats_of(0).peak_bytes, 16 * MiB);
        CHECK_EQ(cuMemFreeAsync(b, NULL), 0);
        synchronize(how);
        follows(0);
    }

    /* A release threshold: the pool keeps that much at a synchronisation. */
    unsigned long long threshold = 8 * MiB;
    CHECK_EQ(cuMemPoolSetAttribute(def, GCU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), 0);
    gcu_deviceptr c = 0, d = 0;
    CHECK_EQ(cuMemAllocAsync(&c, 12 * MiB, NULL), 0);
    CHECK_EQ(cuMemAllocAsync(&d, 1 * MiB, NULL), 0);
    follows(14 * MiB);
    CHECK_EQ(cuMemFreeAsync(c, NULL), 0);
    CHECK_EQ(cuStreamSynchronize(NULL), 0);
    CHECK_EQ(pool_reserve(def), 8 * MiB);
    follows(8 * MiB);
    CHECK_EQ(cuMemFreeAsync(d, NULL), 0);
    CHECK_EQ(cuCtxSynchronize(), 0);
    follows(8 * MiB);
    CHECK_EQ(cuMemPoolTrimTo(def, 0), 0);
    follows(0);
    CHECK_EQ(cuMemPoolDestroy(own), 0);
    return check_done("pool_sync");
}
