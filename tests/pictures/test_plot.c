/*
 * test_plot - sparklines and bars on fixed inputs (UTF-8 and ASCII), the
 * series' cells of the last minute, and the SVG and trace renderers on
 * synthetic series: escaping, simplification, size.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pictures.h"
#include "sparkline.h"
#include "synth.h"

static void sparkline_utf8_and_ascii_on_fixed_inputs(void **state)
{
    (void)state;
    uint64_t v[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
    char buf[64];
    assert_int_equal(gpumem__sparkline(buf, sizeof buf, v, 8, 7, 1), strlen("▁▂▃▄▅▆▇█"));
    assert_string_equal(buf, "▁▂▃▄▅▆▇█");
    gpumem__sparkline(buf, sizeof buf, v, 8, 7, 0);
    assert_string_equal(buf, "_.-:=+*#");
    /* top 0: the largest value is the top; above top saturates. */
    uint64_t w[] = { 10, 20, 40, 40, 0 };
    gpumem__sparkline(buf, sizeof buf, w, 5, 0, 1);
    assert_string_equal(buf, "▂▄██▁");
    uint64_t big[] = { UINT64_MAX, UINT64_MAX / 2, 0 };
    gpumem__sparkline(buf, sizeof buf, big, 3, 0, 0);
    assert_string_equal(buf, "#:_");
    /* Cut between cells, never inside a glyph. */
    assert_int_equal(gpumem__sparkline(buf, 8, v, 8, 7, 1), 6);
    assert_string_equal(buf, "▁▂");
    assert_int_equal(gpumem__sparkline(buf, sizeof buf, v, 0, 0, 1), 0);
    assert_string_equal(buf, "");
}

static void bar_marks_eighty_and_ninety_percent(void **state)
{
    (void)state;
    char buf[128];
    uint64_t g = UINT64_C(1) << 30;
    /* 84 % of 20 cells: 16 full, the 17th to 6/8; marks before cells 16 and 18. */
    gpumem__bar(buf, sizeof buf, (uint64_t)(13.44 * (double)g), 16 * g, 20, 80, 90, 1);
    assert_string_equal(buf, "[████████████████|▊·|··]");
    gpumem__bar(buf, sizeof buf, (uint64_t)(13.44 * (double)g), 16 * g, 20, 80, 90, 0);
    assert_string_equal(buf, "[################|#.|..]");
    gpumem__bar(buf, sizeof buf, 0, 16 * g, 20, 80, 90, 0);
    assert_string_equal(buf, "[................|..|..]");
    gpumem__bar(buf, sizeof buf, 20 * g, 16 * g, 20, 80, 90, 0); /* above total: full */
    assert_string_equal(buf, "[################|##|##]");
    gpumem__bar(buf, sizeof buf, 5, 0, 10, 80, 90, 0); /* no total known: empty */
    assert_string_equal(buf, "[........|.|.]");
}

static void glyphs_to_ascii_rewrites_every_glyph(void **state)
{
    (void)state;
    char s[] = "⚠ cuda:0 [██▌·|·] ▁▄█ plain";
    gpumem__glyphs_to_ascii(s);
    assert_string_equal(s, "! cuda:0 [###.|.] _:# plain");
}

static void columns_count_characters_not_bytes(void **state)
{
    (void)state;
    assert_int_equal(gpumem__columns_bytes("abc", 2), 2);
    assert_int_equal(gpumem__columns_bytes("⚠ [██]", 4), strlen("⚠ [█"));
    assert_int_equal(gpumem__columns_bytes("⚠", 10), strlen("⚠"));
    assert_int_equal(gpumem__columns_bytes("", 10), 0);
}

