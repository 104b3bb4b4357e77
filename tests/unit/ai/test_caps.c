/* Unit tests for ai/caps.c: the built-in parameter rules (OpenAI reasoning models take only
 * the default temperature and top_p, OpenAI's user id is at most 64 characters, recent
 * Claude models refuse temperature with top_p), the closest rule winning with a
 * provider's own rules first at equal closeness, each action (clamp, drop, refuse), and
 * the `params:` configuration with its errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/caps.h"

static pt_ai_config *load(const char *yaml, pt_buf *err)
{
    return pt_ai_config_load_string("p.yaml", yaml, strlen(yaml), err);
}

static pt_ai_config *load_ok(const char *yaml)
{
    pt_buf err = PT_BUF_INIT;
    pt_ai_config *cfg = load(yaml, &err);
    if (!cfg) fail_msg("%s", err.data);
    pt_buf_release(&err);
    return cfg;
}

static void expect_error(const char *yaml, const char *want)
{
    pt_buf err = PT_BUF_INIT;
    pt_ai_config *cfg = load(yaml, &err);
    assert_null(cfg);
    if (!strstr(err.data, want)) fail_msg("want '%s' in: %s", want, err.data);
    pt_buf_release(&err);
}

#define PROVIDERS(extra)                                                                                    \
    "providers:\n"                                                                                           \
    "  - { name: oa, type: openai, api_key: k" extra " }\n"                                                 \
    "  - { name: ant, type: anthropic, api_key: k }\n"                                                      \
    "  - { name: gem, type: gemini, api_key: k }\n"                                                         \
    "models:\n  - { name: m, targets: [{ provider: oa, model: gpt-4o }] }\n"

static pt_pivot_req req(double temperature, double top_p, const char *user)
{
    pt_pivot_req r;
    pt_pivot_req_init(&r);
    r.temperature = temperature;
    r.top_p = top_p;
    r.user = pt_slice_cstr(user ? user : "");
    return r;
}

static void reasoning_models_take_only_the_default_sampling(void **state)
{
    (void)state;
    pt_ai_config *cfg = load_ok(PROVIDERS(""));
    const pt_ai_provider *oa = &cfg->providers[0];
    pt_pool pool;
    pt_pool_init(&pool, 0, 0);
    pt_ai_error err;
    const pt_ai_cap *c = pt_ai_caps_find(oa, "gpt-5-mini");
    pt_pivot_req r = req(0.2, 0.5, NULL);
    assert_true(pt_ai_caps_breaks(c, &r));
    assert_int_equal(pt_ai_caps_apply(c, "gpt-5-mini", &r, &pool, &err), 0);
    assert_true(r.temperature == 1.0 && r.top_p == 1.0);
    assert_false(pt_ai_caps_breaks(c, &r));
    r = req(0.2, NAN, NULL);
    assert_false(pt_ai_caps_breaks(pt_ai_caps_find(oa, "gpt-5-chat-latest"), &r)); /* not a reasoning model */
    assert_true(pt_ai_caps_breaks(pt_ai_caps_find(oa, "o3-mini"), &r));
    assert_false(pt_ai_caps_breaks(pt_ai_caps_find(oa, "gpt-4o"), &r));
    r = req(1.0, NAN, NULL);
    assert_false(pt_ai_caps_breaks(pt_ai_caps_find(oa, "o1"), &r)); /* the default is taken */
    pt_pivot_req_release(&r);
    pt_pool_release(&pool);
    pt_ai_config_free(cfg);
}

static void a_long_user_id_becomes_a_stable_digest(void **state)
{
    (void)state;
    pt_ai_config *cfg = load_ok(PROVIDERS(""));
    pt_pool pool;
    pt_pool_init(&pool, 0, 0);
    pt_ai_error err;
    char longid[151];
    memset(longid, 'a', 150);
    longid[150] = '\0';
    const pt_ai_cap *c = pt_ai_caps_find(&cfg->providers[0], "gpt-4o");
    pt_pivot_req r1 = req(NAN, NAN, longid), r2 = req(NAN, NAN, longid), shortr = req(NAN, NAN, "user-42");
    assert_false(pt_ai_caps_breaks(c, &shortr));
    assert_int_equal(pt_ai_caps_apply(c, "gpt-4o", &r1, &pool, &err), 0);
    assert_int_equal(pt_ai_caps_apply(c, "gpt-4o", &r2, &pool, &err), 0);
    assert_int_equal(r1.user.len, 64);
    assert_memory_equal(r1.user.ptr, "u-", 2);
    assert_true(pt_slice_eq(r1.user, r2.user)); /* the same user keeps one id */
    assert_null(pt_ai_caps_find(&cfg->providers[2], "gemini-2.5-pro")); /* Gemini: no rule */
    pt_pool_release(&pool);
    pt_ai_config_free(cfg);
}

