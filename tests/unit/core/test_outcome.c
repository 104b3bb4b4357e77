/* Unit tests for core/outcome.c (every row of the outcome table is complete and unique)
 * and core/error_body.c (exact bodies in the gateway, OpenAI and Anthropic shapes, valid
 * JSON whatever the message holds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/error_body.h"
#include "core/outcome.h"

static bool is_name(const char *s)
{
    if (!s || !*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
    return true;
}

static void every_row_has_status_log_name_and_metric_label(void **state)
{
    assert_true(PT_OUTCOME_COUNT > 1);
    for (int o = 0; o < PT_OUTCOME_COUNT; o++) {
        int st = pt_outcome_status((pt_outcome)o);
        /* a tunnel's end is logged under the 101 that opened it; nothing else is 1xx */
        if (o == PT_OUT_TUNNEL_IDLE ? st != 101 : st < 200 || st > 599) fail_msg("outcome %d has status %d", o, st);
        if (!is_name(pt_outcome_log_name((pt_outcome)o))) fail_msg("outcome %d has a bad log name", o);
        if (!is_name(pt_outcome_metric_label((pt_outcome)o))) fail_msg("outcome %d has a bad metric label", o);
        for (int k = 0; k < o; k++)
            if (strcmp(pt_outcome_log_name((pt_outcome)k), pt_outcome_log_name((pt_outcome)o)) == 0)
                fail_msg("log name '%s' is used twice", pt_outcome_log_name((pt_outcome)o));
    }
    /* PT_OUT_OK is 0, so a zeroed request info means "no failure" */
    assert_int_equal(PT_OUT_OK, 0);
    assert_string_equal(pt_outcome_log_name(PT_OUT_OK), "ok");
}

static void rows_give_the_names_the_logs_and_bodies_use(void **state)
{
    assert_int_equal(pt_outcome_status(PT_OUT_ROUTE_NOT_FOUND), 404);
    assert_string_equal(pt_outcome_log_name(PT_OUT_ROUTE_NOT_FOUND), "route_not_found");
    assert_int_equal(pt_outcome_status(PT_OUT_UPSTREAM_TIMEOUT), 504);
    assert_string_equal(pt_outcome_metric_label(PT_OUT_UPSTREAM_TIMEOUT), "upstream_timeout");
    assert_int_equal(pt_outcome_status(PT_OUT_HEADER_TOO_LARGE), 431);
    assert_string_equal(pt_outcome_metric_label(PT_OUT_HEADER_TOO_LARGE), "limit");
    assert_string_equal(pt_outcome_log_name(PT_OUT_CLIENT_CLOSED), "client_closed");
    assert_int_equal(pt_outcome_status(PT_OUT_CLIENT_CLOSED), 499);
}

static void codes_outside_the_table_are_named_unknown(void **state)
{
    assert_int_equal(pt_outcome_status(PT_OUTCOME_COUNT), 500);
    assert_string_equal(pt_outcome_log_name((pt_outcome)-1), "unknown");
    assert_string_equal(pt_outcome_metric_label(PT_OUTCOME_COUNT), "unknown");
    assert_false(pt_outcome_label_first(PT_OUTCOME_COUNT));
}

static void each_metric_label_has_exactly_one_first_row(void **state)
{
    for (int o = 0; o < PT_OUTCOME_COUNT; o++) {
        int firsts = 0;
        for (int k = 0; k < PT_OUTCOME_COUNT; k++)
            if (strcmp(pt_outcome_metric_label((pt_outcome)k), pt_outcome_metric_label((pt_outcome)o)) == 0 &&
                pt_outcome_label_first((pt_outcome)k))
                firsts++;
        assert_int_equal(firsts, 1);
    }
    assert_true(pt_outcome_label_first(PT_OUT_OK));
    assert_true(pt_outcome_label_first(PT_OUT_BAD_REQUEST));
    assert_false(pt_outcome_label_first(PT_OUT_BAD_CHUNK)); /* shares "bad_request" */
}

/* ---- error bodies ----------------------------------------------------------------- */

static char *render(pt_error_format fmt, const pt_error_body *e)
{
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_error_body_render(&b, fmt, e), 0);
    return pt_buf_detach(&b, NULL);
}

static void gateway_body_is_exact(void **state)
{
    pt_error_body e = { .status = 502, .code = "upstream_unavailable", .message = "service 'echo' is down",
                        .request_id = "abc123", .service = "echo" };
    char *t = render(PT_ERRFMT_GATEWAY, &e);
    assert_string_equal(t, "{\"error\":{\"status\":502,\"code\":\"upstream_unavailable\",\"message\":"
                           "\"service 'echo' is down\",\"request_id\":\"abc123\",\"service\":\"echo\"}}\n");
    free(t);
    e.cause = "connection_refused";
    e.attempts = 2;
    e.target = "http://127.0.0.1:9";
    t = render(PT_ERRFMT_GATEWAY, &e);
    assert_string_equal(t, "{\"error\":{\"status\":502,\"code\":\"upstream_unavailable\",\"message\":"
                           "\"service 'echo' is down\",\"request_id\":\"abc123\",\"service\":\"echo\","
                           "\"cause\":\"connection_refused\",\"attempts\":2,\"target\":\"http://127.0.0.1:9\"}}\n");
    free(t);
    e = (pt_error_body){ .status = 502, .code = "upstream_unavailable", .message = "service 'echo' is down",
                         .request_id = "abc123" };
    t = render(PT_ERRFMT_GATEWAY, &e);
    assert_string_equal(t, "{\"error\":{\"status\":502,\"code\":\"upstream_unavailable\",\"message\":"
                           "\"service 'echo' is down\",\"request_id\":\"abc123\"}}\n");
    free(t);
}

