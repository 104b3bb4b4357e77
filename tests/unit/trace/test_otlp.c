/* Unit tests for trace/otlp.c and trace/trace_config.c: the OTLP/HTTP JSON document (ids
 * in hex, times and integers as strings, attributes as AnyValue, parent left out for a
 * root), the exporter against a local listener (headers, retries on 503, drops counted
 * when the collector is down or the queue is full, never a wait), and the `tracing:`
 * section's defaults and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/log.h"
#include "gateway/config.h"
#include "trace/context.h"
#include "trace/otlp.h"

static pt_span sample_span(bool root)
{
    pt_span s = { .kind = PT_SPAN_CLIENT, .status = PT_SPAN_ERROR, .start_ns = 1700000000123456789ull,
                  .end_ns = 1700000000223456789ull, .name = PT_SLICE_LIT("GET \"x\"") };
    for (int i = 0; i < 16; i++) s.trace_id[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 8; i++) s.span_id[i] = (uint8_t)(0x10 + i);
    if (!root)
        for (int i = 0; i < 8; i++) s.parent_id[i] = (uint8_t)(0xf0 + i);
    pt_span_str(&s, "http.request.method", PT_SLICE_LIT("GET"));
    pt_span_int(&s, "gen_ai.usage.input_tokens", 11);
    pt_span_int(&s, "neg", -5);
    pt_span_str(&s, "skipped", PT_SLICE_NULL);
    return s;
}

static json_t *render(const pt_span *s, size_t n)
{
    char *doc;
    size_t len;
    pt__otlp_render("svc \"1\"", s, n, &doc, &len);
    json_error_t e;
    json_t *j = json_loadb(doc, len, 0, &e);
    if (!j) fail_msg("not JSON: %s: %s", e.text, doc);
    free(doc);
    return j;
}

static void test_document_has_the_otlp_json_shape(void **state)
{
    pt_span s[2] = { sample_span(false), sample_span(true) };
    json_t *j = render(s, 2);
    json_t *rs = json_array_get(json_object_get(j, "resourceSpans"), 0);
    json_t *rattr = json_array_get(json_object_get(json_object_get(rs, "resource"), "attributes"), 0);
    assert_string_equal(json_string_value(json_object_get(rattr, "key")), "service.name");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rattr, "value"), "stringValue")), "svc \"1\"");
    json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")), "portico");
    json_t *spans = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(spans), 2);
    json_t *a = json_array_get(spans, 0);
    assert_string_equal(json_string_value(json_object_get(a, "traceId")), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    assert_string_equal(json_string_value(json_object_get(a, "spanId")), "1011121314151617");
    assert_string_equal(json_string_value(json_object_get(a, "parentSpanId")), "f0f1f2f3f4f5f6f7");
    assert_string_equal(json_string_value(json_object_get(a, "name")), "GET \"x\"");
    assert_int_equal(json_integer_value(json_object_get(a, "kind")), 3);
    assert_string_equal(json_string_value(json_object_get(a, "startTimeUnixNano")), "1700000000123456789");
    assert_string_equal(json_string_value(json_object_get(a, "endTimeUnixNano")), "1700000000223456789");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "status"), "code")), 2);
    json_t *attrs = json_object_get(a, "attributes");
    assert_int_equal(json_array_size(attrs), 3); /* the NULL string was not added */
    json_t *v0 = json_object_get(json_array_get(attrs, 0), "value");
    assert_string_equal(json_string_value(json_object_get(v0, "stringValue")), "GET");
    json_t *v1 = json_object_get(json_array_get(attrs, 1), "value");
    assert_string_equal(json_string_value(json_object_get(v1, "intValue")), "11");
    json_t *v2 = json_object_get(json_array_get(attrs, 2), "value");
    assert_string_equal(json_string_value(json_object_get(v2, "intValue")), "-5");
    assert_null(json_object_get(json_array_get(spans, 1), "parentSpanId")); /* a root */
    json_decref(j);
}

/* ---- a collector on a local socket ------------------------------------------------------- */

typedef struct collector {
    int fd, port;
    pthread_t th;
    int fail_first;              /* answer 503 to this many posts */
    int posts;
    pt_buf last;                 /* the last request, head and body */
} collector;

