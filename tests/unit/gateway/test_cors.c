/* Unit tests for gateway/cors.c: what a route's `cors:` maps to, which origins it allows
 * (exact, ASCII case, "*." patterns with their scheme and port), the fields its answers
 * carry, and the upstream fields it replaces. Refusals of bad values are in the
 * black-box test (proxy_cors.sh), which reads them as a user does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <llhttp.h>

#include "core/buf.h"
#include "gateway/config.h"
#include "gateway/cors.h"
#include "gateway/router.h"

static pt_config *load(const char *cors)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "admin: { enabled: false }\n"
             "services:\n  - name: s\n    targets: [\"http://127.0.0.1:9001\"]\n"
             "routes:\n  - name: r\n    match: { path_prefix: /r/ }\n    service: s\n    cors: %s\n",
             cors);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("c.yaml", yaml, strlen(yaml), &err);
    if (!cfg) fail_msg("did not load: %s", err.data);
    pt_buf_release(&err);
    return cfg;
}

static bool allowed(const pt_cors *c, const char *origin) { return pt_cors_origin_allowed(c, pt_slice_cstr(origin)); }

static void exact_origins_ignore_case_only(void **state)
{
    (void)state;
    pt_config *cfg = load("{ origins: [https://App.Example.com, \"http://[::1]:8080\"] }");
    const pt_cors *c = cfg->routes[0].cors;
    assert_non_null(c);
    assert_false(c->any_origin);
    assert_true(allowed(c, "https://app.example.com"));
    assert_true(allowed(c, "HTTPS://APP.EXAMPLE.COM"));
    assert_true(allowed(c, "http://[::1]:8080"));
    assert_false(allowed(c, "http://app.example.com"));      /* another scheme */
    assert_false(allowed(c, "https://app.example.com:443")); /* a port written is another origin */
    assert_false(allowed(c, "https://app.example.co"));
    assert_false(allowed(c, "https://app.example.com.evil.example"));
    assert_false(allowed(c, ""));
    pt_config_release(cfg);
}

static void patterns_match_one_or_more_labels_with_scheme_and_port(void **state)
{
    (void)state;
    pt_config *cfg = load("{ origins: [\"https://*.example.com\", \"http://*.dev.test:3000\"] }");
    const pt_cors *c = cfg->routes[0].cors;
    assert_true(allowed(c, "https://a.example.com"));
    assert_true(allowed(c, "https://a.b.example.com"));
    assert_false(allowed(c, "https://example.com"));
    assert_false(allowed(c, "https://.example.com"));
    assert_false(allowed(c, "http://a.example.com"));
    assert_false(allowed(c, "https://a.example.com:8443"));
    assert_false(allowed(c, "https://evil.com/.example.com"));
    assert_false(allowed(c, "https://user@a.example.com"));
    assert_false(allowed(c, "https://aexample.com"));
    assert_true(allowed(c, "http://x.dev.test:3000"));
    assert_false(allowed(c, "http://x.dev.test"));
    assert_false(allowed(c, "http://x.dev.test:30000"));
    pt_config_release(cfg);
}

static void star_allows_all_and_needs_no_vary(void **state)
{
    (void)state;
    pt_config *cfg = load("{ origins: \"*\" }");
    const pt_cors *c = cfg->routes[0].cors;
    assert_true(c->any_origin);
    assert_true(allowed(c, "https://anything.example"));
    assert_string_equal(c->tail, "");
    assert_false(c->has_max_age);
    pt_config_release(cfg);
}

static void answers_carry_credentials_expose_and_vary(void **state)
{
    (void)state;
    pt_config *cfg = load("{ origins: [https://a.example], credentials: true, expose_headers: [X-Request-Id, RateLimit], "
                          "headers: [Authorization, Content-Type], methods: [post, GET], max_age: 90s }");
    const pt_cors *c = cfg->routes[0].cors;
    assert_string_equal(c->tail, "Access-Control-Allow-Credentials: true\r\n"
                                 "Access-Control-Expose-Headers: X-Request-Id, RateLimit\r\n"
                                 "Vary: Origin\r\n");
    assert_string_equal(c->allow_headers, "Authorization, Content-Type");
    assert_int_equal(c->methods, ((pt_method_mask)1 << HTTP_POST) | ((pt_method_mask)1 << HTTP_GET));
    assert_true(c->has_max_age);
    assert_int_equal(c->max_age_ms, 90000);
    pt_config_release(cfg);
}

static void replaces_only_access_control_fields(void **state)
{
    (void)state;
    assert_true(pt_cors_replaces_header(pt_slice_cstr("Access-Control-Allow-Origin")));
    assert_true(pt_cors_replaces_header(pt_slice_cstr("access-control-max-age")));
    assert_false(pt_cors_replaces_header(pt_slice_cstr("access-control")));
    assert_false(pt_cors_replaces_header(pt_slice_cstr("Vary")));
    assert_false(pt_cors_replaces_header(pt_slice_cstr("x-access-control-allow-origin")));
}

static void any_method_finds_the_path_route(void **state)
{
    (void)state;
    const char *yaml = "admin: { enabled: false }\n"
                       "services:\n  - name: s\n    targets: [\"http://127.0.0.1:9001\"]\n"
                       "routes:\n  - name: post-only\n    match: { path_prefix: /p/, methods: [POST] }\n    service: s\n";
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = pt_config_load_string("m.yaml", yaml, strlen(yaml), &err);
    assert_non_null(cfg);
    pt_request req;
    memset(&req, 0, sizeof req);
    req.method = HTTP_OPTIONS;
    req.path = pt_slice_cstr("/p/x");
    assert_null(pt_router_match(cfg, &req));
    assert_non_null(pt_router_match_method(cfg, &req, HTTP_POST));
    assert_null(pt_router_match_method(cfg, &req, HTTP_DELETE));
    assert_non_null(pt_router_match_method(cfg, &req, PT_ROUTER_ANY_METHOD));
    pt_config_release(cfg);
    pt_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_origins_ignore_case_only),
        cmocka_unit_test(patterns_match_one_or_more_labels_with_scheme_and_port),
        cmocka_unit_test(star_allows_all_and_needs_no_vary),
        cmocka_unit_test(answers_carry_credentials_expose_and_vary),
        cmocka_unit_test(replaces_only_access_control_fields),
        cmocka_unit_test(any_method_finds_the_path_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
