/*
 * gpumem_shm.h - the shared-memory ABI between libgpumem.so (writer) and the
 * gpumem reader.
 *
 * One segment per process, named /<prefix>.<pid> (prefix "gpumem" unless
 * GPUMEM_SHM_PREFIX says otherwise), visible as /dev/shm/<prefix>.<pid>.
 * The counters live in the segment itself, so its last state survives any
 * death of the writer without a flush.
 *
 * Rules of this ABI:
 *  - fixed-width types only, every offset pinned below with _Static_assert;
 *  - the header names the offset, stride and count of every section, so a
 *    reader never assumes them;
 *  - new fields go into reserved space or at the end, and the layout version
 *    changes only on an incompatible change;
 *  - every 64-bit field is 8-byte aligned, and the counters and ring entries
 *    are written with atomic stores, so a reader that loads a field with one
 *    64-bit load can never see it torn;
 *  - strings are written before the flag that publishes them (release order)
 *    and are always NUL-terminated inside their array.
 *
 * How a reader stays consistent without locks (common/segment.c,
 * tools/snapshot.c): it copies the segment twice with 64-bit acquire loads
 * (gpumem__segment_copy_words), the second copy after the first.
 *  - A ring entry (event, transition) has its own seq: the writer stores 0,
 *    then the fields, then 1 + its index, all with release stores. The entry
 *    is kept only if its seq is the index expected in both copies.
 *  - The OOM record is written, rarely and under a lock, with plain stores
 *    between two stores of oom.seq: odd while it is written, even after. It
 *    is kept, with the large section written along with it, only if oom.seq
 *    is even, not 0 and the same in both copies.
 *  - Device counters are single atomic words: each is read as it was at one
 *    moment, the counters of a device not necessarily at the same one.
 */
#ifndef GPUMEM_SHM_H
#define GPUMEM_SHM_H

#include <stddef.h>
#include <stdint.h>

/* "GPUMEMS\0" read as a little-endian 64-bit integer. */
#define GPUMEM_SHM_MAGIC UINT64_C(0x00534D454D555047)
#define GPUMEM_SHM_LAYOUT_VERSION 1u

#define GPUMEM_SHM_DEVICE_SLOTS 32u  /* equals GPUMEM_MAX_DEVICES */
#define GPUMEM_SHM_EVENT_SLOTS 1024u /* power of two */
#define GPUMEM_SHM_LARGE_SLOTS 64u
#define GPUMEM_SHM_TRANSITION_SLOTS 64u /* power of two */

/* header.state */
enum gpumem_shm_state {
    GPUMEM_SHM_STATE_STARTING = 0, /* being created; not yet valid    */
    GPUMEM_SHM_STATE_RUNNING = 1,  /* the writer is (or was) counting */
    GPUMEM_SHM_STATE_EXITED = 2,   /* the writer exited normally      */
};

/* device.risk: will the next allocation fit? (issue 16) */
enum gpumem_shm_risk {
    GPUMEM_SHM_RISK_UNKNOWN = 0, /* not sampled yet (or an older writer)        */
    GPUMEM_SHM_RISK_OK = 1,      /* driver free >= the largest recent request   */
    GPUMEM_SHM_RISK_AT_RISK = 2, /* driver free <  the largest recent request   */
};

/* device.flags */
#define GPUMEM_SHM_DEVICE_ACTIVE 1u /* the process touched this ordinal      */
#define GPUMEM_SHM_DEVICE_INFO 2u   /* total, uuid, pci bus id, name are set */

/* The API that made an event (event.api, large.api): values are part of the
 * ABI; append only. */
