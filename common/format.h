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

/* Percentages are capped at 9999.99 (shown as 9999 % where whole), so a
 * corrupt or absurd segment (reserved far above total) still prints a
 * bounded figure; a total of 0 gives 0. */
#define GM_PERCENT_MAX_HUNDREDTHS 999999u

/* part / whole * 100 in hundredths, to the nearest (ties to even, as %.2f). */
unsigned gm_percent_hundredths(uint64_t part, uint64_t whole);
/* part / whole * 100, rounded down: 89.9 % shows as 89 %, never 90 %. */
unsigned gm_percent_whole(uint64_t part, uint64_t whole);

void gm_format_percent(char *buf, size_t size, uint64_t part, uint64_t whole); /* "32.35" */
void gm_format_size(char *buf, size_t size, uint64_t bytes);                   /* "2.00 GiB" */
void gm_format_gb(char *buf, size_t size, uint64_t bytes);                     /* "15.2GB", GB = 1024^3 */
/* at - then in seconds, three decimals, "-" when then is later: "1.234". */
void gm_format_seconds(char *buf, size_t size, uint64_t then_ns, uint64_t at_ns);

/* s as a JSON string, quotes included: always valid UTF-8 whatever s holds.
 * Each ill-formed sequence (overlong, surrogate, above U+10FFFF, cut short,
 * a stray byte) becomes one \ufffd per maximal subpart, as Unicode
 * recommends and as Python's decoder does; control characters are escaped. */
void gm_json_string(FILE *f, const char *s);

#endif /* GPUMEM_FORMAT_H */
