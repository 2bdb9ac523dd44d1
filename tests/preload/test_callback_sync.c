/* An alarm raised while a pool's reserve is re-read at a synchronisation is
 * delivered under the slot's spin lock; a callback that synchronises again
 * (a natural reaction: drain, then trim) re-enters pools_synchronized and
 * spins on the lock its own thread holds. */
#include <signal.h>
#include <unistd.h>
#include "check.h"
#include "cuda_decls.h"
/* Found by review: the charge used to change under the pool slot's spin lock. */
static volatile int armed;
static void on_alarm(const gpumem_alarm_t *a, void *u)
{
    (void)u;
    fprintf(stderr, "alarm level %d -> %d reserved %llu\n", a->previous_level, a->level,
            (unsigned long long)a->reserved_bytes);
    if (armed) cuStreamSynchronize(NULL);
}
static void hang(int sig)
{
    (void)sig;
    static const char m[] = "HUNG: callback's cuStreamSynchronize never returned\n";
    write(2, m, sizeof m - 1);
    _exit(3);
}
int main(void)
{
    signal(SIGALRM, hang);
    alarm(5);
    gcu_context ctx;
    gcu_deviceptr p;
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    if (SHIM) gpumem_on_alarm(on_alarm, NULL);
    CHECK_EQ(cuMemAllocAsync(&p, 85u << 20, NULL), 0); /* 85 of 100 MiB: WARNING */
    CHECK_EQ(cuMemFreeAsync(p, NULL), 0);              /* pending; the pool keeps it */
    armed = 1;
    CHECK_EQ(cuStreamSynchronize(NULL), 0); /* shrinks: back to HEALTHY, alarm */
    fprintf(stderr, "returned\n");
    if (SHIM) CHECK_EQ(stats_of(0).reserved_bytes, 0);
    return check_done("callback_sync");
}
