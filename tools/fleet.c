/* fleet.c - see fleet.h. */
#define _GNU_SOURCE
#include "fleet.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "snapshot.h"

int gpumem__fleet_containers = 1;

#define MAX_PROCS 1000000   /* /proc entries scanned; more: the scan is incomplete */
#define MAX_RESCANS 8       /* per load, for writers newer than the last scan    */
#define MAX_LOG_NAMES 65536 /* names read from each kubelet log directory      */

struct proc_entry {
    int host_pid, ns_pid, ns_depth; /* ns_pid: NSpid's last field; depth: its count */
    int pid_ns_known, mnt_ns_known, have_nspid;
    uint64_t start, pid_ns_inode, pid_ns_dev, mnt_ns_inode, mnt_ns_dev;
};

static struct {
    int valid, rescans;
    uint64_t ticks; /* CLOCK_BOOTTIME, in clock ticks, when the scan began */
    uint64_t my_pid_ns_inode, my_pid_ns_dev, my_mnt_ns_inode, my_mnt_ns_dev;
    int my_read, my_pid_ns_known, my_mnt_ns_known, incomplete;
    struct proc_entry *e;
    size_t n, cap;
    int logs_read;
    char **pod_dirs, **container_logs;
    size_t npod_dirs, ncontainer_logs;
} scan;

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

void gpumem__fleet_begin(void)
{
    const char *env = getenv("GPUMEM_CONTAINERS");
    if (env && strcmp(env, "0") == 0) gpumem__fleet_containers = 0;
    free(scan.e);
    free_names(scan.pod_dirs, scan.npod_dirs);
    free_names(scan.container_logs, scan.ncontainer_logs);
    memset(&scan, 0, sizeof scan);
}

static int ns_of(int dirfd, const char *path, uint64_t *inode, uint64_t *dev)
{
    struct stat st;
    if (fstatat(dirfd, path, &st, 0) != 0) return 0;
    *inode = (uint64_t)st.st_ino;
    *dev = (uint64_t)st.st_dev;
    return 1;
}

/* NSpid: the pid in each namespace from the reader's down to the process's. */
static int parse_nspid(const char *status, int *last, int *depth)
{
    const char *s = strstr(status, "\nNSpid:");
    if (!s) return 0;
    s += 7;
    *depth = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (*s < '0' || *s > '9') break;
        char *end;
        long v = strtol(s, &end, 10);
        if (v <= 0 || v > 0x7fffffff) return 0;
        *last = (int)v;
        ++*depth;
        s = end;
    }
    return *depth > 0;
}

static uint64_t boot_ticks(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    return (uint64_t)ts.tv_sec * (uint64_t)hz + (uint64_t)ts.tv_nsec / (1000000000u / (uint64_t)hz);
}

/* The reader's own namespaces, read once per load. */
static void my_ns(void)
{
    if (scan.my_read) return;
    scan.my_read = 1;
    scan.my_pid_ns_known = ns_of(AT_FDCWD, "/proc/self/ns/pid", &scan.my_pid_ns_inode, &scan.my_pid_ns_dev);
    scan.my_mnt_ns_known = ns_of(AT_FDCWD, "/proc/self/ns/mnt", &scan.my_mnt_ns_inode, &scan.my_mnt_ns_dev);
}

/* One pass over /proc. Only a process in another pid namespace (or one whose
 * namespace cannot be read) has its status and stat read. */
static void scan_proc(void)
{
    free(scan.e);
    scan.e = NULL;
    scan.n = scan.cap = 0;
    scan.incomplete = 0;
    scan.valid = 1;
    scan.ticks = boot_ticks();
    my_ns();
    DIR *d = opendir("/proc");
    if (!d) {
        scan.incomplete = 1;
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
        if (scan.n == MAX_PROCS) {
            scan.incomplete = 1;
            break;
        }
        int dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) continue; /* ended meanwhile */
        struct proc_entry pe;
        memset(&pe, 0, sizeof pe);
        pe.host_pid = atoi(de->d_name);
        pe.pid_ns_known = ns_of(dfd, "ns/pid", &pe.pid_ns_inode, &pe.pid_ns_dev);
        pe.mnt_ns_known = ns_of(dfd, "ns/mnt", &pe.mnt_ns_inode, &pe.mnt_ns_dev);
        int mine = pe.pid_ns_known && scan.my_pid_ns_known && pe.pid_ns_inode == scan.my_pid_ns_inode &&
                   pe.pid_ns_dev == scan.my_pid_ns_dev;
        if (!mine) {
            char buf[4096];
            ssize_t n = gpumem__read_at(dfd, "status", buf, sizeof buf);
            pe.have_nspid = n > 0 && parse_nspid(buf, &pe.ns_pid, &pe.ns_depth);
            n = gpumem__read_at(dfd, "stat", buf, sizeof buf);
            if (n <= 0 || gpumem__proc_stat_parse_start(buf, (size_t)n, &pe.start) != 0) pe.have_nspid = 0;
        }
        close(dfd);
        if (scan.n == scan.cap) {
            size_t cap = scan.cap ? scan.cap * 2 : 512;
            struct proc_entry *grown = realloc(scan.e, cap * sizeof *grown);
            if (!grown) {
                scan.incomplete = 1;
                break;
            }
            scan.e = grown;
            scan.cap = cap;
        }
        scan.e[scan.n++] = pe;
    }
    closedir(d);
}

