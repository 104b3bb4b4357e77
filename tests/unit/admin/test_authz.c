/* Unit tests for admin/authz.c: the role table against teams, and the request checks
 * (body parsing and depth, unknown fields, If-Match, path segments, query, ids). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "admin/authz.h"

static void roles_parse_by_name(void **state)
{
    assert_int_equal(pt_admin_role_parse("admin"), PT_ROLE_ADMIN);
    assert_int_equal(pt_admin_role_parse("team_admin"), PT_ROLE_TEAM_ADMIN);
    assert_int_equal(pt_admin_role_parse("developer"), PT_ROLE_DEVELOPER);
    assert_int_equal(pt_admin_role_parse("consumer"), PT_ROLE_CONSUMER);
    assert_int_equal(pt_admin_role_parse("Admin"), PT_ROLE_NONE);
    assert_int_equal(pt_admin_role_parse(NULL), PT_ROLE_NONE);
}

static void admin_may_do_everything(void **state)
{
    for (int k = 0; k < PT_KIND_COUNT; k++)
        for (int a = PT_ACT_READ; a <= PT_ACT_APPROVE; a++)
            assert_int_equal(pt_admin_authorize(PT_ROLE_ADMIN, 0, (pt_store_kind)k, (pt_admin_act)a, 7), PT_AUTHZ_OK);
}

static void other_teams_are_hidden_not_forbidden(void **state)
{
    pt_admin_role roles[] = {PT_ROLE_TEAM_ADMIN, PT_ROLE_DEVELOPER, PT_ROLE_CONSUMER};
    for (int r = 0; r < 3; r++) {
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_SERVICE, PT_ACT_READ, 2), PT_AUTHZ_HIDDEN);
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_CONSUMER, PT_ACT_WRITE, 2), PT_AUTHZ_HIDDEN);
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_SUBSCRIPTION, PT_ACT_APPROVE, 2), PT_AUTHZ_HIDDEN);
        /* objects of no team (admins) are hidden too */
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_USER, PT_ACT_READ, 0), PT_AUTHZ_HIDDEN);
        /* and a user without a team sees nothing */
        assert_int_equal(pt_admin_authorize(roles[r], 0, PT_KIND_USER, PT_ACT_READ, 0), PT_AUTHZ_HIDDEN);
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_AUDIT, PT_ACT_READ, 1), PT_AUTHZ_FORBIDDEN);
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_TEAM, PT_ACT_READ, 1), PT_AUTHZ_OK);
        assert_int_equal(pt_admin_authorize(roles[r], 1, PT_KIND_TEAM, PT_ACT_WRITE, 1), PT_AUTHZ_FORBIDDEN);
    }
}

static void each_role_writes_its_own_kinds(void **state)
{
    /* kind, team_admin, developer, consumer */
    struct { pt_store_kind k; pt_authz ta, dev, con; } t[] = {
        {PT_KIND_USER, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_FORBIDDEN},
        {PT_KIND_SERVICE, PT_AUTHZ_OK, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN},
        {PT_KIND_API, PT_AUTHZ_OK, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN},
        {PT_KIND_CONSUMER, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_OK},
        {PT_KIND_KEY, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_OK},
        {PT_KIND_SUBSCRIPTION, PT_AUTHZ_OK, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_OK},
        {PT_KIND_TEAM, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_FORBIDDEN, PT_AUTHZ_FORBIDDEN},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(pt_admin_authorize(PT_ROLE_TEAM_ADMIN, 3, t[i].k, PT_ACT_WRITE, 3), t[i].ta);
        assert_int_equal(pt_admin_authorize(PT_ROLE_DEVELOPER, 3, t[i].k, PT_ACT_WRITE, 3), t[i].dev);
        assert_int_equal(pt_admin_authorize(PT_ROLE_CONSUMER, 3, t[i].k, PT_ACT_WRITE, 3), t[i].con);
    }
    assert_int_equal(pt_admin_authorize(PT_ROLE_TEAM_ADMIN, 3, PT_KIND_SUBSCRIPTION, PT_ACT_APPROVE, 3), PT_AUTHZ_OK);
    assert_int_equal(pt_admin_authorize(PT_ROLE_DEVELOPER, 3, PT_KIND_SUBSCRIPTION, PT_ACT_APPROVE, 3), PT_AUTHZ_FORBIDDEN);
    assert_int_equal(pt_admin_authorize(PT_ROLE_CONSUMER, 3, PT_KIND_SUBSCRIPTION, PT_ACT_APPROVE, 3), PT_AUTHZ_FORBIDDEN);
    assert_int_equal(pt_admin_authorize(PT_ROLE_NONE, 3, PT_KIND_TEAM, PT_ACT_READ, 3), PT_AUTHZ_FORBIDDEN);
}

