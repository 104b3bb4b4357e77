/* policy.h: the policy table: which calls a policy counts and what it allows, mapped from
 * the top-level `policies:` list.
 *
 *   policies:
 *     - name: free-tier
 *       applies_to: { consumer: acme-app }   # or team, service, route, key, model; none: every call
 *       group_by: consumer                   # optional: consumer, team or key; one window each
 *       rate: { requests: 1000, per: 1m, burst: 50 }
 *       concurrency: 20
 *
 * The table is immutable once loaded and travels in the configuration snapshot; the
 * counters it names live in a backend (counter.h) keyed by the policy's name, so a reload
 * that keeps a name keeps its window and its requests in flight. Whether a service or
 * route named in applies_to exists is the caller's to say (the `exists` function given to
 * pt_policies_map), so this layer needs nothing above config/. Later kinds (tokens,
 * quotas, budgets) are new members here and new counter operations, not a new table. */
#ifndef PT_LIMITS_POLICY_H
#define PT_LIMITS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/value.h"
#include "limits/gcra.h"

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

typedef struct pt_policy {
    char *name;               /* 1..64 of [A-Za-z0-9._-], unique */
    pt_policy_scope scope;
    char *match;              /* the applies_to value; NULL for PT_POLICY_ALL */
    pt_policy_group group_by;
    bool has_rate;
    uint64_t requests;        /* rate.requests, >= 1 */
    uint64_t per_ms;          /* rate.per */
    uint64_t burst;           /* rate.burst, default requests */
    pt_gcra gcra;
    unsigned concurrency;     /* requests in flight; 0 = no concurrency limit */
    /* RateLimit-Policy members, written once at load: `"NAME";q=..;w=..` (NULL without a
     * rate) and `"NAME/concurrency";q=..;qu="concurrent-requests"` (NULL without a cap) */
    char *field_rate, *field_inflight;
    void *series;             /* runtime: the decision counters, bound by the gateway */
} pt_policy;

/* Sorted most specific first (KEY ... ALL), in file order within a scope. */
typedef struct pt_policy_table {
    pt_policy *v;
    size_t n;
    bool has_model;           /* some policy applies to a model (checked once the model is known) */
} pt_policy_table;

/* Whether the configuration being mapped (c->root) has a service / route of that name. */
typedef bool (*pt_policy_exists_fn)(pt_cfg *c, pt_policy_scope s, const char *name);

/* Maps the `policies:` value (c's key path already names it). NULL with the errors
 * recorded, or for an empty list (*failed tells them apart). */
pt_policy_table *pt_policies_map(pt_cfg *c, const pt_cfg_node *v, pt_policy_exists_fn exists, bool *failed);
void pt_policies_free(pt_policy_table *t);

/* The key under which applies_to names a scope ("service", ...); "" for ALL. */
const char *pt_policy_scope_key(pt_policy_scope s);

#endif
