/* Unit tests for http/client.c: starting an exchange never calls back inside the call
 * (failures and drain notices come from the loop), and interim responses (1xx) from the
 * upstream never reach the caller, with 101 Switching Protocols refused as a bad response
 * unless the request asked to upgrade: then the connection becomes a raw tunnel.
 * Real loopback sockets; the upstream is a plain non-blocking socket the test drives. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/err.h"
#include "http/client.h"
#include "upstream_head.h"

typedef struct seen {
    int heads, dones, errors, drains, last_err, last_phase, status;
    size_t nheaders;
    char last_header[32];   /* the last response header's name */
    char detail[256];
    char unsent[64];        /* the unsent body handed back by on_error */
} seen;

static void s_head(void *u, int st, const pt_header *h, size_t n, int64_t cl)
{
    seen *s = u;
    s->heads++;
    s->status = st;
    s->nheaders = n;
    if (n && h[n - 1].name.len < sizeof s->last_header)
        memcpy(s->last_header, h[n - 1].name.ptr, h[n - 1].name.len);
}
static void s_body(void *u, const char *d, size_t n) {}
static void s_done(void *u) { ((seen *)u)->dones++; }
static void s_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    seen *s = u;
    s->errors++;
    s->last_err = err;
    s->last_phase = phase;
    snprintf(s->detail, sizeof s->detail, "%s", detail);
    if (unsent && unsent->len < sizeof s->unsent) memcpy(s->unsent, unsent->data ? unsent->data : "", unsent->len);
}
static void s_drain(void *u) { ((seen *)u)->drains++; }
static const pt_exchange_cb cbs = { .on_head = s_head, .on_body = s_body, .on_done = s_done,
                                    .on_error = s_error, .on_drain = s_drain };

static const pt_exchange_opts opts = { .connect_timeout_ms = 5000, .first_byte_timeout_ms = 5000,
                                       .idle_timeout_ms = 5000, .pool_idle_ms = 5000, .pool_max_idle = 4,
                                       .idempotent = true };
static const char GET[] = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";

typedef struct fixture {
    uv_loop_t loop;
    pt_client *cl;
    int lfd;         /* the upstream's listening socket */
    uint16_t port;
} fixture;

static void fixture_init(fixture *f)
{
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->cl = pt_client_new(&f->loop);
    assert_non_null(f->cl);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(f->lfd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
}

/* Frees the client, lets every handle close, and checks the loop is empty. */
static void fixture_end(fixture *f)
{
    pt_client_free(f->cl);
    for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT); i++) usleep(1000);
    if (f->lfd >= 0) close(f->lfd);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* Runs the loop until *counter is nonzero (or 2 s pass). */
static void run_until(fixture *f, const int *counter)
{
    for (int i = 0; i < 400 && *counter == 0; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
}

/* Runs the loop until the upstream has accepted a connection and read a request head. */
static int upstream_read_head(fixture *f, int afd) { return upstream_accept_head(&f->loop, f->lfd, afd); }

static pt_exchange *start(fixture *f, const pt_endpoint *ep, seen *s)
{
    return pt_exchange_start(f->cl, ep, &opts, GET, sizeof GET - 1, &cbs, s);
}

/* ---- starting never calls back inside the call ------------------------------------------ */

/* A TLS endpoint whose CA file cannot be read fails inside pt_exchange_start (the client
 * has no TLS context for it). */
static pt_exchange *start_failing_at_once(fixture *f, seen *s)
{
    pt_endpoint ep = { .host = "127.0.0.1", .port = f->port, .tls = true, .ca_file = "/nonexistent/ca.pem" };
    pt_exchange *x = start(f, &ep, s);
    assert_non_null(x);
    return x;
}

/* A failure inside pt_exchange_start: the exchange is still returned, the error arrives
 * from the loop. */
static void failure_at_start_is_reported_from_the_loop(void **state)
{
    fixture f;
    fixture_init(&f);
    seen s = { 0 };
    start_failing_at_once(&f, &s);
    assert_int_equal(s.errors, 0);
    run_until(&f, &s.errors);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, PT_ETLS);
    assert_int_equal(s.last_phase, 0);
    assert_int_equal(pt_upstream_cause_of(s.last_err, s.last_phase), PT_UC_TLS);
    fixture_end(&f);
}

