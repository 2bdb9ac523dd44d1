/*
 * log.h - the shim's only output: one line per write(2), never stdout.
 * Depends on nothing else in shim/; options.c tells it where lines go.
 */
#ifndef GPUMEM_LOG_H
#define GPUMEM_LOG_H

/* The longest GPUMEM_LOG file path, with its NUL. */
#define GPUMEM_LOG_PATH_SIZE 512

enum gpumem_log_sink { GPUMEM_LOG_STDERR, GPUMEM_LOG_FILE, GPUMEM_LOG_SYSLOG, GPUMEM_LOG_OFF };

/* Where the lines go from now on; path is read for GPUMEM_LOG_FILE only.
 * Until this is called, lines go to stderr. */
void gpumem__log_configure(enum gpumem_log_sink sink, const char *path);

/* One line, "gpumem[PID]: " and the message; errno is kept. A line that the
 * file or syslog refuses goes to stderr instead. */
void gpumem__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* GPUMEM_LOG_H */
