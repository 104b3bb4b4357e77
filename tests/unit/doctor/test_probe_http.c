/* Unit tests for doctor/probe_http.c: the response parser fed from buffers (bodies by length,
 * chunks and end of connection, event streams, caps, interim responses, non-HTTP bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "doctor/probe_http.h"

static int feed(pt_dr_http_resp *r, const char *s) { return pt__dr_http_resp_feed(r, s, strlen(s)); }

static void content_length_body_and_headers(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 302 Found\r\nlocation: https://localhost:8443/\r\nContent-Length: 5\r\n\r\nhe"), 0);
    assert_true(r.head_done);
    assert_false(r.complete);
    assert_int_equal(r.status, 302);
    assert_string_equal(r.reason, "Found");
    assert_string_equal(pt__dr_http_header(&r, "Location"), "https://localhost:8443/");
    assert_null(pt__dr_http_header(&r, "Server"));
    assert_int_equal(feed(&r, "llo"), 0);
    assert_true(r.complete);
    assert_int_equal(r.body.len, 5);
    assert_string_equal(r.body.data, "hello");
    pt__dr_http_resp_release(&r);
}

static void chunked_body_is_decoded(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), 0);
    assert_false(r.complete);
    assert_int_equal(feed(&r, "2\r\nde\r\n0\r\n\r\n"), 0);
    assert_true(r.complete);
    assert_string_equal(r.body.data, "abcde");
    pt__dr_http_resp_release(&r);
}

static void body_until_close_completes_at_eof(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.0 200 OK\r\n\r\nall of it"), 0);
    assert_false(r.complete);
    pt__dr_http_resp_eof(&r);
    assert_true(r.complete);
    assert_null(r.error);
    assert_string_equal(r.body.data, "all of it");
    pt__dr_http_resp_release(&r);
}

static void early_close_is_an_error(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), 0);
    pt__dr_http_resp_eof(&r);
    assert_false(r.complete);
    assert_non_null(r.error);
    pt__dr_http_resp_release(&r);
}

static void event_stream_body_is_parsed_into_events(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"), 0);
    assert_true(r.is_sse);
    assert_int_equal(feed(&r, "1c\r\nevent: endpoint\ndata: /msg\n\n\r\n"), 0);
    assert_int_equal(r.sse.n, 1);
    assert_string_equal(r.sse.events[0].event, "endpoint");
    assert_string_equal(r.sse.events[0].data, "/msg");
    assert_false(r.complete);
    pt__dr_http_resp_release(&r);
}

static void body_past_cap_is_truncated_not_grown(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 4);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), 0);
    assert_true(r.complete);
    assert_true(r.truncated);
    assert_int_equal(r.body.len, 4);
    assert_string_equal(r.body.data, "0123");
    pt__dr_http_resp_release(&r);
}

static void interim_100_continue_is_skipped(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"), 0);
    assert_true(r.complete);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.reason, "Accepted");
    pt__dr_http_resp_release(&r);
}

static void non_http_bytes_fail_and_are_kept(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "SSH-2.0-OpenSSH_9.2\r\n"), PT_EPARSE);
    assert_false(r.head_done);
    assert_non_null(r.error);
    assert_memory_equal(r.raw.data, "SSH-2.0", 7);
    pt__dr_http_resp_release(&r);
}

static void headers_beyond_the_cap_are_dropped(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 204 No Content\r\n"), 0);
    for (int i = 0; i < PT_DR_HTTP_MAX_HEADERS + 10; i++) assert_int_equal(feed(&r, "X-A: b\r\n"), 0);
    assert_int_equal(feed(&r, "Server: late\r\n\r\n"), 0);
    assert_true(r.complete);
    assert_int_equal(r.nheaders, PT_DR_HTTP_MAX_HEADERS);
    assert_null(pt__dr_http_header(&r, "Server"));
    pt__dr_http_resp_release(&r);
}

static void bytes_after_the_message_are_ignored(void **state)
{
    pt_dr_http_resp r;
    pt__dr_http_resp_init(&r, 1024);
    assert_int_equal(feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE"), 0);
    assert_true(r.complete);
    assert_string_equal(r.body.data, "ok");
    assert_int_equal(feed(&r, "more garbage"), 0);
    pt__dr_http_resp_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_body_and_headers),
        cmocka_unit_test(chunked_body_is_decoded),
        cmocka_unit_test(body_until_close_completes_at_eof),
        cmocka_unit_test(early_close_is_an_error),
        cmocka_unit_test(event_stream_body_is_parsed_into_events),
        cmocka_unit_test(body_past_cap_is_truncated_not_grown),
        cmocka_unit_test(interim_100_continue_is_skipped),
        cmocka_unit_test(non_http_bytes_fail_and_are_kept),
        cmocka_unit_test(headers_beyond_the_cap_are_dropped),
        cmocka_unit_test(bytes_after_the_message_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
