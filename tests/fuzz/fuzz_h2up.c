/* fuzz_h2up.c: what an HTTP/2 upstream sends (http/h2up.c behind nghttp2's client session)
 * as arbitrary bytes, after a valid SETTINGS frame so the fuzzer starts inside a session.
 * Two exchanges (a POST with a body and a GET) share the connection, whose socket is a
 * capture buffer. Beyond not crashing: each exchange ends exactly once (on_done or on_error)
 * by the time the connection is closed, no callback comes after its end, and a head comes
 * before any body bytes or trailers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/h2up.c"

typedef struct probe {
    int heads, ends;
    bool ended;
} probe;

static void p_check(probe *p)
{
    if (p->ended) __builtin_trap(); /* a callback after the end */
}
static void p_head(void *u, int status, const pt_header *h, size_t n, int64_t cl)
{
    probe *p = u;
    p_check(p);
    if (status < 200 || status > 999 || p->heads++) __builtin_trap();
}
static void p_body(void *u, const char *d, size_t n)
{
    probe *p = u;
    p_check(p);
    if (!p->heads) __builtin_trap();
}
static void p_trailers(void *u, const pt_header *h, size_t n)
{
    probe *p = u;
    p_check(p);
    if (!p->heads) __builtin_trap();
}
static void p_done(void *u)
{
    probe *p = u;
    p_check(p);
    p->ended = true;
    p->ends++;
}
static void p_error(void *u, int err, int phase, pt_buf *unsent, const char *detail)
{
    probe *p = u;
    p_check(p);
    if (phase < 0 || phase > 2 || !detail) __builtin_trap();
    p->ended = true;
    p->ends++;
}

static const pt_exchange_cb probe_cb = { .on_head = p_head, .on_body = p_body, .on_done = p_done,
                                         .on_error = p_error, .on_trailers = p_trailers };

static const char settings[] = { 0, 0, 0, 4, 0, 0, 0, 0, 0 }; /* an empty SETTINGS frame */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt__h2up *up = pt__h2up_new(&loop, NULL);
    pt_endpoint ep = { .host = "127.0.0.1", .port = 9 };
    pt_exchange_opts o = { .connect_timeout_ms = 1000, .first_byte_timeout_ms = 1000, .idle_timeout_ms = 1000,
                           .has_body = true, .body = "hello", .body_len = 5, .body_complete = true };
    static const char post[] = "POST /svc/M HTTP/1.1\r\nHost: up\r\nContent-Type: application/grpc\r\nTE: trailers\r\n\r\n";
    static const char get[] = "GET /x HTTP/1.1\r\nHost: up\r\n\r\n";
    probe p[2] = { 0 };
    pt__h2x *x[2];
    x[0] = pt__h2x_new(up, &ep, &o, post, sizeof post - 1, &probe_cb, &p[0]);
    o.has_body = false;
    o.body_len = 0;
    x[1] = pt__h2x_new(up, &ep, &o, get, sizeof get - 1, &probe_cb, &p[1]);
    if (!x[0] || !x[1]) abort();
    sess *s = sess_new(up, x[0]);
    pt_buf out = PT_BUF_INIT;
    s->sock.capture = &out;
    for (int i = 0; i < 2; i++) {
        x[i]->s = s;
        x[i]->next = s->streams;
        if (s->streams) s->streams->prev = x[i];
        s->streams = x[i];
        s->nstreams++;
    }
    on_connected(&s->sock, 0); /* h2c: the streams are submitted, the preface and HEADERS captured */
    up->closing = true;        /* a refused stream fails here instead of opening a real connection */
    on_sock_read(&s->sock, settings, sizeof settings);
    /* the rest in two reads, split where the first byte says, so frames cross read boundaries */
    size_t cut = size ? data[0] % (size + 1) : 0;
    if (s->state != S_CLOSED && cut) on_sock_read(&s->sock, (const char *)data, cut);
    if (s->state != S_CLOSED && size > cut) on_sock_read(&s->sock, (const char *)data + cut, size - cut);
    for (int i = 0; i < 4; i++) uv_run(&loop, UV_RUN_NOWAIT);
    pt__h2up_free(up); /* what is still open ends with on_error */
    for (int i = 0; i < 2; i++)
        if (p[i].ends != 1) __builtin_trap();
    while (uv_run(&loop, UV_RUN_NOWAIT)) {}
    pt_buf_release(&out);
    if (uv_loop_close(&loop) != 0) __builtin_trap(); /* a handle left open */
    return 0;
}
