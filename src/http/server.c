/* server.c: HTTP/1.1 server connections (see server.h for the contract).
 *
 * A connection moves through: HEAD (reading a request head; header timer) -> BODY
 * (handler attached, body streamed to its sink; body timer) -> both "request done"
 * and "response done" -> next request (idle timer) or close. The parser is paused
 * at the end of every message, so pipelined bytes wait in `pending` until the
 * response before them is complete. An upgrade request the upstream accepted moves
 * instead to TUNNEL (pt_conn_tunnel): the parser is never resumed, `pending` and every
 * later byte go to the sink unparsed, and the request lasts until the tunnel ends. What a
 * connection holds only while requests come (its live part) is taken and given back by
 * conn_live.c. */
#include "http/server_int.h"
#include "http/h2.h"

#include <llhttp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/error_body.h"
#include "core/hdrcap.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/grpc.h"

static llhttp_settings_t parser_settings;
static void conn_process(pt_conn *c, const char *data, size_t n);
static void conn_close(pt_conn *c);
/* A connection waiting for its next request keeps its buffers this long (idle_wait): long
 * enough for a client sending requests one after another, short enough that a burst of
 * connections going idle does not leave the heap grown (bench/idle.sh). */
#define IDLE_TRIM_MS 100
static void conn_linger_close(pt_conn *c);
static void timer_arm(pt_conn *c, uint64_t ms);
static void tunnel_in(pt_conn *c, const char *data, size_t n);

/* --- small helpers ------------------------------------------------------ */

int pt_http_chunk_size(char out[24], size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[20];
    int i = 20, len = 0;
    do {
        tmp[--i] = hex[n & 15];
        n >>= 4;
    } while (n);
    while (i < 20) out[len++] = tmp[i++];
    out[len++] = '\r';
    out[len++] = '\n';
    return len;
}

