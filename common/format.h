/*
 * format.h - the numbers and strings that gpumem prints, shared by the shim
 * (log lines, the post-mortem) and the reader (text and JSON).
 *
 * The shim writes inside its host program, under whatever LC_NUMERIC the
 * host chose: printf's %f there writes "18,75" in de_DE, which is not JSON.
 * So every figure with decimals is computed from integers and printed with
 * integer conversions only; no output of gpumem goes through a
 * floating-point conversion, and nothing here allocates.
 */
#ifndef GPUMEM_FORMAT_H
#define GPUMEM_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "emit.h" /* gpumem__json_string, which every escape lives beside */

/* Percentages are capped at 9999.99 (shown as 9999 % where whole), so a
 * corrupt or absurd segment (reserved far above total) still prints a
 * bounded figure; a total of 0 gives 0. */
#define GPUMEM_PERCENT_MAX_HUNDREDTHS 999999u

/* part / whole * 100 in hundredths, to the nearest (ties to even, as %.2f). */
unsigned gpumem__percent_hundredths(uint64_t part, uint64_t whole);
/* part / whole * 100, rounded down: 89.9 % shows as 89 %, never 90 %. */
unsigned gpumem__percent_whole(uint64_t part, uint64_t whole);

/* total * percent / 100 rounded down, in integers and exact: the byte
 * figure of a level bound. *exact (if not NULL) says whether nothing was
 * rounded away. A figure beyond 64 bits gives UINT64_MAX, not exact. */
static inline uint64_t gpumem__percent_of(uint64_t total, unsigned percent, int *exact)
{
    uint64_t whole = total / 100, rest = total % 100 * percent; /* below 2^39 */
    if ((percent && whole > UINT64_MAX / percent) || rest / 100 > UINT64_MAX - whole * percent) {
        if (exact) *exact = 0;
        return UINT64_MAX;
    }
    if (exact) *exact = rest % 100 == 0;
    return whole * percent + rest / 100;
}

/* "healthy", "warning" or "critical" (enum gpumem_level; anything above
 * critical reads as healthy, as a segment's clamped level does). */
const char *gpumem__level_name(unsigned level);

void gpumem__format_percent(char *buf, size_t size, uint64_t part, uint64_t whole); /* "32.35" */
void gpumem__format_size(char *buf, size_t size, uint64_t bytes);                   /* "2.00 GiB" */
void gpumem__format_gb(char *buf, size_t size, uint64_t bytes);                     /* "15.2GB", GB = 1024^3 */
/* at - then in seconds, three decimals, "-" when then is later: "1.234". */
void gpumem__format_seconds(char *buf, size_t size, uint64_t then_ns, uint64_t at_ns);
/* A time in UTC to the millisecond: "2027-01-15 08:00:00.000 UTC". */
void gpumem__format_utc(char *buf, size_t size, uint64_t unix_ns);
/* The same as ISO 8601: "2027-01-15T08:00:00.000Z". */
void gpumem__format_iso8601(char *buf, size_t size, uint64_t unix_ns);
/* Unix seconds to the millisecond: "1800000000.000". */
void gpumem__format_unix_seconds(char *buf, size_t size, uint64_t unix_ns);

/* A duration "90s", "10m", "1h", "1d", "250ms" (digits then one unit of
 * ms, s, m, h, d; at most 100 days) into *ns. 1 or 0 when not one. */
int gpumem__parse_duration(const char *s, uint64_t *ns);

#endif /* GPUMEM_FORMAT_H */
