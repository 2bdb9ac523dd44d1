/* The layout of the public structs of include/gpumem.h as the C compiler
 * lays them out, one line per field ("STRUCT FIELD OFFSET SIZE") and one
 * per struct ("STRUCT sizeof SIZE ALIGN"), for check_abi.py to compare with
 * the ctypes mirrors of python/gpumem/_abi.py. */
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>

#include "gpumem.h"

#define FIELD(type, f) printf("%s %s %zu %zu\n", #type, #f, offsetof(type, f), sizeof(((type *)0)->f));
#define STRUCT(type) printf("%s sizeof %zu %zu\n", #type, sizeof(type), alignof(type));

int main(void)
{
    STRUCT(gpumem_device_stats_t)
    FIELD(gpumem_device_stats_t, device_id)
    FIELD(gpumem_device_stats_t, uuid)
    FIELD(gpumem_device_stats_t, pci_bus_id)
    FIELD(gpumem_device_stats_t, name)
    FIELD(gpumem_device_stats_t, total_bytes)
    FIELD(gpumem_device_stats_t, reserved_bytes)
    FIELD(gpumem_device_stats_t, peak_bytes)
    FIELD(gpumem_device_stats_t, managed_bytes)
    FIELD(gpumem_device_stats_t, alloc_count)
    FIELD(gpumem_device_stats_t, free_count)
    FIELD(gpumem_device_stats_t, failed_count)
    FIELD(gpumem_device_stats_t, unknown_free_count)
    FIELD(gpumem_device_stats_t, percent)
    FIELD(gpumem_device_stats_t, level)
    FIELD(gpumem_device_stats_t, alarm_count)

    STRUCT(gpumem_alarm_t)
    FIELD(gpumem_alarm_t, device_id)
    FIELD(gpumem_alarm_t, uuid)
    FIELD(gpumem_alarm_t, reserved_bytes)
    FIELD(gpumem_alarm_t, total_bytes)
    FIELD(gpumem_alarm_t, percent)
    FIELD(gpumem_alarm_t, level)
    FIELD(gpumem_alarm_t, previous_level)
    return 0;
}