const char *pt_http_reason(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* The 8 nibbles of v as 8 lowercase hex digits, all at once: each nibble is spread into a
 * byte of its own, then '0' is added, and 'a' - '0' - 10 more where the nibble is 10 or more
 * (bit 4 of nibble + 6). The digits come out in the order the shifts leave them, which is
 * all a random id needs. */
static void hex8(char *out, uint32_t v)
{
    uint64_t x = v;
    x = ((x & 0xffff0000ull) << 16) | (x & 0xffffull);
    x = ((x & 0x0000ff000000ff00ull) << 8) | (x & 0x000000ff000000ffull);
    x = ((x & 0x00f000f000f000f0ull) << 4) | (x & 0x000f000f000f000full);
    uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    x += 0x3030303030303030ull + letters * (uint64_t)('a' - '0' - 10);
    memcpy(out, &x, 8);
}

void pt__gen_request_id(char *out)
{
    uint64_t a = pt_rand64(), b = pt_rand64();
    hex8(out, (uint32_t)a);
    hex8(out + 8, (uint32_t)(a >> 32));
    hex8(out + 16, (uint32_t)b);
    hex8(out + 24, (uint32_t)(b >> 32));
    out[32] = '\0';
}

/* A client-supplied id is kept when short and made of safe characters. */
bool pt__request_id_ok(pt_slice v)
{
    if (v.len == 0 || v.len >= sizeof(((pt_request *)0)->request_id)) return false;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

static void fmt_http_date(char *out, size_t cap)
{
    static _Thread_local time_t cached_t;
    static _Thread_local char cached[40];
    time_t now = time(NULL);
    if (now != cached_t) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_t = now;
    }
    snprintf(out, cap, "%s", cached);
}

/* --- timers --------------------------------------------------------------- */

/* The connection's deadline passed (the server's queue calls this only then). */
static void on_timer(pt_timerq *q, pt_timerq_node *n)
{
    pt_server *srv = q->data;
    if (n == &srv->heap_trim) {
        pt__server_heap_trim(srv);
        return;
    }
    pt_conn *c = (pt_conn *)((char *)n - offsetof(pt_conn, timer));
    if (c->trim_due && !c->in_request && c->state != CS_CLOSING) {
        uint64_t idle = c->srv->limits.idle_timeout_ms;
        c->trim_due = false;
        pt__conn_idle_trim(c);
        timer_arm(c, idle ? idle - IDLE_TRIM_MS : 0);
        return;
    }
    if (c->state == CS_CLOSING) {
        conn_close(c);
        return;
    }
    if (c->h2) {
        pt__h2_on_timer(c);
        return;
    }
    if (c->state == CS_TUNNEL) {
        pt_log_info("closing tunnel from %s: no byte either way for %llu ms", c->x->peer,
                    (unsigned long long)c->x->tunnel_idle_ms);
        if (!c->x->info.outcome) c->x->info.outcome = PT_OUT_TUNNEL_IDLE;
        conn_close(c);
        return;
    }
    if (c->in_request && c->state == CS_HEAD) {
        pt_conn_respond_error(c, PT_OUT_HEADER_TIMEOUT, NULL,
                              "the request head was not complete within %llu ms (limits.header_timeout)",
                              (unsigned long long)c->srv->limits.header_timeout_ms);
        return;
    }
    if (c->state == CS_BODY && !c->req_done && !c->resp_started) {
        pt_conn_respond_error(c, PT_OUT_BODY_TIMEOUT, NULL,
                              "no request body bytes for %llu ms",
                              (unsigned long long)c->srv->limits.body_timeout_ms);
        return;
    }
    if (c->in_request && c->resp_started && !c->resp_done) {
        if (pt_conn_write_queue(c) == 0) return; /* quiet stream: the next queued write re-arms */
        pt_log_info("closing connection from %s: client stopped reading the response", c->x->peer);
        c->x->info.outcome = PT_OUT_SEND_TIMEOUT;
    }
    conn_close(c);
}

/* Never fails: conn_new reserved the connection's place in the queue. */
static void timer_arm(pt_conn *c, uint64_t ms) { pt_timerq_set(&c->srv->timers, &c->timer, ms); }

/* --- request lifecycle ------------------------------------------------- */

static void request_reset(pt_conn *c)
{
    pt_conn_live *x = c->x;
    pt__req_end(&x->req); /* nothing left normally: request_finish ran the hooks */
    if (c->body_paused) { /* the previous exchange ended while it had paused us */
        c->body_paused = false;
        pt_sock_read_start(&c->sock);
    }
    pt_buf_reset(&x->head);
    pt_hdrcap_reset(&x->hdrs);
    c->trim_due = false;
    x->head_bytes = 0;
    x->url_off = x->url_len = 0;
    memset(&x->req, 0, sizeof x->req);
    pt__req_begin(&x->req);
    c->in_request = c->req_done = c->resp_started = c->resp_done = false;
    c->resp_chunked = c->resp_head_only = c->continue_sent = c->discard_body = false;
    c->trailers_sent = false;
    x->status = 0;
    x->error_outcome = PT_OUT_OK;
    x->body_bytes = x->bytes_out = 0;
    c->has_sink = false;
    memset(&x->sink, 0, sizeof x->sink);
    memset(&x->info, 0, sizeof x->info);
}

/* Waiting for the next request on a kept-alive connection: its buffers stay for a request
 * that follows soon and are given back after IDLE_TRIM_MS of idle time (on_timer); the
 * idle timeout counts from now either way. */
static void idle_wait(pt_conn *c)
{
    uint64_t idle = c->srv->limits.idle_timeout_ms;
    if (idle && idle <= IDLE_TRIM_MS) {
        pt__conn_idle_trim(c);
        timer_arm(c, idle);
        return;
    }
    c->trim_due = true;
    timer_arm(c, IDLE_TRIM_MS);
}

/* Ends the current request, once: the done callback (metrics, the access-log line) when
 * `log`, then the request's cleanup hooks and pool (request.h). Every path that ends a
 * request comes here, after the handler's on_abort when it was still attached. */
static void request_finish(pt_conn *c, bool log)
{
    if (!c->in_request) return;
    c->in_request = false;
    uint64_t total = pt_now_us() - c->x->start_us;
    if (log && c->srv->done)
        c->srv->done(c, &c->x->req, &c->x->info, c->x->status, c->x->body_bytes, c->x->bytes_out, total, c->srv->arg);
    pt__req_end(&c->x->req);
}

static void sink_abort(pt_conn *c)
{
    if (c->has_sink && c->x->sink.on_abort) {
        c->has_sink = false;
        c->x->sink.on_abort(c->x->sink.h);
    }
    c->has_sink = false;
}

/* --- parser callbacks ----------------------------------------------------- */

static int reject(pt_conn *c, pt_outcome o, const char *msg)
{
    c->x->error_outcome = o;
    snprintf(c->x->error_msg, sizeof c->x->error_msg, "%s", msg);
    return HPE_USER;
}

static int head_account(pt_conn *c, size_t n)
{
    c->x->head_bytes += n;
    if (c->x->head_bytes > c->srv->limits.max_header_bytes)
        return reject(c, PT_OUT_HEADER_TOO_LARGE, "the request head exceeds the configured limit");
    return 0;
}

static int cb_message_begin(llhttp_t *p)
{
    pt_conn *c = p->data;
    request_reset(c);
    c->in_request = true;
    c->state = CS_HEAD;
    c->x->start_us = pt_now_us();
    /* The head's one deadline: already running on a new connection (since accept, as
     * nginx's client_header_timeout), started here after a keep-alive wait. */
    if (!c->head_timed) timer_arm(c, c->srv->limits.header_timeout_ms);
    c->head_timed = true;
    return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t n)
{
    pt_conn *c = p->data;
    if (head_account(c, n)) return HPE_USER;
    if (c->x->url_len == 0) c->x->url_off = (uint32_t)c->x->head.len;
    if (pt_buf_append(&c->x->head, at, n)) return reject(c, PT_OUT_HEADER_TOO_LARGE, "request head too large");
    c->x->url_len += (uint32_t)n;
    return 0;
}

/* A header capture failure (PT_ETOOMANY, PT_ETOOBIG, PT_ENOMEM) as the rejection it means. */
static int reject_capture(pt_conn *c, int rc)
{
    if (rc == PT_ETOOMANY) return reject(c, PT_OUT_TOO_MANY_HEADERS, "the request has more header fields than allowed");
    if (rc == PT_ENOMEM) return reject(c, PT_OUT_OUT_OF_MEMORY, "out of memory");
    return reject(c, PT_OUT_HEADER_TOO_LARGE, "request head too large");
}

static int cb_header_field(llhttp_t *p, const char *at, size_t n)
{
    pt_conn *c = p->data;
    if (c->req_done || c->state != CS_HEAD) return 0; /* trailers: not forwarded */
    if (head_account(c, n + 4)) return HPE_USER;
    int rc = pt_hdrcap_name(&c->x->hdrs, &c->x->head, at, n, c->srv->limits.max_headers);
    return rc ? reject_capture(c, rc) : 0;
}

static int cb_header_value(llhttp_t *p, const char *at, size_t n)
{
    pt_conn *c = p->data;
    if (c->req_done || c->state != CS_HEAD) return 0;
    /* Obsolete line folding: a value continuing right after a line break. llhttp
     * accepts it even in strict mode; a gateway must not (request smuggling). */
    char before = at > c->x->feed_base ? at[-1] : c->x->last_byte;
    if (n && (at[0] == ' ' || at[0] == '\t') && before == '\n')
        return reject(c, PT_OUT_OBSOLETE_LINE_FOLDING, "obsolete line folding in a header is not allowed");
    if (head_account(c, n)) return HPE_USER;
    int rc = pt_hdrcap_value(&c->x->hdrs, &c->x->head, at, n);
    return rc ? reject_capture(c, rc) : 0;
}

/* True when a segment of path is "." or ".." (also percent-encoded): routes match on the
 * path as sent, so "/public/../admin" must not reach a route for "/public". */
bool pt__has_dot_segment(pt_slice path)
{
    size_t i = 0;
    while (i < path.len) {
        if (path.ptr[i] != '/') {
            i++;
            continue;
        }
        size_t j = i + 1, dots = 0;
        while (j < path.len && path.ptr[j] != '/') {
            if (path.ptr[j] == '.') {
                dots++;
                j++;
            } else if (j + 2 < path.len && path.ptr[j] == '%' && path.ptr[j + 1] == '2' &&
                       (path.ptr[j + 2] == 'e' || path.ptr[j + 2] == 'E')) {
                dots++;
                j += 3;
            } else {
                dots = 99;
                break;
            }
        }
        if (dots == 1 || dots == 2) return true;
        i = j;
    }
    return false;
}

/* Copies v into out for an error message: printable ASCII only (anything else becomes
 * '?', so the JSON stays valid UTF-8), cut at cap - 4 with "...". */
static void quote_for_message(pt_slice v, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < v.len && n + 1 < cap; i++) {
        if (n + 4 >= cap && i + 1 < v.len) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char ch = (unsigned char)v.ptr[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[n] = '\0';
}

/* RFC 9112 §6.1: only an HTTP/1.1 request may carry Transfer-Encoding, and the only coding
 * served is a single "chunked" (nginx refuses the rest the same way). Another coding
 * would reach the upstream relabelled as plain chunked once the hop-by-hop header is
 * dropped. value is NULL when it is not one field's (several fields, or llhttp refused
 * the header before it was complete). */
static int reject_transfer_encoding(pt_conn *c, const pt_slice *value)
{
    if (c->x->parser.http_major == 1 && c->x->parser.http_minor == 0)
        return reject(c, PT_OUT_BAD_TRANSFER_ENCODING,
                      "Transfer-Encoding is not allowed in an HTTP/1.0 request (RFC 9112 §6.1)");
    char v[48] = "";
    if (value) quote_for_message(*value, v, sizeof v);
    char msg[160];
    if (value)
        snprintf(msg, sizeof msg, "Transfer-Encoding '%s' is not implemented: only a single 'chunked' is (RFC 9112 §6.1)", v);
    else
        snprintf(msg, sizeof msg, "Transfer-Encoding other than a single 'chunked' is not implemented (RFC 9112 §6.1)");
    return reject(c, PT_OUT_UNSUPPORTED_TRANSFER_ENCODING, msg);
}

static int check_transfer_encoding(pt_conn *c, const pt_header *te, unsigned nte)
{
    if (nte == 0) return 0;
    if (nte == 1 && c->x->parser.http_minor >= 1 && pt_slice_case_eq_cstr(te->value, "chunked")) return 0;
    /* several field lines form one list (RFC 9110 §5.3): "chunked" twice is two codings */
    return reject_transfer_encoding(c, nte == 1 ? &te->value : NULL);
}

/* Validates an authority (what names the Host header or the request target's) into a;
 * 0 or a 400 naming the problem. */
static int check_authority(pt_conn *c, pt_slice v, const char *what, pt_authority *a)
{
    pt_authority_err e = pt_authority_parse(v, a);
    if (!e) return 0;
    char msg[160];
    if (e == PT_AUTH_BAD_CHAR) {
        char ch[8];
        if (a->bad > 0x20 && a->bad < 0x7f) snprintf(ch, sizeof ch, "'%c'", a->bad);
        else snprintf(ch, sizeof ch, "0x%02x", a->bad);
        snprintf(msg, sizeof msg, "invalid %s: %s is not allowed in a host name (RFC 3986 §3.2.2)", what, ch);
    } else {
        snprintf(msg, sizeof msg, "invalid %s: %s", what, pt_authority_strerror(e));
    }
    return reject(c, PT_OUT_BAD_HOST, msg);
}

/* Splits an absolute-form target ("http://authority/path?q", RFC 9112 §3.2.2; the scheme
 * is case-insensitive) into the authority and what follows it (may be empty or start
 * with '?'). Asterisk-form ("OPTIONS *") leaves both alone; anything else is refused. */
static int split_target(pt_conn *c, pt_slice *path, pt_slice *authority)
{
    *authority = PT_SLICE_NULL;
    if (path->len && path->ptr[0] == '/') return 0;
    if (path->len == 1 && path->ptr[0] == '*' && c->x->req.method == HTTP_OPTIONS) return 0;
    size_t skip = 0;
    if (path->len > 7 && strncasecmp(path->ptr, "http://", 7) == 0) skip = 7;
    else if (path->len > 8 && strncasecmp(path->ptr, "https://", 8) == 0) skip = 8;
    if (!skip) return reject(c, PT_OUT_BAD_REQUEST, "the request target must start with '/' or be absolute (RFC 9112 §3.2)");
    size_t end = skip;
    while (end < path->len && path->ptr[end] != '/' && path->ptr[end] != '?') end++;
    *authority = pt_slice_from(path->ptr + skip, end - skip);
    *path = pt_slice_from(path->ptr + end, path->len - end);
    if (authority->len == 0)
        return reject(c, PT_OUT_BAD_HOST, "invalid authority in the request target: no host (RFC 9110 §4.2.1)");
    return 0;
}

/* The request's host (RFC 9112 §3.2): exactly one Host header, required in HTTP/1.1 and
 * valid even when an absolute-form target's authority overrides it (§3.2.2). r->host is
 * the winner, lowercased, without port or brackets. */
static int request_host(pt_conn *c, const pt_header *host, unsigned nhost, pt_slice abs_authority)
{
    pt_request *r = &c->x->req;
    if (nhost > 1) return reject(c, PT_OUT_DUPLICATE_HOST, "more than one Host header (RFC 9112 §3.2)");
    if (r->http_minor >= 1 && !host)
        return reject(c, PT_OUT_MISSING_HOST, "HTTP/1.1 requests must carry a Host header (RFC 9112 §3.2)");
    pt_authority a = { .port = -1 };
    if (host && check_authority(c, host->value, "Host header", &a)) return HPE_USER;
    if (abs_authority.len && check_authority(c, abs_authority, "authority in the request target", &a))
        return HPE_USER;
    for (size_t i = 0; i < a.host.len; i++) {
        char ch = a.host.ptr[i];
        c->x->host_lc[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    c->x->host_lc[a.host.len] = '\0';
    r->host = pt_slice_from(c->x->host_lc, a.host.len);
    return 0;
}

/* Fills req from the collected head; 0 or a rejection. */
static int build_request(pt_conn *c)
{
    pt_conn_live *x = c->x;
    pt_request *r = &x->req;
    const char *base = x->head.data ? x->head.data : "";
    unsigned n = x->hdrs.n;
    pt_header *hs = realloc(x->headers, (n ? n : 1) * sizeof *hs);
    if (!hs) return reject(c, PT_OUT_OUT_OF_MEMORY, "out of memory");
    x->headers = hs;
    const pt_header *host = NULL, *rid = NULL, *te = NULL;
    unsigned nhost = 0, nte = 0;
    for (unsigned i = 0; i < n; i++) {
        hs[i].name = pt_hdrcap_name_at(&x->hdrs, &x->head, i);
        hs[i].value = pt_hdrcap_value_at(&x->hdrs, &x->head, i);
        if (pt_slice_case_eq_cstr(hs[i].name, "host")) {
            if (!nhost++) host = &hs[i];
        } else if (pt_slice_case_eq_cstr(hs[i].name, "transfer-encoding")) {
            if (!nte++) te = &hs[i];
        } else if (pt_slice_case_eq_cstr(hs[i].name, "x-request-id")) {
            rid = &hs[i];
        }
    }
    r->headers = hs;
    r->nheaders = n;
    r->method = x->parser.method;
    r->method_name = pt_slice_cstr(llhttp_method_name(x->parser.method));
    r->http_major = x->parser.http_major;
    r->http_minor = x->parser.http_minor;
    if (r->http_major != 1)
        return r->http_major == 0 ? reject(c, PT_OUT_BAD_REQUEST, "HTTP/0.9 requests are not supported")
                                  : reject(c, PT_OUT_HTTP_VERSION, "only HTTP/1.x is served here");
    if (check_transfer_encoding(c, te, nte)) return HPE_USER;
    r->target = pt_slice_from(base + x->url_off, x->url_len);
    pt_slice path = r->target, authority;
    if (split_target(c, &path, &authority)) return HPE_USER;
    const char *q = memchr(path.ptr, '?', path.len);
    r->path = q ? pt_slice_from(path.ptr, (size_t)(q - path.ptr)) : path;
    r->query = q ? pt_slice_from(q + 1, path.len - (size_t)(q - path.ptr) - 1) : PT_SLICE_NULL;
    if (r->path.len == 0) r->path = PT_SLICE_LIT("/"); /* "http://host" or "http://host?q" */
    if (pt__has_dot_segment(r->path))
        return reject(c, PT_OUT_BAD_PATH, "the path may not contain '.' or '..' segments");
    if (request_host(c, host, nhost, authority)) return HPE_USER;
    r->keep_alive = llhttp_should_keep_alive(&x->parser);
    r->chunked = (x->parser.flags & F_CHUNKED) != 0;
    r->content_length = (x->parser.flags & F_CONTENT_LENGTH) ? (int64_t)x->parser.content_length : -1;
    const pt_header *expect = pt_request_header(r, "expect");
    if (expect) {
        if (!pt_slice_case_eq_cstr(expect->value, "100-continue"))
            return reject(c, PT_OUT_EXPECTATION_FAILED, "only 'Expect: 100-continue' is supported");
        r->expect_continue = true;
    }
    if (rid && pt__request_id_ok(rid->value))
        snprintf(r->request_id, sizeof r->request_id, PT_SLICE_FMT, PT_SLICE_ARG(rid->value));
    else
        pt__gen_request_id(r->request_id);
    return 0;
}

static int cb_headers_complete(llhttp_t *p)
{
    pt_conn *c = p->data;
    int rc = build_request(c);
    if (rc) return rc;
    pt_request *r = &c->x->req;
    /* llhttp's upgrade flag (Connection: upgrade with an Upgrade header) is taken as the
     * request's and cleared, so that llhttp reads this message's body as HTTP and stops at
     * its end like any other: whatever follows waits in `pending`, and either becomes the
     * tunnel's first bytes (pt_conn_tunnel) or is never parsed (the connection closes after
     * any other answer). An h2c offer is ignored (RFC 9113 §3.2). CONNECT never gets here. */
    const pt_header *up = p->upgrade && r->http_minor >= 1 ? pt_request_header(r, "upgrade") : NULL;
    r->upgrade = up && pt_upgrade_tunnels(up->value);
    p->upgrade = 0;
    if (r->upgrade) c->close_after = true;
    if (r->content_length > 0 && (uint64_t)r->content_length > c->srv->limits.max_body_bytes)
        return reject(c, PT_OUT_BODY_TOO_LARGE, "the request body exceeds the configured limit");
    if (c->srv->draining || !r->keep_alive) c->close_after = true;
    c->state = CS_BODY;
    if (pt_conn_has_body(c)) timer_arm(c, c->srv->limits.body_timeout_ms);
    c->srv->dispatch(c, r, c->srv->arg);
    if (c->state == CS_CLOSING) return HPE_USER; /* the handler answered and closed */
    return 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t n)
{
    pt_conn *c = p->data;
    c->x->body_bytes += n;
    if (c->x->body_bytes > c->srv->limits.max_body_bytes) {
        if (c->resp_started) {
            pt_log_info("request body from %s exceeded the limit mid-stream; closing", c->x->peer);
            return HPE_USER;
        }
        return reject(c, PT_OUT_BODY_TOO_LARGE, "the request body exceeds the configured limit");
    }
    if (c->has_sink && c->x->sink.on_body && !c->discard_body) c->x->sink.on_body(c->x->sink.h, at, n);
    if (c->state == CS_CLOSING) return HPE_USER;
    return 0;
}

static int cb_message_complete(llhttp_t *p)
{
    pt_conn *c = p->data;
    c->req_done = true;
    if (c->has_sink && c->x->sink.on_body_end && !c->discard_body) c->x->sink.on_body_end(c->x->sink.h);
    if (c->state == CS_CLOSING) return HPE_USER;
    if (!c->resp_done && c->state != CS_TUNNEL) timer_arm(c, 0);
    return HPE_PAUSED;
}

static void settings_init(void)
{
    static bool done;
    if (done) return;
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = cb_message_begin;
    parser_settings.on_url = cb_url;
    parser_settings.on_header_field = cb_header_field;
    parser_settings.on_header_value = cb_header_value;
    parser_settings.on_headers_complete = cb_headers_complete;
    parser_settings.on_body = cb_body;
    parser_settings.on_message_complete = cb_message_complete;
    done = true;
}

/* --- reading ------------------------------------------------------------ */

/* Maps an llhttp error to the status and code we answer with. */
static void parse_error(pt_conn *c, int err)
{
    /* Our callbacks return HPE_USER; llhttp reports it as HPE_USER from data callbacks
     * and as HPE_CB_* from notification callbacks. */
    if (c->x->error_outcome) {
        pt_conn_respond_error(c, c->x->error_outcome, NULL, "%s", c->x->error_msg);
        return;
    }
    bool cb_error = (err >= HPE_CB_MESSAGE_BEGIN && err <= HPE_CB_CHUNK_COMPLETE) ||
                    (err >= HPE_CB_URL_COMPLETE && err <= HPE_CB_VERSION_COMPLETE);
    if (err == HPE_USER || cb_error || c->state == CS_CLOSING) { /* handler or limit already acted */
        if (c->state != CS_CLOSING) conn_linger_close(c);
        return;
    }
    if (err == HPE_INVALID_TRANSFER_ENCODING && !c->resp_started) {
        /* strict llhttp stops at a coding after "chunked", before the head is complete */
        reject_transfer_encoding(c, NULL);
        pt_conn_respond_error(c, c->x->error_outcome, NULL, "%s", c->x->error_msg);
        return;
    }
    const char *reason = llhttp_get_error_reason(&c->x->parser);
    pt_outcome code = PT_OUT_BAD_REQUEST;
    switch (err) {
    case HPE_UNEXPECTED_CONTENT_LENGTH: code = PT_OUT_AMBIGUOUS_LENGTH; break;
    case HPE_INVALID_CHUNK_SIZE: code = PT_OUT_BAD_CHUNK; break;
    case HPE_INVALID_CONTENT_LENGTH: code = PT_OUT_BAD_CONTENT_LENGTH; break;
    case HPE_INVALID_METHOD: code = PT_OUT_BAD_METHOD; break;
    case HPE_INVALID_VERSION: code = PT_OUT_BAD_VERSION; break;
    default: break;
    }
    if (c->resp_started) { /* a body error after we began answering: just close */
        pt_conn_response_abort(c);
        return;
    }
    c->x->req.request_id[0] ? (void)0 : pt__gen_request_id(c->x->req.request_id);
    pt_conn_respond_error(c, code, NULL, "malformed request: %s", reason ? reason : llhttp_errno_name(err));
}

/* Feeds bytes to the parser; keeps what follows a completed message in `pending`. */
static void feed(pt_conn *c, const char *data, size_t n)
{
    c->x->feed_base = data;
    llhttp_errno_t err = llhttp_execute(&c->x->parser, data, n);
    if (n) c->x->last_byte = data[n - 1];
    if (err == HPE_OK) {
        if (c->state == CS_HEAD && c->in_request && c->x->head_bytes > c->srv->limits.max_header_bytes)
            pt_conn_respond_error(c, PT_OUT_HEADER_TOO_LARGE, NULL, "the request head exceeds the configured limit");
        return;
    }
    if (err == HPE_PAUSED) {
        const char *pos = llhttp_get_error_pos(&c->x->parser);
        size_t used = pos ? (size_t)(pos - data) : n;
        if (used < n && c->state == CS_TUNNEL) /* switched by this message's own callbacks */
            tunnel_in(c, data + used, n - used);
        else if (used < n && pt_buf_append(&c->x->pending, data + used, n - used) != 0)
            conn_close(c);
        return;
    }
    parse_error(c, err);
}

/* Runs the connection forward: feed new bytes, then start each pipelined request
 * whose predecessor is complete. Never recursive: nested calls only queue bytes. */
static void conn_process(pt_conn *c, const char *data, size_t n)
{
    if (c->processing || llhttp_get_errno(&c->x->parser) == HPE_PAUSED) {
        if (n && pt_buf_append(&c->x->pending, data, n) != 0) {
            conn_close(c);
            return;
        }
        if (c->x->pending.len > PENDING_CAP && !c->pending_full) {
            c->pending_full = true;
            pt_sock_read_stop(&c->sock);
        }
        if (c->processing) return;
    } else if (n) {
        c->processing = true;
        feed(c, data, n);
        c->processing = false;
    }
    c->processing = true;
    while (c->state != CS_CLOSING && c->in_request && c->req_done && c->resp_done) {
        request_finish(c, true);
        if (c->close_after || c->srv->draining) {
            conn_linger_close(c);
            break;
        }
        request_reset(c);
        c->state = CS_HEAD;
        llhttp_resume(&c->x->parser);
        /* Waiting for the next request is idle time; its head's deadline starts with its
         * first byte, which may already be in pending (cb_message_begin). */
        c->head_timed = false;
        if (c->x->pending.len) {
            timer_arm(c, c->srv->limits.idle_timeout_ms);
            pt_buf chunk = c->x->pending;
            pt_buf_init(&c->x->pending, 0);
            feed(c, chunk.data, chunk.len);
            /* bytes the parser did not take went back into pending */
            pt_buf_release(&chunk);
        } else {
            idle_wait(c);
        }
        if (c->pending_full && c->x->pending.len < PENDING_CAP / 2 && c->state != CS_CLOSING) {
            c->pending_full = false;
            pt_sock_read_start(&c->sock);
        }
    }
    c->processing = false;
}

/* TUNNEL: the client's bytes, as they are, to the sink. */
static void tunnel_in(pt_conn *c, const char *data, size_t n)
{
    c->x->body_bytes += n;
    timer_arm(c, c->x->tunnel_idle_ms);
    if (c->has_sink && c->x->sink.on_body) c->x->sink.on_body(c->x->sink.h, data, n);
}

static const char h2_preface[24] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* The first bytes choose the protocol: "h2" by ALPN, or on a plain listener the HTTP/2
 * client preface (prior knowledge, RFC 9113 §3.3), held back while it may still be one.
 * Returns true when the bytes were taken (HTTP/2, or held). */
static bool choose_protocol(pt_conn *c, const char *data, size_t n)
{
    char alpn[16];
    if (c->sock.tls_on) {
        c->proto_known = true;
        pt_tls_alpn(c->sock.tls, alpn, sizeof alpn);
        if (strcmp(alpn, "h2") != 0) return false;
        if (pt__h2_start(c) != 0) conn_close(c);
        else pt__h2_feed(c, data, n);
        return true;
    }
    if (!c->h2c_ok) {
        c->proto_known = true;
        return false;
    }
    size_t take = n < sizeof h2_preface - c->x->preface_len ? n : sizeof h2_preface - c->x->preface_len;
    if (memcmp(data, h2_preface + c->x->preface_len, take) != 0) {
        c->proto_known = true;
        if (c->x->preface_len) conn_process(c, c->x->preface, c->x->preface_len); /* HTTP/1.1 after all */
        return false;
    }
    memcpy(c->x->preface + c->x->preface_len, data, take);
    c->x->preface_len += (unsigned char)take;
    if (c->x->preface_len < sizeof h2_preface) return true;
    c->proto_known = true;
    if (pt__h2_start(c) != 0) {
        conn_close(c);
        return true;
    }
    pt__h2_feed(c, c->x->preface, sizeof h2_preface);
    if (n > take && c->h2 && c->state != CS_CLOSING) pt__h2_feed(c, data + take, n - take);
    return true;
}

static void on_sock_read(pt_sock *s, const char *data, size_t n)
{
    pt_conn *c = s->data;
    if (c->state == CS_CLOSING) return; /* lingering: discard */
    if (c->h2) {
        pt__h2_feed(c, data, n);
        return;
    }
    if (c->state == CS_TUNNEL) {
        tunnel_in(c, data, n);
        return;
    }
    if (!pt__conn_live(c)) {
        pt_log_warn("out of memory for a request from a client; closing its connection");
        conn_close(c);
        return;
    }
    if (!c->proto_known && choose_protocol(c, data, n)) return;
    if (c->state == CS_CLOSING) return;
    if (c->state == CS_BODY && !c->req_done && !c->resp_started) timer_arm(c, c->srv->limits.body_timeout_ms);
    conn_process(c, data, n);
}

static void on_sock_error(pt_sock *s, int err)
{
    pt_conn *c = s->data;
    if (c->state == CS_CLOSING && err == PT_ECLOSED) { /* lingering close finished */
        conn_close(c);
        return;
    }
    if (c->state == CS_TUNNEL && err == PT_ECLOSED && !c->tunnel_eof) {
        /* a half-close: passed on (the upstream gets a FIN), bytes still flow back until
         * the upstream ends too or the idle timeout */
        c->tunnel_eof = true;
        if (c->has_sink && c->x->sink.on_body_end) c->x->sink.on_body_end(c->x->sink.h);
        return;
    }
    if (c->in_request && !c->resp_done) {
        c->x->info.outcome = c->resp_started ? PT_OUT_CLIENT_CLOSED : PT_OUT_CLIENT_CLOSED_EARLY;
        if (!c->x->status) c->x->status = 499;
    }
    conn_close(c);
}

static void on_sock_drain(pt_sock *s, int status)
{
    pt_conn *c = s->data;
    if (c->h2) {
        pt__h2_on_drain(c);
        return;
    }
    if (c->state == CS_TUNNEL) timer_arm(c, c->x->tunnel_idle_ms);
    else if (c->resp_started && !c->resp_done && c->srv->limits.send_timeout_ms)
        timer_arm(c, c->srv->limits.send_timeout_ms);
    if (c->has_sink && c->x->sink.on_drain) c->x->sink.on_drain(c->x->sink.h);
}

/* --- closing -------------------------------------------------------------- */

/* The last connection gone, the deadline queue closes its timer: a loop without
 * connections holds no handle of the server's. */
static void on_sock_closed(pt_sock *s)
{
    pt_conn *c = s->data;
    pt_server *srv = c->srv;
    if (c->h2) pt__h2_free(c);
    if (c->x) pt__conn_live_free(c->x);
    free(c);
    if (srv->nconns == 0) {
        pt_timerq_remove(&srv->timers, &srv->heap_trim);
        pt_timerq_release(&srv->timers);
    }
    if (srv->draining && srv->nconns == 0 && srv->on_empty) srv->on_empty(srv);
}

static void conn_link(pt_server *srv, pt_conn *c)
{
    srv->nconns++;
    if (srv->active_gauge) atomic_fetch_add_explicit(srv->active_gauge, 1, memory_order_relaxed);
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
}

static void conn_close(pt_conn *c)
{
    if (c->h2s) { /* a stream: only the stream ends */
        pt__h2s_reset(c);
        return;
    }
    if (c->sock.closing) return;
    if (c->h2) pt__h2_close(c);
    sink_abort(c);
    request_finish(c, c->x && c->x->status != 0); /* nothing answered, nothing to log */
    c->state = CS_CLOSING;
    if (c->prev) c->prev->next = c->next;
    else c->srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->srv->nconns--;
    if (c->srv->active_gauge) atomic_fetch_sub_explicit(c->srv->active_gauge, 1, memory_order_relaxed);
    pt_timerq_remove(&c->srv->timers, &c->timer);
    pt_sock_close(&c->sock);
}

static void on_shutdown(pt_sock *s, int status)
{
    pt_conn *c = s->data;
    if (status != 0 || c->sock.closing || c->sock.eof) { /* nothing more can arrive after EOF */
        conn_close(c);
        return;
    }
    /* Read and discard what the client still sends, so the kernel does not answer
     * it with a reset that would destroy our response in the client's buffer. */
    timer_arm(c, LINGER_MS);
    pt_sock_read_start(&c->sock);
}

/* Closes after everything queued has been written (and a short linger). */
static void conn_linger_close(pt_conn *c)
{
    if (c->sock.closing) return;
    if (c->h2) pt__h2_close(c);
    sink_abort(c);
    request_finish(c, true);
    c->state = CS_CLOSING;
    if (pt_sock_shutdown(&c->sock, on_shutdown) != 0) conn_close(c);
}

/* --- accepting --------------------------------------------------------------- */

void pt_server_init(pt_server *srv, uv_loop_t *loop)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    pt_timerq_init(&srv->timers, loop, on_timer, srv);
    settings_init();
}

static pt_conn *conn_new(pt_server *srv)
{
    if (pt_timerq_reserve(&srv->timers, srv->nconns + 2) != 0) return NULL; /* + heap_trim */
    pt_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (pt_sock_init(&c->sock, srv->loop) != 0) {
        free(c);
        return NULL;
    }
    c->sock.data = c;
    c->srv = srv;
    c->sock.on_close = on_sock_closed;
    conn_link(srv, c);
    return c;
}

/* Readies an accepted (or captured) connection to read its first request. */
static void conn_start(pt_conn *c)
{
    pt_server *srv = c->srv;
    c->sock.on_read = on_sock_read;
    c->sock.on_error = on_sock_error;
    c->sock.on_drain = on_sock_drain;
    c->state = CS_HEAD;
    /* A new connection's first request head must be complete within the header timeout,
     * counted from now (the wait for its first byte included). */
    timer_arm(c, srv->limits.header_timeout_ms);
    c->head_timed = true;
    pt_sock_read_start(&c->sock);
}

pt_conn *pt__server_conn_capture(pt_server *srv, pt_buf *out)
{
    pt_conn *c = conn_new(srv);
    if (!c) return NULL;
    c->sock.capture = out;
    c->h2c_ok = true;
    conn_start(c);
    return c;
}

void pt__conn_feed(pt_conn *c, const char *data, size_t n)
{
    if (c->sock.closing) return;
    if (n) on_sock_read(&c->sock, data, n);
    else on_sock_error(&c->sock, PT_ECLOSED);
}

int pt_server_accept(pt_server *srv, uv_stream_t *listener, SSL_CTX *ssl_ctx, bool h2c)
{
    pt_conn *c = conn_new(srv);
    if (!c) return PT_ENOMEM;
    if (uv_accept(listener, (uv_stream_t *)&c->sock.tcp) != 0) {
        conn_close(c);
        return PT_EIO;
    }
    uv_tcp_nodelay(&c->sock.tcp, 1);
    c->h2c_ok = h2c && !ssl_ctx;
    if (ssl_ctx && pt_sock_tls_server(&c->sock, ssl_ctx) != 0) {
        conn_close(c);
        return PT_ETLS;
    }
    if (srv->nconns > srv->limits.max_connections) {
        char peer[64];
        pt_sock_peer(&c->sock, peer, sizeof peer);
        pt_log_warn("connection limit %u reached; refusing %s", srv->limits.max_connections, peer);
        conn_close(c);
        return PT_EAGAIN;
    }
    conn_start(c);
    return 0;
}

void pt_server_drain(pt_server *srv)
{
    srv->draining = true;
    pt_conn *next;
    for (pt_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->h2) pt__h2_goaway(c); /* in-flight streams finish, then it closes */
        else if (!c->in_request && (!c->x || c->x->pending.len == 0)) conn_close(c);
    }
    if (srv->nconns == 0 && srv->on_empty) srv->on_empty(srv);
}

void pt_server_close_all(pt_server *srv)
{
    pt_conn *next;
    for (pt_conn *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->h2) pt__h2_mark_all(c, PT_OUT_DRAIN_DEADLINE);
        if (c->in_request && !c->resp_done) {
            /* logged like a client that left (499): a status nobody was sent, naming why */
            c->x->info.outcome = PT_OUT_DRAIN_DEADLINE;
            if (!c->x->status) c->x->status = pt_outcome_status(PT_OUT_DRAIN_DEADLINE);
        }
        conn_close(c);
    }
}

/* --- response writer ---------------------------------------------------------- */

#define DISCARD_MAX (1024 * 1024)

/* A request body we may read and throw away to keep the connection alive. */
static bool body_discardable(const pt_conn *c)
{
    return c->x->req.content_length >= 0 && c->x->req.content_length <= DISCARD_MAX;
}

bool pt__hop_by_hop(pt_slice n)
{
    static const pt_slice names[] = { PT_SLICE_LIT("connection"), PT_SLICE_LIT("keep-alive"),
                                      PT_SLICE_LIT("transfer-encoding"), PT_SLICE_LIT("content-length"),
                                      PT_SLICE_LIT("proxy-connection"), PT_SLICE_LIT("te"),
                                      PT_SLICE_LIT("trailer"), PT_SLICE_LIT("upgrade") };
    return pt_slice_case_in(n, names, sizeof names / sizeof *names);
}

/* Stages the status line, hdrs (hop-by-hop ones left out), the request's own response
 * header lines and X-Request-Id: everything but the framing and the blank line. */
static void head_begin(pt_conn *c, int status, const pt_header *hdrs, size_t nhdrs)
{
    pt_conn_live *x = c->x;
    const pt_request *r = &x->req;
    pt_buf *b = &x->out; /* staged: goes out with the first body bytes or at flush */
    pt_buf_append(b, "HTTP/1.1 ", 9);
    pt_buf_append_u64(b, (unsigned)status);
    pt_buf_append(b, " ", 1);
    pt_buf_append_str(b, pt_http_reason(status));
    pt_buf_append(b, "\r\n", 2);
    bool has_rid = false;
    for (size_t i = 0; i < nhdrs; i++) {
        if (pt__hop_by_hop(hdrs[i].name)) continue;
        if (pt_slice_case_eq_cstr(hdrs[i].name, "x-request-id")) has_rid = true;
        pt_buf_append_slice(b, hdrs[i].name);
        pt_buf_append(b, ": ", 2);
        pt_buf_append_slice(b, hdrs[i].value);
        pt_buf_append(b, "\r\n", 2);
    }
    if (x->info.resp_headers.len) pt_buf_append_slice(b, x->info.resp_headers);
    if (!has_rid && r->request_id[0]) {
        pt_buf_append(b, "X-Request-Id: ", 14);
        pt_buf_append_str(b, r->request_id);
        pt_buf_append(b, "\r\n", 2);
    }
}

/* A gRPC answer's grpc-status (in a trailers-only head or in the trailers) for the log. */
static void note_grpc_status(pt_conn *c, const pt_header *hdrs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!pt_slice_case_eq_cstr(hdrs[i].name, "grpc-status")) continue;
        int st = pt_grpc_status_parse(hdrs[i].value);
        if (st < 0) return;
        c->x->info.grpc = true;
        c->x->info.grpc_status = st;
        return;
    }
}

