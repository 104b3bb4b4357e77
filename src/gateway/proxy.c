/* proxy.c: forwards one request to a service (see proxy.h).
 *
 * Life of a proxy: pick a target -> start an exchange -> stream the request body
 * (pausing the client when the upstream queue is above HIGH_MARK) -> stream the
 * response (pausing the upstream when the client queue is above HIGH_MARK) -> done.
 * A failure before anything was sent moves to another target, at most retries times,
 * carrying the body bytes buffered so far. With the service's retry_on (retry.h), a
 * request whose whole body was at hand is sent again after a reset, a timeout or a
 * listed 5xx, from a copy kept for that, while no byte of the answer went out. After the response has started, a failure
 * can only cut the client's response short. When no attempt succeeded, the client's
 * 502 (504 for a timeout) names the last attempt's cause; the target's address and the
 * low-level detail are added only with errors.expose_upstream_address.
 *
 * An upgrade request (req->upgrade) goes upstream with its Connection: Upgrade and
 * Upgrade headers, its body (if any) read whole first. A 101 answer makes the exchange a
 * tunnel (tunnel.h): the client's bytes stream up as a body would, the upstream's down as
 * a response body would, with the same marks for backpressure; any other answer is relayed
 * as a response and the client's connection closes after it.
 *
 * The proxy's state lives in the request pool; a cleanup hook releases its buffers after
 * the access-log line. Every way out (done, failure, client gone) only detaches: stops
 * the upstream exchange and lets go of the connection. */
#include "gateway/proxy.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "gateway/auth.h"
#include "gateway/balancer.h"
#include "gateway/cors.h"
#include "gateway/mask_gate.h"
#include "gateway/validate_gate.h"
#include "gateway/router.h"
#include "gateway/tracing.h"
#include "gateway/tunnel.h"
#include "http/grpc.h"

#define HIGH_MARK (256 * 1024)
#define MAX_TRIES 8
#define BUFFER_BODY_MAX (64 * 1024)

typedef struct proxy {
    pt_conn *conn;
    pt_request *req;
    const pt_route *route;
    pt_service *svc;
    pt_client *client;
    pt_target *target;
    pt_target *tried[MAX_TRIES];
    size_t ntried;
    pt_exchange *x;
    pt_buf path;           /* upstream path + query */
    pt_buf body;           /* body bytes carried to the next attempt */
    pt_buf replay;         /* the whole body, kept for a retry after the request was sent */
    bool body_done, client_paused, began, replayable;
    bool gated;                  /* masking or body logging applies (mask_gate.h) */
    bool validate_body;          /* the body is read whole and checked first (validate_gate.h) */
    bool mask_body, mask_answer; /* a masking policy applies: the body is read whole */
    bool masking;                /* the answer flows through the masking rules */
    bool tunnel;                 /* the upstream accepted the upgrade: raw bytes both ways */
    pt_tunnel_series *tunnel_series;
    int64_t body_len;            /* >= 0: the length sent upstream (a masked body), else the client's framing */
    uint64_t up_start_us;
    pt_trace_attempt span;  /* the current attempt's span when the request is traced */
    /* the last failed attempt, for the client's error */
    int last_err, last_phase;
    const pt_target *last_target;
    char last_detail[256];
} proxy;

static void attempt(proxy *p);
static void respond_failure(proxy *p);
static void tunnel_start(proxy *p, const pt_header *hdrs, size_t n);
static size_t client_headers(const proxy *p, const pt_header *hdrs, size_t n, pt_header *out);

static void end_span(proxy *p, const char *error)
{
    if (p->span.open)
        pt_tracing_proxy_end(pt_conn_info(p->conn)->trace, &p->span, p->req->method_name, p->target,
                             pt_buf_slice(&p->path), error);
}

/* No more upstream I/O for this request (idempotent; touches no connection). */
static void stop_upstream(proxy *p)
{
    end_span(p, "cancelled");
    if (p->x) pt_exchange_cancel(p->x);
    p->x = NULL;
    if (p->began) pt_balancer_end(p->target);
    p->began = false;
}

/* Before the call that ends the request: the proxy wants nothing more from either side. */
static void detach(proxy *p)
{
    stop_upstream(p);
    pt_conn_set_sink(p->conn, NULL);
}

/* The request's cleanup hook: runs after the access-log line. */
static void proxy_cleanup(void *arg)
{
    proxy *p = arg;
    stop_upstream(p);
    if (p->tunnel) pt_tunnel_closed();
    p->tunnel = false;
    pt_buf_release(&p->path);
    pt_buf_release(&p->body);
    pt_buf_release(&p->replay);
}

