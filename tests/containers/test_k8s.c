/* Kubernetes names from fixed inputs (tools/fleet.c): /proc/<pid>/cgroup
 * lines under cgroup v1 and v2, the cgroupfs and systemd drivers, and
 * processes outside any pod; the kubelet's log directory names; and the
 * lookup of a process's pod and container name in a log tree made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fleet.h"

#define UID "0b5a2d3c-7e1f-4d2a-9c3b-123456789abc"
#define ID "4f9c1d2e3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e"

static void parse(const char *text, int want, const char *uid, const char *id)
{
    char u[40], c[80];
    assert_int_equal(gpumem__k8s_parse_cgroup(text, u, sizeof u, c, sizeof c), want);
    assert_string_equal(u, uid);
    assert_string_equal(c, id);
}

static void cgroup_lines(void **state)
{
    (void)state;
    /* v2, systemd driver, containerd */
    parse(
        "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/"
        "cri-containerd-" ID ".scope\n",
        0, UID, ID);
    /* v2, systemd driver, guaranteed QoS (no class), CRI-O */
    parse("0::/kubepods.slice/kubepods-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/crio-" ID ".scope\n", 0, UID, ID);
    /* v2, cgroupfs driver */
    parse("0::/kubepods/besteffort/pod" UID "/" ID "\n", 0, UID, ID);
    /* v1, cgroupfs driver, docker: every controller names it */
    parse("12:pids:/kubepods/burstable/pod" UID "/" ID "\n11:memory:/kubepods/burstable/pod" UID "/" ID
          "\n1:name=systemd:/kubepods/burstable/pod" UID "/" ID "\n",
          0, UID, ID);
    /* v1, systemd driver, docker */
    parse("4:cpu,cpuacct:/kubepods.slice/kubepods-besteffort.slice/"
          "kubepods-besteffort-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/docker-" ID ".scope\n",
          0, UID, ID);
    /* The pod's own cgroup (its sandbox's parent): the pod, no container. */
    parse("0::/kubepods/burstable/pod" UID "\n", 0, UID, "");
    /* CRI-O's monitor is not the container. */
    parse("0::/kubepods.slice/kubepods-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/crio-conmon-" ID ".scope\n", 0,
          UID, "");
    /* A container that may make cgroups below its own (cgroup v2, delegated)
     * names another pod there: the kubelet's pod and container, the
     * outermost, are its, never the ones it made. */
    parse("0::/kubepods/burstable/pod" UID "/" ID "/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
          0, UID, ID);
    parse("0::/kubepods.slice/kubepods-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/crio-" ID
          ".scope/kubepods-pod11111111_2222_3333_4444_555555555555.slice/crio-"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope\n",
          0, UID, ID);
    /* Not Kubernetes: a user's session, a docker container, a systemd
     * service named like a pod, empty. */
    parse("0::/user.slice/user-1000.slice/session-2.scope\n", -1, "", "");
    parse("0::/system.slice/docker-" ID ".scope\n", -1, "", "");
    parse("0::/system.slice/pod-manager.service\n", -1, "", "");
    parse("", -1, "", "");
    parse("garbage without colons\n", -1, "", "");
}