static bool client_takes_trailers(const pt_conn *c);

/* RFC 9110 §6.6.2: a Trailer field in hdrs announces the trailers to come; it goes out only
 * when they will follow the last chunk (the client said TE: trailers). */
static void announce_trailers(pt_conn *c, const pt_header *hdrs, size_t n)
{
    if (!client_takes_trailers(c)) return;
    for (size_t i = 0; i < n; i++) {
        if (!pt_slice_case_eq_cstr(hdrs[i].name, "trailer")) continue;
        pt_buf_append(&c->x->out, "Trailer: ", 9);
        pt_buf_append_slice(&c->x->out, hdrs[i].value);
        pt_buf_append(&c->x->out, "\r\n", 2);
    }
}

int pt_conn_response_start(pt_conn *c, int status, const pt_header *hdrs, size_t nhdrs, int64_t content_length)
{
    pt_conn_live *x = c->x;
    if (c->h2s) {
        note_grpc_status(c, hdrs, nhdrs);
        return pt__h2s_response_start(c, status, hdrs, nhdrs, content_length);
    }
    if (c->resp_started || c->state == CS_CLOSING || c->state == CS_TUNNEL) return PT_EINVAL;
    c->resp_started = true;
    x->status = status;
    const pt_request *r = &x->req;
    bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    c->resp_head_only = no_body || r->method == HTTP_HEAD;
    if (r->http_minor == 0 && !r->keep_alive) c->close_after = true;
    /* An unread request body cannot be skipped safely on a kept-alive connection. */
    if (!c->req_done && !c->has_sink && pt_conn_has_body(c) && !body_discardable(c)) c->close_after = true;
    if (c->srv->draining) c->close_after = true;

    head_begin(c, status, hdrs, nhdrs);
    pt_buf *b = &x->out;
    if (!no_body) {
        if (content_length >= 0) {
            pt_buf_append(b, "Content-Length: ", 16);
            pt_buf_append_u64(b, (unsigned long long)content_length);
            pt_buf_append(b, "\r\n", 2);
        } else if (r->http_minor >= 1) {
            if (r->method != HTTP_HEAD) c->resp_chunked = true;
            pt_buf_append_str(b, "Transfer-Encoding: chunked\r\n");
            if (c->resp_chunked) announce_trailers(c, hdrs, nhdrs);
        } else {
            c->close_after = true; /* HTTP/1.0: the end of the body is the end of the connection */
        }
    }
    if (c->close_after)
        pt_buf_append_str(b, "Connection: close\r\n");
    else if (r->http_minor == 0)
        pt_buf_append_str(b, "Connection: keep-alive\r\n");
    pt_buf_append(b, "\r\n", 2);
    return 0;
}

