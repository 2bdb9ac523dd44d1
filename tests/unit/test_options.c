/* The GPUMEM_* options: defaults, each parser's edges, the cross-field
 * checks, and one warning per bad value naming the variable and its default.
 * The parse reads a fake environment; only the last test uses the real one. */
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

#include "options.h"

/* ---- a fake environment ---- */

static const char *env_names[16], *env_values[16];
static size_t env_n;

static void env_clear(void) { env_n = 0; }

static void env_set(const char *name, const char *value)
{
    assert_true(env_n < sizeof env_names / sizeof env_names[0]);
    env_names[env_n] = name;
    env_values[env_n++] = value;
}

static const char *fake_getenv(const char *name)
{
    for (size_t i = 0; i < env_n; i++)
        if (strcmp(env_names[i], name) == 0) return env_values[i];
    return NULL;
}

static struct gpumem_options opt;
static char warnings[GPUMEM_OPTIONS_MAX_WARNINGS][GPUMEM_OPTIONS_WARNING_SIZE];
static size_t nwarnings;

static void parse(void)
{
    memset(warnings, 0, sizeof warnings);
    nwarnings = gpumem__options_parse(fake_getenv, &opt, warnings, GPUMEM_OPTIONS_MAX_WARNINGS);
}

/* Parse with one variable set: the number of warnings. */
static size_t parse_one(const char *name, const char *value)
{
    env_clear();
    env_set(name, value);
    parse();
    return nwarnings;
}

static int setup(void **state)
{
    (void)state;
    env_clear();
    return 0;
}

/* The defaults, as the README documents them. */
static void check_defaults(const struct gpumem_options *o)
{
    assert_int_equal(o->disabled, 0);
    assert_string_equal(o->shm_prefix, "gpumem");
    assert_int_equal(o->shm_mode, 0600);
    assert_int_equal(o->keep, 0);
    assert_int_equal(o->log_sink, GPUMEM_LOG_STDERR);
    assert_int_equal(o->warn_percent, 80);
    assert_int_equal(o->alarm_percent, 90);
    assert_int_equal(o->hysteresis_percent, 2);
    assert_string_equal(o->postmortem_dir, "/tmp");
    assert_int_equal(o->postmortem_interval, 5);
    assert_int_equal(o->backtrace, 0);
}

static void nothing_set_gives_every_default_without_a_word(void **state)
{
    (void)state;
    parse();
    assert_int_equal(nwarnings, 0);
    check_defaults(&opt);
}

static void booleans_are_0_or_1_only(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_DISABLE", "1"), 0);
    assert_int_equal(opt.disabled, 1);
    assert_int_equal(parse_one("GPUMEM_KEEP", "1"), 0);
    assert_int_equal(opt.keep, 1);
    assert_int_equal(parse_one("GPUMEM_BACKTRACE", "1"), 0);
    assert_int_equal(opt.backtrace, 1);
    assert_int_equal(parse_one("GPUMEM_BACKTRACE", "0"), 0);
    assert_int_equal(opt.backtrace, 0);
    static const char *const bad[] = { "", "2", "01", "10", " 1", "1 ", "true", "yes", "-1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_KEEP", bad[i]), 1);
        assert_int_equal(opt.keep, 0);
    }
}

static void percents_are_decimal_digits_from_0_to_100(void **state)
{
    (void)state;
    /* Within the relations: warn 0 needs hysteresis 0 too, so the edges of
     * each range are tried where the others allow them. */
    assert_int_equal(parse_one("GPUMEM_ALARM_PERCENT", "100"), 0);
    assert_int_equal(opt.alarm_percent, 100);
    assert_int_equal(parse_one("GPUMEM_HYSTERESIS_PERCENT", "0"), 0);
    assert_int_equal(opt.hysteresis_percent, 0);
    /* Leading zeros are decimal, never octal. */
    assert_int_equal(parse_one("GPUMEM_WARN_PERCENT", "080"), 0);
    assert_int_equal(opt.warn_percent, 80);
    assert_int_equal(parse_one("GPUMEM_WARN_PERCENT", "075"), 0);
    assert_int_equal(opt.warn_percent, 75);
    static const char *const bad[] = {
        "101", "0x10", "", "+70", "-1", " 70", "70 ", "70%", "7e1", "1.5", "99999999999999999999", "0000000000070"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_WARN_PERCENT", bad[i]), 1);
        assert_int_equal(opt.warn_percent, 80);
    }
}

static void seconds_go_from_0_to_a_day(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_POSTMORTEM_INTERVAL", "0"), 0);
    assert_int_equal(opt.postmortem_interval, 0);
    assert_int_equal(parse_one("GPUMEM_POSTMORTEM_INTERVAL", "86400"), 0);
    assert_int_equal(opt.postmortem_interval, 86400);
    static const char *const bad[] = { "86401", "", "-1", "5s", "0x5" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_POSTMORTEM_INTERVAL", bad[i]), 1);
        assert_int_equal(opt.postmortem_interval, 5);
    }
}

