/* Unit tests for http/h2.c: an nghttp2 client session talks to a captured server
 * connection (server_harness.h), so the preface detection, the streams' request heads,
 * bodies, per-stream refusals and the response frames are checked without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "server_harness.h"

typedef struct client {
    nghttp2_session *ng;
    char status[4][8];     /* :status per stream 1, 3, 5, 7 */
    char body[4][700];
    size_t body_len[4];
    int hop_by_hop;        /* connection-specific fields seen in responses */
    int goaway_code;       /* -1: none */
    int rst[4];            /* RST_STREAM code per stream, -1: none */
    char grpc_status[4][8];/* grpc-status per stream, in the head or the trailers */
    int heads[4];          /* HEADERS frames per stream */
    int ended_by_headers[4]; /* the stream ended with a HEADERS frame (trailers-only, or trailers) */
    int x_trailer[4];      /* "x-trailer: yes" seen in a second HEADERS frame */
} client;

static int slot(int32_t id) { return id >= 1 && id <= 7 ? (id - 1) / 2 : 0; }

static int c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *n, size_t nl, const uint8_t *v,
                    size_t vl, uint8_t fl, void *ud)
{
    client *c = ud;
    if (nl == 7 && memcmp(n, ":status", 7) == 0 && vl < 8 && !c->status[slot(f->hd.stream_id)][0])
        memcpy(c->status[slot(f->hd.stream_id)], v, vl);
    if ((nl == 10 && memcmp(n, "connection", 10) == 0) || (nl == 17 && memcmp(n, "transfer-encoding", 17) == 0))
        c->hop_by_hop++;
    int i = slot(f->hd.stream_id);
    if (nl == 11 && memcmp(n, "grpc-status", 11) == 0 && vl < 8) memcpy(c->grpc_status[i], v, vl);
    if (nl == 9 && memcmp(n, "x-trailer", 9) == 0 && vl == 3 && memcmp(v, "yes", 3) == 0 && c->heads[i] == 1)
        c->x_trailer[i] = 1;
    return 0;
}

static int c_data(nghttp2_session *s, uint8_t fl, int32_t id, const uint8_t *d, size_t n, void *ud)
{
    client *c = ud;
    int i = slot(id);
    if (c->body_len[i] + n < sizeof c->body[i]) memcpy(c->body[i] + c->body_len[i], d, n), c->body_len[i] += n;
    return 0;
}

static int c_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    client *c = ud;
    if (f->hd.type == NGHTTP2_GOAWAY) c->goaway_code = (int)f->goaway.error_code;
    if (f->hd.type == NGHTTP2_RST_STREAM) c->rst[slot(f->hd.stream_id)] = (int)f->rst_stream.error_code;
    if (f->hd.type == NGHTTP2_HEADERS) {
        c->heads[slot(f->hd.stream_id)]++;
        if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) c->ended_by_headers[slot(f->hd.stream_id)] = 1;
    }
    return 0;
}

static void client_init(client *c)
{
    memset(c, 0, sizeof *c);
    c->goaway_code = -1;
    for (int i = 0; i < 4; i++) c->rst[i] = -1;
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
    nghttp2_session_client_new(&c->ng, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, NULL, 0);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static ssize_t body_src(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl, nghttp2_data_source *src,
                        void *ud)
{
    const char **p = src->ptr;
    size_t n = strlen(*p) < len ? strlen(*p) : len;
    memcpy(buf, *p, n);
    *p += n;
    if (!**p) *fl |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* Everything the client has queued, fed to a server connection in pieces of step bytes;
 * the server's answer goes back to the client. */
static void exchange(client *c, size_t step)
{
    pt_buf in = PT_BUF_INIT;
    const uint8_t *p;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0) pt_buf_append(&in, p, (size_t)n);
    pt_buf out = harness_run(in.data, in.len, step, 1);
    if (out.len) nghttp2_session_mem_recv(c->ng, (const uint8_t *)out.data, out.len);
    pt_buf_release(&in);
    pt_buf_release(&out);
}

static void client_free(client *c) { nghttp2_session_del(c->ng); }

static void get_over_h2c_is_answered(void **s)
{
    for (size_t step = 0; step < 3; step++) { /* whole, byte by byte (the preface split too), 2 at a time */
        client c;
        client_init(&c);
        nghttp2_nv nv[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "Example.com:8080"),
                            NV(":path", "/a?b=1"), NV("x-request-id", "rid-1") };
        nghttp2_submit_request(c.ng, NULL, nv, 5, NULL, NULL);
        exchange(&c, step);
        assert_string_equal(c.status[0], "200");
        assert_int_equal(c.body_len[0], strlen("GET /a?b=1 body=0 host=example.com"));
        assert_memory_equal(c.body[0], "GET /a?b=1 body=0 host=example.com", c.body_len[0]);
        assert_int_equal(c.hop_by_hop, 0);
        client_free(&c);
    }
}

