/*
 * hooks_lookup.c - every way a program finds a CUDA function.
 *
 *  - Direct linking binds to the shim's exports; their real function comes
 *    from dlsym(RTLD_NEXT, name).
 *  - dlsym(handle, name) on a real handle (how both the shared and the static
 *    runtime find cuGetProcAddress_v2) gets the hook of that exact name.
 *  - cuGetProcAddress(_v2) answers (name, version, flags): the shim calls the
 *    real lookup with the caller's exact arguments and substitutes its hook
 *    only where the hook has the ABI the driver chose.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "hooks.h"
#include "os.h"

struct hook {
    const char *symbol; /* exported name */
    const char *base;   /* cuGetProcAddress name, NULL for runtime hooks */
    int version;
    int ptds;
    void *wrapper;
    _Atomic(void *) *real;
};

static const struct hook hooks[] = {
#define DRIVER_ROW(sym, type, base, version, ptds) { #sym, base, version, ptds, (void *)&sym, &gpumem__real_##sym },
    GPUMEM_DRIVER_HOOKS(DRIVER_ROW)
#define RUNTIME_ROW(sym, ...) { #sym, NULL, 0, 0, (void *)&sym, &gpumem__real_##sym },
        GPUMEM_RUNTIME_HOOKS(RUNTIME_ROW, RUNTIME_ROW, RUNTIME_ROW)
};
#define NHOOKS (sizeof hooks / sizeof hooks[0])

static const struct hook *hook_by_symbol(const char *name)
{
    for (size_t i = 0; i < NHOOKS; i++)
        if (strcmp(hooks[i].symbol, name) == 0) return &hooks[i];
    return NULL;
}

/* Record p as the real function of h. Returns 0 when h already calls a
 * different function: the caller then leaves p unwrapped. */
static int adopt(const struct hook *h, void *p)
{
    void *expected = NULL;
    if (atomic_compare_exchange_strong(h->real, &expected, p)) return 1;
    return expected == p;
}

void *gpumem__dlsym_hook(void *handle, const char *name)
{
    if (GPUMEM_UNLIKELY(!gpumem__real_dlsym)) gpumem__os_find_dlsym();
    /* Fast exit for everything that is not a CUDA lookup on a real handle:
     * RTLD_DEFAULT and RTLD_NEXT go to the real dlsym untouched. */
    if (handle == RTLD_DEFAULT || handle == RTLD_NEXT || !name || name[0] != 'c' || name[1] != 'u') return NULL;
    const struct hook *h = hook_by_symbol(name);
    if (!h) return NULL;
    int saved = errno;
    void *p = gpumem__os_symbol(handle, name);
    void *result = NULL;
    if (p && p != h->wrapper && adopt(h, p)) {
        if (h->base) gpumem__driver_opened(handle);
        result = h->wrapper;
    }
    errno = saved;
    return result;
}

/* The real lookup, for the shim's own questions. */
static gcu_result real_lookup(const char *symbol, void **pfn, int version, gcu_uint64 flags)
{
    gcu_cuGetProcAddress_v2_fn v2 = (gcu_cuGetProcAddress_v2_fn)atomic_load(&gpumem__real_cuGetProcAddress_v2);
    if (v2) return v2(symbol, pfn, version, flags, NULL);
    gcu_cuGetProcAddress_fn v1 = (gcu_cuGetProcAddress_fn)atomic_load(&gpumem__real_cuGetProcAddress);
    if (v1) return v1(symbol, pfn, version, flags);
    return GCU_ERROR_NOT_FOUND;
}

static void *gpumem__substitute(const char *symbol, void *found, int version, gcu_uint64 flags)
{
    int want_ptds = (flags & GCU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
    /* Newest ABI first: the table lists each base name oldest first. */
    for (size_t k = NHOOKS; k-- > 0;) {
        const struct hook *h = &hooks[k];
        if (!h->base || h->version > version || h->ptds > want_ptds || strcmp(h->base, symbol) != 0) continue;
        if (found == h->wrapper) return found;
        if (h->version == version && h->ptds == want_ptds) {
            /* Exactly the ABI of this hook: what the driver returned is by
             * definition that function (should the hook already call another
             * copy of it, the two are equivalent). */
            adopt(h, found);
            return h->wrapper;
        }
        /* A newer version or other flags than the hook's own: substitute
         * only if the driver gives the same function for the hook's exact
         * (name, version, flags), which proves the ABI is unchanged. */
        void *same = atomic_load(h->real);
        if (!same) {
            void *p = NULL;
            if (real_lookup(h->base, &p, h->version, h->ptds ? GCU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM : 0) ==
                    GCU_SUCCESS &&
                p)
                same = adopt(h, p) ? p : atomic_load(h->real);
        }
        if (same == found) return h->wrapper;
    }
    return found;
}

#define LOOKUP_WRAPPER_BODY(call)                                        \
    gcu_result r = call;                                                 \
    if (r == GCU_SUCCESS && pfn && *pfn && symbol && symbol[0] == 'c') { \
        int saved = errno;                                               \
        *pfn = gpumem__substitute(symbol, *pfn, version, flags);         \
        errno = saved;                                                   \
    }                                                                    \
    return r;

gcu_result cuGetProcAddress_v2(const char *symbol, void **pfn, int version, gcu_uint64 flags, gcu_proc_status *status)
{
    gcu_cuGetProcAddress_v2_fn real = GPUMEM_REAL(cuGetProcAddress_v2, cuGetProcAddress_v2);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    LOOKUP_WRAPPER_BODY(real(symbol, pfn, version, flags, status))
}

gcu_result cuGetProcAddress(const char *symbol, void **pfn, int version, gcu_uint64 flags)
{
    gcu_cuGetProcAddress_fn real = GPUMEM_REAL(cuGetProcAddress, cuGetProcAddress);
    if (GPUMEM_UNLIKELY(!real)) return GCU_ERROR_NOT_FOUND;
    LOOKUP_WRAPPER_BODY(real(symbol, pfn, version, flags))
}
