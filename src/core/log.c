/* log.c: JSON-lines error log and clocks. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

static _Atomic int log_level = PT_LOG_INFO;
static _Atomic int log_fd = 2;
static _Thread_local char thread_name[24] = "main";

void pt_log_set_level(pt_log_level lvl) { atomic_store(&log_level, (int)lvl); }
pt_log_level pt_log_get_level(void) { return (pt_log_level)atomic_load(&log_level); }
void pt_log_set_fd(int fd) { atomic_store(&log_fd, fd); }

void pt_log_set_thread_name(const char *name)
{
    snprintf(thread_name, sizeof thread_name, "%s", name);
}

int pt_log_level_parse(const char *s)
{
    static const char *names[] = { "debug", "info", "warn", "error", "off" };
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

uint64_t pt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t pt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

size_t pt_wall_iso8601(char *out, unsigned long size)
{
    /* The part up to the seconds changes once a second: format it then, per thread. */
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[64];
    static _Thread_local size_t cached_len;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_len = n < 0 ? 0 : (size_t)n;
        cached_sec = ts.tv_sec;
    }
    if (size < 25 || cached_len != 20) { /* a year outside 1000..9999, or no room */
        int n = snprintf(out, size, "%s%03ldZ", cached, ts.tv_nsec / 1000000L);
        return n < 0 || !size ? 0 : (size_t)n < size ? (size_t)n : size - 1;
    }
    memcpy(out, cached, 20);
    pt_digits3_to(out + 20, (unsigned)(ts.tv_nsec / 1000000L));
    out[23] = 'Z';
    out[24] = '\0';
    return 24;
}

void pt_log(pt_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    if ((int)lvl < atomic_load(&log_level) || lvl >= PT_LOG_OFF) return;

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t mlen = (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;

    char ts[40];
    pt_wall_iso8601(ts, sizeof ts);
    pt_buf b = PT_BUF_INIT;
    pt_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"thread\":\"", ts, names[lvl]);
    pt_buf_append_json_escaped(&b, thread_name, strlen(thread_name));
    pt_buf_append_str(&b, "\",\"msg\":\"");
    pt_buf_append_json_escaped(&b, msg, mlen);
    pt_buf_append_str(&b, "\"}\n");
    if (b.data) {
        ssize_t w = write(atomic_load(&log_fd), b.data, b.len);
        (void)w;
    }
    pt_buf_release(&b);
}