void pt_proxy_endpoint(const pt_service *svc, const pt_target *t, pt_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    ep->host = t->host;
    ep->port = t->port;
    ep->tls = t->tls;
    ep->sni = svc->sni;
    ep->ca_file = svc->ca_file;
    ep->insecure_skip_verify = svc->insecure_skip_verify;
    ep->h2 = svc->protocol != PT_PROTO_HTTP1;
    if (t->state) {
        ep->open_gauge = &t->state->open_conns;
        ep->idle_gauge = &t->state->idle_conns;
    }
}

static bool name_in(pt_slice name, char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pt_slice_case_eq_cstr(name, list[i])) return true;
    return false;
}

static bool name_in_kv(pt_slice name, const pt_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pt_slice_case_eq_cstr(name, kv[i].name)) return true;
    return false;
}

/* True when `name` is listed as a token of the client's Connection header. */
static bool named_by_connection(pt_slice name, pt_slice conn) { return pt_list_has(conn, name); }

static bool hop_header(pt_slice n)
{
    static const pt_slice names[] = {
        PT_SLICE_LIT("connection"),      PT_SLICE_LIT("keep-alive"),        PT_SLICE_LIT("proxy-connection"),
        PT_SLICE_LIT("te"),              PT_SLICE_LIT("trailer"),           PT_SLICE_LIT("transfer-encoding"),
        PT_SLICE_LIT("upgrade"),         PT_SLICE_LIT("host"),              PT_SLICE_LIT("content-length"),
        PT_SLICE_LIT("expect"),          PT_SLICE_LIT("x-request-id"),      PT_SLICE_LIT("x-forwarded-for"),
        PT_SLICE_LIT("x-forwarded-proto"), PT_SLICE_LIT("x-forwarded-host")
    };
    return pt_slice_case_in(n, names, sizeof names / sizeof *names);
}

/* On a keyed route: whether the client's header n is one the gateway sets itself (the
 * identity headers: a client may not claim another identity). */
static bool identity_header(const pt_auth *a, pt_slice n)
{
    return a && (pt_slice_case_eq_cstr(n, a->h_consumer) || pt_slice_case_eq_cstr(n, a->h_team) ||
                 pt_slice_case_eq_cstr(n, a->h_prefix));
}

static void append_header(pt_buf *h, const char *name, const char *value)
{
    if (!value) return;
    pt_buf_append_str(h, name);
    pt_buf_append(h, ": ", 2);
    pt_buf_append_str(h, value);
    pt_buf_append(h, "\r\n", 2);
}

/* A gRPC call's grpc-timeout as it goes upstream: the time left of the client's deadline,
 * which the gateway's own part of the call (and earlier attempts) used some of, as gRPC
 * servers and proxies pass a deadline on. */
static pt_slice grpc_timeout_left(pt_slice asked, uint64_t deadline, char *buf)
{
    uint64_t now = pt_now_ms();
    return pt_grpc_timeout_left(asked, deadline > now ? deadline - now : 0, buf);
}

/* The upstream request head for target t. Host names the target (as a client of that
 * service would); the client's host travels in X-Forwarded-Host. */
