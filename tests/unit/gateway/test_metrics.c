/* Unit tests for gateway/metrics.c: interning, exact exposition lines, label escaping,
 * well-formed output, binding a config, and exact totals under concurrent observers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "gateway/balancer.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "version.h"

/* ---- helpers ----------------------------------------------------------------------- */

static char *render(const pt_config *cfg)
{
    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_metrics_render(cfg, &b), 0);
    return pt_buf_detach(&b, NULL);
}

/* True when `line` (without its newline) is one whole line of text. */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
    }
    return 0;
}

static void assert_line(const char *text, const char *line)
{
    if (has_line(text, line)) return;
    fprintf(stderr, "--- output ---\n%s--- end of output ---\n", text);
    fail_msg("missing line: %s", line);
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static int is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Reads a metric or label name at *p; returns its length (0 = not a name). */
static size_t scan_name(const char *p)
{
    size_t n = 0;
    while (is_name_char(p[n], n == 0)) n++;
    return n;
}

#define MAX_FAMILIES 128

/* Checks text against the Prometheus text format 0.0.4: HELP/TYPE lines, each family
 * declared once with its samples right after it, names and label sets well formed,
 * label values with only \\, \" and \n escapes, and a float value on every sample. */
static void assert_valid_exposition(const char *text)
{
    char families[MAX_FAMILIES][128];
    size_t nfam = 0;
    char cur[128] = "", cur_type[16] = "";
    size_t lineno = 0;
    assert_true(text[0] != '\0');
    assert_int_equal(text[strlen(text) - 1], '\n');

    for (const char *line = text; *line; lineno++) {
        const char *eol = strchr(line, '\n');
        char l[4096];
        size_t len = (size_t)(eol - line);
        assert_true(len < sizeof l);
        memcpy(l, line, len);
        l[len] = '\0';
        line = eol + 1;

        if (strncmp(l, "# HELP ", 7) == 0) {
            size_t n = scan_name(l + 7);
            if (n == 0 || l[7 + n] != ' ') fail_msg("line %zu: bad HELP: %s", lineno, l);
            continue;
        }
        if (strncmp(l, "# TYPE ", 7) == 0) {
            size_t n = scan_name(l + 7);
            if (n == 0 || n >= sizeof cur || l[7 + n] != ' ') fail_msg("line %zu: bad TYPE: %s", lineno, l);
            memcpy(cur, l + 7, n);
            cur[n] = '\0';
            const char *type = l + 7 + n + 1;
            if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram") &&
                strcmp(type, "untyped"))
                fail_msg("line %zu: unknown type: %s", lineno, l);
            snprintf(cur_type, sizeof cur_type, "%s", type);
            for (size_t i = 0; i < nfam; i++)
                if (strcmp(families[i], cur) == 0) fail_msg("family %s declared twice", cur);
            assert_true(nfam < MAX_FAMILIES);
            snprintf(families[nfam++], sizeof families[0], "%s", cur);
            continue;
        }
        if (l[0] == '#') fail_msg("line %zu: unexpected comment: %s", lineno, l);

        /* A sample: name, optional {labels}, space, value. */
        size_t n = scan_name(l);
        if (n == 0) fail_msg("line %zu: no metric name: %s", lineno, l);
        char name[128];
        assert_true(n < sizeof name);
        memcpy(name, l, n);
        name[n] = '\0';
        int belongs = strcmp(name, cur) == 0;
        if (!belongs && strcmp(cur_type, "histogram") == 0) {
            size_t cl = strlen(cur);
            belongs = strncmp(name, cur, cl) == 0 &&
                      (!strcmp(name + cl, "_bucket") || !strcmp(name + cl, "_sum") || !strcmp(name + cl, "_count"));
        }
        if (!belongs) fail_msg("line %zu: sample %s outside its family (current %s)", lineno, name, cur);
        const char *p = l + n;
        if (*p == '{') {
            p++;
            while (*p != '}') {
                size_t ln = scan_name(p);
                if (ln == 0 || p[ln] != '=' || p[ln + 1] != '"') fail_msg("line %zu: bad label: %s", lineno, l);
                p += ln + 2;
                while (*p != '"') {
                    if (*p == '\0') fail_msg("line %zu: unterminated label value: %s", lineno, l);
                    if (*p == '\\') {
                        if (p[1] != '\\' && p[1] != '"' && p[1] != 'n') fail_msg("line %zu: bad escape: %s", lineno, l);
                        p++;
                    }
                    p++;
                }
                p++;
                if (*p == ',') p++;
                else if (*p != '}') fail_msg("line %zu: bad label list: %s", lineno, l);
            }
            p++;
        }
        if (*p != ' ') fail_msg("line %zu: no space before value: %s", lineno, l);
        p++;
        if (strcmp(p, "+Inf") && strcmp(p, "-Inf") && strcmp(p, "NaN")) {
            char *end;
            strtod(p, &end);
            if (end == p || *end != '\0') fail_msg("line %zu: bad value: %s", lineno, l);
        }
    }
}

