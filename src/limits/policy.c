/* policy.c: the `policies:` section as key tables (policy.h). */
#include "limits/policy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/check.h"
#include "config/schema.h"
#include "limits/tz.h"
#include "mask/mask_config.h"

#define MAX_POLICIES 10000u

static const char *const scope_keys[] = {
#define PT_POLICY_SCOPE_KEY(n, key) key,
    PT_POLICY_SCOPE_MAP(PT_POLICY_SCOPE_KEY)
#undef PT_POLICY_SCOPE_KEY
};
#define NSCOPES (sizeof scope_keys / sizeof *scope_keys)

const char *pt_policy_scope_key(pt_policy_scope s) { return (size_t)s < NSCOPES ? scope_keys[s] : ""; }

static const struct {
    const char *section, *key, *unit;
    bool month;
} windows[] = {
#define PT_POLICY_WINDOW_ROW(n, section, key, unit, month) { section, key, unit, month },
    PT_POLICY_WINDOW_MAP(PT_POLICY_WINDOW_ROW)
#undef PT_POLICY_WINDOW_ROW
};

const char *pt_policy_window_key(pt_policy_window w) { return windows[w].key; }
const char *pt_policy_window_section(pt_policy_window w) { return windows[w].section; }
const char *pt_policy_window_unit(pt_policy_window w) { return windows[w].unit; }
bool pt_policy_window_monthly(pt_policy_window w) { return windows[w].month; }

/* A mapping run's view: the table and the checker of references. */
typedef struct mapping {
    pt_policy_table *t;
    pt_policy_exists_fn exists;
} mapping;

/* ---- applies_to ---- */

typedef struct applies {
    char *v[NSCOPES];
} applies;

static const pt_cfg_field applies_fields[] = {
    CFG_STR("service", applies, v[PT_POLICY_SERVICE]),
    CFG_STR("route", applies, v[PT_POLICY_ROUTE]),
    CFG_STR("model", applies, v[PT_POLICY_MODEL]),
    CFG_STR("team", applies, v[PT_POLICY_TEAM]),
    CFG_STR("consumer", applies, v[PT_POLICY_CONSUMER]),
    CFG_STR("key", applies, v[PT_POLICY_KEY]),
    CFG_END,
};

static int applies_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (pt_cfg_is_null(v)) return 0; /* `applies_to: {}`: the whole gateway */
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping such as { consumer: NAME } (one of service, route, model, "
                                 "team, consumer, key), got %s", pt_cfg_kind_name(v));
    applies a = { 0 };
    int rc = pt_cfg_map_fields(c, v, applies_fields, &a, NULL);
    size_t n = 0;
    for (size_t s = 1; s < NSCOPES; s++)
        if (a.v[s]) {
            n++;
            p->scope = (pt_policy_scope)s;
        }
    if (rc == 0 && n > 1)
        rc = pt_cfg_fail(c, v, "name one of service, route, model, team, consumer or key, not %zu (use group_by "
                               "to count each consumer, team or key apart)", n);
    else if (rc == 0 && n == 1 && !a.v[p->scope][0])
        rc = pt_cfg_fail_key(c, scope_keys[p->scope], pt_cfg_map_get(v, scope_keys[p->scope]),
                             "expected a name, got an empty string");
    if (rc == 0 && n == 1) {
        p->match = a.v[p->scope];
        a.v[p->scope] = NULL;
    } else {
        p->scope = PT_POLICY_ALL;
    }
    for (size_t s = 0; s < NSCOPES; s++) free(a.v[s]);
    return rc;
}

static int group_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const names[] = { "consumer", "team", "key" };
    int i = 0;
    if (pt_cfg_choice(c, v, "group_by", names, 3, &i)) return -1;
    ((pt_policy *)obj)->group_by = (pt_policy_group)(PT_GROUP_CONSUMER + i);
    return 0;
}

/* ---- rate ---- */

#define MAX_REQUESTS 1000000000ull
#define MAX_PER_MS (30 * PT_CFG_DAY_MS)

static int fail_at(pt_cfg *c, const pt_cfg_node *n, const char *key, const char *msg, const char *arg);

/* rate.slack: a count of calls ("20") or a share of rate.requests ("2%", "0.5%"). */
static int slack_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    const char *s = v->kind == PT_CFG_SCALAR ? v->text : "";
    char *end = NULL;
    double d = *s && *s != '-' && *s != '+' ? strtod(s, &end) : -1;
    bool pct = end && end > s && strcmp(end, "%") == 0;
    bool count = end && end > s && !*end && d == floor(d);
    if (!(pct && d >= 0 && d <= 100) && !(count && d >= 0 && d <= (double)MAX_REQUESTS))
        return pt_cfg_fail(c, v, "expected a number of calls (20) or a share of requests (2%%), got '%s'", PT_CFG_SHOW(v));
    if (pct) p->slack_bp = (unsigned)lround(d * 100);
    else p->slack_n = (uint64_t)d;
    return 0;
}