static void build_head(proxy *p, const pt_target *t, pt_buf *h)
{
    const pt_request *r = p->req;
    const pt_route *rt = p->route;
    const pt_req_info *info = pt_conn_info(p->conn);
    const pt_auth *who = info->auth;
    pt_buf_append_slice(h, r->method_name);
    pt_buf_append(h, " ", 1);
    pt_buf_append(h, p->path.data, p->path.len);
    pt_buf_append(h, " HTTP/1.1\r\n", 11);
    pt_http_append_host(h, t->host, t->port, t->tls);
    const pt_header *conn_hdr = pt_request_header(r, "connection");
    const char *subject_h = pt_conn_subject_header(p->conn); /* set by the gateway only */
    pt_slice xff = PT_SLICE_NULL;
    uint64_t deadline = pt_conn_grpc_deadline(p->conn);
    char left[PT_GRPC_TIMEOUT_SIZE];
    for (unsigned i = 0; i < r->nheaders; i++) {
        pt_slice n = r->headers[i].name;
        if (pt_slice_case_eq_cstr(n, "x-forwarded-for")) xff = r->headers[i].value;
        if (hop_header(n)) continue;
        if (pt_auth_is_key_header(who, &r->headers[i]) || identity_header(who, n)) continue; /* never upstream */
        if (subject_h && pt_slice_case_eq_cstr(n, subject_h)) continue;
        if (conn_hdr && named_by_connection(n, conn_hdr->value)) continue;
        if (pt_tracing_own_header(info->trace, n)) continue; /* our own go instead */
        if (name_in(n, rt->req_remove, rt->nreq_remove) || name_in_kv(n, rt->req_add, rt->nreq_add)) continue;
        if (p->mask_answer && pt_slice_case_eq_cstr(n, "accept-encoding")) continue; /* masked as text */
        pt_buf_append_slice(h, n);
        pt_buf_append(h, ": ", 2);
        if (deadline && pt_slice_case_eq_cstr(n, "grpc-timeout"))
            pt_buf_append_slice(h, grpc_timeout_left(r->headers[i].value, deadline, left));
        else
            pt_buf_append_slice(h, r->headers[i].value);
        pt_buf_append(h, "\r\n", 2);
    }
    /* client address without the port */
    const char *peer = pt_conn_peer(p->conn);
    const char *end = strrchr(peer, ':');
    int plen = end ? (int)(end - peer) : (int)strlen(peer);
    if (plen >= 2 && peer[0] == '[') { peer++; plen -= 2; }
    pt_buf_append(h, "X-Forwarded-For: ", 17);
    if (xff.len) {
        pt_buf_append_slice(h, xff);
        pt_buf_append(h, ", ", 2);
    }
    pt_buf_append(h, peer, (size_t)plen);
    pt_buf_append_str(h, pt_conn_is_tls(p->conn) ? "\r\nX-Forwarded-Proto: https\r\n" : "\r\nX-Forwarded-Proto: http\r\n");
    if (r->host.len) {
        pt_buf_append(h, "X-Forwarded-Host: ", 18);
        pt_buf_append_slice(h, r->host);
        pt_buf_append(h, "\r\n", 2);
    }
    pt_buf_append(h, "X-Request-Id: ", 14);
    pt_buf_append_str(h, r->request_id);
    pt_buf_append(h, "\r\n", 2);
    char subject[512];
    if (subject_h && pt_conn_client_subject(p->conn, subject, sizeof subject)) append_header(h, subject_h, subject);
    for (size_t i = 0; i < rt->nreq_add; i++) append_header(h, rt->req_add[i].name, rt->req_add[i].value);
    if (who) {
        append_header(h, who->h_consumer, who->consumer);
        append_header(h, who->h_team, who->team);
        append_header(h, who->h_prefix, who->prefix);
    }
    const pt_header *te = pt_request_header(r, "te");
    if (p->svc->protocol != PT_PROTO_HTTP1 && te && pt_list_has(te->value, PT_SLICE_LIT("trailers")))
        pt_buf_append_str(h, "TE: trailers\r\n"); /* gRPC servers want it; HTTP/2 carries trailers */
    const pt_header *up = p->req->upgrade ? pt_request_header(r, "upgrade") : NULL;
    if (up) { /* the one request whose hop-by-hop Upgrade goes on: the tunnel needs it */
        pt_buf_append_str(h, "Connection: Upgrade\r\nUpgrade: ");
        pt_buf_append_slice(h, up->value);
        pt_buf_append(h, "\r\n", 2);
    }
    if (p->body_len >= 0) {
        pt_buf_append(h, "Content-Length: ", 16);
        pt_buf_append_u64(h, (unsigned long long)p->body_len);
        pt_buf_append(h, "\r\n", 2);
    } else if (r->chunked) {
        pt_buf_append_str(h, "Transfer-Encoding: chunked\r\n");
    } else if (r->content_length >= 0) {
        pt_buf_append(h, "Content-Length: ", 16);
        pt_buf_append_u64(h, (unsigned long long)r->content_length);
        pt_buf_append(h, "\r\n", 2);
    }
    pt_tracing_attempt_start(info->trace, &p->span, h);
    pt_buf_append_str(h, "\r\n");
}

/* --- the client's error -------------------------------------------------- */

/* errors.expose_upstream_address of the configuration in force (read on the error path
 * only, so every request does not pay for it). */
static bool expose_upstream_address(void)
{
    pt_config *cfg = pt_config_current();
    bool on = cfg && cfg->expose_upstream_address;
    pt_config_release(cfg);
    return on;
}

/* Answers with the last attempt's failure, detached first: 504 for a timeout, else 502. The
 * message names the service and the cause; a bad response says what was wrong with it
 * (that detail never names the peer, see client.h). */
