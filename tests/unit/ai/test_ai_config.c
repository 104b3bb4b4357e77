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

typedef struct loaded {
    pt_ai_config *cfg;
    pt_buf err;
} loaded;

/* Loads a document with providers and models (JSON is YAML too). */
static loaded *load(const char *text)
{
    loaded *x = calloc(1, sizeof *x);
    x->cfg = pt_ai_config_load_string("cfg.yaml", text, strlen(text), &x->err);
    return x;
}

static void unload(loaded *x)
{
    pt_ai_config_free(x->cfg);
    pt_buf_release(&x->err);
    free(x);
}

/* Expects a failure whose only message starts with want ("cfg.yaml:LINE: KEY: ..."). */
static void expect_error(const char *text, const char *want)
{
    loaded *x = load(text);
    assert_null(x->cfg);
    if (!x->err.data || strncmp(x->err.data, want, strlen(want)) != 0 || strchr(x->err.data, '\n'))
        fail_msg("error [%s] is not one message starting with [%s]", x->err.data ? x->err.data : "", want);
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
    assert_string_equal(a->host_line, "Host: api.anthropic.com\r\n"); /* the scheme's port: not written */
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
    assert_string_equal(l->host_line, "Host: [::1]:11434\r\n");
    assert_false(l->tls);
    assert_string_equal(l->path_prefix, "/v1");
    assert_int_equal(l->nkeys, 0);
    unload(x);
}

/* Bedrock: region and AWS credentials instead of keys; the base URL follows the region. */
static void bedrock_providers_take_region_and_credentials(void **state)
{
    (void)state;
    loaded *x = load("{\"providers\":[{\"name\":\"b\",\"type\":\"bedrock\",\"region\":\"eu-west-3\","
                     "\"access_key_id\":\"AKID\",\"secret_access_key\":\"s3cr3t\",\"session_token\":\"tok\"}]}");
    if (!x->cfg) fail_msg("%s", x->err.data);
    const pt_ai_provider *b = pt_ai_config_provider(x->cfg, "b");
    assert_string_equal(b->host, "bedrock-runtime.eu-west-3.amazonaws.com");
    assert_true(b->tls);
    assert_int_equal(b->nkeys, 0);
    assert_string_equal(b->secret_access_key, "s3cr3t");
    assert_string_equal(b->session_token, "tok");
    assert_string_equal(pt_ai_prov_type_name(b->type), "bedrock");
    unload(x);
#define BED(extra) "providers:\n  - name: b\n    type: bedrock\n" extra
    expect_error(BED("    access_key_id: A\n    secret_access_key: S\n"),
                 "cfg.yaml:2: providers[0]: missing required key 'region' (type bedrock needs it)");
    expect_error(BED("    region: us-east-1\n    access_key_id: A\n"),
                 "cfg.yaml:2: providers[0]: missing required key 'secret_access_key'");
    expect_error(BED("    region: US East\n    access_key_id: A\n    secret_access_key: S\n"),
                 "cfg.yaml:4: providers[0].region: 'US East' is not an AWS region name");
    expect_error(BED("    region: us-east-1\n    access_key_id: A\n    secret_access_key: S\n    api_key: k\n"),
                 "cfg.yaml:2: providers[0]: type bedrock signs with access_key_id and secret_access_key");
    expect_error("providers:\n  - name: o\n    type: openai\n    api_key: k\n    region: us-east-1\n",
                 "cfg.yaml:2: providers[0]: region and AWS credentials are for type bedrock only");
#undef BED
}

