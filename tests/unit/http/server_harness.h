/* server_harness.h: drives http/server.c without sockets, for unit tests and the fuzzer.
 * A captured connection gets bytes through pt__conn_feed; its output lands in `out`.
 * The handler answers 200 with "<METHOD> <target> body=<n> host=<host>" once the body is
 * complete, echoing the request id, so tests can see what the parser delivered; on the path
 * /trailers that answer announces (Trailer) and ends with the trailers "grpc-status: 0" and
 * "x-trailer: yes". */
#ifndef PT_TEST_SERVER_HARNESS_H
#define PT_TEST_SERVER_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http/server.h"

typedef struct harness_req {
    pt_conn *c;
    size_t body;
    char line[256];
    char host[260];
} harness_req;

static uv_loop_t harness_loop;
static pt_server harness_srv;

static void h_body(void *h, const char *d, size_t n) { ((harness_req *)h)->body += n; }

static void h_end(void *h)
{
    harness_req *r = h;
    char out[600];
    int n = snprintf(out, sizeof out, "%s body=%zu host=%s", r->line, r->body, r->host);
    pt_conn_set_sink(r->c, NULL);
    if (!strstr(r->line, " /trailers")) {
        pt_conn_respond(r->c, 200, "text/plain", out, (size_t)n);
        return;
    }
    pt_header tr[] = { { PT_SLICE_LIT("grpc-status"), PT_SLICE_LIT("0") }, { PT_SLICE_LIT("X-Trailer"), PT_SLICE_LIT("yes") } };
    pt_header hd[] = { { PT_SLICE_LIT("Trailer"), PT_SLICE_LIT("grpc-status, X-Trailer") } };
    pt_conn_response_start(r->c, 200, hd, 1, -1);
    pt_conn_response_body(r->c, out, (size_t)n);
    pt_conn_response_trailers(r->c, tr, 2);
    pt_conn_response_end(r->c);
}

static void h_abort(void *h) {} /* the state is in the request pool */

static void h_dispatch(pt_conn *c, pt_request *req, void *arg)
{
    harness_req *r = pt_req_alloc(req, sizeof *r);
    if (!r) {
        pt_conn_respond_error(c, PT_OUT_OUT_OF_MEMORY, NULL, "out of memory");
        return;
    }
    r->c = c;
    snprintf(r->line, sizeof r->line, PT_SLICE_FMT " " PT_SLICE_FMT, PT_SLICE_ARG(req->method_name),
             PT_SLICE_ARG(req->target));
    snprintf(r->host, sizeof r->host, PT_SLICE_FMT, PT_SLICE_ARG(req->host));
    if (!pt_conn_has_body(c)) {
        h_end(r);
        return;
    }
    pt_body_sink sink = { r, h_body, h_end, NULL, h_abort };
    pt_conn_set_sink(c, &sink);
    pt_conn_continue(c);
}

static void harness_init(size_t max_header, size_t max_body)
{
    uv_loop_init(&harness_loop);
    pt_server_init(&harness_srv, &harness_loop);
    harness_srv.limits = (pt_http_limits){ .max_header_bytes = max_header, .max_headers = 50, .h2_max_streams = 8,
                                           .max_body_bytes = max_body, .header_timeout_ms = 10000,
                                           .body_timeout_ms = 10000, .idle_timeout_ms = 10000,
                                           .send_timeout_ms = 10000, .max_connections = 100 };
    harness_srv.dispatch = h_dispatch;
}

/* Feeds `in` in pieces of at most `step` bytes (0 = whole), then EOF unless keep_open;
 * runs the loop until the connection is gone. Returns what the server wrote. */
static pt_buf harness_run(const char *in, size_t len, size_t step, int keep_open)
{
    pt_buf out = PT_BUF_INIT;
    pt_conn *c = pt__server_conn_capture(&harness_srv, &out);
    size_t off = 0;
    while (off < len && harness_srv.nconns) {
        size_t n = step && step < len - off ? step : len - off;
        pt__conn_feed(c, in + off, n);
        off += n;
    }
    if (!keep_open && harness_srv.nconns) pt__conn_feed(c, NULL, 0);
    pt_server_close_all(&harness_srv);
    for (int i = 0; i < 10 && uv_run(&harness_loop, UV_RUN_NOWAIT); i++) {}
    return out;
}

static void harness_release(void)
{
    uv_run(&harness_loop, UV_RUN_NOWAIT);
    uv_loop_close(&harness_loop);
}

/* cmocka group fixtures: a 2 KiB head cap and a 4 KiB body cap. */
static int harness_setup(void **state)
{
    harness_init(2048, 4096);
    return 0;
}

static int harness_teardown(void **state)
{
    harness_release();
    return 0;
}

#endif
