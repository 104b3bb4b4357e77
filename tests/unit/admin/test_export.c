/* Unit tests for admin/export.c over real stores in temporary directories: the round trip
 * to the same bytes, what is left out (the file's services, older cancelled subscriptions,
 * secrets in clear), idempotence without audit records, dry runs, all-or-nothing failures
 * naming the object and field, and text that survives YAML quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "admin/export.h"
#include "store/store_fixture.h"

#define PHC "$argon2id$v=19$m=65536,t=3,p=1$j0fuLb5mF6FYIOcjKmgIzA$Z2ItPzBG7KwbjsLANl5VjXDslmL18i3QV0q1MdGOI/Q"

static char *export_text(pt_store *st)
{
    pt_buf b = PT_BUF_INIT;
    pt_admin_err e = {0};
    assert_int_equal(pt_admin_export(st, &b, &e), 0);
    size_t n;
    return pt_buf_detach(&b, &n);
}

/* Imports text; returns the report (NULL on failure, with e filled). */
static json_t *import(pt_store *st, const char *text, bool dry_run, pt_admin_err *e)
{
    json_t *report = NULL;
    pt_admin_api api = {.st = st};
    memset(e, 0, sizeof *e);
    int rc = pt_admin_import(&api, text, strlen(text), dry_run, "test", &report, e);
    assert_int_equal(rc == 0, report != NULL);
    return report;
}

static int64_t count(const json_t *report, const char *what)
{
    return (int64_t)json_integer_value(json_object_get(report, what));
}

static int64_t audit_head(pt_store *st)
{
    json_t *items = NULL;
    char next[PT_STORE_CURSOR_MAX];
    pt_store_list_opts o = {.limit = 1, .newest_first = true};
    assert_int_equal(pt_store_list(st, PT_KIND_AUDIT, &o, &items, next), 0);
    int64_t id = json_integer_value(json_object_get(json_array_get(items, 0), "id"));
    json_decref(items);
    return id;
}

/* A second store beside the fixture's, in its own directory. */
static pt_store *second_store(fixture *f, char *dir)
{
    snprintf(dir, 96, "%.80s/second", f->dir);
    pt_store_error err;
    pt_store *st = pt_store_open_sqlite(dir, &err);
    assert_non_null(st);
    return st;
}

/* A state with one of everything, plus what an export leaves out: a service the
 * configuration file owns (and its API), and a cancelled subscription superseded by a
 * newer one. */
static void build_state(pt_store *st)
{
    must_insert(st, PT_KIND_TEAM, "{\"name\":\"zeta\"}");
    must_insert(st, PT_KIND_TEAM, "{\"name\":\"alpha\"}");
    must_insert(st, PT_KIND_USER, "{\"name\":\"root\",\"role\":\"admin\",\"password_hash\":\"" PHC "\"}");
    must_insert(st, PT_KIND_USER,
                "{\"name\":\"bob\",\"role\":\"developer\",\"team_id\":2,\"disabled\":true,\"password_hash\":\"" PHC "\"}");
    must_insert(st, PT_KIND_SERVICE, "{\"name\":\"ledger\",\"team_id\":1,\"kind\":\"rest\",\"targets\":[\"http://a:1\"],"
                                     "\"approval\":\"manual\",\"origin\":\"api\",\"timeouts\":{\"connect\":\"1s\"}}");
    must_insert(st, PT_KIND_SERVICE, "{\"name\":\"fromfile\",\"team_id\":1,\"kind\":\"rest\",\"targets\":[\"http://b:1\"],"
                                     "\"origin\":\"file\",\"read_only\":true}");
    must_insert(st, PT_KIND_SERVICE, "{\"name\":\"llm\",\"team_id\":2,\"kind\":\"ai\",\"models\":[\"m1\"],\"origin\":\"api\"}");
    must_insert(st, PT_KIND_API, "{\"service_id\":1,\"name\":\"v2\",\"path_prefix\":\"/v2/\",\"auth\":\"key\","
                                 "\"match_headers\":{\"X-API-Version\":\"2\"}}");
    must_insert(st, PT_KIND_API, "{\"service_id\":1,\"name\":\"v1\",\"path_prefix\":\"/v1/\",\"methods\":[\"GET\"]}");
    must_insert(st, PT_KIND_API, "{\"service_id\":2,\"name\":\"filed\",\"path_prefix\":\"/f/\"}");
    must_insert(st, PT_KIND_API, "{\"service_id\":1,\"name\":\"fileroute\",\"path_prefix\":\"/r/\",\"origin\":\"file\"}");
    must_insert(st, PT_KIND_CONSUMER, "{\"name\":\"shop\",\"team_id\":2}");
    must_insert(st, PT_KIND_KEY, "{\"consumer_id\":1,\"prefix\":\"pk_bbbbbbbbb\",\"hash\":\"" HASH_B "\",\"label\":\"two\","
                                 "\"revoked_at\":1700000000}");
    must_insert(st, PT_KIND_KEY, "{\"consumer_id\":1,\"prefix\":\"pk_aaaaaaaaa\",\"hash\":\"" HASH_A "\","
                                 "\"expires_at\":4102444800,\"allowed_models\":[\"m1\"]}");
    must_insert(st, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":1,\"service_id\":1,\"state\":\"cancelled\"}");
    must_insert(st, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":1,\"service_id\":1,\"state\":\"rejected\",\"reason\":\"no\"}");
    must_insert(st, PT_KIND_SUBSCRIPTION, "{\"consumer_id\":1,\"service_id\":2,\"state\":\"active\"}");
}