static const pt_cfg_field rate_fields[] = {
    CFG_UINT("requests", pt_policy, requests, 1, MAX_REQUESTS),
    CFG_DUR("per", pt_policy, per_ms, 1000, MAX_PER_MS),
    CFG_UINT("burst", pt_policy, burst, 1, MAX_REQUESTS),
    CFG_FUNC("slack", slack_fn),
    CFG_END,
};

static int rate_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping such as { requests: 1000, per: 1m, burst: 50 }, got %s",
                           pt_cfg_kind_name(v));
    if (pt_cfg_map_fields(c, v, rate_fields, p, NULL)) return -1;
    if (!p->requests) return pt_cfg_fail(c, v, "missing required key 'requests'");
    if (!p->per_ms) return pt_cfg_fail(c, v, "missing required key 'per' (a duration of at least 1s: 1s, 1m, 1h)");
    if (!p->burst) p->burst = p->requests;
    p->slack = p->slack_bp ? (p->requests * p->slack_bp + 9999) / 10000 : p->slack_n;
    if (p->slack > p->burst)
        return fail_at(c, v, "slack", "slack cannot be more calls than the burst (%s)", p->burst == p->requests
                                                                                            ? "requests, by default"
                                                                                            : "rate.burst");
    p->has_rate = true;
    p->gcra = pt_gcra_make(p->requests, p->per_ms * 1000000ull, p->burst);
    return 0;
}

/* ---- tokens, quota, budget ---- */

#define MAX_TOKENS_PER_MINUTE 10000000000ull
#define MAX_QUOTA 1000000000000000ull
#define MAX_USD 1000000000.0

static const pt_cfg_field tokens_fields[] = {
    CFG_UINT("per_minute", pt_policy, tokens_per_minute, 1, MAX_TOKENS_PER_MINUTE),
    CFG_END,
};

static int tokens_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping such as { per_minute: 40000 } (input + output tokens), got %s",
                           pt_cfg_kind_name(v));
    if (pt_cfg_map_fields(c, v, tokens_fields, p, NULL)) return -1;
    if (!p->tokens_per_minute) return pt_cfg_fail(c, v, "missing required key 'per_minute' (tokens, at least 1)");
    p->tokens_gcra = pt_gcra_make(p->tokens_per_minute, 60ull * 1000000000ull, p->tokens_per_minute);
    return 0;
}

/* time_zone, in quota or budget: one zone per policy. */
static int zone_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    char *s = NULL, why[320];
    if (pt_cfg_str(c, v, &s)) return -1;
    if (p->time_zone && strcmp(p->time_zone, s) != 0) {
        pt_cfg_fail(c, v, "the policy's windows already use time zone '%s' (quota and budget share one)",
                    p->time_zone);
        free(s);
        return -1;
    }
    if (p->time_zone) {
        free(s);
        return 0;
    }
    if (!(p->tz = pt_tz_load(s, why, sizeof why))) {
        free(s);
        return pt_cfg_fail(c, v, "%s", why);
    }
    p->time_zone = s;
    return 0;
}

static const pt_cfg_field quota_fields[] = {
    CFG_UINT("requests_per_day", pt_policy, window[PT_WIN_REQ_DAY], 1, MAX_QUOTA),
    CFG_UINT("requests_per_month", pt_policy, window[PT_WIN_REQ_MONTH], 1, MAX_QUOTA),
    CFG_UINT("tokens_per_day", pt_policy, window[PT_WIN_TOK_DAY], 1, MAX_QUOTA),
    CFG_UINT("tokens_per_month", pt_policy, window[PT_WIN_TOK_MONTH], 1, MAX_QUOTA),
    CFG_FUNC("time_zone", zone_fn),
    CFG_END,
};

/* A number of US dollars, 0 < usd <= 1e9, kept in micro-dollars (at least 1). */
/* A plain decimal number in (lo, hi] (hi excluded unless hi_in): 1; 0 when it is not one;
 * -1 when it is not even a single value (the error is recorded). */
static int number_in(pt_cfg *c, const pt_cfg_node *v, double lo, double hi, bool hi_in, double *out)
{
    char *s = NULL, *end = NULL;
    if (pt_cfg_str(c, v, &s)) return -1;
    *out = strtod(s, &end);
    bool ok = end != s && *end == '\0' && *out > lo && (*out < hi || (hi_in && *out == hi));
    free(s);
    return ok;
}

