/* Unit tests for gateway/router.c and http/request.c: each precedence rule, prefix
 * boundaries, hosts, methods, headers, and the upstream path after strip/rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <llhttp.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "gateway/router.h"
#include "http/request.h"

/* ---- helpers ----------------------------------------------------------------------- */

#define SVC "services:\n  - name: s\n    targets: [\"http://127.0.0.1:9001\"]\nroutes:\n"

static pt_config *load_routes(const char *routes_yaml)
{
    pt_buf yaml = PT_BUF_INIT, err = PT_BUF_INIT;
    pt_buf_append_str(&yaml, SVC);
    pt_buf_append_str(&yaml, routes_yaml);
    pt_config *cfg = pt_config_load_string("r.yaml", yaml.data, yaml.len, &err);
    if (!cfg) fail_msg("config did not load: %s", err.data);
    pt_buf_release(&yaml);
    pt_buf_release(&err);
    return cfg;
}

/* A request as the server hands it over: host lowercased without port, target split
 * at '?'. Headers are optional. */
static pt_request make_req(int method, const char *host, const char *target, pt_header *headers, unsigned nheaders)
{
    pt_request r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.method_name = pt_slice_cstr(method <= HTTP_SOURCE ? llhttp_method_name((llhttp_method_t)method) : "X");
    r.target = pt_slice_cstr(target);
    const char *q = strchr(target, '?');
    r.path = q ? pt_slice_from(target, (size_t)(q - target)) : pt_slice_cstr(target);
    r.query = q ? pt_slice_cstr(q + 1) : PT_SLICE_NULL;
    r.host = host ? pt_slice_cstr(host) : PT_SLICE_NULL;
    r.headers = headers;
    r.nheaders = nheaders;
    r.http_major = r.http_minor = 1;
    r.content_length = -1;
    return r;
}

/* The name of the route matching (method, host, target), or "-" for none. */
static const char *route_for(const pt_config *cfg, int method, const char *host, const char *target)
{
    pt_request r = make_req(method, host, target, NULL, 0);
    const pt_route *m = pt_router_match(cfg, &r);
    return m ? m->name : "-";
}

static const char *route_for_headers(const pt_config *cfg, pt_header *h, unsigned n)
{
    pt_request r = make_req(HTTP_GET, "h", "/x", h, n);
    const pt_route *m = pt_router_match(cfg, &r);
    return m ? m->name : "-";
}

#define HDR(n, v) { PT_SLICE_LIT(n), PT_SLICE_LIT(v) }

/* ---- precedence ---------------------------------------------------------------------- */

