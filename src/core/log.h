/* log.h: the structured error log. One JSON object per line on stderr (or a file),
 * written with one write(2) so lines from several workers never interleave.
 * Secrets must never be passed here: callers log names, never key values. */
#ifndef PT_CORE_LOG_H
#define PT_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PT_LOG_DEBUG, PT_LOG_INFO, PT_LOG_WARN, PT_LOG_ERROR, PT_LOG_OFF } pt_log_level;

void pt_log_set_level(pt_log_level lvl);
pt_log_level pt_log_get_level(void);
/* Parses "debug" / "info" / "warn" / "error" / "off"; -1 if unknown. */
int pt_log_level_parse(const char *s);
/* Redirects the log to fd (default 2). */
void pt_log_set_fd(int fd);
/* Names the calling thread in every line it logs ("main", "worker-0", ...). */
void pt_log_set_thread_name(const char *name);

void pt_log(pt_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pt_log_debug(...) pt_log(PT_LOG_DEBUG, __VA_ARGS__)
#define pt_log_info(...) pt_log(PT_LOG_INFO, __VA_ARGS__)
#define pt_log_warn(...) pt_log(PT_LOG_WARN, __VA_ARGS__)
#define pt_log_error(...) pt_log(PT_LOG_ERROR, __VA_ARGS__)

/* Monotonic milliseconds / microseconds, for deadlines and latencies. */
uint64_t pt_now_ms(void);
uint64_t pt_now_us(void);
/* Writes the wall-clock time as "2026-11-27T17:25:10.123Z" into out (>= 32 bytes), NUL
 * terminated; returns its length (24 for the years 1000 to 9999). */
size_t pt_wall_iso8601(char *out, unsigned long size);

#endif