static void empty_store_exports_empty_lists(void **state)
{
    fixture *f = *state;
    char *text = export_text(f->st);
    assert_string_equal(text, "# Portico control-plane export: secrets are one-way references (see docs/ADMIN.md)\n"
                              "portico_export: 1\nteams: []\nusers: []\nservices: []\nconsumers: []\nsubscriptions: []\npolicies: []\n");
    free(text);
}

static void export_names_objects_and_leaves_out_the_files_and_secrets(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    char *text = export_text(f->st);
    /* ordered by name, references by name, keys as their hash, the current subscription only */
    assert_non_null(strstr(text, "teams:\n  - name: \"alpha\"\n  - name: \"zeta\"\n"));
    assert_non_null(strstr(text, "  - name: \"bob\"\n    team: \"alpha\"\n    role: \"developer\"\n    disabled: true\n"
                                 "    password_hash: \"" PHC "\"\n"));
    assert_non_null(strstr(text, "    apis:\n      - name: \"v1\"\n        path_prefix: \"/v1/\"\n        methods: [\"GET\"]\n"));
    assert_non_null(strstr(text, "      - prefix: \"pk_aaaaaaaaa\"\n        expires_at: 4102444800\n        allowed_models: [\"m1\"]\n"
                                 "        hash: \"sha256:" HASH_A "\"\n      - prefix: \"pk_bbbbbbbbb\"\n"));
    assert_non_null(strstr(text, "    timeouts: {\"connect\": \"1s\"}\n"));
    assert_non_null(strstr(text, "        match_headers: {\"X-API-Version\": \"2\"}\n"));
    assert_null(strstr(text, "release"));
    assert_non_null(strstr(text, "subscriptions:\n  - consumer: \"shop\"\n    service: \"fromfile\"\n    state: \"active\"\n"
                                 "  - consumer: \"shop\"\n    service: \"ledger\"\n    state: \"rejected\"\n    reason: \"no\"\n"));
    assert_null(strstr(text, "cancelled"));
    assert_null(strstr(text, "name: \"fromfile\""));
    assert_null(strstr(text, "filed"));
    assert_null(strstr(text, "fileroute"));
    assert_null(strstr(text, "origin"));
    free(text);
}

