/* counters.c on its own: what an allocation, a free (accepted, refused, of
 * an unknown key), a failure and a context teardown do to the ledger, the
 * device's counters and the event ring. Linked with the modules below
 * counters only (no hook, no init.c, no dlsym trampoline), against the
 * stand-in driver table of unit_driver.c.
 *
 * The shim's state is process-wide: each test works on a device ordinal of
 * its own (DEV_* below) and keys of its own, so tests never see each
 * other's figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"
#include "devices.h"
#include "pools.h"
#include "segment_write.h"
#include "thread.h"
#include "unit_driver.h"

#define MIB UD_MIB

enum {
    DEV_ALLOC = 1,
    DEV_FREE,
    DEV_REFUSED,
    DEV_UNKNOWN,
    DEV_REUSE,
    DEV_REUSE_OTHER,
    DEV_MANAGED,
    DEV_VMM,
    DEV_OOM,
    DEV_OTHER_ERROR,
    DEV_SWEEP,
    DEV_SWEEP_OTHER,
    DEV_SPAN,
    DEV_RUNTIME,
    DEV_ASYNC,
};

/* A key of its own per device and index. */
#define KEY(dev, i) ((uint64_t)0x7f0000000000 + ((uint64_t)(dev) << 24) + ((uint64_t)(i) << 12))

static const struct gpumem_shm_device *device(int dev) { return gpumem__device(dev); }

static void alloc(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, uint64_t bytes, int dev)
{
    gpumem__on_alloc(kind, api, key, bytes, dev, NULL);
}

/* Both halves of a free; returns whether the ledger knew the key. */
static int free_key(enum gpumem_kind kind, enum gpumem_api api, uint64_t key, int ok)
{
    struct gpumem_claim c;
    gpumem__free_begin(kind, key, &c);
    gpumem__free_end(api, key, &c, ok);
    return c.found;
}

static void alloc_charges_reserved_peak_count_and_logs_an_event(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_ALLOC);
    assert_int_equal(d->total_bytes, UD_TOTAL);
    assert_int_equal(d->flags & (GPUMEM_SHM_DEVICE_ACTIVE | GPUMEM_SHM_DEVICE_INFO),
                     GPUMEM_SHM_DEVICE_ACTIVE | GPUMEM_SHM_DEVICE_INFO);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, KEY(DEV_ALLOC, 1), 10 * MIB, DEV_ALLOC);
    assert_int_equal(d->reserved_bytes, 10 * MIB);
    assert_int_equal(d->peak_bytes, 10 * MIB);
    assert_int_not_equal(d->peak_unix_ns, 0);
    assert_int_equal(d->alloc_count, 1);
    assert_int_equal(d->free_count, 0);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC_PITCH, KEY(DEV_ALLOC, 2), 5 * MIB, DEV_ALLOC);
    assert_int_equal(d->reserved_bytes, 15 * MIB);
    assert_int_equal(d->peak_bytes, 15 * MIB);
    assert_int_equal(d->alloc_count, 2);

    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_ALLOC, DEV_ALLOC, KEY(DEV_ALLOC, 1));
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_ALLOC);
    assert_int_equal(e->bytes, 10 * MIB);
    assert_int_equal(e->result, 0);
    assert_int_not_equal(e->unix_ns, 0);
    e = ud_event(GPUMEM_OP_ALLOC, DEV_ALLOC, KEY(DEV_ALLOC, 2));
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_ALLOC_PITCH);
    assert_int_equal(e->bytes, 5 * MIB);
}