static void streams_carry_their_own_bodies(void **s)
{
    client c;
    client_init(&c);
    const char *b1 = "hello", *b2 = "a longer body for the second stream";
    nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/one") };
    nghttp2_data_provider d1 = { .source.ptr = &b1, .read_callback = body_src };
    nghttp2_data_provider d2 = { .source.ptr = &b2, .read_callback = body_src };
    nghttp2_submit_request(c.ng, NULL, nv, 4, &d1, NULL);
    nv[3] = (nghttp2_nv)NV(":path", "/two");
    nghttp2_submit_request(c.ng, NULL, nv, 4, &d2, NULL);
    exchange(&c, 7);
    assert_string_equal(c.status[0], "200");
    assert_string_equal(c.status[1], "200");
    assert_memory_equal(c.body[0], "POST /one body=5 ", 17);
    assert_memory_equal(c.body[1], "POST /two body=35 ", 18);
    client_free(&c);
}

static void too_many_headers_is_431_on_the_stream_only(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[60];
    char names[55][8];
    size_t n = 0;
    nv[n++] = (nghttp2_nv)NV(":method", "GET");
    nv[n++] = (nghttp2_nv)NV(":scheme", "http");
    nv[n++] = (nghttp2_nv)NV(":authority", "h");
    nv[n++] = (nghttp2_nv)NV(":path", "/many");
    for (int i = 0; i < 55; i++) { /* the harness allows 50 */
        snprintf(names[i], sizeof names[i], "x-%d", i);
        nv[n++] = (nghttp2_nv){ (uint8_t *)names[i], (uint8_t *)"v", strlen(names[i]), 1, NGHTTP2_NV_FLAG_NONE };
    }
    nghttp2_submit_request(c.ng, NULL, nv, n, NULL, NULL);
    nghttp2_nv ok[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/after") };
    nghttp2_submit_request(c.ng, NULL, ok, 4, NULL, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "431");
    assert_non_null(strstr(c.body[0], "\"code\":\"too_many_headers\""));
    assert_string_equal(c.status[1], "200");
    assert_int_equal(c.goaway_code, -1);
    client_free(&c);
}

/* nghttp2 checks the pseudo-header fields (RFC 9113 §8.3.1) before a stream reaches us. */
static void missing_authority_is_refused(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":path", "/x") };
    nghttp2_submit_request(c.ng, NULL, nv, 3, NULL, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "");
    assert_int_equal(c.rst[0], NGHTTP2_PROTOCOL_ERROR);
    assert_int_equal(c.goaway_code, -1);
    client_free(&c);
}

static void dot_segments_are_400(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/a/../b") };
    nghttp2_submit_request(c.ng, NULL, nv, 4, NULL, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "400");
    assert_non_null(strstr(c.body[0], "\"code\":\"bad_path\""));
    client_free(&c);
}

