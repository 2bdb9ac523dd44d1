/* format.c - see format.h. Integers only. */
#include "format.h"

/* n / d * scale, rounded down or to the nearest (ties to even), at most cap;
 * 0 when d is 0. Exact while d * scale fits in 64 bits; beyond that (a
 * whole above 1.8e15 for a percent in hundredths) the remainder and d are
 * halved until it does, which moves the last digit at most. */
static uint64_t scaled(uint64_t n, uint64_t d, uint64_t scale, int nearest, uint64_t cap)
{
    if (d == 0) return 0;
    uint64_t q = n / d, r = n % d;
    if (q > cap / scale) return cap;
    while (d > UINT64_MAX / scale) {
        r >>= 1;
        d >>= 1;
    }
    uint64_t v = q * scale, num = r * scale, rem = num % d;
    if (num / d > cap - v) return cap;
    v += num / d;
    if (nearest && (rem > d - rem || (rem == d - rem && (v & 1))) && v < cap) v++;
    return v;
}

unsigned gm_percent_hundredths(uint64_t part, uint64_t whole)
{
    return (unsigned)scaled(part, whole, 10000, 1, GM_PERCENT_MAX_HUNDREDTHS);
}

unsigned gm_percent_whole(uint64_t part, uint64_t whole)
{
    return (unsigned)scaled(part, whole, 100, 0, GM_PERCENT_MAX_HUNDREDTHS / 100);
}

void gm_format_percent(char *buf, size_t size, uint64_t part, uint64_t whole)
{
    unsigned h = gm_percent_hundredths(part, whole);
    snprintf(buf, size, "%u.%02u", h / 100, h % 100);
}
