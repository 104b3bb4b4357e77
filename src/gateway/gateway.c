/* gateway.c: the gateway process. The main thread loads the configuration, opens the
 * listening set (taking over the supervisor's sockets, binding only what is new), starts the
 * worker threads, and then only handles signals:
 *   SIGHUP          reload: load, validate, open the new listening set and TLS contexts
 *                   (certificates re-read), publish; workers open added listeners before
 *                   closing removed ones, and the worker count follows `workers:`; when any
 *                   of it fails the whole reload is refused and the old configuration stays
 *   SIGTERM/SIGINT  drain: stop accepting, finish in-flight requests and streams up to
 *                   limits.drain_timeout, then exit 0; a second SIGTERM/SIGINT exits at
 *                   once with status 1
 * Each worker runs its own libuv loop: its dups of the listening sockets, its server
 * connections, its upstream pools; worker 0 also runs the active health checks. */
#include "gateway/gateway.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "admin/admin.h"
#include "ai/prompt.h"
#include "core/err.h"
#include "core/log.h"
#include "core/recycle.h"
#include "gateway/accesslog.h"
#include "gateway/ai_route.h"
#include "gateway/auth.h"
#include "gateway/balancer.h"
#include "gateway/call_log.h"
#include "gateway/resp_store.h"
#include "gateway/tracing.h"
#include "gateway/tunnel.h"
#include "gateway/config_store.h"
#include "gateway/control_live.h"
#include "gateway/config.h"
#include "gateway/health.h"
#include "gateway/cors.h"
#include "gateway/lifecycle.h"
#include "gateway/limits_gate.h"
#include "gateway/mask_gate.h"
#include "gateway/validate_gate.h"
#include "gateway/listen.h"
#include "gateway/mcp_route.h"
#include "gateway/metrics.h"
#include "gateway/prompt_route.h"
#include "gateway/proxy.h"
#include "gateway/router.h"
#include "http/client.h"
#include "http/server.h"
#include "http/tls.h"
#include "version.h"

enum { MSG_RELOAD = 1, MSG_DRAIN = 2, MSG_STOP = 4 };

struct gateway;

/* One worker's listening handle: its own dup of a socket of the set, and a counted
 * reference to the listener's current TLS context (NULL for plain HTTP). Freed in its
 * close callback. */
typedef struct wlistener {
    uv_tcp_t tcp;
    char key[PT_LISTEN_KEY_MAX];
    SSL_CTX *ssl;
    bool h2c;                 /* plain listener: HTTP/2 with prior knowledge */
} wlistener;

typedef struct worker {
    int id;
    struct gateway *g;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t async;
    _Atomic unsigned msgs;
    _Atomic bool finished;    /* the thread has left its loop and can be joined */
    wlistener **ls;           /* entries may be NULL (a listener that failed to open) */
    size_t nls;
    pt_server srv;
    pt_client *client;
    pt_mcp_hub *mcp;          /* this worker's MCP upstreams (stdio children, HTTP sessions) */
    pt_health *health;
    uv_timer_t drain_timer;
    bool draining, stopping;
    uint64_t drain_timeout_ms;
} worker;

typedef struct gateway {
    const pt_gateway_opts *opts;
    worker **workers;         /* the active workers; ids 0..nworkers-1 */
    unsigned nworkers;
    worker **retired;         /* draining after a reload lowered `workers:`, joined when done */
    unsigned nretired;
    /* What the workers listen on; replaced whole by a reload, read by workers under lock. */
    uv_mutex_t lock;
    pt_listen_set set;
    SSL_CTX **ssl;            /* per entry of set, NULL for plain HTTP */
    uint64_t no_http2;        /* bit i: entry i of set has `http2: false` (at most 64 listeners) */
    uv_loop_t *loop;
    uv_signal_t sighup, sigterm, sigint;
    uv_async_t reaper;
    bool draining;
    char *access_log;
} gateway;

static pt_route_metrics *unmatched_metrics;

/* --- configuration ----------------------------------------------------------- */

static pt_config *load_config(const char *path, pt_buf *err)
{
    pt_config *cfg = path ? pt_config_load_file(path, err) : pt_config_defaults(err);
    if (!cfg) return NULL;
    if (pt_config_bind(cfg) == 0) return cfg;
    pt_buf_printf(err, "%s: out of memory binding the configuration", path ? path : "<defaults>");
    pt_config_release(cfg);
    return NULL;
}

static void limits_from(pt_http_limits *l, const pt_config *cfg)
{
    l->max_header_bytes = cfg->limits.max_header_bytes;
    l->max_headers = cfg->limits.max_headers;
    l->max_body_bytes = cfg->limits.max_body_bytes;
    l->header_timeout_ms = cfg->limits.header_timeout_ms;
    l->body_timeout_ms = cfg->limits.body_timeout_ms;
    l->idle_timeout_ms = cfg->limits.idle_timeout_ms;
    l->send_timeout_ms = cfg->limits.send_timeout_ms;
    l->max_connections = cfg->limits.max_connections;
    l->h2_max_streams = cfg->limits.http2_max_streams;
}

