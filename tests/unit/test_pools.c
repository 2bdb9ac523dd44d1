/* pools.c on its own: a stream-ordered pool's reserve, as the stand-in
 * driver's pool model (unit_driver.c) reports it, is what its device is
 * charged; frees leave a pool pending until its reserve settles at a
 * synchronisation; a teardown forgets the pools the driver no longer knows.
 * Linked with the modules below pools only (no counters, no hook).
 *
 * Each test uses a device ordinal and pools of its own, and leaves no pool
 * pending, so gpumem__pools_pending is 0 between tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices.h"
#include "pools.h"
#include "unit_driver.h"

#define MIB UD_MIB

enum {
    DEV_REGISTER = 1,
    DEV_UPDATE,
    DEV_GIVEN_BACK,
    DEV_THRESHOLD,
    DEV_GRANULES,
    DEV_QUIET,
    DEV_IDLE,
    DEV_FORGET,
    DEV_TEARDOWN,
    DEV_TEARDOWN_OTHER,
};

static uint64_t reserved(int dev) { return gpumem__device(dev)->reserved_bytes; }
static int pending(void) { return atomic_load(&gpumem__pools_pending); }

/* A pool known on dev, its reserve charged. */
static struct ud_pool *pool_on(int dev, uint64_t reserve, uint64_t used, uint64_t threshold)
{
    struct ud_pool *p = ud_pool_new(reserve, used, threshold);
    gpumem__pool_register(p->handle, dev);
    gpumem__pool_update(p->handle, -1);
    return p;
}

static void freed(struct ud_pool *p)
{
    uint8_t index = gpumem__pool_index(p->handle);
    assert_int_not_equal(index, 0);
    gpumem__pool_freed(index);
}

static int setup(void **state)
{
    (void)state;
    return pending() == 0 ? 0 : -1;
}

static void register_remembers_the_pool_device(void **state)
{
    (void)state;
    struct ud_pool *p = ud_pool_new(0, 0, 0), *q = ud_pool_new(0, 0, 0);
    assert_int_equal(gpumem__pool_device(NULL), -1);
    assert_int_equal(gpumem__pool_device(p->handle), -1); /* never seen */
    gpumem__pool_register(p->handle, DEV_REGISTER);
    assert_int_equal(gpumem__pool_device(p->handle), DEV_REGISTER);
    assert_int_equal(gpumem__pool_device(q->handle), -1);

    /* One slot per pool, the same every time. */
    uint8_t ip = gpumem__pool_index(p->handle), iq = gpumem__pool_index(q->handle);
    assert_int_not_equal(ip, 0);
    assert_int_not_equal(iq, 0);
    assert_int_not_equal(ip, iq);
    assert_int_equal(gpumem__pool_index(p->handle), ip);
    assert_int_equal(gpumem__pool_device(q->handle), -1); /* a slot, no device yet */

    gpumem__pool_forget(p->handle);
    gpumem__pool_forget(q->handle);
    assert_int_equal(gpumem__pool_device(p->handle), -1);
}

static void update_charges_the_reserve_the_driver_reports(void **state)
{
    (void)state;
    struct ud_pool *p = pool_on(DEV_UPDATE, 64 * MIB, 0, 0);
    assert_int_equal(reserved(DEV_UPDATE), 64 * MIB);
    p->reserved = 96 * MIB;
    gpumem__pool_update(p->handle, -1);
    assert_int_equal(reserved(DEV_UPDATE), 96 * MIB);
    p->reserved = 32 * MIB;
    gpumem__pool_update(p->handle, -1);
    assert_int_equal(reserved(DEV_UPDATE), 32 * MIB);
    assert_int_equal(gpumem__device(DEV_UPDATE)->peak_bytes, 96 * MIB);

    /* A driver that cannot say changes nothing. */
    p->answer = 201;
    p->reserved = 0;
    gpumem__pool_update(p->handle, -1);
    assert_int_equal(reserved(DEV_UPDATE), 32 * MIB);
    p->answer = GCU_SUCCESS;

    /* A pool first met without a device: the current one, remembered. */
    struct ud_pool *q = ud_pool_new(8 * MIB, 0, 0);
    ud_current_device = DEV_UPDATE;
    gpumem__pool_update(q->handle, -1);
    ud_current_device = 0;
    assert_int_equal(gpumem__pool_device(q->handle), DEV_UPDATE);
    assert_int_equal(reserved(DEV_UPDATE), 40 * MIB);

    gpumem__pool_forget(p->handle);
    gpumem__pool_forget(q->handle);
    assert_int_equal(reserved(DEV_UPDATE), 0);
}

