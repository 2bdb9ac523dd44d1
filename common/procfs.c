/* procfs.c - see procfs.h. */
#include "procfs.h"

#include <string.h>

uint64_t gm_proc_stat_start(const char *buf, size_t len)
{
    const char *p = NULL;
    for (size_t i = 0; i < len && buf[i]; i++)
        if (buf[i] == ')') p = buf + i;
    if (!p) return 0;
    const char *end = buf + len;
    /* After ")": field 3 (state) is first; skip to field 22. */
    for (int field = 2; field < 22; field++) {
        while (p < end && *p && *p != ' ') p++;
        if (p >= end || *p != ' ') return 0;
        p++;
    }
    uint64_t v = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 20; p++, digits++) v = v * 10 + (uint64_t)(*p - '0');
    return digits ? v : 0;
}
