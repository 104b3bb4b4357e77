/* Unit tests for mcp/modern.c. As a server: which requests are of the stateless revision,
 * each check a request must pass in its order with its code and status, Mcp-Name's base64
 * form (good, unpadded, broken, hiding a NUL), the client's keys taken out of _meta, what
 * results carry and which log levels a request gets. As a client of an upstream: the _meta of
 * a 2026-07-28 request, the headers that mirror its body (with the base64 form of values that
 * are not header-safe, the specification's own examples), the x-mcp-header map of a tool, era
 * detection from a server/discover answer, and a modern result reshaped for a 2025-era client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/modern.h"

#define META "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"," \
             "\"io.modelcontextprotocol/clientCapabilities\":{}}"

static pt_mcp_msg msg(const char *s)
{
    pt_mcp_msg m;
    char why[200];
    assert_int_equal(pt_mcp_parse(s, strlen(s), &m, NULL, why, sizeof why), 0);
    return m;
}

static pt_mcp_modern_headers headers(const char *version, const char *method, const char *name)
{
    return (pt_mcp_modern_headers){ pt_slice_cstr(version), pt_slice_cstr(method), pt_slice_cstr(name) };
}

/* The code of m's check with the given headers; the refusal's data released. */
static int check(const char *body, const char *version, const char *method, const char *name, pt_mcp_refusal *f)
{
    pt_mcp_msg m = msg(body);
    pt_mcp_modern_headers h = headers(version, method, name);
    int rc = pt_mcp_modern_check(&m, &h, f);
    pt_mcp_msg_release(&m);
    if (rc) assert_int_equal(f->status, 400);
    return rc;
}

static void the_era_is_told_by_meta_or_header_never_with_a_session(void **state)
{
    pt_mcp_msg m = msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}");
    assert_true(pt_mcp_modern_is(&m, PT_SLICE_NULL, false));
    assert_false(pt_mcp_modern_is(&m, PT_SLICE_NULL, true));
    pt_mcp_msg_release(&m);
    m = msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_false(pt_mcp_modern_is(&m, PT_SLICE_NULL, false));
    assert_false(pt_mcp_modern_is(&m, pt_slice_cstr("2025-11-25"), false));
    assert_true(pt_mcp_modern_is(&m, pt_slice_cstr("2026-07-28"), false));
    pt_mcp_msg_release(&m);
    m = msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{" META "}}");
    assert_true(pt_mcp_modern_is(&m, PT_SLICE_NULL, false)); /* the revision's client: its initialize is unknown */
    pt_mcp_msg_release(&m);
    m = msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}");
    assert_false(pt_mcp_modern_is(&m, PT_SLICE_NULL, false));
    pt_mcp_msg_release(&m);
    m = msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    assert_true(pt_mcp_modern_is(&m, pt_slice_cstr("2026-07-28"), false));
    pt_mcp_msg_release(&m);
}

static void a_good_request_passes(void **state)
{
    pt_mcp_refusal f;
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}", "2026-07-28",
                           "tools/list", NULL, &f),
                     0);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META ",\"name\":\"a b\"}}",
                           "2026-07-28", "tools/call", "=?base64?YSBi?=", &f),
                     0);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{" META
                           ",\"uri\":\"file:///x\"}}",
                           "2026-07-28", "resources/read", "file:///x", &f),
                     0);
    /* a call without a name is the method's own -32602, not a header mismatch */
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" META "}}", "2026-07-28",
                           "tools/call", NULL, &f),
                     0);
}

