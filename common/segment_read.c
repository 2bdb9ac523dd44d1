/* segment_read.c - see segment_read.h. */
#define _GNU_SOURCE
#include "segment_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A string field: at most size bytes, cut at the first NUL, control
 * characters replaced so nothing can drive a terminal. */
static void copy_string(char *dst, size_t dst_size, const unsigned char *src, size_t size)
{
    size_t n = 0;
    while (n < size && n + 1 < dst_size && src[n] != '\0') {
        unsigned char c = src[n];
        dst[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        n++;
    }
    dst[n] = '\0';
}

/* Multi-line text: newlines kept, other control characters replaced. */
static void copy_text(char *dst, size_t dst_size, const char *src, size_t size)
{
    size_t n = 0;
    for (; n < size && n + 1 < dst_size && src[n]; n++) {
        unsigned char c = (unsigned char)src[n];
        dst[n] = (c < 0x20 && c != '\n') || c == 0x7f ? '?' : (char)c;
    }
    dst[n] = '\0';
}

int gpumem__prefix_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

void gpumem__segment_header_fill(struct gpumem_shm_header *h, const struct gpumem_header_values *v)
{
    const struct gpumem_shm_segment *s = NULL; /* for sizeof only */
    h->layout_version = GPUMEM_SHM_LAYOUT_VERSION;
    h->header_size = sizeof *h;
    h->segment_size = sizeof *s;
    h->pid = v->pid;
    h->start_time_ticks = v->start_time_ticks;
    h->pid_ns_inode = v->pid_ns_inode;
    h->pid_ns_dev = v->pid_ns_dev;
    h->created_unix_ns = v->created_unix_ns;
    h->device_slots = GPUMEM_SHM_DEVICE_SLOTS;
    h->device_stride = sizeof s->devices[0];
    h->devices_offset = offsetof(struct gpumem_shm_segment, devices);
    h->events_offset = offsetof(struct gpumem_shm_segment, events);
    h->event_slots = GPUMEM_SHM_EVENT_SLOTS;
    h->event_stride = sizeof s->events[0];
    h->large_offset = offsetof(struct gpumem_shm_segment, large);
    h->large_slots = GPUMEM_SHM_LARGE_SLOTS;
    h->large_stride = sizeof s->large[0];
    h->transitions_offset = offsetof(struct gpumem_shm_segment, transitions);
    h->transition_slots = GPUMEM_SHM_TRANSITION_SLOTS;
    h->transition_stride = sizeof s->transitions[0];
    h->oom_offset = offsetof(struct gpumem_shm_segment, oom);
    h->oom_size = sizeof s->oom;
    h->warn_percent = v->warn_percent;
    h->alarm_percent = v->alarm_percent;
    h->hysteresis_percent = v->hysteresis_percent;
    snprintf(h->shim_version, sizeof h->shim_version, "%s", GPUMEM_VERSION_STRING);
    if (v->hostname) snprintf(h->hostname, sizeof h->hostname, "%s", v->hostname);
    if (v->command) snprintf(h->command, sizeof h->command, "%s", v->command);
}

/* A section [offset, offset + count * stride) must lie inside the copy. */
static int section_ok(uint64_t offset, uint64_t count, uint64_t stride, size_t len)
{
    if (offset > len || stride == 0 || count > len || stride > len) return 0;
    return count * stride <= len - offset;
}

/* Acquire loads: a ring entry's seq comes before its fields in memory, and
 * the second copy's seq is loaded after the first copy's fields. Were these
 * relaxed, a weakly ordered CPU (aarch64) could satisfy the field loads
 * before the seq load, or the second seq before the fields, and a record
 * rewritten meanwhile would pass both checks torn. On x86 every load is
 * already an acquire, so this costs nothing there. */
void gpumem__segment_copy_words(uint64_t *dst, const void *src, size_t n)
{
    const volatile uint64_t *s = src;
    for (size_t i = 0; i < n / 8; i++) dst[i] = __atomic_load_n(&s[i], __ATOMIC_ACQUIRE);
}

/* A ring entry is taken only if its sequence is the one expected and the
 * same in the second copy: otherwise it was being rewritten. */
static int stable_seq(const unsigned char *b, const unsigned char *recheck, uint64_t at, uint64_t want)
{
    if (u64_at(b + at) != want) return 0;
    return !recheck || u64_at(recheck + at) == want;
}

/* The transitions ring up to head (entries ever appended), oldest first:
 * only entries whose seq is the one expected in both copies. */
static size_t read_transitions(const unsigned char *b, const unsigned char *recheck, size_t len,
                               const struct gpumem_shm_header *hd, uint64_t head,
                               struct gpumem_transition out[GPUMEM_SHM_TRANSITION_SLOTS])
{
    size_t n = 0;
    uint32_t slots = hd->transition_slots;
    if (slots && !(slots & (slots - 1)) && hd->transition_stride >= sizeof(struct gpumem_shm_transition) &&
        hd->transitions_offset >= sizeof *hd && section_ok(hd->transitions_offset, slots, hd->transition_stride, len)) {
        uint64_t first = head > slots ? head - slots : 0;
        for (uint64_t j = first; j < head && n < GPUMEM_SHM_TRANSITION_SLOTS; j++) {
            uint64_t at = hd->transitions_offset + (j & (slots - 1)) * hd->transition_stride;
            if (!stable_seq(b, recheck, at, j + 1)) continue;
            struct gpumem_shm_transition t;
            memcpy(&t, b + at, sizeof t);
            struct gpumem_transition *g = &out[n++];
            g->unix_ns = t.unix_ns;
            g->reserved_bytes = t.reserved_bytes;
            g->device = t.device;
            g->level = t.level > 2 ? 2 : t.level;
            g->previous = t.previous_level > 2 ? 2 : t.previous_level;
        }
    }
    return n;
}

size_t gpumem__segment_transitions(const void *buf, const void *recheck, size_t len,
                                   struct gpumem_transition out[GPUMEM_SHM_TRANSITION_SLOTS])
{
    struct gpumem_shm_header hd;
    if (len < sizeof hd) return 0;
    memcpy(&hd, buf, sizeof hd);
    return read_transitions(buf, recheck, len, &hd, hd.transitions_head, out);
}

static int parse_oom_record(const unsigned char *b, const unsigned char *recheck, size_t len,
                            const struct gpumem_shm_header *hd, const struct gpumem_shm_oom *rp, struct gpumem_oom *o);

static void event_of(const struct gpumem_shm_event *e, struct gpumem_event *g)
{
    g->unix_ns = e->unix_ns;
    g->bytes = e->bytes;
    g->address = e->address;
    g->result = e->result;
    g->device = e->device;
    g->api = e->api < GPUMEM_API_COUNT ? e->api : 0;
    g->op = e->op;
}

/* The OOM record and what it froze; sections that do not fit are left out. */
static int parse_oom(const unsigned char *b, const unsigned char *recheck, size_t len,
                     const struct gpumem_shm_header *hd, struct gpumem_oom *o)
{
    if (hd->oom_size < sizeof(struct gpumem_shm_oom) || !section_ok(hd->oom_offset, 1, hd->oom_size, len)) return -1;
    /* On the heap: the record is 20 KiB and this may run on a small stack. */
    struct gpumem_shm_oom *rp = malloc(sizeof *rp);
    if (!rp) return -1;
    memcpy(rp, b + hd->oom_offset, sizeof *rp);
    int rc = parse_oom_record(b, recheck, len, hd, rp, o);
    free(rp);
    return rc;
}

static int parse_oom_record(const unsigned char *b, const unsigned char *recheck, size_t len,
                            const struct gpumem_shm_header *hd, const struct gpumem_shm_oom *rp, struct gpumem_oom *o)
{
#define r (*rp)
    if (r.seq == 0 || (r.seq & 1)) return 0; /* none yet, or being written */
    if (recheck && u64_at(recheck + hd->oom_offset) != r.seq) return 0;
    o->present = 1;
    o->unix_ns = r.unix_ns;
    o->number = r.number;
    o->requested_bytes = r.requested_bytes;
    o->driver_free_bytes = r.driver_free_bytes;
    o->driver_total_bytes = r.driver_total_bytes;
    o->live_count = r.live_count;
    o->oom_count = r.oom_count;
    o->device = r.device;
    o->result = r.result;
    o->api = r.api < GPUMEM_API_COUNT ? r.api : 0;
    memcpy(o->devices, r.devices, sizeof o->devices);
    memcpy(o->hist_count, r.hist_count, sizeof o->hist_count);
    memcpy(o->hist_bytes, r.hist_bytes, sizeof o->hist_bytes);
    copy_string(o->report_path, sizeof o->report_path, (const unsigned char *)r.report_path, sizeof r.report_path);
    copy_text(o->environment, sizeof o->environment, r.environment, sizeof r.environment);

    /* The largest allocations lie before the record: the first copy read
     * them before the record's seq, perhaps at an earlier moment; the second
     * read them between the two seqs found equal, so under this record. */
    const unsigned char *lb = recheck ? recheck : b;
    if (hd->large_stride >= sizeof(struct gpumem_shm_large) &&
        section_ok(hd->large_offset, hd->large_slots, hd->large_stride, len)) {
        for (uint32_t i = 0; i < r.nlarge && i < hd->large_slots && o->nlarge < GPUMEM_SHM_LARGE_SLOTS; i++) {
            struct gpumem_shm_large l;
            memcpy(&l, lb + hd->large_offset + (uint64_t)i * hd->large_stride, sizeof l);
            struct gpumem_large *g = &o->large[o->nlarge++];
            g->address = l.address;
            g->bytes = l.bytes;
            g->unix_ns = l.unix_ns;
            g->device = l.device;
            g->api = l.api < GPUMEM_API_COUNT ? l.api : 0;
            if (i < GPUMEM_SHM_OOM_TRACES) copy_text(g->trace, sizeof g->trace, r.traces[i], sizeof r.traces[i]);
        }
    }
    /* The events frozen with the failure, oldest first. */
    for (uint32_t i = 0; i < r.nevents && i < GPUMEM_SHM_OOM_EVENTS; i++)
        event_of(&r.events[i], &o->events[o->nevents++]);
    o->ntransitions = read_transitions(b, recheck, len, hd, r.transitions_head, o->transitions);
    return 0;
#undef r
}

/* The live ring of level changes, from header.transitions_head back by at
 * most its slots; each slot's seq is kept, so a follower (gpumem watch) can
 * tell a change read whole from one being written or one overwritten. */
static void parse_ring(const unsigned char *b, const unsigned char *recheck, size_t len,
                       const struct gpumem_shm_header *hd, struct gpumem_process *out)
{
    uint32_t slots = hd->transition_slots;
    out->transitions_head = hd->transitions_head;
    if (!slots || (slots & (slots - 1)) || slots > GPUMEM_SHM_TRANSITION_SLOTS ||
        hd->transition_stride < sizeof(struct gpumem_shm_transition) ||
        !section_ok(hd->transitions_offset, slots, hd->transition_stride, len))
        return;
    uint64_t head = hd->transitions_head;
    out->ring_first = head > slots ? head - slots : 0;
    for (uint64_t j = out->ring_first; j < head; j++) {
        uint64_t at = hd->transitions_offset + (j & (slots - 1)) * hd->transition_stride;
        struct gpumem_shm_transition t;
        memcpy(&t, b + at, sizeof t);
        size_t k = out->ring_count++;
        out->ring_seq[k] = recheck && u64_at(recheck + at) != t.seq ? 0 : t.seq;
        struct gpumem_transition *g = &out->ring[k];
        g->unix_ns = t.unix_ns;
        g->reserved_bytes = t.reserved_bytes;
        g->device = t.device;
        g->level = t.level > 2 ? 2 : t.level;
        g->previous = t.previous_level > 2 ? 2 : t.previous_level;
    }
}

/* Where ring r of device d begins, 0 when it has none. */
static uint64_t ring_at(const struct gpumem_process *p, const struct gpumem_device *d, int r, size_t len)
{
    const struct gpumem_history_layout *h = &p->history;
    if (d->history_set == 0 || d->history_set > h->sets || d->history_cur[r] == 0 || h->depth[r] == 0) return 0;
    uint64_t ring = h->offset + ((uint64_t)(d->history_set - 1) * (h->depth[0] + h->depth[1]) + (r ? h->depth[0] : 0)) *
                                    sizeof(struct gpumem_shm_bucket);
    return section_ok(ring, h->depth[r], sizeof(struct gpumem_shm_bucket), len) ? ring : 0; /* checked at parse */
}

/* Bucket of tick t in the ring at `ring`, if its tag is t and (recheck) it
 * is the same in the second copy. */
static int bucket_at(const unsigned char *b, const unsigned char *again, uint64_t ring, uint64_t depth, uint64_t t,
                     struct gpumem_bucket *out)
{
    uint64_t at = ring + t % depth * sizeof(struct gpumem_shm_bucket);
    uint64_t high = u64_at(b + at), last = u64_at(b + at + 8);
    if (high >> 40 != (t & GPUMEM_SHM_HISTORY_TAG_MASK)) return 0; /* an earlier lap, or never written */
    if (again && (u64_at(again + at) != high || u64_at(again + at + 8) != last)) return 0; /* being written */
    *out = (struct gpumem_bucket){ .tick = t,
                                   .high = high & GPUMEM_SHM_HISTORY_VALUE_MASK,
                                   .last = last & GPUMEM_SHM_HISTORY_VALUE_MASK,
                                   .allocs_mod = (uint32_t)(last >> 40) };
    return 1;
}

size_t gpumem__history_buckets(const void *buf, const void *recheck, size_t len, const struct gpumem_process *p, int i,
                               int r, struct gpumem_bucket *out, size_t max)
{
    if (i < 0 || i >= p->ndevices || r < 0 || r > 1) return 0;
    const struct gpumem_device *d = &p->devices[i];
    uint64_t ring = ring_at(p, d, r, len);
    if (!ring) return 0;
    uint64_t head = d->history_cur[r] >> GPUMEM_SHM_HISTORY_SLOT_BITS, depth = p->history.depth[r];
    size_t n = 0;
    for (uint64_t t = head >= depth ? head - depth + 1 : 1; t <= head && n < max; t++)
        n += (size_t)bucket_at(buf, recheck, ring, depth, t, &out[n]);
    return n;
}

/* The last minute up to an out-of-memory failure on its device: per
 * second the highest bytes of the finest ring's buckets that overlap it,
 * or the last value before it where none does (0 before the first). Only
 * buckets before the failure's are read, which later events cannot change,
 * and the failure's second takes the reserved bytes frozen in the record:
 * the shim's report and the reader's (after SIGKILL too) are the same. */
static void oom_minute(const unsigned char *b, const unsigned char *recheck, size_t len, const struct gpumem_process *p,
                       struct gpumem_oom *o)
{
    const struct gpumem_history_layout *h = &p->history;
    int i = 0, r = h->depth[0] ? 0 : 1;
    while (i < p->ndevices && p->devices[i].ordinal != o->device) i++;
    if (i == p->ndevices || h->sets == 0 || h->depth[r] == 0 || h->width_ns[r] == 0) return;
    struct gpumem_bucket *bk = malloc(h->depth[r] * sizeof *bk);
    if (!bk) return;
    size_t n = gpumem__history_buckets(b, recheck, len, p, i, r, bk, h->depth[r]), k = 0;
    const uint64_t second = 1000000000u, width = h->width_ns[r];
    uint64_t end = o->unix_ns / second * second + second, carry = 0;
    uint64_t fail = o->unix_ns >= h->anchor_unix_ns ? (o->unix_ns - h->anchor_unix_ns) / width + 1 : 0;
    while (n && bk[n - 1].tick >= fail) n--;
    for (size_t c = 0; c < GPUMEM_OOM_MINUTE_CELLS; c++) {
        uint64_t from = end - (GPUMEM_OOM_MINUTE_CELLS - c) * second, to = from + second, high = 0;
        int any = 0;
        for (size_t j = k; j < n; j++) {
            uint64_t start = h->anchor_unix_ns + (bk[j].tick - 1) * width;
            if (start >= to) break;
            if (start + width > from) {
                uint64_t top = bk[j].high > bk[j].last ? bk[j].high : bk[j].last;
                if (!any || top > high) high = top;
                any = 1;
            }
            if (start + width <= to) { /* done with it: its last value is carried on */
                carry = bk[j].last;
                k = j + 1;
            }
        }
        o->minute[c] = any ? high : carry;
    }
    if (o->device >= 0 && o->device < (int)GPUMEM_SHM_OOM_DEVICES &&
        o->devices[o->device].reserved_bytes > o->minute[GPUMEM_OOM_MINUTE_CELLS - 1])
        o->minute[GPUMEM_OOM_MINUTE_CELLS - 1] = o->devices[o->device].reserved_bytes;
    o->nminute = GPUMEM_OOM_MINUTE_CELLS;
    free(bk);
}

/* The failing device's last buckets up to the failure (struct gpumem_oom). */
static void oom_history(const unsigned char *b, const unsigned char *recheck, size_t len,
                        const struct gpumem_process *p, struct gpumem_oom *o)
{
    const struct gpumem_history_layout *h = &p->history;
    int r = h->depth[0] ? 0 : 1;
    for (int i = 0; i < p->ndevices; i++) {
        const struct gpumem_device *d = &p->devices[i];
        uint64_t ring = d->ordinal == o->device ? ring_at(p, d, r, len) : 0;
        if (!ring || o->unix_ns < h->anchor_unix_ns) continue;
        uint64_t head = d->history_cur[r] >> GPUMEM_SHM_HISTORY_SLOT_BITS, depth = h->depth[r];
        uint64_t oldest = head >= depth ? head - depth + 1 : 1;
        /* Up to the bucket before the failure's, which later events may
         * still change: a report rendered later stays the same. */
        uint64_t fail = (o->unix_ns - h->anchor_unix_ns) / h->width_ns[r] + 1, to = fail - 1;
        uint64_t from = to >= GPUMEM_OOM_HISTORY ? to - GPUMEM_OOM_HISTORY + 1 : 1;
        struct gpumem_bucket k;
        uint64_t carry = 0;
        int have = 0;
        /* The value carried into the window: the newest bucket before it. */
        for (uint64_t t = from - 1; t >= oldest && t >= 1 && t + depth > from && !have; t--)
            if (bucket_at(b, recheck, ring, depth, t, &k)) carry = k.last, have = 1;
        o->history_width_ns = h->width_ns[r];
        for (uint64_t t = from; t <= to; t++) {
            int got = t >= oldest && t <= head && bucket_at(b, recheck, ring, depth, t, &k);
            if (!got && !have) continue;
            struct gpumem_oom_point *pt = &o->history[o->nhistory++];
            pt->unix_ns = h->anchor_unix_ns + (t - 1) * h->width_ns[r];
            pt->high_bytes = got ? (k.high > k.last ? k.high : k.last) : carry;
            pt->last_bytes = got ? k.last : carry;
            carry = pt->last_bytes;
            have = 1;
        }
        return;
    }
}

/* buf holds the file's first avail bytes (of len): all of it, or (oom NULL)
 * at least what gpumem__segment_copy_head copies. Sizes and sections
 * are checked against the file (len); only those ranges are read. */
static int parse_copy(const unsigned char *b, const unsigned char *recheck, size_t avail, size_t len,
                      struct gpumem_process *out, struct gpumem_oom *oom, char *why, size_t why_len)
{
    /* Zeroed but for the device table, whose entries are zeroed as they are
     * filled: all of it was a tenth of a listing's time. Entries past
     * ndevices are left as they were. */
    const size_t table = offsetof(struct gpumem_process, devices), after = table + sizeof out->devices;
    memset(out, 0, table);
    memset((char *)out + after, 0, sizeof *out - after);
    if (avail > len || (oom && avail != len)) return WHY("a partial copy");
    if (avail < 32) return WHY("truncated: %zu bytes, not even a header", avail);
    if (u64_at(b + offsetof(struct gpumem_shm_header, magic)) != GPUMEM_SHM_MAGIC)
        return WHY("bad magic: not a gpumem segment");
    uint32_t version = u32_at(b + offsetof(struct gpumem_shm_header, layout_version));
    if (version != GPUMEM_SHM_LAYOUT_VERSION)
        return WHY("layout version %u, this reader knows version %u", version, GPUMEM_SHM_LAYOUT_VERSION);
    if (avail < sizeof(struct gpumem_shm_header))
        return WHY("truncated: %zu bytes, header needs %zu", avail, sizeof(struct gpumem_shm_header));
    uint32_t header_size = u32_at(b + offsetof(struct gpumem_shm_header, header_size));
    uint64_t segment_size = u64_at(b + offsetof(struct gpumem_shm_header, segment_size));
    if (header_size < sizeof(struct gpumem_shm_header) || header_size > len)
        return WHY("header size %u is wrong", header_size);
    if (segment_size > len) return WHY("truncated: %zu of %llu bytes", len, (unsigned long long)segment_size);
    struct gpumem_shm_header hd;
    memcpy(&hd, b, sizeof hd);
    if (hd.pid <= 0) return WHY("pid %d is not a process", hd.pid);
    if (hd.device_slots > GPUMEM_MAX_DEVICE_SLOTS) return WHY("absurd device count %u", hd.device_slots);
    if (hd.device_stride < sizeof(struct gpumem_shm_device))
        return WHY("device entries of %u bytes are too small", hd.device_stride);
    /* An empty table is where it says even past the copy (nothing of it is read). */
    if (!section_ok(hd.devices_offset, hd.device_slots, hd.device_stride, len) ||
        (hd.device_slots && !section_ok(hd.devices_offset, hd.device_slots, hd.device_stride, avail)))
        return WHY("device table outside the segment");
    /* Nor in the header: a partial copy writes the header last, over it. */
    if (hd.device_slots && hd.devices_offset < sizeof hd) return WHY("device table inside the header");

    if (hd.history_offset != 0) {
        uint64_t buckets = (uint64_t)hd.history_depth[0] + hd.history_depth[1];
        if (hd.history_stride != sizeof(struct gpumem_shm_bucket))
            return WHY("history buckets of %u bytes, this reader knows %zu", hd.history_stride,
                       sizeof(struct gpumem_shm_bucket));
        if (hd.history_sets == 0 || hd.history_sets > GPUMEM_SHM_DEVICE_SLOTS)
            return WHY("absurd history ring count %u", hd.history_sets);
        for (int r = 0; r < 2; r++) {
            if (hd.history_depth[r] == 1 || hd.history_depth[r] > 1000000u)
                return WHY("absurd history depth %u", hd.history_depth[r]);
            if (hd.history_depth[r] && (hd.history_width_ns[r] < 1000000u || hd.history_width_ns[r] > 86400000000000u))
                return WHY("absurd history bucket width %llu ns", (unsigned long long)hd.history_width_ns[r]);
        }
        if (buckets == 0) return WHY("history with no bucket");
        if (hd.history_offset % 8 || hd.history_size != hd.history_sets * buckets * hd.history_stride ||
            !section_ok(hd.history_offset, hd.history_sets * buckets, hd.history_stride, len))
            return WHY("history outside the segment");
        out->history.offset = hd.history_offset;
        out->history.sets = hd.history_sets;
        for (int r = 0; r < 2; r++) {
            out->history.depth[r] = hd.history_depth[r];
            out->history.width_ns[r] = hd.history_width_ns[r];
        }
        out->history.anchor_mono_ns = hd.history_anchor_mono_ns;
        out->history.anchor_unix_ns = hd.history_anchor_unix_ns;
    }

    out->pid = hd.pid;
    out->owner_uid = -1;
    out->start_time_ticks = hd.start_time_ticks;
    out->pid_ns_inode = hd.pid_ns_inode;
    out->pid_ns_dev = hd.pid_ns_dev;
    out->created_unix_ns = hd.created_unix_ns;
    out->exited_unix_ns = hd.exited_unix_ns;
    out->state = hd.state;
    out->oom_count = hd.oom_count;
    out->untracked_count = hd.untracked_count;
    out->warn_percent = hd.warn_percent;
    out->alarm_percent = hd.alarm_percent;
    out->hysteresis_percent = hd.hysteresis_percent;
    copy_string(out->command, sizeof out->command, (const unsigned char *)hd.command, sizeof hd.command);
    copy_string(out->hostname, sizeof out->hostname, (const unsigned char *)hd.hostname, sizeof hd.hostname);
    copy_string(out->shim_version, sizeof out->shim_version, (const unsigned char *)hd.shim_version,
                sizeof hd.shim_version);

    for (uint32_t i = 0; i < hd.device_slots && out->ndevices < (int)GPUMEM_SHM_DEVICE_SLOTS; i++) {
        /* The flags first: an inactive entry's other bytes are not read
         * (gpumem__segment_copy_head copies only its flags). */
        const unsigned char *slot = b + hd.devices_offset + (uint64_t)i * hd.device_stride;
        if (!(u32_at(slot + offsetof(struct gpumem_shm_device, flags)) & GPUMEM_SHM_DEVICE_ACTIVE)) continue;
        struct gpumem_shm_device d;
        memcpy(&d, slot, sizeof d);
        struct gpumem_device *o = &out->devices[out->ndevices++];
        memset(o, 0, sizeof *o);
        o->ordinal = (int)i;
        o->has_info = (d.flags & GPUMEM_SHM_DEVICE_INFO) != 0;
        if (o->has_info) {
            copy_string(o->uuid, sizeof o->uuid, (const unsigned char *)d.uuid, sizeof d.uuid);
            copy_string(o->pci_bus_id, sizeof o->pci_bus_id, (const unsigned char *)d.pci_bus_id, sizeof d.pci_bus_id);
            copy_string(o->name, sizeof o->name, (const unsigned char *)d.name, sizeof d.name);
            o->total_bytes = d.total_bytes;
        }
        o->reserved_bytes = d.reserved_bytes;
        o->peak_bytes = d.peak_bytes;
        o->peak_unix_ns = d.peak_unix_ns;
        o->managed_bytes = d.managed_bytes;
        o->alloc_count = d.alloc_count;
        o->free_count = d.free_count;
        o->failed_count = d.failed_count;
        o->unknown_free_count = d.unknown_free_count;
        o->alarm_count = d.alarm_count;
        o->last_transition_unix_ns = d.last_transition_unix_ns;
        o->level = d.level > GPUMEM_LEVEL_CRITICAL ? GPUMEM_LEVEL_CRITICAL : d.level;
        o->free_bytes = d.free_bytes;
        o->free_sampled_unix_ns = d.free_sampled_unix_ns;
        o->largest_recent_request = d.largest_recent_request;
        o->headroom_bytes = d.headroom_bytes;
        o->risk = d.risk > GPUMEM_SHM_RISK_AT_RISK ? GPUMEM_SHM_RISK_AT_RISK : d.risk;
        o->risk_changes = d.risk_changes;
        o->risk_unix_ns = d.risk_unix_ns;
        o->free_samples = d.free_samples;
        if (out->history.sets && d.history_set - 1 < out->history.sets) {
            for (int r = 0; r < 2; r++) {
                uint64_t cur = d.history_cur[r], tick = cur >> GPUMEM_SHM_HISTORY_SLOT_BITS;
                if (cur == 0) continue;
                if (out->history.depth[r] == 0 || tick == 0 ||
                    (cur & GPUMEM_SHM_HISTORY_TAG_MASK) != tick % out->history.depth[r])
                    return WHY("device %u: history head %llu is not in its ring", i, (unsigned long long)cur);
                o->history_cur[r] = cur;
            }
            o->history_set = d.history_set;
        }
    }
    out->risk_changes = hd.risk_changes;
    parse_ring(b, recheck, avail, &hd, out);
    if (oom) {
        memset(oom, 0, sizeof *oom);
        if (parse_oom(b, recheck, len, &hd, oom) == 0 && oom->present) {
            out->oom = oom;
            oom_minute(b, recheck, len, out, oom);
            oom_history(b, recheck, len, out, oom);
        }
    }
    return 0;
}

int gpumem__segment_parse(const void *buf, const void *recheck, size_t len, struct gpumem_process *out,
                          struct gpumem_oom *oom, char *why, size_t why_len)
{
    return parse_copy(buf, recheck, len, len, out, oom, why, why_len);
}

int gpumem__segment_parse_head(const void *buf, const void *recheck, size_t avail, size_t len,
                               struct gpumem_process *out, char *why, size_t why_len)
{
    return parse_copy(buf, recheck, avail, len, out, NULL, why, why_len);
}

/* [offset, offset + count * stride) within len, rounded out to whole words. */
static void clamp_range(uint64_t offset, uint64_t count, uint64_t stride, size_t len, uint64_t r[2])
{
    uint64_t size = count && stride > UINT64_MAX / count ? UINT64_MAX : count * stride;
    uint64_t start = offset < len ? offset & ~(uint64_t)7 : len;
    uint64_t end = size > len || offset > len - size ? len : offset + size;
    end = (end + 7) & ~(uint64_t)7; /* end <= len: no overflow */
    if (end > len) end = len;
    r[0] = start;
    r[1] = end > start ? end : start;
}

size_t gpumem__segment_head_size(const struct gpumem_shm_header *hd, size_t len)
{
    if (len < sizeof *hd) return len;
    uint64_t devices[2], transitions[2];
    clamp_range(hd->devices_offset, hd->device_slots, hd->device_stride, len, devices);
    clamp_range(hd->transitions_offset, hd->transition_slots, hd->transition_stride, len, transitions);
    size_t size = sizeof *hd;
    if (devices[1] > size) size = devices[1];
    if (transitions[1] > size) size = transitions[1];
    return size;
}

static void copy_range(unsigned char *dst, const unsigned char *src, const uint64_t r[2])
{
    if (r[1] > r[0]) gpumem__segment_copy_words((uint64_t *)(dst + r[0]), src + r[0], r[1] - r[0]);
}

void gpumem__segment_copy_head(void *dst, const void *src, size_t len, const struct gpumem_shm_header *hd)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    uint64_t r[2];
    if (len < sizeof *hd) {
        clamp_range(0, 1, len, len, r);
        copy_range(d, s, r);
        return;
    }
    clamp_range(hd->transitions_offset, hd->transition_slots, hd->transition_stride, len, r);
    copy_range(d, s, r);
    /* Of the device table (read only when all of it is in the file), the
     * word with each entry's flags, and the whole of the active entries:
     * an entry the copy has as inactive stays so, even if it became
     * active meanwhile. Parse reads the flags first, then the rest. */
    if (hd->device_slots > GPUMEM_MAX_DEVICE_SLOTS || hd->device_stride < sizeof(struct gpumem_shm_device) ||
        hd->device_stride % 8 || hd->devices_offset % 8 || hd->devices_offset < sizeof *hd ||
        !section_ok(hd->devices_offset, hd->device_slots, hd->device_stride, len)) {
        clamp_range(hd->devices_offset, hd->device_slots, hd->device_stride, len, r);
        copy_range(d, s, r); /* what parse does with it, it does with all of it */
    } else {
        for (uint32_t i = 0; i < hd->device_slots; i++) {
            uint64_t at = hd->devices_offset + (uint64_t)i * hd->device_stride;
            uint64_t word[2] = { at, at + 8 };
            copy_range(d, s, word);
            if (u32_at(d + at + offsetof(struct gpumem_shm_device, flags)) & GPUMEM_SHM_DEVICE_ACTIVE) {
                uint64_t rest[2] = { at + 8, at + sizeof(struct gpumem_shm_device) };
                copy_range(d, s, rest);
            }
        }
    }
    /* Last, over whatever a section placed in it copied there: the header
     * is hd itself, so the parse finds the parts where hd, by which they
     * were copied, says they are (it refuses parts inside the header). */
    memcpy(d, hd, sizeof *hd);
}

size_t gpumem__segment_events(const void *buf, const void *recheck, size_t len, struct gpumem_event *out, size_t max)
{
    const unsigned char *b = buf;
    struct gpumem_shm_header hd;
    if (len < sizeof hd) return 0;
    memcpy(&hd, b, sizeof hd);
    uint32_t slots = hd.event_slots;
    if (hd.magic != GPUMEM_SHM_MAGIC || !slots || (slots & (slots - 1)) ||
        hd.event_stride < sizeof(struct gpumem_shm_event) || !section_ok(hd.events_offset, slots, hd.event_stride, len))
        return 0;
    uint64_t head = hd.events_head, first = head > slots ? head - slots : 0;
    size_t n = 0;
    for (uint64_t j = first; j < head && n < max; j++) {
        uint64_t at = hd.events_offset + (j & (slots - 1)) * hd.event_stride;
        if (!stable_seq(b, recheck, at, j + 1)) continue; /* never written, or being rewritten */
        struct gpumem_shm_event e;
        memcpy(&e, b + at, sizeof e);
        event_of(&e, &out[n++]);
    }
    return n;
}
