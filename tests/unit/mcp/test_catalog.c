/* Unit tests for mcp/catalog.c: merged tool names, collisions decided by server order, the
 * 64-character limit, and routing a final name back to its upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/catalog.h"

static json_t *tools(const char *const *names)
{
    json_t *a = json_array();
    for (; *names; names++) json_array_append_new(a, json_pack("{s:s, s:{}}", "name", *names, "inputSchema"));
    return a;
}

static const char *name_at(json_t *merged, size_t i)
{
    return json_string_value(json_object_get(json_array_get(merged, i), "name"));
}

static void prefixed_names_are_server_then_tool(void **state)
{
    pt_mcp_tools_in in[2] = { { "files", true, tools((const char *[]){ "read", "write", NULL }), NULL },
                              { "search", true, tools((const char *[]){ "read", NULL }), NULL } };
    pt_buf problems = PT_BUF_INIT;
    json_t *m = pt_mcp_tools_merge(in, 2, &problems);
    assert_int_equal(json_array_size(m), 3);
    assert_string_equal(name_at(m, 0), "files__read");
    assert_string_equal(name_at(m, 1), "files__write");
    assert_string_equal(name_at(m, 2), "search__read");
    assert_true(json_is_object(json_object_get(json_array_get(m, 0), "inputSchema")));
    assert_int_equal(problems.len, 0);
    const char *tool = NULL;
    assert_int_equal(pt_mcp_tool_route(in, 2, "search__read", &tool), 1);
    assert_string_equal(tool, "read");
    assert_int_equal(pt_mcp_tool_route(in, 2, "search__write", &tool), -1);
    json_decref(m);
    pt_buf_release(&problems);
    json_decref(in[0].tools);
    json_decref(in[1].tools);
}

static void an_unprefixed_collision_leaves_the_later_tool_out(void **state)
{
    pt_mcp_tools_in in[3] = { { "a", false, tools((const char *[]){ "shared", "only_a", NULL }), NULL },
                              { "b", false, tools((const char *[]){ "shared", NULL }), NULL },
                              { "c", true, tools((const char *[]){ "shared", NULL }), NULL } };
    pt_buf problems = PT_BUF_INIT;
    json_t *m = pt_mcp_tools_merge(in, 3, &problems);
    assert_int_equal(json_array_size(m), 3);
    assert_string_equal(name_at(m, 0), "shared");
    assert_string_equal(name_at(m, 1), "only_a");
    assert_string_equal(name_at(m, 2), "c__shared");
    assert_non_null(strstr(problems.data, "server 'b': tool 'shared': 'shared' collides with server 'a''s"));
    const char *tool = NULL;
    assert_int_equal(pt_mcp_tool_route(in, 3, "shared", &tool), 0);
    assert_int_equal(pt_mcp_tool_route(in, 3, "c__shared", &tool), 2);
    json_decref(m);
    pt_buf_release(&problems);
    for (int i = 0; i < 3; i++) json_decref(in[i].tools);
}

static void names_over_64_characters_are_left_out(void **state)
{
    const char *t60 = "t23456789012345678901234567890123456789012345678901234567890"; /* 60 */
    const char *t57 = "t23456789012345678901234567890123456789012345678901234567";    /* 57 */
    pt_mcp_tools_in in[1] = { { "srv", true, tools((const char *[]){ t60, t57, "bad name", NULL }), NULL } };
    pt_buf problems = PT_BUF_INIT;
    json_t *m = pt_mcp_tools_merge(in, 1, &problems);
    assert_int_equal(json_array_size(m), 1); /* srv__ + 57 = 62 */
    assert_non_null(strstr(problems.data, "longer than 64 characters"));
    assert_non_null(strstr(problems.data, "characters other than"));
    const char *tool = NULL;
    char full[80];
    snprintf(full, sizeof full, "srv__%s", t60);
    assert_int_equal(pt_mcp_tool_route(in, 1, full, &tool), -1);
    json_decref(m);
    pt_buf_release(&problems);
    json_decref(in[0].tools);
}

static void a_failed_upstream_contributes_nothing(void **state)
{
    pt_mcp_tools_in in[2] = { { "down", true, NULL, NULL }, { "up", true, tools((const char *[]){ "x", NULL }), NULL } };
    json_t *m = pt_mcp_tools_merge(in, 2, NULL);
    assert_int_equal(json_array_size(m), 1);
    assert_string_equal(name_at(m, 0), "up__x");
    json_decref(m);
    json_decref(in[1].tools);
}

static json_t *resources(const char *const *uris)
{
    json_t *a = json_array();
    for (; *uris; uris++) json_array_append_new(a, json_pack("{s:s, s:s}", "uri", *uris, "name", "n"));
    return a;
}

static void prompts_are_prefixed_and_resource_uris_kept_with_collisions_left_out(void **state)
{
    pt_mcp_tools_in pr[2] = { { "a", true, tools((const char *[]){ "review code", NULL }), "name" },
                              { "b", false, tools((const char *[]){ "review code", NULL }), "name" } };
    json_t *m = pt_mcp_tools_merge(pr, 2, NULL);
    assert_int_equal(json_array_size(m), 2);
    assert_string_equal(name_at(m, 0), "a__review code"); /* prompt names are not held to tool rules */
    assert_string_equal(name_at(m, 1), "review code");
    json_decref(m);
    pt_mcp_tools_in rs[2] = { { "a", true, resources((const char *[]){ "file:///x", "file:///y", NULL }), "uri" },
                              { "b", true, resources((const char *[]){ "file:///y", "mem://z", NULL }), "uri" } };
    pt_buf problems = PT_BUF_INIT;
    m = pt_mcp_tools_merge(rs, 2, &problems);
    assert_int_equal(json_array_size(m), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(m, 2), "uri")), "mem://z");
    assert_non_null(strstr(problems.data, "server 'b': resource 'file:///y': 'file:///y' collides with server 'a''s"));
    const char *uri = NULL;
    assert_int_equal(pt_mcp_tool_route(rs, 2, "file:///y", &uri), 0);
    assert_int_equal(pt_mcp_tool_route(rs, 2, "mem://z", &uri), 1);
    assert_string_equal(uri, "mem://z");
    json_decref(m);
    pt_buf_release(&problems);
    for (int i = 0; i < 2; i++) {
        json_decref(pr[i].tools);
        json_decref(rs[i].tools);
    }
}

static void prefix_routing_needs_no_list(void **state)
{
    const char *servers[] = { "a", "ab", "plain" };
    bool prefixed[] = { true, true, false };
    const char *tool = NULL;
    assert_int_equal(pt_mcp_prefix_route(servers, prefixed, 3, "ab__read", &tool), 1);
    assert_string_equal(tool, "read");
    assert_int_equal(pt_mcp_prefix_route(servers, prefixed, 3, "a__b__c", &tool), 0);
    assert_string_equal(tool, "b__c");
    assert_int_equal(pt_mcp_prefix_route(servers, prefixed, 3, "plain__x", &tool), -1);
    assert_int_equal(pt_mcp_prefix_route(servers, prefixed, 3, "a__", &tool), -1);
    assert_int_equal(pt_mcp_prefix_route(servers, prefixed, 3, "abc", &tool), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefixed_names_are_server_then_tool),
        cmocka_unit_test(an_unprefixed_collision_leaves_the_later_tool_out),
        cmocka_unit_test(names_over_64_characters_are_left_out),
        cmocka_unit_test(a_failed_upstream_contributes_nothing),
        cmocka_unit_test(prompts_are_prefixed_and_resource_uris_kept_with_collisions_left_out),
        cmocka_unit_test(prefix_routing_needs_no_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