int pt_conn_tunnel(pt_conn *c, pt_slice protocol, const pt_header *hdrs, size_t nhdrs, uint64_t idle_ms)
{
    if (!c->x->req.upgrade || !c->req_done || c->resp_started || c->state != CS_BODY || !protocol.len)
        return PT_EINVAL;
    c->resp_started = true;
    c->x->status = 101;
    c->state = CS_TUNNEL;
    c->x->tunnel_idle_ms = idle_ms;
    head_begin(c, 101, hdrs, nhdrs);
    pt_buf_append_str(&c->x->out, "Connection: Upgrade\r\nUpgrade: ");
    pt_buf_append_slice(&c->x->out, protocol);
    pt_buf_append(&c->x->out, "\r\n\r\n", 4);
    int rc = pt_conn_flush(c);
    timer_arm(c, idle_ms);
    if (c->pending_full) { /* reads stopped on a full `pending`: the sink paces them now */
        c->pending_full = false;
        if (!c->body_paused) pt_sock_read_start(&c->sock);
    }
    /* bytes the client sent right behind the head are the tunnel's first */
    pt_buf early = c->x->pending;
    pt_buf_init(&c->x->pending, 0);
    if (early.len && rc == 0) tunnel_in(c, early.data, early.len);
    pt_buf_release(&early);
    return rc;
}

