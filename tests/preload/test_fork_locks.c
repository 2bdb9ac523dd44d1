/* fork() while other threads hold the shim's locks: the child must neither
 * hang registering an alarm callback nor lose its own post-mortem because
 * another thread of the parent was writing one at the moment of fork. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "cuda_decls.h"

#define FORKS 100
static gcu_context ctx;
static atomic_int stop;

static void on_alarm(const gpumem_alarm_t *a, void *user)
{
    (void)a;
    (void)user;
}

static void *registering(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) gpumem_on_alarm(on_alarm, NULL); /* full after 16: still takes the lock */
    return NULL;
}

static void *failing(void *arg)
{
    (void)arg;
    cuCtxSetCurrent(ctx);
    while (!atomic_load(&stop)) {
        gcu_deviceptr p;
        cuMemAlloc_v2(&p, 64 * GiB); /* each failure writes a report (interval 0) */
    }
    return NULL;
}

/* The child's report, if it wrote one. */
static int report_of(pid_t pid)
{
    const char *dir = getenv("GPUMEM_POSTMORTEM_DIR");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "gpumem-oom-%d-", (int)pid);
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) found = 1;
    if (d) closedir(d);
    return found;
}

static void clean_reports(void)
{
    const char *dir = getenv("GPUMEM_POSTMORTEM_DIR");
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "gpumem-oom-", 11) != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d) closedir(d);
}

int main(void)
{
    if (!SHIM) return check_done("fork_locks"); /* nothing of the shim's to hold */
    CHECK_EQ(cuInit(0), 0);
    CHECK_EQ(cuCtxCreate_v2(&ctx, 0, 0), 0);
    pthread_t r, f;
    pthread_create(&r, NULL, registering, NULL);
    pthread_create(&f, NULL, failing, NULL);
    int hung = 0, lost = 0;
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(2); /* a child stuck on an inherited lock dies of SIGALRM */
            gpumem_on_alarm(on_alarm, NULL);
            gcu_deviceptr p;
            cuMemAlloc_v2(&p, 64 * GiB);
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        /* The child left by _exit: its segment stays; remove it. */
        char name[96];
        snprintf(name, sizeof name, "/%s.%d", getenv("GPUMEM_SHM_PREFIX"), (int)pid);
        shm_unlink(name);
        if (!WIFEXITED(status)) hung++;
        else if (!report_of(pid)) lost++;
        if (hung || lost) break; /* one is proof enough */
    }
    atomic_store(&stop, 1);
    pthread_join(r, NULL);
    pthread_join(f, NULL);
    clean_reports();
    fprintf(stderr, "%d forks: %d children hung, %d lost their report\n", FORKS, hung, lost);
    CHECK_EQ(hung, 0);
    CHECK_EQ(lost, 0);
    return check_done("fork_locks");
}
