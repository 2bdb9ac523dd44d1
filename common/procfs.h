/*
 * procfs.h - what gpumem reads from /proc, parsed in one place: the shim
 * stamps its segment with its own start time, and the reader compares it
 * with the start time of the process that has the pid now. Liveness depends
 * on the two agreeing, so both use this parser.
 */
#ifndef GPUMEM_PROCFS_H
#define GPUMEM_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* Field 22 (starttime, clock ticks since boot) of a /proc/PID/stat text;
 * 0 when it cannot be parsed. The command name (field 2) may hold spaces
 * and ')': fields are counted from the last ')'. */
uint64_t gm_proc_stat_start(const char *buf, size_t len);

#endif /* GPUMEM_PROCFS_H */
