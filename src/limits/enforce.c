/* enforce.c: one request against the policy table (enforce.h). */
#include "limits/enforce.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull

static const char *scope_value(pt_policy_scope sc, const pt_limit_subject *s)
{
    switch (sc) {
    case PT_POLICY_SERVICE: return s->service;
    case PT_POLICY_ROUTE: return s->route;
    case PT_POLICY_MODEL: return s->model;
    case PT_POLICY_TEAM: return s->team;
    case PT_POLICY_CONSUMER: return s->consumer;
    case PT_POLICY_KEY: return s->key_prefix;
    case PT_POLICY_ALL: break;
    }
    return NULL;
}

bool pt_limit_applies(const pt_policy *p, pt_limit_phase ph, const pt_limit_subject *s)
{
    if ((p->scope == PT_POLICY_MODEL) != (ph == PT_LIMIT_PHASE_MODEL)) return false;
    if (p->scope == PT_POLICY_ALL) return true;
    const char *v = scope_value(p->scope, s);
    return v && strcmp(v, p->match) == 0;
}

static const char *group_value(const pt_policy *p, const pt_limit_subject *s)
{
    const char *v = p->group_by == PT_GROUP_CONSUMER ? s->consumer
                    : p->group_by == PT_GROUP_TEAM   ? s->team
                    : p->group_by == PT_GROUP_KEY    ? s->key_prefix
                                                     : "";
    return v ? v : "";
}

/* "NAME\x1fGROUP": the subject's counter, which a reload keeping the name keeps. */
static void make_key(pt_limit_decision *d, const pt_limit_subject *s)
{
    int n = snprintf(d->key, sizeof d->key, "%s\x1f%s", d->policy->name, group_value(d->policy, s));
    d->keylen = n < 0 ? 0 : (size_t)n >= sizeof d->key ? (unsigned)sizeof d->key - 1 : (unsigned)n;
}

/* The requests in flight are counted under the subject's key, whatever the limit. */
static pt_slice inflight_key(const pt_limit_decision *d) { return (pt_slice){ d->key, d->keylen }; }

/* A window is counted under the subject's key and its emission interval, so a reload that
 * changes a rate starts its window afresh instead of reading the old one's TAT. */
static pt_slice rate_key(const pt_limit_decision *d, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%.*s\x1f%llx", (int)d->keylen, d->key,
                     (unsigned long long)d->policy->gcra.interval_ns);
    return (pt_slice){ buf, n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n };
}

/* Gives back everything taken for the request. */
static void undo(pt_limit_state *st)
{
    pt_counters *b = st->counters;
    for (size_t i = 0; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        char buf[sizeof d->key + 24];
        if (d->rate_taken) b->ops->rate_give_back(b, rate_key(d, buf, sizeof buf), &d->policy->gcra, d->now);
        d->rate_taken = false;
    }
    pt_limits_release(st);
}

/* One policy; false when it refuses. */
static bool decide(pt_limit_state *st, pt_limit_decision *d)
{
    pt_counters *b = st->counters;
    const pt_policy *p = d->policy;
    if (p->has_rate) {
        char buf[sizeof d->key + 24];
        if (b->ops->rate_take(b, rate_key(d, buf, sizeof buf), &p->gcra, d->now, &d->rate) != 0) {
            d->rate = (pt_gcra_result){ .allowed = true, .remaining = p->burst };
        } else if (!d->rate.allowed) {
            st->why = PT_LIMIT_WHY_RATE;
            return false;
        } else {
            d->rate_taken = true;
        }
    }
    if (p->concurrency) {
        if (b->ops->inflight_acquire(b, inflight_key(d), p->concurrency, &d->inflight, &d->held) != 0) return true;
        if (!d->held) {
            st->why = PT_LIMIT_WHY_CONCURRENCY;
            return false;
        }
    }
    return true;
}

int pt_limits_check(pt_limit_state *st, const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s,
                    uint64_t now)
{
    if (!t) return 1;
    for (size_t i = 0; i < t->n && st->n < st->cap; i++) {
        const pt_policy *p = &t->v[i];
        if (!pt_limit_applies(p, ph, s)) continue;
        pt_limit_decision *d = &st->d[st->n++];
        *d = (pt_limit_decision){ .policy = p, .now = now };
        make_key(d, s);
        if (!decide(st, d)) {
            undo(st);
            st->refused = d;
            return 0;
        }
    }
    return 1;
}

