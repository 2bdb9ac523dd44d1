/* health.c and alarm.c on their own: a device's level follows its reserved
 * bytes (warning from 80 %, critical above 90 %, each left 2 % below its
 * bound), each change is recorded in the segment and logged once, and the
 * callbacks of gpumem_on_alarm run only where alarm.h says: at
 * gpumem__alarm_flush, outside a runtime call and outside a callback, in
 * order, at most GPUMEM_ALARMS_QUEUED per flush. Linked with the modules
 * below them only (no counters, no hook), against the stand-in driver of
 * unit_driver.c; level lines go to a log file in a temporary directory.
 *
 * Each test uses a device ordinal of its own. Registered callbacks stay for
 * the process: the test of the registration limit runs last. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alarm.h"
#include "devices.h"
#include "gpumem.h"
#include "thread.h"
#include "unit_driver.h"

#define MIB UD_MIB

enum {
    DEV_QUIET = 1,
    DEV_WARNING,
    DEV_CRITICAL,
    DEV_HYSTERESIS,
    DEV_FLUSH,
    DEV_RUNTIME,
    DEV_NESTED,
    DEV_QUEUE,
    DEV_UNKNOWN = UD_NO_TOTAL_DEVICE,
};

static char log_dir[64], log_path[128];

/* ---- what the callbacks saw ---- */

struct seen {
    int tag; /* which callback */
    int device;
    gpumem_level_t level, previous;
    uint64_t reserved, total;
    double percent;
    char uuid[48];
    int depth;
};
static struct seen seen[64];
static int nseen, depth, max_depth;
static int tag_first = 1, tag_second = 2;
static void (*inside_first_callback)(void); /* once, then cleared */

static void recorder(const gpumem_alarm_t *a, void *user)
{
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (nseen < (int)(sizeof seen / sizeof seen[0])) {
        struct seen *s = &seen[nseen++];
        s->tag = *(int *)user;
        s->device = a->device_id;
        s->level = a->level;
        s->previous = a->previous_level;
        s->reserved = a->reserved_bytes;
        s->total = a->total_bytes;
        s->percent = a->percent;
        snprintf(s->uuid, sizeof s->uuid, "%s", a->uuid ? a->uuid : "");
        s->depth = depth;
    }
    if (*(int *)user == tag_first && inside_first_callback) {
        void (*f)(void) = inside_first_callback;
        inside_first_callback = NULL;
        f();
    }
    depth--;
}

static void registered(void)
{
    static int done;
    if (done) return;
    assert_int_equal(gpumem_on_alarm(recorder, &tag_first), GPUMEM_OK);
    assert_int_equal(gpumem_on_alarm(recorder, &tag_second), GPUMEM_OK);
    done = 1;
}

/* Nothing queued or seen from an earlier test. */
static int setup(void **state)
{
    (void)state;
    gpumem__thread.runtime_api = 0;
    gpumem__alarm_flush();
    nseen = depth = max_depth = 0;
    return 0;
}

/* ---- the level ---- */

static uint32_t level(int dev) { return __atomic_load_n(&gpumem__device(dev)->level, __ATOMIC_SEQ_CST); }

/* Move dev's reserved to exactly bytes. */
static void set_reserved(int dev, uint64_t bytes)
{
    const struct gpumem_shm_device *d = gpumem__device(dev);
    uint64_t now = d->reserved_bytes;
    if (bytes > now) gpumem__device_charge(dev, d, bytes - now, 0);
    else if (bytes < now) gpumem__device_uncharge(dev, d, now - bytes, 0);
    assert_int_equal(d->reserved_bytes, bytes);
}

static void assert_last_transition(int dev, gpumem_level_t lvl, gpumem_level_t prev, uint64_t reserved)
{
    const struct gpumem_shm_transition *t = ud_last_transition();
    assert_non_null(t);
    assert_int_equal(t->device, dev);
    assert_int_equal(t->level, lvl);
    assert_int_equal(t->previous_level, prev);
    assert_int_equal(t->reserved_bytes, reserved);
    assert_int_not_equal(t->unix_ns, 0);
}

/* The log file holds a line with text (after "gpumem[pid]: "). */
static int logged(const char *text)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return 0;
    char line[1024], prefix[32];
    snprintf(prefix, sizeof prefix, "gpumem[%d]: ", (int)getpid());
    size_t n = strlen(prefix);
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strncmp(line, prefix, n) == 0 && strncmp(line + n, text, strlen(text)) == 0;
    fclose(f);
    return found;
}