static void bodies_must_be_flat_enough_json_objects(void **state)
{
    pt_admin_err e;
    json_t *v = pt_admin_parse_body("{\"a\":[1,{\"b\":2}]}", 17, &e);
    assert_non_null(v);
    json_decref(v);
    const char *bad[] = {"", "[1]", "\"x\"", "{\"a\":1,\"a\":2}", "{\"a\":", "{\"a\":\"\xff\"}", "{\"a\":\"x\\u0000\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&e, 0, sizeof e);
        assert_null(pt_admin_parse_body(bad[i], strlen(bad[i]), &e));
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, "invalid_json");
    }
    char deep[200];
    int n = snprintf(deep, sizeof deep, "{\"a\":");
    for (int i = 1; i < PT_ADMIN_MAX_DEPTH; i++) deep[n++] = '[';
    for (int i = 1; i < PT_ADMIN_MAX_DEPTH; i++) deep[n++] = ']';
    deep[n++] = '}';
    v = pt_admin_parse_body(deep, (size_t)n, &e);
    assert_non_null(v); /* exactly the limit */
    json_decref(v);
    /* one more level, and brackets inside strings do not count */
    char deeper[220];
    n = snprintf(deeper, sizeof deeper, "{\"[[[[\":");
    for (int i = 0; i < PT_ADMIN_MAX_DEPTH; i++) deeper[n++] = '[';
    for (int i = 0; i < PT_ADMIN_MAX_DEPTH; i++) deeper[n++] = ']';
    deeper[n++] = '}';
    memset(&e, 0, sizeof e);
    assert_null(pt_admin_parse_body(deeper, (size_t)n, &e));
    assert_int_equal(e.status, 400);
    assert_non_null(strstr(e.message, "nested deeper"));
}

static void unknown_fields_are_named(void **state)
{
    static const char *const allowed[] = {"name", "team", NULL};
    pt_admin_err e;
    json_t *ok = json_pack("{s:s,s:s}", "name", "a", "team", "b");
    assert_int_equal(pt_admin_known_fields(ok, allowed, &e), 0);
    json_t *bad = json_pack("{s:s,s:i}", "name", "a", "colour", 1);
    memset(&e, 0, sizeof e);
    assert_int_equal(pt_admin_known_fields(bad, allowed, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "colour");
    json_decref(ok);
    json_decref(bad);
}

static void if_match_forms(void **state)
{
    assert_int_equal(pt_admin_if_match("\"7\"", 3), 7);
    assert_int_equal(pt_admin_if_match("W/\"12\"", 6), 12);
    assert_int_equal(pt_admin_if_match("3", 1), 3);
    assert_int_equal(pt_admin_if_match("*", 1), 0);
    assert_int_equal(pt_admin_if_match(NULL, 0), 0);
    assert_int_equal(pt_admin_if_match("\"x\"", 3), -1);
    assert_int_equal(pt_admin_if_match("\"0\"", 3), -1);
    assert_int_equal(pt_admin_if_match("\"\"", 2), -1);
    assert_int_equal(pt_admin_if_match("-1", 2), -1);
}

static void paths_split_into_safe_segments(void **state)
{
    char buf[128], *seg[PT_ADMIN_MAX_SEGS];
    const char *p = "/admin/v1/services/ledger/apis/v1";
    assert_int_equal(pt_admin_split_path(p, strlen(p), buf, sizeof buf, seg), 4);
    assert_string_equal(seg[0], "services");
    assert_string_equal(seg[1], "ledger");
    assert_string_equal(seg[3], "v1");
    const char *bad[] = {"/admin/v1/", "/admin/v1", "/admin/v2/teams", "/admin/v1/teams/", "/admin/v1//teams",
                         "/admin/v1/teams/a%20b", "/admin/v1/teams/a'b", "/admin/v1/a/b/c/d/e/f/g", "/other"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(pt_admin_split_path(bad[i], strlen(bad[i]), buf, sizeof buf, seg), -1);
}

static void query_and_ids(void **state)
{
    char v[16];
    const char *q = "limit=3&cursor=abc&x=";
    assert_true(pt_admin_query(q, strlen(q), "limit", v, sizeof v));
    assert_string_equal(v, "3");
    assert_true(pt_admin_query(q, strlen(q), "cursor", v, sizeof v));
    assert_string_equal(v, "abc");
    assert_false(pt_admin_query(q, strlen(q), "curs", v, sizeof v));
    assert_true(pt_admin_query(q, strlen(q), "x", v, sizeof v)); /* present but empty */
    assert_string_equal(v, "");
    assert_int_equal(pt_admin_parse_id("42"), 42);
    assert_int_equal(pt_admin_parse_id("4a"), 0);
    assert_int_equal(pt_admin_parse_id("-4"), 0);
    assert_int_equal(pt_admin_parse_id("99999999999999999999"), 0);
    assert_int_equal(pt_admin_parse_id(""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roles_parse_by_name),
        cmocka_unit_test(admin_may_do_everything),
        cmocka_unit_test(other_teams_are_hidden_not_forbidden),
        cmocka_unit_test(each_role_writes_its_own_kinds),
        cmocka_unit_test(bodies_must_be_flat_enough_json_objects),
        cmocka_unit_test(unknown_fields_are_named),
        cmocka_unit_test(if_match_forms),
        cmocka_unit_test(paths_split_into_safe_segments),
        cmocka_unit_test(query_and_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
