/*
 * hooks_runtime.c - the runtime entry points, for programs on the shared
 * runtime. They record which API the program called; the bytes are counted
 * by the driver layer underneath. Should the driver layer not see an
 * allocation the runtime made (a path the shim does not reach), the runtime
 * layer counts it itself, so a byte is counted exactly once either way.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "alarm.h"
#include "counters.h"
#include "hooks.h"
#include "options.h"
#include "thread.h"

/* Enter a runtime call: the driver layer attributes what it sees to api. */
struct outer {
    uint8_t api, handle;
    uint64_t runtime_free;
};

static inline struct outer enter(enum gpumem_api api)
{
    struct gpumem_thread *th = &gpumem__thread;
    struct outer o = { th->runtime_api, th->driver_handle, th->runtime_free };
    if (!o.api) th->runtime_api = (uint8_t)api;
    th->driver_key = 0;
    th->driver_handle = 0;
    return o;
}

/* Leave it: returns whether the driver layer created or released a VMM
 * handle inside (then the runtime's pointer is that handle's mapping, and
 * already counted). */
static inline int leave(struct outer o)
{
    struct gpumem_thread *th = &gpumem__thread;
    int handle = th->driver_handle;
    th->runtime_api = o.api;
    th->driver_handle = o.handle | (uint8_t)handle;
    th->runtime_free = o.runtime_free;
    return handle;
}

static void leave_alloc(struct outer o, gcu_rt_error r, enum gpumem_kind kind, enum gpumem_api api, void **ptr,
                        uint64_t bytes)
{
    struct gpumem_thread *th = &gpumem__thread;
    int saved = errno;
    int handle = leave(o);
    uint64_t key = r == GCU_RT_SUCCESS && ptr ? (uint64_t)(uintptr_t)*ptr : 0;
    if (r == GCU_RT_SUCCESS && key && th->driver_key != key && !handle)
        gpumem__on_alloc(kind, api, key, bytes, gpumem__current_device(), NULL);
    else if (r == GCU_RT_ERROR_MEMORY_ALLOCATION && th->driver_key == 0)
        /* Only if the driver layer did not already count this failure. */
        gpumem__failed(api, bytes, gpumem__current_device(), GCU_ERROR_OUT_OF_MEMORY);
    gpumem__alarm_flush();
    errno = saved;
}

/* A runtime free claims its pointer before the real call, exactly as the
 * driver layer does (and in its place: runtime_free tells the driver layer
 * to leave that pointer alone). */
static inline struct outer enter_free(enum gpumem_api api, void *ptr, struct gpumem_claim *c)
{
    struct outer o = enter(api);
    uint64_t key = (uint64_t)(uintptr_t)ptr;
    gpumem__thread.runtime_free = key;
    gpumem__free_begin(GPUMEM_KIND_DEVICE, key, c);
    return o;
}

static void leave_free(struct outer o, gcu_rt_error r, enum gpumem_api api, void *ptr, struct gpumem_claim *c)
{
    int saved = errno;
    int handle = leave(o);
    /* Not in the ledger, but the driver layer released a handle inside: the
     * pointer was that handle's mapping, settled there. */
    if (c->found || !handle) gpumem__free_end(api, (uint64_t)(uintptr_t)ptr, c, r == GCU_RT_SUCCESS);
    gpumem__alarm_flush();
    errno = saved;
}

/* Reset and synchronisations only mark the runtime call in progress, so
 * that what the driver layer books is attributed to it and alarm callbacks
 * run after it returned, never inside it. */
static gcu_rt_error left(struct outer outer, gcu_rt_error r)
{
    int saved = errno;
    leave(outer);
    gpumem__alarm_flush();
    errno = saved;
    return r;
}

#define DISABLED() GPUMEM_UNLIKELY(gpumem__opt.disabled)
/* The real function, or cudaErrorInsufficientDriver from the caller. */
#define REAL_OR_FAIL(sym)                                                          \
    gcu_##sym##_fn real = (gcu_##sym##_fn)gpumem__real(&gpumem__real_##sym, #sym); \
    if (GPUMEM_UNLIKELY(!real)) return 35

#define ALLOC_WRAPPER(sym, api, kind, params, args, bytes)                       \
    gcu_rt_error sym params                                                      \
    {                                                                            \
        REAL_OR_FAIL(sym);                                                       \
        if (DISABLED()) return real args;                                        \
        struct outer outer = enter(GPUMEM_API_##api);                            \
        gcu_rt_error r = real args;                                              \
        leave_alloc(outer, r, GPUMEM_KIND_##kind, GPUMEM_API_##api, ptr, bytes); \
        return r;                                                                \
    }
#define FREE_WRAPPER(sym, api, params, args)                            \
    gcu_rt_error sym params                                             \
    {                                                                   \
        REAL_OR_FAIL(sym);                                              \
        if (DISABLED()) return real args;                               \
        struct gpumem_claim claim;                                      \
        struct outer outer = enter_free(GPUMEM_API_##api, ptr, &claim); \
        gcu_rt_error r = real args;                                     \
        leave_free(outer, r, GPUMEM_API_##api, ptr, &claim);            \
        return r;                                                       \
    }
#define MARK_WRAPPER(sym, api, params, args)          \
    gcu_rt_error sym params                           \
    {                                                 \
        REAL_OR_FAIL(sym);                            \
        if (DISABLED()) return real args;             \
        struct outer outer = enter(GPUMEM_API_##api); \
        return left(outer, real args);                \
    }
#define DEFINE_SLOT(sym, ...) _Atomic(void *) gpumem__real_##sym;
GPUMEM_RUNTIME_HOOKS(DEFINE_SLOT, DEFINE_SLOT, DEFINE_SLOT)
GPUMEM_RUNTIME_HOOKS(ALLOC_WRAPPER, FREE_WRAPPER, MARK_WRAPPER)