static void ensure_scan(void)
{
    if (!scan.valid) scan_proc();
}

int gpumem__fleet_other_ns(struct gpumem_process *p)
{
    p->other_pid_ns = 0;
    if (p->pid_ns_inode == 0) return 0;
    my_ns();
    if (!scan.my_pid_ns_known) p->other_pid_ns = 1; /* cannot tell: treated as foreign, so never judged by pid */
    else p->other_pid_ns = p->pid_ns_inode != scan.my_pid_ns_inode || p->pid_ns_dev != scan.my_pid_ns_dev;
    return p->other_pid_ns;
}

enum gpumem_writer gpumem__fleet_find(int pid, uint64_t ns_inode, uint64_t ns_dev, uint64_t start, int *host_pid)
{
    *host_pid = 0;
    ensure_scan();
    /* A writer that started after the scan began may be missing from it. */
    if (start + 1 >= scan.ticks) {
        if (scan.rescans >= MAX_RESCANS) return GPUMEM_WRITER_UNKNOWN;
        scan.rescans++;
        scan_proc();
    }
    int ns_seen = 0, ambiguous = 0;
    for (size_t i = 0; i < scan.n; i++) {
        const struct proc_entry *e = &scan.e[i];
        int same_ns = e->pid_ns_known && e->pid_ns_inode == ns_inode && e->pid_ns_dev == ns_dev;
        ns_seen |= same_ns;
        if (!e->have_nspid || e->ns_pid != pid || e->start != start) continue;
        if (same_ns) {
            *host_pid = e->host_pid;
            return GPUMEM_WRITER_RUNNING;
        }
        /* Its namespace is hidden from us (another user's process): it may be
         * the writer. */
        if (!e->pid_ns_known && e->ns_depth > 1) ambiguous = 1;
    }
    if (ambiguous || scan.incomplete) return GPUMEM_WRITER_UNKNOWN;
    /* Not found: proven gone only if its namespace would be visible were
     * it alive: some process of it is seen (then all are), or this reader
     * is in the initial pid namespace (which sees every namespace). */
    int init_ns = scan.my_pid_ns_known && scan.my_pid_ns_inode == GPUMEM_INIT_PID_NS_INODE;
    return ns_seen || init_ns ? GPUMEM_WRITER_GONE : GPUMEM_WRITER_UNKNOWN;
}

int gpumem__fleet_gone(const struct gpumem_process *p)
{
    if (!p->other_pid_ns) return gpumem__process_gone(p->pid, p->start_time_ticks);
    int host_pid;
    enum gpumem_writer w = gpumem__fleet_find(p->pid, p->pid_ns_inode, p->pid_ns_dev, p->start_time_ticks, &host_pid);
    if (w != GPUMEM_WRITER_RUNNING) return w == GPUMEM_WRITER_GONE;
    /* Found in the scan: gone if it ended since (its host pid now free, or
     * held by a process with another start time). */
    return gpumem__process_gone(host_pid, p->start_time_ticks);
}

int gpumem__fleet_pid_elsewhere(int pid)
{
    ensure_scan();
    if (scan.incomplete) return 1;
    for (size_t i = 0; i < scan.n; i++)
        if (scan.e[i].have_nspid && scan.e[i].ns_depth > 1 && scan.e[i].ns_pid == pid) return 1;
    return 0;
}

/* ---- discovery ---- */