/* --- built-in endpoints and dispatch ------------------------------------------------ */

static bool path_is(const pt_request *req, const char *p) { return p && pt_slice_eq_cstr(req->path, p); }

static void serve_metrics(pt_conn *c, const pt_config *cfg)
{
    pt_buf out = PT_BUF_INIT;
    if (pt_metrics_render(cfg, &out) != 0) {
        pt_buf_release(&out);
        pt_conn_respond_error(c, PT_OUT_METRICS_UNAVAILABLE, NULL, "metrics could not be rendered");
        return;
    }
    pt_conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    pt_buf_release(&out);
}

static void release_config(void *cfg) { pt_config_release(cfg); }

static void dispatch(pt_conn *c, pt_request *req, void *arg)
{
    worker *w = arg;
    atomic_fetch_add_explicit(&pt_metrics_global.requests_total, 1, memory_order_relaxed);
    pt_config *cfg = pt_config_current();
    /* The request keeps the snapshot until it is logged (route and service names in the
     * access log point into it), whatever reload happens meanwhile: the first cleanup
     * hook, so it is released last, after the log line and every handler's own hook. */
    if (pt_req_cleanup_add(req, release_config, cfg) != 0) {
        pt_config_release(cfg);
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    bool builtin = path_is(req, cfg->health_path) || path_is(req, cfg->ready_path) || path_is(req, cfg->metrics_path);
    if (builtin && req->upgrade) {
        char path[64];
        snprintf(path, sizeof path, PT_SLICE_FMT, PT_SLICE_ARG(req->path));
        pt_tunnel_refuse(c, req, "the built-in endpoint %s does not switch protocols", path);
    } else if (path_is(req, cfg->health_path)) {
        static const char ok[] = "{\"status\":\"ok\"}\n";
        pt_conn_respond(c, 200, "application/json", ok, sizeof ok - 1);
    } else if (path_is(req, cfg->ready_path)) {
        if (w->draining) {
            static const char body[] = "{\"status\":\"draining\"}\n";
            pt_conn_respond(c, 503, "application/json", body, sizeof body - 1);
        } else {
            pt_buf body = PT_BUF_INIT;
            pt_buf_append_str(&body, "{\"status\":\"ready\"");
            pt_mcp_route_ready_json(cfg, &body);
            pt_buf_append_str(&body, "}\n");
            pt_conn_respond(c, 200, "application/json", body.data, body.len);
            pt_buf_release(&body);
        }
    } else if (path_is(req, cfg->metrics_path)) {
        serve_metrics(c, cfg);
    } else {
        if (cfg->tracing.enabled) pt_tracing_begin(c, req, cfg);
        const pt_route *route = pt_router_match(cfg, req);
        if (pt_cors_preflight(c, req, cfg, &route)) return; /* answered before keys: no credentials */
        if (route && route->cors) pt_cors_request(c, req, route);
        if (!route) {
            pt_conn_info(c)->route_metrics = unmatched_metrics;
            pt_conn_respond_error(c, PT_OUT_ROUTE_NOT_FOUND, NULL,
                                  "no route matches " PT_SLICE_FMT " " PT_SLICE_FMT " (host '" PT_SLICE_FMT "')",
                                  PT_SLICE_ARG(req->method_name), PT_SLICE_ARG(req->path),
                                  PT_SLICE_ARG(req->host));
        } else if (route->lifecycle && pt_lifecycle_gate(c, route)) {
            /* retired: answered 410 */
        } else if (!pt_tunnel_gate(c, req, route)) {
            /* an upgrade this route does not serve: answered 501 */
        } else if (route->kind == PT_ROUTE_MCP && !w->mcp) {
            pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        } else if (route->auth_key && !pt_auth_check(c, req, cfg, route)) {
            /* refused: answered in pt_auth_check */
        } else if (!pt_limits_gate_request(c, req, cfg, route)) {
            /* refused by a policy: answered 429 in pt_limits_gate_request */
        } else if (route->validate && !pt_validate_gate_request(c, req, route)) {
            /* not what the API's OpenAPI operations declare: answered 400 or 404 */
        } else if (pt_mask_gate_request(c, req, cfg, route) != 0) {
            /* out of memory: answered */
        } else if (route->kind == PT_ROUTE_PROXY) {
            pt_proxy_start(c, req, route, w->client);
        } else if (route->kind == PT_ROUTE_AI) {
            pt_ai_route_serve(c, req, route, w->client);
        } else if (route->kind == PT_ROUTE_MCP) {
            pt_mcp_route_serve(c, req, route, cfg, w->mcp);
        } else if (route->kind == PT_ROUTE_PROMPT) {
            pt_prompt_route_serve(c, req, route, w->client);
        } else {
            pt_conn_info(c)->route = route->name;
            pt_conn_respond_error(c, PT_OUT_NOT_IMPLEMENTED, NULL, "route '%s' has a kind this build does not serve",
                                  route->name);
        }
    }
}

static bool render_error(const pt_request *req, pt_outcome o, const char *msg, pt_buf *body, const char **ctype,
                         void *arg)
{
    *ctype = "application/json";
    return pt_ai_route_render_error(req, pt_outcome_status(o), msg, body);
}

static void request_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t bytes_in,
                         uint64_t bytes_out, uint64_t total_us, void *arg)
{
    bool gw_error = info->outcome != PT_OUT_OK && (status >= 400 || status == 0);
    const pt_auth *who = info->auth;
    pt_auth_count(who);
    pt_metrics_count_outcome(info->outcome);
    if (status == 400) atomic_fetch_add_explicit(&pt_metrics_global.bad_requests, 1, memory_order_relaxed);
    if (status == 408 || status == 413 || status == 431)
        atomic_fetch_add_explicit(&pt_metrics_global.http_4xx_limits, 1, memory_order_relaxed);
    pt_metrics_observe(info->route_metrics, status, bytes_in, bytes_out, total_us, info->upstream_us, gw_error);
    pt_access_record r = {
        .request_id = req->request_id,
        .method = req->method_name,
        .path = req->path,
        .route = info->route,
        .service = info->service,
        .target = info->target,
        .consumer = who ? who->consumer : NULL,
        .team = who ? who->team : NULL,
        .key_prefix = who ? who->prefix : NULL,
        .status = status,
        .bytes_in = bytes_in,
        .bytes_out = bytes_out,
        .upstream_us = info->upstream_us,
        .total_us = total_us,
        .outcome = info->outcome,
        .client = pt_slice_cstr(pt_conn_peer(c)),
        .extra_json = info->extra_json,
        .trace_id = pt_tracing_trace_id(info->trace),
        .span_id = pt_tracing_span_id(info->trace),
        .protocol = req->http_major == 2 ? "HTTP/2" : NULL,
        .grpc = info->grpc,
        .grpc_status = info->grpc_status,
    };
    pt_accesslog_write(&r);
    pt_call_log_record(c, req, info, status, bytes_in, bytes_out, total_us);
    pt_tracing_done(c, req, info, status, total_us);
}