static void import_into_an_empty_store_exports_the_same_bytes(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    char dir[96], *a = export_text(f->st);
    pt_store *copy = second_store(f, dir);
    /* the file's service exists in the copy too: the configuration declares it there */
    must_insert(copy, PT_KIND_TEAM, "{\"name\":\"zeta\"}");
    must_insert(copy, PT_KIND_SERVICE, "{\"name\":\"fromfile\",\"team_id\":1,\"kind\":\"rest\",\"targets\":[\"http://b:1\"],"
                                       "\"origin\":\"file\",\"read_only\":true}");
    pt_admin_err e;
    json_t *r = import(copy, a, false, &e);
    assert_non_null(r);
    assert_int_equal(count(r, "created"), 12);
    assert_int_equal(count(r, "unchanged"), 1);
    json_decref(r);
    char *b = export_text(copy);
    assert_string_equal(a, b);
    /* the same key hash, so the same key authenticates */
    json_t *h = json_string(HASH_A), *key = NULL;
    assert_int_equal(pt_store_find(copy, PT_KIND_KEY, "hash", h, &key), 0);
    json_decref(h);
    json_decref(key);
    free(a);
    free(b);
    pt_store_close(copy);
}

static void a_second_import_changes_nothing_and_writes_no_audit(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    char *text = export_text(f->st);
    int64_t head = audit_head(f->st), v1, v2;
    assert_int_equal(pt_store_version(f->st, &v1), 0);
    pt_admin_err e;
    json_t *r = import(f->st, text, false, &e);
    assert_non_null(r);
    assert_int_equal(count(r, "created") + count(r, "updated"), 0);
    assert_int_equal(count(r, "unchanged"), 13);
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(r, "diff"), i, d) assert_string_equal(json_string_value(json_object_get(d, "action")), "unchanged");
    json_decref(r);
    assert_int_equal(audit_head(f->st), head);
    assert_int_equal(pt_store_version(f->st, &v2), 0);
    assert_int_equal(v1, v2);
    free(text);
}

static void a_dry_run_shows_the_change_and_writes_nothing(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    int64_t head = audit_head(f->st);
    pt_admin_err e;
    json_t *r = import(f->st,
                       "portico_export: 1\nteams: [{name: newteam}]\n"
                       "services:\n  - name: ledger\n    approval: auto\n    team: alpha\n"
                       "users:\n  - name: bob\n    password_hash: \"$argon2id$v=19$m=65536,t=3,p=1$AAAA$BBBB\"\n",
                       true, &e);
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(r, "dry_run")));
    assert_int_equal(count(r, "created"), 1);
    assert_int_equal(count(r, "updated"), 2);
    json_t *diff = json_object_get(r, "diff");
    json_t *svc = json_array_get(diff, 2);
    assert_string_equal(json_string_value(json_object_get(svc, "kind")), "service");
    json_t *ch = json_object_get(svc, "changes");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ch, "approval"), 0)), "manual");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ch, "approval"), 1)), "auto");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ch, "team"), 0)), "zeta");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ch, "team"), 1)), "alpha");
    /* a password hash change is shown, never its value */
    json_t *user = json_array_get(diff, 1);
    json_t *pw = json_object_get(json_object_get(user, "changes"), "password_hash");
    assert_string_equal(json_string_value(json_array_get(pw, 0)), "[redacted]");
    assert_string_equal(json_string_value(json_array_get(pw, 1)), "[redacted]");
    json_decref(r);
    assert_int_equal(audit_head(f->st), head);
    json_t *name = json_string("newteam"), *team = NULL;
    assert_int_equal(pt_store_find(f->st, PT_KIND_TEAM, "name", name, &team), PT_STORE_ENOTFOUND);
    json_decref(name);
}

/* Imports text expecting failure with status and field; nothing may change. */
static void refused(pt_store *st, const char *text, int status, const char *field)
{
    int64_t head = audit_head(st);
    pt_admin_err e;
    json_t *r = import(st, text, false, &e);
    if (r) fprintf(stderr, "accepted: %s\n", text);
    assert_null(r);
    if (e.status != status || strcmp(e.field, field) != 0)
        fprintf(stderr, "got %d '%s' (%s), want %d '%s'\n", e.status, e.field, e.message, status, field);
    assert_int_equal(e.status, status);
    assert_string_equal(e.field, field);
    assert_int_equal(audit_head(st), head);
}