size_t gpumem__fleet_mount_namespaces(int *pids, size_t max)
{
    ensure_scan();
    size_t n = 0;
    if (!scan.my_mnt_ns_known) return 0;
    /* The namespaces found so far, as indexes into the scan: at most max. */
    size_t *found = malloc((max ? max : 1) * sizeof *found);
    if (!found) return 0;
    for (size_t i = 0; i < scan.n && n < max; i++) {
        const struct proc_entry *e = &scan.e[i];
        if (!e->mnt_ns_known || (e->mnt_ns_inode == scan.my_mnt_ns_inode && e->mnt_ns_dev == scan.my_mnt_ns_dev))
            continue;
        int seen = 0;
        for (size_t k = 0; k < n && !seen; k++)
            seen = scan.e[found[k]].mnt_ns_inode == e->mnt_ns_inode && scan.e[found[k]].mnt_ns_dev == e->mnt_ns_dev;
        if (!seen) {
            found[n] = i;
            pids[n++] = e->host_pid;
        }
    }
    free(found);
    return n;
}

/* Each step relative to the last and never through a symbolic link: a
 * container whose /dev/shm is a link to "/somewhere" would otherwise lead
 * the reader into its own /somewhere, outside the container. */
int gpumem__fleet_open_shm(int pid, int *denied)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/root", pid);
    int root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *denied = root < 0 && (errno == EACCES || errno == EPERM);
    if (root < 0) return -1;
    int dev = openat(root, "dev", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int fd = dev < 0 ? -1 : openat(dev, "shm", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    *denied = fd < 0 && (errno == EACCES || errno == EPERM);
    if (dev >= 0) close(dev);
    close(root);
    return fd;
}

/* ---- Kubernetes ---- */

static int all_of(const char *s, size_t n, const char *set) { return n > 0 && strspn(s, set) >= n; }
#define HEX "0123456789abcdefABCDEF"

static void copy_n(char *dst, size_t size, const char *src, size_t n)
{
    if (n >= size) n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A container's cgroup directory: "<id>", "cri-containerd-<id>.scope",
 * "docker-<id>.scope", "crio-<id>.scope" (not crio-conmon-). */
static int container_of(const char *c, size_t n, char *id, size_t size)
{
    static const char *const prefixes[] = { "cri-containerd-", "docker-", "crio-", "containerd-", "" };
    if (n > 6 && memcmp(c + n - 6, ".scope", 6) == 0) n -= 6;
    if (n >= 12 && memcmp(c, "crio-conmon-", 12) == 0) return -1;
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        size_t pl = strlen(prefixes[k]);
        if (n > pl && memcmp(c, prefixes[k], pl) == 0 && n - pl >= 12 && all_of(c + pl, n - pl, HEX)) {
            copy_n(id, size, c + pl, n - pl);
            return 0;
        }
    }
    return -1;
}

/* One cgroup path: 0 if a component names a pod ("pod<uid>" under cgroupfs,
 * "kubepods-<qos>-pod<uid with _>.slice" under systemd). */
static int parse_path(const char *path, size_t len, char *uid, size_t uid_size, char *id, size_t id_size)
{
    if (!memmem(path, len, "kubepods", 8)) return -1;
    const char *end = path + len, *c = path;
    int found = 0;
    while (c < end) {
        while (c < end && *c == '/') c++;
        const char *e = memchr(c, '/', (size_t)(end - c));
        if (!e) e = end;
        size_t n = (size_t)(e - c);
        const char *u = NULL;
        size_t un = 0;
        if (n > 3 && memcmp(c, "pod", 3) == 0) {
            u = c + 3;
            un = n - 3;
        } else if (n > 10 && memcmp(c + n - 6, ".slice", 6) == 0) {
            const char *p = memmem(c, n, "-pod", 4);
            if (p) {
                u = p + 4;
                un = (size_t)(c + n - 6 - u);
            }
        }
        /* The outermost pod only: the kubelet made it; one below it was made
         * by whoever may create cgroups inside the container. */
        if (!found && u && un > 0 && un < uid_size && all_of(u, un, HEX "-_")) {
            for (size_t k = 0; k < un; k++) uid[k] = u[k] == '_' ? '-' : u[k];
            uid[un] = '\0';
            found = 1;
            id[0] = '\0';
        } else if (found && !id[0]) {
            container_of(c, n, id, id_size);
        }
        c = e;
    }
    return found ? 0 : -1;
}

int gpumem__k8s_parse_cgroup(const char *text, char *pod_uid, size_t uid_size, char *container_id, size_t id_size)
{
    int found = -1;
    pod_uid[0] = container_id[0] = '\0';
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        /* "hierarchy:controllers:path"; the path may hold ':'. */
        const char *c1 = memchr(line, ':', len), *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2) {
            char uid[64], id[96];
            id[0] = '\0';
            const char *path = c2 + 1;
            if (parse_path(path, len - (size_t)(path - line), uid, sizeof uid, id, sizeof id) == 0 &&
                (found != 0 || (!container_id[0] && id[0]))) {
                copy_n(pod_uid, uid_size, uid, strlen(uid));
                copy_n(container_id, id_size, id, strlen(id));
                found = 0;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return found;
}

int gpumem__k8s_parse_pod_dir(const char *name, const char *uid, char *ns, size_t ns_size, char *pod, size_t pod_size)
{
    const char *a = strchr(name, '_'), *b = a ? strchr(a + 1, '_') : NULL;
    if (!a || !b || a == name || b == a + 1 || strcmp(b + 1, uid) != 0 || strchr(b + 1, '_')) return -1;
    copy_n(ns, ns_size, name, (size_t)(a - name));
    copy_n(pod, pod_size, a + 1, (size_t)(b - a - 1));
    return 0;
}

int gpumem__k8s_parse_container_log(const char *name, const char *pod, const char *ns, const char *id, char *container,
                                    size_t size)
{
    size_t pl = strlen(pod), nl = strlen(ns), il = strlen(id), n = strlen(name);
    if (n < pl + nl + il + 8 || strncmp(name, pod, pl) != 0 || name[pl] != '_' || strncmp(name + pl + 1, ns, nl) != 0 ||
        name[pl + 1 + nl] != '_')
        return -1;
    const char *tail = name + n - il - 4;
    if (tail[-1] != '-' || strncmp(tail, id, il) != 0 || strcmp(tail + il, ".log") != 0) return -1;
    const char *c = name + pl + nl + 2;
    if (tail - 1 <= c) return -1;
    copy_n(container, size, c, (size_t)(tail - 1 - c));
    return 0;
}

static size_t read_names(const char *dir, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < MAX_LOG_NAMES) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(*out, cap * sizeof *grown);
            if (!grown) break;
            *out = grown;
        }
        if (!((*out)[n] = strdup(de->d_name))) break;
        n++;
    }
    closedir(d);
    return n;
}

