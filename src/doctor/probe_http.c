/* probe_http.c: one HTTP/1.1 exchange per connection for the doctor's http and mcp checks,
 * with llhttp parsing the response and an SSE parser fed when the body is an event stream. */
#include "doctor/probe_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"
#include "core/log.h"
#include "doctor/probe_fp.h"

#define RAW_KEEP 512
#define HEAD_CAP (16 * 1024)

static pt_dr_http_resp *of(llhttp_t *p) { return p->data; }

static int on_status(llhttp_t *p, const char *at, size_t n)
{
    pt_dr_http_resp *r = of(p);
    size_t have = strlen(r->reason);
    size_t room = sizeof r->reason - 1 - have;
    if (n > room) n = room;
    memcpy(r->reason + have, at, n);
    r->reason[have + n] = '\0';
    return 0;
}

/* Headers past PT_DR_HTTP_MAX_HEADERS are dropped (PT_ETOOMANY is not an error here):
 * the checks read only the first few. */
static int on_field(llhttp_t *p, const char *at, size_t n)
{
    pt_dr_http_resp *r = of(p);
    int rc = pt_hdrcap_name(&r->hdrs, &r->head, at, n, PT_DR_HTTP_MAX_HEADERS);
    return rc == 0 || rc == PT_ETOOMANY ? 0 : -1;
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    pt_dr_http_resp *r = of(p);
    return pt_hdrcap_value(&r->hdrs, &r->head, at, n) == 0 ? 0 : -1;
}

