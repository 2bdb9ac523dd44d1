/*
 * gpumem.h - the public, in-process API of libgpumem.so.
 *
 * An application never needs this header: preloading libgpumem.so is enough.
 * Include it to read the counters from inside the process or to register an
 * alarm callback. Every function is declared weak for applications, so a
 * program that uses them still links and runs without the shim: test the
 * function's address before calling it.
 *
 *     if (gpumem_device_stats) gpumem_device_stats(0, &stats);
 */
#ifndef GPUMEM_H
#define GPUMEM_H

#include <stddef.h>
#include <stdint.h>

#define GPUMEM_VERSION_MAJOR 0
#define GPUMEM_VERSION_MINOR 1
#define GPUMEM_VERSION_PATCH 0
#define GPUMEM_VERSION_STRING "0.1.0"

#if defined(GPUMEM_BUILDING_SHIM)
#define GPUMEM_API __attribute__((visibility("default")))
#elif defined(GPUMEM_LINKED)
/* Linked against libgpumem.so (find_package(gpumem)'s gpumem::gpumem and
 * pkg-config define GPUMEM_LINKED): plain declarations, so that a linker
 * with --as-needed keeps the library, which then loads with the program. */
#define GPUMEM_API
#else
#define GPUMEM_API __attribute__((weak))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Most device ordinals (cuda:0 .. cuda:31) a process can have counted. */
#define GPUMEM_MAX_DEVICES 32

/* Errors: one list, expanded into the enum and into gpumem_strerror(). */
#define GPUMEM_ERRNO_MAP(X)                                    \
    X(OK, 0, "success")                                        \
    X(EINVAL, -1, "invalid argument")                          \
    X(ENODEV, -2, "no such device: nothing was counted on it") \
    X(EFULL, -3, "no room left for another callback")          \
    X(ENOSHIM, -4, "libgpumem.so is not loaded in this process")

typedef enum gpumem_err {
#define GPUMEM_ERR_ENUM(name, value, text) GPUMEM_##name = (value),
    GPUMEM_ERRNO_MAP(GPUMEM_ERR_ENUM)
#undef GPUMEM_ERR_ENUM
} gpumem_err_t;

/* Health of a device, from reserved / total. */
typedef enum gpumem_level {
    GPUMEM_LEVEL_HEALTHY = 0,  /* below the warning bound (80 % by default) */
    GPUMEM_LEVEL_WARNING = 1,  /* from the warning bound to the alarm bound */
    GPUMEM_LEVEL_CRITICAL = 2, /* above the alarm bound (90 % by default)  */
} gpumem_level_t;

/* A copy of one device's counters as this process sees it. */
typedef struct gpumem_device_stats {
    int device_id;               /* cuda:N as this process numbers it            */
    char uuid[48];               /* "GPU-xxxxxxxx-...", empty if not yet known    */
    char pci_bus_id[32];         /* "0000:3b:00.0", empty if not yet known        */
    char name[128];              /* the driver's device name                     */
    uint64_t total_bytes;        /* device memory, from cuDeviceTotalMem         */
    uint64_t reserved_bytes;     /* device memory this process holds now         */
    uint64_t peak_bytes;         /* highest reserved_bytes so far                */
    uint64_t managed_bytes;      /* unified (managed) memory, not in reserved    */
    uint64_t alloc_count;        /* successful reservations                      */
    uint64_t free_count;         /* successful releases of counted memory        */
    uint64_t failed_count;       /* reservations refused for lack of memory      */
    uint64_t unknown_free_count; /* frees of pointers the shim never saw     */
    double percent;              /* reserved / total * 100, 0 if total unknown   */
    gpumem_level_t level;        /* health level, with hysteresis                */
    uint64_t alarm_count;        /* level changes so far                         */
} gpumem_device_stats_t;

/* The version of the loaded shim, e.g. "0.1.0". */
GPUMEM_API const char *gpumem_version(void);

/* A sentence for an error code of this API. */
GPUMEM_API const char *gpumem_strerror(int err);

/* One more than the highest device ordinal this process has touched
 * (0 when no CUDA activity was seen). */
GPUMEM_API int gpumem_device_count(void);

/* Copy the counters of cuda:device_id into *out. 0, GPUMEM_EINVAL or
 * GPUMEM_ENODEV (the device saw no activity in this process). */
GPUMEM_API int gpumem_device_stats(int device_id, gpumem_device_stats_t *out);

/* An alarm: one change of a device's level. */
typedef struct gpumem_alarm {
    int device_id; /* cuda:N as this process sees it */
    const char *uuid;
    uint64_t reserved_bytes, total_bytes;
    double percent;
    gpumem_level_t level, previous_level;
} gpumem_alarm_t;

typedef void (*gpumem_alarm_fn)(const gpumem_alarm_t *alarm, void *user);

/* Register fn to run on every level change, on the allocating thread, after
 * the CUDA call returned and outside every lock of the shim. Up to 16
 * callbacks. 0 on success, GPUMEM_EINVAL, GPUMEM_EFULL. */
GPUMEM_API int gpumem_on_alarm(gpumem_alarm_fn fn, void *user);

#ifdef __cplusplus
}
#endif
#endif /* GPUMEM_H */
