/*
 * swap_hook.so - LD_PRELOADed into `gpumem gc` by the gc_swap test: it
 * plays a new process that took a dead segment's pid, at the worst moment.
 *
 * At gc's first destructive call (shm_unlink, unlink, unlinkat, rename,
 * renameat, renameat2) on a name whose last component is $GMR_SWAP_NAME,
 * before that call runs, it does what the shim of a new process with that
 * pid does: unlink the stale file and create its own in its place (here a
 * copy of $GMR_SWAP_FROM). Then gc's call goes on. A gc that removes by
 * name removes the new file; one that checks what it removes does not.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int done;

static void swap(int dirfd, const char *path)
{
    const char *want = getenv("GMR_SWAP_NAME"), *from = getenv("GMR_SWAP_FROM");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (done || !want || !from || strcmp(base, want) != 0) return;
    done = 1;
    /* The new process's shim: the stale file goes, its own comes. */
    if (syscall(SYS_unlinkat, dirfd, path, 0) != 0) return;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = (int)syscall(SYS_openat, dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    char buf[65536];
    ssize_t n;
    while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) break;
    if (in >= 0) close(in);
    if (out >= 0) close(out);
    fprintf(stderr, "swap_hook: replaced %s before gc's call\n", base);
}

#define REAL(name) ((__typeof__(name) *)dlsym(RTLD_NEXT, #name))

int shm_unlink(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
    swap(AT_FDCWD, path);
    return REAL(shm_unlink)(name);
}

int unlink(const char *path)
{
    swap(AT_FDCWD, path);
    return REAL(unlink)(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    swap(dirfd, path);
    return REAL(unlinkat)(dirfd, path, flags);
}

int rename(const char *from, const char *to)
{
    swap(AT_FDCWD, from);
    return REAL(rename)(from, to);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    swap(fromfd, from);
    return REAL(renameat)(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
    swap(fromfd, from);
    return REAL(renameat2)(fromfd, from, tofd, to, flags);
}
