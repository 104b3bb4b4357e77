/* enforce.c: one request against the policy table (enforce.h). */
#include "limits/enforce.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "limits/tz.h"

#define NS_PER_S 1000000000ull

static const char *const why_names[] = {
    "",
#define PT_LIMIT_WHY_NAME(n, name) name,
    PT_LIMIT_WHY_MAP(PT_LIMIT_WHY_NAME)
#undef PT_LIMIT_WHY_NAME
};

const char *pt_limit_why_name(pt_limit_why w) { return w < PT_LIMIT_WHY_COUNT ? why_names[w] : ""; }

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
    const pt_policy *p = d->policy;
    const char *name = p->name, *group = group_value(p, s);
    size_t n = p->name_len ? p->name_len : strlen(name), g = strlen(group), room = sizeof d->key - 1 - sizeof(uint64_t);
    if (n > room - 1) n = room - 1;
    if (g > room - 1 - n) g = room - 1 - n;
    memcpy(d->key, name, n);
    d->key[n] = '\x1f';
    memcpy(d->key + n + 1, group, g);
    d->keylen = (unsigned)(n + 1 + g);
    /* room is left after the key for the rate key's suffix */
}

/* The request's next decision, for policy p: zeroed up to its key, which make_key writes
 * (a request's decisions are made per call; the key's 200 bytes are most of them). */
