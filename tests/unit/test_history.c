/* The history rings' arithmetic (shim/segment_write.[ch] writing,
 * common/segment_read.c reading back) on a clock the test sets: each event
 * is given its monotonic time, so boundaries, laps of the ring, an idle hour
 * and the fold into the coarse ring are exact. The rings live in a buffer of
 * the test's, laid out as a segment with a history section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "segment_read.h"
#include "segment_write.h"

#define S 1000000000ull
#define ANCHOR (7 * S)
#define FINE 8   /* 1 s buckets */
#define COARSE 4 /* 4 s buckets */

static struct {
    struct gpumem_shm_segment seg;
    struct gpumem_shm_bucket rings[2][FINE + COARSE];
} * buf;

static struct gpumem_shm_device *dev(void) { return &buf->seg.devices[0]; }

static int setup(void **state)
{
    (void)state;
    buf = calloc(1, sizeof *buf);
    struct gpumem_shm_header *h = &buf->seg.header;
    gpumem__segment_header_fill(h,
                                &(struct gpumem_header_values){ .pid = 42, .warn_percent = 80, .alarm_percent = 90 });
    h->magic = GPUMEM_SHM_MAGIC;
    h->history_offset = sizeof buf->seg;
    h->history_size = sizeof buf->rings;
    h->history_sets = 2;
    h->history_stride = sizeof(struct gpumem_shm_bucket);
    h->history_width_ns[0] = S;
    h->history_width_ns[1] = 4 * S;
    h->history_depth[0] = FINE;
    h->history_depth[1] = COARSE;
    h->history_anchor_mono_ns = ANCHOR;
    h->history_anchor_unix_ns = 1800000000ull * S;
    h->segment_size = sizeof *buf;
    dev()->flags = GPUMEM_SHM_DEVICE_ACTIVE;
    gpumem__history = (struct gpumem_history){ .base = &buf->rings[0][0],
                                               .anchor_mono = ANCHOR,
                                               .width = { S, 4 * S },
                                               .depth = { FINE, COARSE },
                                               .sets = 2,
                                               .set_buckets = FINE + COARSE,
                                               .hot = 0 };
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gpumem__history.base = NULL;
    free(buf);
    return 0;
}

/* reserved changes to v at monotonic t (seconds after the anchor, in ns). */
static void at(uint64_t t, uint64_t v, int alloc)
{
    dev()->reserved_bytes = v;
    if (alloc) dev()->alloc_count++;
    gpumem__seg_history(dev(), v, ANCHOR + t);
}

/* The buckets of ring r, read back as a reader does. */
static size_t ring(int r, struct gpumem_bucket *out)
{
    struct gpumem_process p;
    char why[128];
    assert_int_equal(gpumem__segment_parse(buf, buf, sizeof *buf, &p, NULL, why, sizeof why), 0);
    assert_int_equal(p.ndevices, 1);
    return gpumem__history_buckets(buf, buf, sizeof *buf, &p, 0, r, out, 64);
}

static void boundaries(void **state)
{
    (void)state;
    struct gpumem_bucket b[64];
    at(0, 100, 1);     /* the first instant of tick 1 */
    at(S - 1, 500, 1); /* its last nanosecond */
    at(S - 1, 200, 0);
    at(S, 300, 1); /* tick 2 begins */
    assert_int_equal(ring(0, b), 2);
    assert_int_equal(b[0].tick, 1);
    assert_int_equal(b[0].high, 500);
    assert_int_equal(b[0].last, 200);
    assert_int_equal(b[0].allocs_mod, 2);
    assert_int_equal(b[1].tick, 2);
    assert_int_equal(b[1].high, 300);
    assert_int_equal(b[1].last, 300);
    assert_int_equal(b[1].allocs_mod, 3);
    /* A late event, read before tick 2 began, lands in the newest bucket. */
    at(S / 2, 250, 0);
    assert_int_equal(ring(0, b), 2);
    assert_int_equal(b[1].last, 250);
    assert_int_equal(b[1].high, 300);
}

/* Twenty ticks in a ring of eight: the last eight stay; the coarse ring got
 * every ended fine bucket, its spikes kept. */
