/* Unit tests for mcp/modern.c: which requests are of the stateless revision, each check a
 * request must pass in its order with its code and status, Mcp-Name's base64 form (good,
 * unpadded, broken, hiding a NUL), the client's keys taken out of _meta, what results carry and
 * which log levels a request gets. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