static void cells_of_the_last_minute_take_the_highest_and_carry(void **state)
{
    (void)state;
    struct gpumem_series s;
    synth_series(&s, 1, 0, "x cuda:0", 0, SYNTH_T0, 120);
    for (size_t i = 0; i < 120; i++) synth_set(&s, i, i, i);
    synth_set(&s, 100, 1000, 100);
    uint64_t cells[6];
    /* The last minute in six slices of ten buckets: the highest of each. */
    gpumem__series_cells(&s, SYNTH_T0 + 120 * SYNTH_SEC, 60 * SYNTH_SEC, cells, 6);
    assert_int_equal(cells[0], 69);
    assert_int_equal(cells[4], 1000);
    assert_int_equal(cells[5], 119);
    /* A window past the last bucket carries its last value. */
    gpumem__series_cells(&s, SYNTH_T0 + 600 * SYNTH_SEC, 60 * SYNTH_SEC, cells, 6);
    for (int c = 0; c < 6; c++) assert_int_equal(cells[c], 119);
    synth_free(&s, 1);
}

static char *render(int svg, const struct gpumem_series *s, size_t n, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    assert_int_equal(svg ? gpumem__plot_svg(f, s, n) : gpumem__trace_json(f, s, n), 0);
    fclose(f);
    return text;
}

