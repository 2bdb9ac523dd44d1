/* The ledger against a reference model: inserts, removes, replacement,
 * growth, backward-shift deletion, 100 000 live entries, and threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger.h"

static struct gpumem_ledger ledger;

static int setup(void **state)
{
    (void)state;
    memset(&ledger, 0, sizeof ledger);
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    gpumem__ledger_clear(&ledger);
    return 0;
}

static struct gpumem_entry entry(uint64_t key, uint64_t bytes)
{
    struct gpumem_entry e = { .key = key, .bytes = bytes, .device = 1, .kind = 1, .api = 2 };
    return e;
}

static void insert_find_remove_roundtrip(void **state)
{
    (void)state;
    struct gpumem_entry e = entry(0x7000001000, 4096), out;
    assert_int_equal(gpumem__ledger_insert(&ledger, &e, NULL), 0);
    assert_true(gpumem__ledger_find(&ledger, e.key, &out));
    assert_int_equal(out.bytes, 4096);
    assert_int_equal(out.device, 1);
    assert_int_equal(gpumem__ledger_count(&ledger), 1);
    assert_true(gpumem__ledger_remove(&ledger, e.key, &out));
    assert_int_equal(out.bytes, 4096);
    assert_false(gpumem__ledger_remove(&ledger, e.key, &out));
    assert_false(gpumem__ledger_find(&ledger, e.key, NULL));
    assert_int_equal(gpumem__ledger_count(&ledger), 0);
}

static void key_zero_is_never_stored(void **state)
{
    (void)state;
    struct gpumem_entry e = entry(0, 1);
    assert_int_equal(gpumem__ledger_insert(&ledger, &e, NULL), -1);
    assert_false(gpumem__ledger_remove(&ledger, 0, NULL));
}

static void reinsert_replaces_and_returns_old(void **state)
{
    (void)state;
    struct gpumem_entry a = entry(0x1234500, 10), b = entry(0x1234500, 20), old;
    assert_int_equal(gpumem__ledger_insert(&ledger, &a, NULL), 0);
    assert_int_equal(gpumem__ledger_insert(&ledger, &b, &old), 1);
    assert_int_equal(old.bytes, 10);
    assert_int_equal(gpumem__ledger_count(&ledger), 1);
}

/* Random operations against a sorted reference array: every find agrees. */
static void random_operations_match_a_reference(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t keys[N];
    static int live[N];
    srand(12345);
    for (int i = 0; i < N; i++) keys[i] = (0x700000000000ull + (uint64_t)i * 512) ^ ((uint64_t)(rand() & 7) << 40);
    size_t nlive = 0;
    for (int step = 0; step < 200000; step++) {
        int i = rand() % N;
        if (live[i]) {
            struct gpumem_entry out;
            assert_true(gpumem__ledger_remove(&ledger, keys[i], &out));
            assert_int_equal(out.bytes, (uint64_t)i + 1);
            live[i] = 0;
            nlive--;
        } else {
            struct gpumem_entry e = entry(keys[i], (uint64_t)i + 1);
            assert_int_equal(gpumem__ledger_insert(&ledger, &e, NULL), 0);
            live[i] = 1;
            nlive++;
        }
        if (step % 997 == 0) {
            int j = rand() % N;
            assert_int_equal(gpumem__ledger_find(&ledger, keys[j], NULL), live[j]);
        }
    }
    assert_int_equal(gpumem__ledger_count(&ledger), nlive);
    for (int i = 0; i < N; i++) assert_int_equal(gpumem__ledger_find(&ledger, keys[i], NULL), live[i]);
}

static void hundred_thousand_live_entries(void **state)
{
    (void)state;
    enum { N = 100000 };
    for (uint64_t i = 1; i <= N; i++) {
        struct gpumem_entry e = entry(0x7f0000000000ull + i * 2 * 1024 * 1024, i);
        assert_int_equal(gpumem__ledger_insert(&ledger, &e, NULL), 0);
    }
    assert_int_equal(gpumem__ledger_count(&ledger), N);
    uint64_t sum = 0;
    for (uint64_t i = N; i >= 1; i--) {
        struct gpumem_entry out;
        assert_true(gpumem__ledger_remove(&ledger, 0x7f0000000000ull + i * 2 * 1024 * 1024, &out));
        sum += out.bytes;
    }
    assert_int_equal(sum, (uint64_t)N * (N + 1) / 2);
    assert_int_equal(gpumem__ledger_count(&ledger), 0);
}

static void sum_bytes(const struct gpumem_entry *e, void *ctx) { *(uint64_t *)ctx += e->bytes; }

static void foreach_visits_every_entry_once(void **state)
{
    (void)state;
    for (uint64_t i = 1; i <= 1000; i++) {
        struct gpumem_entry e = entry(i * 4096, i);
        gpumem__ledger_insert(&ledger, &e, NULL);
    }
    uint64_t sum = 0;
    gpumem__ledger_foreach(&ledger, sum_bytes, &sum);
    assert_int_equal(sum, 1000 * 1001 / 2);
}

static void *hammer(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg << 32;
    for (uint64_t round = 0; round < 20; round++) {
        for (uint64_t i = 1; i <= 2000; i++) {
            struct gpumem_entry e = entry(base + i * 256, i);
            if (gpumem__ledger_insert(&ledger, &e, NULL) != 0) return (void *)1;
        }
        for (uint64_t i = 1; i <= 2000; i++)
            if (!gpumem__ledger_remove(&ledger, base + i * 256, NULL)) return (void *)1;
    }
    return NULL;
}

static void concurrent_threads_lose_nothing(void **state)
{
    (void)state;
    pthread_t t[8];
    for (uintptr_t i = 0; i < 8; i++) pthread_create(&t[i], NULL, hammer, (void *)(i + 1));
    for (int i = 0; i < 8; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    assert_int_equal(gpumem__ledger_count(&ledger), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(insert_find_remove_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(key_zero_is_never_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(reinsert_replaces_and_returns_old, setup, teardown),
        cmocka_unit_test_setup_teardown(random_operations_match_a_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(hundred_thousand_live_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(foreach_visits_every_entry_once, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_threads_lose_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