static int usd_value(pt_cfg *c, const pt_cfg_node *v, uint64_t *out)
{
    double d;
    int rc = number_in(c, v, 0, MAX_USD, true, &d);
    if (rc < 0) return -1;
    if (rc == 0) return pt_cfg_fail(c, v, "expected an amount in US dollars above 0 (such as 100 or 0.01), got '%s'",
                                PT_CFG_SHOW(v));
    uint64_t micro = (uint64_t)llround(d * 1e6);
    *out = micro ? micro : 1;
    return 0;
}

static int usd_day_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return usd_value(c, v, &((pt_policy *)obj)->window[PT_WIN_USD_DAY]);
}

static int usd_month_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return usd_value(c, v, &((pt_policy *)obj)->window[PT_WIN_USD_MONTH]);
}

static int soft_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    double d;
    int rc = number_in(c, v, 0, 1, false, &d);
    if (rc < 0) return -1;
    if (rc == 0) return pt_cfg_fail(c, v, "expected a fraction of the budget between 0 and 1 (such as 0.8), got '%s'",
                                PT_CFG_SHOW(v));
    p->soft_permille = (unsigned)lround(d * 1000);
    if (!p->soft_permille) p->soft_permille = 1;
    return 0;
}

static int webhook_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    pt_cfg_url_parts u = { 0 };
    if (pt_cfg_str(c, v, &p->webhook)) return -1;
    int rc = pt_cfg_url(c, v, p->webhook, "webhook", true, &u);
    free(u.host);
    free(u.path);
    return rc;
}

static const pt_cfg_field budget_fields[] = {
    CFG_FUNC("usd_per_day", usd_day_fn),
    CFG_FUNC("usd_per_month", usd_month_fn),
    CFG_FUNC("soft_at", soft_fn),
    CFG_FUNC("webhook", webhook_fn),
    CFG_FUNC("time_zone", zone_fn),
    CFG_END,
};

/* quota: or budget: (which, its first and last windows): a mapping naming at least one. */
static int windows_fn(pt_cfg *c, const pt_cfg_node *v, pt_policy *p, const pt_cfg_field *f, int from, int to,
                      const char *example)
{
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping such as %s, got %s", example, pt_cfg_kind_name(v));
    if (pt_cfg_map_fields(c, v, f, p, NULL)) return -1;
    for (int w = from; w <= to; w++)
        if (p->window[w]) p->has_windows = true;
    for (int w = from; w <= to; w++)
        if (p->window[w]) return 0;
    return pt_cfg_fail(c, v, "give at least one of %s or %s", windows[from].key, windows[to].key);
}

static int quota_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    return windows_fn(c, v, obj, quota_fields, PT_WIN_REQ_DAY, PT_WIN_TOK_MONTH,
                      "{ requests_per_day: 50000, tokens_per_month: 5000000 }");
}

static int budget_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (windows_fn(c, v, p, budget_fields, PT_WIN_USD_DAY, PT_WIN_USD_MONTH, "{ usd_per_month: 100, soft_at: 0.8 }"))
        return -1;
    if (p->webhook && !p->soft_permille)
        return fail_at(c, v, "webhook", "a webhook is told when soft_at is reached: give soft_at too (%s)", "0.8");
    return 0;
}

static int store_error_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    static const char *const names[] = { "open", "closed" };
    int which = 0;
    if (pt_cfg_choice(c, v, "on_store_error", names, 2, &which)) return -1;
    ((pt_policy *)obj)->store_closed = which == 1;
    return 0;
}

/* ---- mcp: which MCP servers and tools ---- */

typedef struct pattern_list {
    char ***v;
    size_t *n;
} pattern_list;

static int patterns_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    pattern_list *l = obj;
    return PT_CFG_ALLOC(c, v, *l->v, *l->n, count);
}

/* "server" or "server/tool" ('*' matches any run); whether the server exists is the
 * gateway's to say, once `mcp:` is mapped. */
static int pattern_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    pattern_list *l = obj;
    char **out = &(*l->v)[i];
    if (pt_cfg_str(c, it, out)) return -1;
    const char *slash = strchr(*out, '/');
    if (slash == *out || !**out || (slash && (!slash[1] || strchr(slash + 1, '/'))))
        return pt_cfg_fail(c, it, "'%s' is not a server or server/tool pattern (e.g. files, files/read_*)",
                           PT_CFG_SHOW(it));
    return 0;
}

