/* usage.h: GET /admin/v1/policies/{id}/usage: a policy's quota and budget windows now,
 * each total against its limit, read from the totals file the gateway writes every second
 * (limits/persist.h). The routing and who may read the policy stay in api.c. */
#ifndef PT_ADMIN_USAGE_H
#define PT_ADMIN_USAGE_H

#include <jansson.h>

#include "admin/api.h"

/* policy: the policy as a client reads it ({name, quota, budget, ...}). *out is
 * {"policy", "windows": [{"window", "group", "used", "limit", "unit", "resets_at"}],
 * "rates_counted": false}; -1 with e filled when the totals cannot be read. */
int pt__admin_policy_usage(const pt_admin_api *api, const json_t *policy, json_t **out, pt_admin_err *e);

#endif
