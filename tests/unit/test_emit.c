/* The emitter of common/emit.c: one rendering driven in each format with a
 * fixed expected output per format, the escapes of each format, printf's
 * conversions as the C library writes them, a JSON string written in pieces,
 * buffers cut as snprintf cuts them, misuse reported, and the same bytes
 * under de_DE.UTF-8 as under C. */
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "emit.h"
#include "format.h"

#define CMD "python \"train.py\", --lr 1e-3"
#define ODD "python \"train.py\"\n\t\xc3\xa9\xff" /* a quote, a newline, a tab, é, a stray byte */

/* One rendering that speaks every format; each format writes its part. */
static void render(struct gpumem_emitter *e)
{
    static const uint64_t reserved[] = { 5368709120ull, 15032385536ull };
    static const char *const percent[] = { "31.25", "87.50" };
    char device[16];

    gpumem__emitter_object_begin(e, NULL);
    gpumem__emitter_int(e, "schema", 1);
    gpumem__emitter_string(e, "command", ODD);
    gpumem__emitter_newline(e, 1);
    gpumem__emitter_array_begin(e, "devices");
    for (int d = 0; d < 2; d++) {
        gpumem__emitter_newline(e, 2);
        gpumem__emitter_object_begin(e, NULL);
        gpumem__emitter_int(e, "device_id", d);
        gpumem__emitter_uint(e, "reserved_bytes", reserved[d]);
        gpumem__emitter_number(e, "percent", percent[d]);
        gpumem__emitter_bool(e, "critical", d == 1);
        gpumem__emitter_null(e, "peak");
        gpumem__emitter_object_end(e);
    }
    gpumem__emitter_array_end(e);
    gpumem__emitter_object_end(e);

    gpumem__emitter_printf(e, "%d devices, %s %%\n", 2, "59.37");
    gpumem__emitter_row_begin(e);
    gpumem__emitter_cell(e, -8, "DEVICE");
    gpumem__emitter_cell(e, 14, "RESERVED");
    gpumem__emitter_cell(e, -7, "PERCENT");
    gpumem__emitter_cell(e, 0, "COMMAND");
    gpumem__emitter_row_end(e);
    for (int d = 0; d < 2; d++) {
        gpumem__emitter_snprintf(device, sizeof device, "cuda:%d", d);
        gpumem__emitter_row_begin(e);
        gpumem__emitter_cell(e, -8, device);
        gpumem__emitter_cell_uint(e, 14, reserved[d]);
        gpumem__emitter_cell(e, -7, percent[d]);
        gpumem__emitter_cell(e, 0, CMD);
        gpumem__emitter_row_end(e);
    }

    gpumem__emitter_metric(e, "gpumem_reserved_bytes", "gauge",
                           "Device memory reserved, in bytes (\\ and \n escaped).");
    for (int d = 0; d < 2; d++) {
        gpumem__emitter_snprintf(device, sizeof device, "cuda:%d", d);
        gpumem__emitter_sample_begin(e, "gpumem_reserved_bytes");
        gpumem__emitter_label(e, "device", device);
        gpumem__emitter_label(e, "command", ODD);
        gpumem__emitter_sample_uint(e, reserved[d]);
    }
    gpumem__emitter_metric(e, "gpumem_percent", "gauge", NULL);
    gpumem__emitter_sample_begin(e, "gpumem_percent");
    gpumem__emitter_sample_number(e, percent[0]);
}

static const char *const expected[] = {
    [GPUMEM_EMIT_TEXT] = "2 devices, 59.37 %\n"
                         "DEVICE         RESERVED PERCENT COMMAND\n"
                         "cuda:0       5368709120 31.25   " CMD "\n"
                         "cuda:1      15032385536 87.50   " CMD "\n",
    [GPUMEM_EMIT_JSON] =
        "{\"schema\": 1, \"command\": \"python \\\"train.py\\\"\\n\\u0009\xc3\xa9\\ufffd\",\n"
        " \"devices\": [\n"
        "  {\"device_id\": 0, \"reserved_bytes\": 5368709120, \"percent\": 31.25, \"critical\": false, "
        "\"peak\": null},\n"
        "  {\"device_id\": 1, \"reserved_bytes\": 15032385536, \"percent\": 87.50, \"critical\": true, "
        "\"peak\": null}]}\n",
    [GPUMEM_EMIT_PROMETHEUS] =
        "# HELP gpumem_reserved_bytes Device memory reserved, in bytes (\\\\ and \\n escaped).\n"
        "# TYPE gpumem_reserved_bytes gauge\n"
        "gpumem_reserved_bytes{device=\"cuda:0\",command=\"python \\\"train.py\\\"\\n\t\xc3\xa9\xef\xbf\xbd\"} "
        "5368709120\n"
        "gpumem_reserved_bytes{device=\"cuda:1\",command=\"python \\\"train.py\\\"\\n\t\xc3\xa9\xef\xbf\xbd\"} "
        "15032385536\n"
        "# TYPE gpumem_percent gauge\n"
        "gpumem_percent 31.25\n",
    [GPUMEM_EMIT_CSV] = "DEVICE,RESERVED,PERCENT,COMMAND\r\n"
                        "cuda:0,5368709120,31.25,\"python \"\"train.py\"\", --lr 1e-3\"\r\n"
                        "cuda:1,15032385536,87.50,\"python \"\"train.py\"\", --lr 1e-3\"\r\n",
};