#define GPUMEM_SHM_API_MAP(X)                                         \
    X(UNKNOWN, 0, "unknown")                                          \
    X(CU_MEM_ALLOC, 1, "cuMemAlloc")                                  \
    X(CU_MEM_ALLOC_PITCH, 2, "cuMemAllocPitch")                       \
    X(CU_MEM_FREE, 3, "cuMemFree")                                    \
    X(CU_MEM_ALLOC_MANAGED, 4, "cuMemAllocManaged")                   \
    X(CU_MEM_CREATE, 5, "cuMemCreate")                                \
    X(CU_MEM_RELEASE, 6, "cuMemRelease")                              \
    X(CU_MEM_ALLOC_ASYNC, 7, "cuMemAllocAsync")                       \
    X(CU_MEM_ALLOC_FROM_POOL_ASYNC, 8, "cuMemAllocFromPoolAsync")     \
    X(CU_MEM_FREE_ASYNC, 9, "cuMemFreeAsync")                         \
    X(CU_MEM_POOL_TRIM_TO, 10, "cuMemPoolTrimTo")                     \
    X(CU_MEM_POOL_DESTROY, 11, "cuMemPoolDestroy")                    \
    X(CUDA_MALLOC, 12, "cudaMalloc")                                  \
    X(CUDA_FREE, 13, "cudaFree")                                      \
    X(CUDA_MALLOC_PITCH, 14, "cudaMallocPitch")                       \
    X(CUDA_MALLOC_MANAGED, 15, "cudaMallocManaged")                   \
    X(CUDA_MALLOC_ASYNC, 16, "cudaMallocAsync")                       \
    X(CUDA_FREE_ASYNC, 17, "cudaFreeAsync")                           \
    X(CUDA_MALLOC_FROM_POOL_ASYNC, 18, "cudaMallocFromPoolAsync")     \
    X(CU_CTX_DESTROY, 19, "cuCtxDestroy")                             \
    X(CU_DEVICE_PRIMARY_CTX_RESET, 20, "cuDevicePrimaryCtxReset")     \
    X(CU_DEVICE_PRIMARY_CTX_RELEASE, 21, "cuDevicePrimaryCtxRelease") \
    X(CUDA_DEVICE_RESET, 22, "cudaDeviceReset")                       \
    X(CUDA_DEVICE_SYNCHRONIZE, 23, "cudaDeviceSynchronize")           \
    X(CUDA_STREAM_SYNCHRONIZE, 24, "cudaStreamSynchronize")           \
    X(CUDA_EVENT_SYNCHRONIZE, 25, "cudaEventSynchronize")

enum gpumem_api {
#define GPUMEM_SHM_API_ENUM(name, value, text) GPUMEM_API_##name = (value),
    GPUMEM_SHM_API_MAP(GPUMEM_SHM_API_ENUM)
#undef GPUMEM_SHM_API_ENUM
        GPUMEM_API_COUNT
};

/* event.op */
enum gpumem_op { GPUMEM_OP_ALLOC = 1, GPUMEM_OP_FREE = 2 };

