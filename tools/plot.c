/*
 * plot.c - gpumem__plot_svg (history.h): one self-contained SVG, a panel
 * per device, each series the highest reserved bytes of each bucket as a
 * step line, so a spike shorter than any poll still shows.
 *
 * Everything is drawn in whole pixels computed with integers and written
 * through the emitter (common/emit.c) with integer conversions only, so no
 * locale changes a byte; every string from a segment (labels, device
 * names) goes through gpumem__emitter_xml. A series is reduced to one
 * value per pixel column (the highest of the buckets that start there)
 * and a point is written only where the value changes: an hour of 1 s
 * buckets is at most a few hundred path commands.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "format.h"
#include "history.h"
#include "pictures.h"

#define PLOT_WIDTH 960
#define PLOT_LEFT 76    /* room for the GB labels                        */
#define PLOT_RIGHT 96   /* room for the total, 90 % and 80 % labels       */
#define PANEL_TOP 26    /* the panel's title above its frame              */
#define PANEL_PLOT 200  /* the plotting area's height                     */
#define PANEL_BOTTOM 36 /* the time labels below it                      */
#define LEGEND_ROW 18
#define LEGEND_MAX 24 /* legend rows at most; the rest are counted       */
#define PANEL_HEIGHT (PANEL_TOP + PANEL_PLOT + PANEL_BOTTOM)

#define GB (UINT64_C(1) << 30)

/* Distinct on white and from the level lines (amber, red) and marks. */
static const char *const palette[] = { "#1f77b4", "#2ca02c", "#9467bd", "#8c564b",
                                       "#e377c2", "#17becf", "#bcbd22", "#7f7f7f" };
#define COLOUR_TOTAL "#333333"
#define COLOUR_WARNING "#e6a100"
#define COLOUR_CRITICAL "#d62728"
#define COLOUR_HEALTHY "#2ca02c"

/* A process (or a saved history) with its colour: series of one pid. */
struct source {
    int pid, source; /* the series' pid and source (history.h) */
    const struct gpumem_series *first;
    uint64_t start, end, peak;
};

struct frame {
    struct source *src;
    size_t nsrc;
    int relative;    /* every source from its own start (runs that did not overlap) */
    uint64_t t0, t1; /* the time axis: unix ns, or ns from a source's start */
    int left, width; /* the plotting area across                             */
    int top, height; /* the panel being drawn                                */
    uint64_t ymax;   /* bytes at the top of the panel                        */
};

static uint64_t end_of(const struct gpumem_point *p) { return p->unix_ns + (p->width_ns ? p->width_ns : 1000000000u); }

static size_t source_of(const struct frame *f, const struct gpumem_series *s)
{
    size_t i = 0;
    while (i < f->nsrc && (f->src[i].pid != s->pid || f->src[i].source != s->source)) i++;
    return i;
}

/* A time (ns on the axis) as x, clamped to the plotting area. */
static int x_of(const struct frame *f, uint64_t t)
{
    if (t <= f->t0) return f->left;
    if (t >= f->t1) return f->left + f->width;
    return f->left + (int)((unsigned __int128)(t - f->t0) * (unsigned)f->width / (f->t1 - f->t0));
}

static int y_of(const struct frame *f, uint64_t bytes)
{
    if (bytes >= f->ymax) return f->top;
    return f->top + f->height - (int)((unsigned __int128)bytes * (unsigned)f->height / f->ymax);
}

/* The axis time of a series' instant: unix ns, or ns from its source's start. */
static uint64_t axis_time(const struct frame *f, const struct gpumem_series *s, uint64_t unix_ns)
{
    if (!f->relative) return unix_ns;
    uint64_t start = f->src[source_of(f, s)].start;
    return unix_ns > start ? unix_ns - start : 0;
}

/* ---- axes -------------------------------------------------------------- */

/* A step of the GB axis, in thousandths of a GB: 1, 2, 5 times a power of ten. */
static uint64_t gb_step(uint64_t ymax)
{
    uint64_t range = (uint64_t)((unsigned __int128)ymax * 1000 / GB), step = 1;
    for (uint64_t decade = 1;; decade *= 10) {
        static const unsigned m[] = { 1, 2, 5 };
        for (int i = 0; i < 3; i++) {
            step = m[i] * decade;
            if (step * 5 >= range) return step;
        }
        if (decade > UINT64_MAX / 100) return step;
    }
}

