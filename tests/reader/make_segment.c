/*
 * make_segment - write a crafted segment file, for reader tests and the
 * fuzz corpus.
 *   make_segment PATH KIND PID START [DEV:RESERVED_MIB:TOTAL_MIB:LEVEL...]
 * KIND: valid, oom (with an OOM record), truncated, badmagic, newversion,
 *       absurd, badoffset, exited (valid, marked exited), unstamped (full
 *       size, all zero: killed before the header was written), empty (0
 *       bytes: killed before it was sized), history (with a history
 *       section: fine ring 1s:4, coarse 60s:2, device 0 with two buckets),
 *       and that section made hostile: histoutside (past the end),
 *       histdepth (a ring of one bucket), histhead (a head not in its ring),
 *       histstride (buckets of another size); for gpumem watch, an exited
 *       process with watchring (a ring of 3 slots, head 2^62) or watchoom
 *       (2^62 failures counted, no record)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpumem.h"
#include "gpumem_shm.h"
#include "segment_read.h"

/* The segment, then room for a history section of 6 buckets. */
static struct {
    struct gpumem_shm_segment seg;
    struct gpumem_shm_bucket history[6];
} file;
#define seg file.seg

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: make_segment PATH KIND PID START [DEV:RES_MIB:TOTAL_MIB:LEVEL...]\n");
        return 2;
    }
    const char *kind = argv[2];
    struct gpumem_shm_header *h = &seg.header;
    char command[sizeof h->command];
    snprintf(command, sizeof command, "crafted %s", kind);
    gpumem__segment_header_fill(h, &(struct gpumem_header_values){ .pid = atoi(argv[3]),
                                                                   .start_time_ticks = strtoull(argv[4], NULL, 10),
                                                                   .warn_percent = 80,
                                                                   .alarm_percent = 90,
                                                                   .hysteresis_percent = 2,
                                                                   .hostname = "testhost",
                                                                   .command = command });
    h->state = GPUMEM_SHM_STATE_RUNNING;
    h->magic = GPUMEM_SHM_MAGIC;
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
    else if (strcmp(kind, "exited") == 0) {
        h->state = GPUMEM_SHM_STATE_EXITED;
        h->exited_unix_ns = 1800000000000000000ull;
    } else if (strcmp(kind, "watchring") == 0 || strcmp(kind, "watchoom") == 0) {
        h->state = GPUMEM_SHM_STATE_EXITED;
        h->exited_unix_ns = 1800000000000000000ull;
        if (kind[5] == 'r') h->transition_slots = 3, h->transitions_head = 1ull << 62;
        else h->oom_count = 1ull << 62;
    } else if (strcmp(kind, "unstamped") == 0) memset(&seg, 0, sizeof seg);
    else if (strcmp(kind, "empty") == 0) len = 0;
    else if (strcmp(kind, "oom") == 0) {
        /* A failure on device 0 with two large allocations, three events and
         * one level change: enough for every part of a report. */
        struct gpumem_shm_oom *o = &seg.oom;
        o->seq = 2;
        o->unix_ns = 1800000000000000000ull;
        o->number = o->oom_count = 1;
        o->requested_bytes = 8ull << 30;
        o->driver_free_bytes = 1ull << 30;
        o->driver_total_bytes = 16ull << 30;
        o->live_count = 2;
        o->result = 2;
        o->api = GPUMEM_API_CUDA_MALLOC;
        o->nlarge = 2;
        o->devices[0].reserved_bytes = seg.devices[0].reserved_bytes;
        o->devices[0].peak_bytes = seg.devices[0].reserved_bytes;
        o->hist_count[30] = 2;
        o->hist_bytes[30] = 3ull << 30;
        strcpy(o->environment, "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\nCUDA_VISIBLE_DEVICES=0\n");
        strcpy(o->traces[0], "train+0x10 (main+0x10)\nlibc.so.6+0x2724a\n");
        seg.large[0] = (struct gpumem_shm_large){ .address = 0x700000000000,
                                                  .bytes = 2ull << 30,
                                                  .unix_ns = o->unix_ns - 1000000000 };
        seg.large[1] = (struct gpumem_shm_large){ .address = 0x700080000000,
                                                  .bytes = 1ull << 30,
                                                  .unix_ns = o->unix_ns - 500000000 };
        o->nevents = 3;
        for (int i = 0; i < 3; i++)
            o->events[i] = (struct gpumem_shm_event){ .seq = (uint64_t)i + 1,
                                                      .unix_ns = o->unix_ns - 1000000 * (3 - i),
                                                      .bytes = i == 2 ? 8ull << 30 : 1ull << 30,
                                                      .result = i == 2 ? 2 : 0,
                                                      .api = GPUMEM_API_CUDA_MALLOC,
                                                      .op = GPUMEM_OP_ALLOC };
        h->transitions_head = 1;
        seg.transitions[0] = (struct gpumem_shm_transition){ .seq = 1,
                                                             .unix_ns = o->unix_ns - 2000000,
                                                             .level = 2,
                                                             .reserved_bytes = 15ull << 30 };
        o->transitions_head = 1;
    } else if (strncmp(kind, "hist", 4) == 0) {
        /* Device 0: 64 MiB at tick 1, a spike to 576 MiB in tick 3 that
         * ends at 80 MiB; 3 allocations so far. */
        h->history_offset = sizeof seg;
        h->history_size = sizeof file.history;
        h->history_sets = 1;
        h->history_stride = sizeof(struct gpumem_shm_bucket);
        h->history_width_ns[0] = 1000000000u;
        h->history_width_ns[1] = 60000000000u;
        h->history_depth[0] = 4;
        h->history_depth[1] = 2;
        h->history_anchor_mono_ns = 5000000000u;
        h->history_anchor_unix_ns = 1800000000000000000ull;
        seg.devices[0].history_set = 1;
        seg.devices[0].history_cur[0] = 3ull << GPUMEM_SHM_HISTORY_SLOT_BITS | 3;
        file.history[1] = (struct gpumem_shm_bucket){ 1ull << 40 | 64 << 20, 1ull << 40 | 64 << 20 };
        file.history[3] = (struct gpumem_shm_bucket){ 3ull << 40 | 576 << 20, 3ull << 40 | 80 << 20 };
        len = sizeof file;
        h->segment_size = len;
        if (strcmp(kind, "histoutside") == 0) h->history_offset = sizeof file - 32;
        else if (strcmp(kind, "histdepth") == 0) h->history_depth[1] = 1;
        else if (strcmp(kind, "histhead") == 0)
            seg.devices[0].history_cur[0] = 3ull << GPUMEM_SHM_HISTORY_SLOT_BITS | 2;
        else if (strcmp(kind, "histstride") == 0) h->history_stride = 24;
        else if (strcmp(kind, "history") != 0) return 2;
    } else if (strcmp(kind, "valid") != 0) return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (len && write(fd, &file, len) != (ssize_t)len)) return 1;
    return close(fd);
}