static int teardown(void **state)
{
    pt_metrics_free();
    return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static void same_names_intern_to_same_series(void **state)
{
    pt_route_metrics *a = pt_metrics_route("api", "echo");
    assert_non_null(a);
    assert_ptr_equal(pt_metrics_route("api", "echo"), a);
    assert_string_equal(a->route, "api");
    assert_string_equal(a->service, "echo");
    assert_ptr_not_equal(pt_metrics_route("api", "other"), a);
    assert_ptr_not_equal(pt_metrics_route("api2", "echo"), a);
    /* The separator between the two names matters. */
    assert_ptr_not_equal(pt_metrics_route("ab", "c"), pt_metrics_route("a", "bc"));
    /* No service is the empty service. */
    assert_ptr_equal(pt_metrics_route("ai", NULL), pt_metrics_route("ai", ""));
}

static void many_series_stay_distinct_and_stable(void **state)
{
    pt_route_metrics *first[600];
    char name[32];
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof name, "r%d", i);
        first[i] = pt_metrics_route(name, "svc");
        assert_non_null(first[i]);
    }
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof name, "r%d", i);
        assert_ptr_equal(pt_metrics_route(name, "svc"), first[i]);
        assert_string_equal(first[i]->route, name);
    }
}

static void render_has_exact_counts_buckets_sum_and_count(void **state)
{
    pt_route_metrics *m = pt_metrics_route("api", "echo");
    pt_metrics_observe(m, 200, 10, 100, 500, 400, false);            /* 0.0005 s total */
    pt_metrics_observe(m, 201, 20, 200, 1000, 900, false);           /* exactly 0.001: le="0.001" */
    pt_metrics_observe(m, 302, 0, 0, 3000, 2000, false);             /* 0.003 */
    pt_metrics_observe(m, 502, 5, 50, 2300000, 0, true);             /* 2.3 s, no upstream */
    pt_metrics_observe(m, 404, 0, 30, 70000000, 0, true);            /* 70 s: only +Inf */
    pt_metrics_observe(m, 999, 0, 0, 10, 0, false);                  /* nonsense status: other */
    char *t = render(NULL);

    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"1xx\"} 0");
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"2xx\"} 2");
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"3xx\"} 1");
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"4xx\"} 1");
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"5xx\"} 1");
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"other\"} 1");
    assert_line(t, "portico_route_gateway_errors_total{route=\"api\",service=\"echo\"} 2");
    assert_line(t, "portico_route_request_bytes_total{route=\"api\",service=\"echo\"} 35");
    assert_line(t, "portico_route_response_bytes_total{route=\"api\",service=\"echo\"} 380");

    const char *h = "portico_route_request_duration_seconds";
    char l[256];
    static const struct { const char *le; int cum; } want[] = {
        { "0.001", 3 }, { "0.0025", 3 }, { "0.005", 4 }, { "0.01", 4 }, { "1", 4 },
        { "2.5", 5 }, { "60", 5 }, { "+Inf", 6 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        snprintf(l, sizeof l, "%s_bucket{route=\"api\",service=\"echo\",le=\"%s\"} %d", h, want[i].le, want[i].cum);
        assert_line(t, l);
    }
    snprintf(l, sizeof l, "%s_sum{route=\"api\",service=\"echo\"} 72.304510", h);
    assert_line(t, l);
    snprintf(l, sizeof l, "%s_count{route=\"api\",service=\"echo\"} 6", h);
    assert_line(t, l);

    /* Upstream histogram: only the three observations that reached an upstream. */
    h = "portico_route_upstream_duration_seconds";
    snprintf(l, sizeof l, "%s_bucket{route=\"api\",service=\"echo\",le=\"0.001\"} 2", h);
    assert_line(t, l);
    snprintf(l, sizeof l, "%s_bucket{route=\"api\",service=\"echo\",le=\"0.0025\"} 3", h);
    assert_line(t, l);
    snprintf(l, sizeof l, "%s_sum{route=\"api\",service=\"echo\"} 0.003300", h);
    assert_line(t, l);
    snprintf(l, sizeof l, "%s_count{route=\"api\",service=\"echo\"} 3", h);
    assert_line(t, l);
    /* 16 buckets per series. */
    assert_int_equal(count_of(t, "portico_route_upstream_duration_seconds_bucket{"), PT_HIST_NBUCKETS);
    assert_valid_exposition(t);
    free(t);
}

