/*
 * check.h - a tiny assertion kit for programs run under LD_PRELOAD.
 *
 * Every test program runs twice, with and without the shim: return codes
 * are checked both times (the shim must not change them), counters only
 * when the shim is there (SHIM is true).
 */
#ifndef GPUMEM_TEST_CHECK_H
#define GPUMEM_TEST_CHECK_H
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpumem.h"

static int check_failures, check_count;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        check_count++;                                                               \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

#define CHECK_EQ(a, b)                                                                                             \
    do {                                                                                                           \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b);                             \
        check_count++;                                                                                             \
        if (a_ != b_) {                                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%llu != %llu)\n", __FILE__, __LINE__, #a, #b, a_, b_); \
            check_failures++;                                                                                      \
        }                                                                                                          \
    } while (0)

#define SHIM (gpumem_device_stats != NULL)

static inline gpumem_device_stats_t stats_of(int device)
{
    gpumem_device_stats_t s;
    memset(&s, 0, sizeof s);
    if (SHIM && gpumem_device_stats(device, &s) != GPUMEM_OK) s.device_id = -1;
    return s;
}

static inline int check_done(const char *name)
{
    fprintf(stderr, "%s (%s shim): %d checks, %d failed\n", name, SHIM ? "with" : "without", check_count,
            check_failures);
    return check_failures ? 1 : 0;
}
#endif
