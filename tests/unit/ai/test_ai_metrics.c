/* Unit tests for ai/ai_metrics.c: calls land in their series, counts are exact under
 * concurrent recording, the text is valid Prometheus exposition. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/ai_metrics.h"

static pt_ai_result ok_result(const char *provider, const char *model)
{
    pt_ai_result r;
    memset(&r, 0, sizeof r);
    r.kind = PT_AI_OK;
    r.provider = provider;
    r.upstream_model = model;
    r.usage = (pt_usage){ .input = 10, .output = 5, .cache_read = 2, .cache_write = 1, .reasoning = 0 };
    r.cost_known = true;
    r.cost_pico_usd = 1500000; /* 0.0000015 USD */
    r.ttft_us = 250000;
    return r;
}

static void calls_tokens_cost_and_ttft_are_rendered(void **state)
{
    pt_ai_metrics_free();
    pt_ai_result r = ok_result("anthropic", "claude-sonnet-4-5");
    pt_ai_metrics_record("claude", &r);
    pt_ai_metrics_record("claude", &r);
    r.kind = PT_AI_ERR_RATE_LIMIT;
    r.usage = (pt_usage){ 0, 0, 0, 0, 0 };
    r.cost_pico_usd = 0;
    r.ttft_us = 0;
    pt_ai_metrics_record("claude", &r);
    pt_buf b = PT_BUF_INIT;
    pt_ai_metrics_render(&b, NULL);
    const char *lbl = "{model=\"claude\",provider=\"anthropic\",provider_model=\"claude-sonnet-4-5\"";
    char want[512];
    snprintf(want, sizeof want, "portico_ai_calls_total%s,outcome=\"ok\"} 2\n", lbl);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "portico_ai_calls_total%s,outcome=\"upstream_rate_limit\"} 1\n", lbl);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "portico_ai_tokens_total%s,kind=\"input\"} 20\n", lbl);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "portico_ai_cost_usd_total%s} 0.000003000000\n", lbl);
    assert_non_null(strstr(b.data, want));
    snprintf(want, sizeof want, "portico_ai_time_to_first_token_seconds_sum%s} 0.500000\n", lbl);
    assert_non_null(strstr(b.data, want));
    assert_non_null(strstr(b.data, "# TYPE portico_ai_calls_total counter\n"));
    pt_buf_release(&b);
    pt_ai_metrics_free();
}

static void label_values_are_escaped(void **state)
{
    pt_ai_metrics_free();
    pt_ai_result r = ok_result("p", "m\"x\\y\nz");
    pt_ai_metrics_record("pub", &r);
    pt_buf b = PT_BUF_INIT;
    pt_ai_metrics_render(&b, NULL);
    assert_non_null(strstr(b.data, "provider_model=\"m\\\"x\\\\y\\nz\""));
    pt_buf_release(&b);
    pt_ai_metrics_free();
}

static void a_full_table_counts_dropped_calls(void **state)
{
    pt_ai_metrics_free();
    pt_ai_result r = ok_result("p", "m");
    char name[32];
    for (int i = 0; i < PT_AI_METRICS_MAX_SERIES + 5; i++) {
        snprintf(name, sizeof name, "model-%d", i);
        pt_ai_metrics_record(name, &r);
    }
    pt_buf b = PT_BUF_INIT;
    pt_ai_metrics_render(&b, NULL);
    assert_non_null(strstr(b.data, "portico_ai_metrics_dropped_total 5\n"));
    pt_buf_release(&b);
    pt_ai_metrics_free();
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    (void)arg;
    pt_ai_result r = ok_result("p", "m");
    char name[16];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(name, sizeof name, "m%d", i % 8);
        pt_ai_metrics_record(name, &r);
    }
    return NULL;
}

static void concurrent_recording_loses_nothing(void **state)
{
    pt_ai_metrics_free();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    pt_buf b = PT_BUF_INIT;
    pt_ai_metrics_render(&b, NULL);
    /* 8 series, each recorded THREADS * PER_THREAD / 8 times */
    char want[256];
    for (int k = 0; k < 8; k++) {
        snprintf(want, sizeof want,
                 "portico_ai_calls_total{model=\"m%d\",provider=\"p\",provider_model=\"m\",outcome=\"ok\"} %d\n", k,
                 THREADS * PER_THREAD / 8);
        if (!strstr(b.data, want)) fail_msg("missing: %s", want);
    }
    assert_non_null(strstr(b.data, "portico_ai_metrics_dropped_total 0\n"));
    pt_buf_release(&b);
    pt_ai_metrics_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calls_tokens_cost_and_ttft_are_rendered),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(a_full_table_counts_dropped_calls),
        cmocka_unit_test(concurrent_recording_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
