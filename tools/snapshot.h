/*
 * snapshot.h - the reader's side of a segment file: found, copied out
 * without ever faulting, decoded (common/segment.h), and checked for its
 * owner and whether its process still runs.
 */
#ifndef GPUMEM_SNAPSHOT_H
#define GPUMEM_SNAPSHOT_H

#include "segment.h"

/* Copy the segment file at path into a fresh buffer (free() it) without
 * ever faulting, even if the file shrinks meanwhile. 0 or -1 with why. */
int gm_snapshot_copy(const char *path, void **buf, void **recheck, size_t *len, char *why, size_t why_len);

/* Read, parse and check the owner and liveness of one segment; oom as in
 * gm_segment_parse. 0, -1 with why, or GM_SNAPSHOT_GONE for a segment that
 * vanished or is still being created by its live writer (not an error). */
#define GM_SNAPSHOT_GONE (-2)
int gm_snapshot_load(const char *path, struct gm_process *out, struct gm_oom *oom, char *why, size_t why_len);

/* Whether pid is the process that started at start_ticks. */
enum gm_liveness gm_liveness_of(int pid, uint64_t start_ticks, unsigned state);

/* Segment files /dev/shm/<prefix>.<pid>, sorted by pid; returns how many
 * paths were written (each malloc'd). */
size_t gm_snapshot_list(const char *dir, const char *prefix, char ***paths);

#endif /* GPUMEM_SNAPSHOT_H */
