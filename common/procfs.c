/* procfs.c - see procfs.h. */
#define _GNU_SOURCE
#include "procfs.h"

#include <string.h>

int gpumem__proc_stat_parse_start(const char *buf, size_t len, uint64_t *start)
{
    if (!buf) return -1;
    const char *p = memrchr(buf, ')', len), *end = buf + len;
    if (!p) return -1;
    /* The 1st space after ")" comes before field 3 (state), the 20th before field 22. */
    for (int field = 2; field < 22; field++) {
        p = memchr(p + 1, ' ', (size_t)(end - p - 1));
        if (!p) return -1;
    }
    uint64_t v = 0;
    const char *d = p + 1;
    for (; d < end && *d >= '0' && *d <= '9'; d++) {
        unsigned digit = (unsigned)(*d - '0');
        if (v > (UINT64_MAX - digit) / 10) return -1;
        v = v * 10 + digit;
    }
    /* Digits, then the next field, the line's end or the buffer's. */
    if (d == p + 1 || (d < end && *d != ' ' && *d != '\n' && *d != '\0')) return -1;
    *start = v;
    return 0;
}

uint64_t gpumem__proc_stat_start(const char *buf, size_t len)
{
    uint64_t start;
    return gpumem__proc_stat_parse_start(buf, len, &start) == 0 ? start : 0;
}
