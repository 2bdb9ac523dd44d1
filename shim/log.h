/* log.h - the shim's only output: one line per write, never stdout. */
#ifndef GPUMEM_LOG_H
#define GPUMEM_LOG_H

enum gpumem_log_sink { GPUMEM_LOG_STDERR, GPUMEM_LOG_FILE, GPUMEM_LOG_SYSLOG, GPUMEM_LOG_OFF };

void gpumem__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gpumem__warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* GPUMEM_LOG_H */
