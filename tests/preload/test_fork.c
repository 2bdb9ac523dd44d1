/* fork(): never deadlocks the child, even while another thread allocates,
 * and the child starts with counters of its own. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cuda_decls.h"

static gcu_context ctx;
static atomic_int stop;

static void *churn(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    while (!stop) {
        gcu_deviceptr p;
        if (cuMemAlloc_v2(&p, 4096) == 0) cuMemFree_v2(p);
    }
    return NULL;
}

int main(void)
{
    gcu_deviceptr held = 0;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    CHECK_EQ(cuMemAlloc_v2(&held, 8 * MiB), 0);
    pthread_t t;
    pthread_create(&t, NULL, churn, NULL);
    for (int i = 0; i < 50; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: fresh counters, and it can count on its own. */
            int bad = 0;
            if (SHIM) {
                gpumem_device_stats_t s;
                bad |= gpumem_device_stats(0, &s) != GPUMEM_ENODEV;
                gcu_deviceptr p;
                cuCtxSetCurrent(ctx);
                bad |= cuMemAlloc_v2(&p, 1 * MiB) != 0;
                bad |= gpumem_device_stats(0, &s) != GPUMEM_OK || s.reserved_bytes != 1 * MiB;
            }
            _exit(bad ? 3 : 0);
        }
        int status = 0;
        CHECK(pid > 0);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (SHIM) {
            /* The child published a segment of its own; _exit() left it. */
            char name[64];
            snprintf(name, sizeof name, "/%s.%d", getenv("GPUMEM_SHM_PREFIX"), (int)pid);
            CHECK(shm_unlink(name) == 0);
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 8 * MiB);
    CHECK_EQ(cuMemFree_v2(held), 0);
    return check_done("fork");
}
