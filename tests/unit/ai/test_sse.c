/* Unit tests for ai/sse.c: events out of bytes fed in any pieces, line endings, comments,
 * multi-line data, ids, the caps, and the end of input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/sse.h"
#include "core/buf.h"
#include "core/err.h"

/* Events as text "event|data|id\n" so a whole stream compares with one string. */
typedef struct seen {
    pt_buf text;
    int n;
    int stop_after; /* return 1 from the callback after this many events, 0 = never */
} seen;

static int collect(void *arg, const pt_sse_event *ev)
{
    seen *s = arg;
    pt_buf_append_slice(&s->text, ev->event);
    pt_buf_append_str(&s->text, "|");
    pt_buf_append_slice(&s->text, ev->data);
    pt_buf_append_str(&s->text, "|");
    pt_buf_append_slice(&s->text, ev->id);
    pt_buf_append_str(&s->text, "\n");
    s->n++;
    return s->stop_after && s->n >= s->stop_after ? 1 : 0;
}

/* Feeds input in pieces of `step` bytes (0 = whole) and returns what was seen. */
static char *feed(const char *in, size_t step, int *rc_out)
{
    pt_sse p;
    pt_sse_init(&p, 0, 0);
    seen s = { PT_BUF_INIT, 0, 0 };
    size_t len = strlen(in);
    int rc = 0;
    if (!step) step = len ? len : 1;
    for (size_t off = 0; off < len && !rc; off += step)
        rc = pt_sse_feed(&p, in + off, len - off < step ? len - off : step, collect, &s);
    if (!rc) rc = pt_sse_finish(&p, collect, &s);
    if (rc_out) *rc_out = rc;
    pt_sse_release(&p);
    pt_buf_append_str(&s.text, "");
    return pt_buf_detach(&s.text, NULL);
}

static void expect_all_splits(const char *in, const char *want)
{
    for (size_t step = 0; step <= strlen(in) + 1; step++) {
        int rc;
        char *got = feed(in, step, &rc);
        assert_int_equal(rc, 0);
        if (strcmp(got, want) != 0) fail_msg("split %zu: got [%s] want [%s]", step, got, want);
        free(got);
    }
}

static void events_are_the_same_whatever_the_split(void **state)
{
    expect_all_splits("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n", "a|1|\nb|2|\n");
}

static void crlf_cr_and_lf_line_endings_all_work(void **state)
{
    expect_all_splits("data: x\r\n\r\ndata: y\r\rdata: z\n\n", "|x|\n|y|\n|z|\n");
}

