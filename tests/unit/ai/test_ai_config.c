/* Unit tests for ai/ai_config.c: the providers/models parser and its FILE:LINE errors,
 * key cool-down and disabling, and the routing plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/ai_config.h"
#include "ai/pivot.h"
#include "ai/price.h"
#include "core/log.h"

/* Line lookup for tests: every node gets a "line" equal to its position in a depth-first
 * walk, so an error can be checked to point at the right node. */
typedef struct lines {
    const json_t *nodes[512];
    int n;
} lines;

static void walk(lines *l, const json_t *v)
{
    if (l->n < 512) l->nodes[l->n++] = v;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) walk(l, m);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) walk(l, m);
    }
}

static int line_of(void *ctx, const json_t *node)
{
    lines *l = ctx;
    for (int i = 0; i < l->n; i++)
        if (l->nodes[i] == node) return i + 1;
    return 0;
}

typedef struct loaded {
    json_t *root;
    lines l;
    pt_ai_config *cfg;
    pt_buf err;
} loaded;

static loaded *load(const char *json)
{
    loaded *x = calloc(1, sizeof *x);
    json_error_t je;
    x->root = json_loads(json, 0, &je);
    if (!x->root) fail_msg("test JSON: %s", je.text);
    walk(&x->l, x->root);
    pt_ai_cfg_src src = { "cfg.yaml", line_of, &x->l };
    x->cfg = pt_ai_config_parse(json_object_get(x->root, "providers"), json_object_get(x->root, "models"), &src, &x->err);
    return x;
}

static void unload(loaded *x)
{
    pt_ai_config_free(x->cfg);
    json_decref(x->root);
    pt_buf_release(&x->err);
    free(x);
}

/* Expects a failure pointing at `node` with a message containing want. */
static void expect_error(const char *json, const char *path_and_msg, const char *node_path)
{
    loaded *x = load(json);
    assert_null(x->cfg);
    /* node_path: a jansson path like "providers.0.type" resolved by hand below */
    const json_t *node = x->root;
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", node_path);
    for (char *tok = strtok(tmp, "."); tok && node; tok = strtok(NULL, ".")) {
        if (tok[0] >= '0' && tok[0] <= '9') node = json_array_get(node, (size_t)atoi(tok));
        else node = json_object_get(node, tok);
    }
    assert_non_null(node);
    char want[512];
    snprintf(want, sizeof want, "cfg.yaml:%d: %s", line_of(&x->l, node), path_and_msg);
    if (!x->err.data || strncmp(x->err.data, want, strlen(want)) != 0)
        fail_msg("error [%s] does not start with [%s]", x->err.data ? x->err.data : "", want);
    unload(x);
}

static void providers_get_defaults_per_type(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"a\",\"type\":\"anthropic\",\"api_key\":\"k\"},"
                     "{\"name\":\"o\",\"type\":\"openai\",\"api_keys\":[\"k1\",\"k2\"]},"
                     "{\"name\":\"local\",\"type\":\"openai_compatible\",\"base_url\":\"http://[::1]:11434/v1/\"}]}");
    assert_non_null(x->cfg);
    const pt_ai_provider *a = pt_ai_config_provider(x->cfg, "a");
    assert_string_equal(a->host, "api.anthropic.com");
    assert_int_equal(a->port, 443);
    assert_true(a->tls);
    assert_string_equal(a->path_prefix, "");
    assert_int_equal(a->nkeys, 1);
    assert_int_equal(a->connect_timeout_ms, 5000);
    assert_int_equal(a->default_max_tokens, 4096);
    assert_true(a->stream_usage);
    const pt_ai_provider *o = pt_ai_config_provider(x->cfg, "o");
    assert_string_equal(o->path_prefix, "/v1");
    assert_int_equal(o->nkeys, 2);
    const pt_ai_provider *l = pt_ai_config_provider(x->cfg, "local");
    assert_string_equal(l->host, "::1");
    assert_int_equal(l->port, 11434);
    assert_false(l->tls);
    assert_string_equal(l->path_prefix, "/v1");
    assert_int_equal(l->nkeys, 0);
    unload(x);
}

