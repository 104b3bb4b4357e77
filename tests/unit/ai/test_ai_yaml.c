/* Unit tests for the AI sections inside a whole configuration file: gateway/config.c
 * maps `providers:` and `models:` through ai/ai_config_load.c, and errors keep the
 * FILE:LINE: KEY.PATH form with the line of the offending YAML node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ai/ai_config.h"
#include "core/log.h"
#include "gateway/config.h"

static pt_config *load(const char *yaml, pt_buf *err)
{
    return pt_config_load_string("ai.yaml", yaml, strlen(yaml), err);
}

static void sections_land_in_cfg_ai_with_env_expanded(void **state)
{
    setenv("PT_TEST_ANTHROPIC_KEY", "sk-ant-from-env", 1);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("listen: [\"127.0.0.1:18080\"]\n"
                          "providers:\n"
                          "  - name: anthropic\n"
                          "    type: anthropic\n"
                          "    base_url: https://api.anthropic.com\n"
                          "    api_keys: [\"${PT_TEST_ANTHROPIC_KEY}\"]\n"
                          "    first_byte_timeout_ms: 30s\n"
                          "    prices:\n"
                          "      claude-sonnet-4-5: {input: 3, output: 15, cache_read: 0.30}\n"
                          "models:\n"
                          "  - name: claude-sonnet\n"
                          "    targets: [{ provider: anthropic, model: claude-sonnet-4-5, weight: 2 }]\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_ai_config *ai = cfg->ai;
    assert_non_null(ai);
    assert_int_equal(ai->nproviders, 1);
    assert_string_equal(ai->providers[0].keys[0].value, "sk-ant-from-env");
    assert_int_equal(ai->providers[0].first_byte_timeout_ms, 30000);
    assert_int_equal(ai->providers[0].prices[0].price.cache_read, 300000);
    assert_int_equal(ai->models[0].targets[0].weight, 2);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void no_sections_no_ai(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("listen: [\"127.0.0.1:18080\"]\n", &err);
    assert_non_null(cfg);
    assert_null(cfg->ai);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void errors_point_at_the_yaml_line(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("providers:\n"
                          "  - name: p\n"
                          "    type: openai\n"
                          "    api_key: k\n"
                          "models:\n"
                          "  - name: m\n"
                          "    targets:\n"
                          "      - provider: q\n"
                          "        model: x\n",
                          &err);
    assert_null(cfg);
    assert_string_equal(err.data, "ai.yaml:8: models[0].targets[0].provider: unknown provider 'q' (expected one of: p)");
    pt_buf_reset(&err);
    cfg = load("providers:\n"
               "  - name: p\n"
               "    type: opneai\n",
               &err);
    assert_null(cfg);
    assert_non_null(strstr(err.data, "ai.yaml:3: providers[0].type: unknown provider type 'opneai'"));
    pt_buf_release(&err);
}

static void a_missing_variable_is_named_not_expanded(void **state)
{
    unsetenv("PT_TEST_MISSING_KEY");
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("providers:\n"
                          "  - name: p\n"
                          "    type: openai\n"
                          "    api_keys: [\"${PT_TEST_MISSING_KEY}\"]\n",
                          &err);
    assert_null(cfg);
    assert_non_null(strstr(err.data, "ai.yaml:4: providers[0].api_keys[0]:"));
    assert_non_null(strstr(err.data, "PT_TEST_MISSING_KEY"));
    pt_buf_release(&err);
}

static void duplicate_keys_inside_a_provider_are_refused(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("providers:\n"
                          "  - name: p\n"
                          "    type: openai\n"
                          "    type: anthropic\n",
                          &err);
    assert_null(cfg);
    assert_non_null(strstr(err.data, "ai.yaml:4: providers[0].type: duplicate key"));
    pt_buf_release(&err);
}

static void env_references_expand_in_every_ai_value(void **state)
{
    setenv("PT_TEST_AI_HOST", "127.0.0.1:11434", 1);
    setenv("PT_TEST_AI_TEAM", "ml-team", 1);
    setenv("PT_TEST_AI_TIMEOUT", "3s", 1);
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("providers:\n"
                          "  - name: local\n"
                          "    type: openai_compatible\n"
                          "    base_url: \"http://${PT_TEST_AI_HOST}/v1\"\n"
                          "    headers: { x-team: \"${PT_TEST_AI_TEAM}\" }\n"
                          "    connect_timeout_ms: ${PT_TEST_AI_TIMEOUT}\n"
                          "models:\n"
                          "  - { name: m, targets: [{ provider: local, model: llama }] }\n",
                          &err);
    if (!cfg) fail_msg("%s", err.data);
    const pt_ai_provider *p = &cfg->ai->providers[0];
    assert_string_equal(p->host, "127.0.0.1");
    assert_int_equal(p->port, 11434);
    assert_string_equal(p->path_prefix, "/v1");
    assert_string_equal(p->headers[0].value, "ml-team");
    assert_int_equal(p->connect_timeout_ms, 3000);
    pt_config_release(cfg);
    pt_buf_release(&err);
}

static void a_misspelt_ai_key_gets_a_suggestion(void **state)
{
    pt_buf err = PT_BUF_INIT;
    pt_config *cfg = load("providers:\n"
                          "  - name: p\n"
                          "    type: openai\n"
                          "    api_kye: k\n"
                          "models:\n"
                          "  - name: m\n"
                          "    targts: [{ provider: p, model: x }]\n",
                          &err);
    assert_null(cfg);
    assert_string_equal(err.data, "ai.yaml:4: providers[0].api_kye: unknown key (did you mean 'api_key'?)\n"
                                  "ai.yaml:7: models[0].targts: unknown key (did you mean 'targets'?)");
    pt_buf_release(&err);
}

int main(void)
{
    pt_log_set_level(PT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sections_land_in_cfg_ai_with_env_expanded),
        cmocka_unit_test(no_sections_no_ai),
        cmocka_unit_test(errors_point_at_the_yaml_line),
        cmocka_unit_test(a_missing_variable_is_named_not_expanded),
        cmocka_unit_test(duplicate_keys_inside_a_provider_are_refused),
        cmocka_unit_test(env_references_expand_in_every_ai_value),
        cmocka_unit_test(a_misspelt_ai_key_gets_a_suggestion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