static void a_mode_needs_owner_read_write_and_no_execute(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_SHM_MODE", "0640"), 0);
    assert_int_equal(opt.shm_mode, 0640);
    assert_int_equal(parse_one("GPUMEM_SHM_MODE", "644"), 0);
    assert_int_equal(opt.shm_mode, 0644);
    static const char *const bad[] = { "0700", "0601",  "0610", "0400",  "0200",     "0000",
                                       "0800", "01600", "",     "0x1a4", "rw-------" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_SHM_MODE", bad[i]), 1);
        assert_int_equal(opt.shm_mode, 0600);
        assert_non_null(strstr(warnings[0], "is not valid"));
    }
}

static void write_bits_for_others_are_dropped_with_a_warning(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_SHM_MODE", "0666"), 1);
    assert_int_equal(opt.shm_mode, 0644);
    assert_string_equal(warnings[0], "GPUMEM_SHM_MODE=0666 would let other users write the segment (forge its "
                                     "counters, or shrink it and kill this process); using 0644");
    assert_int_equal(parse_one("GPUMEM_SHM_MODE", "0620"), 1);
    assert_int_equal(opt.shm_mode, 0600);
    assert_non_null(strstr(warnings[0], "; using 0600"));
}

static void a_prefix_is_1_to_32_name_characters(void **state)
{
    (void)state;
    const char *p32 = "abcdefghijklmnopqrstuvwxyz_-AZ09";
    assert_int_equal(strlen(p32), 32);
    assert_int_equal(parse_one("GPUMEM_SHM_PREFIX", p32), 0);
    assert_string_equal(opt.shm_prefix, p32);
    static const char *const bad[] = {
        "abcdefghijklmnopqrstuvwxyz_-AZ09x", "", "a.b", "a/b", "../x", "a b", "\xc3\xa9"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_SHM_PREFIX", bad[i]), 1);
        assert_string_equal(opt.shm_prefix, "gpumem");
    }
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    s[0] = '/';
    return s;
}

static void a_postmortem_dir_is_absolute_and_fits(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_POSTMORTEM_DIR", "/var/tmp/gpumem"), 0);
    assert_string_equal(opt.postmortem_dir, "/var/tmp/gpumem");
    char *fits = repeat('d', sizeof opt.postmortem_dir - 1), *too_long = repeat('d', sizeof opt.postmortem_dir);
    assert_int_equal(parse_one("GPUMEM_POSTMORTEM_DIR", fits), 0);
    assert_string_equal(opt.postmortem_dir, fits);
    static const char *const bad[] = { "tmp", "./tmp", "", "~/x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_POSTMORTEM_DIR", bad[i]), 1);
        assert_string_equal(opt.postmortem_dir, "/tmp");
    }
    assert_int_equal(parse_one("GPUMEM_POSTMORTEM_DIR", too_long), 1);
    assert_string_equal(opt.postmortem_dir, "/tmp");
    free(fits);
    free(too_long);
}

static void the_log_is_a_sink_name_or_an_absolute_path(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_LOG", "syslog"), 0);
    assert_int_equal(opt.log_sink, GPUMEM_LOG_SYSLOG);
    assert_int_equal(parse_one("GPUMEM_LOG", "off"), 0);
    assert_int_equal(opt.log_sink, GPUMEM_LOG_OFF);
    assert_int_equal(parse_one("GPUMEM_LOG", "stderr"), 0);
    assert_int_equal(opt.log_sink, GPUMEM_LOG_STDERR);
    assert_int_equal(parse_one("GPUMEM_LOG", "/var/log/gpumem.log"), 0);
    assert_int_equal(opt.log_sink, GPUMEM_LOG_FILE);
    assert_string_equal(opt.log_path, "/var/log/gpumem.log");
    char *fits = repeat('l', GPUMEM_LOG_PATH_SIZE - 1), *too_long = repeat('l', GPUMEM_LOG_PATH_SIZE);
    assert_int_equal(parse_one("GPUMEM_LOG", fits), 0);
    assert_string_equal(opt.log_path, fits);
    const char *const bad[] = { "gpumem.log", "", "STDERR", "stdout", "syslog ", too_long };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_one("GPUMEM_LOG", bad[i]), 1);
        assert_int_equal(opt.log_sink, GPUMEM_LOG_STDERR);
    }
    free(fits);
    free(too_long);
}

/* Every variable, a value it refuses: one warning, naming it, its value,
 * its help and its default; the field keeps the default. */