static void respond_failure(proxy *p)
{
    pt_conn *conn = p->conn;
    pt_upstream_cause cause = pt_upstream_cause_of(p->last_err, p->last_phase);
    bool expose = expose_upstream_address();
    pt_buf why = PT_BUF_INIT;
    pt_buf_append_str(&why, pt_upstream_cause_text(cause));
    if (cause == PT_UC_BAD_RESPONSE) pt_buf_printf(&why, " (%s)", p->last_detail);
    if (expose && cause != PT_UC_BAD_RESPONSE) pt_buf_printf(&why, " (%s: %s)", p->last_target->url, p->last_detail);
    char sname[128];
    snprintf(sname, sizeof sname, "%s", p->svc->name);
    /* the target lives as long as the registry (balancer.h), so it outlives p */
    pt_error_body more = { .service = sname, .cause = pt_upstream_cause_name(cause), .attempts = (unsigned)p->ntried,
                           .target = expose ? p->last_target->url : NULL };
    bool timeout = p->last_err == PT_ETIMEDOUT;
    pt_log_warn("request %s: answering %d: service '%s' failed after %zu attempt(s): %s", p->req->request_id,
                timeout ? 504 : 502, sname, p->ntried, why.data ? why.data : "");
    detach(p);
    if (timeout)
        pt_conn_respond_error(conn, PT_OUT_UPSTREAM_TIMEOUT, &more, "service '%s' did not answer in time: %s",
                              sname, why.data ? why.data : "");
    else
        pt_conn_respond_error(conn, PT_OUT_UPSTREAM_UNAVAILABLE, &more, "service '%s' is unavailable: %s",
                              sname, why.data ? why.data : "");
    pt_buf_release(&why);
}

/* --- exchange callbacks -------------------------------------------------- */

/* Whether the request may go to another target now that an attempt failed after it was
 * sent (retry.h); takes the retry from the service's budget when it may. */
static bool may_resend(proxy *p)
{
    return p->replayable && !pt_conn_response_started(p->conn) && p->ntried <= p->svc->retries &&
           p->ntried < MAX_TRIES && p->svc->ntargets > p->ntried && pt_retry_take(&p->svc->retry, pt_now_ms());
}

static void resend(proxy *p)
{
    pt_buf_reset(&p->body);
    pt_buf_append(&p->body, p->replay.data ? p->replay.data : "", p->replay.len);
    attempt(p);
}

/* Whether the answer, of the content type in hdrs, flows through the masking rules. */
static bool start_masking(proxy *p, const pt_header *hdrs, size_t n)
{
    pt_slice ctype = PT_SLICE_NULL;
    for (size_t i = 0; i < n && !ctype.ptr; i++)
        if (pt_slice_case_eq_cstr(hdrs[i].name, "content-type")) ctype = hdrs[i].value;
    return p->masking = pt_mask_gate_response_start(pt_conn_info(p->conn), ctype);
}

/* A gRPC answer that does not announce its trailers (RFC 9110 §6.6.2 Trailer): every one
 * ends with grpc-status and grpc-message, so they are known in advance. */
static bool grpc_without_trailer(const pt_header *hdrs, size_t n)
{
    bool grpc = false;
    for (size_t i = 0; i < n; i++) {
        if (pt_slice_case_eq_cstr(hdrs[i].name, "trailer")) return false;
        if (pt_slice_case_eq_cstr(hdrs[i].name, "content-type")) grpc = pt_grpc_content_type(hdrs[i].value);
    }
    return grpc;
}

static void on_head(void *u, int status, const pt_header *hdrs, size_t n, int64_t cl)
{
    proxy *p = u;
    const pt_route *rt = p->route;
    pt_conn_info(p->conn)->ttfb_us = pt_now_us() - p->up_start_us;
    p->span.status = status;
    pt_balancer_report(p->svc, p->target, status < 500, pt_now_ms());
    if (status == 101) {
        tunnel_start(p, hdrs, n);
        return;
    }
    if (pt_retry_on_status(&p->svc->retry, status) && may_resend(p)) {
        pt_log_warn("request %s: service '%s' target %s answered %d: trying another target", p->req->request_id,
                    p->svc->name, p->target->url, status);
        end_span(p, NULL); /* its status says why */
        stop_upstream(p);
        resend(p);
        return;
    }
    pt_header stack[64];
    size_t cap = n + rt->nresp_add + 1;
    pt_header *out = cap <= 64 ? stack : malloc(cap * sizeof *out);
    if (!out) {
        detach(p);
        pt_conn_respond_error(p->conn, PT_OUT_UPSTREAM_ERROR, NULL, "out of memory");
        return;
    }
    if (p->mask_answer && status >= 200 && status != 204 && status != 304 && p->req->method != HTTP_HEAD &&
        start_masking(p, hdrs, n))
        cl = -1; /* masking changes the length */
    size_t k = client_headers(p, hdrs, n, out);
    if (p->svc->protocol != PT_PROTO_HTTP1 && grpc_without_trailer(hdrs, n))
        out[k++] = (pt_header){ PT_SLICE_LIT("trailer"), PT_SLICE_LIT("grpc-status, grpc-message") };
    pt_conn_response_start(p->conn, status, out, k, cl);
    if (out != stack) free(out);
}