/* Small writes are staged in c->x->out and leave in one write (head + body + terminator
 * of a small response: one syscall); a large piece goes out at once with whatever is
 * staged in front of it. */
#define STAGE_MAX (16 * 1024)

/* send_timeout runs only while the client leaves our bytes queued (it is not reading);
 * a write the kernel takes at once needs no timer. Every new queued write restarts it,
 * and the proxy stops producing above its high mark, so a stalled client runs out. */
static void send_watch(pt_conn *c)
{
    if (c->state == CS_TUNNEL) return; /* the tunnel's idle timer covers a client that stopped reading */
    if (c->sock.wq_bytes && c->req_done && !c->resp_done && c->srv->limits.send_timeout_ms)
        timer_arm(c, c->srv->limits.send_timeout_ms);
}

static int stage(pt_conn *c, const uv_buf_t *bufs, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) total += bufs[i].len;
    if (c->x->out.len + total <= STAGE_MAX) {
        for (unsigned i = 0; i < n; i++)
            if (pt_buf_append(&c->x->out, bufs[i].base, bufs[i].len) != 0) return PT_ENOMEM;
        return 0;
    }
    uv_buf_t all[4];
    unsigned k = 0;
    if (c->x->out.len) all[k++] = uv_buf_init(c->x->out.data, (unsigned)c->x->out.len);
    for (unsigned i = 0; i < n && k < 4; i++) all[k++] = bufs[i];
    int rc = pt_sock_write(&c->sock, all, k);
    pt_buf_reset(&c->x->out);
    send_watch(c);
    return rc;
}

