/*
 * emit.h - the one writer of everything gpumem prints: human text, JSON, the
 * Prometheus text exposition format and CSV, in the manner of jemalloc's
 * emitter.h. A struct gpumem_emitter holds where the output goes (a stream, a
 * caller's buffer, or a JSON string open in another emitter), the format,
 * and the nesting state; each call below writes in the formats it names and
 * nothing in the others, so one rendering can drive several formats.
 *
 * Every escape lives in emit.c and nowhere else: JSON strings (always valid
 * UTF-8, whatever the input), Prometheus label values and HELP text, CSV
 * fields (RFC 4180). Numbers are written from integers with integer
 * arithmetic, never through printf's conversions nor the locale: a host
 * program of the shim that called setlocale(LC_ALL, "") gets the same bytes
 * as the C locale. Nothing here allocates: an emitter lives on the stack and
 * writing into a buffer touches that buffer only (the shim renders on its
 * out-of-memory path, inside the host program).
 */
#ifndef GPUMEM_EMIT_H
#define GPUMEM_EMIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gpumem_emit_format {
    GPUMEM_EMIT_TEXT,       /* free text and aligned table rows            */
    GPUMEM_EMIT_JSON,       /* objects, arrays, keys and values            */
    GPUMEM_EMIT_PROMETHEUS, /* # HELP, # TYPE and samples with labels       */
    GPUMEM_EMIT_CSV,        /* rows of fields, RFC 4180 quoting, CRLF ends  */
};

#define GPUMEM_EMIT_MAX_DEPTH 16 /* JSON nesting */

struct gpumem_emitter {
    enum gpumem_emit_format format;
    /* Where the output goes: exactly one of these. */
    FILE *file;
    char *buf; /* a caller's buffer of size bytes, NUL-terminated, cut short when full */
    size_t size;
    struct gpumem_emitter *string_of; /* into the JSON string open in that emitter */
    size_t length;                    /* bytes written (a cut buffer: that would have been) */
    int failed;                       /* a write failed, the buffer was cut, or a call was misused */
    /* JSON */
    int depth;                                          /* containers open                      */
    unsigned char items[GPUMEM_EMIT_MAX_DEPTH + 1];     /* whether each has an item yet         */
    unsigned char is_object[GPUMEM_EMIT_MAX_DEPTH + 1]; /* an object, or an array               */
    int newline;                                        /* next item on a new line: indent + 1  */
    int in_string;                                      /* gpumem__emitter_string_begin is open      */
    unsigned char carry[4];                             /* a UTF-8 sequence cut by a write      */
    int ncarry;
    /* rows (TEXT, CSV) and samples (PROMETHEUS) */
    int cells;  /* cells written in the open row, -1 when none is open    */
    int labels; /* labels written in the open sample, -1 when none is open */
};

/* ---- setting up ------------------------------------------------------------ */

void gpumem__emitter_init_file(struct gpumem_emitter *e, enum gpumem_emit_format format, FILE *f);
/* Into buf: always NUL-terminated (size > 0), cut short when full, as
 * snprintf cuts; e->length is then the length the whole output has. */
void gpumem__emitter_init_buffer(struct gpumem_emitter *e, enum gpumem_emit_format format, char *buf, size_t size);
/* A TEXT emitter whose output becomes the JSON string value opened in json
 * with gpumem__emitter_string_begin: escaped as it is written, with no copy, the
 * same bytes as gpumem__emitter_string of the whole text would give. */
void gpumem__emitter_init_string(struct gpumem_emitter *e, struct gpumem_emitter *json);
/* Ends the output: JSON ends the document with a newline. 0 when every write
 * went through and every container was closed; -1 otherwise. */
int gpumem__emitter_finish(struct gpumem_emitter *e);

/* ---- JSON ------------------------------------------------------------------ *
 * key names the member in an object; it is NULL for an array's element and
 * for the document itself. Items are separated by ", " on one line unless
 * gpumem__emitter_newline asked for a new line before the next. */

void gpumem__emitter_object_begin(struct gpumem_emitter *e, const char *key);
void gpumem__emitter_object_end(struct gpumem_emitter *e);
void gpumem__emitter_array_begin(struct gpumem_emitter *e, const char *key);
void gpumem__emitter_array_end(struct gpumem_emitter *e);
/* The next item (key or element) starts a new line, indented by indent spaces. */
void gpumem__emitter_newline(struct gpumem_emitter *e, int indent);