static pt_limit_decision *start_decision(pt_limit_state *st, const pt_policy *p, const pt_limit_subject *s,
                                         uint64_t now)
{
    pt_limit_decision *d = &st->d[st->n++];
    memset(d, 0, offsetof(pt_limit_decision, key));
    d->policy = p;
    d->now = now;
    make_key(d, s);
    return d;
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

/* A tokens window's key: the subject's key, a separator and its size (a changed size
 * starts afresh, as for rate_key). */
static pt_slice tokens_key(pt_limit_decision *d, char *buf)
{
    memcpy(buf, d->key, d->keylen);
    buf[d->keylen] = '\x1e';
    buf[d->keylen + 1] = 't';
    memcpy(buf + d->keylen + 2, &d->policy->tokens_per_minute, sizeof(uint64_t));
    return (pt_slice){ buf, d->keylen + 2 + sizeof(uint64_t) };
}

#define WKEY_MAX (sizeof((pt_limit_decision *)0)->key + 16)

/* A calendar window's key: the subject's key, a separator, the window's letter and the
 * day or month it counts ("...\x1eR20261203"). */
static pt_slice window_key(const pt_limit_decision *d, pt_policy_window w, char *buf)
{
    bool month = pt_policy_window_monthly(w);
    memcpy(buf, d->key, d->keylen);
    int n = snprintf(buf + d->keylen, 16, "\x1e%c%u", "rRtTuU"[w], (unsigned)d->window_id[month]);
    return (pt_slice){ buf, d->keylen + (size_t)n };
}

static int64_t window_end(const pt_limit_decision *d, pt_policy_window w)
{
    return d->window_end[pt_policy_window_monthly(w)];
}

static bool is_requests(pt_policy_window w) { return w == PT_WIN_REQ_DAY || w == PT_WIN_REQ_MONTH; }
static bool is_tokens(pt_policy_window w) { return w == PT_WIN_TOK_DAY || w == PT_WIN_TOK_MONTH; }

/* Gives back everything taken for the request. */
static void undo(pt_limit_state *st)
{
    pt_counters *b = st->counters;
    char buf[WKEY_MAX];
    for (size_t i = 0; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        if (d->rate_taken) b->ops->rate_give_back(b, rate_key(d), &d->policy->gcra, d->now);
        d->rate_taken = false;
        if (d->tokens_reserved)
            b->ops->rate_adjust(b, tokens_key(d, buf), &d->policy->tokens_gcra, -(int64_t)d->tokens_reserved, d->now);
        d->tokens_reserved = 0;
        for (int m = 0; m < 2; m++) {
            uint64_t total;
            pt_policy_window w = m ? PT_WIN_REQ_MONTH : PT_WIN_REQ_DAY;
            if (d->requests_taken[m]) b->ops->window_add(b, window_key(d, w, buf), -1, 0, window_end(d, w), d->now, &total);
            d->requests_taken[m] = false;
        }
    }
    pt_limits_release(st);
}

/* A total that could not be stored: the policy's on_store_error decides (logged at most
 * once a second per policy, so one policy's failures never hide another's). */
static bool store_error(pt_limit_state *st, pt_limit_decision *d, pt_policy_window w)
{
    int64_t now = pt_limits_wall();
    if (atomic_exchange(&((pt_policy *)d->policy)->store_logged_at, now) != now)
        pt_log_warn("policy '%s': its %s cannot be counted (the limit store fails); on_store_error: %s, so the call "
                    "is %s",
                    d->policy->name, w < PT_WIN_COUNT ? pt_policy_window_key(w) : "counters",
                    d->policy->store_closed ? "closed" : "open", d->policy->store_closed ? "refused" : "let through");
    d->store_failed = true;
    if (!d->policy->store_closed) return true;
    st->why = PT_LIMIT_WHY_STORE;
    st->window = w;
    return false;
}

/* The policy's calendar windows: a request taken from each requests quota, and token
 * quotas and budgets refused once their total has reached the limit. */
/* The day and month the call starts in, in the policy's time zone. */
static void window_ids(pt_limit_decision *d)
{
    int64_t wall = pt_limits_wall();
    d->window_id[0] = pt_tz_window(d->policy->tz, wall, PT_TZ_DAY, &d->window_end[0]);
    d->window_id[1] = pt_tz_window(d->policy->tz, wall, PT_TZ_MONTH, &d->window_end[1]);
    d->windows_checked = true;
}

static bool decide_windows(pt_limit_state *st, pt_limit_decision *d)
{
    pt_counters *b = st->counters;
    const pt_policy *p = d->policy;
    window_ids(d);
    char buf[WKEY_MAX];
    for (int i = 0; i < PT_WIN_COUNT; i++) {
        pt_policy_window w = (pt_policy_window)i;
        if (!p->window[w]) continue;
        if (st->store_failing && !store_error(st, d, w)) return false; /* open: counted in memory */
        int64_t delta = is_requests(w) ? 1 : 0;
        int rc = b->ops->window_add(b, window_key(d, w, buf), delta, p->window[w], window_end(d, w), d->now,
                                    &d->window_total[w]);
        if (rc < 0 && !store_error(st, d, w)) return false;
        if (rc == 1) {
            st->why = w >= PT_WIN_USD_DAY ? PT_LIMIT_WHY_BUDGET : PT_LIMIT_WHY_QUOTA;
            st->window = w;
            return false;
        }
        if (rc == 0 && delta) d->requests_taken[pt_policy_window_monthly(w)] = true;
    }
    return true;
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
        if (rc != 0) return p->has_windows ? decide_windows(st, d) : true;
        if (!d->held) {
            st->why = PT_LIMIT_WHY_CONCURRENCY;
            return false;
        }
    }
    if (p->has_windows) return decide_windows(st, d);
    return true;
}

/* ---- a shared backend: every policy's takes in one batch ---- */

/* What one op of a batch stands for: its decision and which of its limits. */
typedef struct op_role {
    pt_limit_decision *d;
    int what; /* a window (pt_policy_window), or ROLE_RATE, ROLE_SLOT */
} op_role;

#define ROLE_RATE (-1)
#define ROLE_SLOT (-2)
#define BATCH_MAX 64 /* ops in one check; a request rarely meets more than a few policies */

typedef struct batch {
    pt_counter_op op[BATCH_MAX];
    op_role role[BATCH_MAX];
    char wkey[BATCH_MAX][WKEY_MAX];
    size_t n;
} batch;

static void batch_add(batch *bt, pt_limit_decision *d, int what, pt_counter_op o)
{
    if (bt->n == BATCH_MAX) return;
    bt->role[bt->n] = (op_role){ d, what };
    bt->op[bt->n++] = o;
}

/* d's takes: a call from its rate, a slot, a request from each requests quota, and a look
 * at each other calendar window (refused once its total has reached the limit). */