static void provider_options_are_read(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"az\",\"type\":\"azure\",\"base_url\":\"https://r.openai.azure.com\","
                     "\"api_keys\":[\"k\"],\"api_version\":\"2025-01-01-preview\",\"deployments\":{\"gpt-4o\":\"dep1\"},"
                     "\"headers\":{\"x-team\":\"ml\"},\"connect_timeout_ms\":\"2s\",\"first_byte_timeout_ms\":\"2m\","
                     "\"idle_timeout_ms\":250,\"stream_usage\":false,\"default_max_tokens\":1000,"
                     "\"prices\":{\"gpt-4o\":{\"input\":2,\"output\":8.5,\"cache_read\":\"0.5\"}}}]}");
    assert_non_null(x->cfg);
    const pt_ai_provider *p = &x->cfg->providers[0];
    assert_string_equal(p->api_version, "2025-01-01-preview");
    assert_string_equal(pt_ai_provider_deployment(p, "gpt-4o"), "dep1");
    assert_string_equal(pt_ai_provider_deployment(p, "other"), "other");
    assert_string_equal(p->headers[0].name, "x-team");
    assert_int_equal(p->connect_timeout_ms, 2000);
    assert_int_equal(p->first_byte_timeout_ms, 120000);
    assert_int_equal(p->idle_timeout_ms, 250);
    assert_false(p->stream_usage);
    assert_int_equal(p->default_max_tokens, 1000);
    pt_ai_price pr;
    assert_true(pt_price_lookup(p, "gpt-4o", &pr));
    assert_int_equal(pr.input, 2000000);
    assert_int_equal(pr.output, 8500000);
    assert_int_equal(pr.cache_read, 500000);
    assert_int_equal(pr.cache_write, -1);
    unload(x);
}

static void errors_name_file_line_and_key(void **state)
{
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"bogus\",\"api_key\":\"k\"}]}",
                 "providers[0].type: unknown provider type 'bogus'", "providers.0.type");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\",\"tmeout\":1}]}",
                 "providers[0].tmeout: unknown key", "providers.0.tmeout");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\"},"
                 "{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\"}]}",
                 "providers[1].name: provider 'a' is defined twice", "providers.1.name");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_keys\":[\"k\",\"\"]}]}",
                 "providers[0].api_keys[1]: expected a non-empty string", "providers.0.api_keys.1");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"base_url\":\"ftp://x\",\"api_key\":\"k\"}]}",
                 "providers[0].base_url: expected an http:// or https:// URL", "providers.0.base_url");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"base_url\":\"https://x/v1?k=1\",\"api_key\":\"k\"}]}",
                 "providers[0].base_url: the base URL must not contain", "providers.0.base_url");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"base_url\":\"http://x:99999\",\"api_key\":\"k\"}]}",
                 "providers[0].base_url: bad port", "providers.0.base_url");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"azure\",\"api_key\":\"k\"}]}",
                 "providers[0].base_url: field required for type azure", "providers.0");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"gemini\"}]}",
                 "providers[0].api_keys: at least one key is required for type gemini", "providers.0");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\",\"headers\":{\"Host\":\"evil\"}}]}",
                 "providers[0].headers.Host: this header is set by the gateway", "providers.0.headers.Host");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\",\"idle_timeout_ms\":\"soon\"}]}",
                 "providers[0].idle_timeout_ms: expected a positive duration", "providers.0.idle_timeout_ms");
    expect_error("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\",\"prices\":{\"m\":{\"input\":-1,\"output\":1}}}]}",
                 "providers[0].prices.m.input: expected a price", "providers.0.prices.m.input");
}

static void model_errors_name_file_line_and_key(void **state)
{
    const char *prov = "\"providers\":[{\"name\":\"p\",\"type\":\"openai\",\"api_key\":\"k\"}]";
    char buf[1024];
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"q\",\"model\":\"x\"}]}]}", prov);
    expect_error(buf, "models[0].targets[0].provider: no provider named 'q'", "models.0.targets.0.provider");
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[]}]}", prov);
    expect_error(buf, "models[0].targets: expected a non-empty list", "models.0.targets");
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\",\"weight\":0}]}]}", prov);
    expect_error(buf, "models[0].targets[0].weight: expected an integer from 1 to 1000000", "models.0.targets.0.weight");
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}],\"fallbacks\":[\"nope\"]}]}", prov);
    expect_error(buf, "models[0].fallbacks[0]: no model named 'nope'", "models.0.fallbacks.0");
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}],\"fallbacks\":[\"m\"]}]}", prov);
    expect_error(buf, "models[0].fallbacks[0]: a model cannot fall back to itself", "models.0.fallbacks.0");
    snprintf(buf, sizeof buf, "{%s,\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}]},"
                              "{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"y\"}]}]}", prov);
    expect_error(buf, "models[1].name: model 'm' is defined twice", "models.1.name");
}

