/* The level follows reserved as it is, not as one thread saw it. One thread
 * allocates 1 GiB next to a critical 15 GiB (16 GiB: 100 %) and is stopped
 * inside the shim after reserved changed, before its level check; another
 * thread then frees the 15 GiB. 1 GiB (6 %) is held: the device must end
 * healthy, although the first thread's own figure said 100 %. */
#include <pthread.h>
#include <semaphore.h>

#include "check.h"
#include "clock_pause.h"
#include "cuda_decls.h"

static gcu_context ctx;
static gcu_deviceptr big, small;
static sem_t go_down, down_done;
static __thread int is_up;
static volatile int armed;

static void clock_pause_hook(void)
{
    if (!armed || !is_up || !SHIM || stats_of(0).reserved_bytes != 16 * GiB) return;
    armed = 0;
    sem_post(&go_down);
    sem_wait(&down_done);
}

static void *down(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    sem_wait(&go_down);
    CHECK_EQ(cuMemFree_v2(big), 0);
    sem_post(&down_done);
    return NULL;
}

static void *up(void *arg)
{
    (void)arg;
    is_up = 1;
    cuCtxSetCurrent(ctx);
    CHECK_EQ(cuMemAlloc_v2(&small, 1 * GiB), 0);
    return NULL;
}

int main(void)
{
    pthread_t a, b;
    sem_init(&go_down, 0, 0);
    sem_init(&down_done, 0, 0);
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&big, 15 * GiB), 0);
    if (SHIM) CHECK_EQ(stats_of(0).level, GPUMEM_LEVEL_CRITICAL);
    armed = SHIM;
    pthread_create(&a, NULL, down, NULL);
    pthread_create(&b, NULL, up, NULL);
    if (!SHIM) sem_post(&go_down); /* no shim to stop the allocating thread */
    pthread_join(b, NULL);
    pthread_join(a, NULL);
    if (SHIM) {
        gpumem_device_stats_t s = stats_of(0);
        CHECK_EQ(armed, 0); /* the pause happened */
        CHECK_EQ(s.reserved_bytes, 1 * GiB);
        CHECK_EQ(s.level, GPUMEM_LEVEL_HEALTHY);
        CHECK_EQ(s.peak_bytes, 16 * GiB);
    }
    CHECK_EQ(cuMemFree_v2(small), 0);
    return check_done("level_race");
}
