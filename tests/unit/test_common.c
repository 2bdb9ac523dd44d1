/* The helpers of common/ that the shim and the reader must share, one place
 * each: the start time parsed from /proc/PID/stat, the segment-name prefix
 * rule, the header fill against the layout, the floor of a percentage of a
 * total, level names, and UTC times. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <cmocka.h>

#include "format.h"
#include "procfs.h"
#include "segment_read.h"

/* ---- /proc/PID/stat ------------------------------------------------------- */

/* A stat line as the kernel writes it: 52 fields, field k being k except
 * the command and field 22. */
static size_t stat_line(char *buf, size_t size, const char *comm, const char *start)
{
    size_t n = (size_t)snprintf(buf, size, "4242 (%s) S", comm);
    for (int k = 4; k <= 52; k++) {
        if (k == 22) n += (size_t)snprintf(buf + n, size - n, " %s", start);
        else n += (size_t)snprintf(buf + n, size - n, " %d", k);
    }
    n += (size_t)snprintf(buf + n, size - n, "\n");
    return n;
}

static uint64_t start_of(const char *comm, const char *start)
{
    char buf[1024];
    size_t n = stat_line(buf, sizeof buf, comm, start);
    return gpumem__proc_stat_start(buf, n);
}

static void stat_start_whatever_the_command(void **state)
{
    (void)state;
    static const char *const comms[] = { "python",
                                         "a b",
                                         ")",
                                         "x) (y",
                                         "((",
                                         ") S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19",
                                         "a\nb",
                                         "",
                                         "  ",
                                         "9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9",
                                         "\xc3\xa9)\xff" };
    for (size_t i = 0; i < sizeof comms / sizeof comms[0]; i++) {
        assert_int_equal(start_of(comms[i], "8675309"), 8675309);
        assert_int_equal(start_of(comms[i], "1"), 1);
    }
    assert_int_equal(start_of("x", "18446744073709551615"), UINT64_MAX);
    /* What cannot be parsed: 0. */
    assert_int_equal(start_of("x", "18446744073709551616"), 0); /* beyond 64 bits */
    assert_int_equal(start_of("x", "18446744073709551617"), 0);
    assert_int_equal(start_of("x", "99999999999999999999"), 0);
    assert_int_equal(start_of("x", "12a"), 0);
    assert_int_equal(start_of("x", ""), 0);
    assert_int_equal(start_of("x", "-5"), 0);
    assert_int_equal(gpumem__proc_stat_start("4242 x S 1 2 3", 14), 0); /* no ')' */
    assert_int_equal(gpumem__proc_stat_start(NULL, 0), 0);
    assert_int_equal(gpumem__proc_stat_start("", 0), 0);
    /* A start of 0 is told apart from a failure by the other form. */
    char buf[1024];
    uint64_t start = 99;
    size_t n = stat_line(buf, sizeof buf, "x", "0");
    assert_int_equal(gpumem__proc_stat_parse_start(buf, n, &start), 0);
    assert_int_equal(start, 0);
    n = stat_line(buf, sizeof buf, "x", "zz");
    assert_int_equal(gpumem__proc_stat_parse_start(buf, n, &start), -1);
}

static void stat_start_reads_only_its_buffer(void **state)
{
    (void)state;
    char buf[1024];
    size_t n = stat_line(buf, sizeof buf, "x", "777");
    /* Cut before field 22: nothing; cut right after it: its digits. */
    const char *f22 = strstr(buf, " 777 ");
    assert_non_null(f22);
    size_t at = (size_t)(f22 - buf);
    assert_int_equal(gpumem__proc_stat_start(buf, at), 0);
    assert_int_equal(gpumem__proc_stat_start(buf, at + 1), 0);
    assert_int_equal(gpumem__proc_stat_start(buf, at + 4), 777);
    /* No NUL at all, and a ')' after the end that must not be seen. */
    char *exact = malloc(n + 9);
    assert_non_null(exact);
    memcpy(exact, buf, n);
    memcpy(exact + n, ") 1 2 3 4", 9);
    assert_int_equal(gpumem__proc_stat_start(exact, n), 777);
    free(exact);
}

/* The parse before the command changes equals the parse after it becomes
 * hostile: the kernel's start time does not move. */