static void other_class_is_omitted_until_seen(void **state)
{
    pt_metrics_observe(pt_metrics_route("api", "echo"), 200, 0, 0, 1, 0, false);
    char *t = render(NULL);
    assert_int_equal(count_of(t, "class=\"other\""), 0);
    assert_line(t, "portico_route_responses_total{route=\"api\",service=\"echo\",class=\"2xx\"} 1");
    free(t);
}

static void families_appear_once_with_all_series_grouped(void **state)
{
    pt_metrics_observe(pt_metrics_route("a", "s1"), 200, 0, 0, 1, 1, false);
    pt_metrics_observe(pt_metrics_route("b", "s2"), 500, 0, 0, 1, 1, false);
    char *t = render(NULL);
    assert_int_equal(count_of(t, "# TYPE portico_route_responses_total counter\n"), 1);
    assert_int_equal(count_of(t, "# HELP portico_route_responses_total "), 1);
    assert_int_equal(count_of(t, "# TYPE portico_route_request_duration_seconds histogram\n"), 1);
    assert_int_equal(count_of(t, "# TYPE portico_route_upstream_duration_seconds histogram\n"), 1);
    assert_line(t, "portico_route_responses_total{route=\"a\",service=\"s1\",class=\"2xx\"} 1");
    assert_line(t, "portico_route_responses_total{route=\"b\",service=\"s2\",class=\"5xx\"} 1");
    /* The validator fails if a family's samples are split by another family. */
    assert_valid_exposition(t);
    free(t);
}

static void label_values_are_escaped(void **state)
{
    pt_metrics_observe(pt_metrics_route("we\"ird\\route\nx", "s\"v"), 200, 0, 0, 1, 0, false);
    char *t = render(NULL);
    assert_line(t, "portico_route_responses_total{route=\"we\\\"ird\\\\route\\nx\",service=\"s\\\"v\",class=\"2xx\"} 1");
    assert_valid_exposition(t);
    free(t);

    pt_buf b = PT_BUF_INIT;
    assert_int_equal(pt_prom_append_label_value(&b, "plain", 5), 0);
    assert_int_equal(pt_prom_append_label_value(&b, "\\\"\n", 3), 0);
    assert_string_equal(b.data, "plain\\\\\\\"\\n");
    pt_buf_release(&b);
}

static void global_counters_and_build_info_are_rendered(void **state)
{
    atomic_store(&pt_metrics_global.requests_total, 7);
    atomic_store(&pt_metrics_global.connections_active, 3);
    atomic_store(&pt_metrics_global.accesslog_dropped, 11);
    atomic_store(&pt_metrics_global.draining, 1);
    char *t = render(NULL);
    assert_line(t, "portico_build_info{version=\"" PT_VERSION "\"} 1");
    assert_line(t, "# TYPE portico_build_info gauge");
    assert_line(t, "portico_requests_total 7");
    assert_line(t, "# TYPE portico_requests_total counter");
    assert_line(t, "portico_connections_active 3");
    assert_line(t, "# TYPE portico_connections_active gauge");
    assert_line(t, "portico_accesslog_dropped_total 11");
    assert_line(t, "portico_draining 1");
    assert_valid_exposition(t);
    free(t);
    atomic_store(&pt_metrics_global.requests_total, 0);
    atomic_store(&pt_metrics_global.connections_active, 0);
    atomic_store(&pt_metrics_global.accesslog_dropped, 0);
    atomic_store(&pt_metrics_global.draining, 0);
}

static void outcomes_are_counted_by_the_tables_metric_label(void **state)
{
    uint64_t before = atomic_load(&pt_metrics_global.outcomes[PT_OUT_OK]);
    atomic_store(&pt_metrics_global.outcomes[PT_OUT_OK], 0);
    pt_metrics_count_outcome(PT_OUT_BAD_REQUEST);
    pt_metrics_count_outcome(PT_OUT_BAD_CHUNK);
    pt_metrics_count_outcome(PT_OUT_UPSTREAM_TIMEOUT);
    pt_metrics_count_outcome(PT_OUTCOME_COUNT); /* outside the table: ignored */
    char *t = render(NULL);
    assert_line(t, "# TYPE portico_request_outcomes_total counter");
    assert_line(t, "portico_request_outcomes_total{outcome=\"bad_request\"} 2");
    assert_line(t, "portico_request_outcomes_total{outcome=\"upstream_timeout\"} 1");
    assert_line(t, "portico_request_outcomes_total{outcome=\"ok\"} 0");
    assert_int_equal(count_of(t, "portico_request_outcomes_total{outcome=\"bad_request\"}"), 1);
    assert_valid_exposition(t);
    free(t);
    for (int o = 0; o < PT_OUTCOME_COUNT; o++) atomic_store(&pt_metrics_global.outcomes[o], 0);
    atomic_store(&pt_metrics_global.outcomes[PT_OUT_OK], before);
}

static void extra_family(pt_prom *p, void *arg)
{
    pt_prom_family(p, "portico_test_extra", "gauge", "A test family.");
    pt_prom_sample(p, "portico_test_extra", NULL);
    pt_prom_value_i64(p, *(int *)arg);
}

static void extra_renderers_are_appended_last(void **state)
{
    static int value = 42;
    pt_metrics_add_renderer(extra_family, &value);
    pt_metrics_observe(pt_metrics_route("api", "echo"), 200, 0, 0, 1, 0, false);
    char *t = render(NULL);
    const char *tail = "portico_test_extra 42\n";
    assert_true(strlen(t) > strlen(tail));
    assert_string_equal(t + strlen(t) - strlen(tail), tail);
    assert_valid_exposition(t);
    free(t);
}

static void render_reports_a_full_buffer(void **state)
{
    pt_metrics_route("api", "echo");
    pt_buf b;
    pt_buf_init(&b, 256);
    assert_int_equal(pt_metrics_render(NULL, &b), PT_ETOOBIG);
    pt_buf_release(&b);
}

static void bind_config_points_routes_at_their_series(void **state)
{
    pt_route routes[2];
    memset(routes, 0, sizeof routes);
    routes[0].name = "api";
    routes[0].service_name = "echo";
    routes[1].name = "chat";
    routes[1].service_name = NULL;
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.routes = routes;
    cfg.nroutes = 2;
    assert_int_equal(pt_metrics_bind_config(&cfg), 0);
    assert_ptr_equal(routes[0].metrics, pt_metrics_route("api", "echo"));
    assert_ptr_equal(routes[1].metrics, pt_metrics_route("chat", ""));

    /* A reload with the same names keeps counting into the same series. */
    pt_metrics_observe(routes[0].metrics, 200, 0, 0, 1, 0, false);
    pt_route again = routes[0];
    again.metrics = NULL;
    cfg.routes = &again;
    cfg.nroutes = 1;
    assert_int_equal(pt_metrics_bind_config(&cfg), 0);
    assert_ptr_equal(again.metrics, routes[0].metrics);
    assert_int_equal(atomic_load(&again.metrics->responses[2]), 1);
}

static void target_pool_and_health_state_is_rendered(void **state)
{
    pt_target_state up, down;
    memset(&up, 0, sizeof up);
    memset(&down, 0, sizeof down);
    atomic_store(&up.open_conns, 5);
    atomic_store(&up.idle_conns, 3);
    atomic_store(&up.active, 2);
    atomic_store(&up.health, PT_HEALTH_UP);
    atomic_store(&up.requests, 100);
    atomic_store(&up.failures, 4);
    atomic_store(&up.ejections, 1);
    atomic_store(&up.ejected_until_ms, 0);
    atomic_store(&down.health, PT_HEALTH_DOWN);
    atomic_store(&down.ejected_until_ms, pt_now_ms() + 3600 * 1000);

    pt_target targets[3];
    memset(targets, 0, sizeof targets);
    targets[0].url = "http://127.0.0.1:9001";
    targets[0].state = &up;
    targets[1].url = "http://[::1]:9002";
    targets[1].state = &down;
    targets[2].url = "http://127.0.0.1:9003";
    targets[2].state = NULL; /* not bound: skipped, never dereferenced */
    pt_service svc;
    memset(&svc, 0, sizeof svc);
    svc.name = "echo";
    svc.targets = targets;
    svc.ntargets = 3;
    pt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.services = &svc;
    cfg.nservices = 1;

    char *t = render(&cfg);
    const char *a = "{service=\"echo\",target=\"http://127.0.0.1:9001\"}";
    const char *b = "{service=\"echo\",target=\"http://[::1]:9002\"}";
    char l[200];
#define LINE(fmt, ...) (snprintf(l, sizeof l, fmt, __VA_ARGS__), assert_line(t, l))
    LINE("portico_upstream_open_connections%s 5", a);
    LINE("portico_upstream_idle_connections%s 3", a);
    LINE("portico_upstream_active_requests%s 2", a);
    LINE("portico_upstream_health%s 1", a);
    LINE("portico_upstream_health%s 0", b);
    LINE("portico_upstream_ejected%s 0", a);
    LINE("portico_upstream_ejected%s 1", b);
    LINE("portico_upstream_requests_total%s 100", a);
    LINE("portico_upstream_failures_total%s 4", a);
    LINE("portico_upstream_ejections_total%s 1", a);
#undef LINE
    assert_line(t, "# TYPE portico_upstream_requests_total counter");
    assert_line(t, "# TYPE portico_upstream_open_connections gauge");
    assert_int_equal(count_of(t, "9003"), 0);
    assert_valid_exposition(t);
    free(t);

    /* Unknown health (never probed) is -1. */
    atomic_store(&up.health, PT_HEALTH_UNKNOWN);
    t = render(&cfg);
    snprintf(l, sizeof l, "portico_upstream_health%s -1", a);
    assert_line(t, l);
    free(t);
}

static void observe_on_null_series_is_harmless(void **state)
{
    pt_metrics_observe(NULL, 200, 1, 1, 1, 1, true);
}

#define OBS_THREADS 8
#define OBS_EACH 50000

static void *observer(void *arg)
{
    pt_route_metrics *m = arg;
    for (int i = 0; i < OBS_EACH; i++)
        pt_metrics_observe(m, (i % 2) ? 200 : 503, 3, 7, (uint64_t)(i % 4) * 1000 + 1, (i % 2) ? 100 : 0, i % 2 == 0);
    return NULL;
}

static void concurrent_observers_give_exact_totals(void **state)
{
    pt_route_metrics *m = pt_metrics_route("hot", "svc");
    pthread_t th[OBS_THREADS];
    for (int i = 0; i < OBS_THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, observer, m), 0);
    for (int i = 0; i < OBS_THREADS; i++) pthread_join(th[i], NULL);

    const uint64_t total = (uint64_t)OBS_THREADS * OBS_EACH;
    assert_int_equal(atomic_load(&m->responses[2]), total / 2);
    assert_int_equal(atomic_load(&m->responses[5]), total / 2);
    assert_int_equal(atomic_load(&m->gateway_errors), total / 2);
    assert_int_equal(atomic_load(&m->bytes_in), total * 3);
    assert_int_equal(atomic_load(&m->bytes_out), total * 7);
    assert_int_equal(atomic_load(&m->total.count), total);
    /* durations cycle 1, 1001, 2001, 3001 us */
    assert_int_equal(atomic_load(&m->total.sum_us), total / 4 * (1 + 1001 + 2001 + 3001));
    assert_int_equal(atomic_load(&m->total.buckets[0]), total / 4);     /* <= 1 ms */
    assert_int_equal(atomic_load(&m->total.buckets[1]), total / 4 * 2); /* <= 2.5 ms */
    assert_int_equal(atomic_load(&m->total.buckets[2]), total / 4);     /* <= 5 ms */
    assert_int_equal(atomic_load(&m->upstream.count), total / 2);
    assert_int_equal(atomic_load(&m->upstream.sum_us), total / 2 * 100);

    char *t = render(NULL);
    char l[160];
    snprintf(l, sizeof l, "portico_route_request_duration_seconds_count{route=\"hot\",service=\"svc\"} %llu",
             (unsigned long long)total);
    assert_line(t, l);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(same_names_intern_to_same_series, teardown),
        cmocka_unit_test_teardown(many_series_stay_distinct_and_stable, teardown),
        cmocka_unit_test_teardown(render_has_exact_counts_buckets_sum_and_count, teardown),
        cmocka_unit_test_teardown(other_class_is_omitted_until_seen, teardown),
        cmocka_unit_test_teardown(families_appear_once_with_all_series_grouped, teardown),
        cmocka_unit_test_teardown(label_values_are_escaped, teardown),
        cmocka_unit_test_teardown(global_counters_and_build_info_are_rendered, teardown),
        cmocka_unit_test_teardown(outcomes_are_counted_by_the_tables_metric_label, teardown),
        cmocka_unit_test_teardown(extra_renderers_are_appended_last, teardown),
        cmocka_unit_test_teardown(render_reports_a_full_buffer, teardown),
        cmocka_unit_test_teardown(bind_config_points_routes_at_their_series, teardown),
        cmocka_unit_test_teardown(target_pool_and_health_state_is_rendered, teardown),
        cmocka_unit_test_teardown(observe_on_null_series_is_harmless, teardown),
        cmocka_unit_test_teardown(concurrent_observers_give_exact_totals, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
