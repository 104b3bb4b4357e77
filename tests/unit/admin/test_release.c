/* Unit tests for admin/release.c over a real store: a publish tells the gateway once, a
 * refused one never; an approval whose second write fails leaves neither a release nor a
 * decided request behind (the release is written in one transaction with the decision); a
 * release the gateway could not serve is refused naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <cmocka.h>

#include "admin/api.h"
#include "admin/auth.h"
#include "store/store_fixture.h"

static int changes, last_kind;
static void count_change(void *arg, int kind, int64_t id)
{
    (void)id;
    (*(int *)arg)++;
    last_kind = kind;
}

static char token[64];

/* The gateway's check of a service as it would be served; refusing once set. */
static bool refuse_serving;
static int check_served(void *arg, const json_t *service, const json_t *apis, char *field, size_t fieldcap, char *msg,
                        size_t msgcap)
{
    (void)arg;
    (void)apis;
    if (!refuse_serving) return 0;
    assert_string_equal(json_string_value(json_object_get(service, "name")), "svc"); /* checked under its own name */
    snprintf(field, fieldcap, "targets[0]");
    snprintf(msg, msgcap, "the file now declares a service named svc");
    return -1;
}

/* One request as the bootstrap admin; the answer's status, its body in *body (or NULL). */
static int run(fixture *f, const char *method, const char *path, const char *body, json_t **out)
{
    char auth[96];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    pt_admin_api api = {.st = f->st, .on_change = count_change, .check_service = check_served, .arg = &changes};
    pt_admin_req rq = {.method = method, .path = path, .path_len = strlen(path), .query = "", .authorization = auth,
                       .authorization_len = strlen(auth), .body = body ? body : "", .body_len = body ? strlen(body) : 0};
    pt_admin_resp r;
    pt_admin_handle(&api, &rq, &r);
    if (out) *out = r.body;
    else json_decref(r.body);
    free(r.raw);
    return r.status;
}

/* The admin's token, a team and a REST service "svc" with one API. */
static void world(fixture *f)
{
    bool created = false;
    char why[256], path[128];
    assert_int_equal(pt_admin_bootstrap(f->st, f->dir, &created, why, sizeof why), 0);
    snprintf(path, sizeof path, "%s/admin-token", f->dir);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(token, sizeof token, fp));
    fclose(fp);
    token[strcspn(token, "\n")] = 0;
    assert_int_equal(run(f, "POST", "/admin/v1/teams", "{\"name\":\"t\"}", NULL), 201);
    assert_int_equal(run(f, "POST", "/admin/v1/services",
                         "{\"name\":\"svc\",\"team\":\"t\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:9\"]}", NULL),
                     201);
    assert_int_equal(run(f, "POST", "/admin/v1/services/svc/apis", "{\"name\":\"v1\",\"path_prefix\":\"/v1/\"}", NULL), 201);
}

static size_t count_of(fixture *f, const char *path)
{
    json_t *b = NULL;
    assert_int_equal(run(f, "GET", path, NULL, &b), 200);
    size_t n = json_array_size(json_object_get(b, "items"));
    json_decref(b);
    return n;
}

static void a_publish_tells_the_gateway_once_a_refused_one_never(void **state)
{
    fixture *f = *state;
    world(f);
    changes = 0;
    json_t *b = NULL;
    assert_int_equal(run(f, "POST", "/admin/v1/services/svc/releases", "{\"note\":\"one\"}", &b), 201);
    assert_int_equal(json_integer_value(json_object_get(b, "number")), 1);
    json_decref(b);
    assert_int_equal(changes, 1);
    assert_int_equal(last_kind, PT_KIND_RELEASE);
    assert_int_equal(run(f, "POST", "/admin/v1/services/svc/releases", NULL, &b), 409); /* nothing changed */
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")), "no_changes");
    json_decref(b);
    assert_int_equal(run(f, "POST", "/admin/v1/services/svc/rollback", "{\"release\":1}", NULL), 409);
    assert_int_equal(changes, 1);
    assert_int_equal(count_of(f, "/admin/v1/services/svc/releases"), 1);
}

/* A release the gateway could not serve now is refused before anything is written. */
static void a_release_that_cannot_be_served_is_refused(void **state)
{
    fixture *f = *state;
    world(f);
    refuse_serving = true;
    changes = 0;
    json_t *b = NULL;
    assert_int_equal(run(f, "POST", "/admin/v1/services/svc/releases", NULL, &b), 409);
    json_t *e = json_object_get(b, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "not_servable");
    assert_string_equal(json_string_value(json_object_get(e, "field")), "targets[0]");
    json_decref(b);
    refuse_serving = false;
    assert_int_equal(changes, 0);
    assert_int_equal(count_of(f, "/admin/v1/services/svc/releases"), 0);
}

/* A trigger makes the request's decision fail after the release row was written. */
static void a_failed_approval_writes_nothing(void **state)
{
    fixture *f = *state;
    world(f);
    json_t *svc = NULL;
    assert_int_equal(run(f, "GET", "/admin/v1/services/svc", NULL, &svc), 200);
    json_t *req = json_pack("{s:I,s:s,s:{s:{s:s,s:[s]},s:[{s:s,s:s}]}}", "service_id",
                            json_integer_value(json_object_get(svc, "id")), "requested_by", "dev", "snapshot", "service",
                            "kind", "rest", "targets", "http://127.0.0.1:9", "apis", "name", "v1", "path_prefix", "/v1/");
    json_decref(svc);
    int64_t id = 0;
    assert_int_equal(pt_store_insert(f->st, PT_KIND_RELEASE_REQUEST, req, "dev", &id), 0);
    json_decref(req);

    char db_path[128], path[160];
    snprintf(db_path, sizeof db_path, "%s/portico.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER no_decision BEFORE UPDATE ON release_requests "
                                      "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;", NULL, NULL, NULL),
                     SQLITE_OK);
    changes = 0;
    snprintf(path, sizeof path, "/admin/v1/services/svc/release-requests/%lld/approve", (long long)id);
    int status = run(f, "POST", path, NULL, NULL);
    assert_true(status >= 400);
    assert_int_equal(changes, 0);
    assert_int_equal(count_of(f, "/admin/v1/services/svc/releases"), 0);
    json_t *b = NULL;
    snprintf(path, sizeof path, "/admin/v1/services/svc/release-requests/%lld", (long long)id);
    assert_int_equal(run(f, "GET", path, NULL, &b), 200);
    assert_string_equal(json_string_value(json_object_get(b, "state")), "pending");
    json_decref(b);

    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_decision", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    snprintf(path, sizeof path, "/admin/v1/services/svc/release-requests/%lld/approve", (long long)id);
    assert_int_equal(run(f, "POST", path, NULL, &b), 201);
    assert_int_equal(json_integer_value(json_object_get(b, "number")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "request_id")), id);
    json_decref(b);
    assert_int_equal(changes, 1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_publish_tells_the_gateway_once_a_refused_one_never),
        T(a_release_that_cannot_be_served_is_refused),
        T(a_failed_approval_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
