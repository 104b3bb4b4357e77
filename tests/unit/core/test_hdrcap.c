/* Unit tests for core/hdrcap.c: headers captured from llhttp's callbacks at every split
 * point, offsets that survive the head buffer moving, the field cap (refused headers are
 * dropped whole), the byte cap, and reuse after a reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <llhttp.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hdrcap.h"

typedef struct cap_test {
    llhttp_t parser;
    llhttp_settings_t settings;
    pt_buf head;
    pt_hdrcap hdrs;
    unsigned max;
    int rc;          /* the first capture error */
    bool ignore_too_many;
} cap_test;

static int keep(cap_test *t, int rc)
{
    if (rc == PT_ETOOMANY && t->ignore_too_many) return 0;
    if (rc && !t->rc) t->rc = rc;
    return rc ? -1 : 0;
}

static int on_field(llhttp_t *p, const char *at, size_t n)
{
    cap_test *t = p->data;
    return keep(t, pt_hdrcap_name(&t->hdrs, &t->head, at, n, t->max));
}

static int on_value(llhttp_t *p, const char *at, size_t n)
{
    cap_test *t = p->data;
    return keep(t, pt_hdrcap_value(&t->hdrs, &t->head, at, n));
}

static void cap_init(cap_test *t, unsigned max, size_t head_cap)
{
    memset(t, 0, sizeof *t);
    llhttp_settings_init(&t->settings);
    t->settings.on_header_field = on_field;
    t->settings.on_header_value = on_value;
    llhttp_init(&t->parser, HTTP_REQUEST, &t->settings);
    t->parser.data = t;
    pt_buf_init(&t->head, head_cap);
    t->max = max;
}

static void cap_release(cap_test *t)
{
    pt_buf_release(&t->head);
    pt_hdrcap_release(&t->hdrs);
}

/* Feeds text in pieces of `step` bytes; returns the llhttp error of the first failure. */
static llhttp_errno_t feed(cap_test *t, const char *text, size_t step)
{
    size_t len = strlen(text);
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        llhttp_errno_t e = llhttp_execute(&t->parser, text + off, n);
        if (e != HPE_OK) return e;
    }
    return HPE_OK;
}

static void assert_header(const cap_test *t, unsigned i, const char *name, const char *value)
{
    pt_slice k = pt_hdrcap_name_at(&t->hdrs, &t->head, i), v = pt_hdrcap_value_at(&t->hdrs, &t->head, i);
    if (k.len != strlen(name) || memcmp(k.ptr, name, k.len) != 0)
        fail_msg("header %u: name '%.*s', want '%s'", i, (int)k.len, k.ptr, name);
    if (v.len != strlen(value) || memcmp(v.ptr, value, v.len) != 0)
        fail_msg("header %u: value '%.*s', want '%s'", i, (int)v.len, v.ptr, value);
}

static const char head3[] = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\n"
                            "Content-Type:   text/plain; charset=utf-8  \r\n\r\n";

static void headers_are_the_same_at_every_split(void **state)
{
    for (size_t step = 1; step <= sizeof head3; step++) {
        cap_test t;
        cap_init(&t, 100, 0);
        assert_int_equal(feed(&t, head3, step), HPE_OK);
        assert_int_equal(t.hdrs.n, 3);
        assert_header(&t, 0, "Host", "example.com");
        assert_header(&t, 1, "X-Empty", "");
        assert_header(&t, 2, "Content-Type", "text/plain; charset=utf-8");
        cap_release(&t);
    }
}

/* Many headers make the buffer and the span array grow (and move): offsets still hold. */
static void offsets_survive_the_buffer_moving(void **state)
{
    pt_buf text = PT_BUF_INIT;
    pt_buf_append_str(&text, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 150; i++) pt_buf_printf(&text, "X-H%d: value-%d-%0*d\r\n", i, i, i, 0);
    pt_buf_append_str(&text, "\r\n");
    cap_test t;
    cap_init(&t, 1000, 0);
    assert_int_equal(feed(&t, text.data, 7), HPE_OK);
    assert_int_equal(t.hdrs.n, 150);
    for (unsigned i = 0; i < 150; i += 37) {
        char name[16], value[200];
        snprintf(name, sizeof name, "X-H%u", i);
        snprintf(value, sizeof value, "value-%u-%0*d", i, (int)i, 0);
        assert_header(&t, i, name, value);
    }
    cap_release(&t);
    pt_buf_release(&text);
}

static void a_header_past_the_cap_is_refused(void **state)
{
    cap_test t;
    cap_init(&t, 2, 0);
    assert_int_not_equal(feed(&t, head3, 5), HPE_OK);
    assert_int_equal(t.rc, PT_ETOOMANY);
    assert_int_equal(t.hdrs.n, 2);
    cap_release(&t);
}

/* A caller that ignores PT_ETOOMANY keeps the first headers, and no piece of a refused
 * header leaks into the kept ones. */
static void refused_headers_are_dropped_whole(void **state)
{
    cap_test t;
    cap_init(&t, 1, 0);
    t.ignore_too_many = true;
    assert_int_equal(feed(&t, head3, 3), HPE_OK);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.hdrs.n, 1);
    assert_header(&t, 0, "Host", "example.com");
    assert_int_equal(t.head.len, strlen("Hostexample.com"));
    cap_release(&t);
}

static void the_head_buffer_cap_is_reported(void **state)
{
    cap_test t;
    cap_init(&t, 100, 12);
    assert_int_not_equal(feed(&t, head3, 64), HPE_OK);
    assert_int_equal(t.rc, PT_ETOOBIG);
    cap_release(&t);
}

static void reset_starts_the_next_message_clean(void **state)
{
    cap_test t;
    cap_init(&t, 100, 0);
    assert_int_equal(feed(&t, head3, 64), HPE_OK);
    pt_buf_reset(&t.head);
    pt_hdrcap_reset(&t.hdrs);
    assert_int_equal(feed(&t, "GET /2 HTTP/1.1\r\nA: 1\r\n\r\n", 4), HPE_OK);
    assert_int_equal(t.hdrs.n, 1);
    assert_header(&t, 0, "A", "1");
    pt_hdrcap_release(&t.hdrs);
    assert_null(t.hdrs.f);
    assert_int_equal(t.hdrs.n, 0);
    pt_buf_release(&t.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(headers_are_the_same_at_every_split),
        cmocka_unit_test(offsets_survive_the_buffer_moving),
        cmocka_unit_test(a_header_past_the_cap_is_refused),
        cmocka_unit_test(refused_headers_are_dropped_whole),
        cmocka_unit_test(the_head_buffer_cap_is_reported),
        cmocka_unit_test(reset_starts_the_next_message_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