/* --- worker listeners ------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    worker *w = server->loop->data;
    if (status < 0 || w->draining) return;
    wlistener *l = (wlistener *)server;
    int rc = pt_server_accept(&w->srv, server, l->ssl, l->h2c);
    if (rc == 0) {
        atomic_fetch_add_explicit(&pt_metrics_global.connections_accepted, 1, memory_order_relaxed);
    }
}

static void on_handle_closed(uv_handle_t *h) {}

static void close_once(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void on_listener_closed(uv_handle_t *h)
{
    wlistener *l = (wlistener *)h;
    if (l->ssl) SSL_CTX_free(l->ssl);
    free(l);
}

/* Starts accepting on a dup of the set's socket fd. NULL, logged, on failure. */
static wlistener *listener_open(worker *w, const pt_listen_fd *x)
{
    wlistener *l = calloc(1, sizeof *l);
    int fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 3);
    if (!l || fd < 0) {
        pt_log_error("listener %s: %s", x->key, l ? strerror(errno) : "out of memory");
        free(l);
        if (fd >= 0) close(fd);
        return NULL;
    }
    snprintf(l->key, sizeof l->key, "%s", x->key);
    uv_tcp_init(&w->loop, &l->tcp);
    int rc = uv_tcp_open(&l->tcp, fd);
    if (rc) close(fd);
    /* Several workers accept on one socket: take one connection per wakeup, so the others
     * get their share instead of the first to wake taking a whole burst. */
    if (rc == 0) rc = uv_tcp_simultaneous_accepts(&l->tcp, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection);
    if (rc) {
        pt_log_error("listener %s: %s", x->key, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
        return NULL;
    }
    return l;
}

static void listener_set_ssl(wlistener *l, SSL_CTX *ctx)
{
    if (ctx) SSL_CTX_up_ref(ctx);
    if (l->ssl) SSL_CTX_free(l->ssl);
    l->ssl = ctx;
}

/* Removes and returns the worker's listener for key, or NULL. */
static wlistener *take_listener(worker *w, const char *key)
{
    for (size_t i = 0; i < w->nls; i++) {
        wlistener *l = w->ls[i];
        if (l && strcmp(l->key, key) == 0) {
            w->ls[i] = NULL;
            return l;
        }
    }
    return NULL;
}

static void close_listeners(worker *w)
{
    for (size_t i = 0; i < w->nls; i++)
        if (w->ls[i] && !uv_is_closing((uv_handle_t *)&w->ls[i]->tcp))
            uv_close((uv_handle_t *)&w->ls[i]->tcp, on_listener_closed);
    free(w->ls);
    w->ls = NULL;
    w->nls = 0;
}