static void bad_documents_fail_whole_naming_object_and_field(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    pt_store *st = f->st;
    refused(st, "portico_export: 1\nteams: [{name: fresh}]\nservices:\n  - name: s1\n    team: alpha\n    kind: rest\n"
                "    targets: [\"http://x\"]\n  - name: s2\n    team: alpha\n    kind: rest\n    targets: [\"http://x\"]\n"
                "    approval: never\n",
            400, "services[1].approval");
    json_t *name = json_string("fresh"), *team = NULL;
    assert_int_equal(pt_store_find(st, PT_KIND_TEAM, "name", name, &team), PT_STORE_ENOTFOUND); /* rolled back */
    json_decref(name);
    refused(st, "portico_export: 1\nservices:\n  - name: ledger\n    apis:\n      - name: v1\n        auth: maybe\n", 400,
            "services[0].apis[0].auth");
    refused(st, "portico_export: 1\nservices:\n  - name: ai2\n    team: alpha\n    kind: ai\n", 400, "services[0].models");
    refused(st, "portico_export: 1\nconsumers:\n  - name: c2\n    team: nobody\n", 422, "consumers[0].team");
    refused(st, "portico_export: 1\nsubscriptions:\n  - consumer: shop\n    service: nothing\n", 422,
            "subscriptions[0].service");
    refused(st, "portico_export: 1\nteams:\n  - name: t\n    size: 3\n", 400, "teams[0].size");
    refused(st, "portico_export: 1\nteams:\n  - name: t\n    name: u\n", 400, "name");
    refused(st, "portico_export: 1\nteams: {name: t}\n", 400, "teams");
    refused(st, "portico_export: 1\nteams: [5]\n", 400, "teams[0]");
    refused(st, "portico_export: 1\nextra: 1\n", 400, "extra");
    refused(st, "teams: []\n", 400, "portico_export");
    refused(st, "- a\n", 400, "");
    refused(st, "portico_export: 1\nteams: [ {name: t\n", 400, "");
    refused(st, "portico_export: 1\nservices:\n  - name: fromfile\n    team: zeta\n", 409, "services[0]");
    refused(st, "portico_export: 1\nusers:\n  - name: new\n    role: admin\n", 400, "users[0].password_hash");
    refused(st, "portico_export: 1\nusers:\n  - name: new\n    role: admin\n    password_hash: plain\n", 400,
            "users[0].password_hash");
    refused(st, "portico_export: 1\nusers:\n  - name: bob\n    password: \"a long clear password\"\n", 400,
            "users[0].password");
    refused(st, "portico_export: 1\nusers:\n  - name: bob\n    disabled: \"no\"\n", 400, "users[0].disabled");
    refused(st, "portico_export: 1\nconsumers:\n  - name: shop\n    keys:\n      - prefix: pk_aaaaaaaaa\n"
                "        hash: \"sha256:" HASH_B "\"\n", 409, "consumers[0].keys[0].hash");
    refused(st, "portico_export: 1\nconsumers:\n  - name: shop\n    keys:\n      - prefix: pk_new\n", 400,
            "consumers[0].keys[0].hash");
    refused(st, "portico_export: 1\nconsumers:\n  - name: shop\n    keys:\n      - prefix: pk_new\n        hash: \"sha256:xyz\"\n",
            400, "consumers[0].keys[0].hash");
    refused(st, "portico_export: 1\nconsumers:\n  - name: shop\n    keys: 3\n", 400, "consumers[0].keys");
    refused(st, "{\"portico_export\":1,\"teams\":[{\"name\":\"a\",\"name\":\"b\"}]}", 400, "");
}

/* The gateway's own check (here: no target or prefix containing "bad"), as the admin
 * thread passes it. */
static int refuse_bad(void *arg, const json_t *service, const json_t *apis, char *field, size_t fieldcap, char *msg,
                      size_t msgcap)
{
    const char *t = json_string_value(json_array_get(json_object_get(service, "targets"), 0));
    if (t && strstr(t, "bad")) {
        snprintf(field, fieldcap, "targets[0]");
        snprintf(msg, msgcap, "targets[0]: not served");
        return -1;
    }
    size_t i;
    json_t *a;
    json_array_foreach(apis, i, a) {
        const char *p = json_string_value(json_object_get(a, "path_prefix"));
        if (p && strstr(p, "bad")) {
            snprintf(field, fieldcap, "apis[%zu].path_prefix", i);
            snprintf(msg, msgcap, "path_prefix: not served");
            return -1;
        }
    }
    return 0;
}

