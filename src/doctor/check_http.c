/* check_http.c: the doctor's "http" check: one real request to the URL (GET, Connection: close)
 * with curl-style timing phases (connect, TLS, first byte, total), the status, and where a
 * redirect points. 5xx is a failure (and when a proxy or gateway answered, says so), 4xx a
 * warning. For MCP endpoints a plain GET is only a reachability test: 405/406/400 are what a
 * Streamable HTTP endpoint answers, and the mcp check does the real handshake. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/check.h"
#include "doctor/probe_http.h"
#include "doctor/probe_net.h"

/* Stop at the head for event streams (they may never end) and for bodies past what we keep. */
static bool enough(const pt_dr_http_resp *r, void *arg)
{
    (void)arg;
    return r->is_sse || r->truncated;
}

static void timing_json(json_t *ev, const pt_dr_http_timing *tm)
{
    json_t *o = json_object();
    json_object_set_new(o, "connect_ms", json_real(tm->connect_ms));
    json_object_set_new(o, "tls_ms", json_real(tm->tls_ms));
    json_object_set_new(o, "first_byte_ms", json_real(tm->first_byte_ms));
    json_object_set_new(o, "total_ms", json_real(tm->total_ms));
    json_object_set_new(ev, "timing", o);
}

static void headers_json(json_t *ev, const pt_dr_http_resp *r)
{
    static const char *keep[] = { "Server", "Location", "Content-Type", "Content-Length", "Via", "WWW-Authenticate",
                                  "Allow", "X-Squid-Error" };
    json_t *h = json_object();
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        const char *v = pt__dr_http_header(r, keep[i]);
        if (v) json_object_set_new(h, keep[i], json_string(v));
    }
    json_object_set_new(ev, "headers", h);
}

/* A 5xx that came from a proxy or gateway in front of the app, not from the app. */
static const char *proxy_answer(const pt_dr_http_resp *r)
{
    const char *via = pt__dr_http_header(r, "Via");
    const char *sv = pt__dr_http_header(r, "Server");
    if (pt__dr_http_header(r, "X-Squid-Error")) return "squid";
    if (via) return via;
    if (sv && (strcasestr(sv, "squid") || strcasestr(sv, "zscaler") || strcasestr(sv, "envoy") ||
               strcasestr(sv, "nginx") || strcasestr(sv, "cloudflare") || strcasestr(sv, "haproxy")))
        return sv;
    return NULL;
}

static void verdict(pt_dr_ctx *ctx, pt_dr_result *res, const pt_dr_http_resp *r, const pt_dr_http_timing *tm)
{
    const pt_dr_target *t = ctx->target;
    bool mcp = (t->mode & PT_DR_MODE_MCP) != 0;
    int s = r->status;
    const char *loc = pt__dr_http_header(r, "Location");
    char head[240], tls[40] = "";
    if (tm->tls_ms > 0) snprintf(tls, sizeof tls, ", TLS %.1f ms", tm->tls_ms);
    snprintf(head, sizeof head, "GET %s: %d %s in %.1f ms (connect %.1f ms%s, first byte %.1f ms)",
             t->path ? t->path : "/", s, r->reason, tm->total_ms, tm->connect_ms, tls, tm->first_byte_ms);
    if (s >= 500) {
        const char *px = proxy_answer(r);
        pt_dr_set(res, PT_DR_FAIL, "http_error_status", 70, "%s", head);
        if (px)
            pt_dr_remedy(res, "The answer came from a proxy or gateway (%s), not necessarily the app: a 502/503/504 "
                         "there means it could not reach the app behind it; check the proxy's upstream and the "
                         "proxy environment (see proxy_env).", px);
        pt_dr_remedy(res, "The server failed on this request: check its log around this time.");
    } else if (s >= 400) {
        if (mcp && (s == 405 || s == 406 || s == 400 || s == 404)) {
            pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s; an MCP endpoint may refuse a plain GET (see mcp)", head);
        } else {
            pt_dr_set(res, PT_DR_WARN, "http_error_status", 40, "%s", head);
            if (s == 401 || s == 403)
                pt_dr_remedy(res, "The server wants credentials for %s (WWW-Authenticate: %s).",
                             t->path ? t->path : "/",
                             pt__dr_http_header(r, "WWW-Authenticate") ? pt__dr_http_header(r, "WWW-Authenticate")
                                                                        : "not sent");
            else if (s == 404)
                pt_dr_remedy(res, "Nothing at %s on this server; common health paths are /health, /healthz, /livez, "
                             "/readyz, /status, /ping, /actuator/health.", t->path ? t->path : "/");
        }
    } else if (s >= 300) {
        pt_dr_set(res, PT_DR_INFO, NULL, 0, "%s, redirects to %s", head, loc ? loc : "(no Location)");
        if (loc && strncmp(loc, "https://", 8) == 0 && !t->tls)
            pt_dr_remedy(res, "The server redirects plain HTTP to HTTPS: use %s directly.", loc);
    } else {
        pt_dr_set(res, PT_DR_PASS, NULL, 0, "%s", head);
    }
}

static void run(pt_dr_ctx *ctx, pt_dr_result *res)
{
    const pt_dr_target *t = ctx->target;
    char addr[64], err[300], auth[300];
    if (!pt__dr_http_prepare(ctx, res, addr, sizeof addr, auth, sizeof auth)) return;
    /* The protocol check's request already outlasted the timeout: a second one would too. */
    json_t *hr = json_object_get(ctx->facts, "http_request");
    if (hr && !t->tls) {
        pt_dr_skip(res, "a request to this port got no answer within %u ms (see unresponsive)", ctx->opts->timeout_ms);
        return;
    }
    pt_dr_http_req req = { .method = "GET", .path = t->path ? t->path : "/", .host = auth, .body_cap = 16384,
                           .enough = enough };
    pt_dr_http_resp r;
    pt_dr_http_timing tm;
    int rc = pt__dr_http_do(addr, t->port, t->tls, t->host, &req, pt__dr_deadline(ctx->opts->timeout_ms), &r, &tm,
                            err, sizeof err);
    json_t *ev = pt__dr_evidence(res);
    json_object_set_new(ev, "address", json_string(addr));
    json_object_set_new(ev, "request", json_pack("{s:s,s:s}", "method", "GET", "path", req.path));
    timing_json(ev, &tm);
    if (t->tls) json_object_set_new(ev, "certificate_verified", json_false()); /* the tls check does that */
    if (rc != 0) {
        json_object_set_new(ev, "error", json_string(err));
        if (rc == PT_ETIMEDOUT) {
            pt_dr_set(res, PT_DR_FAIL, "handler_hung", 60, "GET %s on %s: %s", req.path, auth, err);
            /* over TLS the request is not kept open past the timeout, so slow and hung look alike here */
            pt_dr_remedy(res, "If it is only slow, a longer wait tells: rerun with --timeout %u.",
                         ctx->opts->timeout_ms * 5);
        } else
            pt_dr_set(res, PT_DR_FAIL, "http_no_response", 55, "GET %s on %s: %s", req.path, auth, err);
        goto out;
    }
    json_object_set_new(ev, "status", json_integer(r.status));
    json_object_set_new(ev, "reason", json_string(r.reason));
    headers_json(ev, &r);
    if (r.is_sse) json_object_set_new(ev, "event_stream", json_true());
    verdict(ctx, res, &r, &tm);
out:
    pt__dr_http_resp_release(&r);
}

const pt_dr_check pt_dr_check_http = {
    .id = "http",
    .title = "HTTP request",
    .modes = PT_DR_MODE_HTTP | PT_DR_MODE_MCP,
    .run = run,
};
