/*
 * steps - a CUDA program driven by its arguments, for the shell tests of a
 * hostile machine (hostile.sh) and of the options (options_log.sh). Each
 * step prints one line on stdout, the same with and without the shim:
 *   D:+N        allocate N MiB on device D
 *   D:-N        free the newest live N MiB allocation of device D
 *   closefrom   close every descriptor from 3 up, as daemons and
 *               subprocess launchers do
 *   open:PATH   open PATH (created, emptied) as the program's own data file
 *   syslog      call syslog(3) itself, as a program that logs does
 *   pause       print "paused", then wait until stdin is closed
 * At the end "program data" is written to the data file and read back: exit
 * 4 if the file then holds anything else, 3 if a CUDA call failed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cuda_decls.h"

#define MAX_LIVE 256
static struct {
    int device;
    unsigned long long mib;
    gcu_deviceptr p;
} live[MAX_LIVE];
static int nlive;

int main(int argc, char **argv)
{
    gcu_context ctx[2];
    int data = -1, failed = 0;
    if (cuInit(0) != 0) return 3;
    for (int d = 0; d < 2; d++)
        if (cuCtxCreate_v2(&ctx[d], 0, d) != 0) return 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "closefrom") == 0) {
            for (int fd = 3; fd < 1024; fd++) close(fd);
            printf("%s\n", a);
        } else if (strncmp(a, "open:", 5) == 0) {
            data = open(a + 5, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            printf("open %s\n", data >= 0 ? "ok" : "failed");
        } else if (strcmp(a, "pause") == 0) {
            char c;
            printf("paused\n");
            fflush(stdout);
            while (read(0, &c, 1) > 0) {}
        } else if (strcmp(a, "syslog") == 0) {
            syslog(LOG_INFO, "steps: the program's own syslog line");
            printf("%s\n", a);
        } else {
            int dev = a[0] - '0';
            unsigned long long mib = strtoull(a + 3, NULL, 10);
            if (dev < 0 || dev > 1 || a[1] != ':' || (a[2] != '+' && a[2] != '-')) return 2;
            gcu_result r = 1;
            cuCtxSetCurrent(ctx[dev]);
            if (a[2] == '+' && nlive < MAX_LIVE) {
                r = cuMemAlloc_v2(&live[nlive].p, mib * MiB);
                if (r == 0) {
                    live[nlive].device = dev;
                    live[nlive++].mib = mib;
                }
            } else if (a[2] == '-') {
                for (int k = nlive - 1; k >= 0; k--) {
                    if (live[k].device != dev || live[k].mib != mib) continue;
                    r = cuMemFree_v2(live[k].p);
                    live[k] = live[--nlive];
                    break;
                }
            }
            printf("%s -> %d\n", a, (int)r);
            if (r != 0) failed = 1;
        }
        fflush(stdout);
    }
    if (data >= 0) {
        static const char mine[] = "program data\n";
        char back[4096];
        if (write(data, mine, sizeof mine - 1) != (ssize_t)(sizeof mine - 1) || lseek(data, 0, SEEK_SET) != 0) return 4;
        ssize_t n = read(data, back, sizeof back);
        if (n != (ssize_t)(sizeof mine - 1) || memcmp(back, mine, sizeof mine - 1) != 0) return 4;
        close(data);
    }
    return failed ? 3 : 0;
}
