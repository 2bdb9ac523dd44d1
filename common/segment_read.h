/*
 * segment_read.h - a process's segment decoded into plain structs: validated,
 * never trusted. Compiled into the reader and into the shim, which renders
 * its own post-mortem from its own segment the same way the reader does
 * from a dead process's, so both reports are the same.
 *
 * Every offset, count and string is checked before use: a truncated,
 * foreign, hostile or newer segment yields one clear reason, never a crash.
 */
#ifndef GPUMEM_SEGMENT_READ_H
#define GPUMEM_SEGMENT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "gpumem.h"
#include "gpumem_shm.h"

#define GPUMEM_MAX_SEGMENT_BYTES (16u << 20) /* larger files are not ours */
#define GPUMEM_MAX_DEVICE_SLOTS 1024u

struct gpumem_device {
    int ordinal;
    int has_info;
    char uuid[48], pci_bus_id[32], name[128];
    uint64_t total_bytes, reserved_bytes, peak_bytes, peak_unix_ns, managed_bytes;
    uint64_t alloc_count, free_count, failed_count, unknown_free_count, alarm_count, last_transition_unix_ns;
    unsigned level; /* enum gpumem_level, clamped to 0..2 */
    /* issue 16 (automation) fields go here */
    uint64_t free_bytes, free_sampled_unix_ns, largest_recent_request, headroom_bytes; /* 0: unknown */
    unsigned risk; /* enum gpumem_shm_risk, clamped to 0..2 */
    uint64_t risk_changes, risk_unix_ns, free_samples;
    /* issue 15 (history) fields go here */
    uint32_t history_set;    /* 1 + its ring set; 0 or above the sets: none */
    uint64_t history_cur[2]; /* newest bucket per ring: tick << 24 | slot, 0 none */
};

/* GPUMEM_UNKNOWN: a writer in another pid namespace that this reader cannot
 * look for (no privilege, or its namespace is not visible from here). */
enum gpumem_liveness { GPUMEM_ALIVE, GPUMEM_EXITED, GPUMEM_DEAD, GPUMEM_UNKNOWN };

#define GPUMEM_OOM_MINUTE_CELLS 60

struct gpumem_event {
    uint64_t unix_ns, bytes, address;
    int32_t result;
    int device;
    unsigned api, op;
};

struct gpumem_transition {
    uint64_t unix_ns, reserved_bytes;
    int device;
    unsigned level, previous;
};

struct gpumem_large {
    uint64_t address, bytes, unix_ns;
    int device;
    unsigned api;
    char trace[GPUMEM_SHM_OOM_TRACE_BYTES]; /* frame lines, empty if unknown */
};

#define GPUMEM_OOM_HISTORY 300 /* 5 minutes at the default 1 s */

/* The last out-of-memory failure, as frozen in the segment. */
struct gpumem_oom {
    int present;
    uint64_t unix_ns, number, requested_bytes, driver_free_bytes, driver_total_bytes, live_count, oom_count;
    int device, result;
    unsigned api;
    struct {
        uint64_t reserved_bytes, peak_bytes, peak_unix_ns, managed_bytes;
    } devices[GPUMEM_SHM_OOM_DEVICES];
    uint64_t hist_count[GPUMEM_SHM_HISTOGRAM_BINS], hist_bytes[GPUMEM_SHM_HISTOGRAM_BINS];
    char report_path[256];
    char environment[2048];
    size_t nlarge, nevents, ntransitions;
    struct gpumem_large large[GPUMEM_SHM_LARGE_SLOTS];
    struct gpumem_event events[GPUMEM_SHM_OOM_EVENTS];                 /* oldest first, up to the failure */
    struct gpumem_transition transitions[GPUMEM_SHM_TRANSITION_SLOTS]; /* oldest first */
    /* The last minute before the failure on its device, the highest bytes
     * of each second, oldest first: the text report's sparkline. Not in the
     * segment's record: the reader fills it from the history (nminute 0:
     * not known, no sparkline). */
    size_t nminute;
    uint64_t minute[GPUMEM_OOM_MINUTE_CELLS];
    /* The failing device's memory over the last GPUMEM_OOM_HISTORY buckets
     * of its history's fine ring (of the coarse one when the fine is off)
     * before the failure's (which later events may still change), oldest
     * first and gap-free: a bucket without an event carries the last value
     * before it. 0 when the segment keeps no history of that device, or
     * no longer (a lap of the ring after the failure) (issue 15). */
    size_t nhistory;
    uint64_t history_width_ns;
    struct gpumem_oom_point {
        uint64_t unix_ns, high_bytes, last_bytes;
    } history[GPUMEM_OOM_HISTORY];
};

