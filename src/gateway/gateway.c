/* gateway.c: the serve command. The main thread loads the configuration, binds one
 * SO_REUSEPORT socket per listener per worker (so bind errors surface before anything
 * starts), starts the worker threads, and then only handles signals:
 *   SIGHUP          reload: load, validate, publish; workers pick up new limits; on
 *                   error the old snapshot stays and the error is logged
 *   SIGTERM/SIGINT  drain: stop accepting, finish in-flight requests and streams up to
 *                   limits.drain_timeout, then exit 0 (a second SIGINT exits at once)
 * Each worker runs its own libuv loop: its listeners, its server connections, its
 * upstream pools; worker 0 also runs the active health checks. */
#include "gateway/gateway.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "core/log.h"
#include "gateway/accesslog.h"
#include "gateway/ai_route.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "gateway/health.h"
#include "gateway/metrics.h"
#include "gateway/proxy.h"
#include "gateway/router.h"
#include "http/client.h"
#include "http/server.h"
#include "version.h"

enum { MSG_RELOAD = 1, MSG_DRAIN = 2, MSG_STOP = 4 };

typedef struct worker {
    int id;
    uv_thread_t thread;
    uv_loop_t loop;
    uv_async_t async;
    _Atomic unsigned msgs;
    uv_tcp_t *listeners;
    int *fds;
    size_t nlisteners;
    SSL_CTX **ssl;            /* per listener, shared */
    pt_server srv;
    pt_client *client;
    pt_health *health;
    uv_timer_t drain_timer;
    bool draining, stopping;
    uint64_t drain_timeout_ms;
} worker;

typedef struct gateway {
    const char *config_path;
    worker *workers;
    unsigned nworkers;
    size_t nlisteners;
    SSL_CTX **ssl;
    uv_loop_t *loop;
    uv_signal_t sighup, sigterm, sigint;
    bool draining;
    char *access_log;
} gateway;

static pt_route_metrics *unmatched_metrics;

/* --- configuration ----------------------------------------------------------- */

static pt_config *load_config(const char *path, pt_buf *err)
{
    pt_config *cfg = path ? pt_config_load_file(path, err) : pt_config_defaults(err);
    if (!cfg) return NULL;
    if (pt_metrics_bind_config(cfg) != 0) pt_log_warn("metrics: out of memory binding routes");
    return cfg;
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
}

/* --- built-in endpoints and dispatch ------------------------------------------------ */

static bool path_is(const pt_request *req, const char *p) { return p && pt_slice_eq_cstr(req->path, p); }

static void serve_metrics(pt_conn *c, const pt_config *cfg)
{
    pt_buf out = PT_BUF_INIT;
    if (pt_metrics_render(cfg, &out) != 0) {
        pt_buf_release(&out);
        pt_conn_respond_error(c, 500, "metrics_unavailable", NULL, "metrics could not be rendered");
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
     * access log point into it), whatever reload happens meanwhile. */
    pt_req_info *info = pt_conn_info(c);
    info->hold = cfg;
    info->hold_release = release_config;
    if (path_is(req, cfg->health_path)) {
        static const char ok[] = "{\"status\":\"ok\"}\n";
        pt_conn_respond(c, 200, "application/json", ok, sizeof ok - 1);
    } else if (path_is(req, cfg->ready_path)) {
        if (w->draining) {
            static const char body[] = "{\"status\":\"draining\"}\n";
            pt_conn_respond(c, 503, "application/json", body, sizeof body - 1);
        } else {
            static const char body[] = "{\"status\":\"ready\"}\n";
            pt_conn_respond(c, 200, "application/json", body, sizeof body - 1);
        }
    } else if (path_is(req, cfg->metrics_path)) {
        serve_metrics(c, cfg);
    } else if (pt_ai_route_try(c, req, cfg, w->client)) {
        /* an AI endpoint: answered by ai_route.c */
    } else {
        const pt_route *route = pt_router_match(cfg, req);
        if (!route) {
            pt_conn_info(c)->route_metrics = unmatched_metrics;
            pt_conn_respond_error(c, 404, "route_not_found", NULL,
                                  "no route matches " PT_SLICE_FMT " " PT_SLICE_FMT " (host '" PT_SLICE_FMT "')",
                                  PT_SLICE_ARG(req->method_name), PT_SLICE_ARG(req->path),
                                  PT_SLICE_ARG(req->host));
        } else if (route->kind == PT_ROUTE_PROXY) {
            pt_proxy_start(c, req, route, w->client);
        } else {
            pt_conn_info(c)->route = route->name;
            pt_conn_respond_error(c, 501, "not_implemented", NULL, "route '%s' has a kind this build does not serve",
                                  route->name);
        }
    }
}

