/* admin.c: the admin API's thread, loop, listener and HTTP glue (see admin.h). Requests
 * are read whole (at most PT_ADMIN_MAX_BODY), answered by api.c, written as JSON (the export as YAML). */
#include "admin/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "admin/api.h"
#include "admin/auth.h"
#include "console/console.h"
#include "core/log.h"
#include "store/store.h"

struct pt_admin {
    uv_loop_t loop;
    uv_tcp_t tcp;
    uv_async_t stop;
    pt_server srv;
    uv_thread_t thread;
    uv_sem_t ready;
    bool thread_started;
    char *data_dir;
    char *store_url;
    char *calls_path;
    char limits_path[4096];
    char node_id[256];
    pt_admin_api api;
    int start_rc;
    char why[512];
    char where[128];
    pt_signin_brake brake;
    pt_netmask *trusted;     /* proxies whose forwarding headers are believed */
    size_t ntrusted;
};

/* One request being read: its body so far. Lives in the request pool. */
typedef struct areq {
    pt_admin *a;
    pt_conn *c;
    pt_request *req;
    pt_buf body;
    bool gone;
} areq;

/* Writes the answer: JSON from body, or raw bytes of their own content type (the exports);
 * a call log export that stopped short says where to go on in X-Next-Cursor. */
static void send_answer(pt_conn *c, const pt_admin_resp *r)
{
    char *text = r->body ? json_dumps(r->body, JSON_COMPACT) : NULL;
    if (r->body && !text) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "out of memory");
        return;
    }
    const char *ctype = r->raw ? r->content_type : "application/json";
    char etag[32], retry[24];
    pt_header h[8];
    size_t n = 0;
    h[n++] = (pt_header){PT_SLICE_LIT("Content-Type"), {ctype, strlen(ctype)}};
    h[n++] = (pt_header){PT_SLICE_LIT("Cache-Control"), PT_SLICE_LIT("no-store")};
    if (r->etag > 0) {
        int len = snprintf(etag, sizeof etag, "\"%lld\"", (long long)r->etag);
        h[n++] = (pt_header){PT_SLICE_LIT("ETag"), {etag, (size_t)len}};
    }
    if (r->www_authenticate)
        h[n++] = (pt_header){PT_SLICE_LIT("WWW-Authenticate"), PT_SLICE_LIT("Bearer realm=\"portico-admin\"")};
    if (r->raw && r->next_cursor[0]) h[n++] = (pt_header){PT_SLICE_LIT("X-Next-Cursor"), pt_slice_cstr(r->next_cursor)};
    if (r->missing_nodes[0])
        h[n++] = (pt_header){PT_SLICE_LIT("X-Portico-Missing-Nodes"), pt_slice_cstr(r->missing_nodes)};
    if (r->set_cookie[0]) h[n++] = (pt_header){PT_SLICE_LIT("Set-Cookie"), pt_slice_cstr(r->set_cookie)};
    if (r->retry_after > 0) {
        int len = snprintf(retry, sizeof retry, "%lld", (long long)r->retry_after);
        h[n++] = (pt_header){PT_SLICE_LIT("Retry-After"), {retry, (size_t)len}};
    }
    size_t len = text ? strlen(text) + 1 : r->raw ? r->raw_len : 0;
    bool has_body = r->body || r->raw;
    /* without a body (204) there is no Content-Type to send */
    pt_conn_response_start(c, r->status, has_body ? h : h + 1, has_body ? n : n - 1, (int64_t)len);
    if (text) {
        pt_conn_response_body(c, text, len - 1);
        pt_conn_response_body(c, "\n", 1);
    } else if (r->raw && r->raw_len) {
        pt_conn_response_body(c, r->raw, r->raw_len);
    }
    free(text);
    pt_conn_response_end(c);
}

static void slice_or_null(const pt_request *req, const char *name, const char **p, size_t *n)
{
    const pt_header *h = pt_request_header(req, name);
    *p = h ? h->value.ptr : NULL;
    *n = h ? h->value.len : 0;
}