void gpumem__emitter_uint(struct gpumem_emitter *e, const char *key, uint64_t v);
void gpumem__emitter_int(struct gpumem_emitter *e, const char *key, int64_t v);
void gpumem__emitter_string(struct gpumem_emitter *e, const char *key, const char *s);
/* A number already written out, such as gpumem__format_percent's "32.35"; what is
 * not a JSON number is written as null. */
void gpumem__emitter_number(struct gpumem_emitter *e, const char *key, const char *number);
void gpumem__emitter_bool(struct gpumem_emitter *e, const char *key, int v);
void gpumem__emitter_null(struct gpumem_emitter *e, const char *key);
/* A string value written in pieces, by an emitter set up with
 * gpumem__emitter_init_string between these two calls. */
void gpumem__emitter_string_begin(struct gpumem_emitter *e, const char *key);
void gpumem__emitter_string_end(struct gpumem_emitter *e);

/* ---- TEXT: free text --------------------------------------------------------- *
 * printf's integer, character and string conversions (flags '-' and '0',
 * width and precision, '*' for either, length modifiers hh h l ll z j t),
 * written by emit.c itself: no floating point, no locale. Any other
 * conversion (%f, %g, %n...) ends the call there and marks the emitter failed. */

void gpumem__emitter_text(struct gpumem_emitter *e, const char *s);
/* s as XML character data or an attribute value (SVG): & < > " ' as
 * references, tab, LF and CR as character references, other control
 * characters and each ill-formed UTF-8 sequence as U+FFFD, so any bytes
 * give well-formed XML. */
void gpumem__emitter_xml(struct gpumem_emitter *e, const char *s);
void gpumem__emitter_printf(struct gpumem_emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gpumem__emitter_vprintf(struct gpumem_emitter *e, const char *fmt, va_list ap);
/* s (a string in size bytes) rewritten in place as well-formed UTF-8, each
 * ill-formed sequence one U+FFFD as the emitter writes it, cut before a
 * character that no longer fits: two strings that would be written alike
 * then compare equal. At most 4095 bytes are kept. */
void gpumem__emitter_utf8_repair(char *s, size_t size);
/* snprintf with the conversions above, for a cell or a line built apart. */
size_t gpumem__emitter_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- TEXT and CSV: table rows ------------------------------------------------ *
 * TEXT: cells separated by one space, each padded to |width| bytes (width < 0:
 * on the right, as printf's "%-8s"; 0: as it is), the row ended by "\n".
 * CSV: fields separated by ',' and quoted where RFC 4180 asks (a ',', '"',
 * CR or LF inside), widths ignored, the row ended by "\r\n". */

void gpumem__emitter_row_begin(struct gpumem_emitter *e);
void gpumem__emitter_cell(struct gpumem_emitter *e, int width, const char *s);
void gpumem__emitter_cell_uint(struct gpumem_emitter *e, int width, uint64_t v);
void gpumem__emitter_cell_int(struct gpumem_emitter *e, int width, int64_t v);
void gpumem__emitter_row_end(struct gpumem_emitter *e);

/* ---- PROMETHEUS: the text exposition format ---------------------------------- *
 * Names are written with any character a name may not have replaced by '_'.
 * A sample is name{label="value",...} value, one per line. */

/* "# HELP name help" and "# TYPE name type" (gauge, counter, untyped...). */
void gpumem__emitter_metric(struct gpumem_emitter *e, const char *name, const char *type, const char *help);
void gpumem__emitter_sample_begin(struct gpumem_emitter *e, const char *name);
void gpumem__emitter_label(struct gpumem_emitter *e, const char *name, const char *value);
/* Each ends the sample's line. */
void gpumem__emitter_sample_uint(struct gpumem_emitter *e, uint64_t v);
void gpumem__emitter_sample_int(struct gpumem_emitter *e, int64_t v);
void gpumem__emitter_sample_number(struct gpumem_emitter *e, const char *number); /* not a number: NaN */

/* ---- one string, as JSON, to a stream ---------------------------------------- */

/* s as a JSON string, quotes included: always valid UTF-8 whatever s holds.
 * Each ill-formed sequence (overlong, surrogate, above U+10FFFF, cut short,
 * a stray byte) becomes one \ufffd per maximal subpart, as Unicode
 * recommends and as Python's decoder does; control characters are escaped. */
void gpumem__json_string(FILE *f, const char *s);

#endif /* GPUMEM_EMIT_H */
