/*
 * snapshot.h - the reader's side of a segment file: found, copied out
 * without ever faulting, decoded (common/segment_read.h), checked for its owner
 * and whether its process still runs, and removed by gc only once it is
 * proven to be the file of a process that has ended.
 *
 * Everything works on a directory descriptor: the directory that was listed
 * is the one read and the one gc removes from (GPUMEM_SHM_DIR included).
 */
#ifndef GPUMEM_SNAPSHOT_H
#define GPUMEM_SNAPSHOT_H

#include <sys/stat.h>
#include <sys/types.h>

#include "segment_read.h"

/* Copy the open segment file fd (whose fstat is st) into a fresh buffer
 * (free() it) without ever faulting, even if the file shrinks meanwhile.
 * 0 or -1 with why. */
int gpumem__snapshot_copy_fd(int fd, const struct stat *st, void **buf, void **recheck, size_t *len, char *why,
                             size_t why_len);

/* Between these two, gpumem__snapshot_load_at (without oom) leaves the
 * segments it reads mapped, to unmap them a batch at a time: far cheaper
 * over a listing than one munmap each. release unmaps what is left. */
void gpumem__snapshot_batch(void);
void gpumem__snapshot_release(void);

/* What reading one segment file found. */
enum gpumem_snapshot {
    GPUMEM_SNAPSHOT_OK = 0,          /* decoded and trusted: out is filled           */
    GPUMEM_SNAPSHOT_BAD = -1,        /* damaged, foreign or forged: why says which    */
    GPUMEM_SNAPSHOT_GONE = -2,       /* vanished since it was listed (not an error)   */
    GPUMEM_SNAPSHOT_STARTING = -3,   /* not yet stamped, its pid runs: being made */
    GPUMEM_SNAPSHOT_UNFINISHED = -4, /* never stamped and its pid is gone: its
                                  * process was killed while creating it     */
    GPUMEM_SNAPSHOT_UNREADABLE = -5, /* another user's file we may not read      */
};

/* Read, parse and check one segment dir/name (name: <prefix>.<pid>). oom as
 * in gpumem__segment_parse. st, if not NULL, receives the fstat of the file read
 * (also for STARTING/UNFINISHED/UNREADABLE, where it is the lstat). fd, if
 * not NULL, receives the open descriptor of the file read (or -1), which
 * the caller closes: it pins the inode that was checked. */
enum gpumem_snapshot gpumem__snapshot_load_at(int dirfd, const char *name, struct gpumem_process *out,
                                              struct gpumem_oom *oom, struct stat *st, int *fd, char *why,
                                              size_t why_len);

/* A small file dfd/file (a /proc entry) read whole into buf, NUL-ended:
 * its length, or -1. */
ssize_t gpumem__read_at(int dfd, const char *file, char *buf, size_t size);

/* The pid in a name <prefix>.<pid>, or -1 if name is not one. */
int gpumem__snapshot_pid_of(const char *name, const char *prefix);

/* Names <prefix>.<pid> in the directory dirfd, sorted by pid; returns how
 * many were written (each malloc'd, as is the array). */
size_t gpumem__snapshot_list(int dirfd, const char *prefix, char ***names);

/* Whether the process that wrote a segment is gone now. stamped_start 0
 * means unknown (an unstamped segment: only the pid of its name is known),
 * and then only a pid that no process holds counts as gone. A pid that
 * exists but whose start time cannot be read counts as not gone. */
int gpumem__process_gone(int pid, uint64_t stamped_start);

/* gc's removal of one segment dir/name that was read as st (its inode) and
 * whose writer is gone: that of p as parsed, judged as gpumem__fleet_gone
 * does (by its host pid when it is in another pid namespace), or, p NULL,
 * an unstamped segment's, known only by the pid of its name. The name
 * is first renamed to a private name, and only if the inode there is the
 * one checked and the writer is still gone is it unlinked; otherwise it is
 * put back. So a segment that a new process with the same pid created
 * meanwhile is never removed. */
enum gpumem_remove {
    GPUMEM_REMOVED = 0,
    GPUMEM_REMOVE_KEPT = 1,     /* its writer runs after all: left in place      */
    GPUMEM_REMOVE_GONE = 2,     /* someone else removed it first                 */
    GPUMEM_REMOVE_REPLACED = 3, /* a new file took the name meanwhile (a new
                             * process with the pid): put back, left alone   */
    GPUMEM_REMOVE_FAILED = -1   /* why says (permission, or could not put back)    */
};
enum gpumem_remove gpumem__snapshot_remove_at(int dirfd, const char *name, const struct stat *st,
                                              const struct gpumem_process *p, int pid, char *why, size_t why_len);

#endif /* GPUMEM_SNAPSHOT_H */