static void *serve(void *arg)
{
    collector *k = arg;
    for (;;) {
        int c = accept(k->fd, NULL, NULL);
        if (c < 0) return NULL;
        pt_buf_reset(&k->last);
        char buf[65536];
        ssize_t r;
        size_t want = 0;
        while ((r = read(c, buf, sizeof buf)) > 0) {
            pt_buf_append(&k->last, buf, (size_t)r);
            char *end = k->last.data ? strstr(k->last.data, "\r\n\r\n") : NULL;
            char *cl = k->last.data ? strstr(k->last.data, "Content-Length: ") : NULL;
            if (end && cl && !want) want = (size_t)(end + 4 - k->last.data) + strtoul(cl + 16, NULL, 10);
            if (want && k->last.len >= want) break;
        }
        k->posts++;
        const char *ans = k->posts <= k->fail_first ? "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
                                                   : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        if (write(c, ans, strlen(ans)) < 0) { /* the exporter gave up: nothing to do */
        }
        close(c);
    }
}

static void collector_start(collector *k)
{
    k->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(k->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(k->fd, (struct sockaddr *)&a, &l);
    k->port = ntohs(a.sin_port);
    assert_int_equal(listen(k->fd, 16), 0);
    pthread_create(&k->th, NULL, serve, k);
}

static void collector_stop(collector *k)
{
    shutdown(k->fd, SHUT_RDWR);
    close(k->fd);
    pthread_join(k->th, NULL);
    pt_buf_release(&k->last);
}

/* A port nothing listens on. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_exporter_posts_with_headers_and_retries_a_503(void **state)
{
    collector k = { .fail_first = 1 };
    collector_start(&k);
    const char *hdrs[] = { "Authorization: Bearer t0k" };
    pt_otlp_opts o = { .host = "127.0.0.1", .port = (uint16_t)k.port, .path = "/v1/traces", .headers = hdrs,
                       .nheaders = 1, .timeout_ms = 2000, .retries = 2, .flush_ms = 10, .service_name = "gw" };
    pt_otlp *e = pt_otlp_new(&o);
    assert_non_null(e);
    pt_span s = sample_span(false);
    assert_true(pt_otlp_push(e, &s));
    assert_true(pt_otlp_push(e, &s));
    pt_otlp_sync(e);
    pt_otlp_stats st;
    pt_otlp_stats_get(e, &st);
    assert_int_equal(st.exported, 2);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.failed_posts, 1);
    assert_int_equal(k.posts, 2);
    assert_non_null(strstr(k.last.data, "POST /v1/traces HTTP/1.1\r\n"));
    assert_non_null(strstr(k.last.data, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(k.last.data, "\r\nAuthorization: Bearer t0k\r\n"));
    assert_non_null(strstr(k.last.data, "\"1011121314151617\""));
    pt_otlp_free(e);
    collector_stop(&k);
}

static void test_collector_down_drops_and_counts(void **state)
{
    pt_log_set_level(PT_LOG_ERROR); /* the drop warning is expected */
    pt_otlp_opts o = { .host = "127.0.0.1", .port = (uint16_t)dead_port(), .timeout_ms = 500, .retries = 1,
                       .flush_ms = 10 };
    pt_otlp *e = pt_otlp_new(&o);
    pt_span s = sample_span(true);
    for (int i = 0; i < 3; i++) assert_true(pt_otlp_push(e, &s));
    pt_otlp_sync(e);
    pt_otlp_stats st;
    pt_otlp_stats_get(e, &st);
    assert_int_equal(st.exported, 0);
    assert_int_equal(st.dropped, 3);
    assert_true(st.failed_posts >= 2); /* the try and its retry */
    pt_otlp_free(e);
}

static void test_full_queue_refuses_at_once(void **state)
{
    pt_log_set_level(PT_LOG_ERROR);
    /* a collector that takes the connection and never answers holds the writer in a POST
     * for the whole timeout: the small queue fills behind it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    assert_int_equal(listen(fd, 16), 0);
    pt_otlp_opts o = { .host = "127.0.0.1", .port = ntohs(a.sin_port), .timeout_ms = 1000, .flush_ms = 10,
                       .queue_bytes = 300 };
    pt_otlp *e = pt_otlp_new(&o);
    pt_span s = sample_span(true);
    s.nattrs = 0;
    int pushed = 0;
    uint64_t t0 = pt_now_ms();
    while (pushed < 1000 && pt_otlp_push(e, &s)) pushed++;
    assert_true(pushed < 1000);
    assert_true(pt_now_ms() - t0 < 500); /* refused at once, not after waiting for the writer */
    pt_otlp_stats st;
    pt_otlp_stats_get(e, &st);
    assert_int_equal(st.dropped, 1);
    pt_otlp_free(e);
    close(fd);
}