static void each_refusal_has_its_code_in_order(void **state)
{
    pt_mcp_refusal f;
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}", "2026-07-28",
                           "tools/list", NULL, &f),
                     PT_MCP_INVALID_PARAMS);
    assert_non_null(strstr(f.why, "protocolVersion"));
    const char *good = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" META "}}";
    assert_int_equal(check(good, NULL, "tools/list", NULL, &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check(good, "2025-11-25", "tools/list", NULL, &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check(good, "2026-07-28", NULL, NULL, &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check(good, "2026-07-28", "tools/call", NULL, &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                           "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}",
                           "2026-07-28", "tools/list", NULL, &f),
                     PT_MCP_INVALID_PARAMS);
    assert_non_null(strstr(f.why, "clientCapabilities"));
    const char *named = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\",\"params\":{" META ",\"name\":\"p\"}}";
    assert_int_equal(check(named, "2026-07-28", "prompts/get", NULL, &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check(named, "2026-07-28", "prompts/get", "q", &f), PT_MCP_HEADER_MISMATCH);
    assert_int_equal(check(named, "2026-07-28", "prompts/get", "=?base64?!!?=", &f), PT_MCP_HEADER_MISMATCH);
}

static void an_unsupported_version_names_both(void **state)
{
    pt_mcp_refusal f;
    assert_int_equal(check("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
                           "\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\"}}}",
                           "2099-01-01", "tools/list", NULL, &f),
                     PT_MCP_UNSUPPORTED_VERSION);
    assert_string_equal(json_string_value(json_object_get(f.data, "requested")), "2099-01-01");
    json_t *supported = json_object_get(f.data, "supported");
    assert_string_equal(json_string_value(json_array_get(supported, 0)), PT_MCP_MODERN_VERSION);
    assert_true(json_array_size(supported) >= 2);
    json_decref(f.data);
}

static void header_values_decode(void **state)
{
    char *s = pt_mcp_header_decode(pt_slice_cstr("plain name"));
    assert_string_equal(s, "plain name");
    free(s);
    s = pt_mcp_header_decode(pt_slice_cstr("=?base64?w6lsw6h2ZQ==?=")); /* "élève" */
    assert_string_equal(s, "\xc3\xa9l\xc3\xa8ve");
    free(s);
    s = pt_mcp_header_decode(pt_slice_cstr("=?base64?w6lsw6h2ZQ?=")); /* unpadded */
    assert_string_equal(s, "\xc3\xa9l\xc3\xa8ve");
    free(s);
    s = pt_mcp_header_decode(pt_slice_cstr("=?base64?\?=")); /* empty */
    assert_string_equal(s, "");
    free(s);
    assert_null(pt_mcp_header_decode(pt_slice_cstr("=?base64?a-b_?=")));  /* URL-safe alphabet is not it */
    assert_null(pt_mcp_header_decode(pt_slice_cstr("=?base64?QUJDR?="))); /* one digit too many */
    assert_null(pt_mcp_header_decode(pt_slice_cstr("=?base64?AA==?=")));  /* a NUL byte */
    s = pt_mcp_header_decode(pt_slice_cstr("=?base64?")); /* not the whole form: taken as it is */
    assert_string_equal(s, "=?base64?");
    free(s);
}

static void the_clients_keys_leave_meta(void **state)
{
    json_t *p = json_loads("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
                           "\"io.modelcontextprotocol/logLevel\":\"info\",\"progressToken\":3},\"name\":\"t\"}",
                           0, NULL);
    char level[16];
    pt_mcp_modern_strip(p, level, sizeof level);
    assert_string_equal(level, "info");
    json_t *meta = json_object_get(p, "_meta");
    assert_int_equal(json_object_size(meta), 1);
    assert_int_equal(json_integer_value(json_object_get(meta, "progressToken")), 3);
    json_decref(p);
    p = json_loads("{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}", 0, NULL);
    pt_mcp_modern_strip(p, level, sizeof level);
    assert_string_equal(level, "");
    assert_null(json_object_get(p, "_meta"));
    json_decref(p);
    pt_mcp_modern_strip(NULL, level, sizeof level);
}

static void results_carry_the_revisions_members(void **state)
{
    json_t *r = json_object();
    pt_mcp_modern_result(r, "tools/call");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    assert_null(json_object_get(r, "ttlMs"));
    json_decref(r);
    r = json_pack("{s:s, s:i}", "resultType", "input_required", "ttlMs", 500);
    pt_mcp_modern_result(r, "resources/read");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "input_required");
    assert_int_equal(json_integer_value(json_object_get(r, "ttlMs")), 500);
    assert_string_equal(json_string_value(json_object_get(r, "cacheScope")), "private");
    json_decref(r);
    r = json_object();
    pt_mcp_modern_result(r, "tools/list");
    assert_int_equal(json_integer_value(json_object_get(r, "ttlMs")), 0);
    json_decref(r);
    r = json_pack("{s:s, s:i}", "cacheScope", "public", "ttlMs", 60000); /* a modern server's, relayed */
    pt_mcp_modern_result(r, "tools/list");
    assert_string_equal(json_string_value(json_object_get(r, "cacheScope")), "private");
    assert_int_equal(json_integer_value(json_object_get(r, "ttlMs")), 60000);
    json_decref(r);
}

static void log_levels_go_from_the_one_asked_up(void **state)
{
    assert_false(pt_mcp_log_wanted("", "emergency"));
    assert_false(pt_mcp_log_wanted(NULL, "info"));
    assert_true(pt_mcp_log_wanted("info", "info"));
    assert_true(pt_mcp_log_wanted("info", "error"));
    assert_false(pt_mcp_log_wanted("error", "warning"));
    assert_false(pt_mcp_log_wanted("debug", NULL));
    assert_false(pt_mcp_log_wanted("loud", "error"));
}

static json_t *load(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static char *header_value(const char *v)
{
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_mcp_header_value(&b, v, strlen(v)), 0);
    assert_int_equal(pt_buf_append(&b, "", 1), 0);
    return b.data;
}

static void values_are_sent_plain_or_as_base64(void **state)
{
    static const char *const cases[][2] = {
        { "us-west1", "us-west1" },
        { "a b\tc", "a b\tc" },                                       /* inner blanks are header-safe */
        { "Hello, \xe4\xb8\x96\xe7\x95\x8c", "=?base64?SGVsbG8sIOS4lueVjA==?=" }, /* the specification's examples */
        { " padded ", "=?base64?IHBhZGRlZCA=?=" },
        { "line1\nline2", "=?base64?bGluZTEKbGluZTI=?=" },
        { "=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=" },
        { "x\r\nInjected: 1", "=?base64?eA0KSW5qZWN0ZWQ6IDE=?=" },    /* never a header of its own */
        { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = header_value(cases[i][0]);
        assert_string_equal(got, cases[i][1]);
        free(got);
    }
}

static void a_request_gets_the_meta_of_the_revision(void **state)
{
    json_t *req = load("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"t\","
                       "\"_meta\":{\"progressToken\":5}}}");
    json_t *caps = load("{\"elicitation\":{}}");
    assert_int_equal(pt_mcp_modern_meta(req, caps, "info"), 0);
    json_t *meta = json_object_get(json_object_get(req, "params"), "_meta");
    assert_string_equal(json_string_value(json_object_get(meta, PT_MCP_META_VERSION)), "2026-07-28");
    assert_true(json_equal(json_object_get(meta, PT_MCP_META_CAPS), caps));
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, PT_MCP_META_CLIENT), "name")), "portico");
    assert_string_equal(json_string_value(json_object_get(meta, PT_MCP_META_LOG_LEVEL)), "info");
    assert_int_equal(json_integer_value(json_object_get(meta, "progressToken")), 5); /* kept */
    json_decref(req);
    json_decref(caps);
    req = load("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"server/discover\"}"); /* no params at all */
    assert_int_equal(pt_mcp_modern_meta(req, NULL, NULL), 0);
    meta = json_object_get(json_object_get(req, "params"), "_meta");
    assert_int_equal(json_object_size(json_object_get(meta, PT_MCP_META_CAPS)), 0);
    assert_null(json_object_get(meta, PT_MCP_META_LOG_LEVEL));
    json_decref(req);
}

