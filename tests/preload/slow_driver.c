/* A driver in front of the stand-in: forwards to it, and lets the test run
 * another thread's work at a chosen point inside a driver call (what a
 * preemption at that point would allow). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
typedef unsigned int CUresult;
typedef uint64_t CUdeviceptr;
static void *real(const char *n)
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    void *p = dlsym(h, n);
    dlclose(h);
    return p;
}
void (*slow_before_free)(CUdeviceptr);
void (*slow_after_query)(CUdeviceptr, CUresult);
CUresult cuMemFree_v2(CUdeviceptr p)
{
    if (slow_before_free) slow_before_free(p);
    return ((CUresult(*)(CUdeviceptr))real("cuMemFree_v2"))(p);
}
CUresult cuPointerGetAttribute(void *data, int attr, CUdeviceptr p)
{
    CUresult r = ((CUresult(*)(void *, int, CUdeviceptr))real("cuPointerGetAttribute"))(data, attr, p);
    if (slow_after_query) slow_after_query(p, r);
    return r;
}
void (*slow_before_state)(int);
CUresult cuDevicePrimaryCtxGetState(int dev, unsigned *flags, int *active)
{
    if (slow_before_state) slow_before_state(dev);
    return ((CUresult(*)(int, unsigned *, int *))real("cuDevicePrimaryCtxGetState"))(dev, flags, active);
}
