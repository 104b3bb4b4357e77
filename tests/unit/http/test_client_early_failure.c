/* http/client.c when the upstream fails early: a write that fails inside the caller's own
 * pt_exchange_body / pt_exchange_body_end call is reported once, from the loop, and the
 * exchange is not touched after it is freed; a connection that fails while resolving leaves
 * no open handle. Real loopback sockets; the "upstream" is a plain socket the test drives.
 * Every build checks the error count and that the loop closes; the sanitizer build
 * (make SANITIZE=address,undefined unit) also sees any read of the freed exchange. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

typedef struct rec {
    int heads, bodies, dones, errors, last_err;
} rec;

static void r_head(void *u, int st, const pt_header *h, size_t n, int64_t cl) { ((rec *)u)->heads++; }
static void r_body(void *u, const char *d, size_t n) { ((rec *)u)->bodies++; }
static void r_done(void *u) { ((rec *)u)->dones++; }
static void r_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    ((rec *)u)->errors++;
    ((rec *)u)->last_err = err;
}
static const pt_exchange_cb cbs = { .on_head = r_head, .on_body = r_body, .on_done = r_done, .on_error = r_error };

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}


static void reset_close(int fd)
{
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    usleep(20000); /* loopback delivers the RST at once; be generous */
}

static const char HEAD[] = "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n";
static const char HEAD_CHUNKED[] = "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";

/* Starts an exchange with a streamed body towards port and returns the upstream's socket
 * once the head has arrived there. */
static int start_and_accept(uv_loop_t *loop, pt_client *cl, uint16_t port, int lfd, bool chunked, rec *r,
                            pt_exchange **x)
{
    pt_endpoint ep = { .host = "127.0.0.1", .port = port };
    pt_exchange_opts o = { .connect_timeout_ms = 5000, .first_byte_timeout_ms = 5000, .idle_timeout_ms = 5000,
                           .pool_idle_ms = 5000, .pool_max_idle = 4, .has_body = true, .chunked_body = chunked };
    const char *head = chunked ? HEAD_CHUNKED : HEAD;
    *x = pt_exchange_start(cl, &ep, &o, head, strlen(head), &cbs, r);
    assert_non_null(*x);
    return upstream_accept_head(loop, lfd, -1);
}

static void finish_loop(uv_loop_t *loop, pt_client *cl)
{
    pt_client_free(cl);
    for (int i = 0; i < 50 && uv_run(loop, UV_RUN_NOWAIT); i++) usleep(1000);
}

/* The upstream resets the connection; the next write (a body piece, or the end of a chunked
 * body) fails inside the caller's pt_exchange_body / pt_exchange_body_end, which ends the
 * exchange (on_error) and frees it while that call still uses it: heap-use-after-free in
 * pt_exchange_body (after x_write_body) or in x_write_end (after x_write). */
static void write_after_reset(bool end)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_client *cl = pt_client_new(&loop);
    uint16_t port;
    int lfd = listener(&port);
    rec r = { 0 };
    pt_exchange *x;
    reset_close(start_and_accept(&loop, cl, port, lfd, end, &r, &x));
    char body[50];
    memset(body, 'b', sizeof body);
    if (end) pt_exchange_body_end(x);
    else pt_exchange_body(x, body, sizeof body);
    /* the failure is reported from the loop, never inside the caller's own call */
    for (int i = 0; i < 400 && r.errors == 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(r.errors, 1);
    finish_loop(&loop, cl);
    close(lfd);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void body_write_failing_at_once_does_not_touch_the_freed_exchange(void **s) { write_after_reset(false); }
static void body_end_write_failing_at_once_does_not_touch_the_freed_exchange(void **s) { write_after_reset(true); }

static void count_open(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) (*(int *)arg)++;
}

/* A name that does not resolve ends the exchange with PT_ENOTFOUND; afterwards nothing of
 * the connection that was resolving may stay open (handles, memory). */
static void resolve_failure_leaves_no_open_handle(void **s)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_client *cl = pt_client_new(&loop);
    rec r = { 0 };
    pt_endpoint ep = { .host = "no-such-host.invalid", .port = 80 };
    pt_exchange_opts o = { .connect_timeout_ms = 5000, .first_byte_timeout_ms = 5000, .idle_timeout_ms = 5000,
                           .pool_idle_ms = 5000, .pool_max_idle = 4 };
    static const char head[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    pt_exchange *x = pt_exchange_start(cl, &ep, &o, head, sizeof head - 1, &cbs, &r);
    assert_non_null(x);
    for (int i = 0; i < 1000 && r.errors == 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(r.errors, 1);
    assert_int_equal(r.last_err, PT_ENOTFOUND);
    finish_loop(&loop, cl);
    int open = 0;
    uv_walk(&loop, count_open, &open);
    if (open) print_error("%d handle(s) still open after the client was freed\n", open);
    assert_int_equal(open, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the gateway does: a write to a reset peer is an error, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(body_write_failing_at_once_does_not_touch_the_freed_exchange),
        cmocka_unit_test(body_end_write_failing_at_once_does_not_touch_the_freed_exchange),
        cmocka_unit_test(resolve_failure_leaves_no_open_handle),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
