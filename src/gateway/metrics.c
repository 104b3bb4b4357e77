/* metrics.c: the series registry, the hot-path observers and the Prometheus renderer. */
#include "gateway/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
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

/* Output with a sticky error: after the first failed append nothing more is written,
 * so a truncated exposition is never mistaken for a complete one. */
typedef struct render_ctx {
    pt_buf *out;
    int rc;
} render_ctx;

static void emit(render_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(render_ctx *c, const char *fmt, ...)
{
    if (c->rc) return;
    va_list ap;
    va_start(ap, fmt);
    c->rc = pt_buf_vprintf(c->out, fmt, ap);
    va_end(ap);
}

int pt_metrics_append_label_value(pt_buf *out, const char *s, size_t n)
{
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        if (!esc) continue;
        rc = pt_buf_append(out, s + start, i - start);
        if (rc == 0) rc = pt_buf_append(out, esc, 2);
        start = i + 1;
    }
    if (rc == 0) rc = pt_buf_append(out, s + start, n - start);
    return rc;
}

/* Writes `name="value"` (value escaped); prefix is "{" or ",". */
static void emit_label(render_ctx *c, const char *prefix, const char *name, const char *value)
{
    emit(c, "%s%s=\"", prefix, name);
    if (c->rc == 0) c->rc = pt_metrics_append_label_value(c->out, value, strlen(value));
    emit(c, "\"");
}

static void emit_family(render_ctx *c, const char *name, const char *type, const char *help)
{
    emit(c, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void emit_route_labels(render_ctx *c, const pt_route_metrics *m)
{
    emit_label(c, "{", "route", m->route);
    emit_label(c, ",", "service", m->service);
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
    { "portico_draining", "gauge", "1 while the gateway drains before exiting, else 0.",
      offsetof(pt_global_metrics, draining), true },
};

static void render_global(render_ctx *c)
{
    emit_family(c, "portico_build_info", "gauge", "Portico version; the value is always 1.");
    emit(c, "portico_build_info{version=\"%s\"} 1\n", PT_VERSION);
    for (size_t i = 0; i < sizeof global_families / sizeof global_families[0]; i++) {
        const global_family *f = &global_families[i];
        const char *field = (const char *)&pt_metrics_global + f->offset;
        emit_family(c, f->name, f->type, f->help);
        if (f->is_signed)
            emit(c, "%s %" PRId64 "\n", f->name,
                 atomic_load_explicit((_Atomic int64_t *)field, memory_order_relaxed));
        else
            emit(c, "%s %" PRIu64 "\n", f->name,
                 atomic_load_explicit((_Atomic uint64_t *)field, memory_order_relaxed));
    }
}

static const char *const class_label[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };

static void render_route_responses(render_ctx *c, pt_route_metrics *const *all, size_t n)
{
    emit_family(c, "portico_route_responses_total", "counter",
                "Responses sent, by route, service and status class (\"other\" only when seen).");
    for (size_t i = 0; i < n; i++) {
        for (int k = 1; k <= 6; k++) {
            int cls = k % 6; /* 1xx..5xx first, then other */
            uint64_t v = atomic_load_explicit(&all[i]->responses[cls], memory_order_relaxed);
            if (cls == 0 && v == 0) continue;
            emit(c, "portico_route_responses_total");
            emit_route_labels(c, all[i]);
            emit_label(c, ",", "class", class_label[cls]);
            emit(c, "} %" PRIu64 "\n", v);
        }
    }
}

static void render_route_counter(render_ctx *c, pt_route_metrics *const *all, size_t n, const char *name,
                                 const char *help, size_t offset)
{
    emit_family(c, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        _Atomic uint64_t *v = (_Atomic uint64_t *)((char *)all[i] + offset);
        emit(c, "%s", name);
        emit_route_labels(c, all[i]);
        emit(c, "} %" PRIu64 "\n", atomic_load_explicit(v, memory_order_relaxed));
    }
}

/* _count is rendered as the +Inf bucket (not h->count) so the two always agree even
 * while other threads are observing. */
static void render_route_hist(render_ctx *c, pt_route_metrics *const *all, size_t n, const char *name,
                              const char *help, size_t offset)
{
    emit_family(c, name, "histogram", help);
    for (size_t i = 0; i < n; i++) {
        pt_histogram *h = (pt_histogram *)((char *)all[i] + offset);
        uint64_t cum = 0;
        for (int b = 0; b < PT_HIST_NBUCKETS; b++) {
            cum += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
            emit(c, "%s_bucket", name);
            emit_route_labels(c, all[i]);
            emit(c, ",le=\"%s\"} %" PRIu64 "\n", hist_le[b], cum);
        }
        uint64_t sum = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
        emit(c, "%s_sum", name);
        emit_route_labels(c, all[i]);
        emit(c, "} %" PRIu64 ".%06" PRIu64 "\n", sum / 1000000u, sum % 1000000u);
        emit(c, "%s_count", name);
        emit_route_labels(c, all[i]);
        emit(c, "} %" PRIu64 "\n", cum);
    }
}

static void render_routes(render_ctx *c, pt_route_metrics *const *all, size_t n)
{
    render_route_responses(c, all, n);
    render_route_counter(c, all, n, "portico_route_gateway_errors_total",
                         "Responses the gateway generated itself (no route, upstream failure, timeout, limits).",
                         offsetof(pt_route_metrics, gateway_errors));
    render_route_counter(c, all, n, "portico_route_request_bytes_total", "Request body bytes received from clients.",
                         offsetof(pt_route_metrics, bytes_in));
    render_route_counter(c, all, n, "portico_route_response_bytes_total", "Response body bytes sent to clients.",
                         offsetof(pt_route_metrics, bytes_out));
    render_route_hist(c, all, n, "portico_route_request_duration_seconds",
                      "Time from the request head to the last response byte.", offsetof(pt_route_metrics, total));
    render_route_hist(c, all, n, "portico_route_upstream_duration_seconds",
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

static void render_targets(render_ctx *c, const struct pt_config *cfg)
{
    uint64_t now = pt_now_ms();
    for (size_t f = 0; f < sizeof target_families / sizeof target_families[0]; f++) {
        const target_family *tf = &target_families[f];
        emit_family(c, tf->name, tf->type, tf->help);
        for (size_t s = 0; s < cfg->nservices; s++) {
            const pt_service *svc = &cfg->services[s];
            for (size_t t = 0; t < svc->ntargets; t++) {
                const pt_target *tg = &svc->targets[t];
                if (!tg->state) continue;
                emit(c, "%s", tf->name);
                emit_label(c, "{", "service", svc->name);
                emit_label(c, ",", "target", tg->url);
                emit(c, "} %" PRId64 "\n", tf->value(tg->state, now));
            }
        }
    }
}

int pt_metrics_render(const struct pt_config *cfg, pt_buf *out)
{
    render_ctx c = { out, 0 };
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

    render_global(&c);
    render_routes(&c, all, n);
    if (cfg) render_targets(&c, cfg);
    free(all);
    for (size_t i = 0; i < nr && c.rc == 0; i++) fns[i](out, args[i]);
    return c.rc;
}