int pt_conn_flush(pt_conn *c)
{
    if (c->h2s) return pt__h2s_flush(c);
    if (!c->x->out.len || c->sock.closing) return 0;
    uv_buf_t ub = uv_buf_init(c->x->out.data, (unsigned)c->x->out.len);
    int rc = pt_sock_write(&c->sock, &ub, 1);
    pt_buf_reset(&c->x->out);
    if (c->x->out.alloc > 4 * STAGE_MAX) pt_buf_release(&c->x->out);
    send_watch(c);
    return rc;
}

int pt_conn_response_body(pt_conn *c, const char *data, size_t n)
{
    if (c->h2s) return pt__h2s_body(c, data, n);
    if (!c->resp_started || c->resp_done || c->state == CS_CLOSING) return PT_EINVAL;
    if (n == 0 || c->resp_head_only) return 0;
    if (c->trailers_sent) return PT_EINVAL;
    c->x->bytes_out += n;
    if (c->state == CS_TUNNEL) timer_arm(c, c->x->tunnel_idle_ms);
    if (!c->resp_chunked) {
        uv_buf_t ub = uv_buf_init((char *)data, (unsigned)n);
        return stage(c, &ub, 1);
    }
    char size[24];
    int sl = pt_http_chunk_size(size, n);
    uv_buf_t ub[3] = { uv_buf_init(size, (unsigned)sl), uv_buf_init((char *)data, (unsigned)n),
                       uv_buf_init("\r\n", 2) };
    return stage(c, ub, 3);
}

