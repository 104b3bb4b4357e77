/* Unit tests for http/h2up.c's request head conversion: the HTTP/1.1 head the proxy builds
 * turned into HTTP/2 fields (pseudo-headers first, names lower-cased, connection-specific
 * fields left out, TE only as "trailers"), and heads it cannot convert refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http/h2up.c"

typedef struct conv {
    pt_buf buf;
    nghttp2_nv nv[32];
    long n;
} conv;

static void convert(conv *c, const char *head, bool tls)
{
    pt_buf_init(&c->buf, 0);
    pt_buf_append(&c->buf, head, strlen(head));
    c->n = head_to_nv(&c->buf, tls, c->nv, 32);
}

static void field_is(const conv *c, long i, const char *name, const char *value)
{
    assert_true(i < c->n);
    const nghttp2_nv *f = &c->nv[i];
    if (f->namelen != strlen(name) || memcmp(f->name, name, f->namelen) != 0 || f->valuelen != strlen(value) ||
        memcmp(f->value, value, f->valuelen) != 0)
        fail_msg("field %ld: '%.*s: %.*s', want '%s: %s'", i, (int)f->namelen, f->name, (int)f->valuelen, f->value,
                 name, value);
}

static void request_line_and_host_become_pseudo_headers(void **s)
{
    conv c;
    convert(&c,
            "POST /a/b?x=1 HTTP/1.1\r\nHost: up.example:8443\r\nContent-Type: application/grpc\r\n"
            "X-Request-Id: r1\r\nContent-Length: 5\r\n\r\n",
            true);
    assert_int_equal(c.n, 7);
    field_is(&c, 0, ":method", "POST");
    field_is(&c, 1, ":scheme", "https");
    field_is(&c, 2, ":authority", "up.example:8443");
    field_is(&c, 3, ":path", "/a/b?x=1");
    field_is(&c, 4, "content-type", "application/grpc");
    field_is(&c, 5, "x-request-id", "r1");
    field_is(&c, 6, "content-length", "5");
    pt_buf_release(&c.buf);
}

static void connection_specific_fields_are_left_out(void **s)
{
    conv c;
    convert(&c,
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
            "Transfer-Encoding: chunked\r\nUpgrade: websocket\r\nProxy-Connection: x\r\nTE: gzip\r\nAccept: */*\r\n\r\n",
            false);
    assert_int_equal(c.n, 5);
    field_is(&c, 1, ":scheme", "http");
    field_is(&c, 4, "accept", "*/*");
    pt_buf_release(&c.buf);
}

static void te_trailers_is_kept(void **s)
{
    conv c;
    convert(&c, "POST /svc/M HTTP/1.1\r\nHost: h\r\nTE: trailers\r\n\r\n", false);
    assert_int_equal(c.n, 5);
    field_is(&c, 4, "te", "trailers");
    pt_buf_release(&c.buf);
}

static void heads_that_cannot_be_converted_are_refused(void **s)
{
    static const char *const bad[] = {
        "",                                           /* nothing */
        "GET / HTTP/1.1",                             /* no line end */
        "GET /\r\nHost: h\r\n\r\n",                   /* no version */
        " / HTTP/1.1\r\nHost: h\r\n\r\n",             /* no method */
        "GET  HTTP/1.1\r\nHost: h\r\n\r\n",           /* no target */
        "GET / HTTP/1.1\r\nAccept: x\r\n\r\n",        /* no Host */
        "GET / HTTP/1.1\r\nHost: h\r\nbroken\r\n\r\n", /* a line without a colon */
        "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",    /* an empty name */
        "GET / HTTP/1.1\r\nHost: h\r\nA: b",          /* a field without its line end */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        conv c;
        convert(&c, bad[i], false);
        if (c.n != -1) fail_msg("head %zu was converted (%ld fields)", i, c.n);
        pt_buf_release(&c.buf);
    }
}

static void more_fields_than_room_is_refused(void **s)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n");
    nghttp2_nv nv[5];
    assert_int_equal(head_to_nv(&b, false, nv, 5), -1);
    pt_buf_reset(&b);
    pt_buf_append_str(&b, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n");
    assert_int_equal(head_to_nv(&b, false, nv, 5), 5);
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_line_and_host_become_pseudo_headers),
        cmocka_unit_test(connection_specific_fields_are_left_out),
        cmocka_unit_test(te_trailers_is_kept),
        cmocka_unit_test(heads_that_cannot_be_converted_are_refused),
        cmocka_unit_test(more_fields_than_room_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
