/* WARNING raised by cuMemAllocAsync's pool re-read (under the slot lock);
 * the callback frees a cached block of the same pool (cuMemFreeAsync). */
#include <signal.h>
#include <unistd.h>
#include "check.h"
#include "cuda_decls.h"
static gcu_deviceptr cached;
static void on_alarm(const gpumem_alarm_t *a, void *u)
{
    (void)u;
    fprintf(stderr, "alarm %d -> %d\n", a->previous_level, a->level);
    if (cached) {
        gcu_deviceptr c = cached;
        cached = 0;
        cuMemFreeAsync(c, NULL);
    }
}
static void hang(int sig)
{
    (void)sig;
    static const char m[] = "HUNG\n";
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
    CHECK_EQ(cuMemAllocAsync(&cached, 40u << 20, NULL), 0);
    CHECK_EQ(cuMemAllocAsync(&p, 45u << 20, NULL), 0); /* 85 of 100 MiB: WARNING */
    fprintf(stderr, "returned\n");
    return check_done("callback_free");
}
