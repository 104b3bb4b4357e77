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

/* "NAME\x1fGROUP": the subject's counter, which a reload keeping the name keeps (names
 * are at most 64 bytes; a group value too long for the rest is cut). */
static void make_key(pt_limit_decision *d, const pt_limit_subject *s)
{
    const char *name = d->policy->name, *group = group_value(d->policy, s);
    size_t n = strlen(name), g = strlen(group), room = sizeof d->key - 1 - sizeof(uint64_t);
    if (n > room - 1) n = room - 1;
    if (g > room - 1 - n) g = room - 1 - n;
    memcpy(d->key, name, n);
    d->key[n] = '\x1f';
    memcpy(d->key + n + 1, group, g);
    d->keylen = (unsigned)(n + 1 + g);
    /* room is left after the key for the rate key's suffix */
}

/* The requests in flight are counted under the subject's key, whatever the limit. */
static pt_slice inflight_key(const pt_limit_decision *d) { return (pt_slice){ d->key, d->keylen }; }

/* A window is counted under the subject's key followed by its emission interval's bytes,
 * so a reload that changes a rate starts its window afresh instead of reading the old
 * one's TAT. Written after the subject's key in d->key, which make_key leaves room for. */
static pt_slice rate_key(pt_limit_decision *d)
{
    uint64_t t = d->policy->gcra.interval_ns;
    memcpy(d->key + d->keylen, &t, sizeof t);
    return (pt_slice){ d->key, d->keylen + sizeof t };
}

/* Gives back everything taken for the request. */
static void undo(pt_limit_state *st)
{
    pt_counters *b = st->counters;
    for (size_t i = 0; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        if (d->rate_taken) b->ops->rate_give_back(b, rate_key(d), &d->policy->gcra, d->now);
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
        if (b->ops->rate_take(b, rate_key(d), &p->gcra, d->now, &d->rate) != 0) {
            d->rate = (pt_gcra_result){ .allowed = true, .remaining = p->burst };
        } else if (!d->rate.allowed) {
            st->why = PT_LIMIT_WHY_RATE;
            return false;
        } else {
            d->rate_taken = true;
        }
    }
    if (p->concurrency) {
        int rc = b->ops->inflight_acquire(b, inflight_key(d), p->concurrency, d->now, &d->inflight, &d->held);
        if (rc != 0) return true;
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

/* A writer over fixed memory: len counts every byte asked for, so len > cap says it did
 * not fit. */
typedef struct writer {
    char *p;
    size_t len, cap;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->len + n <= w->cap) memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void put_str(writer *w, const char *s) { put(w, s, strlen(s)); }

static void put_u64(writer *w, const char *key, unsigned long long v)
{
    char d[20];
    size_t i = sizeof d;
    do d[--i] = (char)('0' + v % 10); while ((v /= 10) != 0);
    put_str(w, key);
    put(w, d + i, sizeof d - i);
}

static void put_name(writer *w, bool first, const char *name, const char *suffix)
{
    if (!first) put(w, ", ", 2);
    put(w, "\"", 1);
    put_str(w, name);
    put_str(w, suffix);
    put(w, "\"", 1);
}

/* Which of d's limits the fields show: all of them, or for the refusal only the one that
 * refused (its r=0 and t=Retry-After). */
static bool shows_rate(const pt_limit_state *st, const pt_limit_decision *d)
{
    return d->policy->has_rate && (st->refused != d || st->why == PT_LIMIT_WHY_RATE);
}

static bool shows_inflight(const pt_limit_state *st, const pt_limit_decision *d)
{
    return d->policy->concurrency && (st->refused != d || st->why == PT_LIMIT_WHY_CONCURRENCY);
}

/* RateLimit-Policy's members, written when the policy was loaded. */
static void policy_members(writer *w, const pt_limit_state *st, const pt_limit_decision *d, bool *first)
{
    const pt_policy *p = d->policy;
    if (shows_rate(st, d)) {
        if (!*first) put(w, ", ", 2);
        put_str(w, p->field_rate);
        *first = false;
    }
    if (shows_inflight(st, d)) {
        if (!*first) put(w, ", ", 2);
        put_str(w, p->field_inflight);
        *first = false;
    }
}

/* RateLimit's members: `"NAME";r=..;t=..` and `"NAME/concurrency";r=..`. */
static void current_members(writer *w, const pt_limit_state *st, const pt_limit_decision *d, bool *first)
{
    const pt_policy *p = d->policy;
    bool refused = st->refused == d;
    if (shows_rate(st, d)) {
        put_name(w, *first, p->name, "");
        put_u64(w, ";r=", refused ? 0 : d->rate.remaining);
        put_u64(w, ";t=", refused ? pt_limits_retry_after(st) : ceil_s(d->rate.reset_ns));
        *first = false;
    }
    if (shows_inflight(st, d)) {
        put_name(w, *first, p->name, "/concurrency");
        put_u64(w, ";r=", refused || d->inflight >= p->concurrency ? 0 : p->concurrency - d->inflight);
        *first = false;
    }
}

size_t pt_limits_headers_max(const pt_limit_state *st) { return 64 + st->n * 512; }

size_t pt_limits_headers(const pt_limit_state *st, char *out, size_t cap)
{
    writer w = { out, 0, cap };
    size_t from = st->refused ? (size_t)(st->refused - st->d) : 0, to = st->refused ? from + 1 : st->n;
    bool first = true;
    put_str(&w, "RateLimit-Policy: ");
    for (size_t i = from; i < to; i++) policy_members(&w, st, &st->d[i], &first);
    if (first) {
        w.len = 0; /* no member: no fields */
    } else {
        first = true;
        put_str(&w, "\r\nRateLimit: ");
        for (size_t i = from; i < to; i++) current_members(&w, st, &st->d[i], &first);
        put(&w, "\r\n", 2);
    }
    if (st->refused) {
        put_u64(&w, "Retry-After: ", pt_limits_retry_after(st));
        put(&w, "\r\n", 2);
    }
    return w.len <= cap ? w.len : 0;
}

int pt_limits_message(const pt_limit_state *st, char *out, size_t cap)
{
    const pt_limit_decision *d = st->refused;
    if (!d) return snprintf(out, cap, "allowed");
    const pt_policy *p = d->policy;
    unsigned long long retry = (unsigned long long)pt_limits_retry_after(st);
    if (st->why == PT_LIMIT_WHY_CONCURRENCY)
        return snprintf(out, cap,
                        "policy '%s' allows %u requests in flight and %u are; retry when one ends "
                        "(Retry-After: %llu s)",
                        p->name, p->concurrency, d->inflight, retry);
    return snprintf(out, cap, "policy '%s' allows %llu requests per %llu s; its window allows the next call in %llu s",
                    p->name, (unsigned long long)p->requests, (unsigned long long)((p->per_ms + 999) / 1000), retry);
}