/* k thousandths of a GB with as many decimals as the step needs: "1.5GB". */
static void gb_label(char *buf, size_t size, uint64_t milli, uint64_t step)
{
    if (step % 1000 == 0) gpumem__emitter_snprintf(buf, size, "%lluGB", (unsigned long long)(milli / 1000));
    else if (step % 100 == 0)
        gpumem__emitter_snprintf(buf, size, "%llu.%lluGB", (unsigned long long)(milli / 1000),
                                 (unsigned long long)(milli % 1000 / 100));
    else if (step % 10 == 0)
        gpumem__emitter_snprintf(buf, size, "%llu.%02lluGB", (unsigned long long)(milli / 1000),
                                 (unsigned long long)(milli % 1000 / 10));
    else
        gpumem__emitter_snprintf(buf, size, "%llu.%03lluGB", (unsigned long long)(milli / 1000),
                                 (unsigned long long)(milli % 1000));
}

/* A step of the time axis in ms, about eight ticks across. */
static uint64_t time_step(uint64_t span_ns)
{
    static const uint64_t steps[] = {
        1,      2,      5,       10,      20,      50,       100,      200,      500,
        1000,   2000,   5000,    10000,   15000,   30000,    60000,    120000,   300000,
        600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000, 86400000
    };
    uint64_t span_ms = span_ns / 1000000;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (steps[i] * 8 >= span_ms) return steps[i];
    return (span_ms / 8 / 86400000 + 1) * 86400000;
}

/* A tick's label: "08:15:30" UTC, or "+1:30" from the start; ms when the step has them. */
static void time_label(char *buf, size_t size, uint64_t ms, uint64_t step, int relative)
{
    uint64_t s = ms / 1000;
    char frac[8] = "";
    if (step % 1000) gpumem__emitter_snprintf(frac, sizeof frac, ".%03u", (unsigned)(ms % 1000));
    if (!relative)
        gpumem__emitter_snprintf(buf, size, "%02u:%02u:%02u%s", (unsigned)(s / 3600 % 24), (unsigned)(s / 60 % 60),
                                 (unsigned)(s % 60), frac);
    else if (s >= 3600)
        gpumem__emitter_snprintf(buf, size, "+%llu:%02u:%02u%s", (unsigned long long)(s / 3600),
                                 (unsigned)(s / 60 % 60), (unsigned)(s % 60), frac);
    else gpumem__emitter_snprintf(buf, size, "+%u:%02u%s", (unsigned)(s / 60), (unsigned)(s % 60), frac);
}

static void text(struct gpumem_emitter *e, int x, int y, const char *anchor, const char *attrs, const char *s)
{
    gpumem__emitter_printf(e, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\"%s>", x, y, anchor, attrs);
    gpumem__emitter_xml(e, s);
    gpumem__emitter_text(e, "</text>\n");
}

