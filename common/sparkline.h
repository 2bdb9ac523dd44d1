/*
 * sparkline.h - memory drawn in a line of text: a sparkline of a series
 * (Unicode blocks ▁▂▃▄▅▆▇█, or ASCII "_.-:=+*#" where the terminal is not
 * UTF-8) and a bar of reserved against total with the warning and critical
 * marks. Integers only and nothing allocated, as format.h: the shim may
 * draw these inside its host program.
 */
#ifndef GPUMEM_SPARKLINE_H
#define GPUMEM_SPARKLINE_H

#include <stddef.h>
#include <stdint.h>

/* v[0..n) oldest first, one cell each, its height v / top in eight steps
 * (a value of 0 is the lowest cell; top 0: the largest value). Written
 * into buf (always NUL-terminated when size > 0, cut between cells);
 * returns the bytes written. */
size_t gpumem__sparkline(char *buf, size_t size, const uint64_t *v, size_t n, uint64_t top, int utf8);

/* "[████████████▊···|··|··]": part of whole in cells cells, with a '|'
 * inserted at warn % and at alarm % of the width (the 80 % and 90 %
 * levels); UTF-8 shows the last cell to an eighth, ASCII uses '#' and '.'.
 * whole 0: an empty bar. Returns the bytes written, as above. */
size_t gpumem__bar(char *buf, size_t size, uint64_t part, uint64_t whole, unsigned cells, unsigned warn, unsigned alarm,
                   int utf8);

/* Rewrites, in place, every glyph these and the reader's tables use (the
 * blocks, '·', '⚠') as one ASCII character, for a terminal that is not
 * UTF-8. */
void gpumem__glyphs_to_ascii(char *s);

/* The bytes of s that fill at most cols columns of a terminal, each
 * character (a UTF-8 sequence) one column wide, as the glyphs above are:
 * what curses' byte count should be to cut a line at the screen's edge. */
size_t gpumem__columns_bytes(const char *s, size_t cols);

#endif /* GPUMEM_SPARKLINE_H */
