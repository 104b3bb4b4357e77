/* Unit tests for a request's lifetime (http/request.c, server.c): its pool and cleanup
 * hooks run after the done callback (the access-log line), newest first, exactly once,
 * however the request ends: completed, aborted by the client, cut by an error the server
 * raises, or its connection closed (the drain deadline's close-all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/err.h"
#include "server_harness.h"

/* What the handler does once the head is in. */
typedef enum { ANSWER_AT_END, START_ONLY, NEVER } mode;

typedef struct life {
    pt_conn *c;
    int id;
    char magic[16]; /* pool memory the hooks read: still there when they run */
} life;

static char events[1024];
static int nreq;
static mode handler_mode;

static void ev(const char *fmt, int n)
{
    size_t len = strlen(events);
    snprintf(events + len, sizeof events - len, fmt, n);
}

static void hook_first(void *d)
{
    life *l = d;
    assert_string_equal(l->magic, "pool ok");
    ev("first%d ", l->id);
}

static void hook_second(void *d)
{
    life *l = d;
    assert_string_equal(l->magic, "pool ok");
    ev("second%d ", l->id);
}

static void l_body(void *h, const char *d, size_t n) {}

static void l_end(void *h)
{
    life *l = h;
    if (handler_mode != ANSWER_AT_END) return;
    pt_conn_set_sink(l->c, NULL);
    pt_conn_respond(l->c, 200, "text/plain", "ok", 2);
}

static void l_abort(void *h)
{
    life *l = h;
    ev("abort%d ", l->id);
}

static void l_dispatch(pt_conn *c, pt_request *req, void *arg)
{
    life *l = pt_req_alloc(req, sizeof *l);
    assert_non_null(l);
    l->c = c;
    l->id = ++nreq;
    strcpy(l->magic, "pool ok");
    assert_int_equal(pt_req_cleanup_add(req, hook_first, l), 0);
    assert_int_equal(pt_req_cleanup_add(req, hook_second, l), 0);
    ev("dispatch%d ", l->id);
    pt_body_sink sink = { l, l_body, l_end, NULL, l_abort };
    pt_conn_set_sink(c, &sink);
    if (handler_mode == START_ONLY) {
        pt_conn_response_start(c, 200, NULL, 0, -1);
        pt_conn_response_body(c, "partial", 7);
        pt_conn_flush(c);
    }
}

static void l_done(pt_conn *c, const pt_request *req, const pt_req_info *info, int status, uint64_t in,
                   uint64_t out, uint64_t us, void *arg)
{
    ev("done%d ", status);
}

static void run_case(mode m, const char *in, int keep_open, const char *want)
{
    events[0] = '\0';
    nreq = 0;
    handler_mode = m;
    pt_buf out = harness_run(in, strlen(in), 0, keep_open);
    assert_string_equal(events, want);
    pt_buf_release(&out);
}

static void completed_request_runs_hooks_after_done(void **s)
{
    run_case(ANSWER_AT_END, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 0, "dispatch1 done200 second1 first1 ");
}

static void pipelined_requests_each_end_before_the_next_starts(void **s)
{
    run_case(ANSWER_AT_END, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", 0,
             "dispatch1 done200 second1 first1 dispatch2 done200 second2 first2 ");
}

static void client_abort_mid_body_runs_hooks_once(void **s)
{
    run_case(ANSWER_AT_END, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 0,
             "dispatch1 abort1 done499 second1 first1 ");
}

static void server_error_mid_body_runs_hooks_once(void **s)
{
    /* the chunked body passes max_body_bytes (4096): the server answers 413 itself */
    static char in[8192];
    int n = snprintf(in, sizeof in, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1400\r\n");
    memset(in + n, 'x', 5000);
    in[n + 5000] = '\0';
    run_case(ANSWER_AT_END, in, 0, "dispatch1 abort1 done413 second1 first1 ");
}

static void body_error_after_the_answer_began_aborts_the_handler(void **s)
{
    /* the answer started at once; then the chunked body turns out malformed: the server
     * cuts the response, and the handler, still attached, hears of it before the hooks */
    run_case(START_ONLY, "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
             "dispatch1 abort1 done200 second1 first1 ");
}

static void close_all_mid_response_runs_hooks_after_done(void **s)
{
    run_case(START_ONLY, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1, "dispatch1 abort1 done200 second1 first1 ");
}

static void close_all_before_an_answer_logs_the_drain_deadline(void **s)
{
    /* nothing was answered: logged as the drain deadline's 503, then the hooks */
    run_case(NEVER, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1, "dispatch1 abort1 done503 second1 first1 ");
}

static void close_all_after_the_end_runs_nothing_again(void **s)
{
    run_case(ANSWER_AT_END, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", 1, "dispatch1 done200 second1 first1 ");
}

/* A hook that ends the request again runs only the hooks still waiting: each runs once. */
static int reentered, counted;
static void hook_reenter(void *d)
{
    reentered++;
    pt__req_end(d);
}
static void hook_count(void *d) { counted++; }

static void request_end_is_idempotent(void **s)
{
    pt_request req;
    memset(&req, 0, sizeof req);
    pt__req_begin(&req);
    assert_int_equal(pt_req_cleanup_add(&req, hook_count, NULL), 0);
    assert_int_equal(pt_req_cleanup_add(&req, hook_reenter, &req), 0);
    assert_non_null(pt_req_alloc(&req, 100));
    pt__req_end(&req);
    pt__req_end(&req);
    assert_int_equal(reentered, 1);
    assert_int_equal(counted, 1);
    assert_null(req.pool.head);
    assert_null(req.cleanups);
}

/* The pool's cap is the request's: past it an allocation (and a hook) is refused. */
static void request_pool_is_capped(void **s)
{
    pt_request req;
    memset(&req, 0, sizeof req);
    pt__req_begin(&req);
    assert_non_null(pt_req_alloc(&req, PT_REQ_POOL_LIMIT - 16));
    assert_null(pt_req_alloc(&req, 32));
    assert_int_equal(pt_req_cleanup_add(&req, hook_reenter, &req), PT_ENOMEM);
    pt__req_end(&req);
}

static int setup(void **s)
{
    harness_setup(s);
    harness_srv.dispatch = l_dispatch;
    harness_srv.done = l_done;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(completed_request_runs_hooks_after_done),
        cmocka_unit_test(pipelined_requests_each_end_before_the_next_starts),
        cmocka_unit_test(client_abort_mid_body_runs_hooks_once),
        cmocka_unit_test(server_error_mid_body_runs_hooks_once),
        cmocka_unit_test(body_error_after_the_answer_began_aborts_the_handler),
        cmocka_unit_test(close_all_mid_response_runs_hooks_after_done),
        cmocka_unit_test(close_all_before_an_answer_logs_the_drain_deadline),
        cmocka_unit_test(close_all_after_the_end_runs_nothing_again),
        cmocka_unit_test(request_end_is_idempotent),
        cmocka_unit_test(request_pool_is_capped),
    };
    return cmocka_run_group_tests(tests, setup, harness_teardown);
}