/* Makes the worker listen on exactly the gateway's current set: an address it already
 * listens on keeps its handle (and takes the new TLS context), added addresses are opened
 * before removed ones are closed, so no connection is refused in between. Returns the
 * number of listeners that failed to open. */
static size_t worker_sync_listeners(worker *w)
{
    gateway *g = w->g;
    size_t failed = 0;
    uv_mutex_lock(&g->lock);
    size_t n = g->set.n;
    wlistener **next = calloc(n ? n : 1, sizeof *next);
    for (size_t i = 0; next && i < n; i++) {
        wlistener *l = take_listener(w, g->set.v[i].key);
        if (!l) l = listener_open(w, &g->set.v[i]);
        if (l) listener_set_ssl(l, g->ssl[i]);
        if (l) l->h2c = !(g->no_http2 >> i & 1);
        else failed++;
        next[i] = l;
    }
    uv_mutex_unlock(&g->lock);
    if (!next) {
        pt_log_error("worker %d: out of memory applying the listeners", w->id);
        return n ? n : 1;
    }
    close_listeners(w);
    w->ls = next;
    w->nls = n;
    return failed;
}

/* --- workers --------------------------------------------------------------------- */

static void worker_stop(worker *w)
{
    if (w->stopping) return;
    w->stopping = true;
    pt_server_close_all(&w->srv);
    if (w->health) pt_health_stop(w->health);
    w->health = NULL;
    pt_mcp_hub_free(w->mcp);
    w->mcp = NULL;
    pt_client_free(w->client);
    w->client = NULL;
    /* Connections close their own handles; these are the worker's. */
    close_listeners(w);
    if (w->draining) close_once((uv_handle_t *)&w->drain_timer);
    close_once((uv_handle_t *)&w->async);
}

static void on_server_empty(pt_server *srv)
{
    worker *w = srv->loop->data;
    if (w->draining) worker_stop(w);
}

static void on_drain_deadline(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->srv.nconns)
        pt_log_warn("drain deadline reached with %u connections still open; closing them", w->srv.nconns);
    worker_stop(w);
}

static void worker_drain(worker *w)
{
    if (w->draining) return;
    w->draining = true;
    close_listeners(w);
    pt_mcp_hub_drain(w->mcp);
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_timer_start(&w->drain_timer, on_drain_deadline, w->drain_timeout_ms, 0);
    w->srv.on_empty = on_server_empty;
    pt_server_drain(&w->srv);
}

static void on_async(uv_async_t *a)
{
    worker *w = a->data;
    unsigned m = atomic_exchange(&w->msgs, 0);
    if ((m & MSG_RELOAD) && !w->draining && !w->stopping) {
        pt_config *cfg = pt_config_current();
        limits_from(&w->srv.limits, cfg);
        w->drain_timeout_ms = cfg->limits.drain_timeout_ms;
        pt_mcp_hub_sync(w->mcp, cfg);
        pt_config_release(cfg);
        worker_sync_listeners(w);
    }
    if (m & MSG_DRAIN) worker_drain(w);
    if (m & MSG_STOP) worker_stop(w);
}

static void worker_main(void *arg)
{
    worker *w = arg;
    char name[24];
    snprintf(name, sizeof name, "worker-%d", w->id);
    pt_log_set_thread_name(name);
    snprintf(name, sizeof name, "portico-w%d", w->id);
    pthread_setname_np(pthread_self(), name);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    pt_recycle_thread_release();
    atomic_store(&w->finished, true);
    uv_async_send(&w->g->reaper);
}

/* Creates a worker's loop and listeners on the main thread; nothing runs until
 * worker_start. NULL, logged, on failure. */
static worker *worker_new(gateway *g, int id, const pt_config *cfg)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->id = id;
    w->g = g;
    uv_loop_init(&w->loop);
    w->loop.data = w;
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = w;
    pt_server_init(&w->srv, &w->loop);
    limits_from(&w->srv.limits, cfg);
    w->drain_timeout_ms = cfg->limits.drain_timeout_ms;
    w->srv.dispatch = dispatch;
    w->srv.done = request_done;
    w->srv.render_error = render_error;
    w->srv.arg = w;
    w->srv.active_gauge = &pt_metrics_global.connections_active;
    w->srv.h2_stats = &pt_metrics_global.h2;
    w->client = pt_client_new(&w->loop);
    if (w->client) pt_client_set_h2_stats(w->client, &pt_metrics_global.h2up);
    w->mcp = w->client ? pt_mcp_hub_new(&w->loop, w->client) : NULL;
    if (!w->client || worker_sync_listeners(w) != 0) {
        pt_log_error("worker %d could not start", id);
        worker_stop(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return NULL;
    }
    if (id == 0) {
        w->health = pt_health_start(&w->loop, w->client);
        pt_mcp_hub_keep_tool_index(w->mcp); /* the admin API's view of each MCP server's tools */
    }
    pt_config *now = pt_config_current();
    pt_mcp_hub_sync(w->mcp, now); /* the servers start once the worker's loop runs */
    pt_config_release(now);
    return w;
}