static void exact_host_beats_wildcard_beats_no_host(void **state)
{
    pt_config *cfg = load_routes("  - { name: any, service: s }\n"
                                 "  - { name: wild, service: s, match: { host: \"*.example.com\" } }\n"
                                 "  - { name: exact, service: s, match: { host: api.example.com } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "api.example.com", "/"), "exact");
    assert_string_equal(route_for(cfg, HTTP_GET, "www.example.com", "/"), "wild");
    assert_string_equal(route_for(cfg, HTTP_GET, "example.org", "/"), "any");
    assert_string_equal(route_for(cfg, HTTP_GET, NULL, "/"), "any");
    /* sorted by precedence at load */
    assert_string_equal(cfg->routes[0].name, "exact");
    assert_string_equal(cfg->routes[1].name, "wild");
    assert_string_equal(cfg->routes[2].name, "any");
    pt_config_release(cfg);
}

static void host_rule_comes_before_path_rule(void **state)
{
    pt_config *cfg = load_routes("  - { name: exact-path, service: s, match: { path: /login } }\n"
                                 "  - { name: host-any-path, service: s, match: { host: \"*.example.com\" } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "a.example.com", "/login"), "host-any-path");
    assert_string_equal(route_for(cfg, HTTP_GET, "other.org", "/login"), "exact-path");
    pt_config_release(cfg);
}

static void longer_wildcard_suffix_beats_shorter(void **state)
{
    pt_config *cfg = load_routes("  - { name: short, service: s, match: { host: \"*.example.com\" } }\n"
                                 "  - { name: long, service: s, match: { host: \"*.eu.example.com\" } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "x.eu.example.com", "/"), "long");
    assert_string_equal(route_for(cfg, HTTP_GET, "x.us.example.com", "/"), "short");
    pt_config_release(cfg);
}

static void wildcard_needs_at_least_one_more_label(void **state)
{
    pt_config *cfg = load_routes("  - { name: wild, service: s, match: { host: \"*.example.com\" } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "example.com", "/"), "-");
    assert_string_equal(route_for(cfg, HTTP_GET, "a.example.com", "/"), "wild");
    assert_string_equal(route_for(cfg, HTTP_GET, "a.b.example.com", "/"), "wild");
    assert_string_equal(route_for(cfg, HTTP_GET, "aexample.com", "/"), "-");
    assert_string_equal(route_for(cfg, HTTP_GET, "a.example.com.evil", "/"), "-");
    pt_config_release(cfg);
}

static void host_match_ignores_case(void **state)
{
    pt_config *cfg = load_routes("  - { name: h, service: s, match: { host: API.Example.COM } }\n");
    assert_string_equal(cfg->routes[0].hosts[0], "api.example.com");
    assert_string_equal(route_for(cfg, HTTP_GET, "api.example.com", "/"), "h");
    assert_string_equal(route_for(cfg, HTTP_GET, "API.example.com", "/"), "h");
    assert_string_equal(route_for(cfg, HTTP_GET, "api.example.co", "/"), "-");
    pt_config_release(cfg);
}

static void route_with_several_hosts_ranks_by_the_one_matched(void **state)
{
    /* "mixed" is sorted first (its best host is exact, and it comes first in the file),
     * but for x.wild.com it only matches through its wildcard, so "exact" must win. */
    pt_config *cfg = load_routes("  - { name: mixed, service: s, match: { host: [api.com, \"*.wild.com\"] } }\n"
                                 "  - { name: exact, service: s, match: { host: x.wild.com } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "x.wild.com", "/"), "exact");
    assert_string_equal(route_for(cfg, HTTP_GET, "y.wild.com", "/"), "mixed");
    assert_string_equal(route_for(cfg, HTTP_GET, "api.com", "/"), "mixed");
    pt_config_release(cfg);
}

static void exact_path_beats_prefix(void **state)
{
    pt_config *cfg = load_routes("  - { name: prefix, service: s, match: { path_prefix: /api/users } }\n"
                                 "  - { name: exact, service: s, match: { path: /api/users } }\n"
                                 "  - { name: short-exact, service: s, match: { path: /api } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/users"), "exact");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/users/7"), "prefix");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api"), "short-exact");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api?x=1"), "short-exact");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/"), "-");
    pt_config_release(cfg);
}

static void longer_prefix_beats_shorter(void **state)
{
    pt_config *cfg = load_routes("  - { name: root, service: s }\n"
                                 "  - { name: api, service: s, match: { path_prefix: /api } }\n"
                                 "  - { name: v1, service: s, match: { path_prefix: /api/v1 } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/v1/items"), "v1");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/v2/items"), "api");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/other"), "root");
    pt_config_release(cfg);
}

static void prefix_without_slash_matches_whole_segments(void **state)
{
    pt_config *cfg = load_routes("  - { name: api, service: s, match: { path_prefix: /api } }\n"
                                 "  - { name: v1, service: s, match: { path_prefix: /v1/ } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api"), "api");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/"), "api");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/x/y"), "api");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/apix"), "-");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/ap"), "-");
    /* a trailing-slash prefix matches byte-wise: "/v1" itself does not match "/v1/" */
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1/x"), "v1");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1/"), "v1");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1"), "-");
    pt_config_release(cfg);
}

static void more_conditions_beat_fewer(void **state)
{
    pt_config *cfg = load_routes("  - { name: plain, service: s, match: { path_prefix: /x } }\n"
                                 "  - { name: get, service: s, match: { path_prefix: /x, methods: [GET] } }\n"
                                 "  - { name: get-tenant, service: s,\n"
                                 "      match: { path_prefix: /x, methods: [GET], headers: { X-Tenant: acme } } }\n");
    pt_header acme[] = { HDR("x-tenant", "acme") };
    pt_request r = make_req(HTTP_GET, "h", "/x", acme, 1);
    assert_string_equal(pt_router_match(cfg, &r)->name, "get-tenant");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/x"), "get");
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/x"), "plain");
    pt_config_release(cfg);
}

static void file_order_breaks_ties(void **state)
{
    pt_config *cfg = load_routes("  - { name: first, service: s, match: { path_prefix: /same } }\n"
                                 "  - { name: second, service: s, match: { path_prefix: /same } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/same/x"), "first");
    pt_config_release(cfg);
    cfg = load_routes("  - { name: second, service: s, match: { path_prefix: /same } }\n"
                      "  - { name: first, service: s, match: { path_prefix: /same } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/same/x"), "second");
    pt_config_release(cfg);
}

static void sort_orders_by_every_rule(void **state)
{
    pt_config *cfg = load_routes("  - { name: r0, service: s }\n"
                                 "  - { name: r1, service: s, match: { path_prefix: /a } }\n"
                                 "  - { name: r2, service: s, match: { path_prefix: /a, methods: [GET] } }\n"
                                 "  - { name: r3, service: s, match: { path: /a } }\n"
                                 "  - { name: r4, service: s, match: { path_prefix: /abc/ } }\n"
                                 "  - { name: r5, service: s, match: { host: \"*.h.com\" } }\n"
                                 "  - { name: r6, service: s, match: { host: h.com } }\n"
                                 "  - { name: r7, service: s, match: { path_prefix: /a } }\n");
    const char *want[] = { "r6", "r5", "r3", "r4", "r2", "r1", "r7", "r0" };
    for (size_t i = 0; i < 8; i++) assert_string_equal(cfg->routes[i].name, want[i]);
    pt_config_release(cfg);
}

/* The worked example of docs/CONFIG.md, "Route precedence". */
static void documented_precedence_example_holds(void **state)
{
    pt_buf yaml = PT_BUF_INIT, err = PT_BUF_INIT;
    pt_buf_append_str(&yaml, "services:\n");
    const char *names[] = { "web", "api", "auth", "t" };
    for (int i = 0; i < 4; i++)
        pt_buf_printf(&yaml, "  - { name: %s, targets: [\"http://127.0.0.1:%d\"] }\n", names[i], 9001 + i);
    pt_buf_append_str(&yaml,
                      "routes:\n"
                      "  - { name: catch-all, service: web }\n"
                      "  - { name: api,       service: api,  match: { path_prefix: /api } }\n"
                      "  - { name: api-write, service: api,  match: { path_prefix: /api, methods: [POST, PUT, DELETE] } }\n"
                      "  - { name: login,     service: auth, match: { path: /api/login } }\n"
                      "  - { name: tenant,    service: t,    match: { host: \"*.tenants.example.com\" } }\n");
    pt_config *cfg = pt_config_load_string("doc.yaml", yaml.data, yaml.len, &err);
    if (!cfg) fail_msg("%s", err.data);
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/api/login"), "login");
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/api/items"), "api-write");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/api/items"), "api");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/"), "catch-all");
    assert_string_equal(route_for(cfg, HTTP_POST, "acme.tenants.example.com", "/api/login"), "tenant");
    assert_string_equal(route_for(cfg, HTTP_GET, "acme.tenants.example.com", "/x"), "tenant");
    pt_config_release(cfg);
    pt_buf_release(&yaml);
    pt_buf_release(&err);
}

/* ---- conditions -------------------------------------------------------------------- */

static void methods_restrict_the_route(void **state)
{
    pt_config *cfg = load_routes("  - { name: write, service: s, match: { methods: [POST, PUT, m-search] } }\n");
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/"), "write");
    assert_string_equal(route_for(cfg, HTTP_PUT, "h", "/"), "write");
    assert_string_equal(route_for(cfg, HTTP_MSEARCH, "h", "/"), "write");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/"), "-");
    assert_string_equal(route_for(cfg, HTTP_DELETE, "h", "/"), "-");
    assert_string_equal(route_for(cfg, 200, "h", "/"), "-"); /* out of range never matches */
    pt_config_release(cfg);
}

static void headers_match_by_presence_or_exact_value(void **state)
{
    pt_config *cfg = load_routes("  - { name: beta, service: s, match: { headers: { X-Beta: true } } }\n"
                                 "  - { name: acme, service: s, match: { headers: { X-Tenant: acme, X-Beta: true } } }\n");
    pt_header none[] = { HDR("Accept", "*/*") };
    pt_header beta[] = { HDR("x-beta", "") };
    pt_header both[] = { HDR("X-TENANT", "acme"), HDR("X-Beta", "1") };
    pt_header wrong_case[] = { HDR("X-Tenant", "ACME"), HDR("X-Beta", "1") };
    pt_header second_value[] = { HDR("X-Tenant", "other"), HDR("X-Tenant", "acme"), HDR("X-Beta", "1") };
    assert_string_equal(route_for_headers(cfg, none, 1), "-");
    assert_string_equal(route_for_headers(cfg, beta, 1), "beta");
    assert_string_equal(route_for_headers(cfg, both, 2), "acme");
    assert_string_equal(route_for_headers(cfg, wrong_case, 2), "beta"); /* values are case-sensitive */
    assert_string_equal(route_for_headers(cfg, second_value, 3), "acme");
    assert_string_equal(route_for_headers(cfg, NULL, 0), "-");
    pt_config_release(cfg);
}

static void no_route_gives_null(void **state)
{
    pt_config *cfg = load_routes("  - { name: only, service: s, match: { path: /only } }\n");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/other"), "-");
    pt_config_release(cfg);
    pt_buf err = PT_BUF_INIT;
    cfg = pt_config_defaults(&err);
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/"), "-");
    pt_config_release(cfg);
    pt_buf_release(&err);
}

/* ---- upstream path ----------------------------------------------------------------- */

/* The upstream path for target under the single route of routes_yaml. */
static char *upstream(const char *routes_yaml, const char *target)
{
    pt_config *cfg = load_routes(routes_yaml);
    pt_request r = make_req(HTTP_GET, "h", target, NULL, 0);
    const pt_route *m = pt_router_match(cfg, &r);
    if (!m) fail_msg("no route for %s", target);
    pt_buf out = PT_BUF_INIT;
    assert_int_equal(pt_router_upstream_path(m, &r, &out), 0);
    pt_config_release(cfg);
    return pt_buf_detach(&out, NULL);
}

#define ASSERT_UPSTREAM(routes, target, want)                                                   \
    do {                                                                                         \
        char *got_ = upstream(routes, target);                                                   \
        assert_string_equal(got_, want);                                                         \
        free(got_);                                                                              \
    } while (0)

static void strip_prefix_removes_the_matched_prefix(void **state)
{
    const char *api = "  - { name: r, service: s, strip_prefix: true, match: { path_prefix: /api } }\n";
    ASSERT_UPSTREAM(api, "/api", "/");
    ASSERT_UPSTREAM(api, "/api/", "/");
    ASSERT_UPSTREAM(api, "/api/users/7", "/users/7");
    ASSERT_UPSTREAM(api, "/api?x=1", "/?x=1");
    const char *v1 = "  - { name: r, service: s, strip_prefix: true, match: { path_prefix: /v1/ } }\n";
    ASSERT_UPSTREAM(v1, "/v1/x", "/x");
    ASSERT_UPSTREAM(v1, "/v1/", "/");
    const char *root = "  - { name: r, service: s, strip_prefix: true, match: { path_prefix: / } }\n";
    ASSERT_UPSTREAM(root, "/a/b", "/a/b");
}

static void rewrite_prefix_replaces_the_matched_prefix(void **state)
{
    const char *v = "  - { name: r, service: s, rewrite_prefix: /v2/, match: { path_prefix: /v1/ } }\n";
    ASSERT_UPSTREAM(v, "/v1/items", "/v2/items");
    ASSERT_UPSTREAM(v, "/v1/", "/v2/");
    const char *old = "  - { name: r, service: s, rewrite_prefix: /new, match: { path_prefix: /old } }\n";
    ASSERT_UPSTREAM(old, "/old", "/new");
    ASSERT_UPSTREAM(old, "/old/a?b=c", "/new/a?b=c");
    const char *to_root = "  - { name: r, service: s, rewrite_prefix: /, match: { path_prefix: /api } }\n";
    ASSERT_UPSTREAM(to_root, "/api/x", "/x");
    ASSERT_UPSTREAM(to_root, "/api", "/");
    const char *deeper = "  - { name: r, service: s, rewrite_prefix: /internal/svc, match: { path_prefix: /ext } }\n";
    ASSERT_UPSTREAM(deeper, "/ext/a", "/internal/svc/a");
}

static void path_and_query_pass_unchanged_without_rewrite(void **state)
{
    const char *r = "  - { name: r, service: s, match: { path_prefix: /api } }\n";
    ASSERT_UPSTREAM(r, "/api/x?q=1&r=%20", "/api/x?q=1&r=%20");
    ASSERT_UPSTREAM(r, "/api", "/api");
    const char *exact = "  - { name: r, service: s, match: { path: /a } }\n";
    ASSERT_UPSTREAM(exact, "/a?", "/a");
}

static void upstream_path_respects_the_buffer_cap(void **state)
{
    pt_config *cfg = load_routes("  - { name: r, service: s }\n");
    pt_request r = make_req(HTTP_GET, "h", "/0123456789?abcdef", NULL, 0);
    pt_buf out;
    pt_buf_init(&out, 8);
    assert_int_equal(pt_router_upstream_path(&cfg->routes[0], &r, &out), PT_ETOOBIG);
    pt_buf_release(&out);
    pt_config_release(cfg);
}

/* ---- request headers --------------------------------------------------------------- */

static void request_header_lookup_is_case_insensitive_first_match(void **state)
{
    pt_header h[] = { HDR("Host", "a"), HDR("X-Thing", "one"), HDR("x-thing", "two") };
    pt_request r = make_req(HTTP_GET, "a", "/", h, 3);
    const pt_header *got = pt_request_header(&r, "X-THING");
    assert_non_null(got);
    assert_true(pt_slice_eq_cstr(got->value, "one"));
    assert_ptr_equal(pt_request_header(&r, "host"), &h[0]);
    assert_null(pt_request_header(&r, "X-Thin"));
    assert_null(pt_request_header(&r, "X-Things"));
}

static int teardown(void **state)
{
    pt_target_registry_free();
    return 0;
}

/* ---- overlaps and AI routes ------------------------------------------------------------- */

/* Whether the routes named a and b of cfg overlap. */
static bool overlap(const pt_config *cfg, const char *a, const char *b)
{
    const pt_route *ra = NULL, *rb = NULL;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        if (strcmp(cfg->routes[i].name, a) == 0) ra = &cfg->routes[i];
        if (strcmp(cfg->routes[i].name, b) == 0) rb = &cfg->routes[i];
    }
    assert_non_null(ra);
    assert_non_null(rb);
    assert_int_equal(pt_router_overlaps(ra, rb), pt_router_overlaps(rb, ra)); /* symmetric */
    return pt_router_overlaps(ra, rb);
}

static void overlaps_follow_hosts_and_path_boundaries(void **state)
{
    pt_config *cfg = load_routes("  - { name: root, service: s }\n"
                                 "  - { name: api, match: { path_prefix: /api }, service: s }\n"
                                 "  - { name: apix, match: { path_prefix: /apix }, service: s }\n"
                                 "  - { name: exact, match: { path: /api/users }, service: s }\n"
                                 "  - { name: other, match: { path: /other }, service: s }\n"
                                 "  - { name: h1, match: { host: a.example.com }, service: s }\n"
                                 "  - { name: wild, match: { host: \"*.example.com\" }, service: s }\n"
                                 "  - { name: h2, match: { host: b.example.org }, service: s }\n"
                                 "  - { name: wild2, match: { host: \"*.x.example.com\" }, service: s }\n");
    assert_true(overlap(cfg, "root", "api"));    /* "/" holds every path */
    assert_false(overlap(cfg, "api", "apix"));   /* "/api" stops at a '/' boundary */
    assert_true(overlap(cfg, "api", "exact"));   /* an exact path inside a prefix */
    assert_false(overlap(cfg, "exact", "other"));
    assert_false(overlap(cfg, "apix", "exact"));
    assert_true(overlap(cfg, "h1", "wild"));     /* a.example.com matches *.example.com */
    assert_false(overlap(cfg, "h1", "h2"));
    assert_false(overlap(cfg, "wild", "h2"));
    assert_true(overlap(cfg, "wild", "wild2"));  /* q.x.example.com matches both */
    assert_true(overlap(cfg, "h2", "api"));      /* a route without host matches every host */
    pt_config_release(cfg);
}

