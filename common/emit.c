/* emit.c - see emit.h. No allocation, no floating point, no locale. */
#include "emit.h"

#include <string.h>
#include <sys/types.h>

/* ---- where the bytes go ------------------------------------------------------ */

static void escaped_into_string(struct gpumem_emitter *json, const char *s, size_t n);

static void put(struct gpumem_emitter *e, const char *s, size_t n)
{
    if (n == 0) return;
    size_t before = e->length;
    e->length += n;
    if (e->string_of) {
        escaped_into_string(e->string_of, s, n);
    } else if (e->file) {
        if (fwrite(s, 1, n, e->file) != n) e->failed = 1;
    } else if (e->buf && e->size > 0) {
        /* As snprintf: whatever fits before the last byte, then a NUL. */
        size_t room = before < e->size - 1 ? e->size - 1 - before : 0, k = n < room ? n : room;
        if (k) {
            memcpy(e->buf + before, s, k);
            e->buf[before + k] = '\0';
        }
        if (k < n) e->failed = 1;
    } else {
        e->failed = 1;
    }
}

static void puts_(struct gpumem_emitter *e, const char *s) { put(e, s, strlen(s)); }

static void pad(struct gpumem_emitter *e, char c, size_t n)
{
    static const char spaces[] = "                                ", zeros[] = "00000000000000000000000000000000";
    while (n) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        put(e, c == '0' ? zeros : spaces, k);
        n -= k;
    }
}

/* v written backwards from end in base 10 or 16: the first digit's address. */
static char *digits(char *end, uint64_t v, unsigned base, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        *--end = d[v % base];
        v /= base;
    } while (v);
    return end;
}

/* The magnitude of v, without overflow for INT64_MIN. */
static uint64_t magnitude(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

static void put_uint(struct gpumem_emitter *e, uint64_t v)
{
    char b[24], *end = b + sizeof b, *s = digits(end, v, 10, 0);
    put(e, s, (size_t)(end - s));
}

static void put_int(struct gpumem_emitter *e, int64_t v)
{
    if (v < 0) put(e, "-", 1);
    put_uint(e, magnitude(v));
}

/* ---- escaping: every escape of gpumem is here ----------------------------------- */

enum escape {
    ESC_JSON,  /* inside "...": \" \\ \n, other controls as \u00XX         */
    ESC_LABEL, /* a Prometheus label value: \\ \" \n                       */
    ESC_HELP,  /* a Prometheus HELP text: \\ \n                            */
    ESC_CSV,   /* inside a quoted CSV field: "" for "                      */
    ESC_XML,   /* XML text or attribute value: & < > " ' as references,
                * other controls (none is an XML 1.0 character) as U+FFFD */
    ESC_UTF8,  /* nothing escaped: only ill-formed UTF-8 replaced          */
};

/* The length of the well-formed UTF-8 sequence at p, n > 0 bytes available
 * (Unicode's table 3-7); 0 with *bad set to the length of its maximal
 * subpart when it is ill-formed; -1 when the n bytes are a well-formed
 * beginning cut short. */
static int utf8_sequence(const unsigned char *p, size_t n, int *bad)
{
    unsigned c = p[0], lo = 0x80, hi = 0xbf;
    int len;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0; /* overlong below */
        if (c == 0xed) hi = 0x9f; /* surrogates above */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90; /* overlong below */
        if (c == 0xf4) hi = 0x8f; /* beyond U+10FFFF above */
    } else {
        *bad = 1; /* a continuation byte, C0, C1 (overlong) or F5..FF */
        return 0;
    }
    for (int k = 1; k < len; k++, lo = 0x80, hi = 0xbf) {
        if ((size_t)k >= n) return -1;
        if (p[k] < lo || p[k] > hi) {
            *bad = k;
            return 0;
        }
    }
    return len;
}

static int special(enum escape how, unsigned char c)
{
    switch (how) {
    case ESC_JSON: return c == '"' || c == '\\' || c < 0x20;
    case ESC_LABEL: return c == '"' || c == '\\' || c == '\n';
    case ESC_HELP: return c == '\\' || c == '\n';
    case ESC_CSV: return c == '"';
    case ESC_XML: return c == '&' || c == '<' || c == '>' || c == '"' || c == '\'' || c < 0x20 || c == 0x7f;
    case ESC_UTF8: return 0;
    }
    return 0;
}

