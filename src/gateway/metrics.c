/* metrics.c: the series registry, the hot-path observers and the Prometheus renderer. */
#include "gateway/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "core/prom.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "version.h"


pt_global_metrics pt_metrics_global;

/* ---- histograms ---------------------------------------------------------------- */

/* Upper bounds in microseconds of every bucket but the last (+Inf), and the same
 * bounds as written in the "le" label. */
static const uint64_t hist_bound_us[PT_HIST_NBUCKETS - 1] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
static const char *const hist_le[PT_HIST_NBUCKETS] = {
    "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
    "1", "2.5", "5", "10", "30", "60", "+Inf",
};

static void hist_observe(pt_histogram *h, uint64_t us)
{
    size_t i = 0;
    while (i < PT_HIST_NBUCKETS - 1 && us > hist_bound_us[i]) i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void pt_metrics_observe(pt_route_metrics *m, int status, uint64_t bytes_in, uint64_t bytes_out,
                        uint64_t total_us, uint64_t upstream_us, bool gateway_error)
{
    if (!m) return;
    int cls = (status >= 100 && status <= 599) ? status / 100 : 0;
    atomic_fetch_add_explicit(&m->responses[cls], 1, memory_order_relaxed);
    if (gateway_error) atomic_fetch_add_explicit(&m->gateway_errors, 1, memory_order_relaxed);
    if (bytes_in) atomic_fetch_add_explicit(&m->bytes_in, bytes_in, memory_order_relaxed);
    if (bytes_out) atomic_fetch_add_explicit(&m->bytes_out, bytes_out, memory_order_relaxed);
    hist_observe(&m->total, total_us);
    if (upstream_us) hist_observe(&m->upstream, upstream_us);
}

void pt_metrics_count_outcome(pt_outcome o)
{
    if ((unsigned)o < PT_OUTCOME_COUNT)
        atomic_fetch_add_explicit(&pt_metrics_global.outcomes[o], 1, memory_order_relaxed);
}

/* ---- the registry ------------------------------------------------------------------ */

/* Entries are never freed before pt_metrics_free(), so pointers handed out stay valid
 * across reloads. `all` keeps creation order for a stable rendering order; the hash
 * chains make config-load lookups cheap with thousands of routes. */
#define REG_NBUCKETS 256
#define MAX_RENDERERS 16

typedef struct reg_entry {
    pt_route_metrics m;
    struct reg_entry *hnext;
} reg_entry;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry *reg_buckets[REG_NBUCKETS];
static pt_route_metrics **reg_all;
static size_t reg_n, reg_alloc;
static struct { pt_metrics_renderer fn; void *arg; } renderers[MAX_RENDERERS];
static size_t nrenderers;

static uint32_t reg_hash(const char *route, const char *service)
{
    uint32_t h = 2166136261u;
    for (const char *p = route; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u; /* separator: ("ab","c") and ("a","bc") differ */
    for (const char *p = service; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* Creates an entry and links it into both indexes; caller holds reg_lock. */
static reg_entry *reg_insert(const char *route, const char *service, uint32_t bucket)
{
    if (reg_n == reg_alloc) {
        size_t n = reg_alloc ? reg_alloc * 2 : 32;
        pt_route_metrics **p = realloc(reg_all, n * sizeof *p);
        if (!p) return NULL;
        reg_all = p;
        reg_alloc = n;
    }
    reg_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->m.route = strdup(route);
    e->m.service = strdup(service);
    if (!e->m.route || !e->m.service) {
        free(e->m.route);
        free(e->m.service);
        free(e);
        return NULL;
    }
    e->hnext = reg_buckets[bucket];
    reg_buckets[bucket] = e;
    reg_all[reg_n++] = &e->m;
    return e;
}

pt_route_metrics *pt_metrics_route(const char *route, const char *service)
{
    if (!route) route = "";
    if (!service) service = "";
    uint32_t b = reg_hash(route, service) % REG_NBUCKETS;
    pthread_mutex_lock(&reg_lock);
    reg_entry *e = reg_buckets[b];
    while (e && (strcmp(e->m.route, route) != 0 || strcmp(e->m.service, service) != 0)) e = e->hnext;
    if (!e) e = reg_insert(route, service, b);
    pthread_mutex_unlock(&reg_lock);
    return e ? &e->m : NULL;
}

int pt_metrics_bind_config(struct pt_config *cfg)
{
    int rc = 0;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        pt_route *r = &cfg->routes[i];
        r->metrics = pt_metrics_route(r->name, r->service_name);
        if (!r->metrics) rc = PT_ENOMEM;
    }
    return rc;
}

void pt_metrics_add_renderer(pt_metrics_renderer fn, void *arg)
{
    pthread_mutex_lock(&reg_lock);
    bool full = nrenderers == MAX_RENDERERS;
    if (!full) {
        renderers[nrenderers].fn = fn;
        renderers[nrenderers].arg = arg;
        nrenderers++;
    }
    pthread_mutex_unlock(&reg_lock);
    if (full) pt_log_error("metrics: more than %d extra renderers; one was not added", MAX_RENDERERS);
}

void pt_metrics_free(void)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < REG_NBUCKETS; i++) {
        reg_entry *e = reg_buckets[i];
        while (e) {
            reg_entry *next = e->hnext;
            free(e->m.route);
            free(e->m.service);
            free(e);
            e = next;
        }
        reg_buckets[i] = NULL;
    }
    free(reg_all);
    reg_all = NULL;
    reg_n = reg_alloc = 0;
    nrenderers = 0;
    pthread_mutex_unlock(&reg_lock);
}

/* ---- rendering --------------------------------------------------------------------- */

static void route_labels(pt_prom *p, const pt_route_metrics *m)
{
    pt_prom_label(p, "route", m->route);
    pt_prom_label(p, "service", m->service);
}

typedef struct global_family {
    const char *name, *type, *help;
    size_t offset;
    bool is_signed;
} global_family;

#define GLOBAL(name, type, field, help) \
    { "portico_" name, type, help, offsetof(pt_global_metrics, field), false }

static const global_family global_families[] = {
    GLOBAL("connections_accepted_total", "counter", connections_accepted, "Client connections accepted."),
    GLOBAL("connections_active", "gauge", connections_active, "Client connections currently open."),
    GLOBAL("requests_total", "counter", requests_total, "Request heads received, whether or not a route matched."),
    GLOBAL("bad_requests_total", "counter", bad_requests, "Requests refused as malformed (400)."),
    GLOBAL("limit_rejections_total", "counter", http_4xx_limits,
           "Requests refused because a configured limit was exceeded (408, 413, 431)."),
    GLOBAL("config_reloads_total", "counter", reloads, "Configurations published by a reload."),
    GLOBAL("config_reload_failures_total", "counter", reload_failures,
           "Reloads refused because the new configuration was invalid."),
    GLOBAL("accesslog_dropped_total", "counter", accesslog_dropped,
           "Access log lines lost because the queue was full or the write failed."),
    GLOBAL("supervisor_restarts_total", "counter", supervisor_restarts,
           "Times the supervisor restarted the gateway process after it died."),
    GLOBAL("http2_sessions_total", "counter", h2.sessions, "Client connections that spoke HTTP/2 (h2 or h2c)."),
    GLOBAL("http2_streams_total", "counter", h2.streams, "Requests begun on HTTP/2 connections."),
    GLOBAL("http2_sessions_refused_total", "counter", h2.calm,
           "HTTP/2 sessions ended with ENHANCE_YOUR_CALM: rapid reset, frame floods, header blocks far over the cap."),
    GLOBAL("http2_protocol_errors_total", "counter", h2.protocol_errors,
           "HTTP/2 sessions ended by a malformed frame or a broken preface."),
    GLOBAL("upstream_http2_connections_total", "counter", h2up.sessions,
           "HTTP/2 connections opened to upstreams (services with protocol h2 or h2c)."),
    GLOBAL("upstream_http2_connections_open", "gauge", h2up.sessions_open, "HTTP/2 upstream connections open."),
    GLOBAL("upstream_http2_streams_total", "counter", h2up.streams, "Requests sent as streams to HTTP/2 upstreams."),
    GLOBAL("upstream_http2_streams_open", "gauge", h2up.streams_open, "Streams open to HTTP/2 upstreams."),
    GLOBAL("upstream_http2_goaways_total", "counter", h2up.goaways, "GOAWAY frames received from HTTP/2 upstreams."),
    GLOBAL("upstream_http2_streams_retried_total", "counter", h2up.retried,
           "Streams an HTTP/2 upstream did not process (GOAWAY, REFUSED_STREAM) sent again on another connection."),
    { "portico_draining", "gauge", "1 while the gateway drains before exiting, else 0.",
      offsetof(pt_global_metrics, draining), true },
};

static void render_global(pt_prom *p)
{
    pt_prom_family(p, "portico_build_info", "gauge", "Portico version; the value is always 1.");
    pt_prom_sample(p, "portico_build_info", NULL);
    pt_prom_label(p, "version", PT_VERSION);
    pt_prom_value_u64(p, 1);
    for (size_t i = 0; i < sizeof global_families / sizeof global_families[0]; i++) {
        const global_family *f = &global_families[i];
        const char *field = (const char *)&pt_metrics_global + f->offset;
        pt_prom_family(p, f->name, f->type, f->help);
        pt_prom_sample(p, f->name, NULL);
        if (f->is_signed)
            pt_prom_value_i64(p, atomic_load_explicit((_Atomic int64_t *)field, memory_order_relaxed));
        else
            pt_prom_value_u64(p, atomic_load_explicit((_Atomic uint64_t *)field, memory_order_relaxed));
    }
}

/* One sample per metric label of the outcome table, summing the rows that share it, so
 * the series are the same few whatever has happened yet. */
static void render_outcomes(pt_prom *p)
{
    static const char *const name = "portico_request_outcomes_total";
    pt_prom_family(p, name, "counter",
                   "Finished requests by outcome: ok, or the class of the gateway's failure (the access log's "
                   "\"error\" names the exact cause).");
    for (int o = 0; o < PT_OUTCOME_COUNT; o++) {
        if (!pt_outcome_label_first((pt_outcome)o)) continue;
        const char *label = pt_outcome_metric_label((pt_outcome)o);
        uint64_t sum = 0;
        for (int k = o; k < PT_OUTCOME_COUNT; k++)
            if (strcmp(pt_outcome_metric_label((pt_outcome)k), label) == 0)
                sum += atomic_load_explicit(&pt_metrics_global.outcomes[k], memory_order_relaxed);
        pt_prom_sample(p, name, NULL);
        pt_prom_label(p, "outcome", label);
        pt_prom_value_u64(p, sum);
    }
}

static const char *const class_label[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };

static void render_route_responses(pt_prom *p, pt_route_metrics *const *all, size_t n)
{
    pt_prom_family(p, "portico_route_responses_total", "counter",
                "Responses sent, by route, service and status class (\"other\" only when seen).");
    for (size_t i = 0; i < n; i++) {
        for (int k = 1; k <= 6; k++) {
            int cls = k % 6; /* 1xx..5xx first, then other */
            uint64_t v = atomic_load_explicit(&all[i]->responses[cls], memory_order_relaxed);
            if (cls == 0 && v == 0) continue;
            pt_prom_sample(p, "portico_route_responses_total", NULL);
            route_labels(p, all[i]);
            pt_prom_label(p, "class", class_label[cls]);
            pt_prom_value_u64(p, v);
        }
    }
}

static void render_route_counter(pt_prom *p, pt_route_metrics *const *all, size_t n, const char *name,
                                 const char *help, size_t offset)
{
    pt_prom_family(p, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        _Atomic uint64_t *v = (_Atomic uint64_t *)((char *)all[i] + offset);
        pt_prom_sample(p, name, NULL);
        route_labels(p, all[i]);
        pt_prom_value_u64(p, atomic_load_explicit(v, memory_order_relaxed));
    }
}

/* _count is rendered as the +Inf bucket (not h->count) so the two always agree even
 * while other threads are observing. */
static void render_route_hist(pt_prom *p, pt_route_metrics *const *all, size_t n, const char *name,
                              const char *help, size_t offset)
{
    pt_prom_family(p, name, "histogram", help);
    for (size_t i = 0; i < n; i++) {
        pt_histogram *h = (pt_histogram *)((char *)all[i] + offset);
        uint64_t cum = 0;
        for (int b = 0; b < PT_HIST_NBUCKETS; b++) {
            cum += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
            pt_prom_sample(p, name, "_bucket");
            route_labels(p, all[i]);
            pt_prom_label(p, "le", hist_le[b]);
            pt_prom_value_u64(p, cum);
        }
        pt_prom_sample(p, name, "_sum");
        route_labels(p, all[i]);
        pt_prom_value_fixed(p, atomic_load_explicit(&h->sum_us, memory_order_relaxed), 6);
        pt_prom_sample(p, name, "_count");
        route_labels(p, all[i]);
        pt_prom_value_u64(p, cum);
    }
}

static void render_routes(pt_prom *p, pt_route_metrics *const *all, size_t n)
{
    render_route_responses(p, all, n);
    render_route_counter(p, all, n, "portico_route_gateway_errors_total",
                         "Responses the gateway generated itself (no route, upstream failure, timeout, limits).",
                         offsetof(pt_route_metrics, gateway_errors));
    render_route_counter(p, all, n, "portico_route_request_bytes_total", "Request body bytes received from clients.",
                         offsetof(pt_route_metrics, bytes_in));
    render_route_counter(p, all, n, "portico_route_response_bytes_total", "Response body bytes sent to clients.",
                         offsetof(pt_route_metrics, bytes_out));
    render_route_hist(p, all, n, "portico_route_request_duration_seconds",
                      "Time from the request head to the last response byte.", offsetof(pt_route_metrics, total));
    render_route_hist(p, all, n, "portico_route_upstream_duration_seconds",
                      "Time spent on the upstream exchange, for requests that reached an upstream.",
                      offsetof(pt_route_metrics, upstream));
}

/* Upstream pool and health state, one sample per (service, target) of the snapshot. */
typedef struct target_family {
    const char *name, *type, *help;
    int64_t (*value)(const pt_target_state *st, uint64_t now_ms);
} target_family;

#define LOAD(field) ((int64_t)atomic_load_explicit(&st->field, memory_order_relaxed))
static int64_t tv_open(const pt_target_state *st, uint64_t now) { return LOAD(open_conns); }
static int64_t tv_idle(const pt_target_state *st, uint64_t now) { return LOAD(idle_conns); }
static int64_t tv_active(const pt_target_state *st, uint64_t now) { return LOAD(active); }
static int64_t tv_requests(const pt_target_state *st, uint64_t now) { return LOAD(requests); }
static int64_t tv_failures(const pt_target_state *st, uint64_t now) { return LOAD(failures); }
static int64_t tv_ejections(const pt_target_state *st, uint64_t now) { return LOAD(ejections); }
static int64_t tv_ejected(const pt_target_state *st, uint64_t now)
{
    return atomic_load_explicit(&st->ejected_until_ms, memory_order_relaxed) > now;
}
static int64_t tv_health(const pt_target_state *st, uint64_t now)
{
    int h = atomic_load_explicit(&st->health, memory_order_relaxed);
    return h == PT_HEALTH_UP ? 1 : h == PT_HEALTH_DOWN ? 0 : -1;
}
#undef LOAD

static const target_family target_families[] = {
    { "portico_upstream_open_connections", "gauge", "Connections open to the target (busy and idle), all workers.", tv_open },
    { "portico_upstream_idle_connections", "gauge", "Idle keep-alive connections pooled for the target.", tv_idle },
    { "portico_upstream_active_requests", "gauge", "Exchanges in flight to the target.", tv_active },
    { "portico_upstream_health", "gauge",
      "Active health check verdict: 1 up, 0 down, -1 unknown (not probed yet, or checks off).", tv_health },
    { "portico_upstream_ejected", "gauge", "1 while passive health keeps the target out of rotation.", tv_ejected },
    { "portico_upstream_requests_total", "counter", "Exchanges with the target whose outcome was reported.", tv_requests },
    { "portico_upstream_failures_total", "counter",
      "Failed exchanges with the target (connect error, timeout, reset, 5xx).", tv_failures },
    { "portico_upstream_ejections_total", "counter", "Times passive health ejected the target.", tv_ejections },
};

static void render_targets(pt_prom *p, const struct pt_config *cfg)
{
    uint64_t now = pt_now_ms();
    for (size_t f = 0; f < sizeof target_families / sizeof target_families[0]; f++) {
        const target_family *tf = &target_families[f];
        pt_prom_family(p, tf->name, tf->type, tf->help);
        for (size_t s = 0; s < cfg->nservices; s++) {
            const pt_service *svc = &cfg->services[s];
            for (size_t t = 0; t < svc->ntargets; t++) {
                const pt_target *tg = &svc->targets[t];
                if (!tg->state) continue;
                pt_prom_sample(p, tf->name, NULL);
                pt_prom_label(p, "service", svc->name);
                pt_prom_label(p, "target", tg->url);
                pt_prom_value_i64(p, tf->value(tg->state, now));
            }
        }
    }
}

int pt_metrics_render(const struct pt_config *cfg, pt_buf *out)
{
    pt_prom p;
    pt_prom_init(&p, out);
    pt_metrics_renderer fns[MAX_RENDERERS];
    void *args[MAX_RENDERERS];

    /* Snapshot the series list so rendering never holds the lock a reload needs. */
    pthread_mutex_lock(&reg_lock);
    size_t n = reg_n, nr = nrenderers;
    pt_route_metrics **all = n ? malloc(n * sizeof *all) : NULL;
    if (all) memcpy(all, reg_all, n * sizeof *all);
    for (size_t i = 0; i < nr; i++) {
        fns[i] = renderers[i].fn;
        args[i] = renderers[i].arg;
    }
    pthread_mutex_unlock(&reg_lock);
    if (n && !all) return PT_ENOMEM;

    render_global(&p);
    render_outcomes(&p);
    render_routes(&p, all, n);
    if (cfg) render_targets(&p, cfg);
    free(all);
    for (size_t i = 0; i < nr && p.rc == 0; i++) fns[i](&p, args[i]);
    return p.rc;
}
