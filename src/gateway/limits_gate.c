/* limits_gate.c: the policies on the request path (limits_gate.h): the subject of a call
 * from its route and caller, the per-request decision state in the request pool, the
 * RateLimit fields, the 429 answer, and the decision counters. */
#include "gateway/limits_gate.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/named.h"
#include "core/prom.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "limits/counter_redis.h"
#include "limits/enforce.h"
#include "limits/persist.h"
#include "limits/tz.h"
#include "limits/webhook.h"

#define WEBHOOK_TIMEOUT_MS 5000

/* ---- the counters every worker shares ---- */

static pt_counters *counters;
static pthread_once_t counters_once = PTHREAD_ONCE_INIT;
static pt_counters *_Atomic redis_counters; /* counters.redis, opened at start */

static void counters_init(void) { counters = pt_counters_local_new(); }

static pt_counters *shared_counters(void)
{
    pt_counters *r = atomic_load_explicit(&redis_counters, memory_order_acquire);
    if (r) return r;
    pthread_once(&counters_once, counters_init);
    return counters;
}

int pt_limits_gate_start(const pt_config *cfg, pt_buf *err)
{
    if (!cfg->counters_redis || atomic_load(&redis_counters)) return 0;
    pt_counters_redis_cfg rc = { .url = cfg->counters_redis, .timeout_ms = cfg->counters_timeout_ms,
                                 .prefix = cfg->counters_prefix, .slot_ttl_ms = cfg->counters_slot_ttl_ms };
    pt_counters *b;
    char msg[512];
    int rc_open = pt_counters_redis_open(&rc, &b, msg, sizeof msg);
    if (rc_open < 0) {
        pt_buf_printf(err, "counters: %s", msg);
        return -1;
    }
    if (rc_open == 1) pt_log_warn("counters: %s; policies follow their on_store_error until it answers", msg);
    pt_redis_url u;
    if (rc_open == 0 && pt_redis_url_parse(cfg->counters_redis, &u, msg, sizeof msg) == 0)
        pt_log_info("counters: limit counters in redis at %s:%u, database %u", u.host, u.port, u.db);
    atomic_store_explicit(&redis_counters, b, memory_order_release);
    return 0;
}

/* The quota and budget totals' file, opened with the first configuration that has a
 * quota or a budget, and kept until the gateway stops. */
static pt_limits_store *_Atomic store;
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;

static int store_open(const pt_config *cfg)
{
    pthread_mutex_lock(&store_lock);
    if (!store && shared_counters()) {
        char path[4096];
        const char *dir = cfg->data_dir ? cfg->data_dir : ".";
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) pt_log_warn("data_dir %s cannot be created: %s", dir, strerror(errno));
        snprintf(path, sizeof path, "%s/limits.db", dir);
        atomic_store(&store, pt_limits_store_open(shared_counters(), path, 1000));
    }
    pthread_mutex_unlock(&store_lock);
    return store ? 0 : -1;
}

void pt_limits_gate_stop(void)
{
    pthread_mutex_lock(&store_lock);
    pt_limits_store_close(atomic_exchange(&store, NULL));
    pthread_mutex_unlock(&store_lock);
}

/* ---- decision counters, per policy name, kept across reloads ---- */

/* Every allowed call of every worker counts here, so the count is split in cache lines a
 * worker thread keeps to itself (mostly: threads beyond ALLOWED_STRIPES share), summed
 * when /metrics is rendered: no cache line bounces between workers per request. */
#define ALLOWED_STRIPES 8

typedef struct stripe {
    _Atomic uint64_t n;
    char pad[64 - sizeof(uint64_t)]; /* one cache line each (the series is calloc'd: 16-byte aligned) */
} stripe;

typedef struct series {
    pt_named n;
    stripe allowed[ALLOWED_STRIPES];
    _Atomic uint64_t refused[PT_LIMIT_WHY_COUNT], soft, store_errors[2]; /* [closed] */
} series;

/* This thread's stripe, given out in turn on a thread's first count. */
static unsigned my_stripe(void)
{
    static _Atomic unsigned next;
    static _Thread_local unsigned mine = UINT_MAX;
    if (mine == UINT_MAX) mine = atomic_fetch_add(&next, 1) % ALLOWED_STRIPES;
    return mine;
}

static uint64_t allowed_total(series *s)
{
    uint64_t n = 0;
    for (int i = 0; i < ALLOWED_STRIPES; i++) n += atomic_load_explicit(&s->allowed[i].n, memory_order_relaxed);
    return n;
}

static pt_named_list all_series = PT_NAMED_LIST_INIT;

static series *series_get(const char *name) { return pt_named_get(&all_series, name, sizeof(series)); }

