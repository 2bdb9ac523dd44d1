/*
 * procfs.h - what gpumem reads from /proc, parsed from a buffer: pure, so
 * the shim (which stamps its segment) and the reader (which checks the
 * stamp to tell a live writer from a reused pid) parse it the same way.
 */
#ifndef GPUMEM_PROCFS_H
#define GPUMEM_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* Field 22 of /proc/PID/stat, the start time in clock ticks since boot,
 * which with the pid names a process uniquely. The command (field 2) may
 * hold spaces and ')', so fields are counted from the last ')'. buf need
 * not be NUL-terminated. 0 when it cannot be parsed. */
uint64_t gpumem__proc_stat_start(const char *buf, size_t len);

/* The same, telling a start time of 0 from a stat that cannot be parsed:
 * 0 with *start set, or -1. */
int gpumem__proc_stat_parse_start(const char *buf, size_t len, uint64_t *start);

#endif /* GPUMEM_PROCFS_H */