static const char *const format_names[] = { "text", "json", "prometheus", "csv" };

/* The rendering in format f, into buf; asserts it went through. */
static void render_into(char *buf, size_t size, enum gpumem_emit_format f)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, f, buf, size);
    render(&e);
    assert_int_equal(gpumem__emitter_finish(&e), 0);
    assert_int_equal(e.length, strlen(buf));
}

static void one_rendering_gives_each_format(void **state)
{
    (void)state;
    char buf[4096];
    for (int f = GPUMEM_EMIT_TEXT; f <= GPUMEM_EMIT_CSV; f++) {
        render_into(buf, sizeof buf, (enum gpumem_emit_format)f);
        if (strcmp(buf, expected[f]) != 0) print_error("format %s:\n%s\n", format_names[f], buf);
        assert_string_equal(buf, expected[f]);
    }
    /* The same to a stream. */
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    assert_non_null(m);
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_JSON, m);
    render(&e);
    assert_int_equal(gpumem__emitter_finish(&e), 0);
    fclose(m);
    assert_string_equal(out, expected[GPUMEM_EMIT_JSON]);
    free(out);
}

static void csv_fields_are_quoted_as_rfc4180_asks(void **state)
{
    (void)state;
    char buf[512];
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_CSV, buf, sizeof buf);
    gpumem__emitter_row_begin(&e);
    gpumem__emitter_cell(&e, 8, "plain");
    gpumem__emitter_cell(&e, 0, "a,b");
    gpumem__emitter_cell(&e, 0, "say \"hi\"");
    gpumem__emitter_cell(&e, 0, "two\nlines");
    gpumem__emitter_cell(&e, 0, "cr\rhere");
    gpumem__emitter_cell(&e, 0, "");
    gpumem__emitter_cell(&e, 0, " spaced ");
    gpumem__emitter_cell(&e, 0, "bad \xc0\xaf utf-8 \xe2\x82");
    gpumem__emitter_cell_int(&e, -5, INT64_MIN);
    gpumem__emitter_row_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), 0);
    assert_string_equal(buf, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\rhere\",, spaced ,"
                             "bad \xef\xbf\xbd\xef\xbf\xbd utf-8 \xef\xbf\xbd,-9223372036854775808\r\n");
}

static void prometheus_labels_and_names_are_escaped(void **state)
{
    (void)state;
    char buf[512];
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_PROMETHEUS, buf, sizeof buf);
    gpumem__emitter_metric(&e, "gpumem_oom_count", "counter", "Out-of-memory failures\\ \"so far\"\n.");
    gpumem__emitter_sample_begin(&e, "gpumem_oom_count");
    gpumem__emitter_label(&e, "path", "C:\\data\\\"x\"\nnext\rend");
    gpumem__emitter_sample_int(&e, -3);
    gpumem__emitter_sample_begin(&e, "9bad-name.x:y");
    gpumem__emitter_label(&e, "0dev:ice", "\xed\xa0\x80");
    gpumem__emitter_sample_number(&e, "1e-3");
    assert_int_equal(gpumem__emitter_finish(&e), 0);
    assert_string_equal(buf, "# HELP gpumem_oom_count Out-of-memory failures\\\\ \"so far\"\\n.\n"
                             "# TYPE gpumem_oom_count counter\n"
                             "gpumem_oom_count{path=\"C:\\\\data\\\\\\\"x\\\"\\nnext\rend\"} -3\n"
                             "_bad_name_x:y{_dev_ice=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} 1e-3\n");
    /* What is not a number, an unknown type, a label outside a sample. */
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_PROMETHEUS, buf, sizeof buf);
    gpumem__emitter_metric(&e, "m", "gauge", NULL);
    gpumem__emitter_sample_begin(&e, "m");
    gpumem__emitter_sample_number(&e, "1,5");
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    assert_string_equal(buf, "# TYPE m gauge\nm NaN\n");
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_PROMETHEUS, buf, sizeof buf);
    gpumem__emitter_metric(&e, "m", "gauges", NULL);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    assert_string_equal(buf, "# TYPE m untyped\n");
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_PROMETHEUS, buf, sizeof buf);
    gpumem__emitter_label(&e, "a", "b");
    assert_int_equal(gpumem__emitter_finish(&e), -1);
}

