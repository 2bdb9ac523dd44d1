/* The integer-only formatters of common/format.c: clamped percentages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "format.h"

#define GIB (1ull << 30)

static void percentages_are_exact_and_clamped(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(gm_percent_hundredths(5557452800ull, 16 * GIB), 3235);
    assert_int_equal(gm_percent_hundredths(3 << 20, 16 * GIB), 2);
    assert_int_equal(gm_percent_hundredths(1, 32), 312);  /* 3.125: a tie, to even */
    assert_int_equal(gm_percent_hundredths(3, 32), 938);  /* 9.375 */
    assert_int_equal(gm_percent_whole(899, 1000), 89);    /* rounded down */
    assert_int_equal(gm_percent_whole(8999999, 10000000), 89);
    assert_int_equal(gm_percent_hundredths(UINT64_MAX / 2, UINT64_MAX), 5000);
    assert_int_equal(gm_percent_whole(UINT64_MAX, UINT64_MAX), 100);
    /* No total: 0. Far above the total: the cap, never a wrapped figure. */
    assert_int_equal(gm_percent_hundredths(1, 0), 0);
    assert_int_equal(gm_percent_whole(UINT64_MAX, 0), 0);
    assert_int_equal(gm_percent_hundredths(1ull << 63, 1), GM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gm_percent_hundredths(UINT64_MAX, 1048576), GM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gm_percent_hundredths(9999995, 100000), GM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gm_percent_hundredths(9999994, 100000), 999999);
    assert_int_equal(gm_percent_hundredths(99999, 1000), 999990);
    assert_int_equal(gm_percent_whole(1ull << 63, 1), GM_PERCENT_MAX_HUNDREDTHS / 100);
    gm_format_percent(buf, sizeof buf, 1ull << 63, 1);
    assert_string_equal(buf, "9999.99");
    gm_format_percent(buf, sizeof buf, 0, 16 * GIB);
    assert_string_equal(buf, "0.00");
    gm_format_percent(buf, sizeof buf, 29 * GIB / 2, 16 * GIB);
    assert_string_equal(buf, "90.62");
    gm_format_percent(buf, sizeof buf, 16 * GIB, 16 * GIB);
    assert_string_equal(buf, "100.00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentages_are_exact_and_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