int pt__limits_gate_bind(pt_config *cfg)
{
    if (!cfg->policies) return 0;
    bool windows = false;
    for (size_t i = 0; i < cfg->policies->n; i++) {
        pt_policy *p = &cfg->policies->v[i];
        if (!(p->series = series_get(p->name))) return -1;
        windows |= p->has_windows;
    }
    return windows && !cfg->counters_redis ? store_open(cfg) : 0; /* Redis keeps its own totals */
}

/* The Redis backend's round trips, when it is the one in use. */
static void render_redis(pt_prom *p)
{
    pt_counters *r = atomic_load(&redis_counters);
    if (!r) return;
    pt_counters_redis_stats st;
    pt_counters_redis_stats_get(r, &st);
    pt_prom_family(p, "portico_counters_redis_calls_total", "counter", "Round trips to the Redis limit counters.");
    pt_prom_sample(p, "portico_counters_redis_calls_total", NULL);
    pt_prom_value_u64(p, st.calls);
    pt_prom_family(p, "portico_counters_redis_errors_total", "counter",
                   "Round trips to the Redis limit counters that failed: unreachable, timed out, or an error reply.");
    pt_prom_sample(p, "portico_counters_redis_errors_total", NULL);
    pt_prom_value_u64(p, st.errors);
    pt_prom_family(p, "portico_counters_redis_local_total", "counter",
                   "Limit checks decided from cells a worker took ahead (rate.slack), without a round trip.");
    pt_prom_sample(p, "portico_counters_redis_local_total", NULL);
    pt_prom_value_u64(p, st.local);
    pt_prom_family(p, "portico_counters_redis_up", "gauge", "1 when the last round trip to Redis succeeded.");
    pt_prom_sample(p, "portico_counters_redis_up", NULL);
    pt_prom_value_u64(p, st.up);
}

static void render(pt_prom *p, void *arg)
{
    static const char *const decisions = "portico_policy_decisions_total";
    pt_prom_family(p, decisions, "counter",
                   "Calls decided by each policy: allowed, or refused (with the reason: rate, concurrency, "
                   "tokens, quota, budget, store_error); a call refused by another policy counts for neither.");
    series *head = pt_named_first(&all_series);
    for (series *s = head; s; s = (series *)s->n.next) {
        pt_prom_sample(p, decisions, NULL);
        pt_prom_label(p, "policy", s->n.name);
        pt_prom_label(p, "result", "allowed");
        pt_prom_value_u64(p, allowed_total(s));
        for (int r = 1; r < PT_LIMIT_WHY_COUNT; r++) {
            pt_prom_sample(p, decisions, NULL);
            pt_prom_label(p, "policy", s->n.name);
            pt_prom_label(p, "result", "refused");
            pt_prom_label(p, "reason", pt_limit_why_name((pt_limit_why)r));
            pt_prom_value_u64(p, atomic_load_explicit(&s->refused[r], memory_order_relaxed));
        }
    }
    static const char *const store_err = "portico_policy_store_errors_total";
    pt_prom_family(p, store_err, "counter",
                   "Calls decided while the limit counters could not be reached, by the policy's on_store_error: "
                   "open (let through) or closed (refused).");
    for (series *s = head; s; s = (series *)s->n.next)
        for (int closed = 0; closed < 2; closed++) {
            pt_prom_sample(p, store_err, NULL);
            pt_prom_label(p, "policy", s->n.name);
            pt_prom_label(p, "on_store_error", closed ? "closed" : "open");
            pt_prom_value_u64(p, atomic_load_explicit(&s->store_errors[closed], memory_order_relaxed));
        }
    render_redis(p);
    static const char *const soft = "portico_policy_budget_soft_total";
    pt_prom_family(p, soft, "counter", "Budget windows whose spending reached the policy's soft_at threshold.");
    for (series *s = head; s; s = (series *)s->n.next) {
        pt_prom_sample(p, soft, NULL);
        pt_prom_label(p, "policy", s->n.name);
        pt_prom_value_u64(p, atomic_load_explicit(&s->soft, memory_order_relaxed));
    }
}

void pt_limits_gate_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }

/* ---- one request ---- */

/* The RateLimit fields of a policy or two, kept with the gate (pt_limits_headers_max is
 * 416 for one rate; the fields of a rate with a 64-byte name take about 230). */
#define FIELDS_ROOM 256

/* The request's decisions, in its pool; the concurrency slots they hold are released by
 * its cleanup hook. */
typedef struct gate {
    pt_limit_state st;
    pt_request *req;
    const pt_policy_table *table; /* the snapshot's, which the request holds */
    pt_limit_subject subject;
    size_t hdr_base;              /* resp_headers' length before this gate's fields */
    char *room;                   /* FIELDS_ROOM bytes after the decisions, for the fields */
    bool hooked;                  /* `end` is among the request's cleanup hooks */
    pt_req_cleanup end;
} gate;