/* Vertex: project, region and a service-account file (read at load). */
/* Without `credentials`, the application default credentials are looked for at load. */
static void vertex_providers_need_project_region_and_credentials(void **state)
{
    (void)state;
#define VX(extra) "providers:\n  - name: v\n    type: vertex\n" extra
    expect_error(VX("    region: us-central1\n    credentials: /x.json\n"),
                 "cfg.yaml:5: providers[0].credentials: cannot read the service account file '/x.json'");
    expect_error(VX("    project: Bad Project\n"), "cfg.yaml:4: providers[0].project: 'Bad Project' is not a Google Cloud project id");
    expect_error(VX("    region: global\n"), "cfg.yaml:2: providers[0]: missing required key 'project' (type vertex needs it)");
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json", 1);
    expect_error(VX("    project: p\n    region: global\n"),
                 "cfg.yaml:2: providers[0]: application default credentials: cannot read the "
                 "GOOGLE_APPLICATION_CREDENTIALS file '/nonexistent/adc.json'");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    expect_error("providers:\n  - name: o\n    type: openai\n    api_key: k\n    project: p\n",
                 "cfg.yaml:2: providers[0]: project and credentials are for type vertex only");
#undef VX
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

#define PROV(extra) "providers:\n  - name: a\n    type: openai\n" extra

static void errors_name_file_line_and_key(void **state)
{
    expect_error("providers:\n  - name: a\n    type: bogus\n    api_key: k\n",
                 "cfg.yaml:3: providers[0].type: unknown provider type 'bogus' (expected one of: openai, azure,");
    expect_error("providers:\n  - name: a\n    type: opneai\n    api_key: k\n",
                 "cfg.yaml:3: providers[0].type: unknown provider type 'opneai' (did you mean 'openai'?)");
    expect_error(PROV("    api_key: k\n    tmeout: 1\n"),
                 "cfg.yaml:5: providers[0].tmeout: unknown key (expected one of: name, type,");
    expect_error(PROV("    api_kye: k\n"), "cfg.yaml:4: providers[0].api_kye: unknown key (did you mean 'api_key'?)");
    expect_error(PROV("    api_key: k\n  - name: a\n    type: openai\n    api_key: k\n"),
                 "cfg.yaml:5: providers[1].name: provider 'a' is defined twice (also providers[0])");
    expect_error(PROV("    api_keys: [k, \"\"]\n"), "cfg.yaml:4: providers[0].api_keys[1]: expected a non-empty string");
    expect_error(PROV("    api_key: k\n    api_keys: [k2]\n"),
                 "cfg.yaml:5: providers[0].api_keys: give either api_key or api_keys, not both");
    expect_error(PROV("    base_url: ftp://x\n    api_key: k\n"),
                 "cfg.yaml:4: providers[0].base_url: base_url must start with http:// or https://, got 'ftp://x'");
    expect_error(PROV("    base_url: https://x/v1?k=1\n    api_key: k\n"),
                 "cfg.yaml:4: providers[0].base_url: base_url must not have a query or fragment");
    expect_error(PROV("    base_url: http://x:99999\n    api_key: k\n"),
                 "cfg.yaml:4: providers[0].base_url: port must be a number from 1 to 65535, got 'http://x:99999'");
    expect_error("providers:\n  - name: a\n    type: azure\n    api_key: k\n",
                 "cfg.yaml:2: providers[0]: missing required key 'base_url' (type azure has no default)");
    expect_error("providers:\n  - name: a\n    type: gemini\n",
                 "cfg.yaml:2: providers[0]: missing required key 'api_key' or 'api_keys' (type gemini needs one)");
    expect_error(PROV("    api_key: k\n    headers: { Host: evil }\n"),
                 "cfg.yaml:5: providers[0].headers.Host: this header is set by the gateway");
    expect_error(PROV("    api_key: k\n    idle_timeout_ms: soon\n"),
                 "cfg.yaml:5: providers[0].idle_timeout_ms: expected a duration like 500ms, 10s, 2m or 1h");
    expect_error(PROV("    api_key: k\n    prices:\n      m: { input: -1, output: 1 }\n"),
                 "cfg.yaml:6: providers[0].prices.m.input: expected a price in USD per million tokens");
}

#define MODELS(body) PROV("    api_key: k\n") "models:\n" body

static void model_errors_name_file_line_and_key(void **state)
{
    expect_error(MODELS("  - name: m\n    targets:\n      - provider: q\n        model: x\n"),
                 "cfg.yaml:8: models[0].targets[0].provider: unknown provider 'q' (expected one of: a)");
    expect_error(MODELS("  - name: m\n    targets:\n      - provider: ab\n        model: x\n"),
                 "cfg.yaml:8: models[0].targets[0].provider: unknown provider 'ab' (did you mean 'a'?)");
    expect_error(MODELS("  - name: m\n    targets: []\n"),
                 "cfg.yaml:7: models[0].targets: at least one target is required");
    expect_error(MODELS("  - name: m\n    targets: [{ provider: a, model: x, weight: 0 }]\n"),
                 "cfg.yaml:7: models[0].targets[0].weight: must be between 1 and 1000000, got '0'");
    expect_error(MODELS("  - name: m\n    targets: [{ provider: a, model: x }]\n    fallbacks: [nope]\n"),
                 "cfg.yaml:8: models[0].fallbacks[0]: no model named 'nope'");
    expect_error(MODELS("  - name: m\n    targets: [{ provider: a, model: x }]\n    fallbacks: [m]\n"),
                 "cfg.yaml:8: models[0].fallbacks[0]: a model cannot fall back to itself");
    expect_error(MODELS("  - name: m\n    targets: [{ provider: a, model: x }]\n"
                        "  - name: m\n    targets: [{ provider: a, model: y }]\n"),
                 "cfg.yaml:8: models[1].name: model 'm' is defined twice (also models[0])");
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
        cmocka_unit_test(bedrock_providers_take_region_and_credentials),
        cmocka_unit_test(vertex_providers_need_project_region_and_credentials),
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
