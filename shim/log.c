/*
 * log.c - the shim's only output: one line per write(2), formatted on the
 * stack, to stderr, a file (appended, so concurrent processes never
 * interleave a line), syslog, or nowhere. Never stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "shim.h"

static atomic_int file_fd = -1;
static atomic_int file_failed;

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        buf += w;
        n -= (size_t)w;
    }
}

static int log_file(void)
{
    int fd = atomic_load(&file_fd);
    if (fd >= 0 || atomic_load(&file_failed)) return fd;
    fd = open(gpumem__opt.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (!atomic_exchange(&file_failed, 1)) {
            char msg[768];
            int n = snprintf(msg, sizeof msg, "gpumem[%d]: cannot open GPUMEM_LOG=%s (%s); logging to stderr\n",
                             (int)getpid(), gpumem__opt.log_path, strerror(errno));
            write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        }
        return -1;
    }
    int expected = -1;
    if (!atomic_compare_exchange_strong(&file_fd, &expected, fd)) {
        close(fd);
        fd = expected;
    }
    return fd;
}

static void emit(int to_stderr, const char *fmt, va_list ap)
{
    int saved = errno;
    char line[1024];
    int prefix = snprintf(line, sizeof line, "gpumem[%d]: ", (int)getpid());
    int n = vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, fmt, ap);
    size_t len = (size_t)prefix + (n < 0 ? 0 : (size_t)n);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    enum gpumem_log_sink sink = to_stderr ? GPUMEM_LOG_STDERR : gpumem__opt.log_sink;
    if (sink == GPUMEM_LOG_FILE) {
        int fd = log_file();
        if (fd >= 0) write_all(fd, line, len);
        else write_all(2, line, len);
    } else if (sink == GPUMEM_LOG_SYSLOG) {
        line[len - 1] = '\0';
        syslog(LOG_WARNING, "%s", line);
    } else if (sink == GPUMEM_LOG_STDERR) {
        write_all(2, line, len);
    }
    errno = saved;
}

void gpumem__log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(0, fmt, ap);
    va_end(ap);
}

/* Problems of the shim itself (a bad option, no publication) go to the same
 * sink; a log file that cannot be opened falls back to stderr. */
void gpumem__warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(0, fmt, ap);
    va_end(ap);
}