static const pt_cfg_list patterns_list = { "a list of server or server/tool patterns", 1000, NULL, patterns_begin,
                                           pattern_entry };

static int mcp_allow_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    p->mcp_allow_set = true;
    pattern_list l = { &p->mcp_allow, &p->nmcp_allow };
    return pt_cfg_map_list(c, v, &patterns_list, &l);
}

static int mcp_deny_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    pattern_list l = { &p->mcp_deny, &p->nmcp_deny };
    return pt_cfg_map_list(c, v, &patterns_list, &l);
}

static const pt_cfg_field mcp_fields[] = {
    CFG_FUNC("allow", mcp_allow_fn),
    CFG_FUNC("deny", mcp_deny_fn),
    CFG_END,
};

static int mcp_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (v->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, v, "expected a mapping with allow, deny or both, got %s", pt_cfg_kind_name(v));
    if (pt_cfg_map_fields(c, v, mcp_fields, p, NULL)) return -1;
    if (!p->mcp_allow_set && !p->nmcp_deny) return pt_cfg_fail(c, v, "give allow, deny or both");
    p->has_mcp = true;
    return 0;
}

/* ---- one policy ---- */

static int mask_fn(pt_cfg *c, const pt_cfg_node *v, void *obj) { return pt_mask_spec_map(c, v, &((pt_policy *)obj)->mask); }

static int name_fn(pt_cfg *c, const pt_cfg_node *v, void *obj)
{
    pt_policy *p = obj;
    if (pt_cfg_str(c, v, &p->name)) return -1;
    p->name_len = strlen(p->name);
    return pt_cfg_name(c, v, p->name);
}

static const pt_cfg_field policy_fields[] = {
    CFG_FUNC("name", name_fn),
    CFG_FUNC("applies_to", applies_fn),
    CFG_FUNC("group_by", group_fn),
    CFG_FUNC("rate", rate_fn),
    CFG_UINT("concurrency", pt_policy, concurrency, 1, 1000000),
    CFG_FUNC("tokens", tokens_fn),
    CFG_FUNC("quota", quota_fn),
    CFG_FUNC("budget", budget_fn),
    CFG_FUNC("on_store_error", store_error_fn),
    CFG_FUNC("mask", mask_fn),
    CFG_FUNC("mcp", mcp_fn),
    CFG_END,
};

static int fail_at(pt_cfg *c, const pt_cfg_node *n, const char *key, const char *msg, const char *arg)
{
    size_t mark = pt_cfg_push_key(c, key);
    const pt_cfg_node *at = pt_cfg_map_get(n, key);
    pt_cfg_fail(c, at ? at : n, msg, arg);
    pt_cfg_pop(c, mark);
    return -1;
}

static int check_refs(pt_cfg *c, const pt_cfg_node *n, const pt_policy *p, pt_policy_exists_fn exists)
{
    if ((p->scope != PT_POLICY_SERVICE && p->scope != PT_POLICY_ROUTE) || !exists || exists(c, p->scope, p->match))
        return 0;
    const pt_cfg_node *at = pt_cfg_map_get(n, "applies_to");
    size_t mark = pt_cfg_push_key(c, "applies_to");
    fail_at(c, at, scope_keys[p->scope],
            p->scope == PT_POLICY_SERVICE ? "no service named '%s' is configured" : "no route named '%s' is configured",
            p->match);
    pt_cfg_pop(c, mark);
    return -1;
}

int pt_policy_fields(pt_policy *p)
{
    char buf[160], head[320];
    if (p->has_rate) {
        snprintf(buf, sizeof buf, "\"%s\";q=%llu;w=%llu", p->name, (unsigned long long)p->requests,
                 (unsigned long long)((p->per_ms + 999) / 1000));
        if (!(p->field_rate = strdup(buf))) return -1;
        snprintf(head, sizeof head, "RateLimit-Policy: %s\r\nRateLimit: \"%s\";r=", buf, p->name);
        if (!(p->rate_head = strdup(head))) return -1;
        p->rate_head_len = strlen(head);
    }
    if (p->concurrency) {
        snprintf(buf, sizeof buf, "\"%s/concurrency\";q=%u;qu=\"concurrent-requests\"", p->name, p->concurrency);
        if (!(p->field_inflight = strdup(buf))) return -1;
    }
    if (p->tokens_per_minute) {
        snprintf(buf, sizeof buf, "\"%s/tokens\";q=%llu;w=60;qu=\"tokens\"", p->name,
                 (unsigned long long)p->tokens_per_minute);
        if (!(p->field_tokens = strdup(buf))) return -1;
    }
    return 0;
}