static void lap(void **state)
{
    (void)state;
    struct gpumem_bucket b[64];
    for (uint64_t t = 0; t < 20; t++) {
        at(t * S, 1000 + t, 1);
        if (t == 5) at(t * S + 10, 99999, 1), at(t * S + 20, 1000 + t, 0); /* a spike in tick 6 */
    }
    size_t n = ring(0, b);
    assert_int_equal(n, FINE);
    for (size_t k = 0; k < n; k++) {
        assert_int_equal(b[k].tick, 13 + k);
        assert_int_equal(b[k].high, 1000 + 12 + k);
    }
    n = ring(1, b);
    /* fine ticks 1-4 -> coarse 1, 5-8 -> 2, 9-12 -> 3, 13-16 -> 4, 17-19 -> 5
     * (tick 20 is still open): a ring of 4 keeps coarse 2..5. */
    assert_int_equal(n, COARSE);
    assert_int_equal(b[0].tick, 2);
    assert_int_equal(b[0].high, 99999);
    assert_int_equal(b[0].last, 1007);
    assert_int_equal(b[3].tick, 5);
    assert_int_equal(b[3].last, 1018);
}

/* An hour without an event, then one: the old buckets are a lap behind and
 * are never read as recent; the fine ring holds the one new bucket. */
static void idle_hour(void **state)
{
    (void)state;
    struct gpumem_bucket b[64];
    for (uint64_t t = 0; t < FINE; t++) at(t * S, 10 + t, 1);
    assert_int_equal(ring(0, b), FINE);
    at(3600 * S + S / 3, 77, 0);
    assert_int_equal(ring(0, b), 1);
    assert_int_equal(b[0].tick, 3601);
    assert_int_equal(b[0].high, 77);
    assert_int_equal(ring(1, b), 2); /* coarse 1 (fine 1-4) and 2 (fine 5-8) */
    assert_int_equal(b[1].tick, 2);
    assert_int_equal(b[1].last, 17);
}

/* The fine ring off (depth 0): every event goes to the coarse ring. */
static void coarse_only(void **state)
{
    (void)state;
    struct gpumem_bucket b[64];
    gpumem__history.depth[0] = 0;
    gpumem__history.hot = 1;
    gpumem__history.set_buckets = COARSE;
    buf->seg.header.history_depth[0] = 0;
    buf->seg.header.history_size = 2 * COARSE * sizeof(struct gpumem_shm_bucket);
    at(0, 5, 1);
    at(3 * S, 50, 1);
    at(5 * S, 6, 1);
    assert_int_equal(ring(0, b), 0);
    assert_int_equal(ring(1, b), 2);
    assert_int_equal(b[0].high, 50);
    assert_int_equal(b[0].last, 50);
    assert_int_equal(b[1].tick, 2);
}

/* A device past the last ring set keeps none, and costs nothing after. */
static void sets_run_out(void **state)
{
    (void)state;
    struct gpumem_bucket b[64];
    buf->seg.devices[1].flags = GPUMEM_SHM_DEVICE_ACTIVE;
    buf->seg.devices[2].flags = GPUMEM_SHM_DEVICE_ACTIVE;
    gpumem__seg_history(&buf->seg.devices[1], 1, ANCHOR);
    gpumem__seg_history(&buf->seg.devices[2], 2, ANCHOR);
    at(0, 3, 1);
    assert_int_equal(buf->seg.devices[1].history_set, 1);
    assert_int_equal(buf->seg.devices[2].history_set, 2);
    assert_int_equal(dev()->history_set, UINT32_MAX);
    at(S, 4, 1);
    struct gpumem_process p;
    char why[128];
    assert_int_equal(gpumem__segment_parse(buf, buf, sizeof *buf, &p, NULL, why, sizeof why), 0);
    assert_int_equal(gpumem__history_buckets(buf, buf, sizeof *buf, &p, 0, 0, b, 64), 0);
    assert_int_equal(gpumem__history_buckets(buf, buf, sizeof *buf, &p, 1, 0, b, 64), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(lap, setup, teardown),
        cmocka_unit_test_setup_teardown(idle_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(coarse_only, setup, teardown),
        cmocka_unit_test_setup_teardown(sets_run_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