static void crlf_split_between_feeds_is_one_line_end(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 0, 0);
    seen s = { PT_BUF_INIT, 0, 0 };
    assert_int_equal(pt_sse_feed(&p, "data: a\r", 8, collect, &s), 0);
    assert_int_equal(pt_sse_feed(&p, "\n\r", 2, collect, &s), 0);
    assert_int_equal(pt_sse_feed(&p, "\n", 1, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text.data, "|a|\n");
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

static void comments_and_unknown_fields_are_ignored(void **state)
{
    expect_all_splits(": keep-alive\nretry: 100\nfoo: bar\ndata: d\n\n", "|d|\n");
}

static void multiline_data_is_joined_with_newlines(void **state)
{
    expect_all_splits("data: first\ndata:second\ndata:  third\n\n", "|first\nsecond\n third|\n");
}

static void field_without_colon_and_empty_data(void **state)
{
    /* "data" alone is a data line with an empty value: the event is dispatched */
    expect_all_splits("data\n\n", "||\n");
}

static void blank_lines_without_data_dispatch_nothing(void **state)
{
    expect_all_splits("\n\n\nevent: x\n\ndata: y\n\n", "|y|\n");
}

static void id_is_kept_for_later_events(void **state)
{
    expect_all_splits("id: 7\ndata: a\n\ndata: b\n\n", "|a|7\n|b|7\n");
}

static void leading_bom_is_dropped_even_when_split(void **state)
{
    expect_all_splits("\xEF\xBB\xBF" "data: a\n\n", "|a|\n");
}

static void a_bom_later_is_data(void **state)
{
    expect_all_splits("data: \xEF\xBB\xBF" "a\n\n", "|\xEF\xBB\xBF" "a|\n");
}

static void complete_event_without_final_blank_line_is_dispatched_at_finish(void **state)
{
    expect_all_splits("data: [DONE]\n", "|[DONE]|\n");
}

static void unterminated_last_line_is_dropped_at_finish(void **state)
{
    int rc;
    char *got = feed("data: a\n\ndata: partial", 0, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "|a|\n");
    free(got);
}

static void line_over_cap_fails_and_stays_failed(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 16, 64);
    seen s = { PT_BUF_INIT, 0, 0 };
    char big[40];
    memset(big, 'x', sizeof big);
    assert_int_equal(pt_sse_feed(&p, "data: ", 6, collect, &s), 0);
    assert_int_equal(pt_sse_feed(&p, big, sizeof big, collect, &s), PT_ETOOBIG);
    assert_int_equal(pt_sse_feed(&p, "\n\n", 2, collect, &s), PT_ETOOBIG);
    assert_int_equal(s.n, 0);
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

static void long_line_in_one_piece_over_cap_fails(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 16, 64);
    seen s = { PT_BUF_INIT, 0, 0 };
    const char *in = "data: 0123456789abcdefghij\n\n";
    assert_int_equal(pt_sse_feed(&p, in, strlen(in), collect, &s), PT_ETOOBIG);
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

static void event_data_over_cap_fails(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 64, 20);
    seen s = { PT_BUF_INIT, 0, 0 };
    const char *in = "data: 0123456789\ndata: 0123456789\n\n";
    assert_int_equal(pt_sse_feed(&p, in, strlen(in), collect, &s), PT_ETOOBIG);
    assert_int_equal(s.n, 0);
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

static void callback_result_stops_the_feed(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 0, 0);
    seen s = { PT_BUF_INIT, 0, 1 };
    const char *in = "data: a\n\ndata: b\n\n";
    assert_int_equal(pt_sse_feed(&p, in, strlen(in), collect, &s), 1);
    assert_int_equal(s.n, 1);
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

static void pending_reports_unfinished_input(void **state)
{
    pt_sse p;
    pt_sse_init(&p, 0, 0);
    seen s = { PT_BUF_INIT, 0, 0 };
    assert_false(pt_sse_pending(&p));
    pt_sse_feed(&p, "data: a", 7, collect, &s);
    assert_true(pt_sse_pending(&p));
    pt_sse_feed(&p, "\n", 1, collect, &s);
    assert_true(pt_sse_pending(&p));
    pt_sse_feed(&p, "\n", 1, collect, &s);
    assert_false(pt_sse_pending(&p));
    pt_sse_release(&p);
    pt_buf_release(&s.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_are_the_same_whatever_the_split),
        cmocka_unit_test(crlf_cr_and_lf_line_endings_all_work),
        cmocka_unit_test(crlf_split_between_feeds_is_one_line_end),
        cmocka_unit_test(comments_and_unknown_fields_are_ignored),
        cmocka_unit_test(multiline_data_is_joined_with_newlines),
        cmocka_unit_test(field_without_colon_and_empty_data),
        cmocka_unit_test(blank_lines_without_data_dispatch_nothing),
        cmocka_unit_test(id_is_kept_for_later_events),
        cmocka_unit_test(leading_bom_is_dropped_even_when_split),
        cmocka_unit_test(a_bom_later_is_data),
        cmocka_unit_test(complete_event_without_final_blank_line_is_dispatched_at_finish),
        cmocka_unit_test(unterminated_last_line_is_dropped_at_finish),
        cmocka_unit_test(line_over_cap_fails_and_stays_failed),
        cmocka_unit_test(long_line_in_one_piece_over_cap_fails),
        cmocka_unit_test(event_data_over_cap_fails),
        cmocka_unit_test(callback_result_stops_the_feed),
        cmocka_unit_test(pending_reports_unfinished_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