/* The console's files: every answer with its security headers (errors included). */
static void serve_console(areq *r, const char *method)
{
    const char *inm;
    size_t inm_len;
    slice_or_null(r->req, "if-none-match", &inm, &inm_len);
    pt_console_resp cr;
    pt_console_serve(method, r->req->path.ptr, r->req->path.len, inm, inm_len, &cr);
    pt_header h[12];
    size_t n = 0;
    for (size_t i = 0; i < pt_console_nsecurity_headers; i++)
        h[n++] = (pt_header){pt_slice_cstr(pt_console_security_headers[i].name), pt_slice_cstr(pt_console_security_headers[i].value)};
    h[n++] = (pt_header){PT_SLICE_LIT("Content-Type"), pt_slice_cstr(cr.content_type)};
    h[n++] = (pt_header){PT_SLICE_LIT("Cache-Control"), cr.asset ? PT_SLICE_LIT("no-cache") : PT_SLICE_LIT("no-store")};
    if (cr.asset) h[n++] = (pt_header){PT_SLICE_LIT("ETag"), pt_slice_cstr(cr.asset->etag)};
    if (cr.allow) h[n++] = (pt_header){PT_SLICE_LIT("Allow"), pt_slice_cstr(cr.allow)};
    pt_conn_set_sink(r->c, NULL);
    pt_conn_response_start(r->c, cr.status, h, n, (int64_t)cr.body_len);
    if (cr.body_len) pt_conn_response_body(r->c, cr.body, cr.body_len);
    pt_conn_response_end(r->c);
}

/* The client's address without its port, for the sign-in brake. */
static void peer_address(pt_conn *c, char *out, size_t cap)
{
    const char *p = pt_conn_peer(c);
    snprintf(out, cap, "%s", p ? p : "");
    char *colon = strrchr(out, ':');
    if (colon && (out[0] == '[' || strchr(out, ':') == colon)) *colon = 0;
}

/* Whether the client reached us over https: this listener's TLS, or a trusted proxy's word
 * for its own (X-Forwarded-Proto, Forwarded); anyone else's such headers are ignored. */
static bool over_https(areq *r, const char *peer)
{
    if (pt_conn_is_tls(r->c)) return true;
    if (!pt_netmask_any(r->a->trusted, r->a->ntrusted, peer)) return false;
    const char *f, *x;
    size_t fn, xn;
    slice_or_null(r->req, "forwarded", &f, &fn);
    slice_or_null(r->req, "x-forwarded-proto", &x, &xn);
    return pt_session_forwarded_https(f, fn, x, xn);
}

static void serve(areq *r)
{
    char method[16], peer[80];
    snprintf(method, sizeof method, "%.*s", PT_SLICE_ARG(r->req->method_name));
    if (pt_console_owns(r->req->path.ptr, r->req->path.len)) {
        serve_console(r, method);
        return;
    }
    peer_address(r->c, peer, sizeof peer);
    pt_admin_req rq = {.method = method,
                       .path = r->req->path.ptr, .path_len = r->req->path.len,
                       .query = r->req->query.ptr, .query_len = r->req->query.len,
                       .body = r->body.data ? r->body.data : "", .body_len = r->body.len,
                       .peer = peer, .tls = over_https(r, peer)};
    slice_or_null(r->req, "authorization", &rq.authorization, &rq.authorization_len);
    slice_or_null(r->req, "if-match", &rq.if_match, &rq.if_match_len);
    slice_or_null(r->req, "cookie", &rq.cookie, &rq.cookie_len);
    slice_or_null(r->req, "x-csrf-token", &rq.csrf, &rq.csrf_len);
    pt_admin_resp resp;
    pt_admin_handle(&r->a->api, &rq, &resp);
    pt_conn_set_sink(r->c, NULL);
    send_answer(r->c, &resp);
    json_decref(resp.body);
    free(resp.raw);
}

static void on_body(void *h, const char *data, size_t n)
{
    areq *r = h;
    if (pt_buf_append(&r->body, data, n) != 0 && !r->gone) {
        r->gone = true;
        pt_conn_set_sink(r->c, NULL);
        pt_conn_respond_error(r->c, PT_OUT_BODY_TOO_LARGE, NULL, "the request body is larger than %d bytes",
                              PT_ADMIN_MAX_BODY);
    }
}