static void fallbacks_may_name_later_models(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"p\",\"type\":\"openai\",\"api_key\":\"k\"}],\"models\":["
                     "{\"name\":\"a\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}],\"fallbacks\":[\"b\"]},"
                     "{\"name\":\"b\",\"targets\":[{\"provider\":\"p\",\"model\":\"y\"}]}]}");
    assert_non_null(x->cfg);
    const pt_ai_model *a = pt_ai_config_model(x->cfg, PT_SLICE_LIT("a"));
    assert_ptr_equal(a->fallback_models[0], pt_ai_config_model(x->cfg, PT_SLICE_LIT("b")));
    assert_null(pt_ai_config_model(x->cfg, PT_SLICE_LIT("c")));
    unload(x);
}

static const char *PLAN_CFG =
    "{\"providers\":[{\"name\":\"p1\",\"type\":\"openai\",\"api_keys\":[\"k1\",\"k2\"]},"
    "{\"name\":\"p2\",\"type\":\"anthropic\",\"api_key\":\"k3\"}],\"models\":["
    "{\"name\":\"main\",\"targets\":[{\"provider\":\"p1\",\"model\":\"gpt\"}],\"fallbacks\":[\"backup\"]},"
    "{\"name\":\"backup\",\"targets\":[{\"provider\":\"p2\",\"model\":\"claude\"},{\"provider\":\"p1\",\"model\":\"gpt\"}]}]}";

static void plan_tries_next_key_after_429_and_next_target_after_5xx(void **state)
{
    loaded *x = load(PLAN_CFG);
    assert_non_null(x->cfg);
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, pt_ai_config_model(x->cfg, PT_SLICE_LIT("main")), 7);
    /* the fallback's duplicate (p1, gpt) target is dropped */
    assert_int_equal(plan.ntargets, 2);
    pt_ai_attempt a1, a2, a3;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 0, &a1));
    assert_string_equal(a1.provider->name, "p1");
    assert_true(pt_ai_plan_next(&plan, PT_AI_ERR_RATE_LIMIT, 0, &a2));
    assert_string_equal(a2.provider->name, "p1");
    assert_int_not_equal(a1.key_index, a2.key_index);
    assert_true(pt_ai_plan_next(&plan, PT_AI_ERR_RATE_LIMIT, 0, &a3));
    /* both keys of p1 tried: on to the fallback's target */
    assert_string_equal(a3.provider->name, "p2");
    assert_string_equal(a3.model->name, "backup");
    assert_int_equal(a3.number, 2);
    pt_ai_attempt a4;
    assert_false(pt_ai_plan_next(&plan, PT_AI_ERR_UPSTREAM, 0, &a4));
    unload(x);
}

static void plan_moves_to_next_target_after_server_error(void **state)
{
    loaded *x = load(PLAN_CFG);
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, pt_ai_config_model(x->cfg, PT_SLICE_LIT("main")), 7);
    pt_ai_attempt a;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 0, &a));
    assert_true(pt_ai_plan_next(&plan, PT_AI_ERR_UPSTREAM, 0, &a));
    assert_string_equal(a.provider->name, "p2");
    unload(x);
}

static void keys_cooling_down_or_disabled_are_skipped(void **state)
{
    pt_log_set_level(PT_LOG_ERROR);
    loaded *x = load(PLAN_CFG);
    pt_ai_provider *p1 = &x->cfg->providers[0];
    pt_ai_key_cooldown(p1, 0, 1000, 5000);
    pt_ai_key_disable(p1, 1, 401);
    assert_false(pt_ai_key_usable(p1, 0, 5999));
    assert_true(pt_ai_key_usable(p1, 0, 6000));
    assert_false(pt_ai_key_usable(p1, 1, 1000000));
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, pt_ai_config_model(x->cfg, PT_SLICE_LIT("main")), 1);
    pt_ai_attempt a;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 2000, &a));
    assert_string_equal(a.provider->name, "p2");
    unload(x);
}

static void cooldown_defaults_caps_and_never_shortens(void **state)
{
    loaded *x = load(PLAN_CFG);
    pt_ai_provider *p1 = &x->cfg->providers[0];
    pt_ai_key_cooldown(p1, 0, 0, 0);
    assert_int_equal(atomic_load(&p1->keys[0].cooldown_until_ms), PT_AI_KEY_COOLDOWN_DEFAULT_MS);
    pt_ai_key_cooldown(p1, 0, 0, 10ull * 3600 * 1000);
    assert_int_equal(atomic_load(&p1->keys[0].cooldown_until_ms), PT_AI_KEY_COOLDOWN_MAX_MS);
    pt_ai_key_cooldown(p1, 0, 0, 1000);
    assert_int_equal(atomic_load(&p1->keys[0].cooldown_until_ms), PT_AI_KEY_COOLDOWN_MAX_MS);
    unload(x);
}

