/* The newest events in the ring are the newest things that happened: a
 * thread that allocated once long ago and now fails an allocation, then
 * frees, must not write its events into slots the ring has since wrapped
 * past (where no reader and no post-mortem would see them). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "cuda_decls.h"
#include "gpumem_shm.h"

static gcu_context ctx;
static pthread_barrier_t step;

static void *rare(void *arg)
{
    (void)arg;
    gcu_deviceptr p = 0, q = 0;
    cuCtxSetCurrent(ctx);
    CHECK_EQ(cuMemAlloc_v2(&p, 1 * MiB), 0);
    pthread_barrier_wait(&step); /* the main thread now makes many events */
    pthread_barrier_wait(&step);
    CHECK_EQ(cuMemAlloc_v2(&q, 64 * GiB), 2); /* out of memory */
    CHECK_EQ(cuMemFree_v2(p), 0);
    return NULL;
}

int main(void)
{
    pthread_t t;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    pthread_barrier_init(&step, NULL, 2);
    pthread_create(&t, NULL, rare, NULL);
    pthread_barrier_wait(&step);
    for (int i = 0; i < 3 * (int)GPUMEM_SHM_EVENT_SLOTS; i++) {
        gcu_deviceptr p = 0;
        CHECK_EQ(cuMemAlloc_v2(&p, 4096), 0);
        CHECK_EQ(cuMemFree_v2(p), 0);
    }
    pthread_barrier_wait(&step);
    pthread_join(t, NULL);
    if (SHIM) {
        char name[128];
        snprintf(name, sizeof name, "/%s.%d", getenv("GPUMEM_SHM_PREFIX"), (int)getpid());
        int fd = shm_open(name, O_RDONLY, 0);
        CHECK(fd >= 0);
        const struct gpumem_shm_segment *s = fd >= 0 ? mmap(NULL, sizeof *s, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        CHECK(s != MAP_FAILED);
        if (s != MAP_FAILED) {
            /* The two newest events published: the failed allocation, then the free. */
            const struct gpumem_shm_event *newest = NULL, *second = NULL;
            for (unsigned i = 0; i < GPUMEM_SHM_EVENT_SLOTS; i++) {
                const struct gpumem_shm_event *e = &s->events[i];
                if (!newest || e->seq > newest->seq) {
                    second = newest;
                    newest = e;
                } else if (!second || e->seq > second->seq) second = e;
            }
            CHECK(second && second->seq + GPUMEM_SHM_EVENT_SLOTS > s->header.events_head);
            CHECK_EQ(second->op, GPUMEM_OP_ALLOC);
            CHECK_EQ(second->result, 2);
            CHECK_EQ(second->bytes, 64 * GiB);
            CHECK_EQ(newest->op, GPUMEM_OP_FREE);
            CHECK_EQ(newest->bytes, 1 * MiB);
        }
        if (fd >= 0) close(fd);
    }
    return check_done("events");
}