static void stat_start_of_this_process(void **state)
{
    (void)state;
    char buf[1024], name[17] = "", hostile[] = "a) 1 2 (b) 3";
    FILE *f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t before = gpumem__proc_stat_start(buf, n);
    assert_true(before > 0);
    prctl(PR_GET_NAME, name);
    assert_int_equal(prctl(PR_SET_NAME, hostile), 0);
    f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    prctl(PR_SET_NAME, name);
    assert_non_null(memmem(buf, n, "(a) 1 2 (b) 3)", 14));
    assert_int_equal(gpumem__proc_stat_start(buf, n), before);
}

/* ---- the segment's name and header ------------------------------------------- */

static void prefix_rule(void **state)
{
    (void)state;
    static const char *const good[] = {
        "gpumem", "a", "Z", "0", "_", "-", "gpumem-test_2", "abcdefghijklmnopqrstuvwxyz012345"
    };
    static const char *const bad[] = {
        "",       "abcdefghijklmnopqrstuvwxyz0123456", "a.b", "a/b", "a b", "..", "gpumem\n", "\xc3\xa9", "a:b", "a*",
        "/gpumem"
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(gpumem__prefix_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(gpumem__prefix_valid(bad[i]));
}

static void header_fill_follows_the_layout(void **state)
{
    (void)state;
    static struct gpumem_shm_segment seg;
    struct gpumem_shm_header *h = &seg.header;
    memset(&seg, 0xa5, sizeof seg);
    memset(h->hostname, 0, sizeof h->hostname);
    strcpy(h->hostname, "kept");
    struct gpumem_header_values v = { .pid = 4242,
                                      .start_time_ticks = 77,
                                      .created_unix_ns = 1800000000000000000ull,
                                      .warn_percent = 70,
                                      .alarm_percent = 95,
                                      .hysteresis_percent = 3,
                                      .command = "train.py --lr 1e-3" };
    gpumem__segment_header_fill(h, &v);
    assert_int_equal(h->layout_version, GPUMEM_SHM_LAYOUT_VERSION);
    assert_int_equal(h->header_size, sizeof(struct gpumem_shm_header));
    assert_int_equal(h->segment_size, sizeof(struct gpumem_shm_segment));
    assert_int_equal(h->device_slots, GPUMEM_SHM_DEVICE_SLOTS);
    assert_int_equal(h->device_stride, sizeof(struct gpumem_shm_device));
    assert_int_equal(h->devices_offset, offsetof(struct gpumem_shm_segment, devices));
    assert_int_equal(h->event_slots, GPUMEM_SHM_EVENT_SLOTS);
    assert_int_equal(h->event_stride, sizeof(struct gpumem_shm_event));
    assert_int_equal(h->events_offset, offsetof(struct gpumem_shm_segment, events));
    assert_int_equal(h->large_slots, GPUMEM_SHM_LARGE_SLOTS);
    assert_int_equal(h->large_stride, sizeof(struct gpumem_shm_large));
    assert_int_equal(h->large_offset, offsetof(struct gpumem_shm_segment, large));
    assert_int_equal(h->transition_slots, GPUMEM_SHM_TRANSITION_SLOTS);
    assert_int_equal(h->transition_stride, sizeof(struct gpumem_shm_transition));
    assert_int_equal(h->transitions_offset, offsetof(struct gpumem_shm_segment, transitions));
    assert_int_equal(h->oom_size, sizeof(struct gpumem_shm_oom));
    assert_int_equal(h->oom_offset, offsetof(struct gpumem_shm_segment, oom));
    assert_int_equal(h->pid, 4242);
    assert_int_equal(h->start_time_ticks, 77);
    assert_int_equal(h->created_unix_ns, 1800000000000000000ull);
    assert_int_equal(h->warn_percent, 70);
    assert_int_equal(h->alarm_percent, 95);
    assert_int_equal(h->hysteresis_percent, 3);
    assert_string_equal(h->shim_version, GPUMEM_VERSION_STRING);
    assert_string_equal(h->command, "train.py --lr 1e-3");
    assert_string_equal(h->hostname, "kept"); /* NULL: left as it was */
    /* magic and state publish the header: the writer stores them last. */
    assert_int_equal(h->magic, 0xa5a5a5a5a5a5a5a5ull);
    assert_int_equal(h->state, 0xa5a5a5a5u);

    /* And the reader takes what the fill wrote. */
    memset(&seg, 0, sizeof seg);
    gpumem__segment_header_fill(h, &v);
    h->state = GPUMEM_SHM_STATE_RUNNING;
    h->magic = GPUMEM_SHM_MAGIC;
    static struct gpumem_process p;
    char why[192] = "";
    assert_int_equal(gpumem__segment_parse(&seg, NULL, sizeof seg, &p, NULL, why, sizeof why), 0);
    assert_int_equal(p.pid, 4242);
    assert_int_equal(p.start_time_ticks, 77);
    assert_int_equal(p.warn_percent, 70);
    assert_string_equal(p.command, "train.py --lr 1e-3");
}

/* ---- figures and words ---------------------------------------------------------- */

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void percent_of_is_the_exact_floor(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 1000000; i++) {
        uint64_t total = next_random(&x) >> (next_random(&x) % 64);
        unsigned percent = i % 3 ? (unsigned)(next_random(&x) % 101) : (unsigned)next_random(&x);
        if (i < 200) total = (uint64_t)i, percent = (unsigned)(i % 101);
        unsigned __int128 want = (unsigned __int128)total * percent;
        int exact = -1;
        uint64_t got = gpumem__percent_of(total, percent, &exact);
        if (want / 100 > UINT64_MAX) {
            assert_int_equal(got, UINT64_MAX);
            assert_int_equal(exact, 0);
        } else {
            assert_int_equal(got, (uint64_t)(want / 100));
            assert_int_equal(exact, want % 100 == 0);
        }
        /* As the shim's levels.h writes it, where it cannot overflow. */
        if (percent <= 100)
            assert_int_equal(gpumem__percent_of(total, percent, NULL),
                             total / 100 * percent + total % 100 * percent / 100);
    }
    assert_int_equal(gpumem__percent_of(UINT64_MAX, 100, NULL), UINT64_MAX);
    assert_int_equal(gpumem__percent_of(UINT64_MAX, 101, NULL), UINT64_MAX);
    assert_int_equal(gpumem__percent_of(16ull << 30, 80, NULL), 13743895347ull);
}

static void level_names(void **state)
{
    (void)state;
    assert_string_equal(gpumem__level_name(GPUMEM_LEVEL_HEALTHY), "healthy");
    assert_string_equal(gpumem__level_name(GPUMEM_LEVEL_WARNING), "warning");
    assert_string_equal(gpumem__level_name(GPUMEM_LEVEL_CRITICAL), "critical");
    assert_string_equal(gpumem__level_name(3), "healthy");
    assert_string_equal(gpumem__level_name(0xffffffffu), "healthy");
}

static void utc_times_are_gmtimes(void **state)
{
    (void)state;
    static const uint64_t edges[] = { 0,
                                      999999999,
                                      951782400000000000ull /* 2000-02-29 */,
                                      4107542400000000000ull /* 2100-03-01 */,
                                      13574563200000000000ull /* 2400-02-29 */,
                                      1800000000123456789ull,
                                      UINT64_MAX };
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 300000; i++) {
        uint64_t ns = i < (int)(sizeof edges / sizeof edges[0]) ? edges[i] : next_random(&x);
        if (i % 2) ns = ns / 86400000000000ull * 86400000000000ull - (ns % 3) * 1000000000ull; /* near midnight */
        char got[64], want[64];
        time_t t = (time_t)(ns / 1000000000u);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        size_t n = strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(want + n, sizeof want - n, ".%03u UTC", (unsigned)(ns / 1000000u % 1000u));
        gpumem__format_utc(got, sizeof got, ns);
        assert_string_equal(got, want);
    }
}