static size_t occurrences(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

static void plot_escapes_labels_and_names(void **state)
{
    (void)state;
    struct gpumem_series s;
    synth_series(&s, 7, 0, "pid 7 a<b>&\"c'\x01\xff cuda:0", 8 * SYNTH_GB, SYNTH_T0, 10);
    strcpy(s.name, "GPU <&>");
    size_t len;
    char *svg = render(1, &s, 1, &len);
    assert_non_null(strstr(svg, "pid 7 a&lt;b&gt;&amp;&quot;c&#39;\xef\xbf\xbd\xef\xbf\xbd, peak 0.0GB"));
    assert_non_null(strstr(svg, "GPU &lt;&amp;&gt;"));
    assert_null(strstr(svg, "<b>"));
    assert_null(strstr(svg, "\x01"));
    assert_null(strstr(svg, "<script"));
    free(svg);
    synth_free(&s, 1);
}

/* The d attribute of the first series' path. */
static void path_of(char *path, size_t size, const char *svg)
{
    const char *d = strstr(svg, "stroke-linejoin=\"round\" d=\"");
    assert_non_null(d);
    d += strlen("stroke-linejoin=\"round\" d=\"");
    snprintf(path, size, "%.*s", (int)strcspn(d, "\""), d);
}

static void plot_writes_a_step_only_where_the_value_changes(void **state)
{
    (void)state;
    struct gpumem_series s;
    synth_series(&s, 7, 0, "pid 7 flat cuda:0", 16 * SYNTH_GB, SYNTH_T0, 3600);
    for (size_t i = 0; i < 3600; i++) synth_set(&s, i, 4 * SYNTH_GB, 4 * SYNTH_GB);
    size_t len;
    char *svg = render(1, &s, 1, &len);
    /* An hour at one value: "M x y" and the end "H x", nothing between. */
    char path[128];
    path_of(path, sizeof path, svg);
    assert_int_equal(occurrences(path, "M"), 1);
    assert_int_equal(occurrences(path, "V"), 0);
    assert_int_equal(occurrences(path, "H"), 1);
    /* One change in the middle: one step. */
    for (size_t i = 1800; i < 3600; i++) synth_set(&s, i, 12 * SYNTH_GB, 12 * SYNTH_GB);
    free(svg);
    svg = render(1, &s, 1, &len);
    path_of(path, sizeof path, svg);
    assert_int_equal(occurrences(path, "V"), 1);
    assert_int_equal(occurrences(path, "H"), 2);
    free(svg);
    synth_free(&s, 1);
}

static void plot_of_eight_devices_for_an_hour_stays_small(void **state)
{
    (void)state;
    struct gpumem_series s[8];
    uint64_t x = 1;
    for (int d = 0; d < 8; d++) {
        char label[32];
        snprintf(label, sizeof label, "pid 9 job cuda:%d", d);
        synth_series(&s[d], 9, d, label, 80 * SYNTH_GB, SYNTH_T0, 3600);
        for (size_t i = 0; i < 3600; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            synth_set(&s[d], i, (x >> 20) % (80 * SYNTH_GB), 0);
        }
    }
    size_t len;
    char *svg = render(1, s, 8, &len);
    assert_int_equal(occurrences(svg, "<path fill=\"none\""), 8);
    assert_int_equal(occurrences(svg, ">cuda:"), 8); /* a titled panel per device */
    /* Random values every second: at most one step per pixel column. */
    assert_true(len < 8 * 800 * 16 + 40000);
    free(svg);
    synth_free(s, 8);
}

static void trace_counts_points_per_change_and_escapes(void **state)
{
    (void)state;
    struct gpumem_series s;
    synth_series(&s, 7, 3, "pid 7 \"quoted\"\\ cuda:3", 8 * SYNTH_GB, SYNTH_T0, 100);
    for (size_t i = 0; i < 100; i++) synth_set(&s, i, (i / 10) * SYNTH_GB, (i / 10) * SYNTH_GB);
    size_t len;
    char *json = render(0, &s, 1, &len);
    assert_int_equal(occurrences(json, "\"ph\": \"C\""), 10);
    assert_non_null(strstr(json, "\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 7"));
    assert_non_null(strstr(json, "\"name\": \"pid 7 \\\"quoted\\\"\\\\\""));
    assert_non_null(strstr(json, "\"name\": \"cuda:3 reserved\", \"ph\": \"C\", \"pid\": 7, \"tid\": 0, \"ts\": "
                                 "1795723200000000, \"args\": {\"bytes\": 0}"));
    assert_non_null(strstr(json, "\"displayTimeUnit\": \"ms\""));
    free(json);
    synth_free(&s, 1);
}

static void live_events_are_read_from_the_ring_oldest_first(void **state)
{
    (void)state;
    static struct gpumem_shm_segment seg;
    memset(&seg, 0, sizeof seg);
    gpumem__segment_header_fill(&seg.header, &(struct gpumem_header_values){ .pid = 42 });
    seg.header.magic = GPUMEM_SHM_MAGIC;
    /* A lap and a half: events 0..1535 were claimed; 1024..1535 are in the
     * ring, 1500 is being rewritten (seq 0) and is left out. */
    uint64_t head = GPUMEM_SHM_EVENT_SLOTS + 512;
    for (uint64_t j = 0; j < head; j++) {
        struct gpumem_shm_event *e = &seg.events[j % GPUMEM_SHM_EVENT_SLOTS];
        e->seq = j == 1500 ? 0 : j + 1;
        e->unix_ns = 1000 + j;
        e->bytes = j;
        e->device = (int16_t)(j % 2);
        e->op = 1;
    }
    seg.header.events_head = head;
    static struct gpumem_event out[GPUMEM_SHM_EVENT_SLOTS];
    size_t n = gpumem__segment_events(&seg, &seg, sizeof seg, out, GPUMEM_SHM_EVENT_SLOTS);
    assert_int_equal(n, GPUMEM_SHM_EVENT_SLOTS - 1);
    assert_int_equal(out[0].bytes, head - GPUMEM_SHM_EVENT_SLOTS);
    assert_int_equal(out[n - 1].bytes, head - 1);
    for (size_t i = 1; i < n; i++) assert_true(out[i].unix_ns > out[i - 1].unix_ns && out[i].bytes != 1500);
    /* A ring said to lie beyond the copy is not read. */
    seg.header.events_offset = sizeof seg;
    assert_int_equal(gpumem__segment_events(&seg, NULL, sizeof seg, out, GPUMEM_SHM_EVENT_SLOTS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sparkline_utf8_and_ascii_on_fixed_inputs),
        cmocka_unit_test(bar_marks_eighty_and_ninety_percent),
        cmocka_unit_test(glyphs_to_ascii_rewrites_every_glyph),
        cmocka_unit_test(columns_count_characters_not_bytes),
        cmocka_unit_test(cells_of_the_last_minute_take_the_highest_and_carry),
        cmocka_unit_test(plot_escapes_labels_and_names),
        cmocka_unit_test(plot_writes_a_step_only_where_the_value_changes),
        cmocka_unit_test(plot_of_eight_devices_for_an_hour_stays_small),
        cmocka_unit_test(trace_counts_points_per_change_and_escapes),
        cmocka_unit_test(live_events_are_read_from_the_ring_oldest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