static void json_misuse_is_reported(void **state)
{
    (void)state;
    char buf[256];
    struct gpumem_emitter e;
    /* A container left open. */
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_array_begin(&e, "a");
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    /* A key inside an array, none inside an object, the wrong end. */
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    gpumem__emitter_array_begin(&e, NULL);
    gpumem__emitter_uint(&e, "k", 1);
    gpumem__emitter_array_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_uint(&e, NULL, 1);
    gpumem__emitter_object_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    gpumem__emitter_object_begin(&e, NULL);
    gpumem__emitter_array_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    /* Not a JSON number: null. */
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    gpumem__emitter_array_begin(&e, NULL);
    gpumem__emitter_number(&e, NULL, "18,75");
    gpumem__emitter_number(&e, NULL, "-0.5e+3");
    gpumem__emitter_number(&e, NULL, "01");
    gpumem__emitter_string(&e, NULL, NULL);
    gpumem__emitter_array_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    assert_string_equal(buf, "[null, -0.5e+3, null, null]\n");
    /* Deeper than GPUMEM_EMIT_MAX_DEPTH. */
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, buf, sizeof buf);
    for (int i = 0; i <= GPUMEM_EMIT_MAX_DEPTH; i++) gpumem__emitter_array_begin(&e, NULL);
    for (int i = 0; i <= GPUMEM_EMIT_MAX_DEPTH; i++) gpumem__emitter_array_end(&e);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
}

/* ---- a JSON string in pieces ------------------------------------------------- */

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void json_string_in_pieces_is_the_whole_string(void **state)
{
    (void)state;
    static const char *const parts[] = { "a",
                                         " ",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\t",
                                         "\x01",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xed\xa0\x80",
                                         "\xc0\xaf",
                                         "\xe2\x82",
                                         "\xf0\x9f\x98",
                                         "\x80",
                                         "\xbf",
                                         "\xff",
                                         "\xf4\x90\x80\x80",
                                         "\xe0",
                                         "\xf0" };
    uint64_t x = 88172645463325252ull;
    static char text[256], whole[2048], pieces[2048];
    for (int round = 0; round < 20000; round++) {
        size_t n = 0, want = next_random(&x) % 24;
        for (size_t i = 0; i < want; i++) {
            const char *p = parts[next_random(&x) % (sizeof parts / sizeof parts[0])];
            memcpy(text + n, p, strlen(p));
            n += strlen(p);
        }
        text[n] = '\0';

        struct gpumem_emitter a, b, t;
        gpumem__emitter_init_buffer(&a, GPUMEM_EMIT_JSON, whole, sizeof whole);
        gpumem__emitter_string(&a, NULL, text);
        assert_int_equal(gpumem__emitter_finish(&a), 0);

        /* The same bytes, cut anywhere, even inside a UTF-8 sequence. */
        gpumem__emitter_init_buffer(&b, GPUMEM_EMIT_JSON, pieces, sizeof pieces);
        gpumem__emitter_string_begin(&b, NULL);
        gpumem__emitter_init_string(&t, &b);
        for (size_t at = 0; at < n;) {
            size_t k = 1 + next_random(&x) % 4;
            if (k > n - at) k = n - at;
            char piece[8];
            memcpy(piece, text + at, k);
            piece[k] = '\0';
            gpumem__emitter_printf(&t, "%s", piece);
            at += k;
        }
        gpumem__emitter_string_end(&b);
        assert_int_equal(gpumem__emitter_finish(&t), 0);
        assert_int_equal(gpumem__emitter_finish(&b), 0);
        assert_string_equal(pieces, whole);

        /* And gpumem__json_string writes it too. */
        char *out = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&out, &len);
        assert_non_null(m);
        gpumem__json_string(m, text);
        fputc('\n', m);
        fclose(m);
        assert_string_equal(out, whole);
        free(out);
    }
    /* Cut at the very end: one replacement for the beginning left. */
    struct gpumem_emitter b, t;
    gpumem__emitter_init_buffer(&b, GPUMEM_EMIT_JSON, pieces, sizeof pieces);
    gpumem__emitter_string_begin(&b, NULL);
    gpumem__emitter_init_string(&t, &b);
    gpumem__emitter_text(&t, "ok \xe2\x82");
    gpumem__emitter_text(&t, "\xac \xf0\x9f");
    gpumem__emitter_text(&t, "\x98");
    gpumem__emitter_string_end(&b);
    assert_int_equal(gpumem__emitter_finish(&b), 0);
    assert_string_equal(pieces, "\"ok \xe2\x82\xac \\ufffd\"\n");
    /* Text into a string that is not open. */
    gpumem__emitter_init_buffer(&b, GPUMEM_EMIT_JSON, pieces, sizeof pieces);
    gpumem__emitter_init_string(&t, &b);
    gpumem__emitter_text(&t, "x");
    assert_int_equal(gpumem__emitter_finish(&b), -1);
}

