/* policy.h: the policy table: which calls a policy counts and what it allows, mapped from
 * the top-level `policies:` list.
 *
 *   policies:
 *     - name: free-tier
 *       applies_to: { consumer: acme-app }   # or team, service, route, key, model; none: every call
 *       group_by: consumer                   # optional: consumer, team or key; one window each
 *       rate: { requests: 1000, per: 1m, burst: 50, slack: 2% }   # slack: Redis counters only
 *       concurrency: 20
 *       tokens: { per_minute: 40000 }        # AI input + output tokens, reserved then settled
 *       quota: { requests_per_day: 50000, tokens_per_month: 5000000, time_zone: Europe/Paris }
 *       budget: { usd_per_month: 100, soft_at: 0.8, webhook: "http://hooks.internal/budget" }
 *       on_store_error: open                 # or closed: when a total cannot be stored
 *       mask: { request: [...], response: [...] }   # data masking (mask/mask_config.h)
 *
 * The table is immutable once loaded and travels in the configuration snapshot; the
 * counters it names live in a backend (counter.h) keyed by the policy's name, so a reload
 * that keeps a name keeps its window and its requests in flight. Whether a service or
 * route named in applies_to exists is the caller's to say (the `exists` function given to
 * pt_policies_map), so this layer needs nothing above config/. Tokens per minute are a
 * GCRA window counted in tokens; quotas and budgets are calendar windows (a day or a
 * month on the wall clock, in UTC or the policy's time zone) whose totals the counter
 * backend keeps under keys of their own (counter.h). */
#ifndef PT_LIMITS_POLICY_H
#define PT_LIMITS_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/value.h"
#include "limits/gcra.h"

struct pt_mask_spec;

/* What a policy applies to, least specific first: checks run from the last to the first. */
#define PT_POLICY_SCOPE_MAP(X) \
    X(ALL, "")                 \
    X(SERVICE, "service")      \
    X(ROUTE, "route")          \
    X(MODEL, "model")          \
    X(TEAM, "team")            \
    X(CONSUMER, "consumer")    \
    X(KEY, "key")

typedef enum pt_policy_scope {
#define PT_POLICY_SCOPE_ENUM(n, key) PT_POLICY_##n,
    PT_POLICY_SCOPE_MAP(PT_POLICY_SCOPE_ENUM)
#undef PT_POLICY_SCOPE_ENUM
} pt_policy_scope;

typedef enum pt_policy_group {
    PT_GROUP_NONE = 0,  /* one window for every call the policy applies to */
    PT_GROUP_CONSUMER,  /* one window per consumer (calls without a key share one) */
    PT_GROUP_TEAM,
    PT_GROUP_KEY,       /* per key prefix */
} pt_policy_group;

/* The calendar windows a policy may count: requests, tokens and cost, per day and month. */
#define PT_POLICY_WINDOW_MAP(X)                                   \
    X(REQ_DAY, "quota", "requests_per_day", "requests", 0)        \
    X(REQ_MONTH, "quota", "requests_per_month", "requests", 1)    \
    X(TOK_DAY, "quota", "tokens_per_day", "tokens", 0)            \
    X(TOK_MONTH, "quota", "tokens_per_month", "tokens", 1)        \
    X(USD_DAY, "budget", "usd_per_day", "USD", 0)                 \
    X(USD_MONTH, "budget", "usd_per_month", "USD", 1)

typedef enum pt_policy_window {
#define PT_POLICY_WINDOW_ENUM(n, section, key, unit, month) PT_WIN_##n,
    PT_POLICY_WINDOW_MAP(PT_POLICY_WINDOW_ENUM)
#undef PT_POLICY_WINDOW_ENUM
    PT_WIN_COUNT
} pt_policy_window;

struct pt_tz;

