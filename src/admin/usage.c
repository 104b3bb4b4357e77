/* usage.c: a policy's current usage against its quotas and budgets (usage.h). */
#include "admin/usage.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "limits/persist.h"
#include "limits/policy.h"

typedef struct {
    const json_t *policy;
    json_t *windows;
} visit;

static void one_window(void *arg, pt_slice group, int w, uint64_t total, int64_t expires)
{
    visit *v = arg;
    const char *section = pt_policy_window_section((pt_policy_window)w), *key = pt_policy_window_key((pt_policy_window)w);
    bool usd = strcmp(section, "budget") == 0;
    json_t *limit = json_object_get(json_object_get(v->policy, section), key);
    char name[64];
    snprintf(name, sizeof name, "%s.%s", section, key);
    /* budgets are counted in micro-dollars and read in dollars, as the policy writes them */
    json_t *used = usd ? json_real((double)total / 1e6) : json_integer((json_int_t)total);
    json_array_append_new(v->windows, json_pack("{s:s,s:s%,s:o,s:O,s:s,s:I}", "window", name, "group", group.ptr,
                                                group.len, "used", used, "limit", limit ? limit : json_null(), "unit",
                                                pt_policy_window_unit((pt_policy_window)w), "resets_at",
                                                (json_int_t)expires));
}

int pt__admin_policy_usage(const pt_admin_api *api, const json_t *policy, json_t **out, pt_admin_err *e)
{
    const char *name = json_string_value(json_object_get(policy, "name"));
    visit v = { policy, json_array() };
    char why[512] = "";
    if (!name || !v.windows) {
        json_decref(v.windows);
        return pt_admin_fail(e, 500, "out_of_memory", "", "out of memory");
    }
    if (api->limits_path && pt_limits_store_read(api->limits_path, name, one_window, &v, why, sizeof why) != 0) {
        json_decref(v.windows);
        return pt_admin_fail(e, 503, "unavailable", "", "the quota and budget totals cannot be read: %s", why);
    }
    /* rates and concurrency are moving windows with no total to show */
    *out = json_pack("{s:s,s:o,s:b}", "policy", name, "windows", v.windows, "rates_counted", 0);
    return *out ? 0 : pt_admin_fail(e, 500, "out_of_memory", "", "out of memory");
}
