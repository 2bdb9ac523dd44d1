/* snapshot.c - see snapshot.h. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

static uint64_t u64_at(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t u32_at(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

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

/* A section [offset, offset + count * stride) must lie inside the copy. */
static int section_ok(uint64_t offset, uint64_t count, uint64_t stride, size_t len)
{
    if (offset > len || stride == 0 || count > len) return 0;
    return count * stride <= len - offset;
}

int gm_snapshot_parse(const void *buf, size_t len, struct gm_process *out, char *why, size_t why_len)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (len < 32) return WHY("truncated: %zu bytes, not even a header", len);
    if (u64_at(b + offsetof(struct gpumem_shm_header, magic)) != GPUMEM_SHM_MAGIC) return WHY("bad magic: not a gpumem segment");
    uint32_t version = u32_at(b + offsetof(struct gpumem_shm_header, layout_version));
    if (version != GPUMEM_SHM_LAYOUT_VERSION)
        return WHY("layout version %u, this reader knows version %u", version, GPUMEM_SHM_LAYOUT_VERSION);
    if (len < sizeof(struct gpumem_shm_header)) return WHY("truncated: %zu bytes, header needs %zu", len, sizeof(struct gpumem_shm_header));
    uint32_t header_size = u32_at(b + offsetof(struct gpumem_shm_header, header_size));
    uint64_t segment_size = u64_at(b + offsetof(struct gpumem_shm_header, segment_size));
    if (header_size < sizeof(struct gpumem_shm_header) || header_size > len) return WHY("header size %u is wrong", header_size);
    if (segment_size > len) return WHY("truncated: %zu of %llu bytes", len, (unsigned long long)segment_size);
    struct gpumem_shm_header hd;
    memcpy(&hd, b, sizeof hd);
    if (hd.pid <= 0) return WHY("pid %d is not a process", hd.pid);
    if (hd.device_slots > GM_MAX_DEVICE_SLOTS) return WHY("absurd device count %u", hd.device_slots);
    if (hd.device_stride < sizeof(struct gpumem_shm_device)) return WHY("device entries of %u bytes are too small", hd.device_stride);
    if (!section_ok(hd.devices_offset, hd.device_slots, hd.device_stride, len)) return WHY("device table outside the segment");

    out->pid = hd.pid;
    out->start_time_ticks = hd.start_time_ticks;
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
    copy_string(out->shim_version, sizeof out->shim_version, (const unsigned char *)hd.shim_version, sizeof hd.shim_version);

    for (uint32_t i = 0; i < hd.device_slots && out->ndevices < (int)GPUMEM_SHM_DEVICE_SLOTS; i++) {
        struct gpumem_shm_device d;
        memcpy(&d, b + hd.devices_offset + (uint64_t)i * hd.device_stride, sizeof d);
        if (!(d.flags & GPUMEM_SHM_DEVICE_ACTIVE)) continue;
        struct gm_device *o = &out->devices[out->ndevices++];
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
    }
    return 0;
}

/* ---- copying a file that may shrink under us --------------------------- */

static sigjmp_buf *copy_jump;
static void on_sigbus(int sig)
{
    (void)sig;
    if (copy_jump) siglongjmp(*copy_jump, 1);
}

int gm_snapshot_copy(const char *path, void **buf, size_t *len, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return WHY("cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return WHY("not a regular file");
    }
    if (st.st_size > GM_MAX_SEGMENT_BYTES) {
        close(fd);
        return WHY("%lld bytes: too large for a gpumem segment", (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size & ~(size_t)7;
    if (n == 0) {
        close(fd);
        return WHY("truncated: empty");
    }
    void *map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return WHY("cannot map: %s", strerror(errno));
    uint64_t *copy = malloc(n);
    if (!copy) {
        munmap(map, n);
        return WHY("out of memory");
    }
    /* A writer's 64-bit fields are copied with 64-bit loads, so none can be
     * seen torn; a file truncated meanwhile raises SIGBUS, caught here. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &old);
    sigjmp_buf jump;
    volatile int faulted = 0;
    if (sigsetjmp(jump, 1) == 0) {
        copy_jump = &jump;
        const volatile uint64_t *src = map;
        for (size_t i = 0; i < n / 8; i++) copy[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    } else {
        faulted = 1;
    }
    copy_jump = NULL;
    sigaction(SIGBUS, &old, NULL);
    munmap(map, n);
    if (faulted) {
        free(copy);
        return WHY("truncated while being read");
    }
    *buf = copy;
    *len = n;
    return 0;
}

/* ---- liveness ------------------------------------------------------------ */

static int proc_stat(int pid, uint64_t *start, unsigned *uid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (uid && fstat(fd, &st) == 0) *uid = st.st_uid;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return -1;
    *start = strtoull(p + 1, NULL, 10);
    return 0;
}

enum gm_liveness gm_liveness_of(int pid, uint64_t start_ticks, unsigned state)
{
    uint64_t now_start;
    if (state == GPUMEM_SHM_STATE_EXITED) return GM_EXITED;
    if (proc_stat(pid, &now_start, NULL) != 0 || now_start != start_ticks) return GM_DEAD;
    return GM_ALIVE;
}

int gm_snapshot_load(const char *path, struct gm_process *out, char *why, size_t why_len)
{
    void *buf;
    size_t len;
    struct stat st;
    if (lstat(path, &st) != 0) return WHY("%s", strerror(errno));
    if (gm_snapshot_copy(path, &buf, &len, why, why_len) != 0) return -1;
    int rc = gm_snapshot_parse(buf, len, out, why, why_len);
    free(buf);
    if (rc != 0) return -1;
    snprintf(out->path, sizeof out->path, "%s", path);
    out->liveness = gm_liveness_of(out->pid, out->start_time_ticks, out->state);
    /* A live process can only publish as itself: a segment owned by another
     * user than the process it names is a forgery. */
    unsigned proc_uid;
    uint64_t start;
    if (out->liveness == GM_ALIVE && proc_stat(out->pid, &start, &proc_uid) == 0 && proc_uid != st.st_uid)
        return WHY("owned by uid %u but pid %d runs as uid %u", (unsigned)st.st_uid, out->pid, proc_uid);
    return 0;
}

/* ---- listing ------------------------------------------------------------- */

static int pid_of(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] != '.' || name[n + 1] == '\0') return -1;
    long pid = 0;
    for (const char *p = name + n + 1; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 0x7fffffff / 10) return -1;
        pid = pid * 10 + (*p - '0');
    }
    return pid > 0 ? (int)pid : -1;
}

static int by_pid(const void *a, const void *b)
{
    const char *x = strrchr(*(char *const *)a, '.'), *y = strrchr(*(char *const *)b, '.');
    long px = atol(x + 1), py = atol(y + 1);
    return (px > py) - (px < py);
}

size_t gm_snapshot_list(const char *dir, const char *prefix, char ***paths)
{
    *paths = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (pid_of(e->d_name, prefix) < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*paths, cap * sizeof **paths);
            if (!grown) break;
            *paths = grown;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        (*paths)[n] = malloc(len);
        if (!(*paths)[n]) break;
        snprintf((*paths)[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(*paths, n, sizeof **paths, by_pid);
    return n;
}
