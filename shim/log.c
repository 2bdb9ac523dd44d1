/*
 * log.c - the shim's only output: one line per write(2), formatted on the
 * stack, to stderr, a file (appended, so concurrent processes never
 * interleave a line), syslog, or nowhere. Never stdout.
 *
 * No descriptor is kept between lines. A program may close every descriptor
 * (closefrom) and open its own files, which then get any number: one kept
 * here could by then be the program's own file. So a log file is opened for
 * each line and closed after it, and a syslog line goes out on a socket of
 * its own rather than through syslog(3), whose descriptor glibc keeps open
 * (and closes when a send on it fails, whatever file it has become).
 * Nothing here waits on a sink: the file is opened O_NONBLOCK (a FIFO with no
 * reader fails at once with ENXIO, a full one with EAGAIN), and datagrams
 * are sent MSG_DONTWAIT. A line that the file or syslog refuses goes to
 * stderr instead; the first refusal says why, once per process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static atomic_int sink_warned;
/* Set by gpumem__log_configure: the path first, then the sink (release). */
static atomic_int configured_sink = GPUMEM_LOG_STDERR;
static char configured_path[GPUMEM_LOG_PATH_SIZE];

void gpumem__log_configure(enum gpumem_log_sink sink, const char *path)
{
    snprintf(configured_path, sizeof configured_path, "%s", sink == GPUMEM_LOG_FILE && path ? path : "");
    atomic_store_explicit(&configured_sink, (int)sink, memory_order_release);
}

static enum gpumem_log_sink current_sink(void)
{
    return (enum gpumem_log_sink)atomic_load_explicit(&configured_sink, memory_order_acquire);
}

/* 0 once all of buf is written, else why not. A line to a pipe or FIFO
 * whose reader is gone (`prog 2>&1 | head`) must not kill the program with
 * SIGPIPE, nor one past the file-size limit with SIGXFSZ: both are blocked
 * for the write, and the one the write raised (if it was not pending
 * already) is taken back before the mask is restored. Log lines are rare;
 * this costs a few system calls each. */
static int write_all(int fd, const char *buf, size_t n)
{
    sigset_t quiet, old, before;
    sigemptyset(&quiet);
    sigaddset(&quiet, SIGPIPE);
    sigaddset(&quiet, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &quiet, &old);
    sigpending(&before);
    int err = 0;
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) { err = errno; break; }
        if (w == 0) { err = EIO; break; }
        buf += w;
        n -= (size_t)w;
    }
    static const struct timespec now = { 0, 0 };
    if (err == EPIPE && !sigismember(&before, SIGPIPE)) {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGPIPE);
        sigtimedwait(&one, NULL, &now);
    }
    if (err == EFBIG && !sigismember(&before, SIGXFSZ)) {
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, SIGXFSZ);
        sigtimedwait(&one, NULL, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* The file of GPUMEM_LOG, opened for this line only. */
static int file_line(const char *line, size_t len, const char **what)
{
    int fd = open(configured_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                  0600);
    if (fd < 0) {
        *what = "open it";
        return errno;
    }
    int err = write_all(fd, line, len);
    close(fd);
    *what = "write to it";
    return err;
}

/* One datagram to the local syslog daemon, as syslog(3) would send it
 * (facility user, priority warning), on a socket of this line's own. No
 * timestamp: the daemon stamps the time it receives it. */
static int syslog_line(const char *line, size_t len, const char **what)
{
    char msg[1100];
    int n = snprintf(msg, sizeof msg, "<%d>%.*s", LOG_USER | LOG_WARNING, (int)len, line);
    if (n < 0 || (size_t)n >= sizeof msg) n = (int)sizeof msg - 1;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", _PATH_LOG);
    int err = 0;
    *what = "reach /dev/log";
    /* Datagram first; a stream socket, as glibc falls back to, ends each
     * message with its NUL. */
    for (int type = SOCK_DGRAM;; type = SOCK_STREAM) {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) return errno;
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
            size_t size = (size_t)n + (type == SOCK_STREAM);
            ssize_t w;
            do w = send(fd, msg, size, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (w < 0 && errno == EINTR);
            err = w == (ssize_t)size ? 0 : w < 0 ? errno : EIO;
            *what = "send to /dev/log";
        } else {
            err = errno;
        }
        close(fd);
        if (err != EPROTOTYPE || type == SOCK_STREAM) return err;
    }
}

static void sink_refused(const char *what, int err)
{
    if (atomic_exchange(&sink_warned, 1)) return;
    char msg[768];
    int n = snprintf(msg, sizeof msg, "gpumem[%d]: GPUMEM_LOG=%s: cannot %s (%s); the lines it refuses go to stderr\n",
                     (int)getpid(), current_sink() == GPUMEM_LOG_FILE ? configured_path : "syslog", what,
                     strerror(err));
    if (n > 0) write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
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
    enum gpumem_log_sink sink = to_stderr ? GPUMEM_LOG_STDERR : current_sink();
    if (sink == GPUMEM_LOG_FILE || sink == GPUMEM_LOG_SYSLOG) {
        const char *what = "";
        int err = sink == GPUMEM_LOG_FILE ? file_line(line, len, &what) : syslog_line(line, len - 1, &what);
        if (err) {
            sink_refused(what, err);
            write_all(2, line, len);
        }
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