static void log_names(void **state)
{
    (void)state;
    char ns[64], pod[128], c[64];
    assert_int_equal(gpumem__k8s_parse_pod_dir("ml_train-7f9c_" UID, UID, ns, sizeof ns, pod, sizeof pod), 0);
    assert_string_equal(ns, "ml");
    assert_string_equal(pod, "train-7f9c");
    assert_int_equal(gpumem__k8s_parse_pod_dir("ml_train-7f9c_other-uid", UID, ns, sizeof ns, pod, sizeof pod), -1);
    assert_int_equal(gpumem__k8s_parse_pod_dir("_train_" UID, UID, ns, sizeof ns, pod, sizeof pod), -1);
    assert_int_equal(gpumem__k8s_parse_pod_dir(UID, UID, ns, sizeof ns, pod, sizeof pod), -1);
    assert_int_equal(
        gpumem__k8s_parse_container_log("train-7f9c_ml_trainer-" ID ".log", "train-7f9c", "ml", ID, c, sizeof c), 0);
    assert_string_equal(c, "trainer");
    assert_int_equal(
        gpumem__k8s_parse_container_log("train-7f9c_ml_trainer-" ID ".log", "train-7f9c", "other", ID, c, sizeof c),
        -1);
    assert_int_equal(
        gpumem__k8s_parse_container_log("train-7f9c_ml_trainer-0000.log", "train-7f9c", "ml", ID, c, sizeof c), -1);
    assert_int_equal(gpumem__k8s_parse_container_log("train-7f9c_ml_-" ID ".log", "train-7f9c", "ml", ID, c, sizeof c),
                     -1);
}

static void mkdirs(const char *path)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void label(struct gpumem_process *p, const char *cgroup)
{
    memset(p, 0, sizeof *p);
    gpumem__fleet_begin(); /* a new load reads the log directories again */
    gpumem__fleet_label_cgroup(p, cgroup);
}

/* A log tree made here (GPUMEM_K8S_LOG_DIR), laid out as the kubelet does. */
static void lookup_in_a_log_tree(void **state)
{
    (void)state;
    static const char cgroup[] = "0::/kubepods.slice/kubepods-burstable.slice/"
                                 "kubepods-burstable-pod0b5a2d3c_7e1f_4d2a_9c3b_123456789abc.slice/cri-containerd-" ID
                                 ".scope\n";
    char root[] = "/tmp/gpumem-k8s.XXXXXX", path[600];
    assert_non_null(mkdtemp(root));
    setenv("GPUMEM_K8S_LOG_DIR", root, 1);
    struct gpumem_process p;

    /* No log directories: the uid, and the id's first 12 characters. */
    label(&p, cgroup);
    assert_string_equal(p.pod_uid, UID);
    assert_string_equal(p.container_id, ID);
    assert_string_equal(p.container, "4f9c1d2e3b4a");
    assert_string_equal(p.pod, "");
    assert_string_equal(p.k8s_namespace, "");

    /* The pod's directory with two containers, and the link naming ours. */
    snprintf(path, sizeof path, "%s/pods/kube-system_other-pod_1111", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/pods/ml_train-7f9c_%s/trainer", root, UID);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/pods/ml_train-7f9c_%s/sidecar", root, UID);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/containers", root);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/containers/train-7f9c_ml_sidecar-%s.log", root,
             "0000000000000000000000000000000000000000000000000000000000000000");
    touch(path);
    snprintf(path, sizeof path, "%s/containers/train-7f9c_ml_trainer-%s.log", root, ID);
    touch(path);
    label(&p, cgroup);
    assert_string_equal(p.k8s_namespace, "ml");
    assert_string_equal(p.pod, "train-7f9c");
    assert_string_equal(p.container, "trainer");

    /* Without the link, two containers: the name stays unknown (the id). */
    unlink(path);
    label(&p, cgroup);
    assert_string_equal(p.pod, "train-7f9c");
    assert_string_equal(p.container, "4f9c1d2e3b4a");

    /* One container: its directory names it. */
    snprintf(path, sizeof path, "%s/pods/ml_train-7f9c_%s/sidecar", root, UID);
    assert_int_equal(rmdir(path), 0);
    label(&p, cgroup);
    assert_string_equal(p.container, "trainer");

    /* Not a pod: nothing. */
    label(&p, "0::/user.slice/user-0.slice/session-1.scope\n");
    assert_string_equal(p.pod_uid, "");
    assert_string_equal(p.container, "");

    snprintf(path, sizeof path, "rm -rf '%s'", root);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cgroup_lines),
        cmocka_unit_test(log_names),
        cmocka_unit_test(lookup_in_a_log_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