struct gpumem_shm_header {
    uint64_t magic;              /*   0 GPUMEM_SHM_MAGIC, written last    */
    uint32_t layout_version;     /*   8 GPUMEM_SHM_LAYOUT_VERSION         */
    uint32_t header_size;        /*  12 sizeof(struct gpumem_shm_header)  */
    uint64_t segment_size;       /*  16 bytes of the whole segment        */
    int32_t pid;                 /*  24 the writer                        */
    uint32_t state;              /*  28 enum gpumem_shm_state             */
    uint64_t start_time_ticks;   /*  32 /proc/<pid>/stat field 22         */
    uint64_t created_unix_ns;    /*  40                                   */
    uint64_t exited_unix_ns;     /*  48 0 while running                   */
    uint32_t device_slots;       /*  56 entries in the device array       */
    uint32_t device_stride;      /*  60 sizeof(struct gpumem_shm_device)  */
    uint64_t devices_offset;     /*  64                                   */
    uint64_t events_offset;      /*  72 ring of struct gpumem_shm_event   */
    uint32_t event_slots;        /*  80 power of two                      */
    uint32_t event_stride;       /*  84                                   */
    uint64_t events_head;        /*  88 event slots ever claimed (threads
                                    *     claim a few at a time)              */
    uint64_t large_offset;       /*  96 struct gpumem_shm_large array     */
    uint32_t large_slots;        /* 104                                   */
    uint32_t large_stride;       /* 108                                   */
    uint64_t transitions_offset; /* 112 ring of struct gpumem_shm_transition */
    uint32_t transition_slots;   /* 120 power of two                      */
    uint32_t transition_stride;  /* 124                                   */
    uint64_t transitions_head;   /* 128 transitions ever appended         */
    uint64_t oom_count;          /* 136 out-of-memory failures, all devices */
    uint64_t untracked_count;    /* 144 reservations on ordinals >= slots */
    uint32_t warn_percent;       /* 152 level bounds in force             */
    uint32_t alarm_percent;      /* 156                                   */
    uint32_t hysteresis_percent; /* 160                                   */
    uint32_t reserved0;          /* 164                                   */
    char shim_version[16];       /* 168                                   */
    char hostname[64];           /* 184                                   */
    char command[512];           /* 248 argv joined by spaces, truncated  */
    uint64_t oom_offset;         /* 760 struct gpumem_shm_oom             */
    uint32_t oom_size;           /* 768 sizeof(struct gpumem_shm_oom)     */
    uint32_t reserved1;          /* 772                                   */
    uint64_t pid_ns_inode;       /* 776 st_ino of /proc/self/ns/pid, 0 unknown (issue 14) */
    uint64_t pid_ns_dev;         /* 784 its st_dev, 0 unknown             */
    uint8_t reserved_fleet[16];  /* 792 .. 808  namespaces (issue 14)    */
    /* 808 .. 872 history (issue 15): rings of time buckets per device, see
     * struct gpumem_shm_bucket. history_offset 0: no history. */
    uint64_t history_offset;         /* 808 the section, after the others      */
    uint64_t history_size;           /* 816 its bytes                           */
    uint32_t history_sets;           /* 824 ring sets (devices that can have one) */
    uint32_t history_stride;         /* 828 sizeof(struct gpumem_shm_bucket)    */
    uint64_t history_width_ns[2];    /* 832 bucket width: [0] fine, [1] coarse  */
    uint32_t history_depth[2];       /* 848 buckets per ring, 0: ring off       */
    uint64_t history_anchor_mono_ns; /* 856 CLOCK_MONOTONIC at tick 0       */
    uint64_t history_anchor_unix_ns; /* 864 CLOCK_REALTIME at that moment   */
    uint64_t risk_changes;           /* 872 changes of any device's risk (issue 16) */
    uint8_t reserved_auto[24];       /* 880 .. 904  automation (issue 16)    */
    uint8_t reserved[120];           /* 904 .. 1024                          */
};