static void batch_policy(batch *bt, pt_limit_decision *d)
{
    const pt_policy *p = d->policy;
    if (p->has_rate) batch_add(bt, d, ROLE_RATE, (pt_counter_op){ .kind = PT_COUNTER_TAKE, .key = rate_key(d), .g = &p->gcra, .n = 1, .lease = p->slack });
    if (p->concurrency)
        batch_add(bt, d, ROLE_SLOT, (pt_counter_op){ .kind = PT_COUNTER_ACQUIRE, .key = inflight_key(d), .n = p->concurrency });
    if (!p->has_windows) return;
    window_ids(d);
    for (int i = 0; i < PT_WIN_COUNT; i++) {
        pt_policy_window w = (pt_policy_window)i;
        if (!p->window[w] || bt->n == BATCH_MAX) continue;
        pt_slice k = window_key(d, w, bt->wkey[bt->n]);
        batch_add(bt, d, i, (pt_counter_op){ .kind = PT_COUNTER_ADD, .key = k, .n = is_requests(w) ? 1 : 0,
                                             .limit = p->window[w], .expires = window_end(d, w) });
    }
}

/* Records op i's outcome in its decision (taken, or the refusal's figures). */
static void batch_result(pt_limit_state *st, batch *bt, size_t i, bool taken)
{
    pt_counter_op *o = &bt->op[i];
    pt_limit_decision *d = bt->role[i].d;
    int what = bt->role[i].what;
    if (what == ROLE_RATE) {
        d->rate = o->rate;
        d->rate_taken = taken;
        if (!taken) st->why = PT_LIMIT_WHY_RATE;
    } else if (what == ROLE_SLOT) {
        d->inflight = o->inflight;
        d->held = taken ? o->held : NULL;
        if (!taken) st->why = PT_LIMIT_WHY_CONCURRENCY;
    } else {
        pt_policy_window w = (pt_policy_window)what;
        d->window_total[w] = o->total;
        if (taken && o->n) d->requests_taken[pt_policy_window_monthly(w)] = true;
        if (!taken) {
            st->why = w >= PT_WIN_USD_DAY ? PT_LIMIT_WHY_BUDGET : PT_LIMIT_WHY_QUOTA;
            st->window = w;
        }
    }
}

/* The backend could not be reached: nothing was taken, and each policy's on_store_error
 * decides (the first that is closed refuses the request). */
static int batch_failed(pt_limit_state *st, size_t from)
{
    for (size_t i = from; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        if (d->policy->has_rate) d->rate = (pt_gcra_result){ .allowed = true, .remaining = d->policy->burst };
        if (store_error(st, d, PT_WIN_COUNT)) continue;
        st->n = i + 1;
        undo(st);
        st->refused = d;
        return 0;
    }
    return 1;
}

static int check_batch(pt_limit_state *st, const pt_policy_table *t, size_t first, pt_limit_phase ph,
                       const pt_limit_subject *s, uint64_t now)
{
    batch *bt = malloc(sizeof *bt);
    size_t from = st->n;
    if (!bt) return 1; /* as a backend out of memory: the call passes */
    bt->n = 0;
    for (size_t i = first; i < t->n && st->n < st->cap; i++) {
        const pt_policy *p = &t->v[i];
        if (i > first && !pt_limit_applies(p, ph, s)) continue;
        pt_limit_decision *d = start_decision(st, p, s, now);
        batch_policy(bt, d);
    }
    int rc = bt->n ? st->counters->ops->batch(st->counters, bt->op, bt->n) : 0;
    int ok = 1;
    if (rc < 0) {
        ok = batch_failed(st, from);
    } else {
        size_t ran = (size_t)rc < bt->n ? (size_t)rc : bt->n;
        for (size_t i = 0; i < ran; i++) batch_result(st, bt, i, (size_t)rc == bt->n);
        if ((size_t)rc < bt->n) {
            batch_result(st, bt, (size_t)rc, false);
            pt_limit_decision *d = bt->role[rc].d;
            st->n = (size_t)(d - st->d) + 1;
            undo(st); /* the batch undid its own takes; this gives back an earlier phase's */
            st->refused = d;
            ok = 0;
        }
    }
    free(bt);
    return ok;
}

int pt_limits_check(pt_limit_state *st, const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s,
                    uint64_t now)
{
    return t ? pt_limits_check_from(st, t, pt_limits_first(t, ph, s), ph, s, now) : 1;
}

