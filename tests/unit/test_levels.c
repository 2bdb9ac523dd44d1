/* Health levels: the bounds, each crossing up and down, hysteresis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "levels.h"

#define GIB (1024ull * 1024 * 1024)
static const uint64_t total = 16 * GIB;

static uint64_t pct(double p) { return (uint64_t)((double)total * p / 100.0); }

static void bounds_follow_the_documented_percentages(void **state)
{
    (void)state;
    struct gpumem_limits l = gpumem__limits_make(total, 80, 90, 2);
    assert_int_equal(l.warn_up, total / 100 * 80 + total % 100 * 80 / 100);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_HEALTHY, l.warn_up - 1), GPUMEM_LEVEL_HEALTHY);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_HEALTHY, l.warn_up), GPUMEM_LEVEL_WARNING);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_HEALTHY, l.crit_up), GPUMEM_LEVEL_WARNING);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_HEALTHY, l.crit_up + 1), GPUMEM_LEVEL_CRITICAL);
}

static void going_down_needs_the_margin(void **state)
{
    (void)state;
    struct gpumem_limits l = gpumem__limits_make(total, 80, 90, 2);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_CRITICAL, pct(89.9)), GPUMEM_LEVEL_CRITICAL);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_CRITICAL, pct(88.5)), GPUMEM_LEVEL_CRITICAL);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_CRITICAL, pct(87.9)), GPUMEM_LEVEL_WARNING);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_WARNING, pct(79)), GPUMEM_LEVEL_WARNING);
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_WARNING, pct(77.9)), GPUMEM_LEVEL_HEALTHY);
    /* A fall straight from critical to nothing lands at healthy. */
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_CRITICAL, 0), GPUMEM_LEVEL_HEALTHY);
    /* From critical into the warning band but above its lower margin. */
    assert_int_equal(gpumem__level_next(&l, GPUMEM_LEVEL_CRITICAL, pct(79)), GPUMEM_LEVEL_WARNING);
}

static void a_wobble_around_a_bound_changes_level_once(void **state)
{
    (void)state;
    struct gpumem_limits l = gpumem__limits_make(total, 80, 90, 2);
    gpumem_level_t lvl = GPUMEM_LEVEL_WARNING;
    int changes = 0;
    for (int i = 0; i < 1000; i++) {
        gpumem_level_t next = gpumem__level_next(&l, lvl, i % 2 ? pct(89.9) : pct(90.1));
        changes += next != lvl;
        lvl = next;
    }
    assert_int_equal(changes, 1);
    assert_int_equal(lvl, GPUMEM_LEVEL_CRITICAL);
}

static void percent_of_is_exact_without_overflow(void **state)
{
    (void)state;
    assert_int_equal(gpumem__percent_of(100, 80, NULL), 80);
    assert_int_equal(gpumem__percent_of(UINT64_MAX / 2, 100, NULL), UINT64_MAX / 2);
    assert_int_equal(gpumem__percent_of(0, 90, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bounds_follow_the_documented_percentages),
        cmocka_unit_test(going_down_needs_the_margin),
        cmocka_unit_test(a_wobble_around_a_bound_changes_level_once),
        cmocka_unit_test(percent_of_is_exact_without_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
