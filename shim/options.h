/* options.h - the GPUMEM_* variables, parsed once (options.c). */
#ifndef GPUMEM_OPTIONS_H
#define GPUMEM_OPTIONS_H

#include "log.h"

struct gpumem_options {
    int disabled;
    char shm_prefix[64];
    unsigned shm_mode;
    int keep;
    enum gpumem_log_sink log_sink;
    char log_path[512];
    unsigned warn_percent, alarm_percent, hysteresis_percent;
    char postmortem_dir[400];
    unsigned postmortem_interval; /* seconds */
    int backtrace;
};
extern struct gpumem_options gpumem__opt;
void gpumem__options_load(void);

#endif /* GPUMEM_OPTIONS_H */