void pt_limits_release(pt_limit_state *st)
{
    pt_counters *b = st->counters;
    for (size_t i = 0; i < st->n; i++)
        if (st->d[i].held) {
            b->ops->inflight_release(b, st->d[i].held);
            st->d[i].held = NULL;
        }
}

static uint64_t ceil_s(uint64_t ns) { return (ns + NS_PER_S - 1) / NS_PER_S; }

uint64_t pt_limits_retry_after(const pt_limit_state *st)
{
    uint64_t s = st->refused && st->why == PT_LIMIT_WHY_RATE ? ceil_s(st->refused->rate.retry_ns) : 1;
    return s ? s : 1;
}

/* One list member of each field for decision d: `"NAME";q=..;w=..` and `"NAME";r=..;t=..`
 * for a rate, `"NAME/concurrency";q=..;qu="concurrent-requests"` and `...;r=..` for the
 * requests in flight. Refused: the refusing limit shows r=0 and t=Retry-After. */
static void member(pt_buf *pol, pt_buf *cur, const pt_limit_state *st, const pt_limit_decision *d)
{
    const pt_policy *p = d->policy;
    bool refused = st->refused == d;
    if (p->has_rate && (!refused || st->why == PT_LIMIT_WHY_RATE)) {
        uint64_t t = refused ? pt_limits_retry_after(st) : ceil_s(d->rate.reset_ns);
        pt_buf_printf(pol, "%s\"%s\";q=%llu;w=%llu", pol->len ? ", " : "", p->name, (unsigned long long)p->requests,
                      (unsigned long long)((p->per_ms + 999) / 1000));
        pt_buf_printf(cur, "%s\"%s\";r=%llu;t=%llu", cur->len ? ", " : "", p->name,
                      (unsigned long long)(refused ? 0 : d->rate.remaining), (unsigned long long)t);
    }
    if (p->concurrency && (!refused || st->why == PT_LIMIT_WHY_CONCURRENCY)) {
        unsigned left = refused || d->inflight >= p->concurrency ? 0 : p->concurrency - d->inflight;
        pt_buf_printf(pol, "%s\"%s/concurrency\";q=%u;qu=\"concurrent-requests\"", pol->len ? ", " : "", p->name,
                      p->concurrency);
        pt_buf_printf(cur, "%s\"%s/concurrency\";r=%u", cur->len ? ", " : "", p->name, left);
    }
}

int pt_limits_headers(const pt_limit_state *st, pt_buf *out)
{
    pt_buf pol = PT_BUF_INIT, cur = PT_BUF_INIT;
    if (st->refused) {
        member(&pol, &cur, st, st->refused);
    } else {
        for (size_t i = 0; i < st->n; i++) member(&pol, &cur, st, &st->d[i]);
    }
    int rc = 0;
    if (pol.len) {
        rc |= pt_buf_printf(out, "RateLimit-Policy: %.*s\r\nRateLimit: %.*s\r\n", (int)pol.len, pol.data,
                            (int)cur.len, cur.data);
    }
    if (st->refused) rc |= pt_buf_printf(out, "Retry-After: %llu\r\n", (unsigned long long)pt_limits_retry_after(st));
    pt_buf_release(&pol);
    pt_buf_release(&cur);
    return rc ? -1 : 0;
}

int pt_limits_message(const pt_limit_state *st, char *out, size_t cap)
{
    const pt_limit_decision *d = st->refused;
    if (!d) return snprintf(out, cap, "allowed");
    const pt_policy *p = d->policy;
    unsigned long long retry = (unsigned long long)pt_limits_retry_after(st);
    if (st->why == PT_LIMIT_WHY_CONCURRENCY)
        return snprintf(out, cap,
                        "policy '%s' allows %u requests in flight and %u are; retry when one ends (Retry-After: %llu s)",
                        p->name, p->concurrency, d->inflight, retry);
    return snprintf(out, cap, "policy '%s' allows %llu requests per %llu s; its window allows the next call in %llu s",
                    p->name, (unsigned long long)p->requests, (unsigned long long)((p->per_ms + 999) / 1000), retry);
}
