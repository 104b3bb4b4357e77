/* calls.h: GET /admin/v1/calls, the call log read on the admin thread through its own
 * read-only connection to calls.db (logs/calls_db.h): filters, newest-first cursor pages
 * as JSON, and bounded NDJSON and CSV exports. */
#ifndef PT_ADMIN_CALLS_H
#define PT_ADMIN_CALLS_H

#include <stdbool.h>

#include "admin/api.h"
#include "admin/authz.h"

#define PT_CALLS_PAGE_DEFAULT 100
#define PT_CALLS_PAGE_MAX 1000
#define PT_CALLS_EXPORT_DEFAULT 10000
#define PT_CALLS_EXPORT_MAX 100000

/* Answers one request. visible_team: NULL for admins (every call), else the caller's
 * team name ("" when it has none: nothing is visible). Errors go to err. */
void pt__admin_calls(pt_admin_api *api, const pt_admin_req *rq, const char *visible_team, pt_admin_resp *out,
                     pt_admin_err *err);

#define PT_ADMIN_VALUE_MAX 512

/* Splits the request's query string into v[i] / has[i] for the NULL-terminated names; an
 * unknown, repeated or badly encoded parameter (or a value of PT_ADMIN_VALUE_MAX bytes or
 * more) is a 400 naming it. */
int pt__admin_query_params(const pt_admin_req *rq, const char *const *names, char (*v)[PT_ADMIN_VALUE_MAX], bool *has,
                           pt_admin_err *err);

/* Opens api->calls, the admin thread's read-only connection to calls.db, when not yet open:
 * 404 when the call log is off, 503 when the file cannot be read. */
int pt__admin_calls_reader(pt_admin_api *api, pt_admin_err *err);

/* Unix milliseconds as RFC 3339 UTC with milliseconds. */
void pt__admin_iso_time(int64_t ms, char *buf, size_t cap);

/* "2026-12-03T10:00:00Z", "2026-12-03T10:00:00.250+01:00" or Unix milliseconds -> Unix
 * milliseconds; false for anything else. */
bool pt__admin_parse_time(const char *s, int64_t *ms);

#endif