static void free_uncharges_counts_and_logs_the_bytes(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_FREE);
    uint64_t a = KEY(DEV_FREE, 1), b = KEY(DEV_FREE, 2);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, a, 10 * MIB, DEV_FREE);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, b, 5 * MIB, DEV_FREE);

    struct gpumem_claim c;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, a, &c);
    assert_true(c.found);
    assert_int_equal(c.e.bytes, 10 * MIB);
    /* Between the halves the entry is out of the ledger, still charged. */
    struct gpumem_claim other;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, a, &other);
    assert_false(other.found);
    assert_int_equal(d->reserved_bytes, 15 * MIB);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, a, &c, 1);

    assert_int_equal(d->reserved_bytes, 5 * MIB);
    assert_int_equal(d->peak_bytes, 15 * MIB);
    assert_int_equal(d->free_count, 1);
    assert_int_equal(d->unknown_free_count, 0);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_FREE, DEV_FREE, a);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_FREE);
    assert_int_equal(e->bytes, 10 * MIB);
    assert_int_equal(e->result, 0);

    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, b, 1));
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->free_count, 2);
    assert_int_equal(d->alloc_count, 2);
}

static void refused_free_restores_the_entry_and_keeps_the_charge(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_REFUSED);
    uint64_t k = KEY(DEV_REFUSED, 1);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 10 * MIB, DEV_REFUSED);
    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 0));
    assert_int_equal(d->reserved_bytes, 10 * MIB);
    assert_int_equal(d->free_count, 0);
    assert_int_equal(d->unknown_free_count, 0);
    assert_null(ud_event(GPUMEM_OP_FREE, DEV_REFUSED, k));

    /* Back in the ledger, whole: the next free finds it. */
    struct gpumem_claim c;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, k, &c);
    assert_true(c.found);
    assert_int_equal(c.e.bytes, 10 * MIB);
    assert_int_equal(c.e.device, DEV_REFUSED);
    assert_int_equal(c.e.api, GPUMEM_API_CU_MEM_ALLOC);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, k, &c, 1);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->free_count, 1);
}

static void free_of_an_unknown_pointer_counts_as_unknown_on_the_current_device(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_UNKNOWN);
    uint64_t live = KEY(DEV_UNKNOWN, 1), stranger = KEY(DEV_UNKNOWN, 2);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, live, 3 * MIB, DEV_UNKNOWN);
    ud_current_device = DEV_UNKNOWN;
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, stranger, 1));
    assert_int_equal(d->unknown_free_count, 1);
    assert_int_equal(d->free_count, 0);
    assert_int_equal(d->reserved_bytes, 3 * MIB);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_FREE, DEV_UNKNOWN, stranger);
    assert_non_null(e);
    assert_int_equal(e->bytes, 0);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_FREE);

    /* A refused free of it, a free of NULL, and the release of a handle the
     * shim never charged (host memory) are no unknown frees. */
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, stranger + 1, 0));
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, 0, 1));
    assert_false(free_key(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_RELEASE, stranger, 1));
    assert_int_equal(d->unknown_free_count, 1);
    assert_int_equal(d->reserved_bytes, 3 * MIB);
    ud_current_device = 0;
}

static void alloc_over_a_live_key_uncharges_the_old_entry(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_REUSE), *o = device(DEV_REUSE_OTHER);
    uint64_t k = KEY(DEV_REUSE, 1);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 100 * MIB, DEV_REUSE);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 30 * MIB, DEV_REUSE); /* its free was missed */
    assert_int_equal(d->reserved_bytes, 30 * MIB);
    assert_int_equal(d->alloc_count, 2);
    assert_int_equal(d->free_count, 1);

    /* Reused on another device: each device gets its own figure right. */
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 7 * MIB, DEV_REUSE_OTHER);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->free_count, 2);
    assert_int_equal(o->reserved_bytes, 7 * MIB);

    /* Only the newest is left to free. */
    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 1));
    assert_int_equal(o->reserved_bytes, 0);
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 0));
}

static void managed_memory_counts_in_managed_bytes_not_reserved(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_MANAGED);
    uint64_t k = KEY(DEV_MANAGED, 1);
    alloc(GPUMEM_KIND_MANAGED, GPUMEM_API_CU_MEM_ALLOC_MANAGED, k, 64 * MIB, DEV_MANAGED);
    assert_int_equal(d->managed_bytes, 64 * MIB);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->peak_bytes, 0);
    assert_int_equal(d->alloc_count, 1);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_ALLOC, DEV_MANAGED, k);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_ALLOC_MANAGED);
    assert_int_equal(e->bytes, 64 * MIB);

    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 1));
    assert_int_equal(d->managed_bytes, 0);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->free_count, 1);
}

