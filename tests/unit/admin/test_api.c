/* Unit tests for admin/api.c over a real store in a temporary directory: the first-start
 * bootstrap (token file, idempotence), bearer authentication, the change callback after
 * committed writes only, and answers that never carry a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "admin/api.h"
#include "admin/auth.h"
#include "store/store_fixture.h"

static int changes, last_kind;
static int64_t last_id;
static void count_change(void *arg, int kind, int64_t id)
{
    (*(int *)arg)++;
    last_kind = kind;
    last_id = id;
}

static char token[64];

static void run(fixture *f, const char *method, const char *path, const char *body, const char *tok,
                pt_admin_resp *out)
{
    char auth[96];
    snprintf(auth, sizeof auth, "Bearer %s", tok ? tok : "");
    pt_admin_api api = {.st = f->st, .on_change = count_change, .arg = &changes};
    const char *q = strchr(path, '?');
    pt_admin_req rq = {.method = method, .path = path, .path_len = q ? (size_t)(q - path) : strlen(path),
                       .query = q ? q + 1 : "", .query_len = q ? strlen(q + 1) : 0,
                       .authorization = tok ? auth : NULL, .authorization_len = tok ? strlen(auth) : 0,
                       .body = body ? body : "", .body_len = body ? strlen(body) : 0};
    pt_admin_handle(&api, &rq, out);
}

static void boot(fixture *f)
{
    bool created = false;
    char why[256];
    assert_int_equal(pt_admin_bootstrap(f->st, f->dir, &created, why, sizeof why), 0);
    assert_true(created);
    char path[128];
    snprintf(path, sizeof path, "%s/admin-token", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(token, sizeof token, fp));
    fclose(fp);
    token[strcspn(token, "\n")] = 0;
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void bootstrap_once_and_the_token_authenticates(void **state)
{
    fixture *f = *state;
    boot(f);
    bool created = true;
    char why[256];
    assert_int_equal(pt_admin_bootstrap(f->st, f->dir, &created, why, sizeof why), 0);
    assert_false(created); /* a store with a user is left alone */
    pt_admin_resp r;
    run(f, "GET", "/admin/v1/users/admin", NULL, token, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "role")), "admin");
    assert_null(json_object_get(r.body, "password_hash"));
    assert_true(r.etag > 0);
    json_decref(r.body);
    run(f, "GET", "/admin/v1/users", NULL, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_true(r.www_authenticate);
    json_decref(r.body);
    char wrong[64];
    snprintf(wrong, sizeof wrong, "%s", token);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    run(f, "GET", "/admin/v1/users", NULL, wrong, &r);
    assert_int_equal(r.status, 401);
    json_decref(r.body);
}

static void change_callback_follows_committed_writes_only(void **state)
{
    fixture *f = *state;
    boot(f);
    pt_admin_resp r;
    changes = 0;
    run(f, "POST", "/admin/v1/teams", "{\"name\":\"t1\"}", token, &r);
    assert_int_equal(r.status, 201);
    int64_t team_id = json_integer_value(json_object_get(r.body, "id"));
    json_decref(r.body);
    assert_int_equal(changes, 1);
    assert_int_equal(last_kind, PT_KIND_TEAM); /* the object written, so the gateway can patch */
    assert_int_equal(last_id, team_id);
    run(f, "POST", "/admin/v1/teams", "{\"name\":\"t1\"}", token, &r); /* duplicate */
    assert_int_equal(r.status, 409);
    json_decref(r.body);
    run(f, "GET", "/admin/v1/teams", NULL, token, &r);
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    assert_int_equal(changes, 1);
    run(f, "DELETE", "/admin/v1/teams/t1", NULL, token, &r);
    assert_int_equal(r.status, 204);
    assert_null(r.body);
    assert_int_equal(changes, 2);
}

static void keys_are_shown_once(void **state)
{
    fixture *f = *state;
    boot(f);
    pt_admin_resp r;
    run(f, "POST", "/admin/v1/teams", "{\"name\":\"t1\"}", token, &r);
    json_decref(r.body);
    run(f, "POST", "/admin/v1/consumers", "{\"name\":\"c1\",\"team\":\"t1\"}", token, &r);
    json_decref(r.body);
    run(f, "POST", "/admin/v1/consumers/c1/keys", "{\"label\":\"x\"}", token, &r);
    assert_int_equal(r.status, 201);
    const char *key = json_string_value(json_object_get(r.body, "key"));
    assert_non_null(key);
    assert_memory_equal(key, "pk_", 3);
    assert_null(json_object_get(r.body, "hash"));
    json_decref(r.body);
    run(f, "GET", "/admin/v1/consumers/c1/keys?limit=1", NULL, token, &r);
    assert_int_equal(r.status, 200);
    json_t *k = json_array_get(json_object_get(r.body, "items"), 0);
    assert_non_null(json_object_get(k, "prefix"));
    assert_null(json_object_get(k, "key"));
    assert_null(json_object_get(k, "hash"));
    assert_true(json_is_null(json_object_get(r.body, "next_cursor")));
    json_decref(r.body);
}

/* GET /export answers YAML as raw bytes; POST /import changes the store (and calls back)
 * only when it is not a dry run and something changed. */
static void export_is_yaml_and_import_calls_back_on_real_changes(void **state)
{
    fixture *f = *state;
    boot(f);
    pt_admin_resp r;
    run(f, "GET", "/admin/v1/export", NULL, token, &r);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_string_equal(r.content_type, "application/yaml");
    assert_true(r.raw_len > 0 && strstr(r.raw, "portico_export: 1\n") != NULL);
    free(r.raw);
    run(f, "POST", "/admin/v1/export", NULL, token, &r);
    assert_int_equal(r.status, 405);
    json_decref(r.body);
    run(f, "POST", "/admin/v1/import?dry_run=maybe", "portico_export: 1\n", token, &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.body, "error"), "field")), "dry_run");
    json_decref(r.body);
    changes = 0;
    const char *doc = "portico_export: 1\nteams: [{name: t1}]\n";
    run(f, "POST", "/admin/v1/import?dry_run=true", doc, token, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.body, "created")), 1);
    json_decref(r.body);
    assert_int_equal(changes, 0);
    run(f, "POST", "/admin/v1/import", doc, token, &r);
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    assert_int_equal(changes, 1);
    run(f, "POST", "/admin/v1/import", doc, token, &r);
    assert_int_equal(json_integer_value(json_object_get(r.body, "unchanged")), 1);
    json_decref(r.body);
    assert_int_equal(changes, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bootstrap_once_and_the_token_authenticates, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(change_callback_follows_committed_writes_only, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(keys_are_shown_once, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(export_is_yaml_and_import_calls_back_on_real_changes, fixture_setup,
                                        fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
