/*
 * make_segment - write a crafted segment file, for reader tests and the
 * fuzz corpus.
 *   make_segment PATH KIND PID START [DEV:RESERVED_MIB:TOTAL_MIB:LEVEL...]
 * KIND: valid, truncated, badmagic, newversion, absurd, badoffset
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpumem.h"
#include "gpumem_shm.h"

static struct gpumem_shm_segment seg;

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: make_segment PATH KIND PID START [DEV:RES_MIB:TOTAL_MIB:LEVEL...]\n");
        return 2;
    }
    const char *kind = argv[2];
    struct gpumem_shm_header *h = &seg.header;
    h->magic = GPUMEM_SHM_MAGIC;
    h->layout_version = GPUMEM_SHM_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->segment_size = sizeof seg;
    h->pid = atoi(argv[3]);
    h->start_time_ticks = strtoull(argv[4], NULL, 10);
    h->state = GPUMEM_SHM_STATE_RUNNING;
    h->device_slots = GPUMEM_SHM_DEVICE_SLOTS;
    h->device_stride = sizeof seg.devices[0];
    h->devices_offset = offsetof(struct gpumem_shm_segment, devices);
    h->warn_percent = 80;
    h->alarm_percent = 90;
    h->hysteresis_percent = 2;
    strcpy(h->shim_version, GPUMEM_VERSION_STRING);
    strcpy(h->hostname, "testhost");
    snprintf(h->command, sizeof h->command, "crafted %s", kind);
    for (int i = 5; i < argc; i++) {
        int dev, level;
        unsigned long long res, total;
        if (sscanf(argv[i], "%d:%llu:%llu:%d", &dev, &res, &total, &level) != 4 || dev < 0 || dev >= 32) return 2;
        struct gpumem_shm_device *d = &seg.devices[dev];
        d->flags = GPUMEM_SHM_DEVICE_ACTIVE | GPUMEM_SHM_DEVICE_INFO;
        d->ordinal = dev;
        d->total_bytes = total << 20;
        d->reserved_bytes = d->peak_bytes = res << 20;
        d->level = (uint32_t)level;
        d->alloc_count = 1;
        snprintf(d->uuid, sizeof d->uuid, "GPU-00000000-0000-0000-0000-0000000000%02d", dev);
        snprintf(d->pci_bus_id, sizeof d->pci_bus_id, "0000:%02X:00.0", 0x10 + dev);
        snprintf(d->name, sizeof d->name, "crafted GPU %d", dev);
    }
    size_t len = sizeof seg;
    if (strcmp(kind, "truncated") == 0) len = 700;
    else if (strcmp(kind, "badmagic") == 0) h->magic ^= 1;
    else if (strcmp(kind, "newversion") == 0) h->layout_version = 2;
    else if (strcmp(kind, "absurd") == 0) h->device_slots = 100000000;
    else if (strcmp(kind, "badoffset") == 0) h->devices_offset = UINT64_MAX - 100;
    else if (strcmp(kind, "valid") != 0) return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, &seg, len) != (ssize_t)len) return 1;
    return close(fd);
}