static void gate_end(void *data) { pt_limits_release(&((gate *)data)->st); }

/* After a check, for its decisions (`from` on): counts them, and once one holds a
 * concurrency slot registers the slots' release at the request's end (most policies have
 * no concurrency limit, and their calls then leave nothing to release). */
static void checked(gate *g, size_t from)
{
    const pt_limit_decision *refused = g->st.refused;
    for (size_t i = from; i < g->st.n; i++) {
        const pt_limit_decision *d = &g->st.d[i];
        if (d->held && !g->hooked) {
            pt_req_cleanup_link(g->req, &g->end, gate_end, g);
            g->hooked = true;
        }
        series *s = d->policy->series;
        if (!s) continue;
        if (d->store_failed) atomic_fetch_add_explicit(&s->store_errors[d->policy->store_closed], 1, memory_order_relaxed);
        if (!refused) atomic_fetch_add_explicit(&s->allowed[my_stripe()].n, 1, memory_order_relaxed);
    }
    series *s = refused ? refused->policy->series : NULL;
    if (s) atomic_fetch_add_explicit(&s->refused[g->st.why], 1, memory_order_relaxed);
}

/* Sets the RateLimit fields (and Retry-After when refused) for every response, in place
 * of those an earlier phase set (they describe every decision so far). */
static void set_headers(pt_conn *c, gate *g)
{
    pt_slice *h = &pt_conn_info(c)->resp_headers;
    if (h->len > g->hdr_base) h->len = g->hdr_base;
    /* When they are the only lines, the fields are written in the gate's room and shown from
     * there (it lasts as long as the request); otherwise in a buffer that
     * pt_conn_add_resp_headers copies after the other lines. */
    char local[1024], *out = g->hdr_base ? local : g->room;
    size_t fits = g->hdr_base ? sizeof local : FIELDS_ROOM, cap;
    size_t n = pt_limits_headers(&g->st, out, fits);
    if (!n && (cap = pt_limits_headers_max(&g->st)) > fits) { /* none, or too many to fit there */
        out = cap <= sizeof local ? local : pt_req_alloc_raw(g->req, cap);
        n = out ? pt_limits_headers(&g->st, out, cap) : 0;
    }
    if (!n) return;
    if (out == g->room) *h = pt_slice_from(out, n);
    else pt_conn_add_resp_headers(c, out, n);
}

static gate *gate_new(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_limit_subject *s)
{
    /* one piece, not zeroed: the gate's members are set here one by one (but `end`,
     * written when it is linked), and a decision is written whole when its policy applies */
    size_t n = cfg->policies->n;
    gate *g = pt_req_alloc_raw(req, sizeof *g + n * sizeof(pt_limit_decision) + FIELDS_ROOM);
    if (!g) return NULL;
    pt_limit_decision *d = (pt_limit_decision *)(g + 1);
    g->st = (pt_limit_state){ .counters = shared_counters(), .d = d, .cap = n };
    g->req = req;
    g->table = cfg->policies;
    g->subject = *s;
    g->hdr_base = pt_conn_info(c)->resp_headers.len;
    g->room = (char *)(d + n);
    g->hooked = false;
    pt_conn_info(c)->limits = g;
    return g;
}

pt_limit_subject pt__limits_gate_subject(pt_conn *c, const pt_route *route)
{
    const pt_auth *who = pt_conn_info(c)->auth;
    return (pt_limit_subject){
        .service = route->service_name,
        .route = route->name,
        .consumer = who ? who->consumer : NULL,
        .team = who ? who->team : NULL,
        .key_prefix = who ? who->prefix : NULL,
    };
}

bool pt_limits_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route)
{
    if (!cfg->policies) return true;
    pt_limit_subject s = pt__limits_gate_subject(c, route);
    bool model_later = cfg->policies->has_model && (route->kind == PT_ROUTE_AI || route->kind == PT_ROUTE_PROMPT);
    size_t first = pt_limits_first(cfg->policies, PT_LIMIT_PHASE_REQUEST, &s);
    if (!model_later && first == cfg->policies->n) return true;
    gate *g = gate_new(c, req, cfg, &s);
    if (!g || !g->st.counters) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return false;
    }
    g->st.store_failing = pt_limits_store_failing(store);
    int ok = pt_limits_check_from(&g->st, cfg->policies, first, PT_LIMIT_PHASE_REQUEST, &s, pt_limits_now());
    checked(g, 0);
    set_headers(c, g);
    if (ok) return true;
    char msg[320];
    pt_limits_message(&g->st, msg, sizeof msg);
    pt_conn_info(c)->route = route->name;
    pt_conn_info(c)->route_metrics = route->metrics; /* the route's series count its 429s */
    pt_conn_respond_error(c, PT_OUT_RATE_LIMITED, NULL, "%s", msg);
    return false;
}

