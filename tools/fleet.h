/*
 * fleet.h - a segment's writer seen from the node: its pid in the reader's
 * pid namespace (the host pid), whether it still runs, the segments that
 * live in other mount namespaces' /dev/shm, and the Kubernetes pod and
 * container its cgroup names.
 *
 * A writer in another pid namespace (a container) stamps its own pid, its
 * pid namespace (st_ino, st_dev of /proc/self/ns/pid) and its start time.
 * The reader finds the host pid whose /proc/<pid>/status NSpid ends with
 * that pid, whose /proc/<pid>/ns/pid is that namespace and whose start time
 * is the stamped one: never does it judge a container pid on the host. One
 * scan of /proc per view load (gpumem__fleet_begin), made after the
 * segment that needs it was read.
 */
#ifndef GPUMEM_FLEET_H
#define GPUMEM_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "segment_read.h"

/* The inode of the initial pid namespace (PROC_PID_INIT_INO, fixed by the
 * kernel): a reader there sees every process of the machine. */
#define GPUMEM_INIT_PID_NS_INODE UINT64_C(0xEFFFFFFC)

/* 0 (--no-containers, GPUMEM_CONTAINERS=0): no look into other mount
 * namespaces' /dev/shm. */
extern int gpumem__fleet_containers;

/* A new view load: what was learnt of /proc is forgotten. */
void gpumem__fleet_begin(void);

/* Whether the writer of p (parsed) is in another pid namespace than the
 * reader's; sets p->other_pid_ns. An old segment (no namespace recorded)
 * is taken as the reader's own. */
int gpumem__fleet_other_ns(struct gpumem_process *p);

enum gpumem_writer {
    GPUMEM_WRITER_RUNNING = 0, /* *host_pid runs it                                 */
    GPUMEM_WRITER_GONE = 1,    /* proven ended                                       */
    GPUMEM_WRITER_UNKNOWN = 2, /* cannot be told from here (no privilege, its namespace
                                * not visible from this one): never counted as gone */
};

/* The writer of a segment in another pid namespace (pid as it sees
 * itself, its namespace and start time), looked up on the host. */
enum gpumem_writer gpumem__fleet_find(int pid, uint64_t ns_inode, uint64_t ns_dev, uint64_t start, int *host_pid);

/* Whether the writer of p is gone: gpumem__process_gone for the reader's
 * own pid namespace, gpumem__fleet_find for another. */
int gpumem__fleet_gone(const struct gpumem_process *p);

/* Whether a process in another pid namespace has pid there (or /proc could
 * not be read whole): an unstamped segment named for pid may be its, being
 * created, in a directory shared with a container. */
int gpumem__fleet_pid_elsewhere(int pid);

/* Kubernetes labels of a running process from its cgroup (host pid) and
 * the kubelet's log directories (GPUMEM_K8S_LOG_DIR, default /var/log). */
void gpumem__fleet_label(struct gpumem_process *p, int host_pid);
/* The same from the text of a cgroup file: pod_uid and container_id from
 * it; namespace, pod and container's name from <log dir>/pods/
 * <namespace>_<pod>_<uid>/ and <log dir>/containers/<pod>_<namespace>_
 * <container>-<id>.log (else the pod directory's only subdirectory; else
 * container is the id's first 12 characters). */
void gpumem__fleet_label_cgroup(struct gpumem_process *p, const char *cgroup);

/* ---- pure parsers (unit-tested) ---- */

/* From the text of /proc/<pid>/cgroup (v1 or v2, cgroupfs or systemd
 * driver): the pod's uid (dashes, as the API server writes it) and the
 * container's id. 0 when a Kubernetes pod is named, else -1. */
int gpumem__k8s_parse_cgroup(const char *text, char *pod_uid, size_t uid_size, char *container_id, size_t id_size);

/* A directory name of /var/log/pods, "<namespace>_<pod>_<uid>": 0 and the
 * parts if it is one for uid, else -1. */
int gpumem__k8s_parse_pod_dir(const char *name, const char *uid, char *ns, size_t ns_size, char *pod, size_t pod_size);

/* A name of /var/log/containers, "<pod>_<namespace>_<container>-<id>.log":
 * 0 and the container's name if it is one of pod, ns and id, else -1. */
int gpumem__k8s_parse_container_log(const char *name, const char *pod, const char *ns, const char *id, char *container,
                                    size_t size);

/* The other mount namespaces: for each distinct mount namespace other than
 * the reader's (as far as this reader may see them: ns/mnt of another
 * user's process needs ptrace access), the host pid of one of its
 * processes, in /proc's order. Returns how many were written (at most max). */
size_t gpumem__fleet_mount_namespaces(int *pids, size_t max);

/* Open /proc/<pid>/root/dev/shm as a directory, never through a symbolic
 * link: the descriptor, or -1 (and *denied 1 when for lack of privilege). */
int gpumem__fleet_open_shm(int pid, int *denied);

#endif /* GPUMEM_FLEET_H */
