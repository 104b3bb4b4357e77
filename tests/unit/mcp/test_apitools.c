/* Unit tests for mcp/apitools.c: OpenAPI operations (imported by admin/oas.c, or hostile
 * normalised forms) turned into tools, with odd inputs: $refs, parameters without a schema,
 * names that collide, are too long or have other characters, bodies that are not JSON, a
 * document with thousands of operations; a call's arguments turned into the request; the
 * HTTP answer turned into the tools/call result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "admin/oas.h"
#include "mcp/apitools.h"

/* The normalised operations of an OpenAPI document given as text. */
static json_t *ops_of(const char *doc)
{
    json_t *norm = NULL;
    char *server_path = NULL;
    pt_admin_err e = { 0 };
    int rc = pt_oas_import(doc, strlen(doc), &norm, &server_path, &e);
    if (rc) fail_msg("import: %s", e.message);
    free(server_path);
    json_t *ops = json_incref(json_object_get(norm, "operations"));
    json_decref(norm);
    return ops;
}

static const json_t *prop(const pt_mcp_apitool *t, const char *key)
{
    return json_object_get(json_object_get(json_object_get(t->def, "inputSchema"), "properties"), key);
}

static const char *const PETS = "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"p\",\"version\":\"1\"},\"paths\":{"
                                "\"/pets/{id}\":{\"parameters\":[{\"$ref\":\"#/components/parameters/Id\"}],"
                                "\"get\":{\"operationId\":\"getPet\",\"parameters\":[{\"name\":\"id\",\"in\":\"query\"},"
                                "{\"name\":\"X-Req\",\"in\":\"header\",\"schema\":{\"type\":\"string\"}},"
                                "{\"name\":\"Authorization\",\"in\":\"header\"},{\"name\":\"sid\",\"in\":\"cookie\"}]},"
                                "\"put\":{\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":"
                                "{\"$ref\":\"#/components/schemas/Pet\"}}}}}},"
                                "\"/upload\":{\"post\":{\"requestBody\":{\"content\":{\"multipart/form-data\":{\"schema\":"
                                "{\"type\":\"object\"}}}}}}},"
                                "\"components\":{\"parameters\":{\"Id\":{\"name\":\"id\",\"in\":\"path\",\"required\":true,"
                                "\"schema\":{\"type\":\"integer\"}}},\"schemas\":{\"Pet\":{\"type\":\"object\","
                                "\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"}}}}}}";

static void operations_become_tools_with_refs_resolved(void **state)
{
    json_t *ops = ops_of(PETS);
    pt_mcp_apitools t = { 0 };
    pt_buf skipped = PT_BUF_INIT;
    char why[300] = "";
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "/api", "pets", 0, &skipped, why, sizeof why), 0);
    assert_int_equal(t.n, 2); /* the multipart upload is left out */
    assert_non_null(strstr(skipped.data, "POST /upload: left out (its body is multipart/form-data, not JSON)"));
    const pt_mcp_apitool *get = pt_mcp_apitools_find(&t, "pets__getPet");
    const pt_mcp_apitool *put = pt_mcp_apitools_find(&t, "pets__put_pets_id");
    assert_non_null(get);
    assert_non_null(put);
    assert_string_equal(get->path, "/api/pets/{id}");
    assert_string_equal(get->own, "getPet");
    /* the path parameter (from a $ref) keeps its name; the query one of the same name is set apart */
    assert_string_equal(json_string_value(json_object_get(prop(get, "id"), "type")), "integer");
    assert_non_null(prop(get, "query_id"));
    assert_null(json_object_get(prop(get, "query_id"), "type")); /* no schema: any value */
    assert_non_null(prop(get, "X-Req"));
    assert_null(prop(get, "Authorization")); /* credentials are the caller's, never an argument */
    assert_null(prop(get, "sid"));           /* cookies are not carried */
    json_t *req = json_object_get(json_object_get(put->def, "inputSchema"), "required");
    assert_int_equal(json_array_size(req), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(prop(put, "body"), "required"), 0)), "name");
    pt_buf_release(&skipped);
    pt_mcp_apitools_release(&t);
    json_decref(ops);
}