static void axes(struct gpumem_emitter *e, const struct frame *f)
{
    int bottom = f->top + f->height, right = f->left + f->width;
    char label[64];
    uint64_t step = gb_step(f->ymax);
    gpumem__emitter_text(e, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for (uint64_t k = 0; k <= 1000; k++) {
        uint64_t bytes = (uint64_t)((unsigned __int128)k * step * GB / 1000);
        if (bytes > f->ymax) break;
        int y = y_of(f, bytes);
        gpumem__emitter_printf(e, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", f->left, y, right, y);
    }
    gpumem__emitter_text(e, "</g>\n<g font-size=\"11\" fill=\"#333333\">\n");
    for (uint64_t k = 0; k <= 1000; k++) {
        uint64_t bytes = (uint64_t)((unsigned __int128)k * step * GB / 1000);
        if (bytes > f->ymax) break;
        gb_label(label, sizeof label, k * step, step);
        text(e, f->left - 6, y_of(f, bytes) + 4, "end", "", label);
    }
    /* Time ticks at whole multiples of the step (of UTC, or of the start). */
    uint64_t tstep = time_step(f->t1 - f->t0) * 1000000, first = (f->t0 + tstep - 1) / tstep * tstep;
    for (uint64_t t = first, k = 0; t <= f->t1 && k < 64; t += tstep, k++) {
        int x = x_of(f, t);
        gpumem__emitter_printf(e, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999999\"/>\n", x, bottom, x,
                               bottom + 4);
        time_label(label, sizeof label, t / 1000000, tstep / 1000000, f->relative);
        text(e, x, bottom + 16, "middle", "", label);
    }
    text(e, f->left + f->width / 2, bottom + 31, "middle", " fill=\"#666666\"",
         f->relative ? "time since each run's start" : "time (UTC)");
    gpumem__emitter_text(e, "</g>\n");
    gpumem__emitter_printf(e, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999999\"/>\n",
                           f->left, f->top, f->width, f->height);
}

/* A horizontal level line across the panel, labelled at its right end. */
static void level_line(struct gpumem_emitter *e, const struct frame *f, uint64_t bytes, const char *colour,
                       const char *dash, const char *label)
{
    if (bytes > f->ymax) return;
    int y = y_of(f, bytes);
    gpumem__emitter_printf(e, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                           f->left, y, f->left + f->width, y, colour, dash);
    char attrs[64];
    gpumem__emitter_snprintf(attrs, sizeof attrs, " font-size=\"11\" fill=\"%s\"", colour);
    text(e, f->left + f->width + 4, y + 4, "start", attrs, label);
}

/* ---- a series ------------------------------------------------------------ */

/* The step line: per pixel column the highest bucket starting in it; a
 * command only where the height changes. */
static void series_path(struct gpumem_emitter *e, const struct frame *f, const struct gpumem_series *s,
                        const char *colour)
{
    if (s->npoints == 0) return;
    gpumem__emitter_printf(e, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" d=\"",
                           colour);
    int col = -1, y = 0, last_y = -1;
    for (size_t i = 0; i <= s->npoints; i++) {
        int x = -1, py = 0;
        if (i < s->npoints) {
            const struct gpumem_point *p = &s->points[i];
            x = x_of(f, axis_time(f, s, p->unix_ns));
            py = y_of(f, p->high_bytes);
            if (x == col) {
                if (py < y) y = py; /* more bytes is higher up */
                continue;
            }
        }
        /* The column before is complete: a step to its height, if it moved. */
        if (col >= 0 && last_y < 0) gpumem__emitter_printf(e, "M%d %d", col, y);
        else if (col >= 0 && y != last_y) gpumem__emitter_printf(e, "H%dV%d", col, y);
        if (col >= 0) last_y = y;
        col = x;
        y = py;
    }
    gpumem__emitter_printf(e, "H%d\"/>\n", x_of(f, axis_time(f, s, end_of(&s->points[s->npoints - 1]))));
}

static void marks(struct gpumem_emitter *e, const struct frame *f, const struct gpumem_series *s, const char *colour)
{
    for (size_t i = 0; i < s->nmarks; i++) {
        const struct gpumem_mark *m = &s->marks[i];
        uint64_t t = axis_time(f, s, m->unix_ns);
        if (t < f->t0 || t > f->t1) continue;
        int x = x_of(f, t), y = y_of(f, m->reserved_bytes);
        char held[32], tip[400], when[64];
        gpumem__format_gb(held, sizeof held, m->reserved_bytes);
        gpumem__format_utc(when, sizeof when, m->unix_ns);
        if (m->kind == GPUMEM_MARK_OOM) {
            gpumem__emitter_printf(e,
                                   "<g stroke=\"%s\" stroke-width=\"2\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                                   "stroke-dasharray=\"2 3\" stroke-width=\"1\"/><path d=\"M%d %dl8 8m0 -8l-8 8\"/>",
                                   COLOUR_CRITICAL, x, f->top, x, f->top + f->height, x - 4, y - 4);
            gpumem__emitter_snprintf(tip, sizeof tip, "out of memory, %s reserved, %s (%s)", held, when, s->label);
            gpumem__emitter_text(e, "<title>");
            gpumem__emitter_xml(e, tip);
            gpumem__emitter_text(e, "</title></g>\n");
            text(e, x + 3, f->top + 11, "start", " font-size=\"11\" font-weight=\"bold\" fill=\"" COLOUR_CRITICAL "\"",
                 "OOM");
        } else {
            const char *fill = m->level == 2 ? COLOUR_CRITICAL : m->level == 1 ? COLOUR_WARNING : COLOUR_HEALTHY;
            gpumem__emitter_printf(e, "<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\" stroke=\"%s\"><title>", x, y,
                                   fill, colour);
            gpumem__emitter_snprintf(tip, sizeof tip, "%s -> %s at %s, %s (%s)", gpumem__level_name(m->previous),
                                     gpumem__level_name(m->level), held, when, s->label);
            gpumem__emitter_xml(e, tip);
            gpumem__emitter_text(e, "</title></circle>\n");
        }
    }
}

/* ---- the picture ---------------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void gpumem__source_label(char *buf, size_t size, const struct gpumem_series *s)
{
    char tail[32];
    gpumem__emitter_snprintf(tail, sizeof tail, " cuda:%d", s->device);
    size_t n = strlen(s->label), t = strlen(tail);
    if (n >= t && strcmp(s->label + n - t, tail) == 0) n -= t;
    gpumem__emitter_snprintf(buf, size, "%.*s", (int)n, s->label);
}

void gpumem__series_cells(const struct gpumem_series *s, uint64_t end_ns, uint64_t span_ns, uint64_t *cells,
                          size_t ncells)
{
    uint64_t start = end_ns > span_ns ? end_ns - span_ns : 0, carry = 0;
    size_t i = 0;
    for (size_t c = 0; c < ncells; c++) {
        uint64_t to = start + (uint64_t)((unsigned __int128)span_ns * (c + 1) / ncells);
        uint64_t high = 0;
        int any = 0;
        /* Buckets before the window only set what is carried into it. */
        for (; i < s->npoints && s->points[i].unix_ns < to; i++) {
            const struct gpumem_point *p = &s->points[i];
            if (end_of(p) <= start) {
                carry = p->last_bytes;
                continue;
            }
            if (!any || p->high_bytes > high) high = p->high_bytes;
            any = 1;
            carry = p->last_bytes;
        }
        cells[c] = any ? high : carry;
    }
}

