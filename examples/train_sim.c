/*
 * train_sim - a simulated training job on the runtime API, the way a
 * framework reserves memory: weights once, then a cache of activation
 * blocks that grows step by step until the device is full.
 *
 * It knows nothing of gpumem. To show the reader's view as it goes, it runs
 * $DEMO_READER (if set) between steps, as an operator would in another shell.
 */
#include <stdio.h>
#include <stdlib.h>

typedef int cudaError_t;
cudaError_t cudaSetDevice(int);
cudaError_t cudaMalloc(void **, size_t);
cudaError_t cudaFree(void *);
const char *cudaGetErrorString(cudaError_t);

#define GiB (1024.0 * 1024.0 * 1024.0)

static void look(const char *what)
{
    const char *reader = getenv("DEMO_READER");
    printf("\n-- %s\n", what);
    fflush(stdout);
    if (reader && system(reader) != 0) printf("(reader failed)\n");
    fflush(stdout);
}

static void *reserve(int device, double gib)
{
    void *p = NULL;
    cudaSetDevice(device);
    cudaError_t e = cudaMalloc(&p, (size_t)(gib * GiB));
    if (e != 0) {
        printf("train_sim: cudaMalloc(%.1f GiB) on cuda:%d failed: %s\n", gib, device, cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

int main(void)
{
    printf("train_sim: loading the model: 6.0 GiB of weights on cuda:0, a 6.5 GiB replica on cuda:1\n");
    if (!reserve(0, 6.0) || !reserve(1, 6.5)) return 1;
    look("after loading the model (healthy: below 80 %)");

    /* Each step caches more activation blocks, as a caching allocator does. */
    const double steps[] = { 3.0, 4.0, 1.8, 2.0 };
    double held = 6.0;
    for (int i = 0; i < 4; i++) {
        printf("\ntrain_sim: step %d caches %.1f GiB more activations on cuda:0 (%.1f of 16.0 GiB)\n", i + 1, steps[i],
               held + steps[i]);
        fflush(stdout);
        if (!reserve(0, steps[i])) {
            look("after the failed step: the reader still has the whole story");
            printf("\ntrain_sim: out of memory at step %d; exiting with status 1 as the program would\n", i + 1);
            return 1;
        }
        held += steps[i];
        if (i == 1) look("step 2: cuda:0 crossed 80 % (warning)");
        if (i == 2) look("step 3: cuda:0 crossed 90 % (critical)");
    }
    return 0;
}