struct gpumem_shm_device {
    uint32_t flags;       /*   0 GPUMEM_SHM_DEVICE_*          */
    int32_t ordinal;      /*   4 cuda:N                       */
    uint64_t total_bytes; /*   8                              */
    char uuid[48];        /*  16 "GPU-xxxxxxxx-xxxx-..."      */
    char pci_bus_id[32];  /*  64                              */
    char name[128];       /*  96                              */
    /* 224..255: what every allocation and free updates, in one cache line. */
    uint64_t reserved_bytes;          /* 224                              */
    uint64_t peak_bytes;              /* 232                              */
    uint64_t alloc_count;             /* 240                              */
    uint64_t free_count;              /* 248                              */
    uint64_t peak_unix_ns;            /* 256                              */
    uint64_t managed_bytes;           /* 264                              */
    uint64_t failed_count;            /* 272                              */
    uint64_t unknown_free_count;      /* 280                              */
    uint32_t level;                   /* 288 enum gpumem_level            */
    uint32_t reserved1;               /* 292                              */
    uint64_t alarm_count;             /* 296 level changes                */
    uint64_t last_transition_unix_ns; /* 304                              */
    /* 312..376: headroom (issue 16), sampled off the hot path; 0: unknown. */
    uint64_t free_bytes;             /* 312 the driver's free memory (cuMemGetInfo) */
    uint64_t free_sampled_unix_ns;   /* 320 when it was sampled          */
    uint64_t largest_recent_request; /* 328 largest of the device's last
                                       *     64 to 128 driver requests     */
    uint64_t headroom_bytes;         /* 336 free - largest recent request,
                                       *     0 when at risk                */
    uint32_t risk;                   /* 344 enum gpumem_shm_risk         */
    uint32_t reserved_auto;          /* 348                              */
    uint64_t risk_changes;           /* 352 times risk changed           */
    uint64_t risk_unix_ns;           /* 360 when it last changed         */
    uint64_t free_samples;           /* 368 cuMemGetInfo samples taken   */
    /* 376 .. 440 history (issue 15) */
    uint32_t history_set;       /* 376 1 + the ring set of this device; 0: none */
    uint32_t history_reserved0; /* 380                                  */
    uint64_t history_cur[2];    /* 384 newest bucket per ring: tick << 24 | slot;
                                   *     0 none yet (tick counts from 1)   */
    /* The writer's own shortcut to the hot ring's newest bucket (readers
     * use history_cur): where it ends on the monotonic clock, 0 none, and
     * its index from the start of the history section. */
    uint64_t history_hot_end;     /* 400                                  */
    uint64_t history_hot_index;   /* 408                                  */
    uint8_t history_reserved[24]; /* 416 .. 440                          */
    uint8_t reserved[72];         /* 440 .. 512                       */
};

/* One bucket of a history ring: what a device's reserved bytes did during
 * tick t, that is [anchor + (t - 1) * width, anchor + t * width) of the
 * monotonic clock. A device's ring set is its fine ring (depth[0] buckets)
 * then its coarse ring (depth[1]); tick t lives in slot t % depth. Values
 * are 40 bits (up to 1 TiB, saturated), so a bucket is 16 bytes:
 *  - high: tag = t & 0xFFFFFF (bits 40..63, the lap check) | highest
 *    reserved bytes of the bucket (bits 0..39), raised by compare-and-swap;
 *  - last: the device's allocations so far, modulo 2^24 (bits 40..63) |
 *    the reserved bytes after the bucket's last event (bits 0..39), one
 *    plain store per event. */
struct gpumem_shm_bucket {
    uint64_t high; /* 0 */
    uint64_t last; /* 8 */
};
#define GPUMEM_SHM_HISTORY_VALUE_MASK ((UINT64_C(1) << 40) - 1)
#define GPUMEM_SHM_HISTORY_TAG_MASK ((UINT64_C(1) << 24) - 1)
#define GPUMEM_SHM_HISTORY_SLOT_BITS 24

/* One allocation event. seq is 0 while the entry is rewritten and is
 * written last (release stores): a reader accepts an entry only when seq
 * equals the index it expects, before and after copying. */
struct gpumem_shm_event {
    uint64_t seq;         /*  0 1 + index of this event (0: never written) */
    uint64_t unix_ns;     /*  8                                            */
    uint64_t bytes;       /* 16 requested (alloc) or released (free) size  */
    uint64_t address;     /* 24 pointer or handle, 0 if none               */
    int32_t result;       /* 32 the CUDA return code                       */
    int16_t device;       /* 36 ordinal, -1 if unknown                     */
    uint8_t api;          /* 38 enum gpumem_api (GPUMEM_SHM_API_MAP)       */
    uint8_t op;           /* 39 1 alloc, 2 free                            */
    uint64_t mono_ns;     /* 40 CLOCK_MONOTONIC_COARSE: orders the events
                           * (indices are claimed in batches per thread, and
                           * the wall clock may step); 0 from older shims   */
    uint64_t reserved[2]; /* 48 .. 64: one cache line per event, so threads
                           * writing neighbouring events do not share one */
};

