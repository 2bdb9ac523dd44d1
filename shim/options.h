/*
 * options.h - the GPUMEM_* environment variables, read once into
 * gpumem__opt. Depends on log.h only (where the warnings go).
 */
#ifndef GPUMEM_OPTIONS_H
#define GPUMEM_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"

struct gpumem_options {
    int disabled;
    char shm_prefix[64];
    unsigned shm_mode;
    int keep;
    enum gpumem_log_sink log_sink;
    char log_path[GPUMEM_LOG_PATH_SIZE];
    unsigned warn_percent, alarm_percent, hysteresis_percent;
    char postmortem_dir[400];
    unsigned postmortem_interval; /* seconds */
    int backtrace;
    /* History rings (issue 15): [0] fine, [1] coarse; depth 0 turns a ring off. */
    struct gpumem_history_ring {
        uint64_t width_ns;
        unsigned depth;
    } history[2];
    unsigned history_devices; /* ring sets in the segment; 0: no history */
};
extern struct gpumem_options gpumem__opt;

/* Once per process (pthread_once): parse the environment into gpumem__opt,
 * point the log at GPUMEM_LOG, then log the warnings. */
void gpumem__options_load(void);

/* One warning: "NAME=VALUE is not valid (...); using the default ...". */
#define GPUMEM_OPTIONS_WARNING_SIZE 384
/* Enough for every warning one environment can give. */
#define GPUMEM_OPTIONS_MAX_WARNINGS 16

/* The parse behind gpumem__options_load, without the environment or the
 * log: every option from getenv_fn (NULL: unset), each bad value replaced by
 * its default, then the cross-field checks. Writes up to max warnings (no
 * "gpumem[PID]: " prefix, no newline) and returns how many it wrote. */
size_t gpumem__options_parse(const char *(*getenv_fn)(const char *name), struct gpumem_options *out,
                             char warnings[][GPUMEM_OPTIONS_WARNING_SIZE], size_t max);

#endif /* GPUMEM_OPTIONS_H */