size_t pt_limits_first(const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s)
{
    size_t i = 0;
    while (i < t->n && !pt_limit_applies(&t->v[i], ph, s)) i++;
    return i;
}

int pt_limits_check_from(pt_limit_state *st, const pt_policy_table *t, size_t first, pt_limit_phase ph,
                         const pt_limit_subject *s, uint64_t now)
{
    if (!t) return 1;
    if (st->counters->ops->batch) return check_batch(st, t, first, ph, s, now);
    for (size_t i = first; i < t->n && st->n < st->cap; i++) {
        const pt_policy *p = &t->v[i];
        if (i > first && !pt_limit_applies(p, ph, s)) continue;
        pt_limit_decision *d = start_decision(st, p, s, now);
        if (!decide(st, d)) {
            undo(st);
            st->refused = d;
            return 0;
        }
    }
    return 1;
}

int pt_limits_reserve(pt_limit_state *st, uint64_t tokens, uint64_t now)
{
    pt_counters *b = st->counters;
    char buf[WKEY_MAX];
    st->estimate = tokens;
    for (size_t i = 0; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        const pt_policy *p = d->policy;
        if (!p->tokens_per_minute) continue;
        uint64_t n = tokens < p->tokens_per_minute ? tokens : p->tokens_per_minute;
        if (n == 0) n = 1;
        d->now = now;
        if (b->ops->rate_take_n(b, tokens_key(d, buf), &p->tokens_gcra, n, now, &d->tokens) != 0) {
            d->tokens = (pt_gcra_result){ .allowed = true, .remaining = p->tokens_per_minute };
            continue;
        }
        if (!d->tokens.allowed) {
            undo(st);
            st->refused = d;
            st->why = PT_LIMIT_WHY_TOKENS;
            return 0;
        }
        d->tokens_reserved = n;
    }
    return 1;
}

/* Adds v to window w of d (forced: the call is over), telling soft when a budget's
 * total crosses its soft threshold. */
static void settle_window(pt_limit_state *st, pt_limit_decision *d, pt_policy_window w, uint64_t v,
                          pt_limit_soft_fn soft, void *arg)
{
    pt_counters *b = st->counters;
    const pt_policy *p = d->policy;
    char buf[WKEY_MAX];
    uint64_t total;
    if (!v || b->ops->window_add(b, window_key(d, w, buf), (int64_t)v, 0, window_end(d, w), d->now, &total) != 0)
        return;
    d->window_total[w] = total;
    uint64_t mark = p->window[w] / 1000 * p->soft_permille + p->window[w] % 1000 * p->soft_permille / 1000;
    if (soft && p->soft_permille && w >= PT_WIN_USD_DAY && total >= mark && total - v < mark)
        soft(arg, d, w, total, p->window[w]);
}

