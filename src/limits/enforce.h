/* enforce.h: deciding one request against the policy table.
 *
 * Every policy that applies to the request is checked, most specific first; a refusal by
 * any refuses the request, and then everything the request took from the other policies
 * (in this phase and in earlier ones) is given back, so a refused call consumes nothing.
 * Checks run in two phases: the request's (gateway, service, route, team, consumer, key:
 * known once the route and the key are), and the model's (known once an AI body is read).
 * Concurrency slots are held until pt_limits_release, which the caller runs when the
 * request ends however it ends.
 *
 * A subject's counters are keyed by the policy's name and, with group_by, the consumer,
 * team or key prefix the call belongs to; calls without that identity share one window.
 * A reload that keeps a policy's name keeps its requests in flight, and its window unless
 * the rate changed (a changed rate starts a fresh window).
 *
 * AI calls add two steps. When the call starts, pt_limits_reserve takes an estimate of
 * its tokens (prompt + max_tokens) from every tokens-per-minute window that applies;
 * when it ends, pt_limits_settle replaces the estimate by the real usage and adds the
 * tokens and the cost to the quota and budget windows. Quotas of requests are taken when
 * the request is checked; token quotas and budgets refuse a call once their total has
 * reached the limit (the call that crosses a budget is served; the next one is refused),
 * since a call's cost is known only at its end. Calendar windows are the day and month
 * of the injectable wall clock (pt_limits_wall) in the policy's time zone; the call is
 * counted in the windows it started in. */
#ifndef PT_LIMITS_ENFORCE_H
#define PT_LIMITS_ENFORCE_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>
#include "limits/counter.h"
#include "limits/policy.h"

typedef enum pt_limit_phase {
    PT_LIMIT_PHASE_REQUEST, /* every scope but model */
    PT_LIMIT_PHASE_MODEL,   /* model-scoped policies only */
} pt_limit_phase;

/* What the request is; NULL members are unknown (an unkeyed route has no consumer). */
typedef struct pt_limit_subject {
    const char *service, *route, *model, *team, *consumer, *key_prefix;
} pt_limit_subject;

/* One policy's decision for the request. */
typedef struct pt_limit_decision {
    const pt_policy *policy;
    bool rate_taken;            /* a call was taken from its window (given back on refusal) */
    pt_gcra_result rate;        /* when the policy has a rate */
    void *held;                 /* a concurrency slot held, or NULL */
    unsigned inflight;          /* after the decision */
    uint64_t now;
    unsigned keylen;
    uint64_t tokens_reserved;   /* taken from the tokens window, until settled */
    pt_gcra_result tokens;      /* the tokens window's decision, when reserved or refused */
    bool requests_taken[2];     /* requests_per_day / _per_month counted (given back on refusal) */
    bool windows_checked;
    uint32_t window_id[2];      /* the day (YYYYMMDD) and month (YYYYMM) the call started in */
    int64_t window_end[2];      /* ...and when they end (wall clock) */
    uint64_t window_total[PT_WIN_COUNT]; /* each window's total after the decision */
    bool store_failed;          /* the counters could not be reached: on_store_error decided */
    /* Last: a decision is started by zeroing everything before it (half the struct), the
     * key being written by whoever starts it. */
    char key[200];              /* the subject's key: "NAME\x1fGROUP", keylen bytes */
} pt_limit_decision;

#define PT_LIMIT_WHY_MAP(X)            \
    X(RATE, "rate")                    \
    X(CONCURRENCY, "concurrency")      \
    X(TOKENS, "tokens")                \
    X(QUOTA, "quota")                  \
    X(BUDGET, "budget")                \
    X(STORE, "store_error")

typedef enum pt_limit_why {
    PT_LIMIT_WHY_NONE = 0,
#define PT_LIMIT_WHY_ENUM(n, name) PT_LIMIT_WHY_##n,
    PT_LIMIT_WHY_MAP(PT_LIMIT_WHY_ENUM)
#undef PT_LIMIT_WHY_ENUM
    PT_LIMIT_WHY_COUNT
} pt_limit_why;

/* "rate", "quota"...: the reason label of a refusal. */
const char *pt_limit_why_name(pt_limit_why w);

/* One request's decisions. d has room for cap decisions (a table's n suffices). */
typedef struct pt_limit_state {
    pt_counters *counters;
    pt_limit_decision *d;
    size_t n, cap;
    const pt_limit_decision *refused; /* the refusing decision, or NULL */
    pt_limit_why why;
    pt_policy_window window;    /* the refusing window (why QUOTA, BUDGET or STORE; PT_WIN_COUNT
                                 * when STORE refused for the policy's counters as a whole) */
    bool store_failing;         /* the totals cannot be persisted now (set by the caller): policies
                                 * with on_store_error: closed refuse, the others count in memory */
    bool settled;
    uint64_t estimate;          /* the tokens reserved for an AI call (pt_limits_reserve) */
} pt_limit_state;

/* Whether policy p applies to subject s in phase ph. */
bool pt_limit_applies(const pt_policy *p, pt_limit_phase ph, const pt_limit_subject *s);

/* Checks the table's policies of phase ph at now. Returns 1 when the request may go on,
 * 0 when refused (st->refused, st->why say by what; every slot and call taken for this
 * request has been given back). A backend out of memory lets the call pass rather than
 * refuse it. */
int pt_limits_check(pt_limit_state *st, const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s,
                    uint64_t now);
/* The index of the first of t's policies that applies to s in phase ph; t->n when none. */
size_t pt_limits_first(const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s);
/* pt_limits_check for a caller that has found the first policy that applies with
 * pt_limits_first: it and those before it are not tested again. */
int pt_limits_check_from(pt_limit_state *st, const pt_policy_table *t, size_t first, pt_limit_phase ph,
                         const pt_limit_subject *s, uint64_t now);

/* Reserves tokens (a call's estimate: prompt + max_tokens, capped at each window's whole
 * size) from every tokens-per-minute window decided so far. 1: go on; 0: refused (why
 * TOKENS; everything taken for the request has been given back). */
int pt_limits_reserve(pt_limit_state *st, uint64_t tokens, uint64_t now);

/* A budget window's total reached its soft threshold (once per window: the call whose
 * cost crossed it). */
typedef void (*pt_limit_soft_fn)(void *arg, const pt_limit_decision *d, pt_policy_window w, uint64_t total,
                                 uint64_t limit);

/* Settles a call once it is over (later calls do nothing): known says whether its usage
 * is known (a call cut short before the provider reported any keeps its reservation and
 * counts it); tokens are input + output, cost in micro-dollars. */
void pt_limits_settle(pt_limit_state *st, bool known, uint64_t tokens, uint64_t cost_micro, uint64_t now,
                      pt_limit_soft_fn soft, void *arg);

/* Releases the concurrency slots held; safe to call more than once. */
void pt_limits_release(pt_limit_state *st);

/* Writes the IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-
 * headers) for the decisions made, each line ending in CRLF, and, when refused,
 * Retry-After, into out; returns the length, 0 when there is nothing to write or it does
 * not fit in cap (pt_limits_headers_max always fits). */
size_t pt_limits_headers(const pt_limit_state *st, char *out, size_t cap);
size_t pt_limits_headers_max(const pt_limit_state *st);

/* Seconds a refused client should wait (Retry-After), at least 1. */
uint64_t pt_limits_retry_after(const pt_limit_state *st);

/* The refusal's message: the policy, its limit and when to retry. */
int pt_limits_message(const pt_limit_state *st, char *out, size_t cap);

#endif
