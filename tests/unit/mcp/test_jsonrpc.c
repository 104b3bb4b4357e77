/* Unit tests for mcp/jsonrpc.c: reading one message with the specification's error codes,
 * building answers, cutting stdio streams into lines at awkward split points, cutting event
 * streams into events as they arrive, and finding a response in JSON and event-stream bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/jsonrpc.h"

static int parse(const char *s, pt_mcp_msg *m, json_t **id)
{
    char why[200];
    return pt_mcp_parse(s, strlen(s), m, id, why, sizeof why);
}

static void request_notification_and_response_are_told_apart(void **state)
{
    pt_mcp_msg m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{}}", &m, NULL), 0);
    assert_int_equal(m.kind, PT_MCP_REQUEST);
    assert_string_equal(m.method, "tools/list");
    assert_int_equal(json_integer_value(m.id), 7);
    pt_mcp_msg_release(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, NULL), 0);
    assert_int_equal(m.kind, PT_MCP_NOTIFICATION);
    assert_null(m.id);
    pt_mcp_msg_release(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &m, NULL), 0);
    assert_int_equal(m.kind, PT_MCP_RESPONSE);
    assert_null(m.method);
    pt_mcp_msg_release(&m);
}

static void not_json_is_a_parse_error(void **state)
{
    pt_mcp_msg m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",", &m, NULL), PT_MCP_PARSE_ERROR);
    assert_int_equal(parse("", &m, NULL), PT_MCP_PARSE_ERROR);
    assert_null(m.root);
}

static void invalid_messages_are_invalid_requests(void **state)
{
    static const char *const bad[] = {
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",        /* a batch */
        "42",                                                        /* not an object */
        "{\"id\":1,\"method\":\"ping\"}",                               /* no jsonrpc */
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",           /* wrong version */
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",        /* null id */
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",         /* float id */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}",                  /* method not a string */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}", /* params not an object */
        "{\"jsonrpc\":\"2.0\",\"id\":1}",                               /* neither */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",    /* both result and error */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"x\"}",     /* duplicate key: not JSON we accept */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_mcp_msg m;
        int rc = parse(bad[i], &m, NULL);
        if (i == sizeof bad / sizeof bad[0] - 1) assert_int_equal(rc, PT_MCP_PARSE_ERROR);
        else assert_int_equal(rc, PT_MCP_INVALID_REQUEST);
        assert_null(m.root);
    }
}

static void the_id_of_an_invalid_request_is_kept_for_its_error(void **state)
{
    pt_mcp_msg m;
    json_t *id = NULL;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"q9\",\"method\":\"x\",\"params\":7}", &m, &id),
                     PT_MCP_INVALID_REQUEST);
    assert_string_equal(json_string_value(id), "q9");
    json_t *e = pt_mcp_error(id, PT_MCP_INVALID_REQUEST, "bad");
    char *s = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"error\":{\"code\":-32600,\"message\":\"bad\"},\"id\":\"q9\",\"jsonrpc\":\"2.0\"}");
    free(s);
    json_decref(e);
    json_decref(id);
}

static void a_valid_message_hands_out_no_id(void **state)
{
    pt_mcp_msg m;
    json_t *id = NULL;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}", &m, &id), 0);
    assert_null(id); /* the id stays the message's: nothing for the caller to release */
    assert_int_equal(m.id->refcount, 1);
    pt_mcp_msg_release(&m);
}

static void an_error_without_id_answers_null(void **state)
{
    json_t *e = pt_mcp_error(NULL, PT_MCP_PARSE_ERROR, "x");
    assert_true(json_is_null(json_object_get(e, "id")));
    json_decref(e);
}

static void versions_are_echoed_when_known(void **state)
{
    assert_string_equal(pt_mcp_version_pick("2025-06-18"), "2025-06-18");
    assert_string_equal(pt_mcp_version_pick("1999-01-01"), PT_MCP_LATEST_VERSION);
    assert_string_equal(pt_mcp_version_pick(NULL), PT_MCP_LATEST_VERSION);
    assert_false(pt_mcp_version_known("2026-99-99"));
}

typedef struct seen {
    char lines[8][64];
    int n;
} seen;

static int on_line(void *arg, const char *s, size_t n)
{
    seen *sn = arg;
    if (sn->n < 8) snprintf(sn->lines[sn->n++], 64, "%.*s", (int)n, s);
    return 0;
}

static void lines_are_cut_at_every_split_point(void **state)
{
    const char *in = "{\"a\":1}\r\n\n{\"b\":2}\npartial";
    size_t n = strlen(in);
    for (size_t cut = 0; cut <= n; cut++) {
        pt_mcp_lines l;
        pt_mcp_lines_init(&l, 100);
        seen sn = { 0 };
        pt_mcp_lines_feed(&l, in, cut, on_line, &sn);
        pt_mcp_lines_feed(&l, in + cut, n - cut, on_line, &sn);
        assert_int_equal(sn.n, 3);
        assert_string_equal(sn.lines[0], "{\"a\":1}");
        assert_string_equal(sn.lines[1], "");
        assert_string_equal(sn.lines[2], "{\"b\":2}");
        assert_int_equal(l.pending.len, strlen("partial"));
        pt_mcp_lines_release(&l);
    }
}