/* Nothing listens: refused, reported from the loop, with phase 0 (safe to retry). */
static void refused_connect_is_reported_from_the_loop(void **state)
{
    fixture f;
    fixture_init(&f);
    close(f.lfd);
    f.lfd = -1;
    seen s = { 0 };
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port };
    assert_non_null(start(&f, &ep, &s));
    assert_int_equal(s.errors, 0);
    run_until(&f, &s.errors);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, PT_ECONNREFUSED);
    assert_int_equal(s.last_phase, 0);
    assert_string_equal(pt_upstream_cause_name(pt_upstream_cause_of(s.last_err, s.last_phase)),
                        "connection_refused");
    fixture_end(&f);
}

/* The caller may cancel an exchange whose start failed before the failure is delivered:
 * then no callback runs at all and nothing leaks (the sanitizer pass checks the latter). */
static void cancel_before_the_failure_is_delivered_silences_it(void **state)
{
    fixture f;
    fixture_init(&f);
    seen s = { 0 };
    pt_exchange_cancel(start_failing_at_once(&f, &s));
    for (int i = 0; i < 10; i++) uv_run(&f.loop, UV_RUN_NOWAIT);
    assert_int_equal(s.errors, 0);
    fixture_end(&f);
}

/* Body bytes the caller streams between a failure at start and its delivery are not lost:
 * on_error hands them back with the rest of the unsent body, for a retry elsewhere. */
static void body_streamed_before_a_start_failure_is_delivered_comes_back_unsent(void **state)
{
    fixture f;
    fixture_init(&f);
    seen s = { 0 };
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port, .tls = true, .ca_file = "/nonexistent/ca.pem" };
    pt_exchange_opts o = opts;
    o.has_body = true;
    o.body = "abc";
    o.body_len = 3;
    pt_exchange *x = pt_exchange_start(f.cl, &ep, &o, GET, sizeof GET - 1, &cbs, &s);
    assert_non_null(x);
    assert_int_equal(pt_exchange_body(x, "def", 3), 6);
    run_until(&f, &s.errors);
    assert_int_equal(s.errors, 1);
    assert_string_equal(s.unsent, "abcdef");
    fixture_end(&f);
}

/* Freeing the client delivers a failure still queued from start, exactly once. */
static void client_free_delivers_a_queued_failure(void **state)
{
    fixture f;
    fixture_init(&f);
    seen s = { 0 };
    start_failing_at_once(&f, &s);
    pt_client_free(f.cl);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, PT_ETLS);
    for (int i = 0; i < 100 && uv_run(&f.loop, UV_RUN_NOWAIT); i++) usleep(1000);
    assert_int_equal(s.errors, 1);
    close(f.lfd);
    assert_int_equal(uv_loop_close(&f.loop), 0);
}

/* A start that takes a pooled connection writes at once; the drain notice that tells the
 * caller it may resume its client comes from the loop, not from inside the call. */
static void drain_on_a_pooled_connection_is_reported_from_the_loop(void **state)
{
    fixture f;
    fixture_init(&f);
    seen s1 = { 0 }, s2 = { 0 };
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port };
    assert_non_null(start(&f, &ep, &s1));
    int afd = upstream_read_head(&f, -1);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(write(afd, ok, sizeof ok - 1), (ssize_t)(sizeof ok - 1));
    run_until(&f, &s1.dones);
    assert_int_equal(s1.dones, 1);
    assert_non_null(start(&f, &ep, &s2)); /* reuses the kept-alive connection */
    assert_int_equal(s2.drains, 0);
    run_until(&f, &s2.drains);
    assert_int_equal(s2.drains, 1);
    upstream_read_head(&f, afd); /* the second request went out on the same connection */
    close(afd);
    fixture_end(&f);
}

/* ---- interim responses ------------------------------------------------------------------- */