/* Whether an HTTP/1.1 client said it takes trailers (TE: trailers, RFC 9110 §10.1.4). */
static bool client_takes_trailers(const pt_conn *c)
{
    const pt_header *te = pt_request_header(&c->x->req, "te");
    return te && pt_list_has(te->value, PT_SLICE_LIT("trailers"));
}

int pt_conn_response_trailers(pt_conn *c, const pt_header *hdrs, size_t n)
{
    note_grpc_status(c, hdrs, n);
    if (c->h2s) return pt__h2s_trailers(c, hdrs, n);
    if (!c->resp_started || c->resp_done || c->state == CS_CLOSING || c->trailers_sent) return PT_EINVAL;
    /* HTTP/1.1 carries them after a chunked body's last chunk, to a client that asked */
    if (!c->resp_chunked || !client_takes_trailers(c)) return 0;
    pt_buf *b = &c->x->out;
    int rc = pt_buf_append(b, "0\r\n", 3);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (pt__hop_by_hop(hdrs[i].name) || !hdrs[i].name.len || hdrs[i].name.ptr[0] == ':') continue;
        rc = pt_buf_append_slice(b, hdrs[i].name);
        if (rc == 0) rc = pt_buf_append(b, ": ", 2);
        if (rc == 0) rc = pt_buf_append_slice(b, hdrs[i].value);
        if (rc == 0) rc = pt_buf_append(b, "\r\n", 2);
    }
    if (rc == 0) rc = pt_buf_append(b, "\r\n", 2);
    c->trailers_sent = true; /* the message is complete in `out`: the end only flushes it */
    return rc ? PT_ENOMEM : 0;
}

void pt_conn_response_end(pt_conn *c)
{
    if (c->h2s) {
        pt__h2s_end(c);
        return;
    }
    if (!c->resp_started || c->resp_done || c->state == CS_CLOSING) return;
    if (c->state == CS_TUNNEL) { /* the upstream ended: the client gets what is queued, then a FIN */
        pt_conn_flush(c);
        c->resp_done = true;
        c->has_sink = false;
        conn_linger_close(c);
        return;
    }
    if (c->resp_chunked && !c->trailers_sent) {
        uv_buf_t ub = uv_buf_init("0\r\n\r\n", 5);
        stage(c, &ub, 1);
    }
    pt_conn_flush(c);
    c->resp_done = true;
    if (!c->req_done) {
        sink_abort(c);
        c->discard_body = true;
        bool parsing_ok = llhttp_get_errno(&c->x->parser) == HPE_OK && c->state == CS_BODY;
        /* A message without a body completes right after its head; a small body is read
         * and dropped so the connection can be kept. Anything else ends the connection:
         * the unread body would be taken for the next request. */
        if (parsing_ok && !c->close_after && (!pt_conn_has_body(c) || body_discardable(c))) {
            if (pt_conn_has_body(c)) {
                pt_conn_resume_body(c);
                timer_arm(c, c->srv->limits.body_timeout_ms);
            }
            return;
        }
        c->close_after = true;
        conn_linger_close(c);
        return;
    }
    c->has_sink = false;
    conn_process(c, NULL, 0);
}

void pt_conn_response_abort(pt_conn *c)
{
    if (c->h2s) {
        pt__h2s_abort(c);
        return;
    }
    if (c->state == CS_CLOSING) return;
    if (!c->x->info.outcome) c->x->info.outcome = PT_OUT_UPSTREAM_ABORTED;
    sink_abort(c); /* a handler still attached (the server's own abort) stops its upstream */
    pt_conn_flush(c); /* what we have goes out; the close then truncates the message */
    conn_close(c);
}

