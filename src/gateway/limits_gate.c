/* limits_gate.c: the policies on the request path (limits_gate.h): the subject of a call
 * from its route and caller, the per-request decision state in the request pool, the
 * RateLimit fields, the 429 answer, and the decision counters. */
#include "gateway/limits_gate.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/prom.h"
#include "gateway/auth.h"
#include "gateway/metrics.h"
#include "limits/enforce.h"

/* ---- the counters every worker shares ---- */

static pt_counters *counters;
static pthread_once_t counters_once = PTHREAD_ONCE_INIT;

static void counters_init(void) { counters = pt_counters_local_new(); }

static pt_counters *shared_counters(void)
{
    pthread_once(&counters_once, counters_init);
    return counters;
}

/* ---- decision counters, one pair per policy name, kept across reloads ---- */

typedef struct series {
    struct series *next;
    char *name;
    _Atomic uint64_t allowed, refused;
} series;

static series *_Atomic all_series;
static pthread_mutex_t series_lock = PTHREAD_MUTEX_INITIALIZER;

static series *series_get(const char *name)
{
    pthread_mutex_lock(&series_lock);
    series *s = atomic_load(&all_series);
    while (s && strcmp(s->name, name) != 0) s = s->next;
    if (!s && (s = calloc(1, sizeof *s))) {
        if ((s->name = strdup(name))) {
            s->next = atomic_load(&all_series);
            atomic_store_explicit(&all_series, s, memory_order_release);
        } else {
            free(s);
            s = NULL;
        }
    }
    pthread_mutex_unlock(&series_lock);
    return s;
}

int pt__limits_gate_bind(pt_config *cfg)
{
    if (!cfg->policies) return 0;
    for (size_t i = 0; i < cfg->policies->n; i++) {
        pt_policy *p = &cfg->policies->v[i];
        if (!(p->series = series_get(p->name))) return -1;
    }
    return 0;
}

static void render(pt_prom *p, void *arg)
{
    pt_prom_family(p, "portico_policy_decisions_total", "counter",
                   "Calls decided by each policy: allowed, or refused with 429 (a call refused by another "
                   "policy counts for neither).");
    for (series *s = atomic_load_explicit(&all_series, memory_order_acquire); s; s = s->next) {
        static const char *const results[] = { "allowed", "refused" };
        for (int r = 0; r < 2; r++) {
            pt_prom_sample(p, "portico_policy_decisions_total", NULL);
            pt_prom_label(p, "policy", s->name);
            pt_prom_label(p, "result", results[r]);
            pt_prom_value_u64(p, atomic_load_explicit(r ? &s->refused : &s->allowed, memory_order_relaxed));
        }
    }
}

void pt_limits_gate_metrics_init(void) { pt_metrics_add_renderer(render, NULL); }

/* ---- one request ---- */

/* The request's decisions, in its pool; released by its cleanup hook. */
typedef struct gate {
    pt_limit_state st;
    pt_request *req;
    const pt_policy_table *table; /* the snapshot's, which the request holds */
    pt_limit_subject subject;
    size_t hdr_base;              /* resp_headers' length before this gate's fields */
} gate;

static void gate_end(void *data) { pt_limits_release(&((gate *)data)->st); }

static void count(const gate *g, size_t from)
{
    if (g->st.refused) {
        series *s = g->st.refused->policy->series;
        if (s) atomic_fetch_add_explicit(&s->refused, 1, memory_order_relaxed);
        return;
    }
    for (size_t i = from; i < g->st.n; i++) {
        series *s = g->st.d[i].policy->series;
        if (s) atomic_fetch_add_explicit(&s->allowed, 1, memory_order_relaxed);
    }
}

/* Sets the RateLimit fields (and Retry-After when refused) for every response, in place
 * of those an earlier phase set (they describe every decision so far). */
static void set_headers(pt_conn *c, gate *g)
{
    pt_slice *h = &pt_conn_info(c)->resp_headers;
    if (h->len > g->hdr_base) h->len = g->hdr_base;
    size_t cap = pt_limits_headers_max(&g->st);
    char *out = pt_req_alloc(g->req, cap);
    size_t n = out ? pt_limits_headers(&g->st, out, cap) : 0;
    if (n) pt_conn_add_resp_headers(c, out, n);
}

static gate *gate_new(pt_conn *c, pt_request *req, const pt_config *cfg)
{
    gate *g = pt_req_alloc(req, sizeof *g);
    pt_limit_decision *d = g ? pt_req_alloc(req, cfg->policies->n * sizeof *d) : NULL;
    if (!d || pt_req_cleanup_add(req, gate_end, g) != 0) return NULL;
    g->st = (pt_limit_state){ .counters = shared_counters(), .d = d, .cap = cfg->policies->n };
    g->req = req;
    g->table = cfg->policies;
    g->hdr_base = pt_conn_info(c)->resp_headers.len;
    pt_conn_info(c)->limits = g;
    return g;
}

static bool any_applies(const pt_policy_table *t, pt_limit_phase ph, const pt_limit_subject *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (pt_limit_applies(&t->v[i], ph, s)) return true;
    return false;
}

bool pt_limits_gate_request(pt_conn *c, pt_request *req, const pt_config *cfg, const pt_route *route)
{
    if (!cfg->policies) return true;
    const pt_auth *who = pt_conn_info(c)->auth;
    pt_limit_subject s = {
        .service = route->service_name,
        .route = route->name,
        .consumer = who ? who->consumer : NULL,
        .team = who ? who->team : NULL,
        .key_prefix = who ? who->prefix : NULL,
    };
    bool model_later = cfg->policies->has_model && route->kind == PT_ROUTE_AI;
    if (!model_later && !any_applies(cfg->policies, PT_LIMIT_PHASE_REQUEST, &s)) return true;
    gate *g = gate_new(c, req, cfg);
    if (!g || !shared_counters()) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return false;
    }
    g->subject = s;
    int ok = pt_limits_check(&g->st, cfg->policies, PT_LIMIT_PHASE_REQUEST, &s, pt_limits_now());
    count(g, 0);
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
    size_t from = g->st.n;
    int ok = pt_limits_check(&g->st, g->table, PT_LIMIT_PHASE_MODEL, &g->subject, pt_limits_now());
    count(g, from);
    set_headers(c, g);
    if (ok) return true;
    pt_limits_message(&g->st, msg, cap);
    return false;
}