static void on_body_end(void *h)
{
    areq *r = h;
    if (!r->gone) serve(r);
}

static void on_abort(void *h) { ((areq *)h)->gone = true; }

static void release_body(void *p) { pt_buf_release(&((areq *)p)->body); }

static void dispatch(pt_conn *c, pt_request *req, void *arg)
{
    if (req->upgrade) { /* answered, not ignored: a client must not think it switched */
        pt_conn_respond_error(c, PT_OUT_UPGRADE_REFUSED, NULL, "the admin API does not switch protocols");
        return;
    }
    areq *r = pt_req_alloc(req, sizeof *r);
    if (!r || pt_req_cleanup_add(req, release_body, r) != 0) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "out of memory");
        return;
    }
    r->a = arg;
    r->c = c;
    r->req = req;
    pt_buf_init(&r->body, PT_ADMIN_MAX_BODY);
    pt_conn_info(c)->route = "admin";
    if (!pt_conn_has_body(c)) {
        serve(r);
        return;
    }
    static const pt_body_sink sink_ops = {NULL, on_body, on_body_end, NULL, on_abort};
    pt_body_sink sink = sink_ops;
    sink.h = r;
    pt_conn_set_sink(c, &sink);
    pt_conn_continue(c);
}

/* Errors the server raises itself (413, 408, 400 framing) in the admin API's shape. */
static bool render_error(const pt_request *req, pt_outcome o, const char *msg, pt_buf *body, const char **ctype,
                         void *arg)
{
    json_t *j = pt_admin_error_json(pt_outcome_log_name(o), NULL, msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return false;
    pt_buf_append_str(body, text);
    pt_buf_append_str(body, "\n");
    free(text);
    *ctype = "application/json";
    return true;
}

static void on_connection(uv_stream_t *s, int status)
{
    pt_admin *a = s->data;
    if (status == 0) pt_server_accept(&a->srv, s, NULL, false);
}

static void on_stop(uv_async_t *h)
{
    pt_admin *a = h->data;
    uv_close((uv_handle_t *)&a->tcp, NULL);
    uv_close((uv_handle_t *)&a->stop, NULL);
    pt_server_close_all(&a->srv);
}

static void thread_main(void *arg)
{
    pt_admin *a = arg;
    pt_log_set_thread_name("admin");
    pt_store_error e;
    /* with PostgreSQL the node's own files (admin-token, the call log) still live here */
    if (a->store_url && mkdir(a->data_dir, 0700) != 0 && errno != EEXIST)
        pt_log_warn("admin: data_dir %s cannot be created: %s", a->data_dir, strerror(errno));
    a->api.st = pt_store_open(a->data_dir, a->store_url, &e);
    bool created = false;
    if (!a->api.st && a->store_url) {
        snprintf(a->why, sizeof a->why, "admin: cannot open the store: %s", e.message);
        a->start_rc = -1;
    } else if (!a->api.st) {
        snprintf(a->why, sizeof a->why, "admin: cannot open the store in %s: %s", a->data_dir, e.message);
        a->start_rc = -1;
    } else if (pt_admin_bootstrap(a->api.st, a->data_dir, &created, a->why, sizeof a->why) != 0) {
        a->start_rc = -1;
    }
    if (created)
        pt_log_info("admin: first start: created user 'admin' and wrote its bearer token to %s/admin-token "
                    "(mode 0600); set a password with PATCH /admin/v1/users/admin", a->data_dir);
    uv_sem_post(&a->ready);
    if (a->start_rc == 0) {
        pt_log_info("admin API listening on http://%s/admin/v1/", a->where);
        pt_log_info("console at http://%s/console/ (first sign-in: the token in %s/admin-token, "
                    "then set a password)", a->where, a->data_dir);
        uv_run(&a->loop, UV_RUN_DEFAULT);
    }
    pt_store_close(a->api.st);
    a->api.st = NULL;
    sqlite3_close(a->api.calls);
    a->api.calls = NULL;
}

static int bind_listener(pt_admin *a, const pt_admin_opts *o)
{
    struct sockaddr_storage ss;
    int rc = uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&ss);
    if (rc != 0) rc = uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&ss);
    if (rc == 0) rc = uv_tcp_init(&a->loop, &a->tcp);
    if (rc != 0) return rc;
    a->tcp.data = a;
    rc = uv_tcp_bind(&a->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&a->tcp, 128, on_connection);
    return rc;
}

