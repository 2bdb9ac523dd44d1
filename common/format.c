/* format.c - see format.h. Integers only: no floating point at all. */
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

void gm_format_size(char *buf, size_t size, uint64_t bytes)
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

void gm_format_gb(char *buf, size_t size, uint64_t bytes)
{
    uint64_t v = scaled(bytes, 1ull << 30, 10, 1, UINT64_MAX);
    snprintf(buf, size, "%llu.%uGB", (unsigned long long)(v / 10), (unsigned)(v % 10));
}

void gm_format_seconds(char *buf, size_t size, uint64_t then_ns, uint64_t at_ns)
{
    int negative = then_ns > at_ns;
    uint64_t ms = scaled(negative ? then_ns - at_ns : at_ns - then_ns, 1000000, 1, 1, UINT64_MAX);
    snprintf(buf, size, "%s%llu.%03u", negative ? "-" : "", (unsigned long long)(ms / 1000), (unsigned)(ms % 1000));
}

/* The length of the well-formed UTF-8 sequence at p (Unicode's table 3-7),
 * or 0 with *bad set to the length of its maximal subpart. */
static int utf8_sequence(const unsigned char *p, int *bad)
{
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    int n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0; /* overlong below */
        if (c == 0xed) hi = 0x9f; /* surrogates above */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90; /* overlong below */
        if (c == 0xf4) hi = 0x8f; /* beyond U+10FFFF above */
    } else {
        *bad = 1; /* a continuation byte, C0, C1 (overlong) or F5..FF */
        return 0;
    }
    for (int k = 1; k < n; k++, lo = 0x80, hi = 0xbf)
        if (p[k] < lo || p[k] > hi) { /* the terminating NUL included */
            *bad = k;
            return 0;
        }
    return n;
}

void gm_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int bad = 0, n = utf8_sequence(p, &bad);
        if (n == 0) {
            fputs("\\ufffd", f);
            p += bad;
            continue;
        }
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n') fputs("\\n", f);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fwrite(p, 1, (size_t)n, f);
        p += n;
    }
    fputc('"', f);
}