static void level_change_without_callbacks_queues_nothing(void **state)
{
    (void)state;
    if (atomic_load(&gpumem__alarms_wanted)) skip(); /* needs to run before any registration */
    set_reserved(DEV_QUIET, 850 * MIB);
    assert_int_equal(level(DEV_QUIET), GPUMEM_LEVEL_WARNING);
    assert_int_equal(gpumem__device(DEV_QUIET)->alarm_count, 1);
    assert_int_equal(gpumem__alarms.n, 0);
}

static void charging_to_warn_percent_raises_a_warning(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = gpumem__device(DEV_WARNING);
    uint64_t head = gpumem__segment()->header.transitions_head;
    set_reserved(DEV_WARNING, 800 * MIB - 1);
    assert_int_equal(level(DEV_WARNING), GPUMEM_LEVEL_HEALTHY);
    assert_int_equal(d->alarm_count, 0);
    assert_int_equal(gpumem__segment()->header.transitions_head, head);

    set_reserved(DEV_WARNING, 800 * MIB); /* 80 %: warning from here */
    assert_int_equal(level(DEV_WARNING), GPUMEM_LEVEL_WARNING);
    assert_int_equal(d->alarm_count, 1);
    assert_int_not_equal(d->last_transition_unix_ns, 0);
    assert_int_equal(gpumem__segment()->header.transitions_head, head + 1);
    assert_last_transition(DEV_WARNING, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_HEALTHY, 800 * MIB);
    char line[64];
    snprintf(line, sizeof line, "WARNING cuda:%d 80%% ", DEV_WARNING);
    assert_true(logged(line));

    /* Further charges within the level change nothing. */
    set_reserved(DEV_WARNING, 900 * MIB);
    assert_int_equal(level(DEV_WARNING), GPUMEM_LEVEL_WARNING);
    assert_int_equal(d->alarm_count, 1);
}

static void charging_past_alarm_percent_raises_critical(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = gpumem__device(DEV_CRITICAL);
    set_reserved(DEV_CRITICAL, 900 * MIB); /* 90 %: not above it */
    assert_int_equal(level(DEV_CRITICAL), GPUMEM_LEVEL_WARNING);
    set_reserved(DEV_CRITICAL, 900 * MIB + 1);
    assert_int_equal(level(DEV_CRITICAL), GPUMEM_LEVEL_CRITICAL);
    assert_int_equal(d->alarm_count, 2);
    assert_last_transition(DEV_CRITICAL, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_WARNING, 900 * MIB + 1);
    char line[64];
    snprintf(line, sizeof line, "CRITICAL cuda:%d 90%% ", DEV_CRITICAL);
    assert_true(logged(line));

    /* Straight from healthy to critical in one charge: one change. */
    set_reserved(DEV_CRITICAL, 0);
    assert_int_equal(level(DEV_CRITICAL), GPUMEM_LEVEL_HEALTHY);
    uint64_t alarms = d->alarm_count;
    set_reserved(DEV_CRITICAL, 990 * MIB);
    assert_int_equal(level(DEV_CRITICAL), GPUMEM_LEVEL_CRITICAL);
    assert_int_equal(d->alarm_count, alarms + 1);
    assert_last_transition(DEV_CRITICAL, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_HEALTHY, 990 * MIB);
}