static void a_bad_value_gives_one_warning_naming_the_variable_and_the_default(void **state)
{
    (void)state;
    static const struct {
        const char *name, *bad, *dflt;
    } cases[] = {
        { "GPUMEM_DISABLE", "yes", "0" },               /* 0 or 1 */
        { "GPUMEM_SHM_PREFIX", "a.b", "gpumem" },       /* letters, digits, '_' and '-' */
        { "GPUMEM_SHM_MODE", "0700", "0600" },          /* executable */
        { "GPUMEM_KEEP", "2", "0" },                    /* 0 or 1 */
        { "GPUMEM_LOG", "relative", "stderr" },         /* a path must be absolute */
        { "GPUMEM_WARN_PERCENT", "101", "80" },         /* over 100 */
        { "GPUMEM_ALARM_PERCENT", "0x10", "90" },       /* decimal digits only */
        { "GPUMEM_HYSTERESIS_PERCENT", "", "2" },       /* set but empty */
        { "GPUMEM_POSTMORTEM_DIR", "tmp", "/tmp" },     /* relative */
        { "GPUMEM_POSTMORTEM_INTERVAL", "86401", "5" }, /* over a day */
        { "GPUMEM_BACKTRACE", "on", "0" },              /* 0 or 1 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_one(cases[i].name, cases[i].bad), 1);
        char head[128], tail[128];
        snprintf(head, sizeof head, "%s=%s is not valid (", cases[i].name, cases[i].bad);
        snprintf(tail, sizeof tail, "); using the default %s", cases[i].dflt);
        const char *w = warnings[0];
        assert_memory_equal(w, head, strlen(head));
        assert_true(strlen(w) > strlen(head) + strlen(tail) + 1); /* the help is there */
        assert_string_equal(w + strlen(w) - strlen(tail), tail);
        check_defaults(&opt);
    }
    /* All at once: one each, in the table's order. */
    env_clear();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) env_set(cases[i].name, cases[i].bad);
    parse();
    assert_int_equal(nwarnings, sizeof cases / sizeof cases[0]);
    for (size_t i = 0; i < nwarnings; i++) assert_memory_equal(warnings[i], cases[i].name, strlen(cases[i].name));
    check_defaults(&opt);
}

static void the_warnings_stop_at_max(void **state)
{
    (void)state;
    env_set("GPUMEM_KEEP", "x");
    env_set("GPUMEM_DISABLE", "x");
    char two[2][GPUMEM_OPTIONS_WARNING_SIZE];
    memset(two, 'z', sizeof two);
    assert_int_equal(gpumem__options_parse(fake_getenv, &opt, two, 1), 1);
    assert_memory_equal(two[0], "GPUMEM_DISABLE=x", 16);
    assert_int_equal(two[1][0], 'z');
    check_defaults(&opt);
}

static void warn_at_or_above_alarm_both_set_resets_both(void **state)
{
    (void)state;
    env_set("GPUMEM_WARN_PERCENT", "95");
    env_set("GPUMEM_ALARM_PERCENT", "92");
    parse();
    assert_int_equal(nwarnings, 1);
    assert_string_equal(warnings[0],
                        "GPUMEM_WARN_PERCENT=95 is not below GPUMEM_ALARM_PERCENT=92; using the defaults 80 and 90");
    check_defaults(&opt);
    env_clear();
    env_set("GPUMEM_ALARM_PERCENT", "85");
    env_set("GPUMEM_WARN_PERCENT", "85");
    parse();
    assert_int_equal(nwarnings, 1);
    assert_string_equal(warnings[0],
                        "GPUMEM_WARN_PERCENT=85 is not below GPUMEM_ALARM_PERCENT=85; using the defaults 80 and 90");
    check_defaults(&opt);
}

static void one_side_set_is_the_one_blamed(void **state)
{
    (void)state;
    assert_int_equal(parse_one("GPUMEM_WARN_PERCENT", "95"), 1);
    assert_string_equal(warnings[0], "GPUMEM_WARN_PERCENT=95 is not below GPUMEM_ALARM_PERCENT (90); using the "
                                     "default 80");
    check_defaults(&opt);
    assert_int_equal(parse_one("GPUMEM_ALARM_PERCENT", "50"), 1);
    assert_string_equal(warnings[0], "GPUMEM_ALARM_PERCENT=50 is not above GPUMEM_WARN_PERCENT (80); using the "
                                     "default 90");
    check_defaults(&opt);
    assert_int_equal(parse_one("GPUMEM_HYSTERESIS_PERCENT", "80"), 1);
    assert_string_equal(warnings[0], "GPUMEM_HYSTERESIS_PERCENT=80 is not below GPUMEM_WARN_PERCENT (80); using the "
                                     "default 2");
    check_defaults(&opt);
    assert_int_equal(parse_one("GPUMEM_WARN_PERCENT", "0"), 1);
    assert_string_equal(warnings[0], "GPUMEM_WARN_PERCENT=0 is not above GPUMEM_HYSTERESIS_PERCENT (2); using the "
                                     "default 80");
    check_defaults(&opt);
}