static void put_special(struct gpumem_emitter *e, enum escape how, unsigned char c)
{
    char b[6] = { '\\', (char)c };
    if (how == ESC_XML) {
        const char *ref = c == '&'    ? "&amp;"
                          : c == '<'  ? "&lt;"
                          : c == '>'  ? "&gt;"
                          : c == '"'  ? "&quot;"
                          : c == '\'' ? "&#39;"
                          : c == '\t' ? "&#9;"
                          : c == '\n' ? "&#10;"
                          : c == '\r' ? "&#13;"
                                      : "\xef\xbf\xbd";
        puts_(e, ref);
    } else if (how == ESC_CSV) put(e, "\"\"", 2);
    else if (c == '\n') put(e, "\\n", 2);
    else if (c == '"' || c == '\\') put(e, b, 2);
    else {
        memcpy(b, "\\u00", 4);
        b[4] = "0123456789abcdef"[c >> 4];
        b[5] = "0123456789abcdef"[c & 15];
        put(e, b, 6);
    }
}

/* U+FFFD: JSON spells it out, the other formats carry it as UTF-8. */
static void put_replacement(struct gpumem_emitter *e, enum escape how)
{
    if (how == ESC_JSON) put(e, "\\ufffd", 6);
    else put(e, "\xef\xbf\xbd", 3);
}

/* s[0..n) escaped for how, as valid UTF-8: each ill-formed sequence becomes
 * one U+FFFD per maximal subpart. A sequence cut by the end of s waits in
 * e->carry for the next piece, so text written in pieces comes out as the
 * whole text would; escaped_end ends it. */
static void escaped(struct gpumem_emitter *e, enum escape how, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (e->ncarry && p < end) {
        e->carry[e->ncarry++] = *p++;
        int bad = 0, k = utf8_sequence(e->carry, (size_t)e->ncarry, &bad);
        if (k < 0) continue;
        e->ncarry = 0;
        if (k > 0) {
            put(e, (const char *)e->carry, (size_t)k);
        } else {
            /* The carried bytes were a well-formed beginning: the byte just
             * added ended it, and starts afresh. */
            put_replacement(e, how);
            p--;
        }
    }
    const unsigned char *run = p;
    while (p < end) {
        int bad = 0, k = utf8_sequence(p, (size_t)(end - p), &bad);
        if (k > 1 || (k == 1 && !special(how, *p))) {
            p += k;
            continue;
        }
        put(e, (const char *)run, (size_t)(p - run));
        if (k < 0) {
            e->ncarry = (int)(end - p);
            memcpy(e->carry, p, (size_t)e->ncarry);
            return;
        }
        if (k == 0) {
            put_replacement(e, how);
            p += bad;
        } else {
            put_special(e, how, *p);
            p++;
        }
        run = p;
    }
    put(e, (const char *)run, (size_t)(p - run));
}

static void escaped_end(struct gpumem_emitter *e, enum escape how)
{
    if (e->ncarry) put_replacement(e, how);
    e->ncarry = 0;
}

static void json_quoted(struct gpumem_emitter *e, const char *s)
{
    put(e, "\"", 1);
    escaped(e, ESC_JSON, s, strlen(s));
    escaped_end(e, ESC_JSON);
    put(e, "\"", 1);
}

static void escaped_into_string(struct gpumem_emitter *json, const char *s, size_t n)
{
    if (!json->in_string) {
        json->failed = 1;
        return;
    }
    escaped(json, ESC_JSON, s, n);
}

void gpumem__json_string(FILE *f, const char *s)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_JSON, f);
    json_quoted(&e, s);
}

/* A number as JSON writes one: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int json_number(const char *s)
{
    if (*s == '-') s++;
    if (*s == '0') s++;
    else if (is_digit(*s))
        while (is_digit(*s)) s++;
    else return 0;
    if (*s == '.') {
        if (!is_digit(*++s)) return 0;
        while (is_digit(*s)) s++;
    }
    if (*s == 'e' || *s == 'E') {
        if (*++s == '+' || *s == '-') s++;
        if (!is_digit(*s)) return 0;
        while (is_digit(*s)) s++;
    }
    return *s == '\0';
}

/* ---- setting up ------------------------------------------------------------- */

static void init(struct gpumem_emitter *e, enum gpumem_emit_format format)
{
    memset(e, 0, sizeof *e);
    e->format = format;
    e->cells = e->labels = -1;
}