static void reserve_given_back_at_synchronisation_is_uncharged(void **state)
{
    (void)state;
    struct ud_pool *p = pool_on(DEV_GIVEN_BACK, 64 * MIB, 64 * MIB, 0);
    assert_int_equal(reserved(DEV_GIVEN_BACK), 64 * MIB);
    /* The block is freed; the driver keeps the reserve until a
     * synchronisation. */
    p->used = 0;
    freed(p);
    assert_int_equal(pending(), 1);
    assert_int_equal(reserved(DEV_GIVEN_BACK), 64 * MIB);
    p->reserved = 0;
    gpumem__pools_synchronized();
    assert_int_equal(reserved(DEV_GIVEN_BACK), 0);
    assert_int_equal(pending(), 0);
    gpumem__pool_forget(p->handle);
}

static void pending_clears_once_the_reserve_is_within_the_threshold(void **state)
{
    (void)state;
    struct ud_pool *p = pool_on(DEV_THRESHOLD, 64 * MIB, 0, 32 * MIB);
    freed(p);
    gpumem__pools_synchronized(); /* not given back yet */
    assert_int_equal(pending(), 1);
    assert_int_equal(reserved(DEV_THRESHOLD), 64 * MIB);
    p->reserved = 32 * MIB; /* down to the release threshold */
    gpumem__pools_synchronized();
    assert_int_equal(reserved(DEV_THRESHOLD), 32 * MIB);
    assert_int_equal(pending(), 0);
    gpumem__pool_forget(p->handle);
    assert_int_equal(reserved(DEV_THRESHOLD), 0);
}

static void pending_clears_once_the_reserve_is_within_the_granules_in_use(void **state)
{
    (void)state;
    /* 3 MiB in use needs two 2 MiB granules. */
    struct ud_pool *p = pool_on(DEV_GRANULES, 6 * MIB, 3 * MIB, 0);
    freed(p);
    gpumem__pools_synchronized();
    assert_int_equal(pending(), 1); /* 6 MiB > 4 MiB */
    p->reserved = 4 * MIB;
    gpumem__pools_synchronized();
    assert_int_equal(reserved(DEV_GRANULES), 4 * MIB);
    assert_int_equal(pending(), 0); /* 4 MiB: not more than 3 MiB's granules */
    gpumem__pool_forget(p->handle);
}

static void pending_clears_after_four_quiet_synchronisations(void **state)
{
    (void)state;
    /* A reserve that never shrinks (a chunk still holds a live block). */
    struct ud_pool *p = pool_on(DEV_QUIET, 8 * MIB, 0, 0);
    freed(p);
    gpumem__pools_synchronized(); /* sees the free: not quiet */
    for (int quiet = 1; quiet < 4; quiet++) {
        gpumem__pools_synchronized();
        assert_int_equal(pending(), 1);
    }
    /* A new free starts the count again. */
    freed(p);
    gpumem__pools_synchronized();
    for (int quiet = 1; quiet < 4; quiet++) {
        gpumem__pools_synchronized();
        assert_int_equal(pending(), 1);
    }
    gpumem__pools_synchronized(); /* the fourth quiet one */
    assert_int_equal(pending(), 0);
    assert_int_equal(reserved(DEV_QUIET), 8 * MIB); /* still charged: the driver holds it */
    gpumem__pool_forget(p->handle);
}

static void synchronisation_reads_no_pool_that_is_not_pending(void **state)
{
    (void)state;
    struct ud_pool *p = pool_on(DEV_IDLE, 16 * MIB, 0, 0);
    unsigned reads = p->reads;
    gpumem__pools_synchronized();
    assert_int_equal(p->reads, reads);
    freed(p);
    reads = p->reads;
    gpumem__pools_synchronized();
    assert_true(p->reads > reads);
    p->reserved = 0;
    gpumem__pools_synchronized();
    assert_int_equal(pending(), 0);
    reads = p->reads;
    gpumem__pools_synchronized();
    assert_int_equal(p->reads, reads);
    gpumem__pool_forget(p->handle);
}