/* The upstream's headers the client gets: hop-by-hop ones (named by its Connection
 * header) left out, and an HTTP/1.1 upstream's Trailer, the route's response header edits
 * applied. out holds n + nresp_add entries; returns how many were set. */
static size_t client_headers(const proxy *p, const pt_header *hdrs, size_t n, pt_header *out)
{
    const pt_route *rt = p->route;
    size_t k = 0;
    const pt_header *conn_hdr = NULL;
    for (size_t i = 0; i < n && !conn_hdr; i++)
        if (pt_slice_case_eq_cstr(hdrs[i].name, "connection")) conn_hdr = &hdrs[i];
    bool trailers_dropped = p->svc->protocol == PT_PROTO_HTTP1; /* an HTTP/1.1 upstream's: nothing to announce */
    for (size_t i = 0; i < n; i++) {
        if (conn_hdr && named_by_connection(hdrs[i].name, conn_hdr->value)) continue; /* hop-by-hop */
        if (trailers_dropped && pt_slice_case_eq_cstr(hdrs[i].name, "trailer")) continue;
        if (name_in(hdrs[i].name, rt->resp_remove, rt->nresp_remove)) continue;
        if (rt->cors && pt_cors_replaces_header(hdrs[i].name)) continue; /* the route's cors answers */
        if (name_in_kv(hdrs[i].name, rt->resp_add, rt->nresp_add)) continue;
        out[k++] = hdrs[i];
    }
    for (size_t i = 0; i < rt->nresp_add; i++)
        out[k++] = (pt_header){ pt_slice_cstr(rt->resp_add[i].name), pt_slice_cstr(rt->resp_add[i].value) };
    return k;
}

/* The upstream switched protocols: the 101 goes to the client and both connections turn
 * into a tunnel. A 101 without an Upgrade header, or switching to a protocol the client did
 * not offer (h2c included: never asked for as a tunnel), is a bad response: the client
 * would be left speaking one protocol to a server speaking another. */
static void tunnel_start(proxy *p, const pt_header *hdrs, size_t n)
{
    pt_slice proto = PT_SLICE_NULL;
    for (size_t i = 0; i < n; i++)
        if (pt_slice_case_eq_cstr(hdrs[i].name, "upgrade")) proto = pt_slice_trim(hdrs[i].value);
    const pt_header *offer = pt_request_header(p->req, "upgrade");
    if (!offer || !pt_upgrade_chosen(offer->value, proto)) {
        pt_log_warn("request %s: service '%s' target %s answered 101 switching to '%.*s', which the client did not offer",
                    p->req->request_id, p->svc->name, p->target->url, (int)(proto.len > 64 ? 64 : proto.len),
                    proto.ptr ? proto.ptr : "");
        p->last_err = PT_EPARSE;
        p->last_phase = 2;
        p->last_target = p->target;
        snprintf(p->last_detail, sizeof p->last_detail, "101 Switching Protocols without an Upgrade the client offered");
        respond_failure(p);
        return;
    }
    pt_header stack[64];
    size_t cap = n + p->route->nresp_add;
    pt_header *out = cap <= 64 ? stack : malloc(cap * sizeof *out);
    if (!out) {
        detach(p);
        pt_conn_respond_error(p->conn, PT_OUT_UPSTREAM_ERROR, NULL, "out of memory");
        return;
    }
    size_t k = client_headers(p, hdrs, n, out);
    /* counted first: the client's bytes behind its head go up inside pt_conn_tunnel */
    p->tunnel = true;
    p->tunnel_series = pt_tunnel_opened(p->route->name);
    int rc = pt_conn_tunnel(p->conn, proto, out, k, p->svc->tunnel_idle_ms);
    if (out != stack) free(out);
    if (rc != 0) stop_upstream(p); /* the client's connection is gone or closing: nothing to tunnel to */
}

/* The answer's bytes through the masking rules (when they apply) and kept for the call
 * log (when the route keeps bodies); end: what was held back. */