/* The only subdirectory of a pod's log directory: its one container. */
static int only_container(const char *dir, char *out, size_t size)
{
    char **names;
    size_t n = read_names(dir, &names);
    int ok = n == 1;
    if (ok) copy_n(out, size, names[0], strlen(names[0]));
    free_names(names, n);
    return ok;
}

void gpumem__fleet_label(struct gpumem_process *p, int host_pid)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/cgroup", host_pid);
    if (gpumem__read_at(AT_FDCWD, path, buf, sizeof buf) > 0) gpumem__fleet_label_cgroup(p, buf);
}

void gpumem__fleet_label_cgroup(struct gpumem_process *p, const char *cgroup)
{
    if (gpumem__k8s_parse_cgroup(cgroup, p->pod_uid, sizeof p->pod_uid, p->container_id, sizeof p->container_id) != 0)
        return;
    copy_n(p->container, sizeof p->container, p->container_id, 12);
    const char *root = getenv("GPUMEM_K8S_LOG_DIR");
    if (!root || !*root) root = "/var/log";
    char dir[512];
    if (!scan.logs_read) {
        scan.logs_read = 1;
        snprintf(dir, sizeof dir, "%s/pods", root);
        scan.npod_dirs = read_names(dir, &scan.pod_dirs);
        snprintf(dir, sizeof dir, "%s/containers", root);
        scan.ncontainer_logs = read_names(dir, &scan.container_logs);
    }
    for (size_t i = 0; i < scan.npod_dirs; i++) {
        if (gpumem__k8s_parse_pod_dir(scan.pod_dirs[i], p->pod_uid, p->k8s_namespace, sizeof p->k8s_namespace, p->pod,
                                      sizeof p->pod) != 0)
            continue;
        int named = 0;
        for (size_t k = 0; k < scan.ncontainer_logs && !named && p->container_id[0]; k++)
            named = gpumem__k8s_parse_container_log(scan.container_logs[k], p->pod, p->k8s_namespace, p->container_id,
                                                    p->container, sizeof p->container) == 0;
        if (!named) {
            snprintf(dir, sizeof dir, "%s/pods/%s", root, scan.pod_dirs[i]);
            only_container(dir, p->container, sizeof p->container);
        }
        break;
    }
}
