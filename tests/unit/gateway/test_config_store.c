/* Unit tests for gateway/config_store.c: the store's services and APIs added to a file's
 * configuration (routes named "service/api", keys checked against the service, AI APIs
 * kept to the service's models), names the file uses left to the file, and a stored
 * service checked by the configuration's own mapping with the admin API's field names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "gateway/config_store.h"

static const char file_yaml[] = "services:\n"
                                "  - name: filed\n"
                                "    targets: [\"http://127.0.0.1:9001\"]\n"
                                "routes:\n"
                                "  - { name: filed, match: { path_prefix: /filed/ }, service: filed }\n"
                                "providers:\n"
                                "  - { name: p, type: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: k }\n"
                                "models:\n"
                                "  - { name: m1, targets: [{ provider: p, model: a }] }\n"
                                "  - { name: m2, targets: [{ provider: p, model: b }] }\n";

static pt_config *file_cfg(void)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("file.yaml", file_yaml, sizeof file_yaml - 1, &err);
    if (!cfg) fail_msg("%s", err.data);
    pt_buf_release(&err);
    return cfg;
}

static char *s(const char *v) { return v ? strdup(v) : NULL; }

/* A snapshot holding only services and APIs, as the compiler would fill them. */
static pt_snapshot *snap_with(size_t nsvc, size_t napi)
{
    pt_snapshot *sn = calloc(1, sizeof *sn);
    atomic_init(&sn->refs, 1);
    sn->services = calloc(nsvc, sizeof *sn->services);
    sn->apis = calloc(napi, sizeof *sn->apis);
    return sn;
}

static void set_service(pt_snap_service *v, int64_t id, const char *name, const char *kind, const char *targets,
                        const char *models)
{
    *v = (pt_snap_service){ .id = id, .name = s(name), .kind = s(kind), .origin = s("api"), .approval = s("auto"),
                            .targets = s(targets), .models = s(models) };
}

static void set_api(pt_snap_api *a, int64_t id, uint32_t service, const char *name, const char *prefix,
                    const char *auth)
{
    *a = (pt_snap_api){ .id = id, .service = service, .name = s(name), .path_prefix = s(prefix), .auth = s(auth) };
}

static const pt_route *route_named(const pt_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nroutes; i++)
        if (strcmp(cfg->routes[i].name, name) == 0) return &cfg->routes[i];
    return NULL;
}

static void stored_services_become_routes(void **state)
{
    (void)state;
    pt_config *file = file_cfg();
    pt_snapshot *sn = snap_with(3, 3);
    set_service(&sn->services[0], 1, "orders", "rest", "[\"http://127.0.0.1:9002\"]", NULL);
    set_service(&sn->services[1], 2, "assist", "ai", NULL, "[\"m2\"]");
    set_service(&sn->services[2], 3, "filed", "rest", "[\"http://127.0.0.1:9003\"]", NULL); /* the file's name */
    sn->nservices = 3;
    set_api(&sn->apis[0], 1, 0, "v1", "/orders/", "key");
    sn->apis[0].match_headers = s("{\"X-API-Version\":\"1\"}");
    set_api(&sn->apis[1], 2, 1, "chat", "/assist/", "none");
    set_api(&sn->apis[2], 3, 2, "x", "/x/", "none");
    sn->napis = 3;
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_with_store(file, sn, &err);
    assert_non_null(cfg);
    assert_ptr_equal(cfg->file, file);
    assert_int_equal(cfg->nstore_routes, 2);
    const pt_route *r = route_named(cfg, "orders/v1");
    assert_non_null(r);
    assert_string_equal(r->path_prefix, "/orders/");
    assert_true(r->auth_key);
    assert_string_equal(r->auth_service, "orders");
    assert_non_null(r->service);
    assert_string_equal(r->service->targets[0].url, "http://127.0.0.1:9002");
    assert_int_equal(r->nheaders, 1); /* an API's match_headers are its route's match.headers */
    assert_string_equal(r->headers[0].value, "1");
    assert_int_equal(strcasecmp(r->headers[0].name, "x-api-version"), 0);
    r = route_named(cfg, "assist/chat");
    assert_int_equal(r->nheaders, 0);
    assert_non_null(r);
    assert_int_equal(r->kind, PT_ROUTE_AI);
    assert_true(r->strip_prefix);
    assert_false(r->auth_key);
    assert_int_equal(r->nai_models, 1);
    assert_string_equal(r->ai_models[0], "m2");
    assert_null(route_named(cfg, "filed/x")); /* the file's name stays the file's */
    assert_string_equal(pt_config_find_service(cfg, "filed")->targets[0].url, "http://127.0.0.1:9001");
    assert_non_null(route_named(cfg, "filed"));
    pt_config_release(cfg);
    pt_snapshot_release(sn);
    pt_buf_release(&err);
    pt_config_release(file);
}