void pt_conn_respond(pt_conn *c, int status, const char *ctype, const char *body, size_t n)
{
    char date[40];
    fmt_http_date(date, sizeof date);
    pt_header h[3] = {
        { PT_SLICE_LIT("Date"), pt_slice_cstr(date) },
        { PT_SLICE_LIT("Server"), PT_SLICE_LIT("portico") },
        { PT_SLICE_LIT("Content-Type"), pt_slice_cstr(ctype) },
    };
    if (pt_conn_response_start(c, status, h, ctype ? 3 : 2, (int64_t)n) != 0) {
        if (c->state != CS_CLOSING) conn_close(c);
        return;
    }
    pt_conn_response_body(c, body, n);
    pt_conn_response_end(c);
}

void pt_conn_respond_error(pt_conn *c, pt_outcome o, const pt_error_body *more, const char *fmt, ...)
{
    if (!pt__conn_live(c)) { /* out of memory on an idle connection: nothing to answer with */
        conn_close(c);
        return;
    }
    if (c->resp_started) {
        pt_conn_response_abort(c);
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!c->x->req.request_id[0]) pt__gen_request_id(c->x->req.request_id);
    if (!c->x->info.outcome) c->x->info.outcome = o;
    if (!c->in_request) { /* rejected before a message began (e.g. timeout on a fresh connection) */
        c->in_request = true;
        c->x->start_us = pt_now_us();
    }
    if (pt_conn_is_grpc(c)) {
        pt_conn_respond_grpc_status(c, pt_grpc_status_of(o), msg);
        return;
    }
    int status = pt_outcome_status(o);
    /* Errors raised while parsing the head leave the framing unknown: close after. */
    if (c->state == CS_HEAD || status == 400 || status == 408 || status == 413 || status == 431)
        c->close_after = true;
    pt_buf b = PT_BUF_INIT;
    const char *ctype = "application/json";
    if (c->srv->render_error && c->x->req.method_name.len &&
        c->srv->render_error(&c->x->req, o, msg, &b, &ctype, c->srv->arg)) {
        pt_conn_respond(c, status, ctype, b.data, b.len);
        pt_buf_release(&b);
        return;
    }
    pt_buf_reset(&b);
    pt_error_body e = more ? *more : (pt_error_body){ 0 };
    e.status = status;
    e.code = pt_outcome_log_name(o);
    e.message = msg;
    e.request_id = c->x->req.request_id;
    pt_error_body_render(&b, PT_ERRFMT_GATEWAY, &e);
    pt_conn_respond(c, status, "application/json", b.data, b.len);
    pt_buf_release(&b);
}

bool pt_conn_is_grpc(const pt_conn *c)
{
    if (!c->h2s || !c->x->req.method_name.len) return false;
    const pt_header *ct = pt_request_header(&c->x->req, "content-type");
    return ct && pt_grpc_content_type(ct->value);
}

void pt_conn_respond_grpc_status(pt_conn *c, int grpc_status, const char *msg)
{
    if (c->resp_started) {
        pt_conn_response_abort(c);
        return;
    }
    char code[8];
    snprintf(code, sizeof code, "%d", grpc_status);
    pt_buf m = PT_BUF_INIT;
    pt_grpc_message_encode(&m, msg ? msg : "", msg ? strlen(msg) : 0);
    pt_header h[4] = {
        { PT_SLICE_LIT("content-type"), PT_SLICE_LIT("application/grpc") },
        { PT_SLICE_LIT("grpc-status"), pt_slice_cstr(code) },
        { PT_SLICE_LIT("grpc-message"), pt_slice_from(m.data ? m.data : "", m.len) },
        { PT_SLICE_LIT("server"), PT_SLICE_LIT("portico") },
    };
    if (pt_conn_response_start(c, 200, h, 4, 0) != 0) {
        pt_buf_release(&m);
        if (c->state != CS_CLOSING) conn_close(c);
        return;
    }
    pt_buf_release(&m);
    pt_conn_response_end(c);
}

/* --- handler-facing accessors ------------------------------------------------- */

void pt_conn_set_sink(pt_conn *c, const pt_body_sink *sink)
{
    if (!sink) {
        c->has_sink = false;
        memset(&c->x->sink, 0, sizeof c->x->sink);
        return;
    }
    c->x->sink = *sink;
    c->has_sink = true;
}

void pt_conn_continue(pt_conn *c)
{
    if (c->h2s) {
        pt__h2s_continue(c);
        return;
    }
    if (!c->x->req.expect_continue || c->continue_sent || c->req_done || c->resp_started) return;
    c->continue_sent = true;
    uv_buf_t ub = uv_buf_init("HTTP/1.1 100 Continue\r\n\r\n", 25);
    pt_sock_write(&c->sock, &ub, 1);
}

void pt_conn_pause_body(pt_conn *c)
{
    if (c->h2s) {
        pt__h2s_pause(c, true);
        return;
    }
    if (c->body_paused || (c->req_done && c->state != CS_TUNNEL)) return;
    c->body_paused = true;
    pt_sock_read_stop(&c->sock);
    /* We stopped reading, not the client: the body timer must not blame it. */
    if (!c->resp_started) timer_arm(c, 0);
}

void pt_conn_resume_body(pt_conn *c)
{
    if (c->h2s) {
        pt__h2s_pause(c, false);
        return;
    }
    if (!c->body_paused || c->state == CS_CLOSING) return;
    c->body_paused = false;
    pt_sock_read_start(&c->sock);
    if (!c->req_done && !c->resp_started) timer_arm(c, c->srv->limits.body_timeout_ms);
}

size_t pt_conn_write_queue(const pt_conn *c) { return c->h2s ? pt__h2s_write_queue(c) : c->sock.wq_bytes + c->x->out.len; }
bool pt_conn_response_started(const pt_conn *c) { return c->resp_started; }
int pt_conn_add_resp_headers(pt_conn *c, const char *lines, size_t n)
{
    pt_slice *h = &c->x->info.resp_headers;
    char *out = pt_req_alloc_raw(&c->x->req, h->len + n); /* every byte is written below */
    if (!out) return PT_ENOMEM;
    if (h->len) memcpy(out, h->ptr, h->len);
    memcpy(out + h->len, lines, n);
    *h = (pt_slice){ out, h->len + n };
    return 0;
}

pt_req_info *pt_conn_info(pt_conn *c) { return &c->x->info; }
pt_server *pt_conn_server(pt_conn *c) { return c->srv; }
const char *pt_conn_peer(const pt_conn *c) { return c->x->peer; }
/* A stream's socket is its session's. */
static const pt_sock *conn_sock(const pt_conn *c) { return c->h2s ? &c->x->parent->sock : &c->sock; }
bool pt_conn_is_tls(const pt_conn *c) { return conn_sock(c)->tls_on; }
const char *pt_conn_subject_header(const pt_conn *c)
{
    const pt_sock *s = conn_sock(c);
    return s->tls_on ? pt_tls_subject_header(s->tls) : NULL;
}
bool pt_conn_client_subject(const pt_conn *c, char *out, size_t cap)
{
    const pt_sock *s = conn_sock(c);
    return s->tls_on && pt_tls_peer_subject(s->tls, out, cap);
}
bool pt_conn_has_body(const pt_conn *c) { return c->x->req.chunked || c->x->req.content_length > 0; }

/* --- what h2.c and conn_live.c share ------------------------------------------------ */

void pt__conn_request_finish(pt_conn *c, bool log) { request_finish(c, log); }
void pt__conn_sink_abort(pt_conn *c) { sink_abort(c); }
void pt__conn_close(pt_conn *c) { conn_close(c); }
void pt__conn_linger_close(pt_conn *c) { conn_linger_close(c); }
void pt__conn_timer(pt_conn *c, uint64_t ms) { timer_arm(c, ms); }
const llhttp_settings_t *pt__conn_parser_settings(void) { return &parser_settings; }