static void recent_claude_models_take_temperature_or_top_p(void **state)
{
    (void)state;
    pt_ai_config *cfg = load_ok(PROVIDERS(""));
    pt_pool pool;
    pt_pool_init(&pool, 0, 0);
    pt_ai_error err;
    const pt_ai_provider *ant = &cfg->providers[1];
    pt_pivot_req r = req(0.3, 0.9, NULL);
    assert_false(pt_ai_caps_breaks(pt_ai_caps_find(ant, "claude-3-7-sonnet-latest"), &r));
    const pt_ai_cap *c = pt_ai_caps_find(ant, "claude-sonnet-4-5-20250929");
    assert_true(pt_ai_caps_breaks(c, &r));
    assert_int_equal(pt_ai_caps_apply(c, "claude-sonnet-4-5-20250929", &r, &pool, &err), 0);
    assert_true(r.temperature == 0.3);
    assert_true(isnan(r.top_p));
    pt_pool_release(&pool);
    pt_ai_config_free(cfg);
}

static void a_providers_own_rules_come_first(void **state)
{
    (void)state;
    pt_ai_config *cfg = load_ok(PROVIDERS(", params: { \"gpt-5*\": { max: { temperature: 2 } }, "
                                          "\"strict-*\": { fixed: { temperature: 0.7 }, action: refuse }, "
                                          "\"loose-*\": { max: { top_p: 0.5 }, max_length: { user: 8 }, action: drop } }"));
    const pt_ai_provider *oa = &cfg->providers[0];
    pt_pool pool;
    pt_pool_init(&pool, 0, 0);
    pt_ai_error err;
    pt_pivot_req r = req(0.2, NAN, NULL);
    assert_false(pt_ai_caps_breaks(pt_ai_caps_find(oa, "gpt-5"), &r)); /* own rule at equal closeness */
    assert_true(pt_ai_caps_breaks(pt_ai_caps_find(oa, "gpt-5-chat-latest"), &r) == false);
    r = req(0.2, NAN, NULL);
    const pt_ai_cap *c = pt_ai_caps_find(oa, "strict-1");
    assert_int_equal(pt_ai_caps_apply(c, "strict-1", &r, &pool, &err), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.param, "temperature");
    assert_non_null(strstr(err.message, "strict-1"));
    r = req(NAN, 0.9, "someone-long");
    c = pt_ai_caps_find(oa, "loose-1");
    assert_int_equal(pt_ai_caps_apply(c, "loose-1", &r, &pool, &err), 0);
    assert_true(isnan(r.top_p));
    assert_int_equal(r.user.len, 0);
    pt_pool_release(&pool);
    pt_ai_config_free(cfg);
}

static void bad_rules_are_named(void **state)
{
    (void)state;
    expect_error(PROVIDERS(", params: { \"x*\": { exclusive: [temperature] } }"),
                 "providers[0].params.x*.exclusive: expected [temperature, top_p]");
    expect_error(PROVIDERS(", params: { \"x*\": { fixed: { temperature: 1 }, max: { temperature: 1 } } }"),
                 "either a fixed or a maximum value");
    expect_error(PROVIDERS(", params: { \"x*\": { fixed: { top_p: 3 } } }"), "expected a number from 0 to 1");
    expect_error(PROVIDERS(", params: { \"x*\": { max: { temperature: 1 }, action: clmap } }"), "did you mean 'clamp'");
    expect_error(PROVIDERS(", params: { \"x*\": { action: drop } }"), "states no rule");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reasoning_models_take_only_the_default_sampling),
        cmocka_unit_test(a_long_user_id_becomes_a_stable_digest),
        cmocka_unit_test(recent_claude_models_take_temperature_or_top_p),
        cmocka_unit_test(a_providers_own_rules_come_first),
        cmocka_unit_test(bad_rules_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