struct gpumem_process {
    int pid;
    uint64_t start_time_ticks, created_unix_ns, exited_unix_ns;
    unsigned state; /* enum gpumem_shm_state */
    enum gpumem_liveness liveness;
    char command[512], hostname[64], shim_version[16];
    uint64_t oom_count, untracked_count;
    unsigned warn_percent, alarm_percent, hysteresis_percent;
    int ndevices;
    struct gpumem_device devices[GPUMEM_SHM_DEVICE_SLOTS]; /* past ndevices: undefined */
    char path[256];
    long long owner_uid;    /* the segment file's owner (the reader sets it); -1 unknown */
    struct gpumem_oom *oom; /* NULL unless asked for and present */
    /* issue 14 (fleet) fields go here */
    int host_pid;          /* the writer's pid in the reader's pid namespace; 0 unknown (then pid is used) */
    uint64_t pid_ns_inode; /* the writer's pid namespace (st_ino of /proc/self/ns/pid); 0 not recorded */
    char pod_uid[40], pod[128], k8s_namespace[64], container[128]; /* Kubernetes; empty when unknown */
    uint64_t pid_ns_dev;   /* st_dev of that namespace; 0 not recorded                                */
    int other_pid_ns;      /* 1: the writer's pid namespace is not the reader's (pid is the container's) */
    char container_id[80]; /* the container's full id from its cgroup; container holds its name in the
                            * pod when /var/log/pods tells it, else the first 12 characters of this id */
    /* issue 15 (history) fields go here */
    struct gpumem_history_layout {
        uint64_t offset, width_ns[2], anchor_mono_ns, anchor_unix_ns;
        uint32_t sets, depth[2]; /* sets 0: no history */
    } history;
    /* issue 16 (automation) fields go here */
    uint64_t risk_changes;     /* header.risk_changes */
    uint64_t transitions_head; /* header.transitions_head: level changes ever appended */
    /* The live transitions ring as it was read: entry k is change number
     * ring_first + k (k < ring_count); ring_seq[k] is the seq found in its
     * slot (index + 1 when read whole; 0 while being written or when the two
     * copies differ; a larger one when a newer change overwrote it). */
    uint64_t ring_first;
    size_t ring_count;
    uint64_t ring_seq[GPUMEM_SHM_TRANSITION_SLOTS];
    struct gpumem_transition ring[GPUMEM_SHM_TRANSITION_SLOTS];
};

/* Validate and decode a copy of a segment. 0 on success; otherwise -1 and a
 * reason in why (e.g. "bad magic", "layout version 2, this reader knows
 * version 1"). recheck, if not NULL, is a second copy taken after buf:
 * ring entries whose sequence differs between the two were being written
 * and are left out. oom, if not NULL, receives the last OOM record (present
 * is 0 when there is none) and out->oom points to it. */
int gpumem__segment_parse(const void *buf, const void *recheck, size_t len, struct gpumem_process *out,
                          struct gpumem_oom *oom, char *why, size_t why_len);