bool pt_limits_gate_model(pt_conn *c, const char *model, char *msg, size_t cap)
{
    gate *g = (gate *)pt_conn_info(c)->limits;
    if (!g || !g->table->has_model) return true;
    g->subject.model = model;
    g->st.store_failing = pt_limits_store_failing(store);
    size_t from = g->st.n;
    int ok = pt_limits_check(&g->st, g->table, PT_LIMIT_PHASE_MODEL, &g->subject, pt_limits_now());
    checked(g, from);
    set_headers(c, g);
    if (ok) return true;
    pt_limits_message(&g->st, msg, cap);
    return false;
}

/* ---- AI calls: tokens reserved, then settled ---- */

void *pt_limits_gate_of(pt_conn *c) { return (void *)(uintptr_t)pt_conn_info(c)->limits; }

static bool wants_estimate(const gate *g)
{
    for (size_t i = 0; i < g->st.n; i++) {
        const pt_policy *p = g->st.d[i].policy;
        if (p->tokens_per_minute || p->window[PT_WIN_TOK_DAY] || p->window[PT_WIN_TOK_MONTH]) return true;
    }
    return false;
}

bool pt_limits_gate_ai_start(pt_conn *c, uint64_t (*estimate)(void *arg), void *arg, char *msg, size_t cap)
{
    gate *g = (gate *)pt_conn_info(c)->limits;
    if (!g || !wants_estimate(g)) return true;
    int ok = pt_limits_reserve(&g->st, estimate(arg), pt_limits_now());
    set_headers(c, g);
    if (ok) return true;
    checked(g, g->st.n);
    pt_limits_message(&g->st, msg, cap);
    return false;
}

/* "2026-12-03" or "2026-12" from a window id (YYYYMMDD or YYYYMM). */
static void window_name(char *out, size_t cap, uint32_t id, bool month)
{
    if (month) snprintf(out, cap, "%04u-%02u", id / 100, id % 100);
    else snprintf(out, cap, "%04u-%02u-%02u", id / 10000, id / 100 % 100, id % 100);
}

/* A budget reached soft_at: logged, counted, and posted to the policy's webhook. */
static void soft_reached(void *arg, const pt_limit_decision *d, pt_policy_window w, uint64_t total, uint64_t limit)
{
    const pt_policy *p = d->policy;
    bool month = pt_policy_window_monthly(w);
    char when[16], json[768], group[160];
    window_name(when, sizeof when, d->window_id[month], month);
    const char *sep = memchr(d->key, '\x1f', d->keylen);
    size_t glen = sep ? d->keylen - (size_t)(sep + 1 - d->key) : 0;
    pt_buf esc = PT_BUF_INIT;
    pt_buf_append_json_escaped(&esc, sep ? sep + 1 : "", glen);
    snprintf(group, sizeof group, "%.*s", esc.data ? (int)esc.len : 0, esc.data ? esc.data : "");
    pt_buf_release(&esc);
    pt_log_warn("policy '%s': budget %s reached its soft threshold (%u%%) for %s%s%s: $%llu.%06llu of $%llu.%06llu",
                p->name, pt_policy_window_key(w), p->soft_permille / 10, when, group[0] ? " of " : "", group,
                (unsigned long long)(total / 1000000), (unsigned long long)(total % 1000000),
                (unsigned long long)(limit / 1000000), (unsigned long long)(limit % 1000000));
    series *s = p->series;
    if (s) atomic_fetch_add_explicit(&s->soft, 1, memory_order_relaxed);
    if (!p->webhook) return;
    snprintf(json, sizeof json,
             "{\"event\":\"budget.soft_limit\",\"policy\":\"%s\",\"budget\":\"%s\",\"window\":\"%s\","
             "\"time_zone\":\"%s\",\"group\":\"%s\",\"spent_usd\":%llu.%06llu,\"limit_usd\":%llu.%06llu,"
             "\"soft_at\":%u.%03u}",
             p->name, pt_policy_window_key(w), when, p->time_zone ? p->time_zone : "UTC", group,
             (unsigned long long)(total / 1000000), (unsigned long long)(total % 1000000),
             (unsigned long long)(limit / 1000000), (unsigned long long)(limit % 1000000), p->soft_permille / 1000,
             p->soft_permille % 1000);
    if (pt_limits_webhook_post(p->webhook, json, WEBHOOK_TIMEOUT_MS) != 0)
        pt_log_warn("policy '%s': the budget webhook could not be started", p->name);
    (void)arg;
}

void pt_limits_gate_settle(void *limits, bool known, uint64_t tokens, uint64_t cost_micro)
{
    gate *g = limits;
    if (!g) return;
    g->st.store_failing = pt_limits_store_failing(store);
    pt_limits_settle(&g->st, known, tokens, cost_micro, pt_limits_now(), soft_reached, NULL);
}