static void openai_body_is_exact(void **state)
{
    pt_error_body e = { .status = 404, .code = "model_not_found", .type = "invalid_request_error",
                        .param = "model", .message = "The model 'x' does not exist" };
    char *t = render(PT_ERRFMT_OPENAI, &e);
    assert_string_equal(t, "{\"error\":{\"message\":\"The model 'x' does not exist\",\"type\":\"invalid_request_error\","
                           "\"param\":\"model\",\"code\":\"model_not_found\"}}");
    free(t);
    pt_error_body bare = { .status = 429, .message = "slow down" }; /* no param, code or type */
    t = render(PT_ERRFMT_OPENAI, &bare);
    assert_string_equal(t, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"param\":null,"
                           "\"code\":null}}");
    free(t);
}

static void anthropic_body_is_exact_with_type_from_status(void **state)
{
    static const struct { int status; const char *type; } cases[] = {
        { 400, "invalid_request_error" }, { 401, "authentication_error" }, { 403, "permission_error" },
        { 404, "not_found_error" }, { 413, "request_too_large" }, { 429, "rate_limit_error" },
        { 503, "overloaded_error" }, { 529, "overloaded_error" }, { 409, "invalid_request_error" },
        { 500, "api_error" }, { 502, "api_error" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pt_error_body e = { .status = cases[i].status, .message = "m" };
        char *t = render(PT_ERRFMT_ANTHROPIC, &e);
        char want[160];
        snprintf(want, sizeof want, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":\"m\"}}", cases[i].type);
        assert_string_equal(t, want);
        free(t);
    }
}

/* A message quoting hostile input: every format stays valid JSON and the message reads
 * back exactly as given. */
static void hostile_messages_are_escaped_in_every_format(void **state)
{
    static const char msg[] = "no route for \"/a\\b\"\n\r\t\x01\x1f</script>{\"error\":1} caf\xc3\xa9";
    static const pt_error_format fmts[] = { PT_ERRFMT_GATEWAY, PT_ERRFMT_OPENAI, PT_ERRFMT_ANTHROPIC };
    for (size_t i = 0; i < 3; i++) {
        pt_error_body e = { .status = 400, .code = "bad\"code", .param = "p\\q", .message = msg,
                            .request_id = "r\"1", .service = "s\nv", .target = "http://h/\"x" };
        char *t = render(fmts[i], &e);
        json_error_t jerr;
        json_t *j = json_loads(t, 0, &jerr);
        if (!j) fail_msg("format %zu: not JSON (%s): %s", i, jerr.text, t);
        json_t *inner = json_object_get(j, "error");
        assert_true(json_is_object(inner));
        assert_string_equal(json_string_value(json_object_get(inner, "message")), msg);
        if (fmts[i] == PT_ERRFMT_GATEWAY) {
            assert_string_equal(json_string_value(json_object_get(inner, "code")), "bad\"code");
            assert_string_equal(json_string_value(json_object_get(inner, "request_id")), "r\"1");
            assert_string_equal(json_string_value(json_object_get(inner, "service")), "s\nv");
            assert_string_equal(json_string_value(json_object_get(inner, "target")), "http://h/\"x");
        }
        if (fmts[i] == PT_ERRFMT_OPENAI)
            assert_string_equal(json_string_value(json_object_get(inner, "param")), "p\\q");
        json_decref(j);
        free(t);
    }
}

static void stream_events_frame_the_same_object(void **state)
{
    pt_error_body e = { .status = 502, .code = "upstream_error", .type = "api_error", .message = "cut" };
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_error_body_render_event(&b, PT_ERRFMT_OPENAI, &e), 0);
    assert_string_equal(b.data, "data: {\"error\":{\"message\":\"cut\",\"type\":\"api_error\",\"param\":null,"
                                "\"code\":\"upstream_error\"}}\n\n");
    pt_buf_reset(&b);
    e.type = NULL;
    assert_int_equal(pt_error_body_render_event(&b, PT_ERRFMT_ANTHROPIC, &e), 0);
    assert_string_equal(b.data, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                                "\"message\":\"cut\"}}\n\n");
    pt_buf_release(&b);
}

static void a_full_buffer_is_reported(void **state)
{
    pt_buf b;
    pt_buf_init(&b, 16);
    pt_error_body e = { .status = 500, .code = "out_of_memory", .message = "a message longer than the cap" };
    assert_int_equal(pt_error_body_render(&b, PT_ERRFMT_GATEWAY, &e), PT_ETOOBIG);
    pt_buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_has_status_log_name_and_metric_label),
        cmocka_unit_test(rows_give_the_names_the_logs_and_bodies_use),
        cmocka_unit_test(codes_outside_the_table_are_named_unknown),
        cmocka_unit_test(each_metric_label_has_exactly_one_first_row),
        cmocka_unit_test(gateway_body_is_exact),
        cmocka_unit_test(openai_body_is_exact),
        cmocka_unit_test(anthropic_body_is_exact_with_type_from_status),
        cmocka_unit_test(hostile_messages_are_escaped_in_every_format),
        cmocka_unit_test(stream_events_frame_the_same_object),
        cmocka_unit_test(a_full_buffer_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
