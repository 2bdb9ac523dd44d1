/*
 * os.h - the shim's only door to the operating system: clock, process
 * identity, /proc, POSIX shared memory, files, sockets, signals and the
 * dynamic linker. Of the shim's own code (shim/ and the common/ code
 * compiled into it), only os.c calls the C library's system-call wrappers
 * (tests/layout/check_layers.sh proves it from the object files), so the
 * layers above are plain logic that a unit test links without a process
 * around it.
 *
 * Functions that can fail return an error number (or NULL, with errno set:
 * gpumem__os_temp_file). Every caller runs inside a hook's errno save, or
 * in a constructor or destructor that saves errno itself.
 *
 * One kind of output is not made here: the post-mortem report is written by
 * common/emit.c through stdio (fwrite) to the stream gpumem__os_temp_file
 * opened, and closed by gpumem__os_close_file.
 */
#ifndef GPUMEM_OS_H
#define GPUMEM_OS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- clock and process ---- */

/* Wall-clock nanoseconds (CLOCK_REALTIME_COARSE: a few ns, ms resolution). */
uint64_t gpumem__os_now_ns(void);
/* Monotonic nanoseconds (CLOCK_MONOTONIC_COARSE): what the history's
 * buckets count in, untouched by a change of the wall clock. */
uint64_t gpumem__os_mono_ns(void);
int gpumem__os_pid(void);
unsigned gpumem__os_euid(void);
/* Let another thread run (a spin lock's waiter). */
void gpumem__os_yield(void);
/* Field 22 of /proc/self/stat: the start time in clock ticks since boot,
 * which with the pid names a process uniquely; 0 if unknown. */
uint64_t gpumem__os_start_ticks(void);
/* /proc/self/cmdline with spaces between the arguments. */
void gpumem__os_command(char *out, size_t size);
void gpumem__os_hostname(char *out, size_t size);

/* ---- POSIX shared memory ---- */

/* Creates name exclusively (mode 0600, then mode), replacing a stale one of
 * this user's, reserves size bytes of pages and maps them. 0 and *map on
 * success, else an error number, and *what says which step failed. A
 * segment of another user is never touched: EPERM, and *owner is its uid. */
int gpumem__os_shm_create(const char *name, unsigned mode, size_t size, void **map, const char **what, unsigned *owner);
void gpumem__os_shm_unlink(const char *name);
void gpumem__os_unmap(void *map, size_t size);

/* ---- files and the log's sinks ---- */

/* 0 once all of buf is written to fd, else an error number; never raises
 * SIGPIPE or SIGXFSZ in the program. */
int gpumem__os_write_all(int fd, const char *buf, size_t n);
/* Appends one line to path, opened for this line only, never blocking and
 * never through a symlink. 0, or an error number and what failed. */
int gpumem__os_append_line(const char *path, const char *line, size_t len, const char **what);
/* One message to the local syslog daemon on a socket of its own. */
int gpumem__os_syslog_line(const char *line, size_t len, const char **what);
/* A private temporary file in dir, opened for writing; its name goes to tmp. */
FILE *gpumem__os_temp_file(const char *dir, char *tmp, size_t size);
/* Closes a stream: 0, or an error number. */
int gpumem__os_close_file(FILE *f);
/* Links from as a new name to (never replacing one): 0, or an error number. */
int gpumem__os_link_new(const char *from, const char *to);
void gpumem__os_unlink(const char *path);

/* ---- the dynamic linker ---- */

/* The real dlsym, found by version (the shim exports its own dlsym). */
extern void *(*gpumem__real_dlsym)(void *, const char *);
void gpumem__os_find_dlsym(void);
/* name in the objects after the shim (RTLD_NEXT), or in handle. */
void *gpumem__os_symbol_next(const char *name);
void *gpumem__os_symbol(void *handle, const char *name);
/* A library the program has loaded, without ever loading it: a reference
 * to drop with gpumem__os_release, or NULL. */
void *gpumem__os_loaded(const char *library);
void gpumem__os_release(void *handle);
/* The base address of the object that holds addr, or NULL. */
void *gpumem__os_object_of(const void *addr);
/* "module+0xoff (symbol+0xoff)" for addr, as backtraces are printed. */
void gpumem__os_describe_address(const void *addr, char *out, size_t size);
int gpumem__os_backtrace(void **frames, int max);

#endif /* GPUMEM_OS_H */