void gpumem__emitter_init_file(struct gpumem_emitter *e, enum gpumem_emit_format format, FILE *f)
{
    init(e, format);
    e->file = f;
}

void gpumem__emitter_init_buffer(struct gpumem_emitter *e, enum gpumem_emit_format format, char *buf, size_t size)
{
    init(e, format);
    e->buf = buf;
    e->size = size;
    if (buf && size) buf[0] = '\0';
}

void gpumem__emitter_init_string(struct gpumem_emitter *e, struct gpumem_emitter *json)
{
    init(e, GPUMEM_EMIT_TEXT);
    e->string_of = json;
}

int gpumem__emitter_finish(struct gpumem_emitter *e)
{
    if (e->format == GPUMEM_EMIT_JSON) {
        if (e->in_string || e->depth) e->failed = 1;
        if (e->in_string) gpumem__emitter_string_end(e);
        put(e, "\n", 1);
    }
    if (e->cells >= 0 || e->labels >= 0) e->failed = 1;
    if (e->file && (fflush(e->file) != 0 || ferror(e->file))) e->failed = 1;
    return e->failed ? -1 : 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static int is_json(struct gpumem_emitter *e) { return e->format == GPUMEM_EMIT_JSON; }

/* The state of the innermost container (containers too deep share the last). */
static int level(const struct gpumem_emitter *e)
{
    return e->depth < GPUMEM_EMIT_MAX_DEPTH ? e->depth : GPUMEM_EMIT_MAX_DEPTH;
}

/* What comes before an item: the separator, the new line asked for, the key. */
static void item(struct gpumem_emitter *e, const char *key)
{
    int d = level(e), member = e->depth > 0 && e->is_object[d];
    if (e->in_string || (key != NULL) != member || (d == 0 && e->items[0])) e->failed = 1;
    if (e->items[d]) put(e, ",", 1);
    if (e->newline) {
        put(e, "\n", 1);
        pad(e, ' ', (size_t)(e->newline - 1));
    } else if (e->items[d]) {
        put(e, " ", 1);
    }
    e->newline = 0;
    e->items[d] = 1;
    if (key && member) {
        json_quoted(e, key);
        put(e, ": ", 2);
    }
}

static void open_(struct gpumem_emitter *e, const char *key, int object)
{
    if (!is_json(e)) return;
    item(e, key);
    put(e, object ? "{" : "[", 1);
    if (++e->depth > GPUMEM_EMIT_MAX_DEPTH) e->failed = 1;
    e->items[level(e)] = 0;
    e->is_object[level(e)] = (unsigned char)object;
}

static void close_(struct gpumem_emitter *e, int object)
{
    if (!is_json(e)) return;
    if (e->depth == 0 || e->in_string || e->is_object[level(e)] != object) e->failed = 1;
    if (e->depth == 0) return;
    e->newline = 0;
    put(e, object ? "}" : "]", 1);
    e->depth--;
}

void gpumem__emitter_object_begin(struct gpumem_emitter *e, const char *key) { open_(e, key, 1); }
void gpumem__emitter_object_end(struct gpumem_emitter *e) { close_(e, 1); }
void gpumem__emitter_array_begin(struct gpumem_emitter *e, const char *key) { open_(e, key, 0); }
void gpumem__emitter_array_end(struct gpumem_emitter *e) { close_(e, 0); }

void gpumem__emitter_newline(struct gpumem_emitter *e, int indent)
{
    if (is_json(e)) e->newline = 1 + (indent > 0 ? (indent < 256 ? indent : 256) : 0);
}

void gpumem__emitter_uint(struct gpumem_emitter *e, const char *key, uint64_t v)
{
    if (!is_json(e)) return;
    item(e, key);
    put_uint(e, v);
}

void gpumem__emitter_int(struct gpumem_emitter *e, const char *key, int64_t v)
{
    if (!is_json(e)) return;
    item(e, key);
    put_int(e, v);
}

void gpumem__emitter_string(struct gpumem_emitter *e, const char *key, const char *s)
{
    if (!is_json(e)) return;
    item(e, key);
    if (s) json_quoted(e, s);
    else puts_(e, "null");
}

void gpumem__emitter_number(struct gpumem_emitter *e, const char *key, const char *number)
{
    if (!is_json(e)) return;
    item(e, key);
    if (number && json_number(number)) {
        puts_(e, number);
    } else {
        e->failed = 1;
        puts_(e, "null");
    }
}

void gpumem__emitter_bool(struct gpumem_emitter *e, const char *key, int v)
{
    if (!is_json(e)) return;
    item(e, key);
    puts_(e, v ? "true" : "false");
}

void gpumem__emitter_null(struct gpumem_emitter *e, const char *key)
{
    if (!is_json(e)) return;
    item(e, key);
    puts_(e, "null");
}

void gpumem__emitter_string_begin(struct gpumem_emitter *e, const char *key)
{
    if (!is_json(e)) return;
    item(e, key);
    put(e, "\"", 1);
    e->in_string = 1;
    e->ncarry = 0;
}

void gpumem__emitter_string_end(struct gpumem_emitter *e)
{
    if (!is_json(e)) return;
    if (!e->in_string) {
        e->failed = 1;
        return;
    }
    escaped_end(e, ESC_JSON);
    e->in_string = 0;
    put(e, "\"", 1);
}

/* ---- TEXT ------------------------------------------------------------------- */

/* s[0..n) padded with c to width: on the right if left, else on the left. */
static void field(struct gpumem_emitter *e, const char *s, size_t n, size_t width, int left)
{
    size_t fill = width > n ? width - n : 0;
    if (!left) pad(e, ' ', fill);
    put(e, s, n);
    if (left) pad(e, ' ', fill);
}

/* An integer as printf writes it: sign, precision's zeros, width's padding. */
static void number(struct gpumem_emitter *e, const char *sign, const char *ds, size_t dn, int width, int prec, int left,
                   int zero)
{
    size_t sn = strlen(sign), zeros = 0;
    if (prec >= 0) {
        zero = 0;
        if (prec == 0 && dn == 1 && ds[0] == '0') dn = 0; /* "%.0u" of 0 writes nothing */
        if ((size_t)prec > dn) zeros = (size_t)prec - dn;
    }
    size_t body = sn + zeros + dn, fill = (size_t)width > body ? (size_t)width - body : 0;
    if (!left && !zero) pad(e, ' ', fill);
    put(e, sign, sn);
    if (!left && zero) pad(e, '0', fill);
    pad(e, '0', zeros);
    put(e, ds, dn);
    if (left) pad(e, ' ', fill);
}

static int read_count(const char **p)
{
    int n = 0;
    for (; is_digit(**p); (*p)++)
        if (n < 1000000) n = n * 10 + (**p - '0');
    return n;
}

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

void gpumem__emitter_vprintf(struct gpumem_emitter *e, const char *fmt, va_list ap)
{
    if (e->format != GPUMEM_EMIT_TEXT) return;
    const char *p = fmt, *run = fmt;
    while (*p) {
        if (*p != '%') {
            p++;
            continue;
        }
        put(e, run, (size_t)(p - run));
        p++;
        int left = 0, zero = 0, width = 0, prec = -1;
        for (;; p++) {
            if (*p == '-') left = 1;
            else if (*p == '0') zero = 1;
            else break;
        }
        if (*p == '*') {
            p++;
            width = va_arg(ap, int);
            if (width < 0) {
                left = 1;
                width = width < -1000000 ? 1000000 : -width;
            }
        } else {
            width = read_count(&p);
        }
        if (*p == '.') {
            p++;
            if (*p == '*') {
                p++;
                prec = va_arg(ap, int);
                if (prec < 0) prec = -1;
            } else {
                prec = read_count(&p);
            }
        }
        enum length len = LEN_NONE;
        if (*p == 'h') len = *++p == 'h' ? (p++, LEN_HH) : LEN_H;
        else if (*p == 'l') len = *++p == 'l' ? (p++, LEN_LL) : LEN_L;
        else if (*p == 'z') len = (p++, LEN_Z);
        else if (*p == 'j') len = (p++, LEN_J);
        else if (*p == 't') len = (p++, LEN_T);
        char conv = *p;
        if (conv) p++;
        char b[24], *end = b + sizeof b, *ds;
        switch (conv) {
        case '%': put(e, "%", 1); break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            field(e, &c, 1, (size_t)width, left);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            field(e, s, prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s), (size_t)width, left);
            break;
        }
        case 'd':
        case 'i': {
            int64_t v;
            switch (len) {
            case LEN_HH: v = (signed char)va_arg(ap, int); break;
            case LEN_H: v = (short)va_arg(ap, int); break;
            case LEN_L: v = va_arg(ap, long); break;
            case LEN_LL: v = va_arg(ap, long long); break;
            case LEN_Z: v = va_arg(ap, ssize_t); break;
            case LEN_J: v = va_arg(ap, intmax_t); break;
            case LEN_T: v = va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, int); break;
            }
            ds = digits(end, magnitude(v), 10, 0);
            number(e, v < 0 ? "-" : "", ds, (size_t)(end - ds), width, prec, left, zero);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v;
            switch (len) {
            case LEN_HH: v = (unsigned char)va_arg(ap, unsigned); break;
            case LEN_H: v = (unsigned short)va_arg(ap, unsigned); break;
            case LEN_L: v = va_arg(ap, unsigned long); break;
            case LEN_LL: v = va_arg(ap, unsigned long long); break;
            case LEN_Z: v = va_arg(ap, size_t); break;
            case LEN_J: v = va_arg(ap, uintmax_t); break;
            case LEN_T: v = (uint64_t)va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, unsigned); break;
            }
            ds = digits(end, v, conv == 'u' ? 10 : 16, conv == 'X');
            number(e, "", ds, (size_t)(end - ds), width, prec, left, zero);
            break;
        }
        default:
            /* %f, %g, %n, %p, a flag not listed...: nothing of it is
             * written, and the arguments after it cannot be located. */
            e->failed = 1;
            return;
        }
        run = p;
    }
    put(e, run, (size_t)(p - run));
}

