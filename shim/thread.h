/*
 * thread.h - what the shim remembers per thread, so that the runtime and
 * driver layers count a byte once and alarm callbacks run where they may.
 */
#ifndef GPUMEM_THREAD_H
#define GPUMEM_THREAD_H

#include <stdint.h>

struct gpumem_thread {
    uint8_t runtime_api;   /* enum gpumem_api of the runtime call in progress  */
    uint8_t driver_handle; /* the driver layer created or released a VMM handle
                              inside that runtime call                         */
    int in_alarm;          /* inside alarm callbacks                           */
    uint64_t driver_key;   /* the last pointer the driver layer counted, or
                              UINT64_MAX after a failure it counted             */
    uint64_t runtime_free; /* the pointer a runtime free in progress has claimed:
                              the driver layer leaves it to the runtime layer   */
};
extern __thread struct gpumem_thread gpumem__thread __attribute__((tls_model("initial-exec")));

#endif /* GPUMEM_THREAD_H */
