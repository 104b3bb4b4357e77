/* Unit tests for doctor/probe_mcp.c: JSON-RPC requests, stdio line classification, finding a
 * response in JSON or event-stream HTTP bodies, initialize results and version errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "doctor/probe_mcp.h"

static void initialize_request_is_one_line_with_version(void **state)
{
    char *s = pt__dr_mcp_message(1, "initialize", pt__dr_mcp_initialize_params("2025-11-25"));
    assert_non_null(s);
    assert_null(strchr(s, '\n'));
    json_t *j = json_loads(s, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "jsonrpc")), "2.0");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "method")), "initialize");
    json_t *p = json_object_get(j, "params");
    assert_string_equal(json_string_value(json_object_get(p, "protocolVersion")), "2025-11-25");
    assert_true(json_is_object(json_object_get(p, "capabilities")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "clientInfo"), "name")), "portico-doctor");
    json_decref(j);
    free(s);
}

static void negative_id_makes_a_notification(void **state)
{
    char *s = pt__dr_mcp_message(-1, "notifications/initialized", NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    free(s);
}

static pt_dr_msg_kind classify(const char *line)
{
    json_t *m = NULL;
    pt_dr_msg_kind k = pt__dr_mcp_classify(pt_slice_cstr(line), &m);
    json_decref(m);
    return k;
}

static void stdio_lines_are_classified(void **state)
{
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"), PT_DR_MSG_RESPONSE);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}"),
                     PT_DR_MSG_RESPONSE);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"roots/list\"}"), PT_DR_MSG_REQUEST);
    assert_int_equal(classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}"),
                     PT_DR_MSG_NOTIFICATION);
    assert_int_equal(classify("Server started on stdio"), PT_DR_MSG_NOT_JSON);
    assert_int_equal(classify("{\"level\":\"info\",\"msg\":\"ready\"}"), PT_DR_MSG_NOT_RPC); /* a JSON log line */
    assert_int_equal(classify("{\"jsonrpc\":\"1.0\",\"id\":1,\"result\":{}}"), PT_DR_MSG_NOT_RPC);
    assert_int_equal(classify("42"), PT_DR_MSG_NOT_RPC);
    assert_int_equal(classify("  \r"), PT_DR_MSG_BLANK);
}

static void classify_hands_back_the_message(void **state)
{
    json_t *m = NULL;
    assert_int_equal(pt__dr_mcp_classify(PT_SLICE_LIT("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"a\":1}}"), &m),
                     PT_DR_MSG_RESPONSE);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(m, "id")), 7);
    json_decref(m);
    assert_int_equal(pt__dr_mcp_classify(PT_SLICE_LIT("not json"), &m), PT_DR_MSG_NOT_JSON);
    assert_null(m);
}

/* Parses a whole HTTP response from text. */
static void response_from(pt_dr_http_resp *r, const char *text)
{
    pt__dr_http_resp_init(r, 65536);
    assert_int_equal(pt__dr_http_resp_feed(r, text, strlen(text)), 0);
    pt__dr_http_resp_eof(r);
}

static void json_body_response_is_found(void **state)
{
    pt_dr_http_resp r;
    char why[100];
    response_from(&r, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 36\r\n\r\n"
                      "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    json_t *m = pt__dr_mcp_find_response(&r, 1, why, sizeof why);
    assert_non_null(m);
    json_decref(m);
    assert_null(pt__dr_mcp_find_response(&r, 2, why, sizeof why));
    assert_string_equal(why, "the JSON body holds no response with id 2");
    pt__dr_http_resp_release(&r);
}

static void response_is_found_among_events(void **state)
{
    pt_dr_http_resp r;
    char why[100];
    response_from(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"
                      "id: 0\ndata:\n\n"
                      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n"
                      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\n"
                      "data: \"result\":{\"tools\":[]}}\n\n");
    json_t *m = pt__dr_mcp_find_response(&r, 2, why, sizeof why);
    assert_non_null(m);
    assert_true(json_is_array(json_object_get(json_object_get(m, "result"), "tools")));
    json_decref(m);
    assert_null(pt__dr_mcp_find_response(&r, 1, why, sizeof why));
    assert_string_equal(why, "no response with id 1 among the 3 events of the stream");
    pt__dr_http_resp_release(&r);
}

static void html_body_is_not_json_rpc(void **state)
{
    pt_dr_http_resp r;
    char why[100];
    response_from(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>");
    assert_null(pt__dr_mcp_find_response(&r, 1, why, sizeof why));
    assert_string_equal(why, "the body is text/html, not JSON-RPC");
    pt__dr_http_resp_release(&r);
}

static void batch_array_response_is_found(void **state)
{
    pt_dr_http_resp r;
    char why[100];
    response_from(&r, "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
                      "[{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}},{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"x\":1}}]");
    json_t *m = pt__dr_mcp_find_response(&r, 1, why, sizeof why);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "result"), "x")), 1);
    json_decref(m);
    pt__dr_http_resp_release(&r);
}

