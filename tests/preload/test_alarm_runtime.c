/* An alarm raised by cudaMalloc: its callback runs after the runtime call
 * returned (never inside the runtime), and may itself call cudaMalloc. */
#include "check.h"
#include "cuda_decls.h"

int fake_cudart_depth(void);

static int calls, depth_seen = -1, nested_rc = -1;

static void on_alarm(const gpumem_alarm_t *a, void *user)
{
    (void)user;
    calls++;
    if (a->level != GPUMEM_LEVEL_CRITICAL) return;
    depth_seen = fake_cudart_depth();
    void *p = NULL;
    nested_rc = (int)cudaMalloc(&p, 1 * MiB);
    if (nested_rc == 0) cudaFree(p);
}

int main(void)
{
    void *big = NULL;
    CHECK_EQ(cudaSetDevice(0), 0);
    if (SHIM) CHECK_EQ(gpumem_on_alarm(on_alarm, NULL), 0);
    CHECK_EQ(cudaMalloc(&big, 15 * GiB), 0); /* 93.75 %: critical */
    if (SHIM) {
        CHECK_EQ(calls, 1);
        CHECK_EQ(depth_seen, 0);
        CHECK_EQ(nested_rc, 0);
        CHECK_EQ(stats_of(0).reserved_bytes, 15 * GiB);
        CHECK_EQ(stats_of(0).alloc_count, 2);
    }
    CHECK_EQ(cudaFree(big), 0);
    if (SHIM) CHECK_EQ(calls, 2); /* and back to healthy */
    return check_done("alarm_runtime");
}
