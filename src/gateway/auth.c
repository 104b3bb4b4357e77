/* auth.c: identifying and checking the caller on routes with `auth: key` (see auth.h). */
#include "gateway/auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/error_body.h"
#include "core/prom.h"
#include "gateway/ai_route.h"
#include "gateway/metrics.h"

/* ---- finding the key --------------------------------------------------------------- */

static bool from_header(const pt_request *req, const char *name, pt_key_source src, pt_key_found *out)
{
    const pt_header *h = pt_request_header(req, name);
    if (!h) return false;
    pt_slice v = pt_slice_trim(h->value);
    if (src == PT_KEY_FROM_BEARER) {
        if (v.len < 7 || strncasecmp(v.ptr, "bearer ", 7) != 0) return false;
        v = pt_slice_trim(pt_slice_from(v.ptr + 7, v.len - 7));
    }
    if (!v.len) return false;
    *out = (pt_key_found){ src, v, h };
    return true;
}

/* The value of query parameter name in q (no percent-decoding: keys are base62). */
static bool query_param(pt_slice q, const char *name, pt_slice *val)
{
    size_t nlen = strlen(name);
    while (q.len) {
        const char *amp = memchr(q.ptr, '&', q.len);
        size_t n = amp ? (size_t)(amp - q.ptr) : q.len;
        if (n > nlen && memcmp(q.ptr, name, nlen) == 0 && q.ptr[nlen] == '=') {
            *val = pt_slice_from(q.ptr + nlen + 1, n - nlen - 1);
            return true;
        }
        if (!amp) break;
        q.ptr += n + 1;
        q.len -= n + 1;
    }
    return false;
}

bool pt_auth_find_key(const pt_request *req, const pt_route *route, pt_key_found *out)
{
    *out = (pt_key_found){ 0 };
    if (route->key_header && from_header(req, route->key_header, PT_KEY_FROM_HEADER, out)) return true;
    pt_slice v;
    if (route->key_query && query_param(req->query, route->key_query, &v) && v.len) {
        *out = (pt_key_found){ PT_KEY_FROM_QUERY, v, NULL };
        return true;
    }
    if (from_header(req, "authorization", PT_KEY_FROM_BEARER, out) ||
        from_header(req, "x-api-key", PT_KEY_FROM_X_API_KEY, out) ||
        from_header(req, "x-goog-api-key", PT_KEY_FROM_GOOG_API_KEY, out))
        return true;
    /* Gemini clients may send the key as ?key= (an AI route forwards no query upstream,
     * and the logs record the path without it) */
    if (route->kind == PT_ROUTE_AI && query_param(req->query, "key", &v) && v.len) {
        *out = (pt_key_found){ PT_KEY_FROM_QUERY, v, NULL };
        return true;
    }
    return false;
}

void pt_auth_strip_query(pt_buf *t, const char *name)
{
    char *q = t->data ? memchr(t->data, '?', t->len) : NULL;
    if (!q) return;
    size_t nlen = strlen(name);
    char *p = q + 1, *end = t->data + t->len;
    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            /* remove "name=v&" (or "&name=v" when it is the last, or the '?' when alone) */
            char *from = p, *to = amp ? amp + 1 : stop;
            if (!amp) from = p - 1;
            memmove(from, to, (size_t)(end - to));
            t->len -= (size_t)(to - from);
            return;
        }
        p = stop + 1;
    }
}

bool pt_auth_is_key_header(const pt_auth *a, const pt_header *h)
{
    if (!a) return false;
    if (a->found.header == h) return true;
    return h->value.len >= a->found.key.len && memmem(h->value.ptr, h->value.len, a->found.key.ptr, a->found.key.len);
}

/* ---- refusals ------------------------------------------------------------------------ */

/* Answers outcome o with msg, in the client's format on AI routes, with a Bearer challenge
 * on 401. */