/* ---- printf's conversions ------------------------------------------------------ */

#define SAME_AS_PRINTF(...)                                                   \
    do {                                                                      \
        char got_[256], want_[256];                                           \
        size_t n_ = gpumem__emitter_snprintf(got_, sizeof got_, __VA_ARGS__); \
        int w_ = snprintf(want_, sizeof want_, __VA_ARGS__);                  \
        assert_string_equal(got_, want_);                                     \
        assert_int_equal(n_, (size_t)w_);                                     \
    } while (0)

static void printf_conversions_are_the_c_librarys(void **state)
{
    (void)state;
    static const char *const int_formats[] = { "%d",      "%i",   "%5d",   "%-5d|", "%05d",   "%.3d",   "%8.3d",
                                               "%-8.3d|", "%.0d", "%3.0d", "%u",    "%12u",   "%-12u|", "%x",
                                               "%X",      "%08x", "%.5x",  "%-6x|", "%0-6d|", "%1d" };
    static const int ints[] = { 0, 1, -1, 7, 42, -42, 99999, -100000, INT_MAX, INT_MIN };
    for (size_t f = 0; f < sizeof int_formats / sizeof int_formats[0]; f++)
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) SAME_AS_PRINTF(int_formats[f], ints[i]);

    static const long long lls[] = { 0, 1, -1, LLONG_MAX, LLONG_MIN, 1234567890123ll };
    for (size_t i = 0; i < sizeof lls / sizeof lls[0]; i++) {
        SAME_AS_PRINTF("%lld|%20lld|%-20lld|%llu|%llx|%llX|%024llu", lls[i], lls[i], lls[i], (unsigned long long)lls[i],
                       (unsigned long long)lls[i], (unsigned long long)lls[i], (unsigned long long)lls[i]);
        SAME_AS_PRINTF("%ld|%lu|%lx", (long)lls[i], (unsigned long)lls[i], (unsigned long)lls[i]);
        SAME_AS_PRINTF("%zu|%2zu|%zx|%zd", (size_t)lls[i], (size_t)lls[i], (size_t)lls[i], (ssize_t)lls[i]);
        SAME_AS_PRINTF("%jd|%ju|%td", (intmax_t)lls[i], (uintmax_t)lls[i], (ptrdiff_t)lls[i]);
        SAME_AS_PRINTF("%hd|%hu|%hhd|%hhu|%hx", (short)lls[i], (unsigned short)lls[i], (signed char)lls[i],
                       (unsigned char)lls[i], (unsigned short)lls[i]);
    }
    static const char *const strs[] = { "", "a", "cuda:0", "⚠ crafted GPU 0", "a string longer than widths" };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        SAME_AS_PRINTF("[%s][%10s][%-10s][%.3s][%-10.3s][%.0s][%12.40s]", strs[i], strs[i], strs[i], strs[i], strs[i],
                       strs[i], strs[i]);
        SAME_AS_PRINTF("[%*s][%-*s][%*s][%.*s][%.*s]", 9, strs[i], 9, strs[i], -9, strs[i], 2, strs[i], -1, strs[i]);
        SAME_AS_PRINTF("[%*d][%.*d]", -6, (int)i, 4, (int)i);
    }
    SAME_AS_PRINTF("%c|%3c|%-3c|%%|100%%", 'x', 'y', 'z');
    SAME_AS_PRINTF("no conversion at all");
    SAME_AS_PRINTF("%s", "");
}