static void a_reset_can_break_the_next_relation(void **state)
{
    (void)state;
    env_set("GPUMEM_WARN_PERCENT", "50");
    env_set("GPUMEM_ALARM_PERCENT", "60");
    env_set("GPUMEM_HYSTERESIS_PERCENT", "55");
    parse();
    assert_int_equal(nwarnings, 2);
    assert_string_equal(warnings[0], "GPUMEM_HYSTERESIS_PERCENT=55 is not below GPUMEM_WARN_PERCENT=50; using the "
                                     "defaults 2 and 80");
    assert_string_equal(warnings[1], "GPUMEM_ALARM_PERCENT=60 is not above GPUMEM_WARN_PERCENT (80); using the "
                                     "default 90");
    check_defaults(&opt);
}

static void values_at_the_edges_of_the_relations_are_taken(void **state)
{
    (void)state;
    env_set("GPUMEM_WARN_PERCENT", "1");
    env_set("GPUMEM_ALARM_PERCENT", "2");
    env_set("GPUMEM_HYSTERESIS_PERCENT", "0");
    parse();
    assert_int_equal(nwarnings, 0);
    assert_int_equal(opt.warn_percent, 1);
    assert_int_equal(opt.alarm_percent, 2);
    assert_int_equal(opt.hysteresis_percent, 0);
    env_clear();
    env_set("GPUMEM_WARN_PERCENT", "99");
    env_set("GPUMEM_ALARM_PERCENT", "100");
    env_set("GPUMEM_HYSTERESIS_PERCENT", "98");
    parse();
    assert_int_equal(nwarnings, 0);
    assert_int_equal(opt.warn_percent, 99);
    assert_int_equal(opt.alarm_percent, 100);
    assert_int_equal(opt.hysteresis_percent, 98);
}

/* gpumem__options_load on the real environment: the log is pointed at
 * GPUMEM_LOG before the warnings are written, so they land in its file. */
static void load_points_the_log_before_it_warns(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpumem-test-options.XXXXXX", path[128], want[256], got[512] = "";
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log", dir);
    setenv("GPUMEM_LOG", path, 1);
    setenv("GPUMEM_KEEP", "maybe", 1);
    gpumem__options_load();
    assert_int_equal(gpumem__opt.log_sink, GPUMEM_LOG_FILE);
    assert_string_equal(gpumem__opt.log_path, path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = '\0';
    snprintf(want, sizeof want,
             "gpumem[%d]: GPUMEM_KEEP=maybe is not valid (1: keep the segment after a normal exit); using the "
             "default 0\n",
             (int)getpid());
    assert_string_equal(got, want);
    unlink(path);
    rmdir(dir);
}

/* The tests choose every variable; none leaks in from the caller. */
static void clear_environment(void)
{
    for (size_t i = 0; environ[i];) {
        size_t n = strcspn(environ[i], "=");
        if (strncmp(environ[i], "GPUMEM_", 7) != 0 || n >= 128) {
            i++;
            continue;
        }
        char name[128];
        memcpy(name, environ[i], n);
        name[n] = '\0';
        unsetenv(name); /* environ[i] is now the next variable */
    }
}

int main(void)
{
    clear_environment();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(nothing_set_gives_every_default_without_a_word, setup),
        cmocka_unit_test_setup(booleans_are_0_or_1_only, setup),
        cmocka_unit_test_setup(percents_are_decimal_digits_from_0_to_100, setup),
        cmocka_unit_test_setup(seconds_go_from_0_to_a_day, setup),
        cmocka_unit_test_setup(a_mode_needs_owner_read_write_and_no_execute, setup),
        cmocka_unit_test_setup(write_bits_for_others_are_dropped_with_a_warning, setup),
        cmocka_unit_test_setup(a_prefix_is_1_to_32_name_characters, setup),
        cmocka_unit_test_setup(a_postmortem_dir_is_absolute_and_fits, setup),
        cmocka_unit_test_setup(the_log_is_a_sink_name_or_an_absolute_path, setup),
        cmocka_unit_test_setup(a_bad_value_gives_one_warning_naming_the_variable_and_the_default, setup),
        cmocka_unit_test_setup(the_warnings_stop_at_max, setup),
        cmocka_unit_test_setup(warn_at_or_above_alarm_both_set_resets_both, setup),
        cmocka_unit_test_setup(one_side_set_is_the_one_blamed, setup),
        cmocka_unit_test_setup(a_reset_can_break_the_next_relation, setup),
        cmocka_unit_test_setup(values_at_the_edges_of_the_relations_are_taken, setup),
        cmocka_unit_test_setup(load_points_the_log_before_it_warns, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