/* The parts of a segment that gpumem__segment_parse_head reads: the
 * header, the transitions ring and, of the device table, each entry's
 * flags and the whole of the active entries. head_size: how many bytes
 * from the file's start they span, by its header hd (a copy of the file's
 * first bytes; len, the file's size, a multiple of 8). copy_head: writes
 * hd as dst's header and copies the other parts, where hd places them,
 * from src (the file's len bytes, 8-byte aligned, with 64-bit loads) into
 * dst (head_size bytes) at their offsets; nothing else of dst is written
 * (a file shorter than a header: its len bytes, hd unused). */
size_t gpumem__segment_head_size(const struct gpumem_shm_header *hd, size_t len);
void gpumem__segment_copy_head(void *dst, const void *src, size_t len, const struct gpumem_shm_header *hd);

/* gpumem__segment_parse without the OOM record, from a copy of only those
 * parts: buf (and recheck) hold avail bytes from the file's start, into
 * which gpumem__segment_copy_head copied (the rest is never read); len is
 * the file's size, which sizes and sections are checked against. What it
 * decodes is what gpumem__segment_parse would. */
int gpumem__segment_parse_head(const void *buf, const void *recheck, size_t avail, size_t len,
                               struct gpumem_process *out, char *why, size_t why_len);

/* One bucket of a history ring as the segment holds it (struct
 * gpumem_shm_bucket), checked: tick t covers the monotonic clock's
 * [anchor + (t - 1) * width, anchor + t * width), which is the Unix time
 * anchor_unix_ns + (t - 1) * width on. */
struct gpumem_bucket {
    uint64_t tick, high, last;
    uint32_t allocs_mod; /* the device's allocations so far, modulo 2^24 */
};

/* The buckets of ring r (0 fine, 1 coarse) of device p->devices[i], oldest
 * first, from the copy buf (len bytes) that p was parsed from: only those
 * of the ring's last lap whose tag is their tick, and (recheck) that are
 * the same in the second copy. Returns how many were written to out (at
 * most max). */
size_t gpumem__history_buckets(const void *buf, const void *recheck, size_t len, const struct gpumem_process *p, int i,
                               int r, struct gpumem_bucket *out, size_t max);

/* The transitions ring of a copy that parsed (every level change still in
 * it, oldest first); how many were written. */
size_t gpumem__segment_transitions(const void *buf, const void *recheck, size_t len,
                                   struct gpumem_transition out[GPUMEM_SHM_TRANSITION_SLOTS]);

/* Whether s may name segments /<s>.<pid>: 1 to 32 letters, digits, '_'
 * or '-' (GPUMEM_SHM_PREFIX, the reader's --prefix). */
int gpumem__prefix_valid(const char *s);

/* What a writer stamps into its header besides the layout. */
struct gpumem_header_values {
    int32_t pid;
    uint64_t start_time_ticks;         /* gpumem__proc_stat_start of the writer, 0 unknown */
    uint64_t pid_ns_inode, pid_ns_dev; /* the writer's pid namespace, 0 unknown */
    uint64_t created_unix_ns;
    uint32_t warn_percent, alarm_percent, hysteresis_percent;
    const char *hostname, *command; /* NULL: left as they are */
};

/* Fill every field of a header that describes the layout (its version,
 * sizes, and each section's offset, slots and stride, all from struct
 * gpumem_shm_segment), the shim's version and v. magic and state are left
 * alone: a writer stores them last, in that order, to publish the rest. */
void gpumem__segment_header_fill(struct gpumem_shm_header *h, const struct gpumem_header_values *v);

/* Copy n bytes of a live segment with 64-bit atomic loads (n a multiple
 * of 8, both 8-byte aligned), so no counter is ever seen torn. */
void gpumem__segment_copy_words(uint64_t *dst, const void *src, size_t n);

/* The live event ring of a copy of a segment (checked as above): the
 * events still in it, oldest first, at most max, each taken only if its
 * seq is the one expected in buf and in recheck (if not NULL). Returns how
 * many; 0 for a ring that does not fit the copy. */
size_t gpumem__segment_events(const void *buf, const void *recheck, size_t len, struct gpumem_event *out, size_t max);

#endif /* GPUMEM_SEGMENT_READ_H */