static char *headers_of(const char *request, const char *map)
{
    json_t *req = load(request);
    json_t *m = map ? load(map) : NULL;
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_mcp_modern_write_headers(&b, req, m), 0);
    assert_int_equal(pt_buf_append(&b, "", 1), 0);
    json_decref(req);
    json_decref(m);
    return b.data;
}

static void headers_mirror_the_body(void **state)
{
    char *h = headers_of("{\"method\":\"tools/call\",\"params\":{\"name\":\"execute_sql\",\"arguments\":"
                         "{\"region\":\"us-west1\",\"n\":42,\"dry\":true,\"obj\":{},\"query\":\"SELECT 1\"}}}",
                         "{\"region\":\"Region\",\"n\":\"N\",\"dry\":\"Dry\",\"obj\":\"Obj\",\"absent\":\"Absent\"}");
    assert_string_equal(h, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: execute_sql\r\n"
                           "Mcp-Param-Region: us-west1\r\nMcp-Param-N: 42\r\nMcp-Param-Dry: true\r\n");
    free(h);
    h = headers_of("{\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///a b/\xc3\xa9\"}}", NULL);
    assert_string_equal(h, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: resources/read\r\n"
                           "Mcp-Name: =?base64?ZmlsZTovLy9hIGIvw6k=?=\r\n");
    free(h);
    /* a prompt's arguments are never mirrored, whatever the map */
    h = headers_of("{\"method\":\"prompts/get\",\"params\":{\"name\":\"p\",\"arguments\":{\"region\":\"x\"}}}",
                   "{\"region\":\"Region\"}");
    assert_string_equal(h, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: prompts/get\r\nMcp-Name: p\r\n");
    free(h);
    h = headers_of("{\"method\":\"tools/list\"}", NULL);
    assert_string_equal(h, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n");
    free(h);
}

static void a_tool_s_header_arguments_are_mapped(void **state)
{
    json_t *tool = load("{\"name\":\"t\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
                        "\"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},\"q\":{\"type\":\"string\"}}}}");
    json_t *map = pt_mcp_param_map(tool);
    assert_non_null(map);
    assert_int_equal(json_object_size(map), 1);
    assert_string_equal(json_string_value(json_object_get(map, "region")), "Region");
    json_decref(map);
    json_decref(tool);
    tool = load("{\"name\":\"t\",\"inputSchema\":{\"properties\":{\"q\":{\"type\":\"string\"}}}}");
    assert_null(pt_mcp_param_map(tool));
    json_decref(tool);
    /* a name that is no header token (it could inject a header) makes the tool get none */
    tool = load("{\"name\":\"t\",\"inputSchema\":{\"properties\":{\"a\":{\"x-mcp-header\":\"A\\r\\nX-Evil: 1\"},"
                "\"b\":{\"x-mcp-header\":\"B\"}}}}");
    assert_null(pt_mcp_param_map(tool));
    json_decref(tool);
}

static pt_mcp_era_answer era_of(const char *response)
{
    char why[300];
    json_t *r = response ? load(response) : NULL;
    pt_mcp_era_answer a = pt_mcp_discover_era(r, why, sizeof why);
    assert_true(why[0] != '\0');
    json_decref(r);
    return a;
}

static void the_era_is_told_from_the_discover_answer(void **state)
{
    assert_int_equal(era_of("{\"id\":1,\"result\":{\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{}}}"),
                     PT_MCP_ERA_ANSWER_MODERN);
    assert_int_equal(era_of("{\"id\":1,\"result\":{\"supportedVersions\":[\"2027-01-01\"],\"capabilities\":{}}}"),
                     PT_MCP_ERA_ANSWER_OTHER);
    assert_int_equal(era_of("{\"id\":1,\"error\":{\"code\":-32022,\"message\":\"unsupported\",\"data\":"
                            "{\"supported\":[\"2027-01-01\"]}}}"),
                     PT_MCP_ERA_ANSWER_OTHER);
    assert_int_equal(era_of("{\"id\":1,\"error\":{\"code\":-32020,\"message\":\"mismatch\"}}"), PT_MCP_ERA_ANSWER_OTHER);
    /* what a 2025-era server answers (whatever the code), or nothing, means initialize */
    assert_int_equal(era_of("{\"id\":1,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}"),
                     PT_MCP_ERA_ANSWER_LEGACY);
    assert_int_equal(era_of("{\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Bad Request: Server not initialized\"}}"),
                     PT_MCP_ERA_ANSWER_LEGACY);
    assert_int_equal(era_of("{\"id\":1,\"result\":{}}"), PT_MCP_ERA_ANSWER_LEGACY);
    assert_int_equal(era_of(NULL), PT_MCP_ERA_ANSWER_LEGACY);
}

static void results_are_reshaped_for_a_2025_client(void **state)
{
    json_t *r = load("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resultType\":\"complete\",\"content\":[]}}");
    json_t *out = pt_mcp_modern_to_legacy(r, "s");
    assert_null(json_object_get(json_object_get(out, "result"), "resultType"));
    assert_non_null(json_object_get(json_object_get(out, "result"), "content"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "resultType")), "complete");
    json_decref(out);
    json_decref(r);
    r = load("{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"resultType\":\"input_required\",\"inputRequests\":{"
             "\"a\":{\"method\":\"elicitation/create\"},\"b\":{\"method\":\"sampling/createMessage\"}}}}");
    out = pt_mcp_modern_to_legacy(r, "s");
    assert_int_equal(json_integer_value(json_object_get(out, "id")), 4);
    json_t *e = json_object_get(out, "error");
    assert_int_equal(json_integer_value(json_object_get(e, "code")), -32000);
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(strstr(msg, "MCP server 's' needs input"));
    assert_non_null(strstr(msg, "elicitation/create, sampling/createMessage"));
    json_decref(out);
    json_decref(r);
    r = load("{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32602,\"message\":\"x\"}}");
    out = pt_mcp_modern_to_legacy(r, "s");
    assert_ptr_equal(out, r); /* nothing to change */
    json_decref(out);
    json_decref(r);
}

static void a_discover_result_stands_for_an_initialize_result(void **state)
{
    json_t *d = load("{\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{\"listChanged\":true}},"
                     "\"instructions\":\"hi\",\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"n\",\"version\":\"2\"}}}");
    json_t *init = pt_mcp_discover_as_init(d, "cfg");
    assert_true(json_is_true(json_object_get(json_object_get(json_object_get(init, "capabilities"), "tools"), "listChanged")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(init, "serverInfo"), "name")), "n");
    assert_string_equal(json_string_value(json_object_get(init, "instructions")), "hi");
    json_decref(init);
    json_decref(d);
    d = load("{\"supportedVersions\":[\"2026-07-28\"]}");
    init = pt_mcp_discover_as_init(d, "cfg");
    assert_string_equal(json_string_value(json_object_get(json_object_get(init, "serverInfo"), "name")), "cfg");
    assert_true(json_is_object(json_object_get(init, "capabilities")));
    assert_null(json_object_get(init, "instructions"));
    json_decref(init);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_era_is_told_by_meta_or_header_never_with_a_session),
        cmocka_unit_test(a_good_request_passes),
        cmocka_unit_test(each_refusal_has_its_code_in_order),
        cmocka_unit_test(an_unsupported_version_names_both),
        cmocka_unit_test(header_values_decode),
        cmocka_unit_test(the_clients_keys_leave_meta),
        cmocka_unit_test(results_carry_the_revisions_members),
        cmocka_unit_test(log_levels_go_from_the_one_asked_up),
        cmocka_unit_test(values_are_sent_plain_or_as_base64),
        cmocka_unit_test(a_request_gets_the_meta_of_the_revision),
        cmocka_unit_test(headers_mirror_the_body),
        cmocka_unit_test(a_tool_s_header_arguments_are_mapped),
        cmocka_unit_test(the_era_is_told_from_the_discover_answer),
        cmocka_unit_test(results_are_reshaped_for_a_2025_client),
        cmocka_unit_test(a_discover_result_stands_for_an_initialize_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