static void panel(struct gpumem_emitter *e, struct frame *f, const struct gpumem_series *s, size_t n, int device)
{
    uint64_t total = 0, high = 0;
    const struct gpumem_series *named = NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i].device != device) continue;
        if (!named || (!named->name[0] && s[i].name[0])) named = &s[i];
        if (s[i].total_bytes > total) total = s[i].total_bytes;
        for (size_t k = 0; k < s[i].npoints; k++)
            if (s[i].points[k].high_bytes > high) high = s[i].points[k].high_bytes;
        for (size_t k = 0; k < s[i].nmarks; k++)
            if (s[i].marks[k].reserved_bytes > high) high = s[i].marks[k].reserved_bytes;
    }
    /* The top: the total (or the highest value), and a twentieth above it, rounded to a tick. */
    uint64_t top = total > high ? total : high;
    if (top == 0) top = GB;
    top += top / 20;
    uint64_t step = (uint64_t)((unsigned __int128)gb_step(top) * GB / 1000);
    f->ymax = step ? (top + step - 1) / step * step : top;
    if (f->ymax == 0) f->ymax = top;

    char title[400], size[32];
    gpumem__format_gb(size, sizeof size, total);
    if (named && named->name[0])
        gpumem__emitter_snprintf(title, sizeof title, "cuda:%d  %s  %s, %s total", device, named->name, named->uuid,
                                 size);
    else gpumem__emitter_snprintf(title, sizeof title, "cuda:%d", device);
    text(e, f->left, f->top - 9, "start", " font-size=\"13\" font-weight=\"bold\"", title);
    text(e, f->left - 6, f->top - 9, "end", " font-size=\"11\" fill=\"#666666\"", "reserved");
    axes(e, f);
    if (total) {
        char label[64];
        gpumem__emitter_snprintf(label, sizeof label, "total %s", size);
        level_line(e, f, total, COLOUR_TOTAL, "", label);
        level_line(e, f, gpumem__percent_of(total, 90, NULL), COLOUR_CRITICAL, " stroke-dasharray=\"6 4\"", "90%");
        level_line(e, f, gpumem__percent_of(total, 80, NULL), COLOUR_WARNING, " stroke-dasharray=\"6 4\"", "80%");
    }
    for (size_t i = 0; i < n; i++)
        if (s[i].device == device) series_path(e, f, &s[i], palette[source_of(f, &s[i]) % 8]);
    for (size_t i = 0; i < n; i++)
        if (s[i].device == device) marks(e, f, &s[i], palette[source_of(f, &s[i]) % 8]);
}