void gpumem__emitter_printf(struct gpumem_emitter *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gpumem__emitter_vprintf(e, fmt, ap);
    va_end(ap);
}

void gpumem__emitter_text(struct gpumem_emitter *e, const char *s)
{
    if (e->format == GPUMEM_EMIT_TEXT) puts_(e, s);
}

void gpumem__emitter_xml(struct gpumem_emitter *e, const char *s)
{
    if (e->format != GPUMEM_EMIT_TEXT) return;
    escaped(e, ESC_XML, s, strlen(s));
    escaped_end(e, ESC_XML);
}

void gpumem__emitter_utf8_repair(char *s, size_t size)
{
    char out[4096];
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_TEXT, out, sizeof out);
    escaped(&e, ESC_UTF8, s, strlen(s));
    escaped_end(&e, ESC_UTF8);
    size_t n = e.length < sizeof out ? e.length : sizeof out - 2; /* out[n] is there to look at */
    if (n >= size || e.length >= sizeof out) {                    /* cut before a character that does not fit */
        n = n < size - 1 ? n : size - 1;
        while (n > 0 && ((unsigned char)out[n] & 0xc0) == 0x80) n--;
    }
    memcpy(s, out, n);
    s[n] = '\0';
}

size_t gpumem__emitter_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    struct gpumem_emitter e;
    gpumem__emitter_init_buffer(&e, GPUMEM_EMIT_TEXT, buf, size);
    va_list ap;
    va_start(ap, fmt);
    gpumem__emitter_vprintf(&e, fmt, ap);
    va_end(ap);
    return e.length;
}

