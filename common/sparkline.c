/* sparkline.c - see sparkline.h. */
#include "sparkline.h"

#include <string.h>

static const char *const blocks[8] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
static const char ascii_levels[] = "_.-:=+*#";
/* A cell filled to k eighths, k = 1..7 (U+258F..U+2589). */
static const char *const eighths[8] = { "", "▏", "▎", "▍", "▌", "▋", "▊", "▉" };

struct out {
    char *buf;
    size_t size, len;
};

/* Appends a whole glyph, or nothing once it would not fit. */
static void add(struct out *o, const char *g)
{
    size_t n = strlen(g);
    if (o->size == 0 || o->len + n >= o->size) return;
    memcpy(o->buf + o->len, g, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

size_t gpumem__sparkline(char *buf, size_t size, const uint64_t *v, size_t n, uint64_t top, int utf8)
{
    struct out o = { buf, size, 0 };
    if (size) buf[0] = '\0';
    if (top == 0)
        for (size_t i = 0; i < n; i++)
            if (v[i] > top) top = v[i];
    for (size_t i = 0; i < n; i++) {
        /* Eight heights for 0..top: the lowest block is 0 up to an eighth. */
        unsigned k = top ? (unsigned)((unsigned __int128)(v[i] > top ? top : v[i]) * 7 / top) : 0;
        if (utf8) add(&o, blocks[k]);
        else add(&o, (char[2]){ ascii_levels[k], 0 });
    }
    return o.len;
}

size_t gpumem__bar(char *buf, size_t size, uint64_t part, uint64_t whole, unsigned cells, unsigned warn, unsigned alarm,
                   int utf8)
{
    struct out o = { buf, size, 0 };
    if (size) buf[0] = '\0';
    /* The fill in eighths of a cell, capped at the full bar. */
    uint64_t fill = 0;
    if (whole) {
        unsigned __int128 f = (unsigned __int128)part * cells * 8 / whole;
        fill = f > (uint64_t)cells * 8 ? (uint64_t)cells * 8 : (uint64_t)f;
    }
    unsigned warn_at = cells * warn / 100, alarm_at = cells * alarm / 100;
    add(&o, "[");
    for (unsigned c = 0; c < cells; c++) {
        if (c == warn_at) add(&o, "|");
        if (c == alarm_at && alarm_at != warn_at) add(&o, "|");
        uint64_t here = fill > (uint64_t)c * 8 ? fill - (uint64_t)c * 8 : 0;
        add(&o, here >= 8 ? "█" : here ? eighths[here] : "·");
    }
    if (warn_at >= cells) add(&o, "|");
    if (alarm_at >= cells && alarm_at != warn_at) add(&o, "|");
    add(&o, "]");
    /* ASCII as the full-screen view turns any frame: one rule for both. */
    if (!utf8 && size) {
        gpumem__glyphs_to_ascii(buf);
        o.len = strlen(buf);
    }
    return o.len;
}

void gpumem__glyphs_to_ascii(char *s)
{
    static const struct {
        const char *glyph;
        char ascii;
    } map[] = {
        { "▁", '_' }, { "▂", '.' }, { "▃", '-' }, { "▄", ':' }, { "▅", '=' }, { "▆", '+' },
        { "▇", '*' }, { "█", '#' }, { "▏", '.' }, { "▎", '.' }, { "▍", '.' }, { "▌", '#' },
        { "▋", '#' }, { "▊", '#' }, { "▉", '#' }, { "·", '.' }, { "⚠", '!' },
    };
    char *w = s;
    for (const char *r = s; *r;) {
        size_t i = 0;
        while (i < sizeof map / sizeof map[0] && strncmp(r, map[i].glyph, strlen(map[i].glyph)) != 0) i++;
        if (i < sizeof map / sizeof map[0]) {
            *w++ = map[i].ascii;
            r += strlen(map[i].glyph);
        } else *w++ = *r++;
    }
    *w = '\0';
}

size_t gpumem__columns_bytes(const char *s, size_t cols)
{
    size_t i = 0;
    for (size_t c = 0; s[i] && c < cols; c++) {
        i++;
        while ((s[i] & 0xc0) == 0x80) i++; /* continuation bytes */
    }
    return i;
}
