/*
 * snapshot.h - the reader's view of one process's segment: found, copied
 * out safely, validated, and turned into plain structs.
 *
 * Nothing here trusts the segment: every offset, count and string is
 * checked before use, so a truncated, foreign, hostile or newer segment
 * yields one clear reason and never a crash.
 */
#ifndef GPUMEM_SNAPSHOT_H
#define GPUMEM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "gpumem.h"
#include "gpumem_shm.h"

#define GM_MAX_SEGMENT_BYTES (16u << 20) /* larger files are not ours */
#define GM_MAX_DEVICE_SLOTS 1024u

struct gm_device {
    int ordinal;
    int has_info;
    char uuid[48], pci_bus_id[32], name[128];
    uint64_t total_bytes, reserved_bytes, peak_bytes, peak_unix_ns, managed_bytes;
    uint64_t alloc_count, free_count, failed_count, unknown_free_count, alarm_count, last_transition_unix_ns;
    unsigned level; /* enum gpumem_level, clamped to 0..2 */
};

enum gm_liveness { GM_ALIVE, GM_EXITED, GM_DEAD };

struct gm_process {
    int pid;
    uint64_t start_time_ticks, created_unix_ns, exited_unix_ns;
    unsigned state; /* enum gpumem_shm_state */
    enum gm_liveness liveness;
    char command[512], hostname[64], shim_version[16];
    uint64_t oom_count, untracked_count;
    unsigned warn_percent, alarm_percent, hysteresis_percent;
    int ndevices;
    struct gm_device devices[GPUMEM_SHM_DEVICE_SLOTS];
    char path[256];
};

/* Validate and decode a copy of a segment. 0 on success; otherwise -1 and a
 * reason in why (e.g. "bad magic", "layout version 2 is newer than this
 * reader's 1"). */
int gm_snapshot_parse(const void *buf, size_t len, struct gm_process *out, char *why, size_t why_len);

/* Copy the segment file at path into a fresh buffer (free() it) without
 * ever faulting, even if the file shrinks meanwhile. 0 or -1 with why. */
int gm_snapshot_copy(const char *path, void **buf, size_t *len, char *why, size_t why_len);

/* Read, parse and check the owner and liveness of one segment. */
int gm_snapshot_load(const char *path, struct gm_process *out, char *why, size_t why_len);

/* Whether pid is the process that started at start_ticks. */
enum gm_liveness gm_liveness_of(int pid, uint64_t start_ticks, unsigned state);

/* Segment files /dev/shm/<prefix>.<pid>, sorted by pid; returns how many
 * paths were written (each malloc'd). */
size_t gm_snapshot_list(const char *dir, const char *prefix, char ***paths);

#endif /* GPUMEM_SNAPSHOT_H */
