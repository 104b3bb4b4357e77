/* Unit tests for http/server.c: what the parser glue delivers and refuses, driven
 * without sockets through a captured connection (see server_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "server_harness.h"

static pt_buf run(const char *in, size_t step) { return harness_run(in, strlen(in), step, 0); }

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p++) n++;
    return n;
}

static void expect_status_only(const char *in, const char *status_line, const char *code)
{
    for (size_t step = 0; step < 3; step++) { /* whole, then byte by byte, then 2 at a time */
        pt_buf out = run(in, step);
        if (!out.data || strncmp(out.data, status_line, strlen(status_line)) != 0)
            print_error("input %s (step %zu) got: %s\n", in, step, out.data ? out.data : "(nothing)");
        assert_non_null(out.data);
        assert_true(strncmp(out.data, status_line, strlen(status_line)) == 0);
        assert_int_equal(count(out.data, "Server: portico"), 1); /* one response */
        assert_non_null(strstr(out.data, code));
        assert_non_null(strstr(out.data, "Connection: close"));
        pt_buf_release(&out);
    }
}

static void get_is_answered_with_request_id(void **s)
{
    pt_buf out = run("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n", 0);
    assert_true(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    assert_non_null(strstr(out.data, "X-Request-Id: abc-123\r\n"));
    assert_non_null(strstr(out.data, "GET /a?b=1 body=0"));
    pt_buf_release(&out);
}

static void unsafe_request_id_is_replaced(void **s)
{
    pt_buf out = run("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\"b\r\n\r\n", 0);
    assert_null(strstr(out.data, "a\"b"));
    const char *rid = strstr(out.data, "X-Request-Id: ");
    assert_non_null(rid);
    assert_int_equal(strcspn(rid + 14, "\r"), 32);
    pt_buf_release(&out);
}

/* Feeds `in` (three requests: GET /1, POST /2 with a 5-byte body, GET /3) at every split
 * step and checks all three were answered 200, in order, with no 400. */
static void assert_three_answered_in_order(const char *in)
{
    for (size_t step = 0; step < 4; step++) {
        pt_buf out = run(in, step);
        assert_int_equal(count(out.data, "HTTP/1.1 200 OK"), 3);
        char *a = strstr(out.data, "GET /1 body=0"), *b = strstr(out.data, "POST /2 body=5"),
             *c = strstr(out.data, "GET /3 body=0");
        assert_true(a && b && c && a < b && b < c);
        assert_null(strstr(out.data, "Connection: close"));
        assert_null(strstr(out.data, "400 Bad Request"));
        pt_buf_release(&out);
    }
}

static void pipelined_requests_answer_in_order(void **s)
{
    assert_three_answered_in_order("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                   "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                                   "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void h2c_offer_is_ignored(void **s)
{
    /* Upgrade: h2c is not a tunnel (RFC 9113 §3.2 lets a server ignore it): the request is
     * answered as HTTP, its body read as HTTP, and the connection stays HTTP/1.1 */
    assert_three_answered_in_order(
        "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"
        "POST /2 HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 5\r\n\r\nhello"
        "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void upgrade_answered_without_a_switch_closes_the_connection(void **s)
{
    /* what follows an upgrade request may be the new protocol already: never parsed as HTTP */
    static const char *asks[] = { "Upgrade: websocket", "Upgrade: h2c, websocket", "Upgrade: foo/2" };
    for (size_t i = 0; i < sizeof asks / sizeof *asks; i++) {
        char in[300];
        snprintf(in, sizeof in, "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n%s\r\n\r\n"
                 "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n", asks[i]);
        pt_buf out = run(in, 0);
        assert_int_equal(count(out.data, "HTTP/1.1 200 OK"), 1);
        assert_non_null(strstr(out.data, "GET /1 body=0"));
        assert_non_null(strstr(out.data, "Connection: close"));
        assert_null(strstr(out.data, "GET /2"));
        pt_buf_release(&out);
    }
}

/* HTTP/1.1 trailers follow the last chunk, announced in the head (RFC 9110 §6.6.2), only
 * to a client that said TE: trailers; to others neither goes. */
static void trailers_are_announced_when_they_follow(void **s)
{
    pt_buf out = run("GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n", 0);
    char *ann = strstr(out.data, "Trailer: grpc-status, X-Trailer\r\n"), *blank = strstr(out.data, "\r\n\r\n");
    assert_true(ann && blank && ann < blank);
    assert_non_null(strstr(out.data, "\r\n0\r\ngrpc-status: 0\r\nX-Trailer: yes\r\n\r\n"));
    pt_buf_release(&out);
    out = run("GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_null(strstr(out.data, "Trailer:"));
    assert_null(strstr(out.data, "grpc-status"));
    assert_non_null(strstr(out.data, "\r\n0\r\n\r\n"));
    pt_buf_release(&out);
}

/* ---- tunnels: a handler that switches at the end of the request and echoes "<bytes>"
 * back in angle brackets; the client's EOF ends it ---- */

typedef struct tunnel_h {
    pt_conn *c;
    int switched, rc;
    size_t ends;
} tunnel_h;

static void t_body(void *h, const char *d, size_t n)
{
    tunnel_h *t = h;
    pt_conn_response_body(t->c, "<", 1);
    pt_conn_response_body(t->c, d, n);
    pt_conn_response_body(t->c, ">", 1);
}

static void t_end(void *h)
{
    tunnel_h *t = h;
    if (t->switched++) { /* the client's EOF in the tunnel: bytes still go back, then the end */
        pt_conn_response_body(t->c, "[after-eof]", 11);
        pt_conn_response_end(t->c);
        return;
    }
    pt_header hd[1] = { { PT_SLICE_LIT("Sec-WebSocket-Accept"), PT_SLICE_LIT("abc") } };
    t->rc = pt_conn_tunnel(t->c, PT_SLICE_LIT("websocket"), hd, 1, 10000);
}

static tunnel_h last_tunnel;

static void t_dispatch(pt_conn *c, pt_request *req, void *arg)
{
    last_tunnel = (tunnel_h){ .c = c, .rc = -1 };
    if (!req->upgrade) {
        pt_conn_respond(c, 200, "text/plain", "plain", 5);
        return;
    }
    pt_body_sink sink = { &last_tunnel, t_body, t_end, NULL, h_abort };
    pt_conn_set_sink(c, &sink);
}

static pt_buf run_tunnel(const char *in, size_t step)
{
    harness_srv.dispatch = t_dispatch;
    pt_buf out = run(in, step);
    harness_srv.dispatch = h_dispatch;
    return out;
}

static void accepted_upgrade_tunnels_the_bytes_behind_the_head(void **s)
{
    for (size_t step = 0; step < 3; step++) {
        pt_buf out = run_tunnel("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                                "GET /not-http HTTP/1.1\r\n\r\n", step);
        assert_int_equal(last_tunnel.rc, 0);
        assert_non_null(out.data);
        assert_true(strncmp(out.data, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
        assert_non_null(strstr(out.data, "\r\nSec-WebSocket-Accept: abc\r\n"));
        assert_non_null(strstr(out.data, "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"));
        assert_null(strstr(out.data, "Content-Length"));
        assert_null(strstr(out.data, "Transfer-Encoding"));
        /* every byte behind the head came through raw, whatever the split, and nothing was
         * answered as HTTP */
        pt_buf joined = PT_BUF_INIT;
        for (const char *p = strstr(out.data, "\r\n\r\n") + 4; *p; p++)
            if (*p != '<' && *p != '>') pt_buf_append(&joined, p, 1);
        pt_buf_append(&joined, "", 1);
        assert_string_equal(joined.data, "GET /not-http HTTP/1.1\r\n\r\n[after-eof]");
        assert_int_equal(count(out.data, "HTTP/1.1 101"), 1);
        assert_null(strstr(out.data, "HTTP/1.1 200"));
        assert_null(strstr(out.data, "HTTP/1.1 400"));
        assert_int_equal(last_tunnel.switched, 2); /* switched, then the client's EOF */
        pt_buf_release(&joined);
        pt_buf_release(&out);
    }
}

static void tunnel_refuses_what_is_not_an_upgrade(void **s)
{
    harness_srv.dispatch = t_dispatch;
    pt_buf out = run("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    harness_srv.dispatch = h_dispatch;
    assert_true(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    pt_buf_release(&out);
    /* an HTTP/1.0 client cannot upgrade (RFC 9110 §7.8): answered as plain HTTP */
    out = run_tunnel("GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 0);
    assert_true(strncmp(out.data, "HTTP/1.1 200 OK\r\n", 17) == 0);
    pt_buf_release(&out);
}

static void chunked_body_is_delivered_whole(void **s)
{
    pt_buf out = run("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n", 1);
    assert_non_null(strstr(out.data, "POST /c body=19"));
    pt_buf_release(&out);
}

static void expect_continue_sends_100_first(void **s)
{
    pt_buf out = harness_run("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
                             strlen("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"),
                             0, 1);
    assert_string_equal(out.data, "HTTP/1.1 100 Continue\r\n\r\n");
    pt_buf_release(&out);
}

static void smuggling_shapes_are_refused(void **s)
{
    expect_status_only("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                       "HTTP/1.1 400", "ambiguous_length");
    expect_status_only("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                       "HTTP/1.1 400", "ambiguous_length");
    expect_status_only("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                       "HTTP/1.1 400", "bad_chunk");
    expect_status_only("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", "HTTP/1.1 400", "obsolete_line_folding");
    expect_status_only("GET / HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400", "bad_request");
}

/* RFC 9112 §6.1, as nginx does: 501 for any coding but one final "chunked", whether llhttp
 * stops on it mid-header or lets it through to the complete head. */
static void transfer_codings_other_than_chunked_get_501(void **s)
{
    static const char *codings[] = {
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked, identity\r\n",
        "Transfer-Encoding: chunked;ext=1\r\n",
        "Transfer-Encoding: \r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    };
    for (size_t i = 0; i < sizeof codings / sizeof *codings; i++) {
        char in[256];
        snprintf(in, sizeof in, "POST / HTTP/1.1\r\nHost: x\r\n%s\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
                 codings[i]);
        expect_status_only(in, "HTTP/1.1 501 Not Implemented", "unsupported_transfer_encoding");
        pt_buf out = run(in, 0);
        assert_non_null(strstr(out.data, "RFC 9112 §6.1"));
        assert_null(strstr(out.data, "GET /next"));
        pt_buf_release(&out);
    }
    pt_buf out = run("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0);
    assert_non_null(strstr(out.data, "POST /c body=1"));
    pt_buf_release(&out);
}

/* An HTTP/1.0 request with Transfer-Encoding is refused and the connection closed, so a
 * request pipelined behind it is never served (RFC 9112 §6.1). */
static void http10_with_transfer_encoding_is_refused(void **s)
{
    const char *in = "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "0\r\n\r\nGET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    expect_status_only(in, "HTTP/1.1 400", "bad_transfer_encoding");
    for (size_t step = 0; step < 3; step++) {
        pt_buf out = run(in, step);
        assert_non_null(strstr(out.data, "HTTP/1.0 request (RFC 9112 §6.1)"));
        assert_null(strstr(out.data, "smuggled"));
        pt_buf_release(&out);
    }
    /* the same, with a coding llhttp refuses before the head is complete: still the 1.0 rule */
    expect_status_only("POST / HTTP/1.0\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "HTTP/1.1 400",
                       "bad_transfer_encoding");
}

static void dot_segments_are_refused(void **s)
{
    expect_status_only("GET /public/../admin HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", "bad_path");
    expect_status_only("GET /public/%2e%2E/admin HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", "bad_path");
    expect_status_only("GET /./x HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400", "bad_path");
    pt_buf out = run("GET /a/...b/.well-known/x..y HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_true(strncmp(out.data, "HTTP/1.1 200", 12) == 0);
    pt_buf_release(&out);
}

static void missing_or_duplicate_host_is_refused(void **s)
{
    expect_status_only("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400", "missing_host");
    expect_status_only("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "HTTP/1.1 400", "duplicate_host");
    expect_status_only("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", "HTTP/1.1 400", "duplicate_host");
    /* RFC 9112 §3.2: an absolute-form target does not excuse a missing Host in HTTP/1.1 */
    expect_status_only("GET http://a.example/ HTTP/1.1\r\n\r\n", "HTTP/1.1 400", "missing_host");
}

/* Expects a 400 bad_host whose message contains want (the problem named). */
static void expect_bad_host(const char *in, const char *want)
{
    expect_status_only(in, "HTTP/1.1 400", "\"bad_host\"");
    pt_buf out = run(in, 0);
    if (!strstr(out.data, want)) print_error("input %s: no '%s' in %s\n", in, want, out.data);
    assert_non_null(strstr(out.data, want));
    assert_null(strstr(out.data, "body=")); /* never dispatched */
    pt_buf_release(&out);
}

static void bad_host_headers_are_refused(void **s)
{
    expect_bad_host("GET / HTTP/1.1\r\nHost: evil.example/x?y\r\n\r\n", "'/' is not allowed");
    expect_bad_host("GET / HTTP/1.1\r\nHost: good.example, evil.example\r\n\r\n", "',' is not allowed");
    expect_bad_host("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "0x20 is not allowed");
    expect_bad_host("GET / HTTP/1.1\r\nHost: user@b.example\r\n\r\n", "userinfo");
    expect_bad_host("GET / HTTP/1.1\r\nHost: b.example:99999\r\n\r\n", "1 to 65535");
    expect_bad_host("GET / HTTP/1.1\r\nHost: b.example:8o\r\n\r\n", "1 to 65535");
    expect_bad_host("GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", "brackets");
    expect_bad_host("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "IPv6 address in brackets");
    expect_bad_host("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", "empty label");
    expect_bad_host("GET / HTTP/1.1\r\nHost: \xc3\xa9.example\r\n\r\n", "0xc3 is not allowed");
    /* HTTP/1.0 needs no Host, but one it sends is checked */
    expect_bad_host("GET / HTTP/1.0\r\nHost: a/b\r\n\r\n", "Host header");
}

/* RFC 9112 §3.2.2: the authority of an absolute-form target wins over Host; both are
 * checked, and userinfo in it is refused rather than taken for the host. */
static void absolute_form_authority_is_checked_and_wins(void **s)
{
    expect_bad_host("GET http://a.example:pw@b.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n",
                    "authority in the request target: userinfo");
    expect_bad_host("GET http://a.example,b.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n",
                    "authority in the request target: ','");
    expect_bad_host("GET http:///x HTTP/1.1\r\nHost: b.example\r\n\r\n", "no host");
    expect_bad_host("GET http://a.example/x HTTP/1.1\r\nHost: b.example/\r\n\r\n", "invalid Host header");
    pt_buf out = run("GET HTTP://A.Example:8080/p?q=1 HTTP/1.1\r\nHost: b.example\r\n\r\n", 0);
    assert_non_null(strstr(out.data, "body=0 host=a.example"));
    pt_buf_release(&out);
    out = run("GET https://[2001:DB8::1]?q HTTP/1.1\r\nHost: b.example\r\n\r\n", 0);
    assert_non_null(strstr(out.data, "body=0 host=2001:db8::1"));
    pt_buf_release(&out);
}

static void good_hosts_are_normalised(void **s)
{
    static const struct {
        const char *host, *want;
    } cases[] = {
        { "Example.COM", "example.com" },  { "example.com.:8080", "example.com" },
        { "[::1]:80", "::1" },             { "10.0.0.1:443", "10.0.0.1" },
        { "my_svc.local:", "my_svc.local" }, { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char in[128];
        snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", cases[i].host);
        pt_buf out = run(in, 1);
        const char *h = strstr(out.data, "body=0 host="); /* the body ends the output */
        if (!h) print_error("Host '%s': %s\n", cases[i].host, out.data);
        assert_non_null(h);
        assert_string_equal(h + 12, cases[i].want);
        pt_buf_release(&out);
    }
}

static void limits_answer_431_and_413(void **s)
{
    char big[4096];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %03000d\r\n\r\n", 0);
    expect_status_only(big, "HTTP/1.1 431", "header_too_large");
    expect_status_only("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", "HTTP/1.1 413", "body_too_large");
    char chunked[6000];
    int n = snprintf(chunked, sizeof chunked, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1388\r\n");
    memset(chunked + n, 'a', 5000);
    chunked[n + 5000] = '\0';
    expect_status_only(chunked, "HTTP/1.1 413", "body_too_large");
}

static void http10_closes_and_http09_is_refused(void **s)
{
    pt_buf out = run("GET / HTTP/1.0\r\n\r\nGET /again HTTP/1.0\r\n\r\n", 0);
    assert_int_equal(count(out.data, "HTTP/1.1 200"), 1);
    assert_non_null(strstr(out.data, "Connection: close"));
    pt_buf_release(&out);
    expect_status_only("GET /\r\n\r\n", "HTTP/1.1 400", "HTTP/0.9");
}

static void head_response_has_length_but_no_body(void **s)
{
    pt_buf out = run("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_non_null(strstr(out.data, "Content-Length: 21\r\n"));
    const char *end = strstr(out.data, "\r\n\r\n");
    assert_non_null(end);
    assert_int_equal(strlen(end), 4);
    pt_buf_release(&out);
}

/* --- the header timeout, on the loop's clock ------------------------------------ */

typedef struct timed_feed {
    pt_conn *c;
    const char *bytes;
} timed_feed;

static void on_timed_feed(uv_timer_t *t)
{
    timed_feed *f = t->data;
    pt__conn_feed(f->c, f->bytes, strlen(f->bytes));
}

/* A connection that gets `now` at once (may be NULL) and `later` after later_ms, under a
 * header timeout of header_ms; returns what it wrote, *gone_ms when it closed. */
static pt_buf run_timed(const char *now, uint64_t later_ms, const char *later, uint64_t header_ms, uint64_t *gone_ms)
{
    pt_http_limits saved = harness_srv.limits;
    harness_srv.limits.header_timeout_ms = header_ms;
    pt_buf out = PT_BUF_INIT;
    uv_update_time(&harness_loop);
    uint64_t t0 = uv_now(&harness_loop);
    pt_conn *c = pt__server_conn_capture(&harness_srv, &out);
    if (now) pt__conn_feed(c, now, strlen(now));
    uv_timer_t t;
    timed_feed f = { c, later };
    uv_timer_init(&harness_loop, &t);
    t.data = &f;
    uv_timer_start(&t, on_timed_feed, later_ms, 0);
    while (harness_srv.nconns) uv_run(&harness_loop, UV_RUN_ONCE);
    *gone_ms = uv_now(&harness_loop) - t0;
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&harness_loop, UV_RUN_NOWAIT);
    harness_srv.limits = saved;
    return out;
}

/* The first head's deadline runs from accept: a client that waits before its first byte
 * does not get a second full timeout from that byte on, and the 408 names the real time. */
static void header_timeout_counts_from_accept(void **s)
{
    uint64_t gone;
    pt_buf out = run_timed(NULL, 300, "GET / HTTP/1.1\r\nHost:", 400, &gone);
    if (gone < 400 || gone >= 650) print_error("closed after %llu ms, want 400..650\n", (unsigned long long)gone);
    assert_true(gone >= 400 && gone < 650); /* re-armed at the first byte, it would be 700 */
    assert_true(strncmp(out.data, "HTTP/1.1 408", 12) == 0);
    assert_non_null(strstr(out.data, "within 400 ms (limits.header_timeout)"));
    pt_buf_release(&out);
}

/* On a kept-alive connection the wait for the next request is idle time; that request's
 * head then has the whole header timeout from its first byte (as nginx does). */
static void keepalive_head_timeout_counts_from_first_byte(void **s)
{
    uint64_t gone;
    pt_buf out = run_timed("GET /1 HTTP/1.1\r\nHost: x\r\n\r\n", 300, "G", 400, &gone);
    assert_true(gone >= 700);
    assert_int_equal(count(out.data, "HTTP/1.1 200"), 1);
    assert_non_null(strstr(out.data, "HTTP/1.1 408")); /* a request had begun: it is told why */
    pt_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_is_answered_with_request_id),
        cmocka_unit_test(unsafe_request_id_is_replaced),
        cmocka_unit_test(pipelined_requests_answer_in_order),
        cmocka_unit_test(h2c_offer_is_ignored),
        cmocka_unit_test(upgrade_answered_without_a_switch_closes_the_connection),
        cmocka_unit_test(trailers_are_announced_when_they_follow),
        cmocka_unit_test(accepted_upgrade_tunnels_the_bytes_behind_the_head),
        cmocka_unit_test(tunnel_refuses_what_is_not_an_upgrade),
        cmocka_unit_test(chunked_body_is_delivered_whole),
        cmocka_unit_test(expect_continue_sends_100_first),
        cmocka_unit_test(smuggling_shapes_are_refused),
        cmocka_unit_test(transfer_codings_other_than_chunked_get_501),
        cmocka_unit_test(http10_with_transfer_encoding_is_refused),
        cmocka_unit_test(missing_or_duplicate_host_is_refused),
        cmocka_unit_test(bad_host_headers_are_refused),
        cmocka_unit_test(absolute_form_authority_is_checked_and_wins),
        cmocka_unit_test(good_hosts_are_normalised),
        cmocka_unit_test(dot_segments_are_refused),
        cmocka_unit_test(limits_answer_431_and_413),
        cmocka_unit_test(http10_closes_and_http09_is_refused),
        cmocka_unit_test(head_response_has_length_but_no_body),
        cmocka_unit_test(header_timeout_counts_from_accept),
        cmocka_unit_test(keepalive_head_timeout_counts_from_first_byte),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