static int gated_body(proxy *p, const char *data, size_t n, bool end)
{
    pt_req_info *info = pt_conn_info(p->conn);
    pt_buf out = PT_BUF_INIT;
    if (p->masking) {
        if (end) pt_mask_gate_response_end(info, &out);
        else pt_mask_gate_response_body(info, data, n, &out);
        data = out.data;
        n = out.len;
    } else if (end) {
        return 0;
    }
    pt_mask_gate_keep(info, 1, data, n);
    int rc = n ? pt_conn_response_body(p->conn, data, n) : 0;
    pt_buf_release(&out);
    return rc;
}

static void on_body(void *u, const char *data, size_t n)
{
    proxy *p = u;
    if (p->tunnel) pt_tunnel_bytes(p->tunnel_series, false, n);
    bool gated = p->gated && !p->tunnel; /* a tunnel's bytes are not an answer to keep or mask */
    if ((gated ? gated_body(p, data, n, false) : pt_conn_response_body(p->conn, data, n)) != 0) return;
    if (pt_conn_write_queue(p->conn) > HIGH_MARK && p->x) pt_exchange_pause(p->x);
}

static void on_done(void *u)
{
    proxy *p = u;
    pt_conn *conn = p->conn;
    pt_req_info *info = pt_conn_info(conn);
    info->upstream_us = pt_now_us() - p->up_start_us;
    end_span(p, NULL);
    p->x = NULL; /* the client frees a finished exchange */
    detach(p);
    if (p->gated && !p->tunnel && gated_body(p, NULL, 0, true) != 0) return;
    pt_conn_response_end(conn);
}

static void on_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    proxy *p = u;
    pt_conn *conn = p->conn;
    pt_req_info *info = pt_conn_info(conn);
    p->x = NULL;
    end_span(p, pt_upstream_cause_name(pt_upstream_cause_of(err, phase)));
    pt_balancer_report(p->svc, p->target, false, pt_now_ms());
    pt_balancer_end(p->target);
    p->began = false;
    info->upstream_us = pt_now_us() - p->up_start_us;
    pt_log_warn("request %s: service '%s' target %s: %s: %s", p->req->request_id, p->svc->name,
                p->target->url, pt_upstream_cause_name(pt_upstream_cause_of(err, phase)), detail);
    p->last_err = err;
    p->last_phase = phase;
    p->last_target = p->target;
    snprintf(p->last_detail, sizeof p->last_detail, "%s", detail);
    pt_upstream_cause cause = pt_upstream_cause_of(err, phase);
    bool listed = (p->svc->retry.reset && (cause == PT_UC_RESET || cause == PT_UC_CLOSED_BEFORE_HEAD)) ||
                  (p->svc->retry.timeout && cause == PT_UC_FIRST_BYTE_TIMEOUT);
    if (phase == 1 && listed && may_resend(p)) {
        resend(p);
        return;
    }
    if (phase == 0 && !pt_conn_response_started(conn) && p->ntried <= p->svc->retries &&
        p->ntried < MAX_TRIES) {
        if (unsent && unsent->len) { /* carry what the client sent so far */
            pt_buf rest = p->body;
            pt_buf_init(&p->body, 0);
            pt_buf_append(&p->body, unsent->data, unsent->len);
            pt_buf_append(&p->body, rest.data ? rest.data : "", rest.len);
            pt_buf_release(&rest);
        }
        attempt(p);
        return;
    }
    if (pt_conn_response_started(conn)) {
        info->outcome = PT_OUT_UPSTREAM_ABORTED;
        detach(p);
        pt_conn_response_abort(conn);
        return;
    }
    respond_failure(p);
}

/* HTTP/2 upstreams: the answer's trailers (gRPC's status) go to the client as trailers. */
static void on_trailers(void *u, const pt_header *hdrs, size_t n)
{
    proxy *p = u;
    /* What masking held back goes out before the trailers: no body byte may follow them. */
    if (p->masking) {
        if (gated_body(p, NULL, 0, true) != 0) return;
        p->masking = false; /* on_done has nothing left to flush */
    }
    pt_conn_response_trailers(p->conn, hdrs, n);
}

static void on_up_drain(void *u)
{
    proxy *p = u;
    if (p->client_paused) {
        p->client_paused = false;
        pt_conn_resume_body(p->conn);
    }
}

static void on_flush(void *u)
{
    proxy *p = u;
    pt_conn_flush(p->conn);
}

static const pt_exchange_cb exchange_cb = { on_head, on_body, on_done, on_error, on_up_drain, on_flush, on_trailers };

/* --- client body sink ---------------------------------------------------- */