static void worker_join(worker *w)
{
    uv_thread_join(&w->thread);
    free(w->ls);
    free(w);
}

static void post(worker *w, unsigned msg)
{
    atomic_fetch_or(&w->msgs, msg);
    uv_async_send(&w->async);
}

static void broadcast(gateway *g, unsigned msg)
{
    for (unsigned i = 0; i < g->nworkers; i++) post(g->workers[i], msg);
}

/* Joins the retired workers whose threads have finished draining. */
static void on_reaper(uv_async_t *a)
{
    gateway *g = a->data;
    unsigned k = 0;
    for (unsigned i = 0; i < g->nretired; i++) {
        worker *w = g->retired[i];
        if (atomic_load(&w->finished)) worker_join(w);
        else g->retired[k++] = w;
    }
    g->nretired = k;
}

/* Starts or retires workers until there are n; a retired worker drains its connections
 * (up to limits.drain_timeout) and is joined once its thread ends. Returns 0 or -1. */
static int set_worker_count(gateway *g, unsigned n, const pt_config *cfg)
{
    if (n > g->nworkers) {
        worker **v = realloc(g->workers, n * sizeof *v);
        if (!v) return -1;
        g->workers = v;
        while (g->nworkers < n) {
            worker *w = worker_new(g, (int)g->nworkers, cfg);
            if (!w) return -1;
            if (uv_thread_create(&w->thread, worker_main, w) != 0) return -1;
            g->workers[g->nworkers++] = w;
        }
    } else if (n < g->nworkers) {
        worker **v = realloc(g->retired, (g->nretired + g->nworkers - n) * sizeof *v);
        if (!v) return -1;
        g->retired = v;
        while (g->nworkers > n) {
            worker *w = g->workers[--g->nworkers];
            g->retired[g->nretired++] = w;
            post(w, MSG_DRAIN);
        }
    }
    return 0;
}

/* --- the listening set -------------------------------------------------------------- */

static void free_ssl(SSL_CTX **ssl, size_t n)
{
    for (size_t i = 0; ssl && i < n; i++)
        if (ssl[i]) SSL_CTX_free(ssl[i]);
    free(ssl);
}

/* Opens cfg's listening set from prev (kept addresses keep their socket) and a fresh TLS
 * context per TLS listener, reading certificates and keys from disk. Returns 0, or -1 with
 * nothing left open and the reason in err. */