static void refuse(pt_conn *c, pt_request *req, const pt_route *route, pt_outcome o, const char *msg)
{
    int status = pt_outcome_status(o);
    pt_error_format fmt = route->kind == PT_ROUTE_AI ? pt_ai_route_error_format(req, route) : PT_ERRFMT_GATEWAY;
    pt_error_body e = { .status = status, .code = pt_outcome_log_name(o), .message = msg,
                        .request_id = req->request_id };
    if (fmt == PT_ERRFMT_GATEWAY) e.service = route->service_name;
    if (fmt == PT_ERRFMT_OPENAI && status == 401) e.type = "invalid_request_error";
    pt_buf b = PT_BUF_INIT;
    pt_conn_info(c)->outcome = o;
    if (pt_error_body_render(&b, fmt, &e) != 0) {
        pt_buf_release(&b);
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    pt_header h[3] = {
        { PT_SLICE_LIT("Server"), PT_SLICE_LIT("portico") },
        { PT_SLICE_LIT("Content-Type"), PT_SLICE_LIT("application/json") },
        { PT_SLICE_LIT("WWW-Authenticate"), PT_SLICE_LIT("Bearer realm=\"portico\"") },
    };
    if (pt_conn_response_start(c, status, h, status == 401 ? 3 : 2, (int64_t)b.len) == 0) {
        pt_conn_response_body(c, b.data, b.len);
        pt_conn_response_end(c);
    } else {
        pt_conn_response_abort(c);
    }
    pt_buf_release(&b);
}

static const char *how_to_subscribe =
    "; subscribe with POST /admin/v1/subscriptions {\"consumer\": ..., \"service\": ...}";

static void refuse_key(pt_conn *c, pt_request *req, const pt_route *route, pt_snap_key_status st,
                       const pt_snap_key *k)
{
    char msg[256];
    pt_outcome o = PT_OUT_KEY_INVALID;
    if (st == PT_SNAP_KEY_REVOKED) {
        o = PT_OUT_KEY_REVOKED;
        snprintf(msg, sizeof msg, "the API key %s... has been revoked", k->prefix);
    } else if (st == PT_SNAP_KEY_EXPIRED) {
        o = PT_OUT_KEY_EXPIRED;
        snprintf(msg, sizeof msg, "the API key %s... has expired", k->prefix);
    } else {
        snprintf(msg, sizeof msg, "the API key is not valid");
    }
    refuse(c, req, route, o, msg);
}

static void refuse_sub(pt_conn *c, pt_request *req, const pt_route *route, pt_snap_sub_state st,
                       const char *consumer, const char *service)
{
    char msg[400];
    pt_outcome o = st == PT_SNAP_SUB_PENDING    ? PT_OUT_SUBSCRIPTION_PENDING
                   : st == PT_SNAP_SUB_REJECTED ? PT_OUT_SUBSCRIPTION_REJECTED
                                                : PT_OUT_NOT_SUBSCRIBED;
    const char *state = st == PT_SNAP_SUB_PENDING    ? "pending approval"
                        : st == PT_SNAP_SUB_REJECTED ? "rejected"
                                                     : "not subscribed";
    snprintf(msg, sizeof msg, "consumer '%s' may not call service '%s': subscription %s%s", consumer, service,
             state, st == PT_SNAP_SUB_PENDING ? " (a team admin must approve it)" : how_to_subscribe);
    refuse(c, req, route, o, msg);
}

/* ---- the check ------------------------------------------------------------------------- */

static void release_snapshot(void *s) { pt_snapshot_release(s); }

static const char *service_of(const pt_route *route)
{
    return route->auth_service ? route->auth_service : route->service_name ? route->service_name : route->name;
}

bool pt_auth_check(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route)
{
    pt_conn_info(c)->route = route->name;
    pt_conn_info(c)->route_metrics = route->metrics;
    pt_snapshot *snap = pt_snapshot_current();
    if (!snap) {
        refuse(c, req, route, PT_OUT_CONTROL_UNAVAILABLE, "the control plane is not loaded: keys cannot be checked");
        return false;
    }
    pt_auth *a = pt_req_alloc(req, sizeof *a);
    if (!a || pt_req_cleanup_add(req, release_snapshot, snap) != 0) {
        pt_snapshot_release(snap);
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return false;
    }
    a->snap = snap;
    if (!pt_auth_find_key(req, route, &a->found)) {
        refuse(c, req, route, PT_OUT_KEY_MISSING,
               "this route needs an API key: send it as Authorization: Bearer <key>, x-api-key or x-goog-api-key");
        return false;
    }
    const pt_snap_key *k = NULL;
    pt_snap_key_status ks = pt_snapshot_check_key(snap, a->found.key.ptr, a->found.key.len, (int64_t)time(NULL), &k);
    if (ks != PT_SNAP_KEY_OK) {
        refuse_key(c, req, route, ks, k);
        return false;
    }
    const pt_snap_consumer *con = pt_snapshot_consumer(snap, k);
    a->key = k;
    a->prefix = k->prefix;
    a->consumer = con ? pt_snapshot_consumer_name(snap, con) : "";
    a->team = con ? pt_snapshot_team_name(snap, con) : NULL;
    a->route_key_query = a->found.from == PT_KEY_FROM_QUERY ? route->key_query : NULL;
    a->h_consumer = cfg->identity_consumer;
    a->h_team = cfg->identity_team;
    a->h_prefix = cfg->identity_key_prefix;
    pt_conn_info(c)->auth = a; /* from here on the access log names the caller, refused or not */
    const char *svc_name = service_of(route);
    const pt_snap_service *svc = pt_snapshot_service_by_name(snap, svc_name);
    a->service = svc_name;
    a->service_team = svc ? pt_snapshot_team_by_id(snap, svc->team_id) : NULL;
    pt_snap_sub_state ss = svc && con ? pt_snapshot_subscription(snap, con, svc->id) : PT_SNAP_SUB_NONE;
    if (ss != PT_SNAP_SUB_ACTIVE) {
        refuse_sub(c, req, route, ss, a->consumer, svc_name);
        return false;
    }
    a->passed = true;
    return true;
}

bool pt_auth_model_allowed(const pt_auth *a, pt_slice model)
{
    return !a || pt_snapshot_model_allowed(a->snap, a->key, model.ptr, model.len);
}

/* ---- calls by consumer ----------------------------------------------------------------- */

typedef struct consumer_series {
    char *consumer, *team;        /* team "" when the consumer has none */
    _Atomic uint64_t calls;
} consumer_series;

/* Open addressing over the pair's hash; slots are written once, under the lock. */
#define SLOTS (2 * PT_AUTH_CONSUMER_SERIES_MAX)
static consumer_series *_Atomic series[SLOTS];
static _Atomic unsigned nseries, series_cap = PT_AUTH_CONSUMER_SERIES;
static consumer_series other = { "_other", "", 0 };
static pthread_mutex_t series_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t pair_hash(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (; *a; a++) h = (h ^ (unsigned char)*a) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (; *b; b++) h = (h ^ (unsigned char)*b) * 16777619u;
    return h;
}

static bool same(const consumer_series *s, const char *c, const char *t)
{
    return strcmp(s->consumer, c) == 0 && strcmp(s->team, t) == 0;
}

/* The slot holding (c, t), or the empty slot where it would go; NULL when the table is full
 * and the pair is not in it. */
static consumer_series *_Atomic *probe(const char *c, const char *t)
{
    uint32_t i = pair_hash(c, t) % SLOTS;
    for (unsigned n = 0; n < SLOTS; n++, i = (i + 1) % SLOTS) {
        consumer_series *s = atomic_load_explicit(&series[i], memory_order_acquire);
        if (!s || same(s, c, t)) return &series[i];
    }
    return NULL;
}

static consumer_series *series_add(const char *c, const char *t)
{
    pthread_mutex_lock(&series_lock);
    consumer_series *_Atomic *slot = probe(c, t);
    consumer_series *s = slot ? atomic_load(slot) : NULL;
    if (!s && slot && atomic_load(&nseries) < atomic_load(&series_cap) && (s = calloc(1, sizeof *s))) {
        s->consumer = strdup(c);
        s->team = strdup(t);
        if (!s->consumer || !s->team) {
            free(s->consumer);
            free(s->team);
            free(s);
            s = NULL;
        } else {
            atomic_store_explicit(slot, s, memory_order_release);
            atomic_fetch_add(&nseries, 1);
        }
    }
    pthread_mutex_unlock(&series_lock);
    return s ? s : &other;
}

void pt_auth_set_series_cap(unsigned cap)
{
    atomic_store(&series_cap, cap < PT_AUTH_CONSUMER_SERIES_MAX ? cap : PT_AUTH_CONSUMER_SERIES_MAX);
}

void pt_auth_count(const pt_auth *a)
{
    if (!a || !a->passed) return;
    const char *t = a->team ? a->team : "";
    consumer_series *_Atomic *slot = probe(a->consumer, t);
    consumer_series *s = slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
    if (!s) s = series_add(a->consumer, t);
    atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
}

static void sample(pt_prom *p, const consumer_series *s)
{
    pt_prom_sample(p, "portico_consumer_requests_total", NULL);
    pt_prom_label(p, "consumer", s->consumer);
    pt_prom_label(p, "team", s->team);
    pt_prom_value_u64(p, atomic_load_explicit(&s->calls, memory_order_relaxed));
}

static void render(pt_prom *p, void *arg)
{
    pt_prom_family(p, "portico_consumer_requests_total", "counter",
                   "Calls on keyed routes that passed the key check, by consumer and team (at most "
                   "endpoints.metrics_consumers pairs; later ones count as consumer=\"_other\").");
    for (unsigned i = 0; i < SLOTS; i++) {
        consumer_series *s = atomic_load_explicit(&series[i], memory_order_acquire);
        if (s) sample(p, s);
    }
    if (atomic_load_explicit(&other.calls, memory_order_relaxed)) sample(p, &other);
}

void pt_auth_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }
