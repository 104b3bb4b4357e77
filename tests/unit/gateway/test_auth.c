/* Unit tests for gateway/auth.c: where a key is found (the route's header, its query
 * parameter, Authorization: Bearer, x-api-key, x-goog-api-key, and on AI routes ?key=, in
 * that order), what counts as no key, and
 * stripping the key's query parameter from the upstream target; plus the route keys that
 * configure it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "gateway/auth.h"
#include "gateway/config.h"
#include "http/request.h"

#define H(n, v) { PT_SLICE_LIT(n), PT_SLICE_LIT(v) }

static pt_request req_with(pt_header *h, unsigned n, const char *query)
{
    pt_request r;
    memset(&r, 0, sizeof r);
    r.headers = h;
    r.nheaders = n;
    r.query = pt_slice_cstr(query ? query : "");
    return r;
}

static void assert_key(const pt_key_found *f, pt_key_source from, const char *key)
{
    assert_int_equal(f->from, from);
    assert_int_equal(f->key.len, strlen(key));
    assert_memory_equal(f->key.ptr, key, f->key.len);
}

static void bearer_and_x_api_key_are_always_accepted(void **state)
{
    pt_route rt = { .auth_key = true };
    pt_key_found f;
    pt_header h1[] = { H("Authorization", "Bearer  pk_abc "), H("Accept", "*/*") };
    pt_request r = req_with(h1, 2, NULL);
    assert_true(pt_auth_find_key(&r, &rt, &f));
    assert_key(&f, PT_KEY_FROM_BEARER, "pk_abc");
    assert_ptr_equal(f.header, &h1[0]);

    pt_header h2[] = { H("X-Api-Key", "pk_def") };
    r = req_with(h2, 1, NULL);
    assert_true(pt_auth_find_key(&r, &rt, &f));
    assert_key(&f, PT_KEY_FROM_X_API_KEY, "pk_def");

    pt_header h3[] = { H("authorization", "bearer pk_lower") };
    r = req_with(h3, 1, NULL);
    assert_true(pt_auth_find_key(&r, &rt, &f));
    assert_key(&f, PT_KEY_FROM_BEARER, "pk_lower");
}

static void no_key_and_empty_values_count_as_none(void **state)
{
    pt_route rt = { .auth_key = true, .key_header = "X-My-Key", .key_query = "api_key" };
    pt_key_found f;
    pt_request r = req_with(NULL, 0, NULL);
    assert_false(pt_auth_find_key(&r, &rt, &f));
    assert_int_equal(f.from, PT_KEY_FROM_NONE);
    /* Basic is not a key; an empty Bearer, header or parameter is none either */
    pt_header h[] = { H("Authorization", "Basic dXNlcjpwdw=="), H("X-My-Key", "  "), H("x-api-key", "") };
    r = req_with(h, 3, "api_key=&x=1");
    assert_false(pt_auth_find_key(&r, &rt, &f));
    pt_header h2[] = { H("Authorization", "Bearer ") };
    r = req_with(h2, 1, "api_keyx=pk_1&xapi_key=pk_2");
    assert_false(pt_auth_find_key(&r, &rt, &f));
}

static void the_route_header_and_query_come_first(void **state)
{
    pt_route rt = { .auth_key = true, .key_header = "X-My-Key", .key_query = "api_key" };
    pt_key_found f;
    pt_header h[] = { H("Authorization", "Bearer pk_bearer"), H("x-my-key", "pk_header") };
    pt_request r = req_with(h, 2, "api_key=pk_query");
    assert_true(pt_auth_find_key(&r, &rt, &f));
    assert_key(&f, PT_KEY_FROM_HEADER, "pk_header");
    assert_ptr_equal(f.header, &h[1]);

    r = req_with(h, 1, "a=1&api_key=pk_query&b=2");
    assert_true(pt_auth_find_key(&r, &rt, &f));
    assert_key(&f, PT_KEY_FROM_QUERY, "pk_query");
    assert_null(f.header);

    /* a route without key_query ignores the parameter */
    pt_route plain = { .auth_key = true };
    r = req_with(NULL, 0, "api_key=pk_query");
    assert_false(pt_auth_find_key(&r, &plain, &f));
}

static void gemini_clients_send_x_goog_api_key_or_key_on_ai_routes(void **state)
{
    pt_route ai = { .auth_key = true, .kind = PT_ROUTE_AI }, proxy = { .auth_key = true };
    pt_key_found f;
    pt_header h[] = { H("x-goog-api-key", "pk_goog") };
    pt_request r = req_with(h, 1, NULL);
    assert_true(pt_auth_find_key(&r, &proxy, &f));
    assert_key(&f, PT_KEY_FROM_GOOG_API_KEY, "pk_goog");
    assert_ptr_equal(f.header, &h[0]);
    r = req_with(NULL, 0, "alt=sse&key=pk_q");
    assert_true(pt_auth_find_key(&r, &ai, &f));
    assert_key(&f, PT_KEY_FROM_QUERY, "pk_q");
    /* only AI routes read ?key= (a proxy route forwards its query) */
    assert_false(pt_auth_find_key(&r, &proxy, &f));
    /* a header wins over the parameter */
    pt_header hb[] = { H("Authorization", "Bearer pk_b") };
    r = req_with(hb, 1, "key=pk_q");
    assert_true(pt_auth_find_key(&r, &ai, &f));
    assert_key(&f, PT_KEY_FROM_BEARER, "pk_b");
}

static void strip(const char *in, const char *name, const char *want)
{
    pt_buf b = PT_BUF_INIT;
    pt_buf_append_str(&b, in);
    pt_auth_strip_query(&b, name);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    pt_buf_release(&b);
}

static void the_key_parameter_is_stripped_from_the_target(void **state)
{
    strip("/p?api_key=pk_1", "api_key", "/p");
    strip("/p?api_key=pk_1&b=2", "api_key", "/p?b=2");
    strip("/p?a=1&api_key=pk_1", "api_key", "/p?a=1");
    strip("/p?a=1&api_key=pk_1&b=2", "api_key", "/p?a=1&b=2");
    strip("/p?xapi_key=1&api_keyx=2", "api_key", "/p?xapi_key=1&api_keyx=2");
    strip("/p", "api_key", "/p");
    strip("/api_key=1", "api_key", "/api_key=1");
}

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("a.yaml", yaml, strlen(yaml), err);
}

#define SVC "services:\n  - name: s\n    targets: [\"http://127.0.0.1:9001\"]\n"

static void route_keys_configure_it(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load(SVC "data_dir: /tmp/pd\nidentity_headers: { consumer: X-Who }\n"
                              "routes:\n  - name: r\n    service: s\n    auth: key\n    key_header: X-K\n"
                              "    key_query: k\n    auth_service: billing\n", &err);
    if (!cfg) fail_msg("%s", err.data);
    assert_true(cfg->routes[0].auth_key);
    assert_string_equal(cfg->routes[0].key_header, "X-K");
    assert_string_equal(cfg->routes[0].key_query, "k");
    assert_string_equal(cfg->routes[0].auth_service, "billing");
    assert_string_equal(cfg->data_dir, "/tmp/pd");
    assert_string_equal(cfg->identity_consumer, "X-Who");
    assert_string_equal(cfg->identity_team, "X-Portico-Team");
    pt_config_release(cfg);

    cfg = load(SVC "routes:\n  - name: r\n    service: s\n", &err);
    assert_non_null(cfg);
    assert_false(cfg->routes[0].auth_key);
    assert_string_equal(cfg->data_dir, "./portico-data");
    pt_config_release(cfg);

    pt_buf_reset(&err);
    assert_null(load(SVC "routes:\n  - name: r\n    service: s\n    auth: password\n", &err));
    assert_non_null(strstr(err.data, "expected key or none"));
    pt_buf_reset(&err);
    assert_null(load(SVC "routes:\n  - name: r\n    service: s\n    key_header: X-K\n", &err));
    assert_non_null(strstr(err.data, "only applies with auth: key"));
    pt_buf_reset(&err);
    assert_null(load(SVC "routes:\n  - name: r\n    service: s\n    auth: key\n    key_query: \"a&b\"\n", &err));
    assert_non_null(strstr(err.data, "not a query parameter name"));
    pt_buf_reset(&err);
    assert_null(load(SVC "identity_headers: { team: \"bad header\" }\n", &err));
    assert_non_null(strstr(err.data, "not a valid header name"));
    pt_buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bearer_and_x_api_key_are_always_accepted),
        cmocka_unit_test(no_key_and_empty_values_count_as_none),
        cmocka_unit_test(the_route_header_and_query_come_first),
        cmocka_unit_test(gemini_clients_send_x_goog_api_key_or_key_on_ai_routes),
        cmocka_unit_test(the_key_parameter_is_stripped_from_the_target),
        cmocka_unit_test(route_keys_configure_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