static void names_too_long_or_odd_are_refused_naming_the_tool(void **state)
{
    pt_mcp_apitools t = { 0 };
    char why[300] = "";
    json_t *ops = json_pack("[{s:s,s:s,s:s,s:[]}]", "method", "GET", "path", "/a", "operation_id", "get pet!", "parameters");
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "", NULL, 0, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "'get pet!' is not made of"));
    json_decref(ops);
    char longid[80];
    memset(longid, 'x', 62);
    longid[62] = '\0';
    ops = json_pack("[{s:s,s:s,s:s,s:[]}]", "method", "GET", "path", "/a", "operation_id", longid, "parameters");
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "", NULL, 0, NULL, why, sizeof why), 0); /* 62: fits */
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "", "ab", 0, NULL, why, sizeof why), -1);
    assert_non_null(strstr(why, "longer than 64 characters"));
    assert_int_equal(t.n, 1);
    json_decref(ops);
    pt_mcp_apitools_release(&t);
}

static void the_same_final_name_twice_is_a_collision(void **state)
{
    pt_mcp_apitools t = { 0 };
    char why[300];
    json_t *ops = json_pack("[{s:s,s:s,s:s},{s:s,s:s}]", "method", "GET", "path", "/a", "operation_id", "get_b", "method",
                            "GET", "path", "/b");
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "", NULL, 0, NULL, why, sizeof why), 0);
    assert_int_equal(pt_mcp_apitools_collision(&t), 1);
    json_decref(ops);
    pt_mcp_apitools_release(&t);
}

static void method_and_path_name_an_operation_without_id(void **state)
{
    char out[80];
    pt_mcp_op_name("GET", "/pets/{petId}/toys", out, sizeof out);
    assert_string_equal(out, "get_pets_petId_toys");
    pt_mcp_op_name("DELETE", "/", out, sizeof out);
    assert_string_equal(out, "delete");
    pt_mcp_op_name("GET", "/a//b~c", out, 6);
    assert_string_equal(out, "get_a");
}

/* Normalised forms no import wrote: every shape fault is an error, never a crash. */
static void hostile_normalised_forms_are_refused(void **state)
{
    static const char *const bad[] = {
        "{}", "[1]", "[{}]", "[{\"method\":\"GET\"}]", "[{\"method\":\"GET\",\"path\":\"a\"}]",
        "[{\"method\":\"GET\",\"path\":\"/a b\"}]", "[{\"method\":\"GET\",\"path\":\"/a\",\"parameters\":{}}]",
        "[{\"method\":\"GET\",\"path\":\"/a\",\"parameters\":[{\"in\":\"query\"}]}]",
        "[{\"method\":\"GET\",\"path\":\"/a\",\"parameters\":[{\"name\":\"\",\"in\":\"path\"}]}]",
        "[{\"method\":\"GET\",\"path\":\"/a/{x}\",\"parameters\":[]}]",
        "[{\"method\":\"GET\",\"path\":\"/a/{x\",\"parameters\":[]}]",
        "[{\"method\":\"GETGETGETGET\",\"path\":\"/a\"}]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_mcp_apitools t = { 0 };
        char why[300] = "";
        json_t *ops = json_loads(bad[i], 0, NULL);
        assert_non_null(ops);
        if (pt_mcp_apitools_from_ops(&t, ops, "", NULL, 0, NULL, why, sizeof why) != -1) fail_msg("accepted %s", bad[i]);
        assert_true(why[0] != '\0');
        assert_int_equal(t.n, 0);
        json_decref(ops);
        pt_mcp_apitools_release(&t);
    }
}

