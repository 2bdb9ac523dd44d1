/* devices.c - see devices.h. */
#define _GNU_SOURCE
#include "devices.h"

#include <stdio.h>

#include "driver.h"

static atomic_int info_state[GPUMEM_SHM_DEVICE_SLOTS]; /* 0 none, 1 filling, 2 done */

static void format_uuid(char *out, size_t n, const unsigned char *b)
{
    snprintf(out, n, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Once per device and process; retried at a later use if the driver could
 * not say its total. */
static void describe(int dev, const struct gpumem_shm_device *d)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&info_state[dev], &expected, 1)) return;
    const struct gpumem_driver *drv = gpumem__driver();
    size_t total = 0;
    if (!drv->device_total_mem || drv->device_total_mem(&total, dev) != GCU_SUCCESS) {
        atomic_store(&info_state[dev], 0);
        return;
    }
    char uuid[sizeof d->uuid] = "", pci[sizeof d->pci_bus_id] = "", name[sizeof d->name] = "";
    gcu_uuid raw;
    if (drv->device_get_uuid && drv->device_get_uuid(&raw, dev) == GCU_SUCCESS)
        format_uuid(uuid, sizeof uuid, (const unsigned char *)raw.bytes);
    if (drv->device_get_pci_bus_id) drv->device_get_pci_bus_id(pci, sizeof pci - 1, dev);
    if (drv->device_get_name) drv->device_get_name(name, sizeof name - 1, dev);
    /* Described, then bounded, then published: a thread that finds a
     * warning bound finds the total and UUID an alarm reports. */
    gpumem__seg_device_info(d, (uint64_t)total, uuid, pci, name);
    gpumem__health_limits(dev, total);
    gpumem__seg_device_ready(d);
    atomic_store(&info_state[dev], 2);
}

__attribute__((noinline, cold)) void gpumem__device_first_use(int dev, const struct gpumem_shm_device *d)
{
    gpumem__seg_device_active(d, dev);
    describe(dev, d);
}

void gpumem__devices_after_fork_child(void)
{
    for (int i = 0; i < (int)GPUMEM_SHM_DEVICE_SLOTS; i++) atomic_store(&info_state[i], 0);
}
