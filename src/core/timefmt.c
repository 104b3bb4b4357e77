/* timefmt.c: times as people write them (see timefmt.h). */
#include "core/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/str.h"

bool pt_time_parse(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n && n <= 15 && pt_str_digits(s, (int)n)) {
        *ms = strtoll(s, NULL, 10);
        return true;
    }
    /* YYYY-MM-DD: midnight UTC */
    if (n == 10 && pt_str_digits(s, 4) && s[4] == '-' && pt_str_digits(s + 5, 2) && s[7] == '-' &&
        pt_str_digits(s + 8, 2)) {
        struct tm tm = { .tm_year = pt_str_num(s, 4) - 1900, .tm_mon = pt_str_num(s + 5, 2) - 1,
                         .tm_mday = pt_str_num(s + 8, 2) };
        if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31) return false;
        *ms = (int64_t)timegm(&tm) * 1000;
        return true;
    }
    /* YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) */
    if (n < 20 || !pt_str_digits(s, 4) || s[4] != '-' || !pt_str_digits(s + 5, 2) || s[7] != '-' || !pt_str_digits(s + 8, 2) ||
        (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !pt_str_digits(s + 11, 2) || s[13] != ':' || !pt_str_digits(s + 14, 2) ||
        s[16] != ':' || !pt_str_digits(s + 17, 2))
        return false;
    struct tm tm = { .tm_year = pt_str_num(s, 4) - 1900, .tm_mon = pt_str_num(s + 5, 2) - 1, .tm_mday = pt_str_num(s + 8, 2),
                     .tm_hour = pt_str_num(s + 11, 2), .tm_min = pt_str_num(s + 14, 2), .tm_sec = pt_str_num(s + 17, 2) };
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    const char *p = s + 19;
    int frac_ms = 0, places = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, places++)
            if (places < 3) frac_ms = frac_ms * 10 + (*p - '0');
        if (!places) return false;
        for (int i = places; i < 3; i++) frac_ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && pt_str_digits(p + 1, 2) && p[3] == ':' && pt_str_digits(p + 4, 2)) {
        offset_min = (pt_str_num(p + 1, 2) * 60 + pt_str_num(p + 4, 2)) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p) return false;
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - offset_min * 60) * 1000 + frac_ms;
    return true;
}

void pt_time_http_date(int64_t unix_s, char out[PT_HTTP_DATE_LEN])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, PT_HTTP_DATE_LEN, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int64_t pt_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