/* Sends `reply` as the upstream's answer to one GET and runs until the exchange ends. */
static void exchange_with_reply(const char *reply, seen *s)
{
    fixture f;
    fixture_init(&f);
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port };
    assert_non_null(start(&f, &ep, s));
    int afd = upstream_read_head(&f, -1);
    assert_int_equal(write(afd, reply, strlen(reply)), (ssize_t)strlen(reply));
    for (int i = 0; i < 400 && s->dones + s->errors == 0; i++) {
        uv_run(&f.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    close(afd);
    fixture_end(&f);
}

static void interim_responses_are_absorbed(void **state)
{
    seen s = { 0 };
    exchange_with_reply("HTTP/1.1 100 Continue\r\n\r\n"
                        "HTTP/1.1 102 Processing\r\n\r\n"
                        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
                        "HTTP/1.1 199 Whatever\r\nX-A: b\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                        &s);
    assert_int_equal(s.errors, 0);
    assert_int_equal(s.heads, 1);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.dones, 1);
}

/* An answer's headers reach on_head all of them, as few as most answers have (the exchange
 * holds them) or more. */
static void every_response_header_reaches_the_caller(void **state)
{
    for (int n = 15; n <= 17; n++) {
        char reply[2048];
        size_t k = (size_t)snprintf(reply, sizeof reply, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        for (int i = 1; i < n; i++) k += (size_t)snprintf(reply + k, sizeof reply - k, "X-H%d: v\r\n", i);
        snprintf(reply + k, sizeof reply - k, "\r\nok");
        seen s = { 0 };
        exchange_with_reply(reply, &s);
        assert_int_equal(s.dones, 1);
        assert_int_equal(s.nheaders, (size_t)n);
        char last[16];
        snprintf(last, sizeof last, "X-H%d", n - 1);
        assert_string_equal(s.last_header, last);
    }
}

static void switching_protocols_ends_the_exchange_as_a_bad_response(void **state)
{
    seen s = { 0 };
    exchange_with_reply("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                        "\x81\x05hello",
                        &s);
    assert_int_equal(s.heads, 0);
    assert_int_equal(s.dones, 0);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, PT_EPARSE);
    assert_int_equal(s.last_phase, 1);
    assert_int_equal(pt_upstream_cause_of(s.last_err, s.last_phase), PT_UC_BAD_RESPONSE);
    assert_non_null(strstr(s.detail, "101 Switching Protocols"));
}

static void switching_protocols_after_early_hints_is_refused_too(void **state)
{
    seen s = { 0 };
    exchange_with_reply("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
                        &s);
    assert_int_equal(s.heads, 0);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, PT_EPARSE);
}

/* ---- tunnels ------------------------------------------------------------------------------ */

typedef struct tseen {
    seen s;
    char body[64];
    size_t nbody;
} tseen;

static void t_body(void *u, const char *d, size_t n)
{
    tseen *t = u;
    if (t->nbody + n <= sizeof t->body) memcpy(t->body + t->nbody, d, n);
    t->nbody += n;
}

/* Reads what the upstream socket has, until n bytes or EOF (2 s at most); returns the count,
 * and *eof when the gateway's side ended its stream. */
static size_t upstream_read(fixture *f, int afd, char *out, size_t n, bool *eof)
{
    size_t got = 0;
    *eof = false;
    for (int i = 0; i < 400 && got < n && !*eof; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        ssize_t r = read(afd, out + got, n - got);
        if (r > 0) got += (size_t)r;
        else if (r == 0) *eof = true;
        else usleep(5000);
    }
    return got;
}

/* A request that is never replayed (a POST) is sent from the caller's head and body while
 * pt_exchange_start runs: what a kept-alive connection takes at once is written then, what
 * waits for a connection is copied. Either way the caller may reuse its bytes as soon as
 * the call returns, and the upstream gets the request whole. */
static void a_post_goes_out_whole_when_its_caller_reuses_its_bytes(void **state)
{
    fixture f;
    fixture_init(&f);
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port };
    pt_exchange_opts o = opts;
    o.idempotent = false;
    o.has_body = true;
    o.body_complete = true;
    static const char want[] = "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    size_t head_len = sizeof want - 1 - 5;
    int afd = -1;
    for (int round = 0; round < 2; round++) { /* a new connection, then the kept-alive one */
        seen s = { 0 };
        char head[128], body[8];
        memcpy(head, want, head_len);
        memcpy(body, "hello", 5);
        o.body = body;
        o.body_len = 5;
        assert_non_null(pt_exchange_start(f.cl, &ep, &o, head, head_len, &cbs, &s));
        memset(head, 'X', sizeof head);
        memset(body, 'X', sizeof body);
        for (int i = 0; i < 400 && afd < 0; i++) {
            uv_run(&f.loop, UV_RUN_NOWAIT);
            if ((afd = accept4(f.lfd, NULL, NULL, SOCK_NONBLOCK)) < 0) usleep(5000);
        }
        assert_true(afd >= 0);
        char got[128];
        bool eof;
        assert_int_equal(upstream_read(&f, afd, got, sizeof want - 1, &eof), sizeof want - 1);
        assert_memory_equal(got, want, sizeof want - 1);
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_int_equal(write(afd, ok, sizeof ok - 1), (ssize_t)(sizeof ok - 1));
        run_until(&f, &s.dones);
        assert_int_equal(s.dones, 1);
    }
    close(afd);
    fixture_end(&f);
}