static bool render_error(const pt_request *req, int status, const char *code, const char *msg, pt_buf *body,
                         const char **ctype, void *arg)
{
    *ctype = "application/json";
    return pt_ai_route_render_error(req, status, msg, body);
}

static void request_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t bytes_in,
                         uint64_t bytes_out, uint64_t total_us, void *arg)
{
    bool gw_error = info->error != NULL && (status >= 400 || status == 0);
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
        .status = status,
        .bytes_in = bytes_in,
        .bytes_out = bytes_out,
        .upstream_us = info->upstream_us,
        .total_us = total_us,
        .error = info->error,
        .client = pt_slice_cstr(pt_conn_peer(c)),
        .extra_json = info->extra_json,
    };
    pt_accesslog_write(&r);
}

/* --- workers --------------------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status)
{
    worker *w = server->loop->data;
    if (status < 0 || w->draining) return;
    size_t i = (size_t)(uintptr_t)server->data;
    int rc = pt_server_accept(&w->srv, server, w->ssl[i]);
    if (rc == 0) {
        atomic_fetch_add_explicit(&pt_metrics_global.connections_accepted, 1, memory_order_relaxed);
    }
}

static void on_handle_closed(uv_handle_t *h) {}

static void close_once(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void worker_stop(worker *w)
{
    if (w->stopping) return;
    w->stopping = true;
    pt_server_close_all(&w->srv);
    if (w->health) pt_health_stop(w->health);
    w->health = NULL;
    pt_client_free(w->client);
    w->client = NULL;
    /* Connections close their own handles; these are the worker's. */
    for (size_t i = 0; i < w->nlisteners; i++) close_once((uv_handle_t *)&w->listeners[i]);
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
    for (size_t i = 0; i < w->nlisteners; i++)
        close_once((uv_handle_t *)&w->listeners[i]);
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
    if (m & MSG_RELOAD) {
        pt_config *cfg = pt_config_current();
        limits_from(&w->srv.limits, cfg);
        w->drain_timeout_ms = cfg->limits.drain_timeout_ms;
        pt_config_release(cfg);
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
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
}

/* Prepares a worker's loop and listeners on the main thread; nothing runs yet. */
static int worker_init(worker *w, gateway *g, const pt_config *cfg)
{
    uv_loop_init(&w->loop);
    w->loop.data = w;
    w->nlisteners = g->nlisteners;
    w->ssl = g->ssl;
    w->listeners = calloc(g->nlisteners, sizeof *w->listeners);
    if (!w->listeners) return PT_ENOMEM;
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
    w->client = pt_client_new(&w->loop);
    if (!w->client) return PT_ENOMEM;
    for (size_t i = 0; i < g->nlisteners; i++) {
        uv_tcp_init(&w->loop, &w->listeners[i]);
        w->listeners[i].data = (void *)(uintptr_t)i;
        int rc = uv_tcp_open(&w->listeners[i], w->fds[i]);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&w->listeners[i], 1024, on_connection);
        if (rc) {
            pt_log_error("listener %zu: %s", i, uv_strerror(rc));
            return PT_EIO;
        }
    }
    if (w->id == 0) w->health = pt_health_start(&w->loop, w->client);
    return 0;
}

