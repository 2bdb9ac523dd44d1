/*
 * driver.h - the CUDA driver as the shim reaches it: the real function
 * behind each hook, and the driver's own functions the shim calls itself
 * (the current device, a device's description, a pool's reserve, whether
 * memory still exists after a teardown).
 */
#ifndef GPUMEM_DRIVER_H
#define GPUMEM_DRIVER_H

#include <stdatomic.h>

#include "compiler.h"
#include "cuda_abi.h"

/* The real function behind a hook: one acquire load once resolved (the
 * resolver publishes it with a sequentially consistent compare-and-swap).
 * The slot gets the first function found, in the objects after the shim or in
 * the driver the program opened by handle. */
void *gpumem__resolve(_Atomic(void *) *slot, const char *name);
static inline void *gpumem__real(_Atomic(void *) *slot, const char *name)
{
    void *p = atomic_load_explicit(slot, memory_order_acquire);
    return GPUMEM_LIKELY(p != NULL) ? p : gpumem__resolve(slot, name);
}
/* The program reached the driver through dlopen: its handle is where the
 * shim looks for functions that RTLD_NEXT does not find. */
void gpumem__driver_opened(void *handle);

struct gpumem_driver {
    gcu_cuCtxGetDevice_fn ctx_get_device;
    gcu_cuDeviceTotalMem_v2_fn device_total_mem;
    gcu_cuDeviceGetUuid_fn device_get_uuid;
    gcu_cuDeviceGetPCIBusId_fn device_get_pci_bus_id;
    gcu_cuDeviceGetName_fn device_get_name;
    gcu_cuDeviceGetMemPool_fn device_get_mem_pool;
    gcu_cuMemPoolGetAttribute_fn mem_pool_get_attribute;
    gcu_cuMemGetInfo_v2_fn mem_get_info;
    /* After a teardown: is this memory still there? */
    gcu_cuPointerGetAttribute_fn pointer_get_attribute;
    gcu_cuMemGetAllocationPropertiesFromHandle_fn handle_properties;
    gcu_cuDevicePrimaryCtxGetState_fn primary_ctx_get_state;
};
/* The driver's own functions, resolved once; NULL members where absent.
 * State 2 means resolved: the fast path is one load. */
extern struct gpumem_driver gpumem__driver_table;
extern atomic_int gpumem__driver_state;
const struct gpumem_driver *gpumem__driver_resolve(void);
static inline const struct gpumem_driver *gpumem__driver(void)
{
    if (GPUMEM_LIKELY(atomic_load_explicit(&gpumem__driver_state, memory_order_acquire) == 2))
        return &gpumem__driver_table;
    return gpumem__driver_resolve();
}
/* The calling thread's current device, -1 if unknown. */
static inline int gpumem__current_device(void)
{
    const struct gpumem_driver *d = gpumem__driver();
    gcu_device dev;
    if (!d->ctx_get_device || d->ctx_get_device(&dev) != GCU_SUCCESS) return -1;
    return dev;
}
/* At load: a program linked with -lcuda has the driver already; resolve
 * now, while the process has one thread, rather than at a racing first call. */
void gpumem__driver_init(void);

#endif /* GPUMEM_DRIVER_H */
