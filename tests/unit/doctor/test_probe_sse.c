/* Unit tests for doctor/probe_sse.c: server-sent events split anywhere, line ends, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "doctor/probe_sse.h"

static void feed_str(pt_dr_sse *s, const char *text) { assert_int_equal(pt__dr_sse_feed(s, text, strlen(text)), 0); }

static void one_event_fed_byte_by_byte(void **state)
{
    const char *text = "event: message\nid: 7\ndata: {\"jsonrpc\":\"2.0\",\"id\":1}\n\n";
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    for (size_t i = 0; text[i]; i++) assert_int_equal(pt__dr_sse_feed(&s, text + i, 1), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.events[0].event, "message");
    assert_string_equal(s.events[0].id, "7");
    assert_string_equal(s.events[0].data, "{\"jsonrpc\":\"2.0\",\"id\":1}");
    pt__dr_sse_release(&s);
}

static void crlf_and_cr_line_ends_work(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    feed_str(&s, "data: a\r\n\r\ndata: b\r\rdata: c\r");
    feed_str(&s, "\n\r\n"); /* CRLF split across feeds ends one line, not two */
    assert_int_equal(s.n, 3);
    assert_string_equal(s.events[0].data, "a");
    assert_string_equal(s.events[1].data, "b");
    assert_string_equal(s.events[2].data, "c");
    pt__dr_sse_release(&s);
}

static void data_lines_join_with_newline(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    feed_str(&s, "data:first\ndata:  second\ndata\n\n");
    assert_int_equal(s.n, 1);
    /* One space after the colon is dropped, a second one is data; "data" alone is an empty line. */
    assert_string_equal(s.events[0].data, "first\n second\n");
    assert_null(s.events[0].id);
    pt__dr_sse_release(&s);
}

static void comments_dispatch_nothing_and_empty_data_is_an_event(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    feed_str(&s, ": keep-alive\n\nretry: 500\n\n");
    assert_int_equal(s.n, 0);
    /* A priming event ("data:" with nothing) is an event with empty data, as browsers see it. */
    feed_str(&s, "id: prime-1\ndata:\n\n");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.events[0].data, "");
    assert_string_equal(s.events[0].id, "prime-1");
    feed_str(&s, "event: endpoint\ndata: /messages?sessionId=abc\n\n");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.events[1].event, "endpoint");
    assert_string_equal(s.events[1].data, "/messages?sessionId=abc");
    assert_string_equal(s.events[1].id, "prime-1"); /* the last event id carries over */
    pt__dr_sse_release(&s);
}

static void event_name_resets_after_dispatch(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    feed_str(&s, "event: endpoint\ndata: /a\n\ndata: x\n\n");
    assert_int_equal(s.n, 2);
    assert_string_equal(s.events[1].event, "message");
    pt__dr_sse_release(&s);
}

static void incomplete_event_is_not_dispatched(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 1024, 8);
    feed_str(&s, "data: half");
    assert_int_equal(s.n, 0);
    feed_str(&s, "\n");
    assert_int_equal(s.n, 0);
    pt__dr_sse_release(&s);
}

static void overlong_line_is_refused(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 16, 8);
    assert_int_equal(pt__dr_sse_feed(&s, "data: 0123456789abcdef\n", 23), PT_ETOOBIG);
    pt__dr_sse_release(&s);
}

static void too_many_events_are_refused(void **state)
{
    pt_dr_sse s;
    pt__dr_sse_init(&s, 64, 2);
    assert_int_equal(pt__dr_sse_feed(&s, "data: 1\n\ndata: 2\n\n", 18), 0);
    assert_int_equal(pt__dr_sse_feed(&s, "data: 3\n\n", 9), PT_ETOOBIG);
    assert_int_equal(s.n, 2);
    pt__dr_sse_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_event_fed_byte_by_byte),
        cmocka_unit_test(crlf_and_cr_line_ends_work),
        cmocka_unit_test(data_lines_join_with_newline),
        cmocka_unit_test(comments_dispatch_nothing_and_empty_data_is_an_event),
        cmocka_unit_test(event_name_resets_after_dispatch),
        cmocka_unit_test(incomplete_event_is_not_dispatched),
        cmocka_unit_test(overlong_line_is_refused),
        cmocka_unit_test(too_many_events_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