/* Binds one listening socket; on failure prints a message for a person. */
static int bind_listener(const pt_listener_cfg *l, int *out_fd)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    int family;
    if (uv_ip4_addr(l->host, l->port, (struct sockaddr_in *)&ss) == 0) family = AF_INET;
    else if (uv_ip6_addr(l->host, l->port, (struct sockaddr_in6 *)&ss) == 0) family = AF_INET6;
    else {
        fprintf(stderr, "portico: cannot listen on %s: '%s' is not an IP address\n", l->text, l->host);
        return -1;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "portico: cannot listen on %s: %s\n", l->text, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        fprintf(stderr, "portico: cannot listen on %s: %s\n", l->text, strerror(e));
        if (e == EADDRINUSE)
            fprintf(stderr, "  another process holds this address; `portico doctor --listen %s` shows which\n", l->text);
        else if (e == EACCES)
            fprintf(stderr, "  ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port >= 1024\n");
        else if (e == EADDRNOTAVAIL)
            fprintf(stderr, "  %s is not an address of this host\n", l->host);
        close(fd);
        return -1;
    }
    *out_fd = fd;
    return 0;
}

/* --- main thread: signals ------------------------------------------------------------- */

static void broadcast(gateway *g, unsigned msg)
{
    for (unsigned i = 0; i < g->nworkers; i++) {
        atomic_fetch_or(&g->workers[i].msgs, msg);
        uv_async_send(&g->workers[i].async);
    }
}