static void nothing_stored_is_the_file_itself(void **state)
{
    (void)state;
    pt_config *file = file_cfg();
    pt_snapshot *sn = snap_with(1, 0);
    set_service(&sn->services[0], 1, "lonely", "rest", "[\"http://127.0.0.1:9002\"]", NULL); /* no API */
    sn->nservices = 1;
    pt_config *cfg = pt_config_with_store(file, sn, NULL);
    assert_ptr_equal(cfg, file);
    pt_config_release(cfg);
    cfg = pt_config_with_store(file, NULL, NULL);
    assert_ptr_equal(cfg, file);
    pt_config_release(cfg);
    pt_config_release(file);
    pt_snapshot_release(sn);
}

/* Checks a service given as JSON text with its APIs; returns the field, "" on success. */
static const char *check(const pt_config *file, const char *svc, const char *apis, char *msg, size_t cap)
{
    static char field[64];
    json_t *sv = json_loads(svc, 0, NULL), *ap = json_loads(apis, 0, NULL);
    assert_non_null(sv);
    assert_non_null(ap);
    pt_buf m = PT_BUF_INIT;
    int rc = pt_config_check_stored(file, sv, ap, field, sizeof field, &m);
    snprintf(msg, cap, "%s", m.data ? m.data : "");
    pt_buf_release(&m);
    json_decref(sv);
    json_decref(ap);
    if (rc == 0) {
        assert_string_equal(field, "");
        return "";
    }
    assert_true(msg[0] != '\0');
    return field;
}

static void a_stored_service_is_checked_with_admin_field_names(void **state)
{
    (void)state;
    pt_config *file = file_cfg();
    char msg[512];
    const char *rest = "{\"name\":\"o\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:1\"]";
    char svc[512];
    assert_string_equal(check(file, "{\"name\":\"o\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:1\"]}",
                              "[{\"name\":\"a\",\"path_prefix\":\"/a/\"}]", msg, sizeof msg), "");
    snprintf(svc, sizeof svc, "%s,\"timeouts\":{\"connect\":\"soon\"}}", rest);
    assert_string_equal(check(file, svc, "[]", msg, sizeof msg), "timeouts.connect");
    snprintf(svc, sizeof svc, "%s,\"health\":{\"interval\":\"1ms\"}}", rest);
    assert_string_equal(check(file, svc, "[]", msg, sizeof msg), "health.interval");
    snprintf(svc, sizeof svc, "%s}", rest);
    assert_string_equal(check(file, svc, "[{\"name\":\"a\",\"path_prefix\":\"/a/\"},{\"name\":\"b\",\"path_prefix\":\"b\"}]",
                              msg, sizeof msg),
                        "apis[1].path_prefix");
    assert_string_equal(check(file, svc, "[{\"name\":\"a\",\"path_prefix\":\"/a/\",\"rewrite\":\"x\"}]", msg, sizeof msg),
                        "apis[0].rewrite");
    assert_string_equal(check(file, svc, "[{\"name\":\"a\",\"path_prefix\":\"/a/\",\"match_headers\":{\"X-V\":false}}]",
                              msg, sizeof msg),
                        "apis[0].match_headers.X-V");
    assert_string_equal(check(file, svc, "[{\"name\":\"a\",\"path_prefix\":\"/a/\",\"match_headers\":[\"X-V\"]}]", msg,
                              sizeof msg),
                        "apis[0].match_headers");
    assert_string_equal(check(file, "{\"name\":\"filed\",\"kind\":\"rest\",\"targets\":[\"http://127.0.0.1:1\"]}", "[]",
                              msg, sizeof msg),
                        "name");
    assert_string_equal(check(file, "{\"name\":\"ai\",\"kind\":\"ai\",\"models\":[\"m1\",\"m9\"]}", "[]", msg, sizeof msg),
                        "models[1]");
    assert_non_null(strstr(msg, "m9"));
    pt_config_release(file);
}

static void stored_text_never_reads_the_environment(void **state)
{
    (void)state;
    setenv("PT_TEST_SECRET", "do-not-leak", 1);
    pt_config *file = file_cfg();
    /* expanded, this would be a valid header name and pass */
    json_t *sv = json_loads("{\"name\":\"o\",\"kind\":\"rest\",\"targets\":[\"http://h:1\"]}", 0, NULL);
    json_t *ap = json_loads("[{\"name\":\"a\",\"path_prefix\":\"/a/\",\"key_header\":\"${PT_TEST_SECRET}\",\"auth\":\"key\"}]",
                            0, NULL);
    pt_buf m = PT_BUF_INIT;
    char field[64];
    assert_int_equal(pt_config_check_stored(file, sv, ap, field, sizeof field, &m), -1);
    assert_string_equal(field, "apis[0].key_header");
    assert_null(strstr(m.data, "do-not-leak"));
    pt_buf_release(&m);
    json_decref(sv);
    json_decref(ap);
    pt_config_release(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_services_become_routes),
        cmocka_unit_test(nothing_stored_is_the_file_itself),
        cmocka_unit_test(a_stored_service_is_checked_with_admin_field_names),
        cmocka_unit_test(stored_text_never_reads_the_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