static void sink_body(void *h, const char *data, size_t n)
{
    proxy *p = h;
    if (p->tunnel) pt_tunnel_bytes(p->tunnel_series, true, n);
    else if (p->gated && !p->mask_body) pt_mask_gate_keep(pt_conn_info(p->conn), 0, data, n);
    if (!p->x) {
        pt_buf_append(&p->body, data, n);
        /* buffered first (see pt_proxy_start) until it is clearly not small: then stream;
         * an upgrade request's body goes whole, so the tunnel starts after all of it */
        if (!p->ntried && !p->mask_body && !p->validate_body && !p->req->upgrade && p->body.len > BUFFER_BODY_MAX)
            attempt(p);
        return;
    }
    if (pt_exchange_body(p->x, data, n) > HIGH_MARK) {
        p->client_paused = true;
        pt_conn_pause_body(p->conn);
    }
}

/* The whole body, masked before it goes anywhere; false when refused (answered). */
static bool mask_request(proxy *p)
{
    pt_buf out = PT_BUF_INIT;
    char msg[320];
    int rc = pt_mask_gate_request_body(pt_conn_info(p->conn), p->body.data, p->body.len, &out, msg, sizeof msg);
    if (rc < 0) {
        pt_buf_release(&out);
        detach(p);
        pt_conn_respond_error(p->conn, PT_OUT_MASK_REFUSED, NULL, "%s", msg);
        return false;
    }
    if (rc == 1) {
        pt_buf_release(&p->body);
        p->body = out;
    } else {
        pt_buf_release(&out);
    }
    p->body_len = (int64_t)p->body.len;
    pt_mask_gate_keep(pt_conn_info(p->conn), 0, p->body.data, p->body.len);
    return true;
}

/* The whole body against the operation's schema; false when refused (answered 400). */
static bool validate_request(proxy *p)
{
    char msg[400];
    if (pt_validate_gate_body(p->req, p->route, p->body.data, p->body.len, msg, sizeof msg) == 0) return true;
    detach(p);
    pt_conn_respond_error(p->conn, PT_OUT_REQUEST_INVALID, NULL, "%s", msg);
    return false;
}

static void sink_body_end(void *h)
{
    proxy *p = h;
    p->body_done = true;
    if (p->x) pt_exchange_body_end(p->x);
    else if (!p->ntried && (!p->validate_body || validate_request(p)) && (!p->mask_body || mask_request(p)))
        attempt(p); /* buffered first */
}

static void sink_drain(void *h)
{
    proxy *p = h;
    if (p->x) pt_exchange_resume(p->x);
}

static void sink_abort(void *h)
{
    proxy *p = h;
    pt_req_info *info = pt_conn_info(p->conn);
    if (!info->outcome) info->outcome = PT_OUT_CLIENT_CLOSED;
    if (p->tunnel) info->upstream_us = pt_now_us() - p->up_start_us; /* idle timeout, drain: the tunnel's life */
    stop_upstream(p);
}

/* --- attempts -------------------------------------------------------------- */

static bool idempotent(int m)
{
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_PUT || m == HTTP_DELETE || m == HTTP_OPTIONS ||
           m == HTTP_TRACE;
}