static void an_overlong_line_is_dropped_whole(void **state)
{
    pt_mcp_lines l;
    pt_mcp_lines_init(&l, 8);
    seen sn = { 0 };
    pt_mcp_lines_feed(&l, "0123456", 7, on_line, &sn);
    pt_mcp_lines_feed(&l, "789abc\nok\n", 10, on_line, &sn);
    assert_int_equal(sn.n, 1);
    assert_string_equal(sn.lines[0], "ok");
    assert_int_equal(l.dropped, 1);
    pt_mcp_lines_release(&l);
}

static void a_response_is_found_in_json_and_in_an_event_stream(void **state)
{
    json_t *id = json_integer(3);
    char why[200];
    const char *j = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"ok\":true}}";
    json_t *m = pt_mcp_find_response(j, strlen(j), false, id, why, sizeof why);
    assert_non_null(m);
    json_decref(m);
    const char *sse = "id: 1\ndata:\n\n"
                      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n"
                      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":3,\"result\":{}}\r\n\r\n";
    m = pt_mcp_find_response(sse, strlen(sse), true, id, why, sizeof why);
    assert_non_null(m);
    assert_true(json_is_object(json_object_get(m, "result")));
    json_decref(m);
    json_t *other = json_integer(4);
    assert_null(pt_mcp_find_response(sse, strlen(sse), true, other, why, sizeof why));
    assert_non_null(strstr(why, "no response"));
    assert_null(pt_mcp_find_response("<html>", 6, false, id, why, sizeof why));
    json_decref(other);
    json_decref(id);
}

typedef struct events_seen {
    char events[4][64];
    int n;
} events_seen;

static int keep_event(void *arg, const char *data, size_t len)
{
    events_seen *s = arg;
    if (s->n < 4) snprintf(s->events[s->n], sizeof s->events[0], "%.*s", (int)len, data);
    s->n++;
    return 0;
}

static void events_are_cut_as_they_arrive_at_every_split_point(void **state)
{
    const char *stream = ": a comment\nevent: message\nid: 1\ndata: {\"a\":1}\n\n"
                         "data: first\r\ndata:second\r\n\r\n\n\nretry: 5\n\ndata: last\n\n";
    size_t len = strlen(stream);
    for (size_t cut = 0; cut <= len; cut++) {
        events_seen s = { 0 };
        pt_mcp_sse sse;
        pt_mcp_sse_init(&sse, 1000, keep_event, &s);
        assert_int_equal(pt_mcp_sse_feed(&sse, stream, cut), 0);
        assert_int_equal(pt_mcp_sse_feed(&sse, stream + cut, len - cut), 0);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.events[0], "{\"a\":1}");
        assert_string_equal(s.events[1], "first\nsecond");
        assert_string_equal(s.events[2], "last");
        pt_mcp_sse_release(&sse);
    }
}

static void an_event_over_the_cap_is_lost_not_cut(void **state)
{
    events_seen s = { 0 };
    pt_mcp_sse sse;
    pt_mcp_sse_init(&sse, 16, keep_event, &s);
    const char *stream = "data: 0123456789abcdefghij\n\ndata: ok\n\n";
    assert_int_equal(pt_mcp_sse_feed(&sse, stream, strlen(stream)), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.events[0], "ok");
    pt_mcp_sse_release(&sse);
}

static void the_last_event_id_and_retry_are_kept_for_resuming(void **state)
{
    events_seen s = { 0 };
    pt_mcp_sse sse;
    pt_mcp_sse_init(&sse, 1000, keep_event, &s);
    assert_string_equal(sse.last_id, "");
    assert_int_equal(sse.retry_ms, 0);
    /* a priming event: an id, a retry delay and empty data, which is no message */
    const char *stream = "id: s1_0\nretry: 250\ndata: \n\n";
    assert_int_equal(pt_mcp_sse_feed(&sse, stream, strlen(stream)), 0);
    assert_int_equal(s.n, 0);
    assert_string_equal(sse.last_id, "s1_0");
    assert_int_equal(sse.retry_ms, 250);
    /* a retry that is not all digits is ignored; the next id replaces the last */
    stream = "retry: 10x\nid:s1_1\ndata: {}\n\n";
    assert_int_equal(pt_mcp_sse_feed(&sse, stream, strlen(stream)), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(sse.last_id, "s1_1");
    assert_int_equal(sse.retry_ms, 250);
    /* an id too long to send back whole leaves nothing to resume from */
    char longid[300] = "id: ";
    memset(longid + 4, 'x', 200);
    strcpy(longid + 204, "\n\n");
    assert_int_equal(pt_mcp_sse_feed(&sse, longid, strlen(longid)), 0);
    assert_string_equal(sse.last_id, "");
    pt_mcp_sse_release(&sse);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_notification_and_response_are_told_apart),
        cmocka_unit_test(not_json_is_a_parse_error),
        cmocka_unit_test(invalid_messages_are_invalid_requests),
        cmocka_unit_test(the_id_of_an_invalid_request_is_kept_for_its_error),
        cmocka_unit_test(a_valid_message_hands_out_no_id),
        cmocka_unit_test(an_error_without_id_answers_null),
        cmocka_unit_test(versions_are_echoed_when_known),
        cmocka_unit_test(lines_are_cut_at_every_split_point),
        cmocka_unit_test(an_overlong_line_is_dropped_whole),
        cmocka_unit_test(a_response_is_found_in_json_and_in_an_event_stream),
        cmocka_unit_test(events_are_cut_as_they_arrive_at_every_split_point),
        cmocka_unit_test(an_event_over_the_cap_is_lost_not_cut),
        cmocka_unit_test(the_last_event_id_and_retry_are_kept_for_resuming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