/* ---- TEXT and CSV: rows --------------------------------------------------------- */

static int has_rows(struct gpumem_emitter *e) { return e->format == GPUMEM_EMIT_TEXT || e->format == GPUMEM_EMIT_CSV; }

void gpumem__emitter_row_begin(struct gpumem_emitter *e)
{
    if (!has_rows(e)) return;
    if (e->cells >= 0) e->failed = 1;
    e->cells = 0;
}

static void cell(struct gpumem_emitter *e, int width, const char *s, size_t n)
{
    if (!has_rows(e)) return;
    if (e->cells < 0) {
        e->failed = 1;
        e->cells = 0;
    }
    if (e->format == GPUMEM_EMIT_TEXT) {
        if (e->cells) put(e, " ", 1);
        size_t w = width < 0 ? (width < -1000000 ? 1000000 : (size_t)-width) : (size_t)width;
        field(e, s, n, w, width < 0);
    } else {
        if (e->cells) put(e, ",", 1);
        int quote = 0;
        for (size_t i = 0; i < n; i++) quote |= s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
        if (quote) put(e, "\"", 1);
        escaped(e, ESC_CSV, s, n);
        escaped_end(e, ESC_CSV);
        if (quote) put(e, "\"", 1);
    }
    e->cells++;
}

void gpumem__emitter_cell(struct gpumem_emitter *e, int width, const char *s) { cell(e, width, s, strlen(s)); }