static void nothing_usable_says_why(void **state)
{
    pt_log_set_level(PT_LOG_ERROR);
    loaded *x = load("{\"providers\":[{\"name\":\"p\",\"type\":\"openai\",\"api_keys\":[\"a\",\"b\"]}],\"models\":["
                     "{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}]}]}");
    pt_ai_provider *p = &x->cfg->providers[0];
    pt_ai_key_cooldown(p, 0, 0, 4000);
    pt_ai_key_cooldown(p, 1, 0, 9000);
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, &x->cfg->models[0], 1);
    pt_ai_attempt a;
    assert_false(pt_ai_plan_next(&plan, PT_AI_OK, 1000, &a));
    pt_ai_error e = { 0 };
    pt_ai_plan_none_error(&plan, "m", 1000, &e);
    assert_int_equal(e.kind, PT_AI_ERR_RATE_LIMIT);
    assert_int_equal(e.status, 429);
    assert_int_equal(e.retry_after_ms, 3000);
    pt_ai_key_disable(p, 0, 401);
    pt_ai_key_disable(p, 1, 401);
    pt_ai_error e2 = { 0 };
    pt_ai_plan_none_error(&plan, "m", 1000, &e2);
    assert_int_equal(e2.kind, PT_AI_ERR_AUTH);
    assert_int_equal(e2.status, 502);
    unload(x);
}

static void weights_shape_the_first_choice(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"a\",\"type\":\"openai\",\"api_key\":\"k\"},"
                     "{\"name\":\"b\",\"type\":\"openai\",\"api_key\":\"k\"}],\"models\":[{\"name\":\"m\",\"targets\":["
                     "{\"provider\":\"a\",\"model\":\"x\",\"weight\":3},{\"provider\":\"b\",\"model\":\"x\",\"weight\":1}]}]}");
    int first_a = 0;
    for (uint64_t seed = 0; seed < 4000; seed++) {
        pt_ai_plan plan;
        pt_ai_plan_init(&plan, x->cfg, &x->cfg->models[0], seed);
        assert_int_equal(plan.ntargets, 2);
        if (strcmp(plan.targets[0]->provider->name, "a") == 0) first_a++;
    }
    /* 3:1 weights: three quarters of the orders start with a (deterministic seeds) */
    assert_in_range(first_a, 2800, 3200);
    unload(x);
}

static void attempts_are_capped(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"p\",\"type\":\"openai\",\"api_keys\":[\"1\",\"2\",\"3\",\"4\",\"5\","
                     "\"6\",\"7\",\"8\",\"9\",\"10\"]}],\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"p\",\"model\":\"x\"}]}]}");
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, &x->cfg->models[0], 1);
    pt_ai_attempt a;
    int n = 0;
    while (n < 100 && pt_ai_plan_next(&plan, PT_AI_ERR_RATE_LIMIT, 0, &a)) n++;
    assert_int_equal(n, PT_AI_PLAN_MAX_ATTEMPTS);
    unload(x);
}

static void keyless_provider_yields_one_attempt(void **state)
{
    loaded *x = load("{\"providers\":[{\"name\":\"o\",\"type\":\"openai_compatible\",\"base_url\":\"http://127.0.0.1:1/v1\"}],"
                     "\"models\":[{\"name\":\"m\",\"targets\":[{\"provider\":\"o\",\"model\":\"llama\"}]}]}");
    pt_ai_plan plan;
    pt_ai_plan_init(&plan, x->cfg, &x->cfg->models[0], 1);
    pt_ai_attempt a;
    assert_true(pt_ai_plan_next(&plan, PT_AI_OK, 0, &a));
    assert_true(a.key_index == SIZE_MAX);
    assert_false(pt_ai_plan_next(&plan, PT_AI_ERR_RATE_LIMIT, 0, &a));
    unload(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(providers_get_defaults_per_type),
        cmocka_unit_test(provider_options_are_read),
        cmocka_unit_test(errors_name_file_line_and_key),
        cmocka_unit_test(model_errors_name_file_line_and_key),
        cmocka_unit_test(fallbacks_may_name_later_models),
        cmocka_unit_test(plan_tries_next_key_after_429_and_next_target_after_5xx),
        cmocka_unit_test(plan_moves_to_next_target_after_server_error),
        cmocka_unit_test(keys_cooling_down_or_disabled_are_skipped),
        cmocka_unit_test(cooldown_defaults_caps_and_never_shortens),
        cmocka_unit_test(nothing_usable_says_why),
        cmocka_unit_test(weights_shape_the_first_choice),
        cmocka_unit_test(attempts_are_capped),
        cmocka_unit_test(keyless_provider_yields_one_attempt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
