/* Unit tests for gateway/file_sync.c: the file's services and routes mirrored into a real
 * store as read-only rows of the team "file", written only when they differ, a route that
 * goes away taking its API with it, a service that goes away kept (writable, with its
 * subscriptions), a stored service of the same name left to the store, and the approval
 * set through the admin API kept across syncs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "gateway/file_sync.h"
#include "store/store_fixture.h"

#define ST (((fixture *)*state)->st)

static const char two_routes[] =
    "services:\n  - { name: echo, targets: [\"http://127.0.0.1:9001\", { url: \"http://127.0.0.1:9002\", weight: 3 }], lb: weighted }\n"
    "routes:\n"
    "  - { name: open, match: { path_prefix: /open/, methods: [GET] }, service: echo }\n"
    "  - { name: keyed, match: { path_prefix: /k/ }, service: echo, auth: key, key_header: X-Key }\n"
    "providers:\n  - { name: p, type: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: k }\n"
    "models:\n  - { name: m1, targets: [{ provider: p, model: a }] }\n";

static const char one_route[] = "services:\n  - { name: echo, targets: [\"http://127.0.0.1:9001\"] }\n"
                                "routes:\n  - { name: open, match: { path_prefix: /open/ }, service: echo }\n";

static pt_config *load(const char *yaml)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("f.yaml", yaml, strlen(yaml), &err);
    if (!cfg) fail_msg("%s", err.data);
    pt_buf_release(&err);
    return cfg;
}

static bool sync_with(pt_store *st, const char *yaml)
{
    pt_config *cfg = load(yaml);
    bool changed = false;
    char why[256];
    assert_int_equal(pt_file_sync(st, cfg, &changed, why, sizeof why), 0);
    pt_config_release(cfg);
    return changed;
}

static json_t *find(pt_store *st, pt_store_kind kind, const char *name)
{
    json_t *v = json_string(name), *out = NULL;
    pt_store_find(st, kind, "name", v, &out);
    json_decref(v);
    return out;
}

static json_t *apis_of(pt_store *st, int64_t service)
{
    json_t *f = json_pack("{s:I}", "service_id", (json_int_t)service), *items = NULL;
    pt_store_list_opts o = { .filter = f, .limit = 100 };
    char next[PT_STORE_CURSOR_MAX];
    assert_int_equal(pt_store_list(st, PT_KIND_API, &o, &items, next), 0);
    json_decref(f);
    return items;
}

static int64_t id_of(const json_t *o) { return json_integer_value(json_object_get(o, "id")); }

static void the_file_is_mirrored_once(void **state)
{
    assert_true(sync_with(ST, two_routes));
    json_t *svc = find(ST, PT_KIND_SERVICE, "echo"), *team = find(ST, PT_KIND_TEAM, PT_FILE_TEAM);
    assert_non_null(svc);
    assert_non_null(team);
    assert_string_equal(json_string_value(json_object_get(svc, "origin")), "file");
    assert_true(json_is_true(json_object_get(svc, "read_only")));
    assert_int_equal(json_integer_value(json_object_get(svc, "team_id")), id_of(team));
    assert_string_equal(json_string_value(json_object_get(svc, "lb")), "weighted");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(svc, "targets"), 1), "weight")), 3);
    json_t *apis = apis_of(ST, id_of(svc));
    assert_int_equal(json_array_size(apis), 2);
    json_t *keyed = json_array_get(apis, 1);
    assert_string_equal(json_string_value(json_object_get(keyed, "auth")), "key");
    assert_string_equal(json_string_value(json_object_get(keyed, "key_header")), "X-Key");
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_array_get(apis, 0), "methods"), 0)), "GET");
    /* the default AI route is the AI service "ai" */
    json_t *ai = find(ST, PT_KIND_SERVICE, "ai");
    assert_non_null(ai);
    assert_string_equal(json_string_value(json_object_get(ai, "kind")), "ai");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ai, "models"), 0)), "m1");
    int64_t v1 = 0, v2 = 0;
    pt_store_version(ST, &v1);
    assert_false(sync_with(ST, two_routes)); /* the same file writes nothing */
    pt_store_version(ST, &v2);
    assert_int_equal(v1, v2);
    json_decref(apis);
    json_decref(svc);
    json_decref(team);
    json_decref(ai);
}

static void what_goes_away_is_followed(void **state)
{
    assert_true(sync_with(ST, two_routes));
    json_t *svc = find(ST, PT_KIND_SERVICE, "echo");
    json_t *upd = json_pack("{s:s}", "approval", "manual"); /* what the admin API may set */
    assert_int_equal(pt_store_update(ST, PT_KIND_SERVICE, id_of(svc), 0, upd, "test"), 0);
    json_decref(upd);
    assert_true(sync_with(ST, one_route));
    json_t *apis = apis_of(ST, id_of(svc));
    assert_int_equal(json_array_size(apis), 1);
    json_decref(apis);
    json_t *now = find(ST, PT_KIND_SERVICE, "echo");
    assert_string_equal(json_string_value(json_object_get(now, "approval")), "manual");
    assert_int_equal(json_array_size(json_object_get(now, "targets")), 1);
    json_t *ai = find(ST, PT_KIND_SERVICE, "ai"); /* no longer declared: kept, writable, no APIs */
    assert_non_null(ai);
    assert_false(json_is_true(json_object_get(ai, "read_only")));
    apis = apis_of(ST, id_of(ai));
    assert_int_equal(json_array_size(apis), 0);
    json_decref(apis);
    json_decref(ai);
    json_decref(now);
    json_decref(svc);
}

static void a_stored_service_of_that_name_stays_the_stores(void **state)
{
    int64_t team = must_insert(ST, PT_KIND_TEAM, "{\"name\":\"shop\"}");
    char svc[256];
    snprintf(svc, sizeof svc,
             "{\"name\":\"echo\",\"team_id\":%lld,\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:7\"]}", (long long)team);
    int64_t id = must_insert(ST, PT_KIND_SERVICE, svc);
    sync_with(ST, one_route);
    json_t *s = find(ST, PT_KIND_SERVICE, "echo");
    assert_string_equal(json_string_value(json_object_get(s, "origin")), "api");
    assert_string_equal(json_string_value(json_array_get(json_object_get(s, "targets"), 0)), "http://127.0.0.1:7");
    json_t *apis = apis_of(ST, id);
    assert_int_equal(json_array_size(apis), 0);
    json_decref(apis);
    json_decref(s);
}

static void an_empty_file_makes_no_team(void **state)
{
    assert_false(sync_with(ST, "listen: [\"127.0.0.1:8080\"]\n"));
    assert_null(find(ST, PT_KIND_TEAM, PT_FILE_TEAM));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_file_is_mirrored_once, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(what_goes_away_is_followed, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(a_stored_service_of_that_name_stays_the_stores, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(an_empty_file_makes_no_team, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
