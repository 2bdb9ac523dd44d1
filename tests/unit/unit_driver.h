/*
 * unit_driver.h - the CUDA driver as the shim's unit tests stand it in: the
 * table the shim calls itself (driver.h) filled with functions that answer
 * from a small model kept in the test (the current device, which pointers,
 * handles and pools the "driver" still has), so that counters, pools and
 * health link and run with no libcuda, real or stand-in, and no hook.
 *
 * Also the environment that keeps the segment in process memory, and
 * readers of the segment's rings.
 */
#ifndef GPUMEM_UNIT_DRIVER_H
#define GPUMEM_UNIT_DRIVER_H

#include <stdint.h>

#include "cuda_abi.h"
#include "gpumem_shm.h"

#define UD_MIB (UINT64_C(1) << 20)
#define UD_TOTAL (1000 * UD_MIB) /* every device's memory */
#define UD_NO_TOTAL_DEVICE 31    /* the driver cannot say this device's total */

/* GPUMEM_DISABLE=1 (the segment stays in process memory: nothing in
 * /dev/shm), default level bounds, log to log (NULL: off); then the table. */
void ud_install(const char *log);

/* What cuCtxGetDevice answers. */
extern int ud_current_device;

/* What cuPointerGetAttribute / cuMemGetAllocationPropertiesFromHandle
 * answer for key: GCU_SUCCESS while the memory is there. A key never set
 * answers GCU_ERROR_INVALID_VALUE, the driver's "no such allocation". */
void ud_pointer(uint64_t key, gcu_result answer);
void ud_handle(uint64_t key, gcu_result answer);

/* A pool as the driver knows it; answer is what every attribute query
 * returns (GCU_ERROR_INVALID_VALUE: destroyed). reads counts queries. */
struct ud_pool {
    gcu_mempool handle;
    gcu_result answer;
    uint64_t reserved, used, threshold;
    unsigned reads;
};
/* A new pool, answering GCU_SUCCESS with the given figures. */
struct ud_pool *ud_pool_new(uint64_t reserved, uint64_t used, uint64_t threshold);

/* "GPU-..." as the shim formats the UUID the stand-in gives device. */
void ud_uuid_text(int device, char *out, size_t size);

/* The newest event of op on device with this address, NULL if none. */
const struct gpumem_shm_event *ud_event(unsigned op, int device, uint64_t address);
/* The newest transition, NULL if none. */
const struct gpumem_shm_transition *ud_last_transition(void);

#endif /* GPUMEM_UNIT_DRIVER_H */