void gpumem__emitter_cell_uint(struct gpumem_emitter *e, int width, uint64_t v)
{
    char b[24], *end = b + sizeof b, *s = digits(end, v, 10, 0);
    cell(e, width, s, (size_t)(end - s));
}

void gpumem__emitter_cell_int(struct gpumem_emitter *e, int width, int64_t v)
{
    char b[24], *end = b + sizeof b, *s = digits(end, magnitude(v), 10, 0);
    if (v < 0) *--s = '-';
    cell(e, width, s, (size_t)(end - s));
}

void gpumem__emitter_row_end(struct gpumem_emitter *e)
{
    if (!has_rows(e)) return;
    if (e->cells < 0) e->failed = 1;
    put(e, e->format == GPUMEM_EMIT_CSV ? "\r\n" : "\n", e->format == GPUMEM_EMIT_CSV ? 2 : 1);
    e->cells = -1;
}

/* ---- PROMETHEUS ------------------------------------------------------------------ */

static int is_prometheus(struct gpumem_emitter *e) { return e->format == GPUMEM_EMIT_PROMETHEUS; }

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, without ':', a label name. */
static void prometheus_name(struct gpumem_emitter *e, const char *name, int metric)
{
    if (!name || !*name) {
        e->failed = 1;
        put(e, "_", 1);
        return;
    }
    for (const char *s = name; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':') ||
                 (s > name && is_digit(c));
        put(e, ok ? &c : "_", 1);
    }
}

void gpumem__emitter_metric(struct gpumem_emitter *e, const char *name, const char *type, const char *help)
{
    static const char *const types[] = { "counter", "gauge", "histogram", "summary", "untyped" };
    if (!is_prometheus(e)) return;
    if (e->labels >= 0) e->failed = 1;
    if (help) {
        put(e, "# HELP ", 7);
        prometheus_name(e, name, 1);
        put(e, " ", 1);
        escaped(e, ESC_HELP, help, strlen(help));
        escaped_end(e, ESC_HELP);
        put(e, "\n", 1);
    }
    const char *t = "untyped";
    int known = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (type && strcmp(type, types[i]) == 0) t = types[i], known = 1;
    if (!known) e->failed = 1;
    put(e, "# TYPE ", 7);
    prometheus_name(e, name, 1);
    put(e, " ", 1);
    puts_(e, t);
    put(e, "\n", 1);
}

void gpumem__emitter_sample_begin(struct gpumem_emitter *e, const char *name)
{
    if (!is_prometheus(e)) return;
    if (e->labels >= 0) e->failed = 1;
    prometheus_name(e, name, 1);
    e->labels = 0;
}

void gpumem__emitter_label(struct gpumem_emitter *e, const char *name, const char *value)
{
    if (!is_prometheus(e)) return;
    if (e->labels < 0) {
        e->failed = 1;
        return;
    }
    put(e, e->labels ? "," : "{", 1);
    prometheus_name(e, name, 0);
    put(e, "=\"", 2);
    if (value) escaped(e, ESC_LABEL, value, strlen(value));
    escaped_end(e, ESC_LABEL);
    put(e, "\"", 1);
    e->labels++;
}

static void sample_end(struct gpumem_emitter *e, const char *value, size_t n)
{
    if (e->labels < 0) e->failed = 1;
    if (e->labels > 0) put(e, "}", 1);
    put(e, " ", 1);
    put(e, value, n);
    put(e, "\n", 1);
    e->labels = -1;
}

void gpumem__emitter_sample_uint(struct gpumem_emitter *e, uint64_t v)
{
    if (!is_prometheus(e)) return;
    char b[24], *end = b + sizeof b, *s = digits(end, v, 10, 0);
    sample_end(e, s, (size_t)(end - s));
}

void gpumem__emitter_sample_int(struct gpumem_emitter *e, int64_t v)
{
    if (!is_prometheus(e)) return;
    char b[24], *end = b + sizeof b, *s = digits(end, magnitude(v), 10, 0);
    if (v < 0) *--s = '-';
    sample_end(e, s, (size_t)(end - s));
}

void gpumem__emitter_sample_number(struct gpumem_emitter *e, const char *number)
{
    if (!is_prometheus(e)) return;
    int ok = number && (json_number(number) || strcmp(number, "NaN") == 0 || strcmp(number, "+Inf") == 0 ||
                        strcmp(number, "-Inf") == 0);
    if (!ok) e->failed = 1;
    if (!ok) number = "NaN";
    sample_end(e, number, strlen(number));
}
