/*
 * format.h - the percentages that gpumem prints, shared by the shim (log
 * lines, the post-mortem) and the reader (text and JSON): computed from
 * integers, with no conversion from floating point that could overflow.
 */
#ifndef GPUMEM_FORMAT_H
#define GPUMEM_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Percentages are capped at 9999.99 (shown as 9999 % where whole), so a
 * corrupt or absurd segment (reserved far above total) still prints a
 * bounded figure; a total of 0 gives 0. */
#define GM_PERCENT_MAX_HUNDREDTHS 999999u

/* part / whole * 100 in hundredths, to the nearest (ties to even, as %.2f). */
unsigned gm_percent_hundredths(uint64_t part, uint64_t whole);
/* part / whole * 100, rounded down: 89.9 % shows as 89 %, never 90 %. */
unsigned gm_percent_whole(uint64_t part, uint64_t whole);

void gm_format_percent(char *buf, size_t size, uint64_t part, uint64_t whole); /* "32.35" */

#endif /* GPUMEM_FORMAT_H */