static void handle_and_pointer_of_one_value_are_separate_entries(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_VMM);
    uint64_t k = KEY(DEV_VMM, 1);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 10 * MIB, DEV_VMM);
    alloc(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_CREATE, k, 20 * MIB, DEV_VMM);
    /* No reuse: both are charged. */
    assert_int_equal(d->reserved_bytes, 30 * MIB);
    assert_int_equal(d->alloc_count, 2);
    assert_int_equal(d->free_count, 0);

    struct gpumem_claim c;
    gpumem__free_begin(GPUMEM_KIND_VMM, k, &c);
    assert_true(c.found);
    assert_int_equal(c.e.kind, GPUMEM_KIND_VMM);
    assert_int_equal(c.e.bytes, 20 * MIB);
    gpumem__free_end(GPUMEM_API_CU_MEM_RELEASE, k, &c, 1);
    assert_int_equal(d->reserved_bytes, 10 * MIB);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_FREE, DEV_VMM, k);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_RELEASE);
    assert_int_equal(e->bytes, 20 * MIB);

    /* The pointer is untouched; the handle is gone. */
    assert_false(free_key(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_RELEASE, k, 1));
    gpumem__free_begin(GPUMEM_KIND_DEVICE, k, &c);
    assert_true(c.found);
    assert_int_equal(c.e.bytes, 10 * MIB);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, k, &c, 1);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->unknown_free_count, 0);
}

static void out_of_memory_failure_is_counted_and_wants_a_postmortem(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_OOM);
    const struct gpumem_shm_header *h = &gpumem__segment()->header;
    uint64_t ooms = h->oom_count;
    assert_int_equal(gpumem__on_failure(GPUMEM_API_CU_MEM_ALLOC, 2048 * MIB, DEV_OOM, GCU_ERROR_OUT_OF_MEMORY), 1);
    assert_int_equal(d->failed_count, 1);
    assert_int_equal(h->oom_count, ooms + 1);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->alloc_count, 0);
    assert_int_equal(gpumem__thread.driver_key, UINT64_MAX); /* the runtime layer sees it was counted */
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_ALLOC, DEV_OOM, 0);
    assert_non_null(e);
    assert_int_equal(e->result, GCU_ERROR_OUT_OF_MEMORY);
    assert_int_equal(e->bytes, 2048 * MIB);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_ALLOC);
    /* A failure takes the newest index of the ring: the one a post-mortem shows. */
    assert_int_equal(e->seq, h->events_head);
}

static void other_failure_is_logged_but_not_an_out_of_memory(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_OTHER_ERROR);
    const struct gpumem_shm_header *h = &gpumem__segment()->header;
    uint64_t ooms = h->oom_count;
    assert_int_equal(gpumem__on_failure(GPUMEM_API_CU_MEM_CREATE, 4 * MIB, DEV_OTHER_ERROR, GCU_ERROR_INVALID_VALUE),
                     0);
    assert_int_equal(d->failed_count, 0);
    assert_int_equal(h->oom_count, ooms);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_ALLOC, DEV_OTHER_ERROR, 0);
    assert_non_null(e);
    assert_int_equal(e->result, GCU_ERROR_INVALID_VALUE);
    assert_int_equal(e->api, GPUMEM_API_CU_MEM_CREATE);

    /* Out of memory on no device the shim knows: counted for the process,
     * but there is no device to write a post-mortem for. */
    assert_int_equal(gpumem__on_failure(GPUMEM_API_CU_MEM_ALLOC, MIB, -1, GCU_ERROR_OUT_OF_MEMORY), 0);
    assert_int_equal(h->oom_count, ooms + 1);
}