/* ---- the tracing: section ---------------------------------------------------------------- */

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("t.yaml", yaml, strlen(yaml), err);
}

static void test_section_defaults_and_values(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("tracing: { otlp: { endpoint: \"http://[::1]:4318\" } }\n", &err);
    assert_non_null(cfg);
    const pt_trace_cfg *t = &cfg->tracing;
    assert_true(t->enabled);
    assert_string_equal(t->host, "::1");
    assert_int_equal(t->port, 4318);
    assert_string_equal(t->path, "/v1/traces");
    assert_int_equal(t->timeout_ms, 5000);
    assert_int_equal(t->retries, 2);
    assert_string_equal(t->service_name, "portico");
    assert_true(pt_trace_cfg_sample(t, UINT64_MAX - 1));
    pt_config_release(cfg);

    cfg = load("tracing:\n  otlp: { endpoint: \"http://c:9/x/traces\", headers: { x-k: v }, timeout: 2s }\n"
               "  sample: 0.25\n  service_name: edge\n",
               &err);
    assert_non_null(cfg);
    t = &cfg->tracing;
    assert_string_equal(t->path, "/x/traces");
    assert_int_equal(t->nheaders, 1);
    assert_string_equal(t->headers[0], "x-k: v");
    assert_int_equal(t->timeout_ms, 2000);
    assert_string_equal(t->service_name, "edge");
    assert_true(pt_trace_cfg_sample(t, UINT64_MAX / 4 - 1000));
    assert_false(pt_trace_cfg_sample(t, UINT64_MAX / 4 + 1000));
    pt_config_release(cfg);

    cfg = load("listen: [\"127.0.0.1:1\"]\n", &err);
    assert_false(cfg->tracing.enabled);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void test_section_errors_name_the_field(void **state)
{
    static const struct { const char *yaml, *want; } cases[] = {
        { "tracing: { sample: 1 }\n", "t.yaml:1: tracing.otlp: required" },
        { "tracing: { otlp: {} }\n", "tracing.otlp.endpoint: required" },
        { "tracing: { otlp: { endpoint: \"ftp://x\" } }\n", "tracing.otlp.endpoint: endpoint must start with http://" },
        { "tracing: { otlp: { endpoint: \"http://x\", timeout: 0s } }\n", "tracing.otlp.timeout:" },
        { "tracing: { otlp: { endpoint: \"http://x\", retries: 11 } }\n", "tracing.otlp.retries:" },
        { "tracing: { otlp: { endpoint: \"http://x\", headers: { content-length: 1 } } }\n",
          "tracing.otlp.headers.content-length: 'content-length' is set by the exporter" },
        { "tracing: { otlp: { endpoint: \"http://x\" }, sample: -0.1 }\n", "tracing.sample: expected a number from 0 to 1" },
        { "tracing: { otlp: { endpoint: \"http://x\" }, sample: lots }\n", "tracing.sample: expected a number from 0 to 1" },
        { "tracing: { otlp: { endpoint: \"http://x\" }, service_name: \"\" }\n", "tracing.service_name: expected a name" },
        { "tracing: { otlp: { endpoint: \"http://x\" }, smaple: 1 }\n", "tracing.smaple: unknown key" },
        { "tracing: [1]\n", "tracing: expected the tracing settings" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pt_buf err = PT_BUF_INIT;
        pt_config *cfg = load(cases[i].yaml, &err);
        if (cfg) fail_msg("accepted: %s", cases[i].yaml);
        if (!err.data || !strstr(err.data, cases[i].want))
            fail_msg("for %s\nwant: %s\ngot:  %s", cases[i].yaml, cases[i].want, err.data ? err.data : "");
        pt_buf_release(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_has_the_otlp_json_shape),
        cmocka_unit_test(test_exporter_posts_with_headers_and_retries_a_503),
        cmocka_unit_test(test_collector_down_drops_and_counts),
        cmocka_unit_test(test_full_queue_refuses_at_once),
        cmocka_unit_test(test_section_defaults_and_values),
        cmocka_unit_test(test_section_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