static int open_listeners(const pt_config *cfg, const pt_listen_set *prev, pt_listen_set *set, SSL_CTX ***ssl,
                          uint64_t *no_http2, pt_buf *err)
{
    *no_http2 = 0;
    for (size_t i = 0; i < cfg->nlisteners && i < 64; i++)
        if (cfg->listeners[i].no_http2) *no_http2 |= 1ull << i;
    if (pt_listen_set_open(cfg, prev, set, err) != 0) return -1;
    *ssl = calloc(set->n ? set->n : 1, sizeof **ssl);
    if (!*ssl) {
        pt_buf_printf(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const pt_listener_cfg *l = &cfg->listeners[i];
        if (!l->tls) continue;
        pt_buf e = PT_BUF_INIT;
        pt_tls_server_opts o = {
            .cert_file = l->cert_file,
            .key_file = l->key_file,
            .min_version = l->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION,
            .ciphers = l->ciphers,
            .ciphersuites = l->ciphersuites,
            .client_ca = l->client_ca,
            .client_cert_optional = l->client_cert_optional,
            .subject_header = l->subject_header,
            .ocsp_response = l->ocsp_response,
            .http2 = !l->no_http2,
        };
        (*ssl)[i] = pt_tls_server_ctx_new(&o, &e);
        if (!(*ssl)[i]) pt_buf_printf(err, "listener %s: %s", l->text, e.data ? e.data : "TLS setup failed");
        pt_buf_release(&e);
        if (!(*ssl)[i]) goto fail;
    }
    return 0;
fail:
    free_ssl(*ssl, set->n);
    *ssl = NULL;
    pt_listen_set_release(set);
    return -1;
}

/* Hands the supervisor a copy of the current set, so a restarted gateway process gets the
 * same sockets. */
static void tell_supervisor(gateway *g)
{
    if (g->opts->supervisor_fd < 0) return;
    if (pt_listen_set_send(g->opts->supervisor_fd, &g->set) != 0)
        pt_log_warn("could not pass the listening sockets to the supervisor: %s", strerror(errno));
}

/* "; listen: added 127.0.0.1 8081, removed 127.0.0.1 8080; workers: 2 -> 3" or "". */
static void describe_changes(const pt_listen_set *old, const pt_listen_set *now, unsigned wold, unsigned wnow,
                             pt_buf *out)
{
    const char *sep = "; listen:";
    for (size_t i = 0; i < now->n; i++) {
        bool found = false;
        for (size_t j = 0; j < old->n && !found; j++) found = strcmp(now->v[i].key, old->v[j].key) == 0;
        if (!found) pt_buf_printf(out, "%s added %s", sep, now->v[i].key), sep = ",";
    }
    for (size_t j = 0; j < old->n; j++) {
        bool found = false;
        for (size_t i = 0; i < now->n && !found; i++) found = strcmp(now->v[i].key, old->v[j].key) == 0;
        if (!found) pt_buf_printf(out, "%s removed %s", sep, old->v[j].key), sep = ",";
    }
    if (wold != wnow) pt_buf_printf(out, "; workers: %u -> %u", wold, wnow);
}

/* --- main thread: signals ------------------------------------------------------------- */

static bool same_str(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

/* Publishes set (taken over) and ssl for the workers to sync to, and closes the previous
 * ones: workers hold their own dups and TLS references. Returns whether the addresses are
 * the same as before. */
static bool swap_listeners(gateway *g, pt_listen_set *set, SSL_CTX **ssl, uint64_t no_http2)
{
    uv_mutex_lock(&g->lock);
    pt_listen_set old = g->set;
    SSL_CTX **old_ssl = g->ssl;
    g->set = *set;
    g->ssl = ssl;
    g->no_http2 = no_http2;
    uv_mutex_unlock(&g->lock);
    bool same = pt_listen_set_same(&old, set);
    free_ssl(old_ssl, old.n);
    pt_listen_set_release(&old);
    return same;
}

static void refuse_reload(const char *why)
{
    atomic_fetch_add_explicit(&pt_metrics_global.reload_failures, 1, memory_order_relaxed);
    pt_log_error("reload refused, the running configuration stays: %s", why);
}

static void apply_logging(gateway *g, const pt_config *cfg)
{
    if (!same_str(cfg->access_log, g->access_log)) {
        pt_buf e2 = PT_BUF_INIT;
        if (pt_accesslog_open(cfg->access_log, &e2) != 0) pt_log_error("%s", e2.data ? e2.data : "access_log: cannot open");
        pt_buf_release(&e2);
        free(g->access_log);
        g->access_log = cfg->access_log ? strdup(cfg->access_log) : NULL;
    } else {
        pt_accesslog_reopen();
    }
    int lvl = cfg->error_log_level ? pt_log_level_parse(cfg->error_log_level) : PT_LOG_INFO;
    if (lvl >= 0) pt_log_set_level((pt_log_level)lvl);
}

static void reload(gateway *g)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load_config(g->opts->config_path, &err);
    pt_listen_set set;
    SSL_CTX **ssl = NULL;
    uint64_t no_http2 = 0;
    /* The first keyed route opens the store; it stays open (and its snapshot published)
     * whatever later reloads say. */
    if (!cfg || pt_control_live_start(g->loop, cfg, &err) != 0 || open_listeners(cfg, &g->set, &set, &ssl, &no_http2, &err) != 0) {
        refuse_reload(err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        if (cfg) pt_config_release(cfg);
        return;
    }
    unsigned nworkers = cfg->workers ? cfg->workers : 1;
    pt_buf changes = PT_BUF_INIT;
    describe_changes(&g->set, &set, g->nworkers, nworkers, &changes);
    apply_logging(g, cfg);
    pt_control_live_publish(cfg);
    bool same_set = swap_listeners(g, &set, ssl, no_http2);
    if (set_worker_count(g, nworkers, cfg) != 0)
        pt_log_error("reload: could not start every worker; %u running", g->nworkers);
    pt_config_release(cfg);
    atomic_fetch_add_explicit(&pt_metrics_global.reloads, 1, memory_order_relaxed);
    broadcast(g, MSG_RELOAD);
    if (!same_set) tell_supervisor(g);
    pt_log_info("configuration reloaded from %s%s", g->opts->config_path ? g->opts->config_path : "<defaults>",
                changes.data ? changes.data : "");
    pt_buf_release(&changes);
    pt_buf_release(&err);
}

static void on_signal(uv_signal_t *s, int signum)
{
    gateway *g = s->data;
    const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
    if (signum == SIGHUP) {
        if (!g->draining) reload(g);
        return;
    }
    if (g->draining) {
        /* The operator asked twice: cut what is in flight and leave now, without waiting
         * for threads, pools or the access log writer. */
        pt_log_warn("second %s during the drain: exiting now with status 1, requests in flight are cut", name);
        _exit(1);
    }
    g->draining = true;
    atomic_store(&pt_metrics_global.draining, 1);
    /* The workers close their own dups; once these are gone too, connects are refused. */
    pt_listen_set none = { 0 };
    swap_listeners(g, &none, NULL, 0);
    pt_log_info("%s received: draining (no new connections, finishing requests in flight)", name);
    broadcast(g, MSG_DRAIN);
}

/* --- the process ---------------------------------------------------------------------- */

/* The admin API on its own thread, when configured (read at start only); each committed
 * write recompiles the control snapshot. */
static void admin_changed(void *arg, int kind, int64_t id)
{
    (void)arg;
    if (kind < 0) pt_control_live_changed();
    else pt_control_live_changed_one(kind, id);
}

/* The file's listeners, providers and models for the admin API (the file's snapshot in
 * force); the upstreams' and providers' health from the configuration requests use, whose
 * targets and keys hold it. */
static json_t *admin_describe(void *arg, const char *what)
{
    (void)arg;
    pt_config *cur = pt_config_current();
    bool live = strcmp(what, "upstreams") == 0 || strcmp(what, "providers") == 0;
    json_t *j = cur ? pt_config_describe(cur->file && !live ? cur->file : cur, what) : json_array();
    pt_config_release(cur);
    return j;
}

/* Whether a service the admin API is about to store would be served, checked against the
 * file's configuration in force. */
static int admin_check_service(void *arg, const json_t *svc, const json_t *apis, char *field, size_t fieldcap,
                               char *msg, size_t msgcap)
{
    (void)arg;
    pt_config *cur = pt_config_current();
    pt_buf m = PT_BUF_INIT;
    int rc = cur ? pt_config_check_stored(cur->file ? cur->file : cur, svc, apis, field, fieldcap, &m) : 0;
    snprintf(msg, msgcap, "%s", m.data ? m.data : "");
    pt_buf_release(&m);
    pt_config_release(cur);
    return rc;
}

/* Whether a policy the admin API is about to store would be enforced alongside the
 * configuration in force (the file's and the store's). */
static int admin_check_policy(void *arg, const json_t *policy, const char *replaces, char *field, size_t fieldcap,
                              char *msg, size_t msgcap)
{
    (void)arg;
    pt_config *cur = pt_config_current();
    pt_buf m = PT_BUF_INIT;
    int rc = cur ? pt_config_check_policy(cur, policy, replaces, field, fieldcap, &m) : 0;
    snprintf(msg, msgcap, "%s", m.data ? m.data : "");
    pt_buf_release(&m);
    pt_config_release(cur);
    return rc;
}

/* A prompt service's dry run for the admin API, against the configuration in force. */
static int admin_render_prompt(void *arg, const char *service, const json_t *variables, json_t **out)
{
    (void)arg;
    pt_config *cur = pt_config_current();
    const pt_service *s = cur ? pt_config_find_service(cur, service) : NULL;
    int status = s && s->prompt ? pt_prompt_render(s->prompt, variables, out) : 404;
    pt_config_release(cur);
    return status;
}

static pt_admin *start_admin(const pt_config *cfg, pt_buf *err)
{
    if (!cfg->admin_enabled) return NULL;
    char calls[4096];
    pt_call_log_path(cfg, calls, sizeof calls);
    pt_admin_opts o = { .host = cfg->admin.host, .port = cfg->admin.port, .data_dir = cfg->data_dir,
                        .store_url = cfg->store.postgres,
                        .calls_path = cfg->call_log.enabled ? calls : NULL, .node_id = pt_control_live_node_id(),
                        .on_change = admin_changed, .check_service = admin_check_service, .check_policy = admin_check_policy,
                        .describe = admin_describe, .render_prompt = admin_render_prompt,
                        .session_idle_s = (int64_t)(cfg->admin_session_idle_ms / 1000),
                        .session_max_s = (int64_t)(cfg->admin_session_max_ms / 1000),
                        .trusted_proxies = cfg->admin_trusted, .ntrusted_proxies = cfg->nadmin_trusted };
    limits_from(&o.limits, cfg);
    return pt_admin_start(&o, err);
}

static void start_signals(gateway *g)
{
    uv_signal_init(g->loop, &g->sighup);
    uv_signal_init(g->loop, &g->sigterm);
    uv_signal_init(g->loop, &g->sigint);
    g->sighup.data = g->sigterm.data = g->sigint.data = g;
    uv_signal_start(&g->sighup, on_signal, SIGHUP);
    uv_signal_start(&g->sigterm, on_signal, SIGTERM);
    uv_signal_start(&g->sigint, on_signal, SIGINT);
    /* The supervisor starts this process with them blocked; from here on they are handled. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    uv_async_init(g->loop, &g->reaper, on_reaper);
    g->reaper.data = g;
}

static void stop_signals(gateway *g)
{
    uv_close((uv_handle_t *)&g->sighup, NULL);
    uv_close((uv_handle_t *)&g->sigterm, NULL);
    uv_close((uv_handle_t *)&g->sigint, NULL);
    uv_close((uv_handle_t *)&g->reaper, NULL);
    uv_run(g->loop, UV_RUN_DEFAULT);
    uv_loop_close(g->loop);
}

static int open_access_log(gateway *g, const pt_config *cfg)
{
    pt_buf e = PT_BUF_INIT;
    int rc = pt_accesslog_open(cfg->access_log, &e);
    if (rc != 0) fprintf(stderr, "portico: %s\n", e.data ? e.data : "access_log: cannot open");
    pt_buf_release(&e);
    if (rc == 0) g->access_log = cfg->access_log ? strdup(cfg->access_log) : NULL;
    return rc;
}

static void log_listening(const gateway *g, const pt_config *cfg)
{
    for (size_t i = 0; i < cfg->nlisteners; i++)
        pt_log_info("portico %s listening on %s%s with %u worker%s", PT_VERSION, cfg->listeners[i].text,
                    cfg->listeners[i].tls ? " (TLS)" : "", g->nworkers, g->nworkers == 1 ? "" : "s");
    if (cfg->nlisteners == 0) pt_log_warn("no listeners configured");
}

static bool all_finished(gateway *g)
{
    for (unsigned i = 0; i < g->nworkers; i++)
        if (!atomic_load(&g->workers[i]->finished)) return false;
    for (unsigned i = 0; i < g->nretired; i++)
        if (!atomic_load(&g->retired[i]->finished)) return false;
    return true;
}

/* Waits for every worker, active and retired: each thread returns once its loop has
 * closed its last handle. */
static void join_all(gateway *g)
{
    for (unsigned i = 0; i < g->nworkers; i++) worker_join(g->workers[i]);
    g->nworkers = 0;
    for (unsigned i = 0; i < g->nretired; i++) worker_join(g->retired[i]);
    g->nretired = 0;
}

int pt_gateway_run(const pt_gateway_opts *opts)
{
    signal(SIGPIPE, SIG_IGN);
    atomic_store(&pt_metrics_global.supervisor_restarts, opts->restarts);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load_config(opts->config_path, &err);
    if (!cfg) {
        fprintf(stderr, "portico: %s\n", err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        return 1;
    }
    int lvl = cfg->error_log_level ? pt_log_level_parse(cfg->error_log_level) : PT_LOG_INFO;
    if (lvl >= 0) pt_log_set_level((pt_log_level)lvl);
    if (pt_limits_gate_start(cfg, &err) != 0) {
        fprintf(stderr, "portico: %s\n", err.data);
        pt_buf_release(&err);
        pt_config_release(cfg);
        return 1;
    }

    gateway g;
    memset(&g, 0, sizeof g);
    g.opts = opts;
    g.loop = uv_default_loop();
    uv_mutex_init(&g.lock);
    int status = 1;
    pt_admin *admin = NULL;
    if (open_listeners(cfg, opts->inherited, &g.set, &g.ssl, &g.no_http2, &err) != 0) {
        fprintf(stderr, "portico: %s\n", err.data ? err.data : "cannot listen");
        goto out;
    }
    if (opts->inherited) pt_listen_set_release(opts->inherited);
    if (open_access_log(&g, cfg) != 0) goto out;
    if (pt_control_live_start(g.loop, cfg, &err) != 0) {
        fprintf(stderr, "portico: %s\n", err.data);
        goto out;
    }
    admin = start_admin(cfg, &err);
    if (cfg->admin_enabled && !admin) {
        fprintf(stderr, "portico: %s\n", err.data ? err.data : "the admin API could not start");
        goto out;
    }
    unmatched_metrics = pt_metrics_route("_unmatched", NULL);
    pt_ai_route_metrics_init();
    pt_mcp_route_metrics_init();
    pt_auth_metrics_init();
    pt_limits_gate_metrics_init();
    pt_mask_gate_metrics_init();
    pt_tunnel_metrics_init();
    pt_call_log_start(cfg);
    pt_resp_store_start(cfg);
    pt_tracing_start(cfg);
    pt_control_live_publish(cfg);
    start_signals(&g);
    if (set_worker_count(&g, cfg->workers ? cfg->workers : 1, cfg) != 0) {
        fprintf(stderr, "portico: the workers could not start\n");
        g.draining = true;
        broadcast(&g, MSG_STOP);
    } else {
        tell_supervisor(&g);
        log_listening(&g, cfg);
        status = 0;
    }
    /* Handle signals (a second SIGTERM/SIGINT included) until every worker has finished:
     * each one wakes the reaper as its thread ends. */
    while (!g.draining || !all_finished(&g)) uv_run(g.loop, UV_RUN_ONCE);
    join_all(&g);
    pt_admin_stop(admin);
    pt_control_live_stop();
    stop_signals(&g);
    if (status == 0) pt_log_info("drained; exiting");
out:
    pt_buf_release(&err);
    pt_accesslog_close();
    pt_call_log_stop();
    pt_resp_store_stop();
    pt_limits_gate_stop();
    pt_tracing_stop();
    free(g.workers);
    free(g.retired);
    free_ssl(g.ssl, g.set.n);
    pt_listen_set_release(&g.set);
    uv_mutex_destroy(&g.lock);
    free(g.access_log);
    pt_config_release(cfg);
    pt_config_publish(NULL);
    pt_control_live_stop();
    pt_metrics_free();
    pt_target_registry_free();
    return status;
}
