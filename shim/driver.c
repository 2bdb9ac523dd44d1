/*
 * driver.c - see driver.h. The shim never loads the driver itself: it only
 * finds the one the program loaded.
 */
#include "driver.h"

#include <errno.h>

#include "os.h"

/* The driver library as the program reached it, when it did so by handle. */
static _Atomic(void *) driver_handle;

void gpumem__driver_opened(void *handle)
{
    if (!atomic_exchange(&driver_handle, handle)) gpumem__driver();
}

void *gpumem__resolve(_Atomic(void *) *slot, const char *name)
{
    int saved = errno; /* the caller's errno reaches the real function intact */
    void *p = gpumem__os_symbol_next(name);
    void *h = atomic_load(&driver_handle);
    if (!p && h) p = gpumem__os_symbol(h, name);
    if (p) {
        void *expected = NULL;
        if (!atomic_compare_exchange_strong(slot, &expected, p)) p = expected;
    }
    errno = saved;
    return p;
}

struct gpumem_driver gpumem__driver_table;
atomic_int gpumem__driver_state; /* 0 unresolved, 1 resolving, 2 done */

static void *driver_symbol(void *h, const char *name)
{
    void *p = h ? gpumem__os_symbol(h, name) : NULL;
    if (!p) p = gpumem__os_symbol_next(name);
    return p;
}

const struct gpumem_driver *gpumem__driver_resolve(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&gpumem__driver_state, &expected, 1)) {
        /* Another thread is resolving: wait for it, but only a bounded time,
         * so that a thread holding the loader lock can never hang us. */
        for (int spins = 0; spins < 20000 && atomic_load(&gpumem__driver_state) == 1; spins++) gpumem__os_yield();
        static const struct gpumem_driver none;
        return atomic_load_explicit(&gpumem__driver_state, memory_order_acquire) == 2 ? &gpumem__driver_table : &none;
    }
    int saved = errno;
    void *h = atomic_load(&driver_handle);
    void *loaded = gpumem__os_loaded("libcuda.so.1");
    if (!h) h = loaded;
    struct gpumem_driver *d = &gpumem__driver_table;
    d->ctx_get_device = (gcu_cuCtxGetDevice_fn)driver_symbol(h, "cuCtxGetDevice");
    d->device_total_mem = (gcu_cuDeviceTotalMem_v2_fn)driver_symbol(h, "cuDeviceTotalMem_v2");
    d->device_get_uuid = (gcu_cuDeviceGetUuid_fn)driver_symbol(h, "cuDeviceGetUuid");
    d->device_get_pci_bus_id = (gcu_cuDeviceGetPCIBusId_fn)driver_symbol(h, "cuDeviceGetPCIBusId");
    d->device_get_name = (gcu_cuDeviceGetName_fn)driver_symbol(h, "cuDeviceGetName");
    d->device_get_mem_pool = (gcu_cuDeviceGetMemPool_fn)driver_symbol(h, "cuDeviceGetMemPool");
    d->mem_pool_get_attribute = (gcu_cuMemPoolGetAttribute_fn)driver_symbol(h, "cuMemPoolGetAttribute");
    d->mem_get_info = (gcu_cuMemGetInfo_v2_fn)driver_symbol(h, "cuMemGetInfo_v2");
    d->pointer_get_attribute = (gcu_cuPointerGetAttribute_fn)driver_symbol(h, "cuPointerGetAttribute");
    d->handle_properties = (gcu_cuMemGetAllocationPropertiesFromHandle_fn)driver_symbol(
        h, "cuMemGetAllocationPropertiesFromHandle");
    d->primary_ctx_get_state = (gcu_cuDevicePrimaryCtxGetState_fn)driver_symbol(h, "cuDevicePrimaryCtxGetState");
    /* dlopen's reference is dropped: the program's own keeps the driver. */
    if (loaded) gpumem__os_release(loaded);
    errno = saved;
    /* Only a complete answer is final; a partial one is tried again later. */
    atomic_store_explicit(&gpumem__driver_state, d->ctx_get_device ? 2 : 0, memory_order_release);
    return d;
}

void gpumem__driver_init(void)
{
    if (!gpumem__real_dlsym) gpumem__os_find_dlsym();
    void *loaded = gpumem__os_loaded("libcuda.so.1");
    if (loaded) {
        gpumem__os_release(loaded);
        gpumem__driver();
    }
}