int gpumem__plot_svg(FILE *out, const struct gpumem_series *s, size_t n)
{
    struct frame f = { 0 };
    f.src = calloc(n ? n : 1, sizeof *f.src);
    int *devices = calloc(n ? n : 1, sizeof *devices);
    if (!f.src || !devices) {
        free(f.src);
        free(devices);
        return -1;
    }
    size_t ndev = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = source_of(&f, &s[i]);
        if (k == f.nsrc) f.src[f.nsrc++] = (struct source){ s[i].pid, s[i].source, &s[i], UINT64_MAX, 0, 0 };
        struct source *src = &f.src[k];
        if (s[i].npoints) {
            if (s[i].points[0].unix_ns < src->start) src->start = s[i].points[0].unix_ns;
            if (end_of(&s[i].points[s[i].npoints - 1]) > src->end) src->end = end_of(&s[i].points[s[i].npoints - 1]);
        }
        for (size_t p = 0; p < s[i].npoints; p++)
            if (s[i].points[p].high_bytes > src->peak) src->peak = s[i].points[p].high_bytes;
        size_t d = 0;
        while (d < ndev && devices[d] != s[i].device) d++;
        if (d == ndev) devices[ndev++] = s[i].device;
    }
    qsort(devices, ndev, sizeof *devices, cmp_int);

    /* One time axis: the clock, if the sources ran at the same time (or
     * there is one); otherwise each from its own start, to compare runs. */
    uint64_t latest_start = 0, earliest_end = UINT64_MAX, t0 = UINT64_MAX, t1 = 0, longest = 0;
    for (size_t k = 0; k < f.nsrc; k++) {
        if (f.src[k].start == UINT64_MAX) f.src[k].start = f.src[k].end = 0; /* no points */
        if (f.src[k].start > latest_start) latest_start = f.src[k].start;
        if (f.src[k].end < earliest_end) earliest_end = f.src[k].end;
        if (f.src[k].start < t0) t0 = f.src[k].start;
        if (f.src[k].end > t1) t1 = f.src[k].end;
        if (f.src[k].end - f.src[k].start > longest) longest = f.src[k].end - f.src[k].start;
    }
    f.relative = f.nsrc > 1 && latest_start >= earliest_end;
    f.t0 = f.relative ? 0 : t0 == UINT64_MAX ? 0 : t0;
    f.t1 = f.relative ? longest : t1;
    if (f.t1 <= f.t0) f.t1 = f.t0 + 1000000000u;
    f.left = PLOT_LEFT;
    f.width = PLOT_WIDTH - PLOT_LEFT - PLOT_RIGHT;
    f.height = PANEL_PLOT;

    size_t legend = f.nsrc < LEGEND_MAX ? f.nsrc : LEGEND_MAX + 1;
    int head = 36 + (int)legend * LEGEND_ROW + 8;
    int height = head + (int)(ndev ? ndev : 1) * PANEL_HEIGHT;
    struct gpumem_emitter e;
    gpumem__emitter_init_file(&e, GPUMEM_EMIT_TEXT, out);
    gpumem__emitter_printf(&e,
                           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                           "font-family=\"sans-serif\" font-size=\"12\">\n"
                           "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                           PLOT_WIDTH, height, PLOT_WIDTH, height, PLOT_WIDTH, height);
    char title[200], from[64], to[64];
    gpumem__format_utc(from, sizeof from, t0 == UINT64_MAX ? 0 : t0);
    gpumem__format_utc(to, sizeof to, t1);
    if (n == 0) gpumem__emitter_snprintf(title, sizeof title, "gpumem: no history to draw");
    else if (f.relative)
        gpumem__emitter_snprintf(title, sizeof title, "gpumem: reserved GPU memory, %zu runs from %.19s to %.19s UTC",
                                 f.nsrc, from, to);
    else gpumem__emitter_snprintf(title, sizeof title, "gpumem: reserved GPU memory, %.19s to %.8s UTC", from, to + 11);
    gpumem__emitter_printf(&e, "<title>");
    gpumem__emitter_xml(&e, title);
    gpumem__emitter_text(&e, "</title>\n");
    text(&e, PLOT_LEFT, 22, "start", " font-size=\"15\" font-weight=\"bold\"", title);
    for (size_t k = 0; k < legend; k++) {
        int y = 36 + (int)k * LEGEND_ROW + 10;
        char label[300], peak[32];
        if (k == LEGEND_MAX) {
            gpumem__emitter_snprintf(label, sizeof label, "and %zu more (colours repeat)", f.nsrc - LEGEND_MAX);
            text(&e, PLOT_LEFT + 28, y + 4, "start", "", label);
            break;
        }
        gpumem__source_label(label, sizeof label, f.src[k].first);
        gpumem__format_gb(peak, sizeof peak, f.src[k].peak);
        size_t len = strlen(label);
        gpumem__emitter_snprintf(label + len, sizeof label - len, ", peak %s", peak);
        gpumem__emitter_printf(&e, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                               PLOT_LEFT, y, PLOT_LEFT + 22, y, palette[k % 8]);
        text(&e, PLOT_LEFT + 28, y + 4, "start", "", label);
    }
    for (size_t d = 0; d < ndev; d++) {
        f.top = head + (int)d * PANEL_HEIGHT + PANEL_TOP;
        panel(&e, &f, s, n, devices[d]);
    }
    gpumem__emitter_text(&e, "</svg>\n");
    free(f.src);
    free(devices);
    return gpumem__emitter_finish(&e) == 0 && !ferror(out) ? 0 : -1;
}
