/*
 * levels.h - a device's health level from its reserved bytes: pure
 * arithmetic, kept apart so it is tested on its own.
 *
 * healthy < warn %, warning from warn % to alarm %, critical > alarm %.
 * Going down, each bound is left only hysteresis % below it, so a figure
 * wobbling around a bound raises one alarm, not a storm.
 */
#ifndef GPUMEM_LEVELS_H
#define GPUMEM_LEVELS_H

#include <stdint.h>

#include "format.h"
#include "gpumem.h"

struct gpumem_limits {
    uint64_t warn_up;   /* reserved >= this: at least WARNING    */
    uint64_t crit_up;   /* reserved >  this: CRITICAL            */
    uint64_t warn_down; /* reserved <  this: WARNING -> HEALTHY  */
    uint64_t crit_down; /* reserved <  this: CRITICAL -> WARNING */
};

static inline struct gpumem_limits gpumem__limits_make(uint64_t total, unsigned warn, unsigned alarm, unsigned hyst)
{
    struct gpumem_limits l;
    l.warn_up = gpumem__percent_of(total, warn, NULL);
    l.crit_up = gpumem__percent_of(total, alarm, NULL);
    l.warn_down = gpumem__percent_of(total, warn > hyst ? warn - hyst : 0, NULL);
    l.crit_down = gpumem__percent_of(total, alarm > hyst ? alarm - hyst : 0, NULL);
    return l;
}

static inline gpumem_level_t gpumem__level_next(const struct gpumem_limits *l, gpumem_level_t cur, uint64_t reserved)
{
    gpumem_level_t raw = reserved > l->crit_up    ? GPUMEM_LEVEL_CRITICAL
                         : reserved >= l->warn_up ? GPUMEM_LEVEL_WARNING
                                                  : GPUMEM_LEVEL_HEALTHY;
    if (raw >= cur) return raw;
    gpumem_level_t lvl = cur;
    if (lvl == GPUMEM_LEVEL_CRITICAL && reserved < l->crit_down) lvl = GPUMEM_LEVEL_WARNING;
    if (lvl == GPUMEM_LEVEL_WARNING && reserved < l->warn_down) lvl = GPUMEM_LEVEL_HEALTHY;
    return lvl < raw ? raw : lvl;
}

#endif /* GPUMEM_LEVELS_H */