/* The largest allocations lie before the OOM record in the segment: the
 * first copy reads them before it reads the record's seq, so they may be
 * an earlier moment's. The second copy reads them after the first seq and
 * before its own: with both seqs equal, those are the record's. */
static void oom_largest_come_from_the_copy_read_under_the_record(void **state)
{
    (void)state;
    static struct gpumem_shm_segment first, second;
    struct gpumem_header_values v = { .pid = 4242, .start_time_ticks = 77, .created_unix_ns = 1 };
    struct gpumem_shm_segment *both[2] = { &first, &second };
    for (int k = 0; k < 2; k++) {
        struct gpumem_shm_segment *seg = both[k];
        memset(seg, 0, sizeof *seg);
        gpumem__segment_header_fill(&seg->header, &v);
        seg->header.state = GPUMEM_SHM_STATE_RUNNING;
        seg->header.magic = GPUMEM_SHM_MAGIC;
        seg->oom.seq = 4;
        seg->oom.nlarge = 1;
        seg->large[0].address = 0x7f0000000000;
        seg->large[0].bytes = k == 0 ? 111 : 222; /* the first copy: an older moment */
    }
    static struct gpumem_process p;
    static struct gpumem_oom o;
    char why[192] = "";
    assert_int_equal(gpumem__segment_parse(&first, &second, sizeof first, &p, &o, why, sizeof why), 0);
    assert_non_null(p.oom);
    assert_int_equal(o.nlarge, 1);
    assert_int_equal(o.large[0].bytes, 222);
    /* One copy only (a file read once): its own. */
    memset(&o, 0, sizeof o);
    assert_int_equal(gpumem__segment_parse(&first, NULL, sizeof first, &p, &o, why, sizeof why), 0);
    assert_int_equal(o.large[0].bytes, 111);
}