static void body_over_the_limit_is_413(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/big"),
                        NV("content-length", "5000") }; /* the harness allows 4096 */
    static char big[5001];
    memset(big, 'z', 5000);
    const char *b = big;
    nghttp2_data_provider d = { .source.ptr = &b, .read_callback = body_src };
    nghttp2_submit_request(c.ng, NULL, nv, 5, &d, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "413");
    assert_non_null(strstr(c.body[0], "\"code\":\"body_too_large\""));
    client_free(&c);
}

/* A gRPC call the server itself refuses gets a trailers-only answer: one HEADERS frame
 * ending the stream, :status 200 and the gRPC status, no JSON body. */
static void grpc_refusals_are_trailers_only(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/svc/M"),
                        NV("content-type", "application/grpc+proto"), NV("te", "trailers"),
                        NV("content-length", "5000") }; /* the harness allows 4096 */
    static char big[5001];
    memset(big, 'z', 5000);
    const char *b = big;
    nghttp2_data_provider d = { .source.ptr = &b, .read_callback = body_src };
    nghttp2_submit_request(c.ng, NULL, nv, 7, &d, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "200");
    assert_string_equal(c.grpc_status[0], "8"); /* RESOURCE_EXHAUSTED */
    assert_int_equal(c.heads[0], 1);
    assert_int_equal(c.ended_by_headers[0], 1);
    assert_int_equal(c.body_len[0], 0);
    client_free(&c);
}

static void trailers_follow_the_body(void **s)
{
    client c;
    client_init(&c);
    nghttp2_nv nv[] = { NV(":method", "GET"), NV(":scheme", "http"), NV(":authority", "h"), NV(":path", "/trailers") };
    nghttp2_submit_request(c.ng, NULL, nv, 4, NULL, NULL);
    exchange(&c, 0);
    assert_string_equal(c.status[0], "200");
    assert_memory_equal(c.body[0], "GET /trailers body=0", 20);
    assert_int_equal(c.heads[0], 2);
    assert_int_equal(c.ended_by_headers[0], 1);
    assert_string_equal(c.grpc_status[0], "0");
    assert_int_equal(c.x_trailer[0], 1);
    client_free(&c);
}

static void a_frame_on_stream_zero_ends_the_session(void **s)
{
    static const char in[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                             "\x00\x00\x00\x04\x00\x00\x00\x00\x00"      /* SETTINGS */
                             "\x00\x00\x02\x00\x00\x00\x00\x00\x00hi";   /* DATA on stream 0 */
    pt_buf out = harness_run(in, sizeof in - 1, 0, 1);
    /* the server's SETTINGS, its ACK of ours, then GOAWAY PROTOCOL_ERROR (type 7, code 1) */
    bool goaway = false;
    for (size_t off = 0; off + 9 <= out.len;) {
        const unsigned char *f = (const unsigned char *)out.data + off;
        size_t len = (size_t)f[0] << 16 | (size_t)f[1] << 8 | f[2];
        if (f[3] == 7 && len >= 8 && f[9 + 7] == 1) goaway = true;
        off += 9 + len;
    }
    assert_true(goaway);
    pt_buf_release(&out);
}

static void not_quite_a_preface_is_http1(void **s)
{
    pt_buf out = harness_run("PRX / HTTP/1.1\r\nHost: h\r\n\r\n", 27, 1, 0);
    assert_non_null(out.data);
    assert_true(strncmp(out.data, "HTTP/1.1 400", 12) == 0);
    pt_buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(get_over_h2c_is_answered),
        cmocka_unit_test(streams_carry_their_own_bodies),
        cmocka_unit_test(too_many_headers_is_431_on_the_stream_only),
        cmocka_unit_test(missing_authority_is_refused),
        cmocka_unit_test(dot_segments_are_400),
        cmocka_unit_test(body_over_the_limit_is_413),
        cmocka_unit_test(grpc_refusals_are_trailers_only),
        cmocka_unit_test(trailers_follow_the_body),
        cmocka_unit_test(a_frame_on_stream_zero_ends_the_session),
        cmocka_unit_test(not_quite_a_preface_is_http1),
    };
    return cmocka_run_group_tests(tests, harness_setup, harness_teardown);
}