static void what_the_gateway_would_not_serve_is_refused(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    pt_admin_api api = {.st = f->st, .check_service = refuse_bad};
    pt_admin_err e;
    json_t *r = NULL;
    const char *svc = "portico_export: 1\nservices:\n  - name: s9\n    team: alpha\n    kind: rest\n"
                      "    targets: [\"http://bad\"]\n";
    assert_int_equal(pt_admin_import(&api, svc, strlen(svc), false, "test", &r, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "services[0].targets[0]");
    const char *route = "portico_export: 1\nservices:\n  - name: ledger\n    apis:\n      - name: v1\n"
                        "        path_prefix: /bad/\n";
    assert_int_equal(pt_admin_import(&api, route, strlen(route), false, "test", &r, &e), -1);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "services[0].apis[0].path_prefix");
    const char *fine = "portico_export: 1\nservices:\n  - name: ledger\n    apis:\n      - name: v1\n"
                       "        path_prefix: /fine/\n";
    assert_int_equal(pt_admin_import(&api, fine, strlen(fine), false, "test", &r, &e), 0);
    assert_int_equal(count(r, "updated"), 1);
    json_decref(r);
    /* the file's routes stay the file's */
    refused(f->st, "portico_export: 1\nservices:\n  - name: ledger\n    apis:\n      - name: fileroute\n"
                   "        path_prefix: /x/\n", 409, "services[0].apis[0]");
}

static void absent_members_stay_and_null_clears(void **state)
{
    fixture *f = *state;
    build_state(f->st);
    pt_admin_err e;
    json_t *r = import(f->st, "portico_export: 1\nconsumers:\n  - name: shop\n    keys:\n      - prefix: pk_aaaaaaaaa\n"
                              "        allowed_models: null\n",
                       false, &e);
    assert_non_null(r);
    assert_int_equal(count(r, "updated"), 1);
    json_decref(r);
    json_t *key = NULL, *h = json_string(HASH_A);
    assert_int_equal(pt_store_find(f->st, PT_KIND_KEY, "hash", h, &key), 0);
    assert_true(json_is_null(json_object_get(key, "allowed_models")));
    assert_int_equal(json_integer_value(json_object_get(key, "expires_at")), 4102444800); /* absent: kept */
    json_decref(key);
    json_decref(h);
}

static void text_survives_yaml_quoting(void **state)
{
    fixture *f = *state;
    const char *label = "q\"b\\s\x01t\tn\nd\x7f é \xc2\x85 \xe2\x80\xa8 \xef\xbb\xbf \xf0\x9f\x94\x91";
    json_t *c = json_pack("{s:i,s:s,s:s,s:s}", "consumer_id", 1, "prefix", "pk_ccccccccc", "hash", HASH_A, "label", label);
    must_insert(f->st, PT_KIND_TEAM, "{\"name\":\"t\"}");
    must_insert(f->st, PT_KIND_CONSUMER, "{\"name\":\"c\",\"team_id\":1}");
    assert_int_equal(pt_store_insert(f->st, PT_KIND_KEY, c, "test", NULL), 0);
    json_decref(c);
    char dir[96], *a = export_text(f->st);
    pt_store *copy = second_store(f, dir);
    pt_admin_err e;
    json_t *r = import(copy, a, false, &e);
    if (!r) fprintf(stderr, "%s\n%s\n", e.message, a);
    assert_non_null(r);
    json_decref(r);
    json_t *key = NULL, *h = json_string(HASH_A);
    assert_int_equal(pt_store_find(copy, PT_KIND_KEY, "hash", h, &key), 0);
    assert_string_equal(json_string_value(json_object_get(key, "label")), label);
    json_decref(key);
    json_decref(h);
    free(a);
    pt_store_close(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(empty_store_exports_empty_lists, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(export_names_objects_and_leaves_out_the_files_and_secrets, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(import_into_an_empty_store_exports_the_same_bytes, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(a_second_import_changes_nothing_and_writes_no_audit, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(a_dry_run_shows_the_change_and_writes_nothing, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(bad_documents_fail_whole_naming_object_and_field, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(what_the_gateway_would_not_serve_is_refused, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(absent_members_stay_and_null_clears, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(text_survives_yaml_quoting, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