static void attempt(proxy *p)
{
    pt_conn *conn = p->conn;
    pt_req_info *info = pt_conn_info(conn);
    pt_target *t = pt_balancer_pick(p->svc, p->tried, p->ntried, pt_now_ms());
    if (!t && p->last_target) { /* every target it could try failed: say why the last did */
        respond_failure(p);
        return;
    }
    if (!t) {
        detach(p); /* p stays readable until the request's cleanup: its pool holds it */
        pt_conn_respond_error(conn, PT_OUT_UPSTREAM_UNAVAILABLE, &(pt_error_body){ .service = p->svc->name },
                              p->svc->ntargets == 0 ? "service '%s' has no targets"
                                                    : "service '%s' is unavailable: no target is available",
                              p->svc->name);
        return;
    }
    p->target = t;
    p->tried[p->ntried++] = t;
    info->target = t->url; /* targets live as long as the registry (balancer.h) */
    pt_balancer_begin(t);
    p->began = true;
    pt_buf head = PT_BUF_INIT;
    build_head(p, t, &head);
    pt_endpoint ep;
    pt_proxy_endpoint(p->svc, t, &ep);
    pt_exchange_opts o = {
        .connect_timeout_ms = p->svc->connect_timeout_ms,
        .first_byte_timeout_ms = p->svc->first_byte_timeout_ms,
        .idle_timeout_ms = p->svc->idle_timeout_ms,
        .pool_idle_ms = p->svc->pool_idle_ms,
        .pool_max_idle = p->svc->pool_max_idle,
        .head_request = p->req->method == HTTP_HEAD,
        .chunked_body = p->req->chunked && p->body_len < 0,
        .has_body = pt_conn_has_body(conn),
        .idempotent = idempotent(p->req->method),
        .upgrade = p->req->upgrade,
    };
    if (!p->up_start_us) p->up_start_us = pt_now_us();
    /* the body at hand (buffered, or carried from a failed attempt) goes with the head */
    pt_buf carried = p->body;
    pt_buf_init(&p->body, 0);
    /* the first attempt decides whether a resend is possible: the whole body is at hand */
    if (p->ntried == 1 && pt_retry_any(&p->svc->retry) && idempotent(p->req->method) &&
        (p->body_done || !pt_conn_has_body(conn))) {
        p->replayable = true;
        if (carried.len) pt_buf_append(&p->replay, carried.data, carried.len);
    }
    o.body = carried.data;
    o.body_len = carried.len;
    o.body_complete = p->body_done;
    pt_exchange *x = pt_exchange_start(p->client, &ep, &o, head.data, head.len, &exchange_cb, p);
    pt_buf_release(&head);
    pt_buf_release(&carried);
    if (!x) { /* not even allocated: no callback will come, so answer here */
        detach(p);
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    p->x = x;
}

void pt_proxy_start(pt_conn *conn, pt_request *req, const pt_route *route, pt_client *client)
{
    pt_req_info *info = pt_conn_info(conn);
    proxy *p = pt_req_alloc(req, sizeof *p);
    if (!p || pt_req_cleanup_add(req, proxy_cleanup, p) != 0) {
        pt_conn_respond_error(conn, PT_OUT_OUT_OF_MEMORY, NULL, "the gateway is out of memory");
        return;
    }
    p->conn = conn;
    p->req = req;
    p->route = route;
    p->svc = route->service;
    p->client = client;
    p->body_len = -1;
    p->gated = info->mask != NULL;
    p->mask_body = info->mask && pt_mask_gate_wants_request(info) && pt_conn_has_body(conn);
    p->mask_answer = info->mask && pt_mask_gate_wants_response(info);
    p->validate_body = route->validate && pt_conn_has_body(conn) && pt_validate_gate_wants_body(req, route);
    info->route = route->name;
    info->service = p->svc ? p->svc->name : NULL;
    info->route_metrics = route->metrics;
    if (pt_router_upstream_path(route, req, &p->path) != 0) {
        pt_conn_respond_error(conn, PT_OUT_URI_TOO_LONG, NULL, "the rewritten path is too long");
        return;
    }
    const pt_auth *who = info->auth;
    if (who && who->route_key_query) pt_auth_strip_query(&p->path, who->route_key_query);
    if (!p->svc) {
        pt_conn_respond_error(conn, PT_OUT_ROUTE_WITHOUT_SERVICE, NULL, "route '%s' has no service", route->name);
        return;
    }
    if (req->upgrade && info->mask && (p->mask_answer || pt_mask_gate_wants_request(info))) {
        pt_tunnel_refuse(conn, req, "masking policies apply to route '%s' and a tunnel's bytes cannot be masked",
                         route->name);
        return;
    }
    bool grpc = pt_conn_is_grpc(conn);
    if (grpc && p->svc->protocol == PT_PROTO_HTTP1) {
        pt_conn_respond_error(conn, PT_OUT_UPSTREAM_PROTOCOL, &(pt_error_body){ .service = p->svc->name },
                              "service '%s' is spoken to in HTTP/1.1 and gRPC needs HTTP/2: set protocol: h2 "
                              "(or h2c) on the service",
                              p->svc->name);
        return;
    }
    if (pt_retry_any(&p->svc->retry)) pt_retry_count_request(&p->svc->retry, pt_now_ms());
    pt_body_sink sink = { p, sink_body, sink_body_end, sink_drain, sink_abort };
    pt_conn_set_sink(conn, &sink);
    if (pt_conn_has_body(conn)) pt_conn_continue(conn);
    /* A body is read first, up to BUFFER_BODY_MAX, and sent with the head: one write
     * upstream, no upstream connection held while a slow client uploads, and a body that
     * turns out malformed (a bad chunk) never reaches the upstream at all. A larger body
     * streams from the moment it passes the mark (a known large length: at once). A gRPC
     * call streams from the start: its messages may wait on the answers (bidi). */
    bool small = (!grpc && (req->chunked || (req->content_length > 0 &&
                                             (req->content_length <= BUFFER_BODY_MAX || req->upgrade)))) ||
                 p->mask_body || p->validate_body;
    if (small) return;
    attempt(p);
}
