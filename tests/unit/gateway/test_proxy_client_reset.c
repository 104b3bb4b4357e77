/* gateway/proxy.c callbacks that write to a client connection the client has reset: the
 * write fails at once and closes the connection, whose sink abort frees the proxy while the
 * callback is still running; the callback must not touch the proxy after that. Real loopback
 * sockets. Every build checks the connection is closed; only the sanitizer build can see a
 * read of the freed proxy. Includes proxy.c to reach its static callbacks. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/proxy.c"

static uv_loop_t loop;
static pt_server srv;
static uv_tcp_t lst;
static pt_conn *got_conn;
static proxy *got_proxy;

static void t_dispatch(pt_conn *c, pt_request *req, void *arg)
{
    proxy *p = calloc(1, sizeof *p);
    p->conn = c;
    p->req = req;
    p->ntried = 1; /* as after attempt(): the end of the (empty) body starts nothing */
    got_conn = c;
    got_proxy = p;
    pt_body_sink sink = { p, sink_body, sink_body_end, sink_drain, sink_abort };
    pt_conn_set_sink(c, &sink);
    pt_conn_response_start(c, 200, NULL, 0, -1); /* as on_head does: a streamed response */
}

static void on_conn(uv_stream_t *l, int status) { pt_server_accept(&srv, l, NULL, false); }

static uint16_t setup_server(void)
{
    uv_loop_init(&loop);
    pt_server_init(&srv, &loop);
    srv.limits = (pt_http_limits){ .max_header_bytes = 8192, .max_headers = 50, .max_body_bytes = 1 << 20,
                                   .header_timeout_ms = 5000, .body_timeout_ms = 5000, .idle_timeout_ms = 5000,
                                   .send_timeout_ms = 5000, .max_connections = 10 };
    srv.dispatch = t_dispatch;
    uv_tcp_init(&loop, &lst);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&lst, (struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&lst, 8, on_conn), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&lst, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

static void find_accepted(uv_handle_t *h, void *arg)
{
    if (h->type == UV_TCP && h != (uv_handle_t *)&lst) *(uv_handle_t **)arg = h;
}

/* Returns once the kernel holds the client's reset on the accepted socket; the loop does not
 * run meanwhile, so the server has not seen it yet. */
static void wait_reset_arrived(void)
{
    uv_handle_t *h = NULL;
    uv_walk(&loop, find_accepted, &h);
    assert_non_null(h);
    uv_os_fd_t fd;
    assert_int_equal(uv_fileno(h, &fd), 0);
    struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLRDHUP };
    assert_int_equal(poll(&pfd, 1, 5000), 1);
}

static void teardown_server(void)
{
    pt_server_close_all(&srv);
    uv_close((uv_handle_t *)&lst, NULL);
    for (int i = 0; i < 50 && uv_run(&loop, UV_RUN_NOWAIT); i++) usleep(1000);
    uv_loop_close(&loop);
}

/* The client reset the connection; the upstream's next body bytes are written at once
 * (uv_try_write; a small piece may be staged and fail at the flush instead) and fail, which closes the connection and frees the proxy; on_body then
 * reads p->conn (proxy.c:178). */
static void on_body_after_client_reset_does_not_touch_the_freed_proxy(void **s)
{
    uint16_t port = setup_server();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char req[] = "GET /s HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(send(fd, req, sizeof req - 1, 0), (ssize_t)(sizeof req - 1));
    for (int i = 0; i < 400 && !got_conn; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_non_null(got_conn);
    struct linger lg = { 1, 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    wait_reset_arrived();
    /* large enough to be written at once rather than staged */
    static char piece[64 * 1024];
    memset(piece, 'x', sizeof piece);
    on_body(got_proxy, piece, sizeof piece); /* ASan would report a read of the freed proxy */
    for (int i = 0; i < 400 && srv.nconns > 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    assert_int_equal(srv.nconns, 0); /* the reset connection is closed and counted out */
    teardown_server();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the gateway does: a write to a reset peer is an error, not a signal */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(on_body_after_client_reset_does_not_touch_the_freed_proxy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
