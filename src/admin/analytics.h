/* analytics.h: GET /admin/v1/analytics/series (one name's buckets over a range) and
 * /analytics/top (the names of a dimension ranked by a metric), read from the call log's
 * rollups (analytics/rollup.h) on the admin thread. */
#ifndef PT_ADMIN_ANALYTICS_H
#define PT_ADMIN_ANALYTICS_H

#include "admin/api.h"

/* Answers /analytics/<what>. visible_team: NULL for admins (every row), else the caller's
 * team name ("" when it has none: nothing is visible). Errors go to err. */
void pt__admin_analytics(pt_admin_api *api, const pt_admin_req *rq, const char *what, const char *visible_team,
                         pt_admin_resp *resp, pt_admin_err *err);

#endif