static bool same_str(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static void reload(gateway *g)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load_config(g->config_path, &err);
    if (!cfg) {
        atomic_fetch_add_explicit(&pt_metrics_global.reload_failures, 1, memory_order_relaxed);
        pt_log_error("reload refused, the running configuration stays: %s", err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        return;
    }
    pt_buf_release(&err);
    pt_config *old = pt_config_current();
    if (cfg->nlisteners != old->nlisteners || cfg->workers != old->workers)
        pt_log_warn("reload: changes to 'listen' and 'workers' take effect at the next restart");
    pt_config_release(old);
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
    pt_config_publish(cfg);
    atomic_fetch_add_explicit(&pt_metrics_global.reloads, 1, memory_order_relaxed);
    broadcast(g, MSG_RELOAD);
    pt_log_info("configuration reloaded from %s", g->config_path ? g->config_path : "<defaults>");
}

static void on_signal(uv_signal_t *s, int signum)
{
    gateway *g = s->data;
    if (signum == SIGHUP) {
        if (!g->draining) reload(g);
        return;
    }
    if (g->draining) {
        if (signum == SIGINT) {
            pt_log_warn("second interrupt: closing every connection now");
            broadcast(g, MSG_STOP);
        }
        return;
    }
    g->draining = true;
    atomic_store(&pt_metrics_global.draining, 1);
    pt_log_info("%s received: draining (no new connections, finishing requests in flight)",
                signum == SIGTERM ? "SIGTERM" : "SIGINT");
    broadcast(g, MSG_DRAIN);
}

int pt_gateway_run(const char *config_path)
{
    signal(SIGPIPE, SIG_IGN);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load_config(config_path, &err);
    if (!cfg) {
        fprintf(stderr, "portico: %s\n", err.data ? err.data : "invalid configuration");
        pt_buf_release(&err);
        return 1;
    }
    pt_buf_release(&err);
    int lvl = cfg->error_log_level ? pt_log_level_parse(cfg->error_log_level) : PT_LOG_INFO;
    if (lvl >= 0) pt_log_set_level((pt_log_level)lvl);

    gateway g;
    memset(&g, 0, sizeof g);
    g.config_path = config_path;
    g.nworkers = cfg->workers ? cfg->workers : 1;
    g.nlisteners = cfg->nlisteners;
    int status = 1;
    g.ssl = calloc(g.nlisteners ? g.nlisteners : 1, sizeof *g.ssl);
    g.workers = calloc(g.nworkers, sizeof *g.workers);
    if (!g.ssl || !g.workers) goto out;
    for (size_t i = 0; i < g.nlisteners; i++) {
        const pt_listener_cfg *l = &cfg->listeners[i];
        if (!l->tls) continue;
        pt_buf e = PT_BUF_INIT;
        g.ssl[i] = pt_tls_server_ctx_new(l->cert_file, l->key_file, &e);
        if (!g.ssl[i]) {
            fprintf(stderr, "portico: listener %s: %s\n", l->text, e.data ? e.data : "TLS setup failed");
            pt_buf_release(&e);
            goto out;
        }
    }
    for (unsigned i = 0; i < g.nworkers; i++) {
        worker *w = &g.workers[i];
        w->id = (int)i;
        w->fds = calloc(g.nlisteners ? g.nlisteners : 1, sizeof *w->fds);
        if (!w->fds) goto out;
        for (size_t j = 0; j < g.nlisteners; j++) w->fds[j] = -1;
        for (size_t j = 0; j < g.nlisteners; j++)
            if (bind_listener(&cfg->listeners[j], &w->fds[j]) != 0) goto out;
    }
    {
        pt_buf e = PT_BUF_INIT;
        if (pt_accesslog_open(cfg->access_log, &e) != 0) {
            fprintf(stderr, "portico: %s\n", e.data ? e.data : "access_log: cannot open");
            pt_buf_release(&e);
            goto out;
        }
        pt_buf_release(&e);
        g.access_log = cfg->access_log ? strdup(cfg->access_log) : NULL;
    }
    unmatched_metrics = pt_metrics_route("_unmatched", NULL);
    pt_ai_route_metrics_init();
    pt_config_publish(pt_config_acquire(cfg));
    for (unsigned i = 0; i < g.nworkers; i++) {
        if (worker_init(&g.workers[i], &g, cfg) != 0) goto out;
    }

    uv_loop_t *loop = uv_default_loop();
    g.loop = loop;
    uv_signal_init(loop, &g.sighup);
    uv_signal_init(loop, &g.sigterm);
    uv_signal_init(loop, &g.sigint);
    g.sighup.data = g.sigterm.data = g.sigint.data = &g;
    uv_signal_start(&g.sighup, on_signal, SIGHUP);
    uv_signal_start(&g.sigterm, on_signal, SIGTERM);
    uv_signal_start(&g.sigint, on_signal, SIGINT);

    for (unsigned i = 0; i < g.nworkers; i++) uv_thread_create(&g.workers[i].thread, worker_main, &g.workers[i]);
    for (size_t i = 0; i < g.nlisteners; i++)
        pt_log_info("portico %s listening on %s%s with %u worker%s", PT_VERSION, cfg->listeners[i].text,
                    cfg->listeners[i].tls ? " (TLS)" : "", g.nworkers, g.nworkers == 1 ? "" : "s");
    if (g.nlisteners == 0) pt_log_warn("no listeners configured");
    /* Handle signals until SIGTERM/SIGINT starts the drain, then wait for every worker:
     * each thread returns once its loop has closed its last handle. */
    while (!g.draining) uv_run(loop, UV_RUN_ONCE);
    for (unsigned i = 0; i < g.nworkers; i++) uv_thread_join(&g.workers[i].thread);
    uv_close((uv_handle_t *)&g.sighup, NULL);
    uv_close((uv_handle_t *)&g.sigterm, NULL);
    uv_close((uv_handle_t *)&g.sigint, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    pt_log_info("drained; exiting");
    status = 0;
out:
    pt_accesslog_close();
    for (unsigned i = 0; g.workers && i < g.nworkers; i++) {
        worker *w = &g.workers[i];
        if (status != 0) {
            for (size_t j = 0; w->fds && j < g.nlisteners; j++)
                if (w->fds[j] >= 0 && !w->listeners) close(w->fds[j]);
        }
        free(w->fds);
        free(w->listeners);
    }
    for (size_t i = 0; g.ssl && i < g.nlisteners; i++)
        if (g.ssl[i]) SSL_CTX_free(g.ssl[i]);
    free(g.ssl);
    free(g.workers);
    free(g.access_log);
    pt_config_release(cfg);
    pt_config_publish(NULL);
    pt_metrics_free();
    pt_target_registry_free();
    return status;
}