static void teardown_uncharges_only_what_the_driver_says_is_gone(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_SWEEP), *o = device(DEV_SWEEP_OTHER);
    uint64_t gone = KEY(DEV_SWEEP, 1), live = KEY(DEV_SWEEP, 2), unsure = KEY(DEV_SWEEP, 3);
    uint64_t managed = KEY(DEV_SWEEP, 4), handle = KEY(DEV_SWEEP, 5), elsewhere = KEY(DEV_SWEEP_OTHER, 1);
    ud_pointer(gone, GCU_ERROR_INVALID_VALUE);
    ud_pointer(live, GCU_SUCCESS);
    ud_pointer(unsure, 201); /* CUDA_ERROR_INVALID_CONTEXT: not a "no such allocation" */
    ud_pointer(managed, GCU_ERROR_INVALID_VALUE);
    ud_handle(handle, GCU_ERROR_INVALID_VALUE);
    ud_pointer(elsewhere, GCU_ERROR_INVALID_VALUE);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, gone, 1 * MIB, DEV_SWEEP);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, live, 2 * MIB, DEV_SWEEP);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, unsure, 4 * MIB, DEV_SWEEP);
    alloc(GPUMEM_KIND_MANAGED, GPUMEM_API_CU_MEM_ALLOC_MANAGED, managed, 8 * MIB, DEV_SWEEP);
    alloc(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_CREATE, handle, 16 * MIB, DEV_SWEEP);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, elsewhere, 32 * MIB, DEV_SWEEP_OTHER);
    assert_int_equal(d->reserved_bytes, 23 * MIB);
    assert_int_equal(d->managed_bytes, 8 * MIB);

    /* The context's memory on this device: pointers and managed memory. */
    gpumem__teardown(GPUMEM_API_CU_CTX_DESTROY, DEV_SWEEP, GPUMEM_SWEEP_CONTEXT_BOUND);
    assert_int_equal(d->reserved_bytes, 22 * MIB); /* gone: 1 MiB */
    assert_int_equal(d->managed_bytes, 0);
    assert_int_equal(d->free_count, 2);
    assert_int_equal(o->reserved_bytes, 32 * MIB); /* another device: not looked at */
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_FREE, DEV_SWEEP, 0);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_CTX_DESTROY);
    assert_int_equal(e->bytes, 1 * MIB); /* device memory only, managed is apart */
    assert_null(ud_event(GPUMEM_OP_FREE, DEV_SWEEP_OTHER, 0));

    /* Every kind: the handle goes too. */
    gpumem__teardown(GPUMEM_API_CU_DEVICE_PRIMARY_CTX_RESET, DEV_SWEEP, GPUMEM_SWEEP_ALL);
    assert_int_equal(d->reserved_bytes, 6 * MIB);
    assert_int_equal(d->free_count, 3);
    e = ud_event(GPUMEM_OP_FREE, DEV_SWEEP, 0);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CU_DEVICE_PRIMARY_CTX_RESET);
    assert_int_equal(e->bytes, 16 * MIB);

    /* What the driver still has, or would not say, stays in the ledger. */
    struct gpumem_claim c;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, live, &c);
    assert_true(c.found);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, live, &c, 0);
    gpumem__free_begin(GPUMEM_KIND_DEVICE, unsure, &c);
    assert_true(c.found);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, unsure, &c, 0);
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, gone, 0));
    assert_false(free_key(GPUMEM_KIND_VMM, GPUMEM_API_CU_MEM_RELEASE, handle, 0));

    /* All devices (this also sweeps what the tests before left live, whose
     * keys the stand-in calls gone; none of them looks again). */
    gpumem__teardown(GPUMEM_API_CUDA_DEVICE_RESET, -1, GPUMEM_SWEEP_ALL);
    assert_int_equal(o->reserved_bytes, 0);
    assert_int_equal(o->free_count, 1);
    assert_int_equal(d->reserved_bytes, 6 * MIB);
}