static int finish(pt_cfg *c, const pt_cfg_node *n, size_t idx, mapping *m)
{
    pt_policy *p = &m->t->v[idx];
    if (!p->name) return pt_cfg_fail(c, n, "missing required key 'name'");
    if (!p->has_rate && !p->concurrency && !p->tokens_per_minute && !p->has_windows &&
        !p->mask && !p->has_mcp)
        return pt_cfg_fail(c, n, "policy '%s' limits nothing: give rate, concurrency, tokens, quota or budget",
                           p->name);
    if (p->has_mcp && p->scope != PT_POLICY_CONSUMER && p->scope != PT_POLICY_TEAM)
        return fail_at(c, n, "mcp", "MCP access is a consumer's or a team's: apply the policy to one (%s)",
                       "applies_to: { consumer: NAME }");
    for (size_t j = 0; j < idx; j++)
        if (m->t->v[j].name && strcmp(m->t->v[j].name, p->name) == 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "duplicate policy name '%%s' (also policies[%zu])", j);
            return fail_at(c, n, "name", msg, p->name);
        }
    if (p->group_by == PT_GROUP_TEAM && (p->scope == PT_POLICY_CONSUMER || p->scope == PT_POLICY_KEY))
        return fail_at(c, n, "group_by",
                       "a consumer's or key's calls all belong to one team: group_by %s splits nothing",
                       "team");
    if (p->group_by == PT_GROUP_CONSUMER && p->scope == PT_POLICY_KEY)
        return fail_at(c, n, "group_by", "a key belongs to one consumer: group_by %s splits nothing", "consumer");
    if (p->scope == PT_POLICY_MODEL) m->t->has_model = true;
    if (p->mask) m->t->has_mask = true;
    if (pt_policy_fields(p) != 0) return pt_cfg_oom(c, n);
    return check_refs(c, n, p, m->exists);
}

static int policies_begin(pt_cfg *c, const pt_cfg_node *v, size_t count, void *obj)
{
    mapping *m = obj;
    return PT_CFG_ALLOC(c, v, m->t->v, m->t->n, count);
}

static int policy_entry(pt_cfg *c, const pt_cfg_node *it, size_t i, void *obj)
{
    mapping *m = obj;
    if (it->kind != PT_CFG_MAP)
        return pt_cfg_fail(c, it, "expected a mapping with name, applies_to and limits (rate, concurrency, "
                                  "tokens, quota, budget), got %s",
                           pt_cfg_kind_name(it));
    if (pt_cfg_map_fields(c, it, policy_fields, &m->t->v[i], NULL)) return -1;
    return finish(c, it, i, m);
}

static const pt_cfg_list policies_list = { "a list of policies", MAX_POLICIES, NULL, policies_begin, policy_entry };

/* Most specific scope first, file order within a scope (insertion sort: stable, and
 * tables are short). */
static void sort_by_scope(pt_policy_table *t)
{
    for (size_t i = 1; i < t->n; i++) {
        pt_policy x = t->v[i];
        size_t j = i;
        while (j > 0 && t->v[j - 1].scope < x.scope) {
            t->v[j] = t->v[j - 1];
            j--;
        }
        t->v[j] = x;
    }
}

pt_policy_table *pt_policies_map(pt_cfg *c, const pt_cfg_node *v, pt_policy_exists_fn exists, bool *failed)
{
    *failed = false;
    pt_policy_table *t = calloc(1, sizeof *t);
    if (!t) {
        *failed = true;
        pt_cfg_oom(c, v);
        return NULL;
    }
    mapping m = { t, exists };
    int rc = pt_cfg_map_list(c, v, &policies_list, &m);
    if (rc != 0 || t->n == 0) {
        *failed = rc != 0;
        pt_policies_free(t);
        return NULL;
    }
    sort_by_scope(t);
    return t;
}

void pt_policies_free(pt_policy_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].match);
        free(t->v[i].field_rate);
        free(t->v[i].field_inflight);
        free(t->v[i].field_tokens);
        free(t->v[i].rate_head);
        free(t->v[i].webhook);
        free(t->v[i].time_zone);
        pt_tz_free(t->v[i].tz);
        pt_mask_spec_free(t->v[i].mask);
        for (size_t j = 0; j < t->v[i].nmcp_allow; j++) free(t->v[i].mcp_allow[j]);
        for (size_t j = 0; j < t->v[i].nmcp_deny; j++) free(t->v[i].mcp_deny[j]);
        free(t->v[i].mcp_allow);
        free(t->v[i].mcp_deny);
    }
    free(t->v);
    free(t);
}