/* One of the largest live allocations at the last out-of-memory failure,
 * largest first; written with the OOM record, under its seq. */
struct gpumem_shm_large {
    uint64_t seq;      /*  0 always 0: oom.seq covers the section        */
    uint64_t address;  /*  8 pointer or handle; 0 marks a free slot      */
    uint64_t bytes;    /* 16                                             */
    uint64_t unix_ns;  /* 24 when it was made                            */
    int32_t device;    /* 32                                             */
    uint32_t api;      /* 36                                             */
    uint64_t reserved; /* 40                                             */
};

/* One change of a device's health level. */
struct gpumem_shm_transition {
    uint64_t seq;            /*  0 1 + index (0: never written) */
    uint64_t unix_ns;        /*  8                              */
    uint64_t reserved_bytes; /* 16                              */
    int16_t device;          /* 24                              */
    uint8_t level;           /* 26                              */
    uint8_t previous_level;  /* 27                              */
    uint32_t reserved;       /* 28                              */
};

#define GPUMEM_SHM_OOM_DEVICES 32u
#define GPUMEM_SHM_HISTOGRAM_BINS 48u /* bin k: live sizes in [2^k, 2^(k+1)) */
#define GPUMEM_SHM_OOM_EVENTS 256u
#define GPUMEM_SHM_OOM_TRACES 16u
#define GPUMEM_SHM_OOM_TRACE_BYTES 640u

/* The last out-of-memory failure that got a post-mortem, frozen at that
 * moment so that a report rendered later (even after the process died) is
 * the same as the one written on the spot. seq is odd while it is written
 * (with the large section), even once it is complete. */
struct gpumem_shm_oom {
    uint64_t seq;                /*    0 0: none yet; odd: being written */
    uint64_t unix_ns;            /*    8                                 */
    uint64_t number;             /*   16 which failure of the process    */
    uint64_t requested_bytes;    /*   24                                 */
    uint64_t driver_free_bytes;  /*   32 cuMemGetInfo at the failure     */
    uint64_t driver_total_bytes; /*   40                                 */
    uint64_t events_head;        /*   48 header.events_head then         */
    uint64_t transitions_head;   /*   56 header.transitions_head then    */
    uint64_t live_count;         /*   64 live allocations then           */
    int32_t device;              /*   72                                 */
    int32_t result;              /*   76 the CUDA return code            */
    uint32_t api;                /*   80 enum gpumem_api                 */
    uint32_t nlarge;             /*   84 entries of the large section    */
    uint64_t oom_count;          /*   88 failures so far, this one included */
    struct {
        uint64_t reserved_bytes, peak_bytes, peak_unix_ns, managed_bytes;
    } devices[GPUMEM_SHM_OOM_DEVICES];                     /*   96 */
    uint64_t hist_count[GPUMEM_SHM_HISTOGRAM_BINS];        /* 1120 */
    uint64_t hist_bytes[GPUMEM_SHM_HISTOGRAM_BINS];        /* 1504 */
    char report_path[256];                                 /* 1888 */
    char environment[2048];                                /* 2144 NAME=value lines */
    uint32_t nevents;                                      /* 4192 entries of events */
    uint8_t reserved[28];                                  /* 4196 */
    struct gpumem_shm_event events[GPUMEM_SHM_OOM_EVENTS]; /* 4224 the last events, oldest first */
    /* 20608: where the largest live allocations were made (GPUMEM_BACKTRACE=1),
     * one "module+0xoffset (symbol+0xoffset)" line per frame, for the first
     * GPUMEM_SHM_OOM_TRACES entries of the large section; empty when unknown. */
    char traces[GPUMEM_SHM_OOM_TRACES][GPUMEM_SHM_OOM_TRACE_BYTES];
};

/* The whole segment as the writer lays it out. A reader uses the offsets in
 * the header, never this struct, so that newer writers stay readable. */