/* Closes whatever the loop still holds (the thread never ran it, or has finished). */
static void free_admin(pt_admin *a)
{
    if (!uv_is_closing((uv_handle_t *)&a->tcp)) uv_close((uv_handle_t *)&a->tcp, NULL);
    if (!uv_is_closing((uv_handle_t *)&a->stop)) uv_close((uv_handle_t *)&a->stop, NULL);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    uv_sem_destroy(&a->ready);
    free(a->data_dir);
    free(a->store_url);
    free(a->calls_path);
    free(a->trusted);
    free(a);
}

pt_admin *pt_admin_start(const pt_admin_opts *o, pt_buf *err)
{
    pt_admin *a = calloc(1, sizeof *a);
    if (!a || !(a->data_dir = strdup(o->data_dir)) || uv_loop_init(&a->loop) != 0) {
        pt_buf_printf(err, "admin: out of memory");
        if (a) free(a->data_dir);
        free(a);
        return NULL;
    }
    uv_sem_init(&a->ready, 0);
    uv_async_init(&a->loop, &a->stop, on_stop);
    a->stop.data = a;
    snprintf(a->where, sizeof a->where, strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, o->port);
    int rc = bind_listener(a, o);
    if (rc != 0) {
        pt_buf_printf(err, "admin: cannot listen on %s: %s", a->where, uv_strerror(rc));
        free_admin(a);
        return NULL;
    }
    if (o->ntrusted_proxies && (a->trusted = malloc(o->ntrusted_proxies * sizeof *a->trusted))) {
        memcpy(a->trusted, o->trusted_proxies, o->ntrusted_proxies * sizeof *a->trusted);
        a->ntrusted = o->ntrusted_proxies;
    }
    if ((o->calls_path && !(a->calls_path = strdup(o->calls_path))) ||
        (o->store_url && !(a->store_url = strdup(o->store_url))) || a->ntrusted != o->ntrusted_proxies) {
        pt_buf_printf(err, "admin: out of memory");
        free_admin(a);
        return NULL;
    }
    a->api.calls_path = a->calls_path;
    snprintf(a->node_id, sizeof a->node_id, "%s", o->node_id ? o->node_id : "");
    a->api.node_id = a->node_id;
    /* where the gateway keeps quota and budget totals (gateway/limits_gate.c) */
    snprintf(a->limits_path, sizeof a->limits_path, "%s/limits.db", o->data_dir ? o->data_dir : ".");
    a->api.limits_path = a->limits_path;
    a->api.on_change = o->on_change;
    a->api.check_service = o->check_service;
    a->api.check_policy = o->check_policy;
    a->api.describe = o->describe;
    a->api.render_prompt = o->render_prompt;
    a->api.arg = o->arg;
    a->api.session_idle_s = o->session_idle_s;
    a->api.session_max_s = o->session_max_s;
    a->api.brake = &a->brake;
    pt_server_init(&a->srv, &a->loop);
    a->srv.limits = o->limits;
    if (!a->srv.limits.max_body_bytes || a->srv.limits.max_body_bytes > PT_ADMIN_MAX_BODY)
        a->srv.limits.max_body_bytes = PT_ADMIN_MAX_BODY;
    a->srv.dispatch = dispatch;
    a->srv.render_error = render_error;
    a->srv.arg = a;
    if (uv_thread_create(&a->thread, thread_main, a) != 0) {
        pt_buf_printf(err, "admin: cannot start its thread");
        free_admin(a);
        return NULL;
    }
    uv_sem_wait(&a->ready);
    if (a->start_rc != 0) {
        uv_thread_join(&a->thread);
        pt_buf_printf(err, "%s", a->why);
        free_admin(a);
        return NULL;
    }
    return a;
}

void pt_admin_stop(pt_admin *a)
{
    if (!a) return;
    uv_async_send(&a->stop);
    uv_thread_join(&a->thread);
    free_admin(a);
}
