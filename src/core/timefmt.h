/* timefmt.h: times as people write them: RFC 3339 in configuration and queries, the
 * HTTP date (IMF-fixdate) in header fields. */
#ifndef PT_CORE_TIMEFMT_H
#define PT_CORE_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* Unix milliseconds from digits (taken as milliseconds already), a date YYYY-MM-DD
 * (midnight UTC), or YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or +HH:MM / -HH:MM.
 * False for anything else. */
bool pt_time_parse(const char *s, int64_t *ms);

/* "Fri, 01 Jan 2027 00:00:00 GMT" (RFC 9110's IMF-fixdate), NUL-terminated. */
#define PT_HTTP_DATE_LEN 30
void pt_time_http_date(int64_t unix_s, char out[PT_HTTP_DATE_LEN]);

/* Unix milliseconds now (the wall clock: dates people write are compared with it). */
int64_t pt_time_now_ms(void);

#endif