static void forget_uncharges_the_reserve_and_the_pending_mark(void **state)
{
    (void)state;
    struct ud_pool *p = pool_on(DEV_FORGET, 64 * MIB, 0, 0);
    freed(p);
    assert_int_equal(pending(), 1);
    assert_int_equal(reserved(DEV_FORGET), 64 * MIB);
    gpumem__pool_forget(p->handle);
    assert_int_equal(reserved(DEV_FORGET), 0);
    assert_int_equal(pending(), 0);
    assert_int_equal(gpumem__pool_device(p->handle), -1);
    gpumem__pool_forget(p->handle); /* twice: nothing more */
    assert_int_equal(reserved(DEV_FORGET), 0);
}

static void teardown_forgets_pools_the_driver_no_longer_knows(void **state)
{
    (void)state;
    struct ud_pool *gone = pool_on(DEV_TEARDOWN, 10 * MIB, 0, 0);
    struct ud_pool *kept = pool_on(DEV_TEARDOWN, 20 * MIB, 0, 0);
    struct ud_pool *unsure = pool_on(DEV_TEARDOWN, 5 * MIB, 0, 0);
    struct ud_pool *elsewhere = pool_on(DEV_TEARDOWN_OTHER, 40 * MIB, 0, 0);
    assert_int_equal(reserved(DEV_TEARDOWN), 35 * MIB);
    freed(gone);
    assert_int_equal(pending(), 1);

    gone->answer = GCU_ERROR_INVALID_VALUE; /* destroyed with the context */
    kept->reserved = 25 * MIB;
    unsure->answer = 201; /* not "no such pool": kept */
    elsewhere->answer = GCU_ERROR_INVALID_VALUE;
    gpumem__pools_teardown(DEV_TEARDOWN);
    assert_int_equal(gpumem__pool_device(gone->handle), -1);
    assert_int_equal(gpumem__pool_device(kept->handle), DEV_TEARDOWN);
    assert_int_equal(gpumem__pool_device(unsure->handle), DEV_TEARDOWN);
    assert_int_equal(reserved(DEV_TEARDOWN), 30 * MIB); /* 25 re-read + 5 kept */
    assert_int_equal(pending(), 0);
    /* Another device's pool is not looked at. */
    assert_int_equal(gpumem__pool_device(elsewhere->handle), DEV_TEARDOWN_OTHER);
    assert_int_equal(reserved(DEV_TEARDOWN_OTHER), 40 * MIB);

    gpumem__pools_teardown(-1);
    assert_int_equal(gpumem__pool_device(elsewhere->handle), -1);
    assert_int_equal(reserved(DEV_TEARDOWN_OTHER), 0);
    assert_int_equal(reserved(DEV_TEARDOWN), 30 * MIB);

    gpumem__pool_forget(kept->handle);
    gpumem__pool_forget(unsure->handle);
    assert_int_equal(reserved(DEV_TEARDOWN), 0);
}

int main(void)
{
    ud_install(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(register_remembers_the_pool_device, setup),
        cmocka_unit_test_setup(update_charges_the_reserve_the_driver_reports, setup),
        cmocka_unit_test_setup(reserve_given_back_at_synchronisation_is_uncharged, setup),
        cmocka_unit_test_setup(pending_clears_once_the_reserve_is_within_the_threshold, setup),
        cmocka_unit_test_setup(pending_clears_once_the_reserve_is_within_the_granules_in_use, setup),
        cmocka_unit_test_setup(pending_clears_after_four_quiet_synchronisations, setup),
        cmocka_unit_test_setup(synchronisation_reads_no_pool_that_is_not_pending, setup),
        cmocka_unit_test_setup(forget_uncharges_the_reserve_and_the_pending_mark, setup),
        cmocka_unit_test_setup(teardown_forgets_pools_the_driver_no_longer_knows, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    gpumem__segment_exit();
    return failed;
}