typedef struct pt_policy {
    char *name;               /* 1..64 of [A-Za-z0-9._-], unique */
    size_t name_len;          /* strlen(name), set with it by mapping (0 in a policy built
                               * otherwise: measured where it is used) */
    pt_policy_scope scope;
    char *match;              /* the applies_to value; NULL for PT_POLICY_ALL */
    pt_policy_group group_by;
    bool has_rate;
    uint64_t requests;        /* rate.requests, >= 1 */
    uint64_t per_ms;          /* rate.per */
    uint64_t burst;           /* rate.burst, default requests */
    uint64_t slack;           /* rate.slack in calls: how many a worker may take from a shared
                               * backend ahead of need and decide alone (0 or 1: every call asks) */
    uint64_t slack_n;         /* rate.slack as written: a count, or */
    unsigned slack_bp;        /* ...a percentage of requests, in hundredths of a percent */
    pt_gcra gcra;
    unsigned concurrency;     /* requests in flight; 0 = no concurrency limit */
    /* RateLimit-Policy members, written once at load: `"NAME";q=..;w=..` (NULL without a
     * rate) and `"NAME/concurrency";q=..;qu="concurrent-requests"` (NULL without a cap) */
    char *field_rate, *field_inflight, *field_tokens;
    /* Both fields up to the first number, for a response whose fields show this policy's
     * rate alone (the common case, written without assembling the members):
     * `RateLimit-Policy: <field_rate>\r\nRateLimit: "NAME";r=` (NULL without a rate) */
    char *rate_head;
    size_t rate_head_len;
    uint64_t tokens_per_minute; /* tokens.per_minute; 0 = no token limit */
    pt_gcra tokens_gcra;      /* tokens_per_minute per 60 s, burst the same */
    uint64_t window[PT_WIN_COUNT]; /* each window's limit (USD in micro-dollars); 0 = none */
    bool has_windows;
    unsigned soft_permille;   /* budget.soft_at x 1000; 0 = no soft threshold */
    char *webhook;            /* budget.webhook: an http:// URL told of a soft threshold */
    char *time_zone;          /* the calendar windows' zone name; NULL = UTC */
    struct pt_tz *tz;
    bool store_closed;        /* on_store_error: closed */
    _Atomic int64_t store_logged_at; /* runtime: the wall second its store failure was last logged */
    void *series;             /* runtime: the decision counters, bound by the gateway */
    struct pt_mask_spec *mask; /* the `mask:` member (mask/mask_config.h), NULL when none */
    /* the `mcp:` member: the MCP servers and tools its consumer or team may use, as
     * `mcp.access` patterns (checked against the servers by the gateway) */
    bool has_mcp, mcp_allow_set;
    char **mcp_allow, **mcp_deny;
    size_t nmcp_allow, nmcp_deny;
} pt_policy;

/* Sorted most specific first (KEY ... ALL), in file order within a scope. */
typedef struct pt_policy_table {
    pt_policy *v;
    size_t n;
    bool has_model;           /* some policy applies to a model (checked once the model is known) */
    bool has_mask;            /* some policy masks (the request path skips masking otherwise) */
} pt_policy_table;

/* Whether the configuration being mapped (c->root) has a service / route of that name. */
typedef bool (*pt_policy_exists_fn)(pt_cfg *c, pt_policy_scope s, const char *name);

/* Maps the `policies:` value (c's key path already names it). NULL with the errors
 * recorded, or for an empty list (*failed tells them apart). */
pt_policy_table *pt_policies_map(pt_cfg *c, const pt_cfg_node *v, pt_policy_exists_fn exists, bool *failed);
void pt_policies_free(pt_policy_table *t);

/* Writes p's RateLimit-Policy members and rate_head from its limits (done by mapping; the
 * strings are freed with the table). 0, or -1 out of memory. */
int pt_policy_fields(pt_policy *p);

/* The key under which applies_to names a scope ("service", ...); "" for ALL. */
const char *pt_policy_scope_key(pt_policy_scope s);

/* A window's configuration key ("requests_per_day"), section ("quota") and unit. */
const char *pt_policy_window_key(pt_policy_window w);
const char *pt_policy_window_section(pt_policy_window w);
const char *pt_policy_window_unit(pt_policy_window w);
bool pt_policy_window_monthly(pt_policy_window w);

#endif
