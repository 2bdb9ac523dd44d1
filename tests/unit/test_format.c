/* The integer-only formatters of common/format.c: the figures printf's %f
 * printed before (in the C locale), clamped percentages, and JSON strings
 * that are valid UTF-8 whatever the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format.h"

#define GIB (1ull << 30)

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void sizes_read_as_printf_wrote_them(void **state)
{
    (void)state;
    static const uint64_t edges[] = { 0,       1,       1023,    1024, 1025,        1152,
                                      1048575, 1048576, GIB - 1, GIB,  3 * GIB / 2, (1ull << 53) - 1 };
    char got[64], want[64];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        uint64_t b = i < (int)(sizeof edges / sizeof edges[0]) ? edges[i] : next_random(&x) >> (11 + i % 50);
        /* Below 2^53 a size divided by a power of two is exact in a double,
         * so printf's rounding (ties to even) is the reference. */
        gpumem__format_size(got, sizeof got, b);
        if (b < 1024) snprintf(want, sizeof want, "%llu bytes", (unsigned long long)b);
        else if (b < (1u << 20)) snprintf(want, sizeof want, "%.2f KiB", (double)b / 1024.0);
        else if (b < GIB) snprintf(want, sizeof want, "%.2f MiB", (double)b / 1048576.0);
        else snprintf(want, sizeof want, "%.2f GiB", (double)b / (double)GIB);
        assert_string_equal(got, want);
        gpumem__format_gb(got, sizeof got, b);
        snprintf(want, sizeof want, "%.1fGB", (double)b / (double)GIB);
        assert_string_equal(got, want);
    }
    gpumem__format_size(got, sizeof got, UINT64_MAX);
    assert_string_equal(got, "17179869184.00 GiB");
    gpumem__format_gb(got, sizeof got, UINT64_MAX);
    assert_string_equal(got, "17179869184.0GB");
}

static void percentages_are_exact_and_clamped(void **state)
{
    (void)state;
    char buf[32];
    assert_int_equal(gpumem__percent_hundredths(5557452800ull, 16 * GIB), 3235);
    assert_int_equal(gpumem__percent_hundredths(3 << 20, 16 * GIB), 2);
    assert_int_equal(gpumem__percent_hundredths(1, 32), 312); /* 3.125: a tie, to even */
    assert_int_equal(gpumem__percent_hundredths(3, 32), 938); /* 9.375 */
    assert_int_equal(gpumem__percent_whole(899, 1000), 89);   /* rounded down */
    assert_int_equal(gpumem__percent_whole(8999999, 10000000), 89);
    assert_int_equal(gpumem__percent_hundredths(UINT64_MAX / 2, UINT64_MAX), 5000);
    assert_int_equal(gpumem__percent_whole(UINT64_MAX, UINT64_MAX), 100);
    /* No total: 0. Far above the total: the cap, never a wrapped figure. */
    assert_int_equal(gpumem__percent_hundredths(1, 0), 0);
    assert_int_equal(gpumem__percent_whole(UINT64_MAX, 0), 0);
    assert_int_equal(gpumem__percent_hundredths(1ull << 63, 1), GPUMEM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gpumem__percent_hundredths(UINT64_MAX, 1048576), GPUMEM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gpumem__percent_hundredths(9999995, 100000), GPUMEM_PERCENT_MAX_HUNDREDTHS);
    assert_int_equal(gpumem__percent_hundredths(9999994, 100000), 999999);
    assert_int_equal(gpumem__percent_hundredths(99999, 1000), 999990);
    assert_int_equal(gpumem__percent_whole(1ull << 63, 1), GPUMEM_PERCENT_MAX_HUNDREDTHS / 100);
    gpumem__format_percent(buf, sizeof buf, 1ull << 63, 1);
    assert_string_equal(buf, "9999.99");
    gpumem__format_percent(buf, sizeof buf, 0, 16 * GIB);
    assert_string_equal(buf, "0.00");
    gpumem__format_percent(buf, sizeof buf, 29 * GIB / 2, 16 * GIB);
    assert_string_equal(buf, "90.62");
    gpumem__format_percent(buf, sizeof buf, 16 * GIB, 16 * GIB);
    assert_string_equal(buf, "100.00");
}

static void seconds_have_three_decimals_and_a_sign(void **state)
{
    (void)state;
    char buf[32];
    gpumem__format_seconds(buf, sizeof buf, 1000000000ull, 4234000000ull);
    assert_string_equal(buf, "3.234");
    gpumem__format_seconds(buf, sizeof buf, 0, 1500000);
    assert_string_equal(buf, "0.002");
    gpumem__format_seconds(buf, sizeof buf, 1800000000000000000ull, 1800000000000000000ull);
    assert_string_equal(buf, "0.000");
    gpumem__format_seconds(buf, sizeof buf, 2000, 1000);
    assert_string_equal(buf, "-0.000");
    gpumem__format_seconds(buf, sizeof buf, 5000000000ull, 1000000000ull);
    assert_string_equal(buf, "-4.000");
}

static char *json_of(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    gpumem__json_string(f, s);
    fclose(f);
    return out;
}

static void json_strings_are_valid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        /* Valid UTF-8 passes as it is, the bounds of each range included. */
        { "plain \xc3\xa9 \xf0\x9f\x98\x80", "\"plain \xc3\xa9 \xf0\x9f\x98\x80\"" },
        { "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
          "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"" },
        { "q\"b\\n\nt\tc\x01\x1f\x7f", "\"q\\\"b\\\\n\\nt\\u0009c\\u0001\\u001f\x7f\"" },
        /* Surrogates: ED A0..BF is never well formed, so three replacements. */
        { "s\xed\xa0\x80s\xed\xbf\xbf", "\"s\\ufffd\\ufffd\\ufffds\\ufffd\\ufffd\\ufffd\"" },
        /* Overlong forms of '/', in two, three and four bytes. */
        { "\xc0\xaf|\xc1\xbf|\xe0\x80\xaf|\xf0\x80\x80\xaf",
          "\"\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\"" },
        /* Beyond U+10FFFF, and lead bytes that no UTF-8 has. */
        { "\xf4\x90\x80\x80|\xf5\x80|\xf8\x88\x80\x80\x80|\xff",
          "\"\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffd\"" },
        /* Stray continuation bytes. */
        { "\x80\xbf", "\"\\ufffd\\ufffd\"" },
        /* Cut short: one replacement for the whole beginning, then go on. */
        { "\xe2\x82x|\xf0\x9f\x98 |\xe2\x82\xe2\x82\xac", "\"\\ufffdx|\\ufffd |\\ufffd\xe2\x82\xac\"" },
        { "end\xf0\x9f\x98", "\"end\\ufffd\"" },
        { "end\xc3", "\"end\\ufffd\"" },
        { "", "\"\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = json_of(cases[i].in);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_read_as_printf_wrote_them),
        cmocka_unit_test(percentages_are_exact_and_clamped),
        cmocka_unit_test(seconds_have_three_decimals_and_a_sign),
        cmocka_unit_test(json_strings_are_valid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
