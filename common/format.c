/* format.c - see format.h. Integers only: no floating point at all. */
#include "format.h"

#include <string.h>

#include "gpumem.h"

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

unsigned gpumem__percent_hundredths(uint64_t part, uint64_t whole)
{
    return (unsigned)scaled(part, whole, 10000, 1, GPUMEM_PERCENT_MAX_HUNDREDTHS);
}

unsigned gpumem__percent_whole(uint64_t part, uint64_t whole)
{
    return (unsigned)scaled(part, whole, 100, 0, GPUMEM_PERCENT_MAX_HUNDREDTHS / 100);
}

void gpumem__format_percent(char *buf, size_t size, uint64_t part, uint64_t whole)
{
    unsigned h = gpumem__percent_hundredths(part, whole);
    snprintf(buf, size, "%u.%02u", h / 100, h % 100);
}

void gpumem__format_size(char *buf, size_t size, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB" };
    if (bytes < 1024) {
        snprintf(buf, size, "%llu bytes", (unsigned long long)bytes);
        return;
    }
    int u = bytes < (1ull << 20) ? 0 : bytes < (1ull << 30) ? 1 : 2;
    uint64_t v = scaled(bytes, 1ull << (10 * (u + 1)), 100, 1, UINT64_MAX);
    snprintf(buf, size, "%llu.%02u %s", (unsigned long long)(v / 100), (unsigned)(v % 100), units[u]);
}

void gpumem__format_gb(char *buf, size_t size, uint64_t bytes)
{
    uint64_t v = scaled(bytes, 1ull << 30, 10, 1, UINT64_MAX);
    snprintf(buf, size, "%llu.%uGB", (unsigned long long)(v / 10), (unsigned)(v % 10));
}

void gpumem__format_seconds(char *buf, size_t size, uint64_t then_ns, uint64_t at_ns)
{
    int negative = then_ns > at_ns;
    uint64_t ms = scaled(negative ? then_ns - at_ns : at_ns - then_ns, 1000000, 1, 1, UINT64_MAX);
    snprintf(buf, size, "%s%llu.%03u", negative ? "-" : "", (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
}

/* Days since 1970-01-01 as a civil date (Howard Hinnant's days_from_civil,
 * inverted): what gmtime_r gives, in integers, without the C library's
 * locale or time zone state. */
static void civil_from_days(uint64_t days, uint64_t *year, unsigned *month, unsigned *day)
{
    uint64_t z = days + 719468, era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399]    */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365]    */
    unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0   */
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (*month <= 2);
}

static void format_time(char *buf, size_t size, uint64_t unix_ns, const char *fmt)
{
    uint64_t s = unix_ns / 1000000000u, year;
    unsigned month, day, second = (unsigned)(s % 86400);
    civil_from_days(s / 86400, &year, &month, &day);
    snprintf(buf, size, fmt, (unsigned long long)year, month, day, second / 3600, second / 60 % 60, second % 60,
             (unsigned)(unix_ns / 1000000u % 1000u));
}

void gpumem__format_utc(char *buf, size_t size, uint64_t unix_ns)
{
    format_time(buf, size, unix_ns, "%llu-%02u-%02u %02u:%02u:%02u.%03u UTC");
}

void gpumem__format_iso8601(char *buf, size_t size, uint64_t unix_ns)
{
    format_time(buf, size, unix_ns, "%llu-%02u-%02uT%02u:%02u:%02u.%03uZ");
}

void gpumem__format_unix_seconds(char *buf, size_t size, uint64_t unix_ns)
{
    snprintf(buf, size, "%llu.%03u", (unsigned long long)(unix_ns / 1000000000u),
             (unsigned)(unix_ns / 1000000u % 1000u));
}

const char *gpumem__level_name(unsigned level)
{
    return level == GPUMEM_LEVEL_CRITICAL ? "critical" : level == GPUMEM_LEVEL_WARNING ? "warning" : "healthy";
}

int gpumem__parse_duration(const char *s, uint64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = { { "ms", 1000000u },
                  { "s", 1000000000u },
                  { "m", 60000000000u },
                  { "h", 3600000000000u },
                  { "d", 86400000000000u } };
    uint64_t n = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9' && i < 9; i++) n = n * 10 + (uint64_t)(s[i] - '0');
    if (i == 0 || (s[i] >= '0' && s[i] <= '9')) return 0;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (strcmp(s + i, units[u].unit) != 0) continue;
        if (n > 100 * units[4].ns / units[u].ns) return 0;
        *ns = n * units[u].ns;
        return 1;
    }
    return 0;
}