static void the_default_ai_routes_take_v1_and_v1beta_only(void **state)
{
    pt_buf yaml = PT_BUF_INIT, err = PT_BUF_INIT;
    pt_buf_append_str(&yaml, SVC "  - { name: web, match: { path_prefix: / }, service: s }\n"
                                 "providers:\n  - { name: p, type: openai, api_key: k }\n"
                                 "models:\n  - { name: m, targets: [{ provider: p, model: x }] }\n");
    pt_config *cfg = pt_config_load_string("r.yaml", yaml.data, yaml.len, &err);
    if (!cfg) fail_msg("%s", err.data);
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/models"), "web");
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/chat/completions"), "web");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1/models"), "ai");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1"), "web"); /* "/v1/" matches byte-wise */
    assert_string_equal(route_for(cfg, HTTP_POST, "h", "/v1beta/models/m:generateContent"), "ai-gemini");
    assert_string_equal(route_for(cfg, HTTP_GET, "h", "/v1betax/models"), "web");
    pt_buf warnings = PT_BUF_INIT;
    assert_int_equal(pt_router_ai_warnings(cfg, &warnings), 2);
    assert_string_equal(warnings.data, "AI route 'ai-gemini' (path_prefix /v1beta/) shadows route 'web' (path_prefix /) "
                                       "for the requests both match\n"
                                       "AI route 'ai' (path_prefix /v1/) shadows route 'web' (path_prefix /) for the "
                                       "requests both match\n");
    pt_buf_release(&warnings);
    pt_config_release(cfg);
    pt_buf_release(&yaml);
    pt_buf_release(&err);
}

int main(void)
{
    pt_log_set_level(PT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_host_beats_wildcard_beats_no_host),
        cmocka_unit_test(host_rule_comes_before_path_rule),
        cmocka_unit_test(longer_wildcard_suffix_beats_shorter),
        cmocka_unit_test(wildcard_needs_at_least_one_more_label),
        cmocka_unit_test(host_match_ignores_case),
        cmocka_unit_test(route_with_several_hosts_ranks_by_the_one_matched),
        cmocka_unit_test(exact_path_beats_prefix),
        cmocka_unit_test(longer_prefix_beats_shorter),
        cmocka_unit_test(prefix_without_slash_matches_whole_segments),
        cmocka_unit_test(more_conditions_beat_fewer),
        cmocka_unit_test(file_order_breaks_ties),
        cmocka_unit_test(sort_orders_by_every_rule),
        cmocka_unit_test(documented_precedence_example_holds),
        cmocka_unit_test(methods_restrict_the_route),
        cmocka_unit_test(headers_match_by_presence_or_exact_value),
        cmocka_unit_test(no_route_gives_null),
        cmocka_unit_test(strip_prefix_removes_the_matched_prefix),
        cmocka_unit_test(rewrite_prefix_replaces_the_matched_prefix),
        cmocka_unit_test(path_and_query_pass_unchanged_without_rewrite),
        cmocka_unit_test(upstream_path_respects_the_buffer_cap),
        cmocka_unit_test(request_header_lookup_is_case_insensitive_first_match),
        cmocka_unit_test(overlaps_follow_hosts_and_path_boundaries),
        cmocka_unit_test(the_default_ai_routes_take_v1_and_v1beta_only),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