static void initialize_result_is_read(void **state)
{
    json_t *m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\","
                           "\"capabilities\":{\"tools\":{\"listChanged\":true}},"
                           "\"serverInfo\":{\"name\":\"weather\",\"version\":\"2.1.0\"}}}", 0, NULL);
    pt_dr_mcp_init in;
    assert_int_equal(pt__dr_mcp_read_init(m, &in), 0);
    assert_true(in.ok);
    assert_string_equal(in.version, "2025-06-18");
    assert_string_equal(in.server, "weather 2.1.0");
    assert_true(in.tools);
    json_decref(m);
}

static void version_errors_are_recognised(void **state)
{
    pt_dr_mcp_init in;
    json_t *m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,\"message\":\"Unsupported "
                           "protocol version\",\"data\":{\"supported\":[\"2024-11-05\",\"2025-03-26\"],"
                           "\"requested\":\"2025-11-25\"}}}", 0, NULL);
    assert_int_equal(pt__dr_mcp_read_init(m, &in), 0);
    assert_false(in.ok);
    assert_true(in.version_error);
    assert_int_equal(in.code, -32602);
    assert_string_equal(in.message, "Unsupported protocol version (supported: 2024-11-05, 2025-03-26)");
    assert_false(in.modern);
    json_decref(m);
    /* a server of the stateless revision refuses initialize naming it */
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32022,\"message\":\"this server speaks "
                   "only 2026-07-28\",\"data\":{\"supported\":[\"2026-07-28\"],\"requested\":\"2025-11-25\"}}}", 0, NULL);
    assert_int_equal(pt__dr_mcp_read_init(m, &in), 0);
    assert_true(in.version_error);
    assert_true(in.modern);
    json_decref(m);
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"database down\"}}", 0, NULL);
    assert_int_equal(pt__dr_mcp_read_init(m, &in), 0);
    assert_false(in.version_error);
    json_decref(m);
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1}", 0, NULL);
    assert_int_equal(pt__dr_mcp_read_init(m, &in), PT_EPARSE);
    json_decref(m);
}

static void known_versions_and_texts(void **state)
{
    assert_true(pt__dr_mcp_version_known("2025-11-25"));
    assert_true(pt__dr_mcp_version_known("2024-11-05"));
    assert_false(pt__dr_mcp_version_known("1.0.0"));
    assert_false(pt__dr_mcp_version_known(NULL));
    assert_true(pt__dr_mcp_text_is_version_error(PT_SLICE_LIT("Bad Request: Unsupported protocol version: 2025-11-25")));
    assert_false(pt__dr_mcp_text_is_version_error(PT_SLICE_LIT("Bad Request: No valid session ID provided")));
    assert_true(pt__dr_mcp_text_is_session_error(PT_SLICE_LIT("Bad Request: No valid session ID provided")));
}

static void modern_params_carry_the_revisions_meta(void **state)
{
    json_t *p = pt__dr_mcp_modern_params();
    json_t *meta = json_object_get(p, "_meta");
    assert_string_equal(json_string_value(json_object_get(meta, "io.modelcontextprotocol/protocolVersion")), "2026-07-28");
    assert_true(json_is_object(json_object_get(meta, "io.modelcontextprotocol/clientCapabilities")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "io.modelcontextprotocol/clientInfo"),
                                                          "name")),
                        "portico-doctor");
    json_decref(p);
}

static void tools_are_counted_and_named(void **state)
{
    json_t *m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"ping\"},"
                           "{\"name\":\"time\"}]}}", 0, NULL);
    char names[64];
    assert_int_equal(pt__dr_mcp_tool_count(m, names, sizeof names), 2);
    assert_string_equal(names, "ping, time");
    json_decref(m);
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32601,\"message\":\"no\"}}", 0, NULL);
    assert_int_equal(pt__dr_mcp_tool_count(m, names, sizeof names), -1);
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initialize_request_is_one_line_with_version),
        cmocka_unit_test(negative_id_makes_a_notification),
        cmocka_unit_test(stdio_lines_are_classified),
        cmocka_unit_test(classify_hands_back_the_message),
        cmocka_unit_test(json_body_response_is_found),
        cmocka_unit_test(response_is_found_among_events),
        cmocka_unit_test(html_body_is_not_json_rpc),
        cmocka_unit_test(batch_array_response_is_found),
        cmocka_unit_test(initialize_result_is_read),
        cmocka_unit_test(version_errors_are_recognised),
        cmocka_unit_test(known_versions_and_texts),
        cmocka_unit_test(modern_params_carry_the_revisions_meta),
        cmocka_unit_test(tools_are_counted_and_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