static void levels_are_left_only_hysteresis_below_their_bound(void **state)
{
    (void)state;
    const struct gpumem_shm_device *d = gpumem__device(DEV_HYSTERESIS);
    set_reserved(DEV_HYSTERESIS, 950 * MIB);
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_CRITICAL);
    uint64_t alarms = d->alarm_count;

    set_reserved(DEV_HYSTERESIS, 880 * MIB); /* below 90 %, not below 88 % */
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_CRITICAL);
    set_reserved(DEV_HYSTERESIS, 880 * MIB - 1);
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_WARNING);
    assert_last_transition(DEV_HYSTERESIS, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_CRITICAL, 880 * MIB - 1);

    set_reserved(DEV_HYSTERESIS, 780 * MIB); /* below 80 %, not below 78 % */
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_WARNING);
    set_reserved(DEV_HYSTERESIS, 780 * MIB - 1);
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_HEALTHY);
    assert_last_transition(DEV_HYSTERESIS, GPUMEM_LEVEL_HEALTHY, GPUMEM_LEVEL_WARNING, 780 * MIB - 1);
    char line[64];
    snprintf(line, sizeof line, "OK cuda:%d 77%% ", DEV_HYSTERESIS);
    assert_true(logged(line));
    assert_int_equal(d->alarm_count, alarms + 2);

    /* Wobbling around a bound within the hysteresis: no change. */
    set_reserved(DEV_HYSTERESIS, 800 * MIB);
    alarms = d->alarm_count;
    for (int i = 0; i < 5; i++) {
        set_reserved(DEV_HYSTERESIS, 790 * MIB);
        set_reserved(DEV_HYSTERESIS, 800 * MIB);
    }
    assert_int_equal(d->alarm_count, alarms);
    assert_int_equal(level(DEV_HYSTERESIS), GPUMEM_LEVEL_WARNING);
}

static void unknown_total_never_changes_the_level(void **state)
{
    (void)state;
    registered();
    const struct gpumem_shm_device *d = gpumem__device(DEV_UNKNOWN);
    assert_int_equal(d->total_bytes, 0);
    set_reserved(DEV_UNKNOWN, 4 * UD_TOTAL);
    assert_int_equal(level(DEV_UNKNOWN), GPUMEM_LEVEL_HEALTHY);
    assert_int_equal(d->alarm_count, 0);
    assert_int_equal(gpumem__alarms.n, 0);
    set_reserved(DEV_UNKNOWN, 0);
}

static void callbacks_run_at_flush_not_during_the_charge(void **state)
{
    (void)state;
    registered();
    set_reserved(DEV_FLUSH, 800 * MIB);
    assert_int_equal(nseen, 0);
    assert_int_equal(gpumem__alarms.n, 1);

    gpumem__alarm_flush();
    assert_int_equal(gpumem__alarms.n, 0);
    assert_int_equal(nseen, 2);
    char uuid[48];
    ud_uuid_text(DEV_FLUSH, uuid, sizeof uuid);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(seen[i].tag, i == 0 ? tag_first : tag_second); /* in registration order */
        assert_int_equal(seen[i].device, DEV_FLUSH);
        assert_int_equal(seen[i].level, GPUMEM_LEVEL_WARNING);
        assert_int_equal(seen[i].previous, GPUMEM_LEVEL_HEALTHY);
        assert_int_equal(seen[i].reserved, 800 * MIB);
        assert_int_equal(seen[i].total, UD_TOTAL);
        assert_true(seen[i].percent > 79.999 && seen[i].percent < 80.001);
        assert_string_equal(seen[i].uuid, uuid);
    }
    gpumem__alarm_flush(); /* delivered once */
    assert_int_equal(nseen, 2);
}

static void no_callback_runs_inside_a_runtime_call(void **state)
{
    (void)state;
    registered();
    gpumem__thread.runtime_api = GPUMEM_API_CUDA_MALLOC;
    set_reserved(DEV_RUNTIME, 850 * MIB);
    gpumem__alarm_flush(); /* the driver hook inside cudaMalloc returns */
    assert_int_equal(nseen, 0);
    assert_int_equal(gpumem__alarms.n, 1);
    gpumem__thread.runtime_api = 0;
    gpumem__alarm_flush(); /* cudaMalloc returns */
    assert_int_equal(nseen, 2);
    assert_int_equal(seen[0].device, DEV_RUNTIME);
    assert_int_equal(seen[0].level, GPUMEM_LEVEL_WARNING);
}

/* The first callback, on the warning, charges on to critical and returns
 * through a hook (which flushes). */
static void charge_to_critical_and_flush(void)
{
    set_reserved(DEV_NESTED, 950 * MIB);
    gpumem__alarm_flush();
}

