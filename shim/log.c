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
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os.h"

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

static void sink_refused(const char *what, int err)
{
    if (atomic_exchange(&sink_warned, 1)) return;
    char msg[768];
    int n = snprintf(msg, sizeof msg, "gpumem[%d]: GPUMEM_LOG=%s: cannot %s (%s); the lines it refuses go to stderr\n",
                     gpumem__os_pid(), current_sink() == GPUMEM_LOG_FILE ? configured_path : "syslog", what,
                     strerror(err));
    if (n > 0) gpumem__os_write_all(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
}

static void emit(int to_stderr, const char *fmt, va_list ap)
{
    int saved = errno;
    char line[1024];
    int prefix = snprintf(line, sizeof line, "gpumem[%d]: ", gpumem__os_pid());
    int n = vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, fmt, ap);
    size_t len = (size_t)prefix + (n < 0 ? 0 : (size_t)n);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    enum gpumem_log_sink sink = to_stderr ? GPUMEM_LOG_STDERR : current_sink();
    if (sink == GPUMEM_LOG_FILE || sink == GPUMEM_LOG_SYSLOG) {
        const char *what = "";
        int err = sink == GPUMEM_LOG_FILE ? gpumem__os_append_line(configured_path, line, len, &what)
                                          : gpumem__os_syslog_line(line, len - 1, &what);
        if (err) {
            sink_refused(what, err);
            gpumem__os_write_all(2, line, len);
        }
    } else if (sink == GPUMEM_LOG_STDERR) {
        gpumem__os_write_all(2, line, len);
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
