/* Alarms: each crossing up and down, hysteresis under a wobble, two devices
 * apart, several callbacks, a callback that allocates and frees (and one
 * whose free changes the level again). The log lines are checked by
 * alarm_log.sh, which runs this program. */
#include "check.h"
#include "cuda_decls.h"

#define MAX_SEEN 32
static struct {
    int device;
    gpumem_level_t level, previous;
    double percent;
} seen[MAX_SEEN];
static int nseen, nested_calls, in_b;
static gcu_context ctx1;
static gcu_deviceptr big1;

static void record(const gpumem_alarm_t *a, void *user)
{
    CHECK(user == (void *)&seen);
    CHECK(a->uuid != NULL && strncmp(a->uuid, "GPU-", 4) == 0);
    CHECK_EQ(a->total_bytes, 16 * GiB);
    if (nseen < MAX_SEEN) {
        seen[nseen].device = a->device_id;
        seen[nseen].level = a->level;
        seen[nseen].previous = a->previous_level;
        seen[nseen].percent = a->percent;
        nseen++;
    }
}

/* Allocates and frees inside the callback; on cuda:1 critical it also
 * releases the big block, which changes the level again. */
static void busy(const gpumem_alarm_t *a, void *user)
{
    (void)user;
    CHECK(!in_b); /* never re-entered */
    in_b = 1;
    nested_calls++;
    if (a->device_id == 1 && a->level == GPUMEM_LEVEL_CRITICAL) {
        gcu_deviceptr p;
        CHECK_EQ(cuCtxSetCurrent(ctx1), 0);
        CHECK_EQ(cuMemAlloc_v2(&p, 1 * MiB), 0);
        CHECK_EQ(cuMemFree_v2(p), 0);
        CHECK_EQ(cuMemFree_v2(big1), 0);
    }
    in_b = 0;
}

int main(void)
{
    gcu_context ctx0;
    gcu_deviceptr a1, a1b, a2, a3, w;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx1, 0, 1), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx0, 0, 0), 0);
    if (!SHIM) return check_done("alarm");
    CHECK_EQ(gpumem_on_alarm(NULL, NULL), GPUMEM_EINVAL);
    CHECK_EQ(gpumem_on_alarm(record, &seen), 0);
    CHECK_EQ(gpumem_on_alarm(busy, NULL), 0);

    CHECK_EQ(cuMemAlloc_v2(&a1, 12500 * MiB), 0); /* 76.3 % */
    CHECK_EQ(cuMemAlloc_v2(&a1b, 500 * MiB), 0);  /* 79.3 % */
    CHECK_EQ(nseen, 0);
    CHECK_EQ(cuMemAlloc_v2(&a2, 200 * MiB), 0);  /* 80.6 %: warning */
    CHECK_EQ(cuMemAlloc_v2(&a3, 1500 * MiB), 0); /* 89.7 %: still warning */
    CHECK_EQ(nseen, 1);
    CHECK_EQ(cuMemAlloc_v2(&w, 100 * MiB), 0); /* 90.3 %: critical */
    CHECK_EQ(nseen, 2);
    CHECK_EQ(stats_of(0).level, GPUMEM_LEVEL_CRITICAL);
    /* A wobble between 89.7 % and 90.3 %: no further alarm. */
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(cuMemFree_v2(w), 0);
        CHECK_EQ(cuMemAlloc_v2(&w, 100 * MiB), 0);
    }
    CHECK_EQ(nseen, 2);
    CHECK_EQ(cuMemFree_v2(w), 0);
    CHECK_EQ(cuMemFree_v2(a3), 0); /* 80.6 %: below 88 %, back to warning */
    CHECK_EQ(cuMemFree_v2(a2), 0); /* 79.3 %: still warning (needs < 78 %) */
    CHECK_EQ(nseen, 3);
    CHECK_EQ(cuMemFree_v2(a1b), 0); /* 76.3 %: healthy */
    CHECK_EQ(nseen, 4);

    /* cuda:1 on its own: straight to critical; the busy callback allocates,
     * frees, and releases the block, raising "OK" after it returns. */
    CHECK_EQ(cuCtxSetCurrent(ctx1), 0);
    CHECK_EQ(cuMemAlloc_v2(&big1, 15000 * MiB), 0); /* 91.6 % */
    CHECK_EQ(nseen, 6);
    CHECK_EQ(nested_calls, 6); /* every alarm, each once, never re-entered */
    CHECK_EQ(stats_of(0).level, GPUMEM_LEVEL_HEALTHY);
    CHECK_EQ(stats_of(1).level, GPUMEM_LEVEL_HEALTHY);

    static const struct {
        int device;
        gpumem_level_t level, previous;
    } want[] = {
        { 0, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_HEALTHY },  { 0, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_WARNING },
        { 0, GPUMEM_LEVEL_WARNING, GPUMEM_LEVEL_CRITICAL }, { 0, GPUMEM_LEVEL_HEALTHY, GPUMEM_LEVEL_WARNING },
        { 1, GPUMEM_LEVEL_CRITICAL, GPUMEM_LEVEL_HEALTHY }, { 1, GPUMEM_LEVEL_HEALTHY, GPUMEM_LEVEL_CRITICAL },
    };
    for (int i = 0; i < 6 && i < nseen; i++) {
        CHECK_EQ(seen[i].device, want[i].device);
        CHECK_EQ(seen[i].level, want[i].level);
        CHECK_EQ(seen[i].previous, want[i].previous);
    }
    CHECK(seen[1].percent > 90.0 && seen[1].percent < 90.5);
    CHECK_EQ(stats_of(0).alarm_count, 4);
    CHECK_EQ(stats_of(1).alarm_count, 2);
    for (int i = 0; i < 14; i++) CHECK_EQ(gpumem_on_alarm(record, NULL), 0);
    CHECK_EQ(gpumem_on_alarm(record, NULL), GPUMEM_EFULL);
    CHECK_EQ(cuMemFree_v2(a1), 0);
    return check_done("alarm");
}