static void no_callback_runs_inside_a_callback_and_later_alarms_follow_in_order(void **state)
{
    (void)state;
    registered();
    set_reserved(DEV_NESTED, 850 * MIB);
    inside_first_callback = charge_to_critical_and_flush;
    gpumem__alarm_flush();
    assert_null(inside_first_callback);
    assert_int_equal(max_depth, 1);
    assert_int_equal(nseen, 4);
    const struct {
        int tag;
        gpumem_level_t level, previous;
    } want[] = {
        { tag_first, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_HEALTHY },
        { tag_second, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_HEALTHY },
        { tag_first, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_WARNING },
        { tag_second, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_WARNING },
    };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(seen[i].tag, want[i].tag);
        assert_int_equal(seen[i].level, want[i].level);
        assert_int_equal(seen[i].previous, want[i].previous);
        assert_int_equal(seen[i].device, DEV_NESTED);
    }
    assert_int_equal(gpumem__alarms.n, 0);
}

static uint64_t reserved_at_change(int i) { return i % 2 == 0 ? (800 + (uint64_t)i) * MIB : (700 - (uint64_t)i) * MIB; }

static void at_most_eight_alarms_are_queued_in_order(void **state)
{
    (void)state;
    registered();
    const struct gpumem_shm_device *d = gpumem__device(DEV_QUEUE);
    uint64_t alarms = d->alarm_count;
    /* Ten changes without a flush, warning and healthy in turn, each at a
     * figure of its own: change i at reserved(i). */
    for (int i = 0; i < 10; i++) set_reserved(DEV_QUEUE, reserved_at_change(i));
    assert_int_equal(d->alarm_count, alarms + 10); /* the segment has them all */
    assert_int_equal(gpumem__alarms.n, GPUMEM_ALARMS_QUEUED);
    assert_int_equal(nseen, 0);
    gpumem__alarm_flush();
    assert_int_equal(nseen, 2 * GPUMEM_ALARMS_QUEUED);
    for (int i = 0; i < GPUMEM_ALARMS_QUEUED; i++) {
        gpumem_level_t lvl = i % 2 == 0 ? GPUMEM_LEVEL_WARNING : GPUMEM_LEVEL_HEALTHY;
        for (int k = 0; k < 2; k++) {
            const struct seen *s = &seen[2 * i + k];
            assert_int_equal(s->tag, k == 0 ? tag_first : tag_second);
            assert_int_equal(s->level, lvl);
            assert_int_equal(s->reserved, reserved_at_change(i)); /* the first eight, not the last */
        }
    }
    assert_int_equal(gpumem__alarms.n, 0);
}

static void registration_refuses_null_and_a_seventeenth_callback(void **state)
{
    (void)state;
    registered(); /* two so far */
    assert_int_equal(gpumem_on_alarm(NULL, NULL), GPUMEM_EINVAL);
    for (int i = 2; i < 16; i++) assert_int_equal(gpumem_on_alarm(recorder, &tag_second), GPUMEM_OK);
    assert_int_equal(gpumem_on_alarm(recorder, &tag_first), GPUMEM_EFULL);

    /* The sixteen run; the refused one does not. */
    set_reserved(DEV_QUEUE, 800 * MIB);
    gpumem__alarm_flush();
    assert_int_equal(nseen, 16);
    for (int i = 1; i < 16; i++) assert_int_equal(seen[i].tag, tag_second);
}

int main(void)
{
    snprintf(log_dir, sizeof log_dir, "/tmp/gpumem-unit-alarm.XXXXXX");
    if (!mkdtemp(log_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(log_path, sizeof log_path, "%s/levels.log", log_dir);
    ud_install(log_path);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(level_change_without_callbacks_queues_nothing, setup),
        cmocka_unit_test_setup(charging_to_warn_percent_raises_a_warning, setup),
        cmocka_unit_test_setup(charging_past_alarm_percent_raises_critical, setup),
        cmocka_unit_test_setup(levels_are_left_only_hysteresis_below_their_bound, setup),
        cmocka_unit_test_setup(unknown_total_never_changes_the_level, setup),
        cmocka_unit_test_setup(callbacks_run_at_flush_not_during_the_charge, setup),
        cmocka_unit_test_setup(no_callback_runs_inside_a_runtime_call, setup),
        cmocka_unit_test_setup(no_callback_runs_inside_a_callback_and_later_alarms_follow_in_order, setup),
        cmocka_unit_test_setup(at_most_eight_alarms_are_queued_in_order, setup),
        cmocka_unit_test_setup(registration_refuses_null_and_a_seventeenth_callback, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    gpumem__segment_exit();
    unlink(log_path);
    rmdir(log_dir);
    return failed;
}