struct gpumem_shm_segment {
    struct gpumem_shm_header header;
    struct gpumem_shm_device devices[GPUMEM_SHM_DEVICE_SLOTS];
    struct gpumem_shm_event events[GPUMEM_SHM_EVENT_SLOTS];
    struct gpumem_shm_large large[GPUMEM_SHM_LARGE_SLOTS];
    struct gpumem_shm_transition transitions[GPUMEM_SHM_TRANSITION_SLOTS];
    struct gpumem_shm_oom oom;
};

#define GPUMEM_SHM_PIN(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field " moved")
GPUMEM_SHM_PIN(struct gpumem_shm_header, layout_version, 8);
GPUMEM_SHM_PIN(struct gpumem_shm_header, segment_size, 16);
GPUMEM_SHM_PIN(struct gpumem_shm_header, pid, 24);
GPUMEM_SHM_PIN(struct gpumem_shm_header, start_time_ticks, 32);
GPUMEM_SHM_PIN(struct gpumem_shm_header, device_slots, 56);
GPUMEM_SHM_PIN(struct gpumem_shm_header, devices_offset, 64);
GPUMEM_SHM_PIN(struct gpumem_shm_header, events_offset, 72);
GPUMEM_SHM_PIN(struct gpumem_shm_header, events_head, 88);
GPUMEM_SHM_PIN(struct gpumem_shm_header, large_offset, 96);
GPUMEM_SHM_PIN(struct gpumem_shm_header, transitions_offset, 112);
GPUMEM_SHM_PIN(struct gpumem_shm_header, transitions_head, 128);
GPUMEM_SHM_PIN(struct gpumem_shm_header, oom_count, 136);
GPUMEM_SHM_PIN(struct gpumem_shm_header, warn_percent, 152);
GPUMEM_SHM_PIN(struct gpumem_shm_header, shim_version, 168);
GPUMEM_SHM_PIN(struct gpumem_shm_header, hostname, 184);
GPUMEM_SHM_PIN(struct gpumem_shm_header, command, 248);
GPUMEM_SHM_PIN(struct gpumem_shm_header, oom_offset, 760);
GPUMEM_SHM_PIN(struct gpumem_shm_header, oom_size, 768);
GPUMEM_SHM_PIN(struct gpumem_shm_header, pid_ns_inode, 776);
GPUMEM_SHM_PIN(struct gpumem_shm_header, pid_ns_dev, 784);
GPUMEM_SHM_PIN(struct gpumem_shm_header, reserved_fleet, 792);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_offset, 808);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_size, 816);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_sets, 824);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_stride, 828);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_width_ns, 832);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_depth, 848);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_anchor_mono_ns, 856);
GPUMEM_SHM_PIN(struct gpumem_shm_header, history_anchor_unix_ns, 864);
GPUMEM_SHM_PIN(struct gpumem_shm_header, risk_changes, 872);
GPUMEM_SHM_PIN(struct gpumem_shm_header, reserved_auto, 880);
GPUMEM_SHM_PIN(struct gpumem_shm_header, reserved, 904);
_Static_assert(sizeof(struct gpumem_shm_header) == 1024, "header size");
GPUMEM_SHM_PIN(struct gpumem_shm_device, total_bytes, 8);
GPUMEM_SHM_PIN(struct gpumem_shm_device, uuid, 16);
GPUMEM_SHM_PIN(struct gpumem_shm_device, pci_bus_id, 64);
GPUMEM_SHM_PIN(struct gpumem_shm_device, name, 96);
GPUMEM_SHM_PIN(struct gpumem_shm_device, reserved_bytes, 224);
GPUMEM_SHM_PIN(struct gpumem_shm_device, peak_bytes, 232);
GPUMEM_SHM_PIN(struct gpumem_shm_device, alloc_count, 240);
GPUMEM_SHM_PIN(struct gpumem_shm_device, free_count, 248);
GPUMEM_SHM_PIN(struct gpumem_shm_device, managed_bytes, 264);
GPUMEM_SHM_PIN(struct gpumem_shm_device, failed_count, 272);
GPUMEM_SHM_PIN(struct gpumem_shm_device, level, 288);
GPUMEM_SHM_PIN(struct gpumem_shm_device, alarm_count, 296);
GPUMEM_SHM_PIN(struct gpumem_shm_device, last_transition_unix_ns, 304);
GPUMEM_SHM_PIN(struct gpumem_shm_device, free_bytes, 312);
GPUMEM_SHM_PIN(struct gpumem_shm_device, free_sampled_unix_ns, 320);
GPUMEM_SHM_PIN(struct gpumem_shm_device, largest_recent_request, 328);
GPUMEM_SHM_PIN(struct gpumem_shm_device, headroom_bytes, 336);
GPUMEM_SHM_PIN(struct gpumem_shm_device, risk, 344);
GPUMEM_SHM_PIN(struct gpumem_shm_device, risk_changes, 352);
GPUMEM_SHM_PIN(struct gpumem_shm_device, risk_unix_ns, 360);
GPUMEM_SHM_PIN(struct gpumem_shm_device, free_samples, 368);
GPUMEM_SHM_PIN(struct gpumem_shm_device, history_set, 376);
GPUMEM_SHM_PIN(struct gpumem_shm_device, history_cur, 384);
GPUMEM_SHM_PIN(struct gpumem_shm_device, history_hot_end, 400);
GPUMEM_SHM_PIN(struct gpumem_shm_device, history_hot_index, 408);
GPUMEM_SHM_PIN(struct gpumem_shm_device, history_reserved, 416);
GPUMEM_SHM_PIN(struct gpumem_shm_device, reserved, 440);
_Static_assert(sizeof(struct gpumem_shm_bucket) == 16, "bucket size");
_Static_assert(sizeof(struct gpumem_shm_device) == 512, "device size");
GPUMEM_SHM_PIN(struct gpumem_shm_event, result, 32);
GPUMEM_SHM_PIN(struct gpumem_shm_event, device, 36);
GPUMEM_SHM_PIN(struct gpumem_shm_event, api, 38);
_Static_assert(sizeof(struct gpumem_shm_event) == 64, "event size");
GPUMEM_SHM_PIN(struct gpumem_shm_large, device, 32);
_Static_assert(sizeof(struct gpumem_shm_large) == 48, "large size");
GPUMEM_SHM_PIN(struct gpumem_shm_transition, device, 24);
_Static_assert(sizeof(struct gpumem_shm_transition) == 32, "transition size");
GPUMEM_SHM_PIN(struct gpumem_shm_oom, device, 72);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, devices, 96);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, hist_count, 1120);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, hist_bytes, 1504);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, report_path, 1888);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, environment, 2144);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, nevents, 4192);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, events, 4224);
GPUMEM_SHM_PIN(struct gpumem_shm_oom, traces, 4224 + 256 * 64);
_Static_assert(sizeof(struct gpumem_shm_oom) == 4224 + 256 * 64 + 16 * 640, "oom size");
GPUMEM_SHM_PIN(struct gpumem_shm_segment, devices, 1024);
GPUMEM_SHM_PIN(struct gpumem_shm_segment, events, 1024 + 32 * 512);
_Static_assert(sizeof(struct gpumem_shm_segment) <= (1u << 20), "segment over 1 MiB");
/* The default history (GPUMEM_HISTORY_FINE=1s:3600, GPUMEM_HISTORY_COARSE=60s:1440,
 * GPUMEM_HISTORY_DEVICES=8) appended: still at most 1 MiB. */
_Static_assert(sizeof(struct gpumem_shm_segment) + 8u * (3600u + 1440u) * sizeof(struct gpumem_shm_bucket) <=
                   (1u << 20),
               "segment with 8 devices of default history over 1 MiB");
#undef GPUMEM_SHM_PIN

#endif /* GPUMEM_SHM_H */