static void refused_free_across_a_teardown_uncharges_what_the_teardown_freed(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_SPAN);
    uint64_t k = KEY(DEV_SPAN, 1);
    ud_pointer(k, GCU_SUCCESS);
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, 10 * MIB, DEV_SPAN);
    struct gpumem_claim c;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, k, &c);
    assert_true(c.found);
    /* The context goes while the entry is out of the ledger, where the
     * sweep cannot see it; the driver then refuses the free. */
    ud_pointer(k, GCU_ERROR_INVALID_VALUE);
    gpumem__teardown(GPUMEM_API_CU_CTX_DESTROY, DEV_SPAN, GPUMEM_SWEEP_ALL);
    assert_int_equal(d->reserved_bytes, 10 * MIB);
    gpumem__free_end(GPUMEM_API_CU_MEM_FREE, k, &c, 0);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->free_count, 1);
    assert_false(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 0));
}

static void runtime_call_in_progress_names_the_events(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_RUNTIME);
    uint64_t k = KEY(DEV_RUNTIME, 1);
    gpumem__thread.runtime_api = GPUMEM_API_CUDA_MALLOC;
    alloc(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_ALLOC, k, MIB, DEV_RUNTIME);
    assert_int_equal(gpumem__thread.driver_key, k);
    const struct gpumem_shm_event *e = ud_event(GPUMEM_OP_ALLOC, DEV_RUNTIME, k);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CUDA_MALLOC);
    gpumem__thread.runtime_api = GPUMEM_API_CUDA_FREE;
    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE, k, 1));
    gpumem__thread.runtime_api = 0;
    e = ud_event(GPUMEM_OP_FREE, DEV_RUNTIME, k);
    assert_non_null(e);
    assert_int_equal(e->api, GPUMEM_API_CUDA_FREE);
    assert_int_equal(d->reserved_bytes, 0);
}

static void async_allocation_is_charged_through_its_pool(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = device(DEV_ASYNC);
    struct ud_pool *p = ud_pool_new(32 * MIB, 0, 0);
    gpumem__pool_register(p->handle, DEV_ASYNC);
    int pending = atomic_load(&gpumem__pools_pending);
    uint64_t k = KEY(DEV_ASYNC, 1);
    gpumem__on_alloc(GPUMEM_KIND_ASYNC, GPUMEM_API_CU_MEM_ALLOC_ASYNC, k, MIB, DEV_ASYNC, p->handle);
    /* The pool's reserve is the device memory, not the block. */
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(d->alloc_count, 1);
    assert_true(free_key(GPUMEM_KIND_DEVICE, GPUMEM_API_CU_MEM_FREE_ASYNC, k, 1));
    assert_int_equal(d->free_count, 1);
    /* The free re-read the pool and left it for the next synchronisation. */
    assert_int_equal(d->reserved_bytes, 32 * MIB);
    assert_int_equal(atomic_load(&gpumem__pools_pending), pending + 1);
    gpumem__pool_forget(p->handle);
    assert_int_equal(d->reserved_bytes, 0);
    assert_int_equal(atomic_load(&gpumem__pools_pending), pending);
}

int main(void)
{
    ud_install(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_charges_reserved_peak_count_and_logs_an_event),
        cmocka_unit_test(free_uncharges_counts_and_logs_the_bytes),
        cmocka_unit_test(refused_free_restores_the_entry_and_keeps_the_charge),
        cmocka_unit_test(free_of_an_unknown_pointer_counts_as_unknown_on_the_current_device),
        cmocka_unit_test(alloc_over_a_live_key_uncharges_the_old_entry),
        cmocka_unit_test(managed_memory_counts_in_managed_bytes_not_reserved),
        cmocka_unit_test(handle_and_pointer_of_one_value_are_separate_entries),
        cmocka_unit_test(out_of_memory_failure_is_counted_and_wants_a_postmortem),
        cmocka_unit_test(other_failure_is_logged_but_not_an_out_of_memory),
        cmocka_unit_test(teardown_uncharges_only_what_the_driver_says_is_gone),
        cmocka_unit_test(refused_free_across_a_teardown_uncharges_what_the_teardown_freed),
        cmocka_unit_test(runtime_call_in_progress_names_the_events),
        cmocka_unit_test(async_allocation_is_charged_through_its_pool),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    gpumem__segment_exit();
    return failed;
}