static void printf_refuses_floating_point(void **state)
{
    (void)state;
    char buf[64];
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_TEXT, buf, sizeof buf);
    gpumem__emitter_printf(&e, "x=%d y=%f z=%d", 1, 2.5, 3);
    assert_string_equal(buf, "x=1 y=");
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_TEXT, buf, sizeof buf);
    gpumem__emitter_printf(&e, "%g", 2.5);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_TEXT, buf, sizeof buf);
    gpumem__emitter_printf(&e, "%+d", 2);
    assert_int_equal(gpumem__emitter_finish(&e), -1);
}

/* The C library's snprintf cut short on purpose, as the reference. */
#pragma GCC diagnostic push
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
static void buffers_are_cut_as_snprintf_cuts(void **state)
{
    (void)state;
    char got[8], want[8];
    for (size_t size = 0; size <= sizeof got; size++) {
        memset(got, 'X', sizeof got);
        memset(want, 'X', sizeof want);
        size_t n = gpumem__emitter_snprintf(got, size, "%s-%d", "abcdef", 12345);
        int w = snprintf(want, size, "%s-%d", "abcdef", 12345);
        assert_int_equal(n, (size_t)w);
        assert_memory_equal(got, want, sizeof got);
    }
    /* A cut buffer fails the emitter, and still ends in a NUL. */
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_JSON, got, sizeof got);
    gpumem__emitter_string(&e, NULL, "0123456789");
    assert_int_equal(gpumem__emitter_finish(&e), -1);
    assert_string_equal(got, "\"012345");
    assert_int_equal(e.length, 13);
    assert_int_equal(gpumem__emitter_snprintf(NULL, 0, "%u", 123456u), 6);
}
#pragma GCC diagnostic pop

/* ---- the locale ------------------------------------------------------------------ */

static void same_bytes_in_de_DE_as_in_C(void **state)
{
    (void)state;
    static char c_locale[4][4096], de[4096];
    char c_figures[128], de_figures[128], a[32], b[32], c[32], d[32], t[64];
#define FIGURES(out)                                                                            \
    do {                                                                                        \
        gpumem__format_percent(a, sizeof a, 29ull << 29, 16ull << 30);                          \
        gpumem__format_size(b, sizeof b, 3ull << 29);                                           \
        gpumem__format_gb(c, sizeof c, 13ull << 30);                                            \
        gpumem__format_seconds(d, sizeof d, 1000000000ull, 4234000000ull);                      \
        gpumem__format_utc(t, sizeof t, 1800000000123456789ull);                                \
        gpumem__emitter_snprintf(out, sizeof out, "%s|%s|%s|%s|%s|%d", a, b, c, d, t, 1234567); \
    } while (0)
    setlocale(LC_ALL, "C");
    for (int f = GPUMEM_EMIT_TEXT; f <= GPUMEM_EMIT_CSV; f++)
        render_into(c_locale[f], sizeof c_locale[f], (enum gpumem_emit_format)f);
    FIGURES(c_figures);
    if (!setlocale(LC_ALL, "de_DE.UTF-8") && !setlocale(LC_ALL, "de_DE.utf8")) {
        print_message("no de_DE.UTF-8 locale here (locale -a; CI installs one): skipped\n");
        skip();
    }
    /* The locale took: printf's own conversion writes a decimal comma. */
    char comma[16];
    snprintf(comma, sizeof comma, "%.2f", 18.75);
    assert_string_equal(comma, "18,75");
    for (int f = GPUMEM_EMIT_TEXT; f <= GPUMEM_EMIT_CSV; f++) {
        render_into(de, sizeof de, (enum gpumem_emit_format)f);
        assert_string_equal(de, c_locale[f]);
        assert_string_equal(de, expected[f]);
    }
    FIGURES(de_figures);
    setlocale(LC_ALL, "C");
    assert_string_equal(de_figures, c_figures);
#undef FIGURES
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_rendering_gives_each_format),
        cmocka_unit_test(csv_fields_are_quoted_as_rfc4180_asks),
        cmocka_unit_test(prometheus_labels_and_names_are_escaped),
        cmocka_unit_test(json_misuse_is_reported),
        cmocka_unit_test(json_string_in_pieces_is_the_whole_string),
        cmocka_unit_test(printf_conversions_are_the_c_librarys),
        cmocka_unit_test(printf_refuses_floating_point),
        cmocka_unit_test(buffers_are_cut_as_snprintf_cuts),
        cmocka_unit_test(same_bytes_in_de_DE_as_in_C),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