static void switching_protocols_to_an_upgrade_request_opens_a_tunnel(void **state)
{
    fixture f;
    fixture_init(&f);
    tseen t = { 0 };
    static const pt_exchange_cb tcb = { .on_head = s_head, .on_body = t_body, .on_done = s_done,
                                        .on_error = s_error, .on_drain = s_drain };
    pt_exchange_opts o = opts;
    o.upgrade = true;
    o.chunked_body = true; /* a tunnel's bytes are never chunk-framed */
    static const char UP[] = "GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
    pt_endpoint ep = { .host = "127.0.0.1", .port = f.port };
    pt_exchange *x = pt_exchange_start(f.cl, &ep, &o, UP, sizeof UP - 1, &tcb, &t);
    assert_non_null(x);
    int afd = upstream_read_head(&f, -1);
    static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                             "\x81\x05hello";
    assert_int_equal(write(afd, sw, sizeof sw - 1), (ssize_t)(sizeof sw - 1));
    for (int i = 0; i < 400 && t.nbody < 7; i++) {
        uv_run(&f.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(t.s.heads, 1);
    assert_int_equal(t.s.status, 101);
    assert_int_equal(t.nbody, 7); /* the bytes behind the 101 head, as they came */
    assert_memory_equal(t.body, "\x81\x05hello", 7);
    pt_exchange_body(x, "ping", 4); /* raw upstream, no chunk framing */
    pt_exchange_body_end(x);        /* the client's end: a FIN upstream, reading goes on */
    char got[16];
    bool eof;
    assert_int_equal(upstream_read(&f, afd, got, sizeof got, &eof), 4);
    assert_memory_equal(got, "ping", 4);
    assert_true(eof);
    assert_int_equal(write(afd, "bye", 3), 3); /* bytes still flow back after the half-close */
    close(afd);
    run_until(&f, &t.s.dones);
    assert_int_equal(t.s.dones, 1); /* the upstream's EOF ends the tunnel */
    assert_int_equal(t.s.errors, 0);
    assert_int_equal(t.nbody, 10);
    assert_memory_equal(t.body + 7, "bye", 3);
    fixture_end(&f);
}

/* ---- causes ------------------------------------------------------------------------------ */

static void causes_follow_the_error_and_how_far_it_got(void **state)
{
    assert_int_equal(pt_upstream_cause_of(PT_ETIMEDOUT, 0), PT_UC_CONNECT_TIMEOUT);
    assert_int_equal(pt_upstream_cause_of(PT_ETIMEDOUT, 1), PT_UC_FIRST_BYTE_TIMEOUT);
    assert_int_equal(pt_upstream_cause_of(PT_ETIMEDOUT, 2), PT_UC_IDLE_TIMEOUT);
    assert_int_equal(pt_upstream_cause_of(PT_ECLOSED, 1), PT_UC_CLOSED_BEFORE_HEAD);
    assert_int_equal(pt_upstream_cause_of(PT_ECLOSED, 2), PT_UC_CLOSED_MID_RESPONSE);
    assert_int_equal(pt_upstream_cause_of(PT_ECONNRESET, 1), PT_UC_RESET);
    assert_int_equal(pt_upstream_cause_of(PT_EIO, 1), PT_UC_OTHER);
    assert_string_equal(pt_upstream_cause_text(PT_UC_CONNECT_TIMEOUT), "connect timed out");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failure_at_start_is_reported_from_the_loop),
        cmocka_unit_test(refused_connect_is_reported_from_the_loop),
        cmocka_unit_test(cancel_before_the_failure_is_delivered_silences_it),
        cmocka_unit_test(client_free_delivers_a_queued_failure),
        cmocka_unit_test(body_streamed_before_a_start_failure_is_delivered_comes_back_unsent),
        cmocka_unit_test(drain_on_a_pooled_connection_is_reported_from_the_loop),
        cmocka_unit_test(a_post_goes_out_whole_when_its_caller_reuses_its_bytes),
        cmocka_unit_test(every_response_header_reaches_the_caller),
        cmocka_unit_test(interim_responses_are_absorbed),
        cmocka_unit_test(switching_protocols_ends_the_exchange_as_a_bad_response),
        cmocka_unit_test(switching_protocols_after_early_hints_is_refused_too),
        cmocka_unit_test(switching_protocols_to_an_upgrade_request_opens_a_tunnel),
        cmocka_unit_test(causes_follow_the_error_and_how_far_it_got),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