/* A document of n operations, each with a path parameter whose schema is a $ref. */
static void big_document(pt_buf *doc, int n)
{
    pt_buf_append_str(doc, "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"big\",\"version\":\"1\"},\"paths\":{");
    for (int i = 0; i < n; i++)
        pt_buf_printf(doc, "%s\"/r%d/{id}\":{\"get\":{\"parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true,"
                           "\"schema\":{\"$ref\":\"#/components/schemas/Id\"}}]}}",
                      i ? "," : "", i);
    pt_buf_append_str(doc, "},\"components\":{\"schemas\":{\"Id\":{\"type\":\"string\",\"maxLength\":9}}}}");
}

/* A thousand operations become a thousand tools; a document whose operations are more than
 * the import keeps is refused with the reason. */
static void a_document_with_a_thousand_operations(void **state)
{
    pt_buf doc = PT_BUF_INIT;
    big_document(&doc, 1000);
    json_t *norm = NULL;
    char *sp = NULL;
    pt_admin_err e = { 0 };
    if (pt_oas_import(doc.data, doc.len, &norm, &sp, &e) != 0) fail_msg("import: %s", e.message);
    pt_mcp_apitools t = { 0 };
    char why[300];
    assert_int_equal(pt_mcp_apitools_from_ops(&t, json_object_get(norm, "operations"), "", "big", 0, NULL, why, sizeof why), 0);
    assert_int_equal(t.n, 1000);
    assert_int_equal(pt_mcp_apitools_collision(&t), -1);
    assert_non_null(pt_mcp_apitools_find(&t, "big__get_r999_id"));
    pt_mcp_apitools_release(&t);
    json_decref(norm);
    free(sp);
    pt_buf_release(&doc);
    pt_buf huge = PT_BUF_INIT;
    big_document(&huge, 5000);
    assert_int_equal(pt_oas_import(huge.data, huge.len, &norm, &sp, &e), -1);
    assert_non_null(strstr(e.message, "more than the 204800 kept"));
    pt_buf_release(&huge);
}

/* The request one call of getPet (from PETS) makes; returns the rc and fills the parts. */
static int call(const char *args, pt_buf *target, pt_buf *headers, pt_buf *body, char *why)
{
    json_t *ops = ops_of(PETS);
    pt_mcp_apitools t = { 0 };
    char w[300];
    assert_int_equal(pt_mcp_apitools_from_ops(&t, ops, "/api", NULL, 0, NULL, w, sizeof w), 0);
    json_t *a = json_loads(args, 0, NULL);
    int rc = pt_mcp_apitool_request(pt_mcp_apitools_find(&t, strstr(args, "body") ? "put_pets_id" : "getPet"), a, target,
                                    headers, body, why, 300);
    json_decref(a);
    json_decref(ops);
    pt_mcp_apitools_release(&t);
    return rc;
}

static void arguments_go_where_the_operation_puts_them(void **state)
{
    pt_buf target = PT_BUF_INIT, headers = PT_BUF_INIT, body = PT_BUF_INIT;
    char why[300];
    assert_int_equal(call("{\"id\":\"a/b c\",\"query_id\":[1,true,\"x&y\"],\"X-Req\":\"r1\"}", &target, &headers, &body, why), 0);
    assert_string_equal(target.data, "/api/pets/a%2Fb%20c?id=1&id=true&id=x%26y");
    assert_string_equal(headers.data, "X-Req: r1\r\n");
    assert_int_equal(body.len, 0);
    pt_buf_release(&target);
    pt_buf_release(&headers);
    assert_int_equal(call("{\"id\":7,\"body\":{\"name\":\"rex\"}}", &target, &headers, &body, why), 0);
    assert_string_equal(target.data, "/api/pets/7");
    assert_string_equal(body.data, "{\"name\":\"rex\"}");
    pt_buf_release(&target);
    pt_buf_release(&headers);
    pt_buf_release(&body);
}