/* The captured headers as NUL-terminated copies (the report prints them). */
static int copy_headers(pt_dr_http_resp *r)
{
    for (unsigned i = 0; i < r->hdrs.n; i++) {
        pt_slice k = pt_hdrcap_name_at(&r->hdrs, &r->head, i), v = pt_hdrcap_value_at(&r->hdrs, &r->head, i);
        r->headers[r->nheaders].name = strndup(k.ptr, k.len);
        r->headers[r->nheaders].value = strndup(v.ptr, v.len);
        r->nheaders++;
        if (!r->headers[r->nheaders - 1].name || !r->headers[r->nheaders - 1].value) return -1;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    pt_dr_http_resp *r = of(p);
    if (copy_headers(r) != 0) return -1;
    r->status = llhttp_get_status_code(p);
    r->head_done = true;
    const char *ct = pt__dr_http_header(r, "Content-Type");
    r->is_sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    pt_dr_http_resp *r = of(p);
    size_t room = r->body.cap_limit > r->body.len ? r->body.cap_limit - r->body.len : 0;
    size_t keep = n < room ? n : room;
    if (keep && pt_buf_append(&r->body, at, keep) != 0) return -1;
    if (keep < n) r->truncated = true;
    /* An event stream can be longer than the body cap: events are parsed from every byte
     * until the SSE parser's own caps stop it. */
    if (r->is_sse && pt__dr_sse_feed(&r->sse, at, n) != 0) r->truncated = true;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    pt_dr_http_resp *r = of(p);
    /* 1xx interim responses (100 Continue) are followed by the real one. */
    if (r->status >= 100 && r->status < 200) {
        r->head_done = false;
        r->status = 0;
        r->reason[0] = '\0';
        for (int i = 0; i < r->nheaders; i++) {
            free(r->headers[i].name);
            free(r->headers[i].value);
        }
        r->nheaders = 0;
        pt_buf_reset(&r->head);
        pt_hdrcap_reset(&r->hdrs);
        return 0;
    }
    r->complete = true;
    return HPE_PAUSED;
}

void pt__dr_http_resp_init(pt_dr_http_resp *r, size_t body_cap)
{
    memset(r, 0, sizeof *r);
    pt_buf_init(&r->body, body_cap ? body_cap : 64 * 1024);
    pt_buf_init(&r->raw, RAW_KEEP);
    pt_buf_init(&r->head, HEAD_CAP);
    pt__dr_sse_init(&r->sse, 64 * 1024, 64);
    llhttp_settings_init(&r->settings);
    r->settings.on_status = on_status;
    r->settings.on_header_field = on_field;
    r->settings.on_header_value = on_value;
    r->settings.on_headers_complete = on_headers_complete;
    r->settings.on_body = on_body;
    r->settings.on_message_complete = on_message_complete;
    llhttp_init(&r->parser, HTTP_RESPONSE, &r->settings);
    r->parser.data = r;
}

void pt__dr_http_resp_release(pt_dr_http_resp *r)
{
    for (int i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    pt_buf_release(&r->body);
    pt_buf_release(&r->raw);
    pt_buf_release(&r->head);
    pt_hdrcap_release(&r->hdrs);
    pt__dr_sse_release(&r->sse);
    memset(r, 0, sizeof *r);
}

int pt__dr_http_resp_feed(pt_dr_http_resp *r, const char *p, size_t n)
{
    if (r->raw.len < RAW_KEEP) {
        size_t keep = RAW_KEEP - r->raw.len < n ? RAW_KEEP - r->raw.len : n;
        (void)pt_buf_append(&r->raw, p, keep);
    }
    if (r->complete) return 0;
    if (r->error) return PT_EPARSE;
    llhttp_errno_t e = llhttp_execute(&r->parser, p, n);
    if (e == HPE_OK || e == HPE_PAUSED) return 0;
    r->error = llhttp_get_error_reason(&r->parser);
    if (!r->error) r->error = llhttp_errno_name(e);
    return PT_EPARSE;
}

void pt__dr_http_resp_eof(pt_dr_http_resp *r)
{
    if (r->complete || r->error || !r->head_done) return;
    if (llhttp_finish(&r->parser) != HPE_OK && !r->complete)
        r->error = "the connection closed before the response was complete";
}

const char *pt__dr_http_header(const pt_dr_http_resp *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
    return NULL;
}

static int build_request(const pt_dr_http_req *req, pt_buf *out)
{
    int rc = pt_buf_printf(out,
                           "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: portico-doctor\r\n%s%s"
                           "Connection: close\r\n",
                           req->method, req->path && *req->path ? req->path : "/", req->host,
                           req->headers ? req->headers : "",
                           req->headers && strcasestr(req->headers, "accept:") ? "" : "Accept: */*\r\n");
    if (rc == 0 && req->body.ptr) rc = pt_buf_printf(out, "Content-Length: %zu\r\n", req->body.len);
    if (rc == 0) rc = pt_buf_append(out, "\r\n", 2);
    if (rc == 0 && req->body.ptr) rc = pt_buf_append_slice(out, req->body);
    return rc;
}

int pt__dr_http_do(const char *addr, long port, bool tls, const char *sni, const pt_dr_http_req *req,
                   uint64_t deadline_ms, pt_dr_http_resp *resp, pt_dr_http_timing *t, char *err, size_t errsz)
{
    pt_dr_http_timing tm = { 0 };
    pt_dr_conn c;
    pt_buf out = PT_BUF_INIT;
    uint64_t start = pt_now_us();
    pt__dr_http_resp_init(resp, req->body_cap);
    err[0] = '\0';
    int rc = pt__dr_conn_open(&c, addr, port, tls, sni, deadline_ms, err, errsz);
    if (rc != 0) goto done;
    tm.connect_ms = c.connect_ms;
    tm.tls_ms = c.tls_ms;
    if ((rc = build_request(req, &out)) != 0) {
        snprintf(err, errsz, "request too large");
        goto done;
    }
    uint64_t sent = pt_now_us();
    if ((rc = pt__dr_conn_write(&c, pt_buf_slice(&out), deadline_ms)) != 0) {
        snprintf(err, errsz, "sending the request failed: %s", pt_strerror(rc));
        goto done;
    }
    char chunk[8192];
    for (;;) {
        ssize_t n = pt__dr_conn_read(&c, chunk, sizeof chunk, deadline_ms);
        if (n > 0) {
            if (tm.first_byte_ms == 0) tm.first_byte_ms = pt_dr_ms_since(sent);
            if (pt__dr_http_resp_feed(resp, chunk, (size_t)n) != 0) break;
            if (resp->complete || (resp->head_done && req->enough && req->enough(resp, req->arg))) break;
            continue;
        }
        if (n == 0) pt__dr_http_resp_eof(resp);
        if (n == PT_ETIMEDOUT && !resp->head_done)
            snprintf(err, errsz, "no %s within %.0f ms of sending the request",
                     resp->raw.len ? "complete response head" : "byte", pt_dr_ms_since(sent));
        else if (n == 0 && !resp->head_done && resp->raw.len == 0)
            snprintf(err, errsz, "the server closed the connection without answering");
        else if (n < 0 && n != PT_ETIMEDOUT && !resp->head_done)
            snprintf(err, errsz, "reading the response failed: %s", pt_strerror((int)n));
        if (!resp->head_done) rc = n == 0 ? PT_ECLOSED : n == PT_ETIMEDOUT ? PT_ETIMEDOUT : PT_EIO;
        break;
    }
    if (rc == 0 && !resp->head_done) {
        if (resp->error) {
            char raw[96];
            pt__dr_fp_printable(pt_buf_slice(&resp->raw), raw, sizeof raw);
            snprintf(err, errsz, "the answer is not HTTP/1.x (%s): %s", resp->error, raw);
            rc = PT_EPARSE;
        } else if (!err[0]) {
            snprintf(err, errsz, "no complete response head");
            rc = PT_ETIMEDOUT;
        }
    }
done:
    tm.total_ms = pt_dr_ms_since(start);
    if (t) *t = tm;
    pt_buf_release(&out);
    pt__dr_conn_close(&c);
    return rc;
}

/* Why the protocol check's finding (may be NULL) makes an HTTP request to t pointless, or NULL. */
static const char *unusable(const pt_dr_target *t, const char *proto)
{
    if (!proto) return NULL;
    if (strcmp(proto, "http1") == 0) return t->tls ? "the port speaks plain HTTP, not TLS (see protocol)" : NULL;
    if (strcmp(proto, "tls") == 0) return t->tls ? NULL : "the port speaks TLS, not plain HTTP (see protocol)";
    if (strcmp(proto, "silent") == 0) return "the service never answers (see unresponsive)";
    if (strcmp(proto, "closed") == 0) return "the service closes every connection without a byte (see protocol)";
    if (strcmp(proto, "reset") == 0) return "the service resets every connection without a byte (see protocol)";
    return "the port does not speak HTTP/1.x (see protocol)";
}

bool pt__dr_http_prepare(pt_dr_ctx *ctx, pt_dr_result *res, char *addr, size_t addrsz, char *auth, size_t authsz)
{
    char why[256];
    if (pt__dr_probe_address(ctx, addr, addrsz, why, sizeof why) <= 0) {
        pt_dr_skip(res, "%s", why);
        return false;
    }
    const char *skip = unusable(ctx->target, json_string_value(json_object_get(ctx->facts, "protocol")));
    if (skip) {
        pt_dr_skip(res, "%s", skip);
        return false;
    }
    pt__dr_authority(ctx->target->host, ctx->target->port, auth, authsz);
    return true;
}