/* A listing's partial copy while a hostile writer moves its device table
 * between the header's read and the copy, its transitions ring laid over
 * the header so that copying the ring brings the new header in: the parse
 * must find only bytes the copy wrote (found by review: the device table
 * was read where nothing had been copied, i.e. the reader's own heap, such
 * as the previous segment's device). */
static void partial_copy_of_a_racing_writer(void **state)
{
    (void)state;
    static struct gpumem_shm_segment before, after;
    struct gpumem_header_values v = { .pid = 4000002, .start_time_ticks = 1, .command = "hostile" };
    gpumem__segment_header_fill(&before.header, &v);
    before.header.magic = GPUMEM_SHM_MAGIC;
    before.header.transitions_offset = 0; /* the whole header, and only it */
    before.header.transition_slots = sizeof(struct gpumem_shm_header) / before.header.transition_stride;
    before.header.device_slots = 1;
    before.header.device_stride = 512;
    before.header.devices_offset = offsetof(struct gpumem_shm_segment, transitions) - 512;
    after = before;
    after.header.devices_offset = sizeof(struct gpumem_shm_header); /* the move, done meanwhile */
    const size_t len = sizeof after;
    size_t avail = gpumem__segment_head_size(&before.header, len);
    assert_true(avail <= len);
    static struct gpumem_process p[2];
    char why[2][192];
    int rc[2];
    for (int k = 0; k < 2; k++) {
        unsigned char *part = malloc(avail);
        assert_non_null(part);
        memset(part, k ? 0x5A : 0xA5, avail); /* two kinds of garbage */
        gpumem__segment_copy_head(part, &after, len, &before.header);
        rc[k] = gpumem__segment_parse_head(part, NULL, avail, len, &p[k], why[k], sizeof why[k]);
        free(part);
    }
    assert_int_equal(rc[0], rc[1]);
    if (rc[0] != 0) {
        assert_string_equal(why[0], why[1]);
    } else {
        assert_int_equal(p[0].ndevices, p[1].ndevices);
        for (int i = 0; i < p[0].ndevices; i++)
            assert_memory_equal(&p[0].devices[i], &p[1].devices[i], sizeof p[0].devices[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stat_start_whatever_the_command),
        cmocka_unit_test(stat_start_reads_only_its_buffer),
        cmocka_unit_test(stat_start_of_this_process),
        cmocka_unit_test(prefix_rule),
        cmocka_unit_test(header_fill_follows_the_layout),
        cmocka_unit_test(partial_copy_of_a_racing_writer),
        cmocka_unit_test(percent_of_is_the_exact_floor),
        cmocka_unit_test(level_names),
        cmocka_unit_test(utc_times_are_gmtimes),
        cmocka_unit_test(oom_largest_come_from_the_copy_read_under_the_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