static void arguments_a_place_cannot_carry_are_refused(void **state)
{
    static const char *const bad[][2] = {
        { "{}", "missing required argument 'id'" },
        { "{\"id\":1,\"color\":1}", "unknown argument 'color'" },
        { "{\"id\":\"\"}", "argument 'id' must be a non-empty" },
        { "{\"id\":{}}", "argument 'id' must be a non-empty" },
        { "{\"id\":1,\"query_id\":{\"a\":1}}", "argument 'query_id' must be a string" },
        { "{\"id\":1,\"X-Req\":\"a\\r\\nHost: evil\"}", "holds a control character" },
        { "{\"id\":1,\"X-Req\":[\"a\"]}", "argument 'X-Req' must be a string" },
        { "[1]", "arguments must be an object" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pt_buf target = PT_BUF_INIT, headers = PT_BUF_INIT, body = PT_BUF_INIT;
        char why[300] = "";
        assert_int_equal(call(bad[i][0], &target, &headers, &body, why), -1);
        if (!strstr(why, bad[i][1])) fail_msg("%s: got '%s'", bad[i][0], why);
        pt_buf_release(&target);
        pt_buf_release(&headers);
        pt_buf_release(&body);
    }
}

static void a_prompt_tool_posts_its_arguments_whole(void **state)
{
    pt_mcp_apitools t = { 0 };
    char why[300];
    assert_int_equal(pt_mcp_apitools_add_post(&t, "card", "d", "/apis/card", json_pack("{s:s}", "type", "object"), 0,
                                              why, sizeof why),
                     0);
    assert_int_equal(pt_mcp_apitools_add_post(&t, "no way", "d", "/x", json_object(), 0, why, sizeof why), -1);
    pt_buf target = PT_BUF_INIT, headers = PT_BUF_INIT, body = PT_BUF_INIT;
    json_t *a = json_pack("{s:s}", "place", "Paris");
    assert_int_equal(pt_mcp_apitool_request(&t.v[0], a, &target, &headers, &body, why, sizeof why), 0);
    assert_string_equal(target.data, "/apis/card");
    assert_string_equal(body.data, "{\"place\":\"Paris\"}");
    json_decref(a);
    pt_buf_release(&target);
    pt_buf_release(&headers);
    pt_buf_release(&body);
    pt_mcp_apitools_release(&t);
}

static void answers_become_results(void **state)
{
    json_t *r = pt_mcp_apitool_result(200, true, "{\"a\":1}", 7);
    assert_false(json_is_true(json_object_get(r, "isError")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "structuredContent"), "a")), 1);
    json_decref(r);
    r = pt_mcp_apitool_result(200, true, "[1,2]", 5);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r, "structuredContent"), "result")), 2);
    json_decref(r);
    r = pt_mcp_apitool_result(200, true, "not json", 8);
    assert_null(json_object_get(r, "structuredContent"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
                        "not json");
    json_decref(r);
    r = pt_mcp_apitool_result(404, false, "gone", 4);
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
                        "HTTP 404: gone");
    json_decref(r);
    r = pt_mcp_apitool_result(200, false, "\xff\xfe", 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
                        "(2 bytes that are not UTF-8 text)");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operations_become_tools_with_refs_resolved),
        cmocka_unit_test(names_too_long_or_odd_are_refused_naming_the_tool),
        cmocka_unit_test(the_same_final_name_twice_is_a_collision),
        cmocka_unit_test(method_and_path_name_an_operation_without_id),
        cmocka_unit_test(hostile_normalised_forms_are_refused),
        cmocka_unit_test(a_document_with_a_thousand_operations),
        cmocka_unit_test(arguments_go_where_the_operation_puts_them),
        cmocka_unit_test(arguments_a_place_cannot_carry_are_refused),
        cmocka_unit_test(a_prompt_tool_posts_its_arguments_whole),
        cmocka_unit_test(answers_become_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