void pt_limits_settle(pt_limit_state *st, bool known, uint64_t tokens, uint64_t cost_micro, uint64_t now,
                      pt_limit_soft_fn soft, void *arg)
{
    if (st->settled || st->refused) return;
    st->settled = true;
    pt_counters *b = st->counters;
    char buf[WKEY_MAX];
    for (size_t i = 0; i < st->n; i++) {
        pt_limit_decision *d = &st->d[i];
        const pt_policy *p = d->policy;
        uint64_t used = known ? tokens : st->estimate;
        if (d->tokens_reserved && used != d->tokens_reserved)
            b->ops->rate_adjust(b, tokens_key(d, buf), &p->tokens_gcra, (int64_t)used - (int64_t)d->tokens_reserved,
                                now);
        else if (!d->tokens_reserved && p->tokens_per_minute && used)
            b->ops->rate_adjust(b, tokens_key(d, buf), &p->tokens_gcra, (int64_t)used, now);
        d->tokens_reserved = 0;
        if (!d->windows_checked) continue;
        for (int w = 0; w < PT_WIN_COUNT; w++)
            if (p->window[w] && !is_requests((pt_policy_window)w))
                settle_window(st, d, (pt_policy_window)w, is_tokens((pt_policy_window)w) ? used : cost_micro, soft,
                              arg);
    }
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

/* Seconds until d's window w ends, at least 1. */
static uint64_t window_left(const pt_limit_decision *d, pt_policy_window w)
{
    int64_t left = window_end(d, w) - pt_limits_wall();
    return left > 0 ? (uint64_t)left : 1;
}

uint64_t pt_limits_retry_after(const pt_limit_state *st)
{
    const pt_limit_decision *d = st->refused;
    uint64_t s = !d                                ? 1
                 : st->why == PT_LIMIT_WHY_RATE    ? ceil_s(d->rate.retry_ns)
                 : st->why == PT_LIMIT_WHY_TOKENS  ? ceil_s(d->tokens.retry_ns)
                 : st->why == PT_LIMIT_WHY_QUOTA || st->why == PT_LIMIT_WHY_BUDGET ? window_left(d, st->window)
                                                   : 1;
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

/* key (a literal) then v in decimal, without a strlen or printf. */
#define put_u64(w, key, v) put_u64n((w), key, sizeof key - 1, (v))

static inline void put_u64n(writer *w, const char *key, size_t klen, unsigned long long v)
{
    put(w, key, klen);
    if (w->len + 20 <= w->cap) { /* room for any u64: its digits go straight to the output */
        w->len = (size_t)(pt_u64_to(w->p + w->len, v) - w->p);
        return;
    }
    char d[24];
    put(w, d, (size_t)(pt_u64_to(d, v) - d));
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

static bool shows_tokens(const pt_limit_state *st, const pt_limit_decision *d)
{
    return st->refused == d ? st->why == PT_LIMIT_WHY_TOKENS : d->tokens_reserved > 0;
}

/* Allowed: every calendar window counted (what was left when the call was checked);
 * refused: the refusing window. */
static bool shows_window(const pt_limit_state *st, const pt_limit_decision *d, pt_policy_window w)
{
    if (!d->policy->window[w] || !d->windows_checked) return false;
    if (st->refused == d) return (st->why == PT_LIMIT_WHY_QUOTA || st->why == PT_LIMIT_WHY_BUDGET) && st->window == w;
    return !st->store_failing || !d->policy->store_closed;
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
    if (shows_tokens(st, d)) {
        if (!*first) put(w, ", ", 2);
        put_str(w, p->field_tokens);
        *first = false;
    }
    for (int i = 0; p->has_windows && i < PT_WIN_COUNT; i++) {
        pt_policy_window k = (pt_policy_window)i;
        if (!shows_window(st, d, k)) continue;
        put_name(w, *first, p->name, "/");
        w->len--; /* the closing quote: the window's key goes inside */
        put_str(w, pt_policy_window_key(k));
        put(w, "\"", 1);
        put_u64(w, ";q=", p->window[k]);
        put_u64(w, ";w=", pt_policy_window_monthly(k) ? 31u * 86400 : 86400);
        if (k >= PT_WIN_USD_DAY) put_str(w, ";qu=\"micro-usd\"");
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
    if (shows_tokens(st, d)) {
        put_name(w, *first, p->name, "/tokens");
        put_u64(w, ";r=", refused ? 0 : d->tokens.remaining);
        put_u64(w, ";t=", refused ? pt_limits_retry_after(st) : ceil_s(d->tokens.reset_ns));
        *first = false;
    }
    for (int i = 0; p->has_windows && i < PT_WIN_COUNT; i++) {
        pt_policy_window k = (pt_policy_window)i;
        if (!shows_window(st, d, k)) continue;
        uint64_t total = d->window_total[k], limit = p->window[k];
        put_name(w, *first, p->name, "/");
        w->len--;
        put_str(w, pt_policy_window_key(k));
        put(w, "\"", 1);
        put_u64(w, ";r=", refused || total >= limit ? 0 : limit - total);
        put_u64(w, ";t=", window_left(d, k));
        *first = false;
    }
}

/* A member is at most a name (64), a suffix (20) and its parameters (70), in each field. */
size_t pt_limits_headers_max(const pt_limit_state *st)
{
    size_t n = 96;
    for (size_t i = 0; i < st->n; i++) {
        const pt_policy *p = st->d[i].policy;
        size_t members = (size_t)p->has_rate + (p->concurrency != 0) + (p->tokens_per_minute != 0);
        for (int w = 0; p->has_windows && w < PT_WIN_COUNT; w++) members += p->window[w] != 0;
        n += members * 2 * 160;
    }
    return n;
}

/* Whether the fields show one policy's rate and nothing else, for a call it allowed. */
static bool rate_alone(const pt_limit_state *st)
{
    if (st->n != 1 || st->refused) return false;
    const pt_limit_decision *d = &st->d[0];
    const pt_policy *p = d->policy;
    return p->rate_head && p->has_rate && !p->concurrency && !shows_tokens(st, d) && !p->has_windows;
}

size_t pt_limits_headers(const pt_limit_state *st, char *out, size_t cap)
{
    writer w = { out, 0, cap };
    if (rate_alone(st)) { /* the same bytes as below, from the head written at load */
        const pt_limit_decision *d = &st->d[0];
        put(&w, d->policy->rate_head, d->policy->rate_head_len);
        put_u64(&w, "", d->rate.remaining);
        put_u64(&w, ";t=", ceil_s(d->rate.reset_ns));
        put(&w, "\r\n", 2);
        return w.len <= cap ? w.len : 0;
    }
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

/* "$0.010000" from micro-dollars. */
static void usd(char *out, size_t cap, uint64_t micro)
{
    snprintf(out, cap, "$%llu.%06llu", (unsigned long long)(micro / 1000000), (unsigned long long)(micro % 1000000));
}

static int window_message(const pt_limit_state *st, char *out, size_t cap, unsigned long long retry)
{
    const pt_limit_decision *d = st->refused;
    const pt_policy *p = d->policy;
    pt_policy_window w = st->window;
    if (st->why == PT_LIMIT_WHY_STORE)
        return snprintf(out, cap, "policy '%s' cannot count its %s: the limit store cannot be written and the "
                                  "policy is set to on_store_error: closed",
                        p->name, w < PT_WIN_COUNT ? pt_policy_window_key(w) : "calls");
    const char *zone = p->time_zone ? p->time_zone : "UTC", *key = pt_policy_window_key(w);
    const char *period = pt_policy_window_monthly(w) ? "month" : "day";
    if (st->why == PT_LIMIT_WHY_BUDGET) {
        char limit[32], spent[32];
        usd(limit, sizeof limit, p->window[w]);
        usd(spent, sizeof spent, d->window_total[w]);
        return snprintf(out, cap, "budget %s of policy '%s' is spent: %s of %s this %s; it resets at the start of "
                                  "the next %s (%s), in %llu s",
                        key, p->name, spent, limit, period, period, zone, retry);
    }
    return snprintf(out, cap, "quota %s of policy '%s' is used up: %llu of %llu %s this %s; it resets at the "
                              "start of the next %s (%s), in %llu s",
                    key, p->name, (unsigned long long)d->window_total[w], (unsigned long long)p->window[w],
                    pt_policy_window_unit(w), period, period, zone, retry);
}

int pt_limits_message(const pt_limit_state *st, char *out, size_t cap)
{
    const pt_limit_decision *d = st->refused;
    if (!d) return snprintf(out, cap, "allowed");
    const pt_policy *p = d->policy;
    unsigned long long retry = (unsigned long long)pt_limits_retry_after(st);
    if (st->why == PT_LIMIT_WHY_TOKENS)
        return snprintf(out, cap,
                        "policy '%s' allows %llu tokens per minute; this call needs about %llu (its prompt and "
                        "max_tokens) and its window has room for them in %llu s",
                        p->name, (unsigned long long)p->tokens_per_minute, (unsigned long long)st->estimate, retry);
    if (st->why == PT_LIMIT_WHY_QUOTA || st->why == PT_LIMIT_WHY_BUDGET || st->why == PT_LIMIT_WHY_STORE)
        return window_message(st, out, cap, retry);
    if (st->why == PT_LIMIT_WHY_CONCURRENCY)
        return snprintf(out, cap,
                        "policy '%s' allows %u requests in flight and %u are; retry when one ends "
                        "(Retry-After: %llu s)",
                        p->name, p->concurrency, d->inflight, retry);
    return snprintf(out, cap, "policy '%s' allows %llu requests per %llu s; its window allows the next call in %llu s",
                    p->name, (unsigned long long)p->requests, (unsigned long long)((p->per_ms + 999) / 1000), retry);
}
