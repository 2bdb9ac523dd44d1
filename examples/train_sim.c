/*
 * train_sim - a simulated training job on the runtime API, the way a
 * framework reserves memory: weights once, then a cache of activation
 * blocks that grows step by step until the device is full.
 *
 * It knows nothing of gpumem. To show the reader's view as it goes, it runs
 * $DEMO_READER (if set) between steps, as an operator would in another shell.
 *
 * train_sim --batch N [--steps S] [--step-ms MS] is the steady job of the
 * memory-scaling example (examples/batch_scaling.py) instead: 2 GiB of
 * weights on cuda:0, then S steps of MS ms each that hold N x 48 MiB of
 * activations and, for a moment in the middle of the step, N x 24 MiB more
 * of workspace, all freed at the step's end. Its peak is 2 GiB + N x 72 MiB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, ms % 1000 * 1000000 };
    nanosleep(&t, NULL);
}

/* The steady job: a step holds its activations, a workspace spikes on top. */
static int batch_job(long batch, long steps, long step_ms)
{
    const size_t MiB = 1 << 20;
    void *weights = reserve(0, 2.0);
    if (!weights) return 1;
    printf("train_sim: batch %ld, %ld steps of %ld ms, peak planned %ld MiB\n", batch, steps, step_ms,
           2048 + batch * 72);
    for (long s = 0; s < steps; s++) {
        void *act[4] = { 0 }, *work = NULL;
        for (int k = 0; k < 4; k++)
            if (cudaMalloc(&act[k], (size_t)batch * 12 * MiB) != 0) return 1;
        sleep_ms(step_ms * 2 / 5);
        if (cudaMalloc(&work, (size_t)batch * 24 * MiB) != 0) return 1;
        sleep_ms(step_ms / 10);
        cudaFree(work);
        sleep_ms(step_ms / 2);
        for (int k = 0; k < 4; k++) cudaFree(act[k]);
    }
    cudaFree(weights);
    return 0;
}

int main(int argc, char **argv)
{
    long batch = 0, nsteps = 20, step_ms = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = strtol(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--batch") == 0 && v > 0 && v <= 1024) batch = v;
        else if (strcmp(argv[i], "--steps") == 0 && v > 0 && v <= 100000) nsteps = v;
        else if (strcmp(argv[i], "--step-ms") == 0 && v > 0 && v <= 60000) step_ms = v;
        else {
            fprintf(stderr, "usage: train_sim [--batch N [--steps S] [--step-ms MS]]\n");
            return 2;
        }
    }
    if (batch) return batch_job(batch, nsteps, step_ms);

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
